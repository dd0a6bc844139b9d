//! Members under a household: add, update, remove with a reason, change the head. Each
//! needs `If-Match` with the household's ETag and answers with the household's new state.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::households::{created, idempotency_key, respond, scope_of};
use super::{etag, if_match_version, no_store};
use crate::auth::AuthUser;
use crate::db;
use crate::domain::codes::Relation;
use crate::error::ApiError;
use crate::idempotency;
use crate::registry::members::{self, Target};
use crate::registry::parse::parse_member;
use crate::registry::service::{self, HouseholdView, HouseholdWithWarnings};
use crate::registry::warnings::today_in_pakistan;
use crate::screening::store;
use crate::startup::AppState;

fn household_response(view: &HouseholdView) -> HttpResponse {
    no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(view.version))).json(view)
}

/// Adds a member to a household.
#[utoipa::path(post, path = "/api/v1/households/{id}/members", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), ("If-Match" = String, Header, description = "the household ETag"),
        ("Idempotency-Key" = Option<String>, Header, description = "retry-safe key")),
    request_body(content = super::contract::NewMember, description = "a member (not the head)"),
    responses(
        (status = 201, body = HouseholdWithWarnings),
        (status = 409, description = "ID number already registered, or 30 members already", body = crate::error::Problem),
        (status = 412, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ))]
pub async fn add_member(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let body = body.into_inner();
    let key = idempotency_key(&req)?;
    let hash = idempotency::fingerprint("POST", req.path(), &body);
    let member = parse_member(&body, "", today_in_pakistan()).map_err(ApiError::Validation)?;
    let (audit_key, ctx, scope, household_id, user_id) = (
        state.audit_key.clone(),
        user.audit_context(&req),
        scope_of(&user),
        id.into_inner(),
        user.principal.id.clone(),
    );
    let rules = state.rules.current();
    let stored = db::run(&state.pool, move |conn| {
        idempotency::execute(conn, &user_id, key.as_deref(), &hash, |c| {
            let target = Target { ctx: &ctx, scope: &scope, household_id: &household_id, expected_version: expected };
            let r = members::add_member(c, &audit_key, &target, &member, today_in_pakistan())?;
            store::after_change(c, &rules.set, &household_id, today_in_pakistan())?;
            Ok(created(&r))
        })
    })
    .await?;
    Ok(respond(stored))
}

/// Changes a member (a JSON merge patch).
#[utoipa::path(patch, path = "/api/v1/households/{id}/members/{member_id}", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), ("member_id" = String, Path, description = "member id"),
        ("If-Match" = String, Header, description = "the household ETag")),
    request_body(description = "member fields to change (JSON merge patch)", content(
        (super::contract::MemberPatch = "application/merge-patch+json"),
        (super::contract::MemberPatch = "application/json"))),
    responses((status = 200, body = HouseholdWithWarnings), (status = 404, body = crate::error::Problem),
        (status = 412, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update_member(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let (household_id, member_id) = path.into_inner();
    let (key, ctx, scope, patch) =
        (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), body.into_inner());
    let rules = state.rules.current();
    let result = db::run_write(&state.pool, move |conn| {
        let target = Target { ctx: &ctx, scope: &scope, household_id: &household_id, expected_version: expected };
        let result = members::update_member(conn, &key, &target, &member_id, &patch, today_in_pakistan())?;
        store::after_change(conn, &rules.set, &household_id, today_in_pakistan())?;
        Ok(result)
    })
    .await?;
    Ok(no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(result.household.version))).json(result))
}

/// Why a member leaves the household.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMemberRequest {
    /// `deceased`, `moved_out`, `married_out` or `data_error`.
    #[schema(value_type = crate::domain::codes::RemovalReason)]
    pub reason: String,
    /// With the reason `deceased` only: the date of death, `YYYY-MM-DD`, not in the future
    /// and not before the date of birth (it may also be recorded later with a PATCH of the
    /// deceased member).
    #[schema(value_type = Option<String>, format = Date, example = "2024-10-01")]
    pub date_of_death: Option<Value>,
}

/// Removes a member with a reason (kept in history). The head cannot be removed.
#[utoipa::path(post, path = "/api/v1/households/{id}/members/{member_id}/removal", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), ("member_id" = String, Path, description = "member id"),
        ("If-Match" = String, Header, description = "the household ETag")),
    request_body = RemoveMemberRequest,
    responses((status = 200, body = HouseholdView), (status = 404, body = crate::error::Problem),
        (status = 409, description = "the head", body = crate::error::Problem), (status = 412, body = crate::error::Problem)))]
pub async fn remove_member(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<RemoveMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let reason = service::removal_reason(&body.reason)?;
    let date_of_death = match &body.date_of_death {
        None | Some(Value::Null) => None,
        Some(_) if reason != crate::domain::codes::RemovalReason::Deceased => {
            return Err(ApiError::invalid_field(
                "date_of_death",
                "not_allowed",
                "a date of death is recorded only with the reason deceased",
            ));
        }
        Some(v) => members::date_of_death(v, None, today_in_pakistan())?,
    };
    let (household_id, member_id) = path.into_inner();
    let (key, ctx, scope) = (state.audit_key.clone(), user.audit_context(&req), scope_of(&user));
    let rules = state.rules.current();
    let view = db::run_write(&state.pool, move |conn| {
        let target = Target { ctx: &ctx, scope: &scope, household_id: &household_id, expected_version: expected };
        let view = members::remove_member(conn, &key, &target, &member_id, reason, date_of_death)?;
        store::after_change(conn, &rules.set, &household_id, today_in_pakistan())?;
        Ok(view)
    })
    .await?;
    Ok(household_response(&view))
}

/// A change of head.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeHeadRequest {
    /// The member who becomes head.
    #[schema(pattern = r"^[^\x00]*$")]
    pub member_id: String,
    /// The relation the previous head takes (e.g. `spouse`, `parent`; not `head`).
    #[schema(value_type = Relation)]
    pub previous_head_relation: String,
}

/// Makes another current member the head, in one step.
#[utoipa::path(post, path = "/api/v1/households/{id}/head", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), ("If-Match" = String, Header, description = "the household ETag")),
    request_body = ChangeHeadRequest,
    responses((status = 200, body = HouseholdView), (status = 404, body = crate::error::Problem),
        (status = 412, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn change_head(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ChangeHeadRequest>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let ChangeHeadRequest { member_id, previous_head_relation } = body.into_inner();
    let relation = Relation::parse(&previous_head_relation).ok_or_else(|| {
        ApiError::invalid_field(
            "previous_head_relation",
            "invalid_choice",
            &format!("must be one of: {}", Relation::allowed()),
        )
    })?;
    let (key, ctx, scope, household_id) =
        (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), id.into_inner());
    let rules = state.rules.current();
    let view = db::run_write(&state.pool, move |conn| {
        let target = Target { ctx: &ctx, scope: &scope, household_id: &household_id, expected_version: expected };
        let view = members::change_head(conn, &key, &target, &member_id, relation)?;
        store::after_change(conn, &rules.set, &household_id, today_in_pakistan())?;
        Ok(view)
    })
    .await?;
    Ok(household_response(&view))
}
