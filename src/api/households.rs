//! Households: register, read, update, search and history (clerks, in their districts).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::{Page, etag, if_match_version, no_store, page_limit};
use crate::auth::AuthUser;
use crate::db::{self, ReadKind};
use crate::domain::names::prefix_range;
use crate::domain::{NationalId, search_key};
use crate::error::{ApiError, FieldError};
use crate::idempotency::{self, StoredResponse};
use crate::registry::districts;
use crate::registry::parse::parse_new_household;
use crate::registry::repo::{Scope, SearchFilter};
use crate::registry::service::{self, HistoryEntry, HouseholdSummary, HouseholdView, HouseholdWithWarnings};
use crate::registry::warnings::today_in_pakistan;
use crate::screening::store;
use crate::startup::AppState;

/// The district scope of the caller: a clerk's assigned districts.
pub fn scope_of(user: &AuthUser) -> Scope {
    Scope::Districts(user.principal.assignments.districts.clone())
}

/// The `Idempotency-Key` header, checked.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let key = v
                .to_str()
                .map_err(|_| ApiError::bad_request("malformed_idempotency_key", "Idempotency-Key must be ASCII"))?;
            idempotency::check_key(key)?;
            Ok(Some(key.to_string()))
        }
    }
}

/// Turns a stored (or replayed) response into an HTTP response.
pub fn respond(stored: StoredResponse) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(stored.status).unwrap_or(actix_web::http::StatusCode::OK);
    let mut builder = no_store(HttpResponse::build(status));
    for (name, value) in &stored.headers {
        builder.insert_header((name.as_str(), value.as_str()));
    }
    if stored.replayed {
        builder.insert_header(("idempotent-replayed", "true"));
    }
    builder.json(stored.body)
}

/// A household (with warnings) as a stored 201 response with `Location` and `ETag`.
pub fn created(result: &HouseholdWithWarnings) -> StoredResponse {
    let h = &result.household;
    StoredResponse::new(
        201,
        vec![("location".into(), format!("/api/v1/households/{}", h.id)), ("etag".into(), etag(h.version))],
        serde_json::to_value(result).unwrap_or(Value::Null),
    )
}

/// The 422 for a registration body that did not parse: its field errors with the district's
/// own check added (unknown, or not one of `scope`'s), so one answer names every bad field.
pub async fn refused(state: &AppState, scope: Scope, body: Value, mut errors: Vec<FieldError>) -> ApiError {
    let checked = db::run(&state.pool, move |conn| {
        districts::add_household_errors(conn, &scope, &mut [(&body, &mut errors)])?;
        Ok(errors)
    })
    .await;
    checked.map_or_else(|e| e, ApiError::Validation)
}

/// Registers a household with its members.
#[utoipa::path(post, path = "/api/v1/households", tag = "households", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry-safe key")),
    request_body(content = super::contract::HouseholdRegistration, description = "a household with its `members`"),
    responses(
        (status = 201, body = HouseholdWithWarnings),
        (status = 409, description = "an ID number is already registered; names the household", body = crate::error::Problem),
        (status = 422, description = "field errors (members by index)", body = crate::error::Problem),
    ))]
pub async fn create_household(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let key = idempotency_key(&req)?;
    let hash = idempotency::fingerprint("POST", req.path(), &body);
    let input = match parse_new_household(&body, today_in_pakistan()) {
        Ok(input) => input,
        Err(errors) => return Err(refused(&state, scope_of(&user), body, errors).await),
    };
    let (audit_key, ctx, scope, user_id) =
        (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), user.principal.id.clone());
    let rules = state.rules.current();
    let stored = db::run(&state.pool, move |conn| {
        let result = idempotency::execute(conn, &user_id, key.as_deref(), &hash, |c| {
            let today = today_in_pakistan();
            let r = service::register(c, &audit_key, &ctx, &scope, &input, None, today)?;
            store::after_register(c, &rules.set, &r.row, &r.members, today)?;
            Ok(created(&r.answer))
        });
        result.map_err(|e| service::name_duplicate(conn, &input, e))
    })
    .await?;
    Ok(respond(stored))
}

/// One household with its current members. The read is audited.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id")),
    responses((status = 200, body = HouseholdView), (status = 404, description = "missing or in another district", body = crate::error::Problem)))]
pub async fn get_household(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (ctx, scope, id) = (user.audit_context(&req), scope_of(&user), id.into_inner());
    let household =
        db::read_audited(&state, &req, ReadKind::Search, ctx, move |conn| service::get(conn, &scope, &id)).await?;
    Ok(no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(household.version))).json(household))
}

/// Changes household attributes (a JSON merge patch: `null` makes a value unknown).
#[utoipa::path(patch, path = "/api/v1/households/{id}", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), ("If-Match" = String, Header, description = "the ETag read")),
    request_body(description = "household fields to change (JSON merge patch)", content(
        (super::contract::HouseholdPatch = "application/merge-patch+json"),
        (super::contract::HouseholdPatch = "application/json"))),
    responses(
        (status = 200, body = HouseholdView),
        (status = 404, body = crate::error::Problem),
        (status = 412, description = "changed since read", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
        (status = 428, description = "If-Match missing", body = crate::error::Problem),
    ))]
pub async fn update_household(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match_version(req.headers())?;
    let (key, ctx, scope, id, patch) =
        (state.audit_key.clone(), user.audit_context(&req), scope_of(&user), id.into_inner(), body.into_inner());
    let rules = state.rules.current();
    let household = db::run_write(&state.pool, move |conn| {
        let household = service::update(conn, &key, &ctx, &scope, &id, expected, &patch)?;
        store::after_change(conn, &rules.set, &id, today_in_pakistan())?;
        Ok(household)
    })
    .await?;
    Ok(no_store(HttpResponse::Ok()).insert_header((header::ETAG, etag(household.version))).json(household))
}

/// Search parameters; at least the scope (your districts) always applies.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A member's CNIC or B-Form number (dashes optional).
    #[param(pattern = r"^([1-7][0-9]{4}-[0-9]{7}-[0-9]|[1-7][0-9]{12})$")]
    pub id_number: Option<String>,
    /// The household number, e.g. `PESHAWAR-000123`.
    pub household_number: Option<String>,
    /// The start of a member's name, of record or in Urdu script (case and diacritics ignored):
    /// at least two letters.
    #[param(
        pattern = r"^[^\x00]*[0-9A-Za-z\u00c0-\u024f\u0620-\u064a][^\x00]*[0-9A-Za-z\u00c0-\u024f\u0620-\u064a][^\x00]*$"
    )]
    pub name: Option<String>,
    /// A district code.
    pub district: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Finds households in your districts by ID number, household number, name or district.
#[utoipa::path(get, path = "/api/v1/households", tag = "households", security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, body = Page<HouseholdSummary>), (status = 422, body = crate::error::Problem)))]
pub async fn list_households(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let mut errors = Vec::new();
    let mut used = Vec::new();
    let mut filter = SearchFilter::default();
    if let Some(raw) = &q.id_number {
        used.push("id_number");
        match NationalId::parse(raw) {
            Ok(id) => filter.id_number = Some(id.as_str().to_string()),
            Err(m) => errors.push(FieldError::new("id_number", "invalid_format", m)),
        }
    }
    if let Some(number) = &q.household_number {
        used.push("household_number");
        filter.household_number = Some(number.trim().to_uppercase());
    }
    if let Some(name) = &q.name {
        used.push("name");
        let key = search_key(name);
        match prefix_range(&key) {
            Some(range) if key.chars().count() >= 2 => filter.name_range = Some(range),
            _ => errors.push(FieldError::new("name", "too_short", "give at least two letters of the name")),
        }
    }
    if let Some(district) = &q.district {
        used.push("district");
        filter.district = Some(district.trim().to_string());
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (ctx, scope, cursor) = (user.audit_context(&req), scope_of(&user), q.cursor);
    let items = db::read_audited(&state, &req, ReadKind::Search, ctx, move |conn| {
        service::search(conn, &scope, &filter, &used, cursor.as_deref(), limit)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|h| h.id.clone())).flatten();
    Ok(no_store(HttpResponse::Ok()).json(Page { items, next_cursor }))
}

/// How a household evolved: every change with the previous values, oldest first.
#[utoipa::path(get, path = "/api/v1/households/{id}/history", tag = "households", security(("bearer" = [])),
    params(("id" = String, Path, description = "household id"), super::PageQuery),
    responses((status = 200, body = Page<HistoryEntry>), (status = 404, body = crate::error::Problem)))]
pub async fn household_history(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<super::PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let (ctx, scope, id, cursor) = (user.audit_context(&req), scope_of(&user), id.into_inner(), query.cursor.clone());
    let items = db::read_audited(&state, &req, ReadKind::Search, ctx, move |conn| {
        service::history(conn, &scope, &id, cursor.as_deref(), limit)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|e| e.id.clone())).flatten();
    Ok(no_store(HttpResponse::Ok()).json(Page { items, next_cursor }))
}
