//! Impact-report benchmark (a bench binary, not a timed test): figures for the issue notes,
//! on a registry `sahulat demo-data` filled.
//!
//! ```sh
//! cargo bench --bench impact -- [--database URL] [--scheme bisp-kafaalat]
//!     [--from '      2020-01-01: 32' --to '      2020-01-01: 32\n      2026-12-01: 35'] [--as-of YYYY-MM-DD]
//!     [--chunk N] [--readers N] [--repeat N]
//! ```
//!
//! The database is `--database URL` or `BENCH_DATABASE_URL`, used in place: the rules in
//! force are seeded from `SAHULAT_RULES_DIR` (default `rules/`) if the database has none,
//! and a proposal is stored. The proposal changes one scheme's file by one text replacement
//! (by default it raises BISP Kafaalat's PMT cut-off from 32 to 35 from 1 December 2026).
//!
//! On PostgreSQL it also times, before the counts and after the full report, how long the
//! server itself takes to read the members' rule columns (`COPY … TO '/dev/null'`, as a
//! superuser): the floor any whole-registry read sits on.
//!
//! It times, each with the peak resident memory of the process while it ran (`VmHWM`, reset
//! before each step through `/proc/self/clear_refs`):
//! 1. counts alone (every household under both rule sets, per-scheme counts, nothing stored);
//! 2. the full report as the service computes it (counts, breakdowns, samples, missing
//!    fields, every changed household stored in `impact_changes`, the report stored);
//! 3. one household's trace (both rule sets compiled, the household read and explained),
//!    for 20 sampled households: median and worst.

use std::collections::HashMap;
use std::time::Instant;

use sahulat::audit::AuditKey;
use sahulat::auth::Role;
use sahulat::config::Secret;
use sahulat::db::{self, DatabaseUrl};
use sahulat::governance::activation::{self, Ask};
use sahulat::governance::impact::{self, Input};
use sahulat::governance::proposal::{self, Actor, NewProposal};
use sahulat::governance::{self as gov, store};
use sahulat::registry::warnings::today_in_pakistan;

fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Every member column the rules read (what a full re-screening reads of each member).
const RULE_COLUMNS: &str = "household_id, status, removed_at, date_of_death, relation_to_head, sex, date_of_birth, \
    id_type, marital_status, religion, disability, disability_certificate, chronic_illness, is_pregnant, is_lactating, \
    is_orphan, school_enrolled, school_level, attendance_pct, employment, monthly_income_pkr, govt_employee, taxpayer, \
    eobi_registered, eobi_contribution_years, essi_registered, institution_type, pension_drawn, years_of_service, \
    employment_injury, certified_unfit, protection_need, substance_use, marriage_arranged";

/// On PostgreSQL, how long the server itself takes to read the member columns the rules use
/// (`COPY … TO '/dev/null'`: no client, no network), the floor any whole-registry read sits on.
fn server_floor(conn: &mut db::DbConnection) -> Option<f64> {
    use diesel::RunQueryDsl;
    let db::DbConnection::Postgres(c) = conn else { return None };
    let sql = format!(
        "COPY (SELECT {RULE_COLUMNS} FROM members WHERE status = 'current' OR removal_reason = 'deceased') TO '/dev/null'"
    );
    let started = Instant::now();
    diesel::sql_query(sql).execute(c).map_err(|e| eprintln!("the COPY floor needs a superuser: {e}")).ok()?;
    Some(started.elapsed().as_secs_f64())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let args: HashMap<String, String> = argv
        .windows(2)
        .filter(|w| w[0].starts_with("--"))
        .map(|w| (w[0].trim_start_matches("--").to_string(), w[1].replace("\\n", "\n")))
        .collect();
    let raw = args
        .get("database")
        .cloned()
        .or_else(|| std::env::var("BENCH_DATABASE_URL").ok())
        .unwrap_or_else(|| panic!("give --database URL or BENCH_DATABASE_URL (sqlite://PATH or postgres://…)"));
    let url = DatabaseUrl::parse(&raw).unwrap_or_else(|e| panic!("{e}"));
    sahulat::startup::migrate(&url).unwrap_or_else(|e| panic!("migrate: {e}"));
    let mut conn = db::connect(&url).unwrap_or_else(|e| panic!("connect: {e}"));
    let dir = std::env::var("SAHULAT_RULES_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"));
    let key = AuditKey::new(&Secret::new("bench audit key, not a secret, 32+ bytes long"));
    let (current, _) = gov::prepare(&mut conn, &dir, &key).unwrap_or_else(|e| panic!("rules: {e}"));
    let in_force = store::read_in_force(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    let scheme = args.get("scheme").cloned().unwrap_or_else(|| "bisp-kafaalat".into());
    let from = args.get("from").cloned().unwrap_or_else(|| "      2020-01-01: 32\n".into());
    let to = args.get("to").cloned().unwrap_or_else(|| "      2020-01-01: 32\n      2026-12-01: 35\n".into());
    let text = in_force.text_of(&scheme).unwrap_or_else(|| panic!("no scheme {scheme} in force"));
    assert!(text.contains(&from), "{scheme}'s file has no {from:?}: give --from and --to");
    let files = std::iter::once((store::file_name(&scheme), text.replacen(&from, &to, 1))).collect();
    let as_of = args
        .get("as-of")
        .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_else(|e| panic!("--as-of: {e}")))
        .unwrap_or_else(today_in_pakistan);
    let chunk: i64 =
        args.get("chunk").map_or(activation::CHUNK, |c| c.parse().unwrap_or_else(|e| panic!("--chunk: {e}")));
    let actor = Actor { id: "bench", username: "bench", role: Role::Admin, schemes: &[] };
    let asked = NewProposal {
        summary: Some(format!("bench: {scheme}")),
        effective_from: Some(today_in_pakistan().to_string()),
        files,
        retire: Vec::new(),
    };
    let checked = proposal::check(&in_force, &current, asked, &actor, today_in_pakistan(), false)
        .unwrap_or_else(|e| panic!("the proposal is refused: {e:?}"));
    let p = proposal::create(&mut conn, &checked, &current.version, &actor, None).unwrap_or_else(|e| panic!("{e}"));
    let households = sahulat::screening::rescreen::count(&mut conn, None).unwrap_or_default();
    println!("database {}; {households} households; proposal {} changes {scheme}", url.backend(), p.id);
    let reader_count: usize =
        args.get("readers").map_or(activation::READERS, |r| r.parse().unwrap_or_else(|e| panic!("--readers: {e}")));
    let readers = || -> Vec<Box<db::DbConnection>> {
        (0..reader_count).map(|_| Box::new(db::connect(&url).unwrap_or_else(|e| panic!("connect: {e}")))).collect()
    };

    let focus = vec![scheme.clone()];
    let repeat: usize = args.get("repeat").map_or(1, |r| r.parse().unwrap_or(1));
    let input = Input {
        before: &current,
        after: &checked.set,
        as_of,
        district: None,
        focus: &focus,
        store_as: None,
        counts_only: true,
        chunk,
    };
    for _ in 1..repeat {
        let started = Instant::now();
        impact::compute(&mut conn, readers(), &input).unwrap_or_else(|e| panic!("{e}"));
        println!("counts alone (warm-up): {:.2} s", started.elapsed().as_secs_f64());
    }
    if let Some(floor) = server_floor(&mut conn) {
        println!("PostgreSQL's own read of the members' rule columns (COPY to /dev/null): {floor:.2} s");
    }
    reset_peak();
    let started = Instant::now();
    let counts = impact::compute(&mut conn, readers(), &input).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "counts alone: {:.2} s, peak RSS {:.0} MB; {}",
        started.elapsed().as_secs_f64(),
        status_mb("VmHWM:"),
        serde_json::to_string(&counts.schemes).unwrap_or_default()
    );

    reset_peak();
    let started = Instant::now();
    let ask = Ask { as_of, district: None, purpose: "review", computed_by: "bench", chunk, replica_lag: None };
    let report = activation::compute_report(&mut conn, readers(), &p, (&in_force, &current), &ask)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let body: serde_json::Value = serde_json::from_str(&report.body).unwrap_or_default();
    println!(
        "full report: {:.2} s, peak RSS {:.0} MB; {} changed (household, scheme) pairs stored; report {} ({} bytes)",
        started.elapsed().as_secs_f64(),
        status_mb("VmHWM:"),
        body["stored_changes"],
        report.id,
        report.body.len()
    );

    if let Some(floor) = server_floor(&mut conn) {
        println!("PostgreSQL's own read of the members' rule columns (COPY to /dev/null), again: {floor:.2} s");
    }

    let numbers: Vec<String> = body["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["by"] == "district")
        .flat_map(|s| s["households"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .take(20)
        .collect();
    let mut times = Vec::new();
    for number in &numbers {
        let started = Instant::now();
        activation::trace(&mut conn, &report, &p, number).unwrap_or_else(|e| panic!("trace {number}: {e:?}"));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    if let (Some(median), Some(worst)) = (times.get(times.len() / 2), times.last()) {
        println!("one household's trace ({} households): median {median:.1} ms, worst {worst:.1} ms", times.len());
    }
}
