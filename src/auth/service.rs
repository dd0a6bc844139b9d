//! Account operations shared by the API and the CLI: create, update, set password, and
//! resolving a token's subject to the current principal. Each write runs with its audit
//! event in one transaction (the caller opens it with `db::write_tx`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Role;
use super::password::check_new_password;
use super::users::{self, Assignments, NewUser, UserRow};
use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::db::DbConnection;
use crate::error::{ApiError, FieldError};
use crate::registry::districts;

/// An account as the API and CLI show it (never the hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Whether the account may log in.
    pub active: bool,
    /// Assigned district codes (clerks, auditors).
    pub districts: Vec<String>,
    /// Assigned scheme ids (scheme administrators).
    pub schemes: Vec<String>,
    /// Version for `If-Match`.
    pub version: i64,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    fn new(row: UserRow, assignments: Assignments) -> Result<Self, ApiError> {
        let role = row.role().ok_or_else(|| anyhow::anyhow!("stored role is not valid"))?;
        Ok(Self {
            id: row.id,
            username: row.username,
            role,
            active: row.active,
            districts: assignments.districts,
            schemes: assignments.schemes,
            version: row.version,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}

/// The authenticated caller as the database says it is now.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Account id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Current role.
    pub role: Role,
    /// Current assignments.
    pub assignments: Assignments,
}

/// Checks a login name: 3–64 characters of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_username(username: &str) -> Result<(), &'static str> {
    let ok_chars =
        username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    let first_ok = username.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !(3..=64).contains(&username.len()) || !ok_chars || !first_ok {
        return Err("the user name must be 3–64 characters: lower-case letters, digits, '.', '_' or '-'");
    }
    Ok(())
}

/// Checks a scheme id: 2–64 of `a-z 0-9 -`, starting with a letter or digit.
pub fn check_scheme_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Which assignments a role may hold, and which it needs.
fn check_assignments(
    conn: &mut DbConnection,
    role: Role,
    a: &Assignments,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    match role {
        Role::Clerk if a.districts.is_empty() => {
            errors.push(FieldError::new("districts", "required", "a clerk needs at least one district"));
        }
        Role::SchemeAdmin | Role::Admin if !a.districts.is_empty() => {
            errors.push(FieldError::new("districts", "not_allowed", "this role is not assigned to districts"));
        }
        _ => {}
    }
    match role {
        Role::SchemeAdmin if a.schemes.is_empty() => {
            errors.push(FieldError::new("schemes", "required", "a scheme administrator needs at least one scheme"));
        }
        Role::Clerk | Role::Auditor | Role::Admin if !a.schemes.is_empty() => {
            errors.push(FieldError::new("schemes", "not_allowed", "only scheme administrators are assigned schemes"));
        }
        _ => {}
    }
    if a.schemes.iter().any(|s| !check_scheme_id(s)) {
        errors.push(FieldError::new("schemes", "invalid_format", "scheme ids are lower-case letters, digits and '-'"));
    }
    let unknown = districts::unknown_codes(conn, &a.districts)?;
    if !unknown.is_empty() {
        errors.push(FieldError::new(
            "districts",
            "unknown_district",
            format!("unknown district code(s): {}", unknown.join(", ")),
        ));
    }
    Ok(())
}

fn normalise(mut a: Assignments) -> Assignments {
    a.districts.sort();
    a.districts.dedup();
    a.schemes.sort();
    a.schemes.dedup();
    a
}

/// A request to create an account. The password is hashed by the caller beforehand
/// (outside any transaction), but its rules are checked here.
pub struct CreateUser<'a> {
    pub username: &'a str,
    pub role: Role,
    pub password: &'a str,
    pub password_hash: &'a str,
    pub assignments: Assignments,
}

/// Every field error of a new account in one 422: user name, password, and the role's
/// districts (looked up) and schemes. The API calls it before hashing the password, so a
/// refused request costs no hash and still names every bad field.
pub fn check_new_user(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
    role: Role,
    assignments: &Assignments,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Err(m) = check_username(username) {
        errors.push(FieldError::new("username", "invalid_format", m));
    }
    if let Err(m) = check_new_password(password, username) {
        errors.push(FieldError::new("password", "weak_password", m));
    }
    check_assignments(conn, role, assignments, &mut errors)?;
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// Creates an account and records `user_create`.
pub fn create_user(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    req: CreateUser<'_>,
) -> Result<UserView, ApiError> {
    let assignments = normalise(req.assignments);
    check_new_user(conn, req.username, req.password, req.role, &assignments)?;
    if users::find_by_username(conn, req.username)?.is_some() {
        return Err(ApiError::conflict("username_taken", "that user name is already in use"));
    }
    let now = now_micros();
    let id = uuid::Uuid::now_v7().to_string();
    users::insert(
        conn,
        &NewUser {
            id: &id,
            username: req.username,
            role: req.role.as_str(),
            password_hash: req.password_hash,
            active: true,
            tokens_valid_after: now,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )?;
    users::replace_assignments(conn, &id, &assignments)?;
    let event = Event::new("user_create").object("user", &id).details(serde_json::json!({
        "role": req.role.as_str(),
        "districts": assignments.districts,
        "schemes": assignments.schemes,
    }));
    audit::record(conn, key, ctx, &event)?;
    get_user(conn, &id)
}

/// Loads one account with its assignments.
pub fn get_user(conn: &mut DbConnection, id: &str) -> Result<UserView, ApiError> {
    let row = users::find_by_id(conn, id)?.ok_or(ApiError::NotFound)?;
    let assignments = users::assignments(conn, id)?;
    UserView::new(row, assignments)
}

/// Lists accounts by name after `after`, at most `limit`.
pub fn list_users(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> Result<Vec<UserView>, ApiError> {
    users::list(conn, after, limit)?
        .into_iter()
        .map(|row| {
            let assignments = users::assignments(conn, &row.id)?;
            UserView::new(row, assignments)
        })
        .collect()
}

/// The changes an administrator may make to an account; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub active: Option<bool>,
    pub districts: Option<Vec<String>>,
    pub schemes: Option<Vec<String>>,
}

/// Applies `changes` if the account is still at `expected_version`; records `user_update`
/// with the names of the changed fields.
pub fn update_user(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    id: &str,
    expected_version: i64,
    changes: UserChanges,
) -> Result<UserView, ApiError> {
    let row = users::find_by_id(conn, id)?.ok_or(ApiError::NotFound)?;
    if row.version != expected_version {
        return Err(ApiError::PreconditionFailed);
    }
    let role = row.role().ok_or_else(|| anyhow::anyhow!("stored role is not valid"))?;
    if changes.active == Some(false) && ctx.user_id.as_deref() == Some(id) {
        return Err(ApiError::conflict("cannot_disable_self", "you cannot disable your own account"));
    }
    let current = users::assignments(conn, id)?;
    let wanted = normalise(Assignments {
        districts: changes.districts.clone().unwrap_or_else(|| current.districts.clone()),
        schemes: changes.schemes.clone().unwrap_or_else(|| current.schemes.clone()),
    });
    let mut errors = Vec::new();
    check_assignments(conn, role, &wanted, &mut errors)?;
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut changed = Vec::new();
    let now = now_micros();
    if wanted != current {
        users::replace_assignments(conn, id, &wanted)?;
        if wanted.districts != current.districts {
            changed.push("districts");
        }
        if wanted.schemes != current.schemes {
            changed.push("schemes");
        }
    }
    let mut version = expected_version;
    if let Some(active) = changes.active.filter(|a| *a != row.active) {
        if users::set_active(conn, id, active, version, now)? == 0 {
            return Err(ApiError::PreconditionFailed);
        }
        version += 1;
        changed.push("active");
    }
    if changed.is_empty() {
        return get_user(conn, id);
    }
    if version == expected_version && users::bump_version(conn, id, version, now)? == 0 {
        return Err(ApiError::PreconditionFailed);
    }
    let event = Event::new("user_update").object("user", id).details(serde_json::json!({ "changed": changed }));
    audit::record(conn, key, ctx, &event)?;
    get_user(conn, id)
}

/// Stores a new password (already hashed by the caller) and revokes older tokens.
pub fn set_password(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    id: &str,
    password_hash: &str,
    action: &str,
) -> Result<(), ApiError> {
    let now = now_micros();
    if users::set_password(conn, id, password_hash, now, now)? == 0 {
        return Err(ApiError::NotFound);
    }
    audit::record(conn, key, ctx, &Event::new(action).object("user", id))?;
    Ok(())
}

/// The current principal of `user_id` if the account exists and is active, with the
/// account's `tokens_valid_after` in milliseconds.
pub fn active_principal(conn: &mut DbConnection, user_id: &str) -> Result<Option<(Principal, i64)>, ApiError> {
    let Some(row) = users::find_by_id(conn, user_id)? else { return Ok(None) };
    let Some(role) = row.role() else { return Ok(None) };
    if !row.active {
        return Ok(None);
    }
    let assignments = users::assignments(conn, user_id)?;
    let valid_after_ms = row.tokens_valid_after.and_utc().timestamp_millis();
    Ok(Some((Principal { id: row.id, username: row.username, role, assignments }, valid_after_ms)))
}

/// Remembers principals for a moment, so a burst of requests with one token does not
/// read the account for each. Changes made through this process are forgotten at once;
/// changes made elsewhere (another instance, the CLI) take effect within [`PRINCIPAL_TTL`].
#[derive(Default)]
pub struct PrincipalCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Principal, i64)>>,
}

/// How long a principal is remembered.
pub const PRINCIPAL_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl PrincipalCache {
    /// A fresh entry for `user_id`, if any.
    pub fn get(&self, user_id: &str) -> Option<(Principal, i64)> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(user_id)
            .filter(|(at, _, _)| at.elapsed() < PRINCIPAL_TTL)
            .map(|(_, p, valid_after)| (p.clone(), *valid_after))
    }

    /// Stores an entry (and drops stale ones when the map grows).
    pub fn put(&self, principal: &Principal, valid_after_ms: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() > 10_000 {
            entries.retain(|_, (at, _, _)| at.elapsed() < PRINCIPAL_TTL);
        }
        entries.insert(principal.id.clone(), (std::time::Instant::now(), principal.clone(), valid_after_ms));
    }

    /// Forgets `user_id` (after a change to the account).
    pub fn forget(&self, user_id: &str) {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(check_username("amina.khan").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username("Amina").is_err());
        assert!(check_username(".amina").is_err());
        assert!(check_username("amina khan").is_err());
    }

    #[test]
    fn scheme_ids() {
        assert!(check_scheme_id("bisp-kafaalat"));
        assert!(!check_scheme_id("BISP"));
        assert!(!check_scheme_id("-x"));
    }
}
