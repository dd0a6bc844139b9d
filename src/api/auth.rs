//! Login and one's own account.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::{no_store, ok_json, validate};
use crate::audit::{self, Event};
use crate::auth::extractor::request_context;
use crate::auth::password::{check_new_password, hash_password, verify_password};
use crate::auth::service::{self, UserView};
use crate::auth::throttle::Refusal;
use crate::auth::users;
use crate::auth::{AuthUser, Role};
use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;

/// Credentials.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    #[validate(length(min = 1, max = 64, message = "enter your user name"))]
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    /// Password.
    #[validate(length(min = 1, max = 256, message = "enter your password"))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

const BAD_CREDENTIALS: &str = "the user name or password is incorrect";

/// Exchanges credentials for a short-lived access token. Unknown user, wrong password and
/// disabled account get the same 401 in the same time (the unknown user is checked
/// against a dummy hash). Every attempt is audited. After repeated failures the account
/// backs off (429 with `Retry-After`, even for the right password), and each client address
/// has a per-minute cap on attempts.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse),
    (status = 401, description = "wrong credentials", body = crate::error::Problem),
    (status = 422, description = "empty fields", body = crate::error::Problem),
    (status = 429, description = "the account is backing off after failed logins, or this address made too many attempts; see Retry-After", body = crate::error::Problem),
))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    validate(&*body)?;
    let LoginRequest { username, password } = body.into_inner();
    // Throttled before any lookup or hashing, the same way for known and unknown names.
    if let Err(refusal) = state.login_throttle.check(&username, req.peer_addr().map(|a| a.ip()), Instant::now()) {
        let reason = match refusal {
            Refusal::Account(_) => "account_backoff",
            Refusal::Address(_) => "address_limit",
        };
        let event = Event::new("login").denied().details(serde_json::json!({ "reason": reason }));
        let (key, ctx) = (state.audit_key.clone(), request_context(&req));
        db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
        return Err(ApiError::TooManyRequests { retry_after_secs: refusal.retry_after_secs() });
    }
    let lookup = username.clone();
    let user = db::run(&state.pool, move |conn| Ok(users::find_by_username(conn, &lookup)?)).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = state.hash_limiter.run(move || verify_password(&password, stored.as_deref())).await?;

    let outcome: Result<(String, Role), &'static str> = match &user {
        None => Err("unknown_user"),
        Some(u) => match (password_ok, u.active, u.role()) {
            (false, _, _) => Err("bad_password"),
            (true, false, _) => Err("inactive"),
            (true, true, None) => Err("invalid_role"),
            (true, true, Some(role)) => Ok((u.id.clone(), role)),
        },
    };
    // The attempted name of an unknown user is not recorded: it may be a mistyped password.
    let mut ctx = request_context(&req);
    let mut event = Event::new("login");
    if let Some(u) = &user {
        if let Some(role) = u.role() {
            ctx = ctx.with_user(&u.id, &u.username, role);
        }
        event = event.object("user", &u.id);
    }
    if let Err(reason) = outcome {
        event = event.denied().details(serde_json::json!({ "reason": reason }));
    }
    let key = state.audit_key.clone();
    db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    let (user_id, role) = match outcome {
        Ok(granted) => {
            state.login_throttle.succeeded(&username);
            granted
        }
        Err(_) => {
            state.login_throttle.failed(&username, Instant::now());
            return Err(ApiError::Unauthorized(BAD_CREDENTIALS));
        }
    };
    let access_token = state.tokens.issue(&user_id, role)?;
    Ok(no_store(HttpResponse::Ok()).json(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl().as_secs(),
    }))
}

/// One's own account and what it may do.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// The actions of the policy table this account's role may perform (a client shows
    /// only these; the server checks every request regardless).
    pub permissions: Vec<&'static str>,
}

/// The caller's own account, with the actions its role permits.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, description = "the caller's account", body = MeView),
    (status = 401, description = "no valid token", body = crate::error::Problem),
))]
pub async fn me(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = user.principal.id.clone();
    let view = db::run(&state.pool, move |conn| service::get_user(conn, &id)).await?;
    let permissions = crate::auth::Action::ALL
        .iter()
        .filter(|a| crate::auth::policy::permits(view.role, **a))
        .map(|a| a.as_str())
        .collect();
    Ok(ok_json(&MeView { user: view, permissions }))
}

/// Whether the service still needs its first account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    /// True while no account exists: the console then says how to create the first
    /// administrator (from the command line; there is no way to do it over HTTP).
    pub first_admin_needed: bool,
}

/// Whether any account exists yet (no token needed; says nothing else about accounts).
#[utoipa::path(get, path = "/api/v1/auth/setup", tag = "auth", responses(
    (status = 200, description = "set-up state", body = SetupStatus),
))]
pub async fn setup_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let any = db::run(&state.pool, users::any_exists).await?;
    Ok(ok_json(&SetupStatus { first_admin_needed: !any }))
}

/// A password change by the account holder.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    #[validate(length(min = 1, max = 256, message = "enter your current password"))]
    #[schema(min_length = 1, max_length = 256)]
    pub current_password: String,
    /// The new password (12–256 characters, not containing the user name).
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// Changes the caller's password. Every token issued before the change stops working,
/// including the one used for this request.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest, responses(
    (status = 204, description = "changed; log in again"),
    (status = 401, description = "wrong current password", body = crate::error::Problem),
    (status = 422, description = "new password too weak", body = crate::error::Problem),
))]
pub async fn change_password(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    validate(&*body)?;
    let ChangePasswordRequest { current_password, new_password } = body.into_inner();
    check_new_password(&new_password, &user.principal.username)
        .map_err(|m| ApiError::invalid_field("new_password", "weak_password", m))?;
    let id = user.principal.id.clone();
    let stored = db::run(&state.pool, move |conn| Ok(users::find_by_id(conn, &id)?))
        .await?
        .ok_or(ApiError::Unauthorized("the token is no longer valid"))?
        .password_hash;
    let new_hash = state
        .hash_limiter
        .run(move || {
            verify_password(&current_password, Some(&stored)).then(|| hash_password(&new_password)).transpose()
        })
        .await??
        .ok_or(ApiError::Unauthorized(BAD_CREDENTIALS))?;
    let (key, ctx, id) = (state.audit_key.clone(), user.audit_context(&req), user.principal.id.clone());
    let target = id.clone();
    db::run_write(&state.pool, move |conn| service::set_password(conn, &key, &ctx, &id, &new_hash, "password_change"))
        .await?;
    state.principals.forget(&target);
    Ok(HttpResponse::NoContent().finish())
}
