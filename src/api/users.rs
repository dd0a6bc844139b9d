//! User administration (admin role).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Page, PageQuery, etag, if_match_version, no_store, page_limit};
use crate::auth::password::{check_new_password, hash_password};
use crate::auth::service::{self, CreateUser, UserChanges, UserView};
use crate::auth::users::Assignments;
use crate::auth::{AuthUser, Role};
use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login name: 3–64 of `a-z 0-9 . _ -`.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{2,63}$", example = "clerk.peshawar")]
    pub username: String,
    /// Role.
    pub role: Role,
    /// Initial password: 12–256 characters, not one character repeated, not containing the
    /// user name (in any case).
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    /// Active district codes (clerks: at least one; auditors: optional; others: none).
    #[serde(default)]
    #[schema(value_type = Vec<crate::api::contract::DistrictCode>)]
    pub districts: Vec<String>,
    /// Scheme ids (scheme administrators: at least one; others: none).
    #[serde(default)]
    #[schema(value_type = Vec<crate::api::contract::SchemeId>)]
    pub schemes: Vec<String>,
}

/// Lists accounts by user name.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<UserView>), (status = 403, body = crate::error::Problem)))]
pub async fn list_users(state: web::Data<AppState>, query: web::Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = query.cursor.clone();
    let items = db::run(&state.pool, move |conn| service::list_users(conn, after.as_deref(), limit)).await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|u| u.username.clone())).flatten();
    Ok(no_store(HttpResponse::Ok()).json(Page { items, next_cursor }))
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUserRequest, responses(
    (status = 201, body = UserView),
    (status = 409, description = "user name taken", body = crate::error::Problem),
    (status = 422, description = "invalid fields", body = crate::error::Problem),
))]
pub async fn create_user(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // Every field is checked before the (deliberately slow) hash, in one 422.
    let (username, password, role) = (body.username.clone(), body.password.clone(), body.role);
    let assignments = Assignments { districts: body.districts.clone(), schemes: body.schemes.clone() };
    db::run(&state.pool, move |conn| service::check_new_user(conn, &username, &password, role, &assignments)).await?;
    let password = body.password.clone();
    let hash = state.hash_limiter.run(move || hash_password(&password)).await??;
    let (key, ctx) = (state.audit_key.clone(), user.audit_context(&req));
    let view = db::run_write(&state.pool, move |conn| {
        let request = CreateUser {
            username: &body.username,
            role: body.role,
            password: &body.password,
            password_hash: &hash,
            assignments: Assignments { districts: body.districts.clone(), schemes: body.schemes.clone() },
        };
        service::create_user(conn, &key, &ctx, request)
    })
    .await?;
    Ok(no_store(HttpResponse::Created())
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", view.id)))
        .insert_header((header::ETAG, etag(view.version)))
        .json(view))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::Problem)))]
pub async fn get_user(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = db::run(&state.pool, move |conn| service::get_user(conn, &id)).await?;
    Ok(no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(view.version))).json(view))
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Enable or disable the account (disabling revokes its tokens at once).
    pub active: Option<bool>,
    /// Replace the district assignments (active district codes, as the role allows).
    #[schema(value_type = Option<Vec<crate::api::contract::DistrictCode>>)]
    pub districts: Option<Vec<String>>,
    /// Replace the scheme assignments (scheme administrators only).
    #[schema(value_type = Option<Vec<crate::api::contract::SchemeId>>)]
    pub schemes: Option<Vec<String>>,
}

/// Updates an account. Needs `If-Match` with the version read.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id"), ("If-Match" = String, Header, description = "ETag read")),
    request_body = UpdateUserRequest, responses(
    (status = 200, body = UserView),
    (status = 404, body = crate::error::Problem),
    (status = 412, description = "stale version", body = crate::error::Problem),
    (status = 428, description = "If-Match missing", body = crate::error::Problem),
))]
pub async fn update_user(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let UpdateUserRequest { active, districts, schemes } = body.into_inner();
    let changes = UserChanges { active, districts, schemes };
    let (key, ctx, id) = (state.audit_key.clone(), user.audit_context(&req), id.into_inner());
    let view =
        db::run_write(&state.pool, move |conn| service::update_user(conn, &key, &ctx, &id, expected, changes)).await?;
    state.principals.forget(&view.id);
    Ok(no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(view.version))).json(view))
}

/// A password set by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password: 12–256 characters, not one character repeated, not containing the
    /// user name.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// Sets an account's password and revokes its tokens.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")), request_body = ResetPasswordRequest, responses(
    (status = 204, description = "password set"),
    (status = 404, body = crate::error::Problem),
    (status = 422, body = crate::error::Problem),
))]
pub async fn reset_password(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = id.clone();
    let target = db::run(&state.pool, move |conn| service::get_user(conn, &lookup)).await?;
    let new_password = body.into_inner().new_password;
    check_new_password(&new_password, &target.username)
        .map_err(|m| ApiError::invalid_field("new_password", "weak_password", m))?;
    let hash = state.hash_limiter.run(move || hash_password(&new_password)).await??;
    let (key, ctx) = (state.audit_key.clone(), user.audit_context(&req));
    let target = id.clone();
    db::run_write(&state.pool, move |conn| service::set_password(conn, &key, &ctx, &id, &hash, "user_reset_password"))
        .await?;
    state.principals.forget(&target);
    Ok(HttpResponse::NoContent().finish())
}
