//! District reference data: the codes every household, clerk and audit event refers to.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::{districts, household_counters};
use crate::error::FieldError;
use crate::registry::parse;
use crate::registry::repo::Scope;

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

/// The field error for a household's district: unknown (or inactive), or outside the
/// caller's scope. A 422 either way, as for any other field: the caller named the district.
pub fn household_problem(scope: &Scope, district: &str, unknown: bool) -> Vec<FieldError> {
    if unknown {
        return vec![FieldError::new(
            "district",
            "unknown_district",
            "is not a district code (see GET /api/v1/districts)",
        )];
    }
    if !scope.includes(district) {
        return vec![FieldError::new("district", "not_assigned", "you are not assigned to this district")];
    }
    Vec::new()
}

/// The district errors of households to register (in order). A clerk's own districts were
/// checked when assigned; the rest are looked up, all in one query.
pub fn household_errors(conn: &mut DbConnection, scope: &Scope, codes: &[&str]) -> QueryResult<Vec<Vec<FieldError>>> {
    let assigned = |code: &str| matches!(scope, Scope::Districts(list) if list.iter().any(|d| d == code));
    let mut lookup: Vec<String> = codes.iter().filter(|c| !assigned(c)).map(|c| c.to_string()).collect();
    lookup.sort();
    lookup.dedup();
    let unknown = if lookup.is_empty() { Vec::new() } else { unknown_codes(conn, &lookup)? };
    Ok(codes
        .iter()
        .map(|c| if assigned(c) { Vec::new() } else { household_problem(scope, c, unknown.iter().any(|u| u == c)) })
        .collect())
}

/// Adds the district check to the field errors of registration bodies that did not parse,
/// so one 422 names every bad field, the district with the others (one query for them all).
/// A district the parser already refused (missing, not text, too long) is not looked up.
pub fn add_household_errors(
    conn: &mut DbConnection,
    scope: &Scope,
    rejected: &mut [(&serde_json::Value, &mut Vec<FieldError>)],
) -> QueryResult<()> {
    let codes: Vec<(usize, String)> =
        rejected.iter().enumerate().filter_map(|(at, (body, _))| Some((at, parse::district_of(body)?))).collect();
    let refs: Vec<&str> = codes.iter().map(|(_, c)| c.as_str()).collect();
    let problems = household_errors(conn, scope, &refs)?;
    for ((at, _), problem) in codes.iter().zip(problems) {
        if problem.is_empty() {
            continue;
        }
        let errors = &mut *rejected[*at].1;
        errors.extend(problem);
        errors.sort_by(|a, b| a.field.cmp(&b.field));
    }
    Ok(())
}
