//! User accounts in the database: rows, assignments (districts, schemes) and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Role;
use crate::db::DbConnection;
use crate::db::schema::{user_districts, user_schemes, users};

/// A stored user account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub password_hash: String,
    pub active: bool,
    pub tokens_valid_after: NaiveDateTime,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    /// The role; an unknown stored value (impossible under the CHECK constraint) denies.
    pub fn role(&self) -> Option<Role> {
        self.role.parse().ok()
    }
}

/// A new account, ready to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub active: bool,
    pub tokens_valid_after: NaiveDateTime,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A user's district and scheme assignments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignments {
    pub districts: Vec<String>,
    pub schemes: Vec<String>,
}

/// Finds a user by login name.
pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::username.eq(username)).select(UserRow::as_select()).first(conn).optional()
}

/// Whether any account exists (the first administrator is created from the command line).
pub fn any_exists(conn: &mut DbConnection) -> Result<bool, crate::error::ApiError> {
    let first: Option<String> = users::table.select(users::id).first(conn).optional()?;
    Ok(first.is_some())
}

/// Finds a user by id.
pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table.find(id).select(UserRow::as_select()).first(conn).optional()
}

/// Lists users ordered by name, after the `after` name (keyset), at most `limit`.
pub fn list(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(users::username.gt(after.to_string()));
    }
    query.order(users::username.asc()).limit(limit).load(conn)
}

/// The assignments of one user, sorted.
pub fn assignments(conn: &mut DbConnection, user_id: &str) -> QueryResult<Assignments> {
    let districts = user_districts::table
        .filter(user_districts::user_id.eq(user_id))
        .select(user_districts::district_code)
        .order(user_districts::district_code.asc())
        .load(conn)?;
    let schemes = user_schemes::table
        .filter(user_schemes::user_id.eq(user_id))
        .select(user_schemes::scheme_id)
        .order(user_schemes::scheme_id.asc())
        .load(conn)?;
    Ok(Assignments { districts, schemes })
}

/// Inserts a user.
pub fn insert(conn: &mut DbConnection, user: &NewUser<'_>) -> QueryResult<()> {
    diesel::insert_into(users::table).values(user).execute(conn).map(|_| ())
}

/// Replaces a user's assignments with `assignments`.
pub fn replace_assignments(conn: &mut DbConnection, user_id: &str, assignments: &Assignments) -> QueryResult<()> {
    diesel::delete(user_districts::table.filter(user_districts::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(user_schemes::table.filter(user_schemes::user_id.eq(user_id))).execute(conn)?;
    for code in &assignments.districts {
        diesel::insert_into(user_districts::table)
            .values((user_districts::user_id.eq(user_id), user_districts::district_code.eq(code)))
            .execute(conn)?;
    }
    for scheme in &assignments.schemes {
        diesel::insert_into(user_schemes::table)
            .values((user_schemes::user_id.eq(user_id), user_schemes::scheme_id.eq(scheme)))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets the active flag if the stored version is `expected_version`; returns rows changed.
/// Disabling also revokes every token issued so far.
pub fn set_active(
    conn: &mut DbConnection,
    id: &str,
    active: bool,
    expected_version: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let target = users::table.filter(users::id.eq(id)).filter(users::version.eq(expected_version));
    if active {
        diesel::update(target)
            .set((users::active.eq(true), users::version.eq(users::version + 1), users::updated_at.eq(now)))
            .execute(conn)
    } else {
        diesel::update(target)
            .set((
                users::active.eq(false),
                users::tokens_valid_after.eq(now),
                users::version.eq(users::version + 1),
                users::updated_at.eq(now),
            ))
            .execute(conn)
    }
}

/// Bumps the version after an assignment change, if it is still `expected_version`.
pub fn bump_version(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.filter(users::id.eq(id)).filter(users::version.eq(expected_version)))
        .set((users::version.eq(users::version + 1), users::updated_at.eq(now)))
        .execute(conn)
}

/// Stores a new password hash and revokes tokens issued before `valid_after`.
pub fn set_password(
    conn: &mut DbConnection,
    id: &str,
    password_hash: &str,
    valid_after: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::tokens_valid_after.eq(valid_after),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)
}
