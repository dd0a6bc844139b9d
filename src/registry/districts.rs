//! District reference data: the codes every household, clerk and audit event refers to.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{districts, household_counters};

/// A district of Khyber Pakhtunkhwa.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = districts)]
pub struct District {
    /// Stable code, e.g. `peshawar`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Administrative division.
    pub division: String,
    /// Whether new records may use it.
    pub active: bool,
}

/// Every district, ordered by code.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<District>> {
    districts::table.select(District::as_select()).order(districts::code.asc()).load(conn)
}

/// The codes in `codes` that are not active districts.
pub fn unknown_codes(conn: &mut DbConnection, codes: &[String]) -> QueryResult<Vec<String>> {
    let known: Vec<String> = districts::table
        .filter(districts::code.eq_any(codes))
        .filter(districts::active.eq(true))
        .select(districts::code)
        .load(conn)?;
    Ok(codes.iter().filter(|c| !known.contains(c)).cloned().collect())
}

/// Checks a new district code: 2–40 characters of `a-z 0-9 -`.
pub fn check_code(code: &str) -> bool {
    (2..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
}

/// One district.
pub fn find(conn: &mut DbConnection, code: &str) -> QueryResult<Option<District>> {
    districts::table.find(code).select(District::as_select()).first(conn).optional()
}

/// Adds a district and its household-number counter.
pub fn insert(conn: &mut DbConnection, district: &District) -> QueryResult<()> {
    diesel::insert_into(districts::table)
        .values((
            districts::code.eq(&district.code),
            districts::name.eq(&district.name),
            districts::division.eq(&district.division),
            districts::active.eq(district.active),
        ))
        .execute(conn)?;
    diesel::insert_into(household_counters::table)
        .values((household_counters::district_code.eq(&district.code), household_counters::last_value.eq(0_i64)))
        .execute(conn)?;
    Ok(())
}

/// Writes a district's name, division and active flag.
pub fn update(conn: &mut DbConnection, district: &District) -> QueryResult<usize> {
    diesel::update(districts::table.find(&district.code))
        .set((
            districts::name.eq(&district.name),
            districts::division.eq(&district.division),
            districts::active.eq(district.active),
        ))
        .execute(conn)
}
