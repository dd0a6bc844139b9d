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
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Text, Timestamp};

use crate::db::DbConnection;
use crate::db::schema::referrals;
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

/// Text kept inline, read without an allocation (a member row's household id and codes: one
/// row per member, millions per report). Longer text than it holds is marked as too long: no
/// code is that long (it reads as unreadable), and a household id that long is refused.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
struct Short {
    len: u8,
    bytes: [u8; SHORT],
}

/// Bytes a [`Short`] holds (an id is 36).
const SHORT: usize = 47;

impl Short {
    fn of(text: &[u8]) -> Short {
        let mut bytes = [0; SHORT];
        match bytes.get_mut(..text.len()) {
            Some(to) => {
                to.copy_from_slice(text);
                Short { len: text.len() as u8, bytes }
            }
            None => Short { len: u8::MAX, bytes },
        }
    }

    /// The text, or `None` when it was too long to hold.
    fn get(&self) -> Option<&[u8]> {
        self.bytes.get(..usize::from(self.len))
    }
}

impl diesel::deserialize::FromSql<Text, diesel::pg::Pg> for Short {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(Short::of(value.as_bytes()))
    }
}

impl diesel::deserialize::FromSql<Text, diesel::sqlite::Sqlite> for Short {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> diesel::deserialize::Result<Self> {
        Ok(Short::of(value.read_text().as_bytes()))
    }
}

/// A member row as read: household id, whether current, removed at, date of death, and the
/// member's fact slots decoded straight from the columns (unread columns are `NULL`, so
/// their slots stay unknown). Decoded by hand, column by column, with no tuple of values in
/// between: millions of rows pass through here for one report.
struct MemberRow {
    household: Short,
    current: bool,
    removed: Option<NaiveDateTime>,
    died: Option<NaiveDate>,
    slots: [i64; dict::MEMBER_SLOTS],
}

/// A member column read after the first four (household id, whether current, removed at,
/// date of death), with the slot it fills and how it decodes.
#[derive(Debug, Clone, Copy)]
enum MemberColumn {
    Born(usize),
    /// A coded value: its position in the list; unreadable → the fallback (unknown when
    /// `None`).
    Code(usize, &'static [&'static str], Option<usize>),
    Bool(usize),
    Int(usize),
    BigInt(usize),
}

/// The member columns the reader needs, each as a [`MemberColumn`], in `FIELDS` order.
fn member_column(f: &dict::Field) -> MemberColumn {
    match f.ty {
        Ty::Date => MemberColumn::Born(f.slot),
        Ty::Coded(codes) => MemberColumn::Code(f.slot, codes, fallback(f.name)),
        Ty::Bool => MemberColumn::Bool(f.slot),
        // The monthly income is a BIGINT, the other whole numbers INTEGER.
        Ty::Num if f.name == "monthly_income_pkr" => MemberColumn::BigInt(f.slot),
        Ty::Num => MemberColumn::Int(f.slot),
    }
}

thread_local! {
    /// The member columns of the query being decoded on this thread, after the first four:
    /// set by [`Scan::members`] for its own query (diesel's row decoding takes no context),
    /// so only the columns a report needs cross the wire. Rows must be decoded on the thread
    /// that ran the query (as `load_iter` does): code that moves decoding elsewhere must carry
    /// the columns with it.
    static SELECTED: std::cell::RefCell<Vec<MemberColumn>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl<DB> diesel::deserialize::QueryableByName<DB> for MemberRow
where
    DB: diesel::backend::Backend,
    Short: diesel::deserialize::FromSql<Text, DB>,
    bool: diesel::deserialize::FromSql<Bool, DB>,
    i32: diesel::deserialize::FromSql<Integer, DB>,
    i64: diesel::deserialize::FromSql<BigInt, DB>,
    NaiveDate: diesel::deserialize::FromSql<Date, DB>,
    NaiveDateTime: diesel::deserialize::FromSql<Timestamp, DB>,
{
    fn build<'a>(row: &impl diesel::row::NamedRow<'a, DB>) -> diesel::deserialize::Result<Self> {
        use diesel::deserialize::FromSql;
        let mut slots = [UNKNOWN; dict::MEMBER_SLOTS];
        SELECTED.with_borrow(|columns| -> diesel::deserialize::Result<()> {
            for (k, column) in columns.iter().enumerate() {
                let i = 4 + k;
                match *column {
                    MemberColumn::Born(slot) => {
                        if let Some(born) = read(row, i, NaiveDate::from_sql)? {
                            slots[slot] = dict::date_slot(born);
                        }
                    }
                    MemberColumn::Code(slot, codes, fallback) => {
                        if let Some(text) = read(row, i, Short::from_sql)? {
                            let found = match text.get() {
                                Some(text) if !text.is_empty() => codes.iter().position(|c| c.as_bytes() == text),
                                // Empty, or too long for any code: unreadable.
                                _ => None,
                            };
                            slots[slot] = found.or(fallback).map_or(UNKNOWN, |i| i as i64);
                        }
                    }
                    MemberColumn::Bool(slot) => {
                        if let Some(yes) = read(row, i, bool::from_sql)? {
                            slots[slot] = i64::from(yes);
                        }
                    }
                    MemberColumn::Int(slot) => {
                        if let Some(v) = read(row, i, i32::from_sql)? {
                            slots[slot] = num::int(i64::from(v));
                        }
                    }
                    MemberColumn::BigInt(slot) => {
                        if let Some(v) = read(row, i, i64::from_sql)? {
                            slots[slot] = num::int(v);
                        }
                    }
                }
            }
            Ok(())
        })?;
        let missing = || diesel::result::UnexpectedNullError;
        Ok(MemberRow {
            household: read(row, 0, Short::from_sql)?.ok_or_else(missing)?,
            current: read(row, 1, bool::from_sql)?.ok_or_else(missing)?,
            removed: read(row, 2, NaiveDateTime::from_sql)?,
            died: read(row, 3, NaiveDate::from_sql)?,
            slots,
        })
    }
}

/// Column `i` of `row` decoded by `decode`, `None` when it is `NULL`.
fn read<'a, DB: diesel::backend::Backend, T>(
    row: &impl diesel::row::Row<'a, DB>,
    i: usize,
    decode: impl FnOnce(DB::RawValue<'_>) -> diesel::deserialize::Result<T>,
) -> diesel::deserialize::Result<Option<T>> {
    use diesel::row::Field;
    let field = row.get(i).ok_or(diesel::result::UnexpectedEndOfRow)?;
    field.value().map(decode).transpose()
}

/// The reader for one set of needs on one backend.
#[derive(Debug, Clone)]
pub struct Scan {
    needs: Needs,
    household: Vec<Column>,
    member: Vec<Column>,
    households_sql: String,
    /// The members of an id range (`$1`, `$2`] (and district `$3`): household id, whether
    /// current, removed at and date of death, then only the member columns needed.
    members_sql: String,
    /// The member columns selected after the first four.
    member_columns: Vec<MemberColumn>,
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
        let column = |f: &dict::Field| Column { slot: f.slot, decode: decode_of(f.name, f.ty), deceased_slot: None };
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
        let mut select = vec![
            "household_id".to_string(),
            // Whether the member is current, as a boolean (no text to decode).
            format!("status = '{STATUS_CURRENT}'"),
            if needs.deceased { "removed_at".into() } else { "NULL".into() },
            if needs.deceased { "date_of_death".into() } else { "NULL".into() },
        ];
        select.extend(member.iter().map(|(name, _)| name.to_string()));
        let member_columns: Vec<MemberColumn> =
            member.iter().filter_map(|(name, _)| dict::lookup(Scope::Member, name)).map(member_column).collect();
        let status = if needs.deceased {
            format!("(status = '{STATUS_CURRENT}' OR removal_reason = '{REASON_DECEASED}')")
        } else {
            format!("status = '{STATUS_CURRENT}'")
        };
        // One district: only its households' members of the id range.
        let of_district = match district {
            Some(_) => format!(
                " AND household_id IN (SELECT id FROM households WHERE district_code = {} AND id > {} AND id <= {})",
                p(3),
                p(1),
                p(2)
            ),
            None => String::new(),
        };
        let members_sql = format!(
            "SELECT {} FROM members WHERE household_id > {} AND household_id <= {} AND {status}{of_district}",
            select.join(", "),
            p(1),
            p(2),
        );
        Scan {
            needs,
            household: household.into_iter().map(|(_, c)| c).collect(),
            member: member.into_iter().map(|(_, c)| c).collect(),
            households_sql,
            members_sql,
            member_columns,
            district: district.map(str::to_string),
        }
    }

    /// The next `chunk` households after `after` (`""` for the first), with their facts;
    /// `None` when there are no more.
    pub fn read(&self, conn: &mut DbConnection, after: &str, chunk: i64) -> QueryResult<Option<Vec<Scanned>>> {
        let Some(mut rows) = self.households(conn, after, chunk)? else { return Ok(None) };
        self.complete(conn, after, &mut rows)?;
        Ok(Some(rows))
    }

    /// The next `chunk` households after `after` with their household fields only (members
    /// and enrolments follow with [`Scan::complete`]); `None` when there are no more.
    pub fn households(&self, conn: &mut DbConnection, after: &str, chunk: i64) -> QueryResult<Option<Vec<Scanned>>> {
        let rows = load_households(conn, &self.households_sql, after, chunk, self.district.as_deref())?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.into_iter()
                .map(|r| {
                    let mut facts = Facts::default();
                    facts.household[0] = decode(&r.district, Decode::District);
                    for (c, text) in self.household.iter().zip(r.packed.split(FIELD)) {
                        facts.household[c.slot] = decode(text, c.decode);
                    }
                    Scanned { id: r.id, number: r.number, district: r.district, facts, enrolled: Vec::new() }
                })
                .collect(),
        ))
    }

    /// Reads the members and enrolments of `out`, the households [`Scan::households`] gave
    /// after `after`, into their facts.
    pub fn complete(&self, conn: &mut DbConnection, after: &str, out: &mut [Scanned]) -> QueryResult<()> {
        let Some(last) = out.last().map(|r| r.id.clone()) else { return Ok(()) };
        let ids: Vec<String> =
            if self.district.is_some() { out.iter().map(|s| s.id.clone()).collect() } else { Vec::new() };
        if self.needs.members || self.needs.deceased {
            self.members(conn, after, &last, out)?;
        }
        if self.needs.enrolments {
            let enrolled = self.enrolments(conn, after, &last, &ids)?;
            let index: HashMap<&str, usize> = ids_of(out).collect();
            let mut found = Vec::new();
            for (household, scheme) in enrolled {
                if let Some(&h) = index.get(household.as_str()) {
                    found.push((h, scheme));
                }
            }
            for (h, scheme) in found {
                out[h].enrolled.push(scheme);
            }
        }
        Ok(())
    }

    /// Reads the member rows of the households in `(after, upto]` (of the district, when
    /// one) into the facts of `out`, row by row as they are decoded (no list of rows):
    /// current members as members, and of the members removed as deceased the one removed
    /// last (then died last) into the household's deceased slots. Rows of households not in
    /// `out` are skipped.
    fn members(&self, conn: &mut DbConnection, after: &str, upto: &str, out: &mut [Scanned]) -> QueryResult<()> {
        let own: Vec<String> = out.iter().map(|s| s.id.clone()).collect();
        let index: HashMap<&[u8], usize> = own.iter().enumerate().map(|(h, id)| (id.as_bytes(), h)).collect();
        let mut latest: HashMap<usize, (Option<NaiveDateTime>, Option<NaiveDate>)> = HashMap::new();
        // A household's rows mostly come together: look its position up once.
        let mut previous: (Option<Short>, Option<usize>) = (None, None);
        let mut take = |row: MemberRow| -> QueryResult<()> {
            let MemberRow { household, current, removed, died, slots } = row;
            let key = household.get().ok_or_else(|| {
                diesel::result::Error::DeserializationError("a household id longer than an id can be".into())
            })?;
            if previous.0.as_ref().and_then(Short::get) != Some(key) {
                previous = (Some(household), index.get(key).copied());
            }
            let Some(h) = previous.1 else { return Ok(()) };
            let facts = &mut out[h].facts;
            if current {
                facts.members.push(slots);
            } else if latest.get(&h).is_none_or(|&key| key <= (removed, died)) {
                latest.insert(h, (removed, died));
                for c in &self.member {
                    if let Some(hh) = c.deceased_slot {
                        facts.household[hh] = slots[c.slot];
                    }
                }
                facts.household[DECEASED_DATE_OF_DEATH] = died.map_or(UNKNOWN, dict::date_slot);
            }
            Ok(())
        };
        SELECTED.with_borrow_mut(|selected| selected.clone_from(&self.member_columns));
        macro_rules! load {
            ($c:expr) => {{
                let q = diesel::sql_query(&self.members_sql).bind::<Text, _>(after).bind::<Text, _>(upto).into_boxed();
                let q = match self.district.as_deref() {
                    Some(d) => q.bind::<Text, _>(d),
                    None => q,
                };
                for row in q.load_iter::<MemberRow, diesel::connection::DefaultLoadingMode>($c)? {
                    take(row?)?;
                }
                QueryResult::Ok(())
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

/// Each household's id with its position.
fn ids_of(out: &[Scanned]) -> impl Iterator<Item = (&str, usize)> {
    out.iter().enumerate().map(|(h, s)| (s.id.as_str(), h))
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

    /// Every member field of the dictionary is read with a decoder of its own kind, into a
    /// slot of its own (a field that shared a slot would overwrite another). That each decodes with its column's type is
    /// checked against the database by `tests/api/impact_scan.rs`, which reads every field.
    #[test]
    fn every_member_field_of_the_dictionary_is_read_once_with_its_kind() {
        let fields: Vec<&dict::Field> = FIELDS.iter().filter(|f| f.scope == Scope::Member && !f.derived).collect();
        for f in &fields {
            let kind_matches = match (member_column(f), f.ty) {
                (MemberColumn::Code(_, codes, _), Ty::Coded(listed)) => codes == listed,
                (MemberColumn::Bool(_), Ty::Bool) | (MemberColumn::Born(_), Ty::Date) => true,
                (MemberColumn::Int(_) | MemberColumn::BigInt(_), Ty::Num) => true,
                _ => false,
            };
            assert!(kind_matches, "{} is read as {:?}", f.name, member_column(f));
        }
        let mut slots: Vec<usize> = fields
            .iter()
            .map(|f| match member_column(f) {
                MemberColumn::Born(s)
                | MemberColumn::Code(s, ..)
                | MemberColumn::Bool(s)
                | MemberColumn::Int(s)
                | MemberColumn::BigInt(s) => s,
            })
            .collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), fields.len());
        assert!(slots.iter().all(|&s| s < dict::MEMBER_SLOTS));
        // The one date is the date of birth (the decoder fills `Born` from it).
        let dates: Vec<&str> = fields.iter().filter(|f| f.ty == Ty::Date).map(|f| f.name).collect();
        assert_eq!(dates, ["date_of_birth"]);
    }
}
