//! The audit trail for auditors: filtered listing and chain verification. Both are
//! themselves audited.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Page, no_store, page_limit};
use crate::audit::{self, AuditEventView, AuditFilter, Event, VerifyReport, repo};
use crate::auth::AuthUser;
use crate::db::{self, ReadKind};
use crate::error::{ApiError, FieldError};
use crate::startup::AppState;

/// Filters for the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action, e.g. `login`.
    pub action: Option<String>,
    /// Only events by this user id.
    pub actor: Option<String>,
    /// Only events on this kind of object, e.g. `user`.
    pub object_type: Option<String>,
    /// Only events on this object id.
    pub object_id: Option<String>,
    /// From this date (inclusive, UTC, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Up to this date (inclusive, UTC, `YYYY-MM-DD`).
    pub to: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

fn parse_day(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = value?;
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
    if parsed.is_none() {
        errors.push(FieldError::new(field, "invalid_date", "use a date such as 2026-01-31"));
    }
    parsed
}

fn filter_from(query: &AuditQuery, user: &AuthUser) -> Result<AuditFilter, ApiError> {
    let mut errors = Vec::new();
    let from = parse_day("from", query.from.as_deref(), &mut errors);
    let to = parse_day("to", query.to.as_deref(), &mut errors);
    let before_id = match query.cursor.as_deref() {
        Some(id) if uuid::Uuid::parse_str(id).is_ok() => Some(id.to_string()),
        Some(_) => {
            errors.push(FieldError::new("cursor", "invalid_cursor", "pass the next_cursor of the previous page"));
            None
        }
        None => None,
    };
    super::field_errors(errors)?;
    let midnight = |d: NaiveDate| -> Option<NaiveDateTime> { d.and_hms_opt(0, 0, 0) };
    let districts = &user.principal.assignments.districts;
    Ok(AuditFilter {
        action: query.action.clone(),
        actor_user_id: query.actor.clone(),
        object_type: query.object_type.clone(),
        object_id: query.object_id.clone(),
        from: from.and_then(midnight),
        to: to.and_then(|d| d.succ_opt()).and_then(midnight),
        districts: (!districts.is_empty()).then(|| districts.clone()),
        before_id,
    })
}

/// Lists audit events, newest first. An auditor assigned to districts sees only events of
/// those districts.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEventView>), (status = 403, body = crate::error::Problem)))]
pub async fn list_audit_events(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let filter = filter_from(&query, &user)?;
    let ctx = user.audit_context(&req);
    let filters_used: Vec<&str> = [
        ("action", query.action.is_some()),
        ("actor", query.actor.is_some()),
        ("object_type", query.object_type.is_some()),
        ("object_id", query.object_id.is_some()),
        ("from", query.from.is_some()),
        ("to", query.to.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, used)| used.then_some(name))
    .collect();
    let event = Event::new("audit_query").details(serde_json::json!({ "filters": filters_used }));
    let rows = db::read_after_audit(&state, &req, ReadKind::Audit, ctx, event, move |conn| {
        Ok(repo::list(conn, &filter, limit)?)
    })
    .await?;
    let next_cursor = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.id.clone())).flatten();
    let items = rows.into_iter().map(AuditEventView::from).collect();
    Ok(no_store(HttpResponse::Ok()).json(Page { items, next_cursor }))
}

/// Walks the whole hash chain and reports the first broken link, or the count.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 403, body = crate::error::Problem)))]
pub async fn verify_audit_chain(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = state.audit_key.clone();
    let report = db::read(&state, &req, ReadKind::Audit, move |conn| Ok(audit::verify_chain(conn, &key)?)).await?;
    let (key, ctx) = (state.audit_key.clone(), user.audit_context(&req));
    let event = Event::new("audit_verify")
        .details(serde_json::json!({ "ok": report.ok, "count": report.count, "chains": report.chains }));
    db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    Ok(no_store(HttpResponse::Ok()).json(report))
}
