//! The impact report's narrow read (`governance::scan`) and its restriction to the schemes
//! that may change (`rules::uses`), against the registry's own reading of each household: on a
//! generated registry with deceased members, enrolments and unreadable stored codes, the
//! facts read are the same slot for slot, and the report's counts are those of deciding every
//! household under every scheme of both rule sets one by one.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use sahulat::audit::{AuditContext, AuditKey};
use sahulat::config::Secret;
use sahulat::governance::impact::{self, Input};
use sahulat::governance::scan::Scan;
use sahulat::registry::demo::Generator;
use sahulat::registry::import::{self, ImportContext};
use sahulat::registry::repo;
use sahulat::rules::dict::{FIELDS, Facts, HH_SLOTS, MEMBER_SLOTS, Scope};
use sahulat::rules::num::UNKNOWN;
use sahulat::rules::uses::{self, Needs};
use sahulat::rules::{RuleSet, Status};
use sahulat::screening::store::stored_facts;

use crate::helpers::TestDb;

const HOUSEHOLDS: u64 = 400;

fn rules(dir: &std::path::Path) -> RuleSet {
    sahulat::rules::load_dir(dir).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The catalogue with BISP Kafaalat's cut-off raised (the benchmark's change).
fn changed_rules() -> (tempfile::TempDir, RuleSet) {
    let dir = tempfile::tempdir().expect("dir");
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(&from).expect("rules").flatten() {
        let mut text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if entry.file_name() == "bisp-kafaalat.yaml" {
            text = text.replacen("      2020-01-01: 32\n", "      2020-01-01: 32\n      2026-12-01: 45\n", 1);
        }
        std::fs::write(dir.path().join(entry.file_name()), text).expect("write");
    }
    let set = rules(dir.path());
    (dir, set)
}

/// A registry of generated households, some members since removed as deceased (with their
/// insurance record), some referrals enrolled and one unreadable stored code.
fn registry(db: &TestDb) -> sahulat::db::DbConnection {
    sahulat::startup::migrate(&sahulat::db::DatabaseUrl::parse(db.url()).expect("url")).expect("migrate");
    let mut conn = db.connect();
    let key = AuditKey::new(&Secret::new("test audit key, 32 bytes or more, not secret"));
    let ctx = AuditContext::cli();
    let scope = sahulat::registry::repo::Scope::All;
    let ic = ImportContext { key: &key, ctx: &ctx, scope: &scope, batch: import::CLI_BATCH };
    let known: Vec<String> = ["peshawar", "swat", "mardan", "bannu"].iter().map(|s| s.to_string()).collect();
    let mut generator = Generator::new(11, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"), &known);
    let summary =
        import::import_values(&mut conn, &ic, (0..HOUSEHOLDS).map(|_| generator.household()), |_| {}).expect("import");
    assert_eq!(summary.accepted, HOUSEHOLDS);
    let (truth, falsity) = if db.is_postgres() { ("true", "false") } else { ("1", "0") };
    conn_batch(
        &mut conn,
        &format!(
            "UPDATE members SET status = 'removed', removal_reason = 'deceased', removed_at = '2026-03-01 10:00:00', \
                 date_of_death = '2026-02-20', eobi_registered = {truth}, eobi_contribution_years = 12, \
                 employment = 'employed_formal', essi_registered = {falsity}
             WHERE relation_to_head = 'spouse' AND id IN (SELECT id FROM members ORDER BY id LIMIT 60);
             UPDATE members SET status = 'removed', removal_reason = 'deceased', removed_at = '2026-05-01 09:00:00'
             WHERE relation_to_head = 'parent' AND id IN (SELECT id FROM members ORDER BY id LIMIT 200);
             UPDATE members SET status = 'removed', removal_reason = 'moved_out', removed_at = '2026-05-01 09:00:00'
             WHERE relation_to_head = 'son' AND id IN (SELECT id FROM members ORDER BY id DESC LIMIT 100);
             UPDATE members SET disability = 'no longer a code' WHERE id IN (SELECT id FROM members ORDER BY id LIMIT 3);
             INSERT INTO referrals (id, referral_number, household_id, district_code, scheme_id, status, eligibility,
                 rules_version, referred_by, referred_at, acknowledge_by, updated_at)
             SELECT 'r-' || id, 'R-' || household_number, id, district_code, 'bisp-kafaalat', 'enrolled', 'eligible',
                 'x', 'test', '2026-01-01 00:00:00', '2026-02-01', '2026-01-01 00:00:00'
             FROM households WHERE id IN (SELECT id FROM households ORDER BY id LIMIT 50);"
        ),
    );
    conn
}

fn conn_batch(conn: &mut sahulat::db::DbConnection, sql: &str) {
    match conn {
        sahulat::db::DbConnection::Postgres(c) => c.batch_execute(sql),
        sahulat::db::DbConnection::Sqlite(c) => c.batch_execute(sql),
    }
    .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// Every household's facts as the registry reads one household (what screening uses).
fn reference(conn: &mut sahulat::db::DbConnection, set: &RuleSet) -> BTreeMap<String, (Facts, String)> {
    let ids: Vec<String> = {
        use diesel::prelude::*;
        use sahulat::db::schema::households;
        households::table.select(households::id).order(households::id).load(conn).expect("ids")
    };
    let scope = sahulat::registry::repo::Scope::All;
    ids.into_iter()
        .map(|id| {
            let row = repo::find_household(conn, &scope, &id).expect("read").expect("household");
            let members = repo::members_of(conn, &id, false).expect("members");
            let (facts, _) = stored_facts(conn, set, &row, &members).expect("facts");
            (id, (facts, row.household_number))
        })
        .collect()
}

/// Members as sorted slot arrays (the two reads need not list them in the same order).
fn sorted_members(facts: &Facts, mask: u32) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = facts
        .members
        .iter()
        .map(|m| (0..MEMBER_SLOTS).map(|s| if mask & (1 << s) != 0 { m[s] } else { UNKNOWN }).collect())
        .collect();
    out.sort();
    out
}

fn read_all(conn: &mut sahulat::db::DbConnection, needs: Needs, chunk: i64) -> Vec<sahulat::governance::scan::Scanned> {
    let scan = Scan::new(conn, needs, None);
    let (mut out, mut last) = (Vec::new(), String::new());
    while let Some(rows) = scan.read(conn, &last, chunk).expect("scan") {
        last = rows.last().map(|r| r.id.clone()).unwrap_or_default();
        out.extend(rows);
    }
    out
}

#[test]
fn the_narrow_read_gives_the_registry_s_facts_and_the_report_the_one_by_one_counts() {
    let db = TestDb::new();
    let mut conn = registry(&db);
    let before = rules(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"));
    let (_dir, after) = changed_rules();
    let expected = reference(&mut conn, &before);
    let enrolled_in = |facts: &Facts| facts.enrolled.iter().map(|&i| before.schemes[i].id.clone()).collect::<Vec<_>>();

    // Everything read: every slot equal (members in any order), enrolments equal.
    let all = read_all(&mut conn, Needs::all(), 37);
    assert_eq!(all.len(), HOUSEHOLDS as usize);
    for s in &all {
        let (facts, number) = &expected[&s.id];
        assert_eq!(&s.number, number);
        assert_eq!(s.facts.household, facts.household, "household {}", s.id);
        assert_eq!(sorted_members(&s.facts, u32::MAX), sorted_members(facts, u32::MAX), "members of {}", s.id);
        let mut enrolled = s.enrolled.clone();
        enrolled.sort();
        assert_eq!(enrolled, enrolled_in(facts));
    }
    let deceased_read = all.iter().filter(|s| s.facts.household[12] != UNKNOWN).count();
    assert!(deceased_read > 0, "the registry has deceased members with a record");

    // What BISP Kafaalat (and what depends on it) reads: those slots equal, the others unknown.
    let changed = uses::may_change(&before, &after);
    let mut wanted: Vec<bool> = before.schemes.iter().map(|s| changed.contains(&s.id)).collect();
    uses::with_dependencies(&before, &mut wanted);
    let mut needs = Needs::default();
    needs.add_schemes(&before, &wanted);
    assert!(needs != Needs::all());
    for s in read_all(&mut conn, needs, 50) {
        let (facts, _) = &expected[&s.id];
        for f in FIELDS.iter().filter(|f| f.scope == Scope::Household && f.slot < HH_SLOTS && !f.derived) {
            let want =
                if needs.household_slot(f.slot) || f.name == "district" { facts.household[f.slot] } else { UNKNOWN };
            assert_eq!(s.facts.household[f.slot], want, "{} of {}", f.name, s.id);
        }
        if needs.members {
            assert_eq!(sorted_members(&s.facts, needs.member), sorted_members(facts, needs.member), "{}", s.id);
        } else {
            assert!(s.facts.members.is_empty());
        }
    }

    // The report's counts, against every scheme of both rule sets decided one household at a
    // time on the registry's own facts.
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).expect("date");
    let (bound_before, bound_after) = (before.bind(as_of), after.bind(as_of));
    let mut want: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let (mut sb, mut sa) = (Vec::new(), Vec::new());
    for (facts, _) in expected.values() {
        let mut f = facts.clone();
        bound_before.statuses(&mut f, &mut sb);
        let mut f = facts.clone();
        bound_after.statuses(&mut f, &mut sa);
        for (i, scheme) in before.schemes.iter().enumerate() {
            want.entry(scheme.id.clone()).or_default()[impact::classify(sb[i], sa[i])] += 1;
        }
    }
    assert!(want["bisp-kafaalat"][0] > 0, "the raised cut-off makes households eligible: {:?}", want["bisp-kafaalat"]);
    let focus = vec!["bisp-kafaalat".to_string()];
    for counts_only in [true, false] {
        let input = Input {
            before: &before,
            after: &after,
            as_of,
            district: None,
            focus: &focus,
            store_as: None,
            counts_only,
            chunk: 64,
        };
        let readers: Vec<Box<sahulat::db::DbConnection>> = (0..2).map(|_| Box::new(db.connect())).collect();
        let outcome = impact::compute(&mut conn, readers, &input).expect("impact");
        assert_eq!(outcome.households, HOUSEHOLDS);
        let got: BTreeMap<String, [u64; 5]> = outcome
            .schemes
            .iter()
            .map(|c| (c.scheme.clone(), [c.gained, c.lost, c.newly_undetermined, c.resolved, c.unchanged]))
            .collect();
        for (id, counts) in &want {
            match got.get(id) {
                Some(g) => assert_eq!(g, counts, "{id}"),
                None => assert_eq!(counts[..4], [0, 0, 0, 0], "{id} changed but is not reported"),
            }
        }
        assert!(got.contains_key("bisp-kafaalat"));
        let eligible_after = expected
            .values()
            .filter(|(facts, _)| {
                let mut f = facts.clone();
                bound_after.statuses(&mut f, &mut sa);
                sa[after.schemes.iter().position(|s| s.id == "bisp-kafaalat").unwrap_or(0)] == Status::Eligible
            })
            .count() as u64;
        let bisp = outcome.schemes.iter().find(|c| c.scheme == "bisp-kafaalat").expect("bisp");
        assert_eq!(bisp.eligible_after, eligible_after);
    }

    // One district's report reads exactly its households.
    let swat: Vec<&String> = {
        use diesel::prelude::*;
        use sahulat::db::schema::households;
        let ids: Vec<String> = households::table
            .filter(households::district_code.eq("swat"))
            .select(households::id)
            .load(&mut conn)
            .expect("swat");
        expected.keys().filter(|id| ids.contains(id)).collect()
    };
    assert!(!swat.is_empty() && swat.len() < HOUSEHOLDS as usize);
    let mut gained = 0;
    for id in &swat {
        let mut f = expected[*id].0.clone();
        bound_before.statuses(&mut f, &mut sb);
        let mut f = expected[*id].0.clone();
        bound_after.statuses(&mut f, &mut sa);
        let i = before.schemes.iter().position(|s| s.id == "bisp-kafaalat").unwrap_or(0);
        gained += u64::from(impact::classify(sb[i], sa[i]) == 0);
    }
    let input = Input {
        before: &before,
        after: &after,
        as_of,
        district: Some("swat"),
        focus: &focus,
        store_as: None,
        counts_only: true,
        chunk: 16,
    };
    let readers: Vec<Box<sahulat::db::DbConnection>> = (0..2).map(|_| Box::new(db.connect())).collect();
    let outcome = impact::compute(&mut conn, readers, &input).expect("district impact");
    assert_eq!(outcome.households, swat.len() as u64);
    let bisp = outcome.schemes.iter().find(|c| c.scheme == "bisp-kafaalat").expect("bisp");
    assert_eq!(bisp.gained, gained);
}

/// The members' rows of `(after, upto]` read column by column, sorted (the reads do not
/// list them in the same order).
fn column_rows(conn: &mut sahulat::db::DbConnection, ids: &[String]) -> Vec<String> {
    let mut rows: Vec<String> =
        repo::current_member_facts(conn, ids).expect("members").iter().map(|r| format!("{r:?}")).collect();
    rows.sort();
    rows
}

#[test]
fn the_packed_member_read_of_a_re_screening_gives_the_column_read_s_rows() {
    let db = TestDb::new();
    let mut conn = registry(&db);
    let ids: Vec<String> = {
        use diesel::prelude::*;
        use sahulat::db::schema::households;
        households::table.select(households::id).order(households::id).load(&mut conn).expect("ids")
    };
    // Ranges of 37 households: what re-screening reads (packed on PostgreSQL) is what the
    // columns hold, deceased members' removal times and dates of death and the unreadable
    // code included.
    let mut after: Option<String> = None;
    for chunk in ids.chunks(37) {
        let upto = chunk.last().expect("id");
        let mut read: Vec<String> = repo::current_member_facts_in_range(&mut conn, after.as_deref(), upto)
            .expect("range")
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        read.sort();
        assert_eq!(read, column_rows(&mut conn, chunk));
        if let sahulat::db::DbConnection::Postgres(c) = &mut conn {
            // Not by the fall-back: the packed text split into whole members.
            let packed = sahulat::registry::packed::read(c, after.as_deref(), upto).expect("packed");
            assert_eq!(packed.map(|rows| rows.len()), Some(read.len()));
        }
        after = Some(upto.clone());
    }
    // A stored value holding a separator: the packed text does not split, the range is read
    // column by column and still gives the stored value.
    conn_batch(
        &mut conn,
        "UPDATE members SET religion = 'a|b;c' WHERE id IN (SELECT id FROM members WHERE status = 'current' ORDER BY id LIMIT 1)",
    );
    let upto = ids.last().expect("id");
    let mut read: Vec<String> = repo::current_member_facts_in_range(&mut conn, None, upto)
        .expect("range")
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    read.sort();
    assert!(read.iter().any(|r| r.contains("a|b;c")));
    assert_eq!(read, column_rows(&mut conn, &ids));
    if let sahulat::db::DbConnection::Postgres(c) = &mut conn {
        assert!(sahulat::registry::packed::read(c, None, upto).expect("packed").is_none());
    }
}
