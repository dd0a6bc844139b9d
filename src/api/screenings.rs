//! Stored screenings of registered households and their current decisions (clerks, in their
//! districts).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::households::{idempotency_key, respond, scope_of};
use super::schemes::{AsOfQuery, parse_as_of};
use super::{Page, PageQuery, ok_json, page_limit};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::idempotency::{self, StoredResponse};
use crate::registry::warnings::today_in_pakistan;
use crate::screening::store::{self, Caller, Decisions, ScreeningSummaryView};
use crate::startup::AppState;

/// Screens a registered household against every active scheme at `as_of` (default today),
/// keeps the result with the rule-set version, and brings the household's decisions up to date.
#[utoipa::path(post, path = "/api/v1/households/{id}/screenings", tag = "screening", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), AsOfQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "retry-safe key")),
    responses(
        (status = 201, description = "the screening (API.md shape) with `screening_id`, `screened_by`, `screened_at`", body = crate::screening::Screening),
        (status = 404, description = "missing or in another district", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ))]
pub async fn screen_household(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let key = idempotency_key(&req)?;
    let hash = idempotency::fingerprint("POST", &format!("{}?as_of={as_of}", req.path()), &Value::Null);
    let (audit_key, ctx, scope, user_id, id) = (
        state.audit_key.clone(),
        user.audit_context(&req),
        scope_of(&user),
        user.principal.id.clone(),
        id.into_inner(),
    );
    let rules = state.rules.current();
    let stored = db::run(&state.pool, move |conn| {
        idempotency::execute(conn, &user_id, key.as_deref(), &hash, |c| {
            let caller = Caller { key: &audit_key, ctx: &ctx, scope: &scope };
            let body = store::screen_stored(c, &caller, &rules, &id, as_of, "screening")?;
            let location = format!("/api/v1/households/{id}/screenings/latest");
            Ok(StoredResponse::new(201, vec![("location".into(), location)], body))
        })
    })
    .await?;
    Ok(respond(stored))
}

/// The household's latest screening; screened again first (for today) if the household or
/// the rules changed since, so it is never stale.
#[utoipa::path(get, path = "/api/v1/households/{id}/screenings/latest", tag = "screening", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id")),
    responses((status = 200, body = crate::screening::Screening), (status = 404, body = crate::error::Problem)))]
pub async fn latest_screening(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (key, ctx, scope, id) = (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), id.into_inner());
    let rules = state.rules.current();
    let body = db::run_write(&state.pool, move |conn| {
        store::latest(conn, &Caller { key: &key, ctx: &ctx, scope: &scope }, &rules, &id, today_in_pakistan())
    })
    .await?;
    Ok(ok_json(&body))
}

/// Past screenings of the household, newest first (summaries; keyset pagination).
#[utoipa::path(get, path = "/api/v1/households/{id}/screenings", tag = "screening", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), PageQuery),
    responses((status = 200, body = Page<ScreeningSummaryView>), (status = 404, body = crate::error::Problem)))]
pub async fn screening_history(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let (key, ctx, scope, id, cursor) =
        (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), id.into_inner(), query.cursor.clone());
    let items = db::run_write(&state.pool, move |conn| {
        store::history(conn, &Caller { key: &key, ctx: &ctx, scope: &scope }, &id, cursor.as_deref(), limit)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|s| s.id.clone())).flatten();
    Ok(ok_json(&Page { items, next_cursor }))
}

/// The household's current decisions per scheme (kept up to date with every change to the
/// household) and its latest changes of status.
#[utoipa::path(get, path = "/api/v1/households/{id}/decisions", tag = "screening", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id")),
    responses((status = 200, body = Decisions), (status = 404, body = crate::error::Problem)))]
pub async fn household_decisions(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (key, ctx, scope, id) = (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), id.into_inner());
    let rules = state.rules.current();
    let body = db::run_write(&state.pool, move |conn| {
        store::decisions(conn, &Caller { key: &key, ctx: &ctx, scope: &scope }, &rules.set, &id, today_in_pakistan())
    })
    .await?;
    Ok(ok_json(&body))
}
