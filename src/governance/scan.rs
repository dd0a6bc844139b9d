//! A narrow read of the registry for impact reports: only the fields the compared schemes
//! use, straight into the engine's facts.
//!
//! Re-screening reads every rule field of every member as typed rows (strings for codes,
//! a row per member). An impact report usually needs a handful of fields of one or two
//! schemes, so this reader asks the database for those columns only, packed per member into
//! one short text and per household into one row (`string_agg` / `group_concat` over the
//! member index, which is already in household order), and decodes the text into the fact
//! slots without building member records. What comes out is exactly what
//! [`crate::screening::store::facts_from_fields`] gives for the slots read (a test compares
//! them field by field); the slots not read stay unknown and no evaluated scheme looks at them.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::DbConnection;
use crate::db::schema::referrals;
use crate::domain::codes::{IdType, Relation, Sex};
use crate::rules::dict::{self, FIELDS, Facts, Scope, Ty};
use crate::rules::num::{self, UNKNOWN};
use crate::rules::uses::Needs;

/// Household slots of the deceased member's record, with the member slot each comes from.
const DECEASED: [(usize, &str); 5] = [
    (12, "eobi_registered"),
    (13, "eobi_contribution_years"),
    (14, "essi_registered"),
    (15, "employment"),
    (16, "pension_drawn"),
];
const DECEASED_DATE_OF_DEATH: usize = 17;

/// One field as read: its slot, how its text decodes, and the SQL that writes it as text.
#[derive(Debug, Clone)]
struct Column {
    slot: usize,
    decode: Decode,
    /// For the deceased member's row: the household slot this field fills.
    deceased_slot: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Decode {
    Bool,
    Int,
    Float,
    /// A coded value: its position in the list; unreadable → `fallback` (unknown when `None`).
    Code(&'static [&'static str], Option<usize>),
    /// `yyyymmdd`.
    Date,
    District,
}

/// What a member's coded value falls back to when stored text is unreadable (the registry's
/// own reading: required codes get a neutral value, optional ones are unknown).
fn fallback(name: &str) -> Option<usize> {
    match name {
        "relation_to_head" => Some(Relation::OtherRelative.index()),
        "sex" => Some(Sex::Transgender.index()),
        "id_type" => Some(IdType::None.index()),
        _ => None,
    }
}

fn decode_of(name: &str, ty: Ty) -> Decode {
    match ty {
        Ty::Bool => Decode::Bool,
        Ty::Num if matches!(name, "pmt_score" | "land_acres") => Decode::Float,
        Ty::Num => Decode::Int,
        Ty::Coded(_) if name == "district" => Decode::District,
        Ty::Coded(codes) => Decode::Code(codes, fallback(name)),
        Ty::Date => Decode::Date,
    }
}

/// SQL writing column `c` of the given kind as text ('' for NULL).
fn as_text(c: &str, decode: Decode, postgres: bool) -> String {
    match (decode, postgres) {
        (Decode::Bool, true) => format!("coalesce({c}::int::text, '')"),
        (Decode::Int, true) | (Decode::Float, true) => format!("coalesce({c}::text, '')"),
        (Decode::Date, true) => format!("coalesce(to_char({c}, 'YYYYMMDD'), '')"),
        // SQLite keeps booleans as 0/1 and dates as `YYYY-MM-DD`; a REAL needs 17 digits to
        // come back as the same double.
        (Decode::Float, false) => format!("(CASE WHEN {c} IS NULL THEN '' ELSE printf('%.17g', {c}) END)"),
        (Decode::Date, false) => format!("coalesce(replace({c}, '-', ''), '')"),
        (Decode::Bool | Decode::Int, false) | (Decode::Code(..) | Decode::District, _) => format!("coalesce({c}, '')"),
    }
}

/// The value of one field's text in its slot encoding.
fn decode(text: &str, d: Decode) -> i64 {
    if text.is_empty() {
        return match d {
            Decode::Code(_, Some(f)) => f as i64,
            _ => UNKNOWN,
        };
    }
    match d {
        Decode::Bool => i64::from(matches!(text.as_bytes()[0], b'1' | b't')),
        Decode::Int => text.parse::<i64>().map_or(UNKNOWN, num::int),
        Decode::Float => text.parse::<f64>().map_or(UNKNOWN, num::from_f64),
        Decode::Code(codes, fallback) => {
            codes.iter().position(|c| *c == text).or(fallback).map_or(UNKNOWN, |i| i as i64)
        }
        Decode::Date => text.parse::<i64>().unwrap_or(UNKNOWN),
        Decode::District => dict::districts().iter().position(|d| *d == text).map_or(UNKNOWN, |i| i as i64),
    }
}

/// A household as read.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// Household id.
    pub id: String,
    /// Household number.
    pub number: String,
    /// District code.
    pub district: String,
    /// Facts: the slots read, others unknown; enrolments are left to the caller (they are
    /// scheme indices of one rule set).
    pub facts: Facts,
    /// The schemes the household is enrolled in (when asked for).
    pub enrolled: Vec<String>,
}

#[derive(QueryableByName)]
struct HouseholdText {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    number: String,
    #[diesel(sql_type = Text)]
    district: String,
    #[diesel(sql_type = Text)]
    packed: String,
}

#[derive(QueryableByName)]
struct MembersText {
    #[diesel(sql_type = Text)]
    household_id: String,
    #[diesel(sql_type = Text)]
    packed: String,
}

/// The reader for one set of needs on one backend.
#[derive(Debug, Clone)]
pub struct Scan {
    needs: Needs,
    household: Vec<Column>,
    member: Vec<Column>,
    households_sql: String,
    /// Members of a range of households; with a district, joined to it.
    members_sql: String,
    postgres: bool,
    district: Option<String>,
}

/// Separators of the packed text (codes, numbers and dates never hold them).
const FIELD: char = '|';
const MEMBER: char = ';';

impl Scan {
    /// A reader for `needs` on `conn`'s backend, over `district` (all when `None`).
    pub fn new(conn: &DbConnection, needs: Needs, district: Option<&str>) -> Scan {
        let postgres = matches!(conn, DbConnection::Postgres(_));
        let mut household = Vec::new();
        let mut member = Vec::new();
        for f in FIELDS.iter().filter(|f| !f.derived) {
            let read = match f.scope {
                Scope::Household => needs.household_slot(f.slot),
                Scope::Member => needs.member_slot(f.slot),
            };
            // The district is always read (the breakdowns need it); the deceased's fields come
            // from the deceased member's row.
            if !read || f.name == "district" || (f.scope == Scope::Household && (12..=17).contains(&f.slot)) {
                continue;
            }
            let column = Column { slot: f.slot, decode: decode_of(f.name, f.ty), deceased_slot: None };
            match f.scope {
                Scope::Household => household.push((f.name, column)),
                Scope::Member => member.push((f.name, column)),
            }
        }
        // The deceased's record is read from their member row, into its own slots: read the
        // member columns it needs even when no current member's slot is asked for.
        let mut member_names: Vec<&'static str> = member.iter().map(|(n, _)| *n).collect();
        if needs.deceased {
            for (_, name) in DECEASED {
                if !member_names.contains(&name)
                    && let Some(f) = dict::lookup(Scope::Member, name)
                {
                    member
                        .push((f.name, Column { slot: f.slot, decode: decode_of(f.name, f.ty), deceased_slot: None }));
                    member_names.push(f.name);
                }
            }
            for (name, column) in &mut member {
                column.deceased_slot = DECEASED.iter().find(|(_, n)| n == name).map(|(hh, _)| *hh);
            }
        }
        let concat = |parts: Vec<String>| if parts.is_empty() { "''".to_string() } else { parts.join(" || '|' || ") };
        let hh_parts = household.iter().map(|(n, c)| as_text(n, c.decode, postgres)).collect();
        let mut m_parts: Vec<String> = Vec::new();
        // Each member starts with `c` (current) or `d` (removed as deceased) and, for the
        // deceased, the removal time and the date of death.
        if needs.deceased {
            let removed = if postgres {
                "coalesce(to_char(m.removed_at, 'YYYYMMDDHH24MISSUS'), '')"
            } else {
                "coalesce(m.removed_at, '')"
            };
            m_parts.push(format!(
                "(CASE WHEN m.status = 'current' THEN 'c' ELSE 'd' || {removed} || '|' || {} END)",
                as_text("m.date_of_death", Decode::Date, postgres)
            ));
        } else {
            m_parts.push("'c'".into());
        }
        m_parts.extend(member.iter().map(|(n, c)| as_text(&format!("m.{n}"), c.decode, postgres)));
        let p = |i: usize| if postgres { format!("${i}") } else { "?".into() };
        let households_sql = format!(
            "SELECT id, household_number AS number, district_code AS district, {} AS packed FROM households \
             WHERE {} id > {} ORDER BY id LIMIT {}",
            concat(hh_parts),
            if district.is_some() { format!("district_code = {} AND", p(3)) } else { String::new() },
            p(1),
            p(2),
        );
        let which = if needs.deceased {
            "(m.status = 'current' OR m.removal_reason = 'deceased')"
        } else {
            "m.status = 'current'"
        };
        let agg = if postgres { "string_agg" } else { "group_concat" };
        let members_sql = match district {
            None => format!(
                "SELECT m.household_id, {agg}({}, ';') AS packed FROM members m \
                 WHERE m.household_id > {} AND m.household_id <= {} AND {which} GROUP BY m.household_id",
                concat(m_parts),
                p(1),
                p(2)
            ),
            Some(_) => format!(
                "SELECT m.household_id, {agg}({}, ';') AS packed FROM members m JOIN households h ON h.id = m.household_id \
                 WHERE m.household_id > {} AND m.household_id <= {} AND h.district_code = {} AND {which} \
                 GROUP BY m.household_id",
                concat(m_parts),
                p(1),
                p(2),
                p(3)
            ),
        };
        Scan {
            needs,
            household: household.into_iter().map(|(_, c)| c).collect(),
            member: member.into_iter().map(|(_, c)| c).collect(),
            households_sql,
            members_sql,
            postgres,
            district: district.map(str::to_string),
        }
    }

    /// The next `chunk` households after `after` (`""` for the first), with their facts;
    /// `None` when there are no more. With a `helper` connection the members of the two
    /// halves of the chunk are read at the same time.
    pub fn read(
        &self,
        conn: &mut DbConnection,
        helper: Option<&mut DbConnection>,
        after: &str,
        chunk: i64,
    ) -> QueryResult<Option<Vec<Scanned>>> {
        let rows = load_households(conn, &self.households_sql, after, chunk, self.district.as_deref())?;
        let Some(last) = rows.last().map(|r| r.id.clone()) else { return Ok(None) };
        let mut out: Vec<Scanned> = rows
            .into_iter()
            .map(|r| {
                let mut facts = Facts::default();
                facts.household[0] = decode(&r.district, Decode::District);
                for (c, text) in self.household.iter().zip(r.packed.split(FIELD)) {
                    facts.household[c.slot] = decode(text, c.decode);
                }
                Scanned { id: r.id, number: r.number, district: r.district, facts, enrolled: Vec::new() }
            })
            .collect();
        let ids: Vec<String> = out.iter().map(|s| s.id.clone()).collect();
        let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let mut members: Vec<MembersText> = Vec::new();
        if self.needs.members || self.needs.deceased {
            match helper {
                Some(helper) if out.len() > 1 => {
                    let mid = out[out.len() / 2 - 1].id.clone();
                    let (first, second) = std::thread::scope(|scope| {
                        let second = scope.spawn(|| self.members(helper, &mid, &last));
                        let first = self.members(conn, after, &mid);
                        (first, second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    });
                    members = first?;
                    members.extend(second?);
                }
                _ => members = self.members(conn, after, &last)?,
            }
        }
        let mut enrolments: Vec<(String, String)> = Vec::new();
        if self.needs.enrolments {
            enrolments = self.enrolments(conn, after, &last, &out)?;
        }
        for m in members {
            let Some(&h) = index.get(m.household_id.as_str()) else { continue };
            self.fill_members(&mut out[h].facts, &m.packed);
        }
        for (household, scheme) in enrolments {
            if let Some(&h) = index.get(household.as_str()) {
                out[h].enrolled.push(scheme);
            }
        }
        Ok(Some(out))
    }

    fn members(&self, conn: &mut DbConnection, after: &str, upto: &str) -> QueryResult<Vec<MembersText>> {
        let district = self.district.clone();
        macro_rules! load {
            ($c:expr) => {{
                let q = diesel::sql_query(&self.members_sql)
                    .bind::<Text, _>(after.to_string())
                    .bind::<Text, _>(upto.to_string())
                    .into_boxed();
                match district {
                    Some(d) => q.bind::<Text, _>(d).load::<MembersText>($c),
                    None => q.load::<MembersText>($c),
                }
            }};
        }
        match conn {
            DbConnection::Postgres(c) => load!(c),
            DbConnection::Sqlite(c) => load!(c),
        }
    }

    /// The chunk's enrolled referrals: (household, scheme).
    fn enrolments(
        &self,
        conn: &mut DbConnection,
        after: &str,
        last: &str,
        chunk: &[Scanned],
    ) -> QueryResult<Vec<(String, String)>> {
        // The index on household id carries the status and scheme (see re-screening's read).
        let mut q = referrals::table.into_boxed();
        if self.district.is_none() {
            q = q
                .filter(referrals::household_id.gt(after.to_string()))
                .filter(referrals::household_id.le(last.to_string()));
        } else {
            let ids: Vec<&str> = chunk.iter().map(|s| s.id.as_str()).collect();
            q = q.filter(referrals::household_id.eq_any(ids));
        }
        let rows: Vec<(String, String, String)> =
            q.select((referrals::household_id, referrals::scheme_id, referrals::status)).load(conn)?;
        Ok(rows.into_iter().filter(|(_, _, status)| status == "enrolled").map(|(h, s, _)| (h, s)).collect())
    }

    /// Decodes a household's packed members into its facts (current members, and the
    /// deceased's record into the household slots).
    fn fill_members(&self, facts: &mut Facts, packed: &str) {
        // The deceased removed last wins: (removal time, date of death) as read.
        let mut deceased: Option<(&str, &str, Vec<&str>)> = None;
        for member in packed.split(MEMBER) {
            let mut parts = member.split(FIELD);
            let head = parts.next().unwrap_or("c");
            if let Some(rest) = head.strip_prefix('d') {
                let death = parts.next().unwrap_or("");
                let values: Vec<&str> = parts.collect();
                if deceased.as_ref().is_none_or(|(r, d, _)| (*r, *d) <= (rest, death)) {
                    deceased = Some((rest, death, values));
                }
                continue;
            }
            let slots = facts.push_member();
            for (c, text) in self.member.iter().zip(parts) {
                slots[c.slot] = decode(text, c.decode);
            }
        }
        if let Some((_, death, values)) = deceased {
            for (c, text) in self.member.iter().zip(values) {
                if let Some(hh) = c.deceased_slot {
                    facts.household[hh] = decode(text, c.decode);
                }
            }
            facts.household[DECEASED_DATE_OF_DEATH] = decode(death, Decode::Date);
        }
    }

    /// Whether the reader runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }
}

fn load_households(
    conn: &mut DbConnection,
    sql: &str,
    after: &str,
    chunk: i64,
    district: Option<&str>,
) -> QueryResult<Vec<HouseholdText>> {
    macro_rules! load {
        ($c:expr) => {{
            let q = diesel::sql_query(sql).bind::<Text, _>(after.to_string()).bind::<BigInt, _>(chunk).into_boxed();
            match district {
                Some(d) => q.bind::<Text, _>(d.to_string()).load::<HouseholdText>($c),
                None => q.load::<HouseholdText>($c),
            }
        }};
    }
    match conn {
        DbConnection::Postgres(c) => load!(c),
        DbConnection::Sqlite(c) => load!(c),
    }
}
