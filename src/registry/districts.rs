//! District reference data: the codes every household, clerk and audit event refers to.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::db::schema::districts;

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
