//! Referrals: a clerk refers a household to schemes; scheme offices move them along.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::households::{idempotency_key, respond};
use super::ok_json;
use crate::auth::{AuthUser, Role};
use crate::db::{self, ReadKind};
use crate::error::ApiError;
use crate::idempotency::{self, StoredResponse};
use crate::referrals::{self, Actor, Referral, ReferralWithLedger};
use crate::registry::warnings::today_in_pakistan;
use crate::startup::AppState;

/// What to refer the household to.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferRequest {
    /// Scheme ids, each once; absent: every scheme the household is eligible for today.
    #[schema(value_type = Option<Vec<super::contract::SchemeId>>)]
    pub schemes: Option<Vec<String>>,
    /// Required to refer to a scheme the household is not eligible for (recorded, audited);
    /// at most 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
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
    #[schema(value_type = super::contract::ReferralStep)]
    pub to: String,
    /// Required for `rejected` and `withdrawn` (something other than spaces); at most 500
    /// characters.
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
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
    request_body = Option<ReferRequest>,
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
    // An empty body means "every scheme the household is eligible for".
    let body: ReferRequest = super::optional_json(&body)?;
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
    let rules = state.rules.current();
    let referral = db::run_write(&state.pool, move |conn| {
        let today = today_in_pakistan();
        let referral = referrals::transition(conn, &caller.actor(), &id, &body.to, body.reason.as_deref(), today)?;
        if referral.status == "enrolled" {
            // Enrolments feed back into the rules (`enrolled("…")`), in the same transaction.
            crate::screening::store::after_enrolment(conn, &rules.set, &referral.household_id, today)?;
        }
        Ok(referral)
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
    let page = db::run_write(&state.pool, move |conn| {
        referrals::slip(conn, &caller.actor(), &rules.set, &id, today_in_pakistan())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .body(page))
}

/// Referral log filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// District code.
    #[param(pattern = "^[a-z][a-z0-9-]{1,39}$")]
    pub district: Option<String>,
    /// Scheme id.
    #[param(pattern = "^[a-z0-9][a-z0-9-]{1,63}$")]
    pub scheme: Option<String>,
    /// `referred`, `acknowledged`, `enrolled`, `rejected`, `withdrawn` or `expired`.
    #[param(pattern = "^(referred|acknowledged|enrolled|rejected|withdrawn|expired)$")]
    pub status: Option<String>,
    /// Referred on or after (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Referred on or before (`YYYY-MM-DD`).
    pub to: Option<String>,
    /// User name of the referring clerk.
    #[param(pattern = "^[a-z0-9][a-z0-9._-]{2,63}$")]
    pub clerk: Option<String>,
    /// Page size (default 50; more than 100 is capped at 100; the CSV export ignores it).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `true`: only referrals still waiting for acknowledgement on or after their deadline.
    pub overdue: Option<bool>,
}

/// Referrals past their deadline expired by one read of the log (a backlog clears over a few
/// reads; the ones left are still expired when read one by one).
const EXPIRE_PER_READ: i64 = 1000;

const STATUSES: [&str; 6] = ["referred", "acknowledged", "enrolled", "rejected", "withdrawn", "expired"];

fn log_filter(query: &LogQuery, user: &AuthUser) -> Result<referrals::LogFilter, ApiError> {
    let mut errors = Vec::new();
    let date = |field: &str, raw: &Option<String>, errors: &mut Vec<crate::error::FieldError>| {
        raw.as_deref().and_then(|r| match chrono::NaiveDate::parse_from_str(r, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(crate::error::FieldError::new(field, "invalid_date", "a date written YYYY-MM-DD"));
                None
            }
        })
    };
    let from = date("from", &query.from, &mut errors);
    let to = date("to", &query.to, &mut errors);
    if let Some(s) = &query.status
        && !STATUSES.contains(&s.as_str())
    {
        errors.push(crate::error::FieldError::new(
            "status",
            "invalid_choice",
            format!("one of: {}", STATUSES.join(", ")),
        ));
    }
    // Each filter has the format of what it names (as the OpenAPI document says).
    for (field, value) in [("district", &query.district), ("scheme", &query.scheme), ("clerk", &query.clerk)] {
        let valid = |v: &str| match field {
            "district" => crate::registry::districts::check_code(v),
            "scheme" => crate::auth::service::check_scheme_id(v),
            _ => crate::auth::service::check_username(v).is_ok(),
        };
        if value.as_deref().is_some_and(|v| !valid(v)) {
            errors.push(crate::error::FieldError::new(field, "invalid_format", "not a valid code for this filter"));
        }
    }
    super::field_errors(errors)?;
    let districts = &user.principal.assignments.districts;
    // A scheme administrator sees the referrals of their own schemes only.
    let schemes = (user.principal.role == Role::SchemeAdmin).then(|| user.principal.assignments.schemes.clone());
    Ok(referrals::LogFilter {
        district: query.district.clone(),
        scheme: query.scheme.clone(),
        status: query.status.clone(),
        from,
        to,
        clerk: query.clerk.clone(),
        districts: (!districts.is_empty()).then(|| districts.clone()),
        schemes,
        overdue_on: (query.overdue == Some(true)).then(today_in_pakistan),
    })
}

fn audit_log_access(
    state: &AppState,
    user: &AuthUser,
    req: &HttpRequest,
    action: &str,
    query: &LogQuery,
) -> (crate::audit::AuditKey, crate::audit::AuditContext, crate::audit::Event) {
    let details = serde_json::json!({
        "district": query.district, "scheme": query.scheme, "status": query.status,
        "from": query.from, "to": query.to, "clerk": query.clerk, "overdue": query.overdue,
    });
    (state.audit_key.clone(), user.audit_context(req), crate::audit::Event::new(action).details(details))
}

/// The referral log: household numbers, never names or ID numbers; keyset pagination in the
/// order referrals were made (oldest first). An auditor assigned to districts sees only those;
/// a scheme administrator sees only their schemes' referrals (their inbox, with `overdue`).
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", security(("bearer" = [])),
    params(LogQuery),
    responses((status = 200, body = super::Page<referrals::LogEntry>), (status = 422, body = crate::error::Problem)))]
pub async fn referral_log(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = log_filter(&query, &user)?;
    let limit = super::page_limit(query.limit)?;
    let (key, ctx, event) = audit_log_access(&state, &user, &req, "referral_log_read", &query);
    let cursor = query.cursor.clone();
    let caller = Caller::of(&user, &req, &state);
    let expired = db::run_write(&state.pool, move |conn| {
        crate::audit::record(conn, &key, &ctx, &event)?;
        referrals::expire_due(conn, &caller.actor(), today_in_pakistan(), EXPIRE_PER_READ)
    })
    .await?;
    if expired > 0 {
        // The page must show the referrals that just expired: read it from the primary.
        db::replica::wrote_here(&req);
    }
    let items = db::read(&state, &req, ReadKind::Audit, move |conn| {
        Ok(referrals::log_page(conn, &filter, cursor.as_deref(), limit)?)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|e| e.id.clone())).flatten();
    Ok(ok_json(&super::Page { items, next_cursor }))
}

/// A stream fed by a blocking producer through a bounded channel.
struct ChannelStream(tokio::sync::mpsc::Receiver<Result<web::Bytes, ApiError>>);

impl futures_core::Stream for ChannelStream {
    type Item = Result<web::Bytes, ApiError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// The filtered referral log as CSV, streamed in pages of 1,000 rows (constant memory for
/// any size). The export is audited with its filters.
#[utoipa::path(get, path = "/api/v1/referrals/export.csv", tag = "referrals", security(("bearer" = [])),
    params(LogQuery),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 422, body = crate::error::Problem)))]
pub async fn export_referrals(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = log_filter(&query, &user)?;
    // The export streams every matching row, but a page size it is given must still be sane.
    super::page_limit(query.limit)?;
    let (key, ctx, event) = audit_log_access(&state, &user, &req, "referral_export", &query);
    let caller = Caller::of(&user, &req, &state);
    let expired = db::run_write(&state.pool, move |conn| {
        crate::audit::record(conn, &key, &ctx, &event)?;
        referrals::expire_due(conn, &caller.actor(), today_in_pakistan(), EXPIRE_PER_READ)
    })
    .await?;
    if expired > 0 {
        db::replica::wrote_here(&req);
    }
    // On the replica when it may serve the audit log; a page that fails there is read again
    // from the primary, from the same cursor, so a replica that dies mid-export costs nothing.
    let (mut conn, mut by) = db::replica::export_connection(&state, &req, ReadKind::Audit).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let state = state.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let mut cursor: Option<String> = None;
        let mut header = true;
        loop {
            let mut read = referrals::log_page(&mut conn, &filter, cursor.as_deref(), 1000);
            if read.is_err() && by == db::replica::Served::Replica {
                match db::replica::primary_connection(&state) {
                    Ok(primary) => {
                        (conn, by) = (primary, db::replica::Served::Primary);
                        read = referrals::log_page(&mut conn, &filter, cursor.as_deref(), 1000);
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            let page = match read {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.blocking_send(Err(ApiError::from(e)));
                    return;
                }
            };
            let mut out = csv::WriterBuilder::new().has_headers(header).from_writer(Vec::new());
            header = false;
            for entry in &page {
                let mut row = entry.clone();
                row.override_reason = row.override_reason.map(|r| crate::domain::spreadsheet_safe(&r));
                if out.serialize(&row).is_err() {
                    return;
                }
            }
            let bytes = out.into_inner().unwrap_or_default();
            if !bytes.is_empty() && tx.blocking_send(Ok(web::Bytes::from(bytes))).is_err() {
                return; // the client went away
            }
            match page.last() {
                Some(last) if page.len() == 1000 => cursor = Some(last.id.clone()),
                _ => return,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-disposition", "attachment; filename=\"referrals.csv\""))
        .streaming(ChannelStream(rx)))
}
