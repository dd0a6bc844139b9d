//! Referrals: a clerk refers a household to schemes; scheme offices move them along.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::households::{idempotency_key, respond};
use super::ok_json;
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::idempotency::{self, StoredResponse};
use crate::referrals::{self, Actor, Referral, ReferralWithLedger};
use crate::registry::warnings::today_in_pakistan;
use crate::startup::AppState;

/// What to refer the household to.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferRequest {
    /// Scheme ids; absent: every scheme the household is eligible for today.
    pub schemes: Option<Vec<String>>,
    /// Required to refer to a scheme the household is not eligible for (recorded, audited).
    pub override_reason: Option<String>,
}

/// The referrals made or found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralList {
    /// Referrals.
    pub items: Vec<Referral>,
}

/// A lifecycle step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `acknowledged`, `enrolled`, `rejected` (scheme administrator) or `withdrawn` (clerk).
    pub to: String,
    /// Required for `rejected` and `withdrawn`.
    pub reason: Option<String>,
}

/// The caller, owned, to move into a blocking database task.
struct Caller {
    key: crate::audit::AuditKey,
    ctx: crate::audit::AuditContext,
    role: crate::auth::Role,
    districts: Vec<String>,
    schemes: Vec<String>,
}

impl Caller {
    fn of(user: &AuthUser, req: &HttpRequest, state: &AppState) -> Caller {
        let p = &user.principal;
        Caller {
            key: state.audit_key.clone(),
            ctx: user.audit_context(req),
            role: p.role,
            districts: p.assignments.districts.clone(),
            schemes: p.assignments.schemes.clone(),
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor { key: &self.key, ctx: &self.ctx, role: self.role, districts: &self.districts, schemes: &self.schemes }
    }
}

/// Refers a household to every scheme it is eligible for today, or to the listed schemes (a
/// scheme it is not eligible for needs `override_reason`). One open referral per household
/// and scheme: a second is a 409 naming the open one.
#[utoipa::path(post, path = "/api/v1/households/{id}/referrals", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"),
        ("Idempotency-Key" = Option<String>, Header, description = "retry-safe key")),
    request_body = ReferRequest,
    responses(
        (status = 201, body = ReferralList),
        (status = 404, description = "missing or in another district", body = crate::error::Problem),
        (status = 409, description = "an open referral exists; named in the problem", body = crate::error::Problem),
        (status = 422, description = "unknown or not-eligible schemes, field by field", body = crate::error::Problem),
    ))]
pub async fn refer(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // An empty body means "every scheme the household is eligible for"; anything else must
    // be a valid request (a malformed body never falls back to the default).
    let body: ReferRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReferRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("malformed_json", crate::error::redact_values(&e.to_string())))?
    };
    let key = idempotency_key(&req)?;
    let hash = idempotency::fingerprint("POST", req.path(), &serde_json::to_value(&body).unwrap_or_default());
    let (id, user_id) = (id.into_inner(), user.principal.id.clone());
    let rules = state.rules.current();
    let caller = Caller::of(&user, &req, &state);
    let stored = db::run(&state.pool, move |conn| {
        idempotency::execute(conn, &user_id, key.as_deref(), &hash, |c| {
            let items = referrals::refer(
                c,
                &caller.actor(),
                &rules.set,
                &id,
                body.schemes.as_deref(),
                body.override_reason.as_deref(),
                today_in_pakistan(),
            )?;
            let body = serde_json::to_value(ReferralList { items }).map_err(anyhow::Error::from)?;
            Ok(StoredResponse::new(201, Vec::new(), body))
        })
    })
    .await?;
    Ok(respond(stored))
}

/// The household's referrals, newest first.
#[utoipa::path(get, path = "/api/v1/households/{id}/referrals", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id")),
    responses((status = 200, body = ReferralList), (status = 404, body = crate::error::Problem)))]
pub async fn household_referrals(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (id.into_inner(), Caller::of(&user, &req, &state));
    let items = db::run_write(&state.pool, move |conn| {
        referrals::of_household(conn, &caller.actor(), &id, today_in_pakistan())
    })
    .await?;
    Ok(ok_json(&ReferralList { items }))
}

/// One referral with its ledger (a clerk of its district, or an administrator of its scheme).
#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "referral id")),
    responses((status = 200, body = ReferralWithLedger), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn get_referral(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (id.into_inner(), Caller::of(&user, &req, &state));
    let referral =
        db::run_write(&state.pool, move |conn| referrals::get(conn, &caller.actor(), &id, today_in_pakistan())).await?;
    Ok(ok_json(&referral))
}

/// Moves a referral along its lifecycle. An illegal step is a 409 naming the allowed ones;
/// a scheme administrator acting on another scheme's referral gets 403.
#[utoipa::path(post, path = "/api/v1/referrals/{id}/transitions", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "referral id")),
    request_body = TransitionRequest,
    responses((status = 200, body = Referral), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn transition_referral(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<TransitionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, body, caller) = (id.into_inner(), body.into_inner(), Caller::of(&user, &req, &state));
    let referral = db::run_write(&state.pool, move |conn| {
        referrals::transition(conn, &caller.actor(), &id, &body.to, body.reason.as_deref(), today_in_pakistan())
    })
    .await?;
    Ok(ok_json(&referral))
}

/// The printable referral slip (HTML, English and Urdu): referral and household numbers,
/// scheme, office, documents to bring and the deadline. No names or ID numbers.
#[utoipa::path(get, path = "/api/v1/referrals/{id}/slip", tag = "referrals", security(("bearer" = [])),
    params(("id" = String, Path, description = "referral id")),
    responses((status = 200, description = "text/html slip", content_type = "text/html"),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn referral_slip(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (id.into_inner(), Caller::of(&user, &req, &state));
    let rules = state.rules.current();
    let page =
        db::run_write(&state.pool, move |conn| referrals::slip(conn, &caller.actor(), &rules.set, &id, today_in_pakistan()))
            .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"))
        .body(page))
}
