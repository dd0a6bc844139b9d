//! A narrow read of the registry for impact reports: only the fields the compared schemes
//! use, straight into the engine's facts.
//!
//! Re-screening reads every rule field of every member into member records (strings for
//! codes, a map per chunk). An impact report usually needs a handful of fields of one or two
//! schemes, so this reader selects those member columns only (the others are selected as
//! `NULL`, which costs the database nothing, so one fixed row type serves every set of
//! needs), and decodes each row straight into the fact slots without building member
//! records. Household columns are few: they come packed into one text per household. What
//! comes out is exactly what [`crate::screening::store::facts_from_fields`] gives for the
//! slots read (a test compares them field by field); the slots not read stay unknown and no
//! evaluated scheme looks at them.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text, Timestamp};

use crate::db::DbConnection;
use crate::db::schema::{members, referrals};
use crate::domain::codes::{IdType, Relation, Sex};
use crate::registry::model::{REASON_DECEASED, STATUS_CURRENT};
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
    /// Where a member field is in a member row.
    source: Source,
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

/// The member columns the rules read, by kind, in the order they are selected.
const CODES: [&str; 10] = [
    "relation_to_head",
    "sex",
    "id_type",
    "marital_status",
    "religion",
    "disability",
    "school_level",
    "employment",
    "institution_type",
    "pension_drawn",
];
const BOOLS: [&str; 15] = [
    "disability_certificate",
    "chronic_illness",
    "is_pregnant",
    "is_lactating",
    "is_orphan",
    "school_enrolled",
    "govt_employee",
    "taxpayer",
    "eobi_registered",
    "essi_registered",
    "employment_injury",
    "certified_unfit",
    "protection_need",
    "substance_use",
    "marriage_arranged",
];
const INTS: [&str; 4] = ["attendance_pct", "monthly_income_pkr", "eobi_contribution_years", "years_of_service"];

type Opt<T> = Nullable<T>;
type MemberSql = (
    (Text, Bool, Opt<Timestamp>, Opt<Date>, Opt<Date>),
    (Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>, Opt<Text>),
    (
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
        Opt<Bool>,
    ),
    (Opt<Integer>, Opt<BigInt>, Opt<Integer>, Opt<Integer>),
);
type S = Option<String>;
type B = Option<bool>;
type I = Option<i32>;
/// A member row: (household, whether current, removed at, date of death, date of birth), codes,
/// yes/no fields, whole numbers.
type MemberRow = (
    (String, bool, Option<NaiveDateTime>, Option<NaiveDate>, Option<NaiveDate>),
    (S, S, S, S, S, S, S, S, S, S),
    (B, B, B, B, B, B, B, B, B, B, B, B, B, B, B),
    (I, Option<i64>, I, I),
);

/// Where a member field is in a [`MemberRow`].
#[derive(Debug, Clone, Copy)]
enum Source {
    Code(usize),
    Bool(usize),
    Int(usize),
    BirthDate,
}

fn source_of(name: &str) -> Option<Source> {
    if name == "date_of_birth" {
        return Some(Source::BirthDate);
    }
    CODES
        .iter()
        .position(|c| *c == name)
        .map(Source::Code)
        .or_else(|| BOOLS.iter().position(|c| *c == name).map(Source::Bool))
        .or_else(|| INTS.iter().position(|c| *c == name).map(Source::Int))
}

/// A row's values as arrays, for reading by position.
struct Values {
    codes: [S; 10],
    bools: [B; 15],
    ints: [Option<i64>; 4],
    born: Option<NaiveDate>,
}

impl Values {
    fn of(row: MemberRow) -> ((String, bool, Option<NaiveDateTime>, Option<NaiveDate>), Values) {
        let ((household, status, removed, died, born), c, b, i) = row;
        let values = Values {
            codes: [c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9],
            bools: [b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8, b.9, b.10, b.11, b.12, b.13, b.14],
            ints: [i.0.map(i64::from), i.1, i.2.map(i64::from), i.3.map(i64::from)],
            born,
        };
        ((household, status, removed, died), values)
    }

    /// One field's slot value.
    fn slot(&self, c: &Column) -> i64 {
        match c.source {
            Source::Code(i) => match (&self.codes[i], c.decode) {
                (Some(text), d) => decode(text, d),
                (None, _) => UNKNOWN,
            },
            Source::Bool(i) => self.bools[i].map_or(UNKNOWN, i64::from),
            Source::Int(i) => self.ints[i].map_or(UNKNOWN, num::int),
            Source::BirthDate => self.born.map_or(UNKNOWN, dict::date_slot),
        }
    }
}

/// The reader for one set of needs on one backend.
#[derive(Debug, Clone)]
pub struct Scan {
    needs: Needs,
    household: Vec<Column>,
    member: Vec<Column>,
    households_sql: String,
    /// The member columns selected (`NULL` for those not read), in [`MemberSql`]'s order.
    member_select: String,
    district: Option<String>,
}

/// Separator of the packed household text (codes and numbers never hold it).
const FIELD: char = '|';

impl Scan {
    /// A reader for `needs` on `conn`'s backend, over `district` (all when `None`).
    pub fn new(conn: &DbConnection, needs: Needs, district: Option<&str>) -> Scan {
        let postgres = matches!(conn, DbConnection::Postgres(_));
        let mut household = Vec::new();
        let mut member: Vec<(&'static str, Column)> = Vec::new();
        let column = |f: &dict::Field| Column {
            slot: f.slot,
            decode: decode_of(f.name, f.ty),
            // Every member field has a source (a test checks it); household fields need none.
            source: source_of(f.name).unwrap_or(Source::BirthDate),
            deceased_slot: None,
        };
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
            match f.scope {
                Scope::Household => household.push((f.name, column(f))),
                Scope::Member => member.push((f.name, column(f))),
            }
        }
        // The deceased's record is read from their member row into household slots: read the
        // member columns it needs even when no current member's slot is asked for.
        if needs.deceased {
            for (_, name) in DECEASED {
                if !member.iter().any(|(n, _)| *n == name)
                    && let Some(f) = dict::lookup(Scope::Member, name)
                {
                    member.push((f.name, column(f)));
                }
            }
            for (name, column) in &mut member {
                column.deceased_slot = DECEASED.iter().find(|(_, n)| n == name).map(|(hh, _)| *hh);
            }
        }
        let hh_parts: Vec<String> = household.iter().map(|(n, c)| as_text(n, c.decode, postgres)).collect();
        let packed = if hh_parts.is_empty() { "''".to_string() } else { hh_parts.join(" || '|' || ") };
        // Numbered parameters on both: the district comes first in the text but is bound last.
        let p = |i: usize| if postgres { format!("${i}") } else { format!("?{i}") };
        let households_sql = format!(
            "SELECT id, household_number AS number, district_code AS district, {packed} AS packed FROM households \
             WHERE {} id > {} ORDER BY id LIMIT {}",
            if district.is_some() { format!("district_code = {} AND", p(3)) } else { String::new() },
            p(1),
            p(2),
        );
        let read = |name: &str| if member.iter().any(|(n, _)| *n == name) { name.to_string() } else { "NULL".into() };
        let mut select = vec![
            "household_id".to_string(),
            // Whether the member is current, as a boolean (no text to decode).
            format!("status = '{STATUS_CURRENT}'"),
            if needs.deceased { "removed_at".into() } else { "NULL".into() },
            if needs.deceased { "date_of_death".into() } else { "NULL".into() },
            read("date_of_birth"),
        ];
        select.extend(CODES.iter().chain(&BOOLS).chain(&INTS).map(|n| read(n)));
        Scan {
            needs,
            household: household.into_iter().map(|(_, c)| c).collect(),
            member: member.into_iter().map(|(_, c)| c).collect(),
            households_sql,
            member_select: select.join(", "),
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
        if self.needs.members || self.needs.deceased {
            // With a helper connection the two halves of the chunk are read and decoded at
            // the same time, each into its own half of the households.
            match helper {
                Some(helper) if out.len() > 1 && self.district.is_none() => {
                    let split = ids.len() / 2;
                    let mid = &ids[split - 1];
                    let (first, second) = out.split_at_mut(split);
                    let index = &index;
                    let (a, b) = std::thread::scope(|scope| {
                        let b = scope.spawn(|| {
                            self.members(helper, mid, &last, &[]).map(|rows| self.fill(rows, second, split, index))
                        });
                        let a = self.members(conn, after, mid, &[]).map(|rows| self.fill(rows, first, 0, index));
                        (a, b.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    });
                    a?;
                    b?;
                }
                _ => {
                    let rows = self.members(conn, after, &last, &ids)?;
                    self.fill(rows, &mut out, 0, &index);
                }
            }
        }
        if self.needs.enrolments {
            for (household, scheme) in self.enrolments(conn, after, &last, &ids)? {
                if let Some(&h) = index.get(household.as_str()) {
                    out[h].enrolled.push(scheme);
                }
            }
        }
        Ok(Some(out))
    }

    /// Member rows of the households in `(after, upto]`, or with ids `ids` when given.
    fn members(&self, conn: &mut DbConnection, after: &str, upto: &str, ids: &[String]) -> QueryResult<Vec<MemberRow>> {
        let deceased = self.needs.deceased;
        crate::per_backend!(conn, |c| {
            let mut q = members::table.select(sql::<MemberSql>(&self.member_select)).into_boxed();
            q = if ids.is_empty() || self.district.is_none() {
                q.filter(members::household_id.gt(after.to_string())).filter(members::household_id.le(upto.to_string()))
            } else {
                q.filter(members::household_id.eq_any(ids))
            };
            q = if deceased {
                q.filter(members::status.eq(STATUS_CURRENT).or(members::removal_reason.eq(REASON_DECEASED)))
            } else {
                q.filter(members::status.eq(STATUS_CURRENT))
            };
            q.load::<MemberRow>(c)
        })
    }

    /// Decodes member rows into the facts of `part`, the households at positions
    /// `offset..` of the chunk (rows of other households are skipped): current members as
    /// members, and of the members removed as deceased the one removed last (then died last)
    /// into the household's deceased slots.
    fn fill(&self, rows: Vec<MemberRow>, part: &mut [Scanned], offset: usize, index: &HashMap<&str, usize>) {
        let mut latest: HashMap<usize, (Option<NaiveDateTime>, Option<NaiveDate>)> = HashMap::new();
        // A household's rows mostly come together: look its position up once.
        let mut previous: (String, Option<usize>) = (String::new(), None);
        for row in rows {
            let ((household, current, removed, died), values) = Values::of(row);
            if household != previous.0 {
                let h = index.get(household.as_str()).and_then(|&h| h.checked_sub(offset)).filter(|&h| h < part.len());
                previous = (household, h);
            }
            let Some(h) = previous.1 else { continue };
            let facts = &mut part[h].facts;
            if current {
                let slots = facts.push_member();
                for c in &self.member {
                    slots[c.slot] = values.slot(c);
                }
            } else if latest.get(&h).is_none_or(|&key| key <= (removed, died)) {
                latest.insert(h, (removed, died));
                for c in &self.member {
                    if let Some(hh) = c.deceased_slot {
                        facts.household[hh] = values.slot(c);
                    }
                }
                facts.household[DECEASED_DATE_OF_DEATH] = died.map_or(UNKNOWN, dict::date_slot);
            }
        }
    }

    /// The chunk's enrolled referrals: (household, scheme).
    fn enrolments(
        &self,
        conn: &mut DbConnection,
        after: &str,
        last: &str,
        ids: &[String],
    ) -> QueryResult<Vec<(String, String)>> {
        // The index on household id carries the status and scheme (see re-screening's read).
        let mut q = referrals::table.into_boxed();
        if self.district.is_none() {
            q = q
                .filter(referrals::household_id.gt(after.to_string()))
                .filter(referrals::household_id.le(last.to_string()));
        } else {
            q = q.filter(referrals::household_id.eq_any(ids));
        }
        let rows: Vec<(String, String, String)> =
            q.select((referrals::household_id, referrals::scheme_id, referrals::status)).load(conn)?;
        Ok(rows.into_iter().filter(|(_, _, status)| status == "enrolled").map(|(h, s, _)| (h, s)).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A member field the dictionary gains must be added to the selected columns: without a
    /// source of its own kind it would be read from another column.
    #[test]
    fn every_member_field_of_the_dictionary_is_selected_once_with_its_kind() {
        let mut seen = Vec::new();
        for f in FIELDS.iter().filter(|f| f.scope == Scope::Member && !f.derived) {
            let source = source_of(f.name).unwrap_or_else(|| panic!("{} is not selected", f.name));
            let kind_matches = match (source, f.ty) {
                (Source::Code(_), Ty::Coded(_)) | (Source::Bool(_), Ty::Bool) | (Source::Int(_), Ty::Num) => true,
                (Source::BirthDate, Ty::Date) => f.name == "date_of_birth",
                _ => false,
            };
            assert!(kind_matches, "{} is selected as {source:?}", f.name);
            seen.push(f.name);
        }
        assert_eq!(seen.len(), CODES.len() + BOOLS.len() + INTS.len() + 1);
    }
}
