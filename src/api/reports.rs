//! Coverage, gaps and the referral funnel, as JSON or CSV. Counts only, small cells
//! suppressed (`crate::reports`). Clerks see their districts; auditors all districts, or
//! their assigned ones; scheme administrators their schemes, in every district; admins
//! everything. Every read and every export is audited with its parameters.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::ok_json;
use super::schemes::parse_as_of;
use crate::audit::{self, Event};
use crate::auth::{AuthUser, Role};
use crate::db;
use crate::error::{ApiError, FieldError};
use crate::registry::warnings::today_in_pakistan;
use crate::reports::{self, Params, ReportKind};
use crate::startup::AppState;

/// Longest funnel range, in days.
const MAX_RANGE_DAYS: i64 = 3_660;

/// Coverage parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CoverageQuery {
    /// The date described (default today): registrations and referral statuses at the end of
    /// that day, ages on it. `YYYY-MM-DD`.
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// One district (default: every district the caller may see).
    #[param(pattern = r"^[a-z][a-z0-9_]{1,39}$")]
    pub district: Option<String>,
    /// Break down one scheme by district, sex and age (default: each guarantee).
    pub scheme: Option<String>,
}

/// Gaps parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GapsQuery {
    /// The date described (default today), `YYYY-MM-DD`.
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// One district (default: every district the caller may see).
    #[param(pattern = r"^[a-z][a-z0-9_]{1,39}$")]
    pub district: Option<String>,
    /// An eligible household counts as not referred after this many days (1–3650, default 30).
    #[param(minimum = 1, maximum = 3650)]
    pub days: Option<i64>,
}

/// Funnel parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    /// First day referrals were made, `YYYY-MM-DD` (default: 89 days before `to`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default today); statuses are those at its end.
    #[param(format = Date)]
    pub to: Option<String>,
    /// One district (default: every district the caller may see).
    #[param(pattern = r"^[a-z][a-z0-9_]{1,39}$")]
    pub district: Option<String>,
    /// One scheme: its funnel by district (default: all schemes together).
    pub scheme: Option<String>,
}

/// What any of the three asks, before it is checked.
#[derive(Debug, Default)]
struct Asked {
    as_of: Option<String>,
    from: Option<String>,
    district: Option<String>,
    scheme: Option<String>,
    days: Option<i64>,
}

fn parse_date(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match parse_as_of(Some(raw)) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(field, "invalid_date", format!("{field} must be a date written YYYY-MM-DD")));
            None
        }
    }
}

/// The parameters with the caller's scope applied: every mistake at once as a 422, a
/// district or scheme outside the caller's assignments as a 403.
fn params_for(
    kind: ReportKind,
    asked: &Asked,
    district_known: bool,
    user: &AuthUser,
    state: &AppState,
) -> Result<Params, ApiError> {
    let mut errors = Vec::new();
    let today = today_in_pakistan();
    let as_of = asked
        .as_of
        .as_deref()
        .and_then(|raw| parse_date(if kind == ReportKind::Funnel { "to" } else { "as_of" }, raw, &mut errors));
    let as_of = as_of.unwrap_or(today);
    let from = match asked.from.as_deref() {
        Some(raw) => parse_date("from", raw, &mut errors),
        None => Some(as_of - TimeDelta::days(89)),
    };
    if let Some(from) = from {
        if from > as_of {
            errors.push(FieldError::new("from", "out_of_range", "from must not be after to"));
        } else if (as_of - from).num_days() > MAX_RANGE_DAYS {
            errors.push(FieldError::new("from", "out_of_range", format!("the range is at most {MAX_RANGE_DAYS} days")));
        }
    }
    let days = asked.days.unwrap_or(30);
    if !(1..=3650).contains(&days) {
        errors.push(FieldError::new("days", "out_of_range", "days must be from 1 to 3650"));
    }
    let rules = state.rules.current();
    if let Some(s) = &asked.scheme
        && rules.set.scheme(s).is_none()
    {
        errors.push(FieldError::new("scheme", "unknown_scheme", "no scheme with this id in the rules in force"));
    }
    if !district_known {
        errors.push(FieldError::new("district", "unknown_district", "no district with this code"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let a = &user.principal.assignments;
    // Districts: clerks and district-bound auditors only theirs.
    let allowed: Option<Vec<String>> = match user.principal.role {
        Role::Clerk => Some(a.districts.clone()),
        Role::Auditor if !a.districts.is_empty() => Some(a.districts.clone()),
        _ => None,
    };
    let districts = match (&asked.district, allowed) {
        (Some(d), Some(list)) if !list.contains(d) => return Err(ApiError::Forbidden),
        (Some(d), _) => Some(vec![d.clone()]),
        (None, list) => list,
    };
    // Schemes: scheme administrators only theirs.
    let schemes = (user.principal.role == Role::SchemeAdmin).then(|| a.schemes.clone());
    if let (Some(s), Some(list)) = (&asked.scheme, &schemes)
        && !list.contains(s)
    {
        return Err(ApiError::Forbidden);
    }
    Ok(Params { as_of, from: from.unwrap_or(as_of), districts, schemes, scheme: asked.scheme.clone(), days })
}

async fn respond(
    kind: ReportKind,
    csv: bool,
    asked: Asked,
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let district_known = match asked.district.clone() {
        Some(code) if crate::registry::districts::check_code(&code) => {
            db::run(&state.pool, move |conn| Ok(crate::registry::districts::find(conn, &code)?.is_some())).await?
        }
        Some(_) => false,
        None => true,
    };
    let params = params_for(kind, &asked, district_known, &user, &state)?;
    let (key, ctx) = (state.audit_key.clone(), user.audit_context(&req));
    let event = Event::new(if csv { "report_export" } else { "report_read" }).details(json!({
        "report": kind.name(), "as_of": params.as_of, "from": (kind == ReportKind::Funnel).then_some(params.from),
        "districts": params.districts, "schemes": params.schemes, "scheme": params.scheme,
        "days": (kind == ReportKind::Gaps).then_some(params.days),
    }));
    db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    let rules = state.rules.current();
    let report =
        db::read(&state, &req, db::ReadKind::Reports, move |conn| Ok(reports::build(conn, &rules.set, kind, &params)?))
            .await?;
    if !csv {
        return Ok(ok_json(&report));
    }
    let name = format!("{}-{}.csv", kind.name(), report.as_of);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-disposition", format!("attachment; filename=\"{name}\"")))
        .body(reports::to_csv(&report)))
}

fn coverage_asked(q: CoverageQuery) -> Asked {
    Asked { as_of: q.as_of, district: q.district, scheme: q.scheme, ..Asked::default() }
}

fn gaps_asked(q: GapsQuery) -> Asked {
    Asked { as_of: q.as_of, district: q.district, days: q.days, ..Asked::default() }
}

fn funnel_asked(q: FunnelQuery) -> Asked {
    Asked { as_of: q.to, from: q.from, district: q.district, scheme: q.scheme, ..Asked::default() }
}

/// Coverage of the registered population by guarantee and scheme: households and people
/// eligible, undetermined, referred and enrolled; by district, by sex and age band; the
/// SDG 1.3.1 groups. Counts only, cells of 1–4 suppressed (`null`).
#[utoipa::path(get, path = "/api/v1/reports/coverage", tag = "reports", security(("bearer" = [])),
    params(CoverageQuery),
    responses((status = 200, body = crate::reports::Report),
        (status = 403, description = "a district or scheme outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn coverage(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CoverageQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Coverage, false, coverage_asked(query.into_inner()), req, user, state).await
}

/// The coverage report as CSV (UTF-8 with BOM; one line per cell; audited as an export).
#[utoipa::path(get, path = "/api/v1/reports/coverage.csv", tag = "reports", security(("bearer" = [])),
    params(CoverageQuery),
    responses((status = 200, description = "text/csv", content_type = "text/csv"),
        (status = 403, description = "a district or scheme outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn coverage_csv(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CoverageQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Coverage, true, coverage_asked(query.into_inner()), req, user, state).await
}

/// Gaps: households eligible for nothing; households with a member a guarantee is for and
/// nobody covered under it; eligible households not referred after `days`; the missing
/// fields whose collection would settle the most undetermined decisions.
#[utoipa::path(get, path = "/api/v1/reports/gaps", tag = "reports", security(("bearer" = [])),
    params(GapsQuery),
    responses((status = 200, body = crate::reports::Report),
        (status = 403, description = "a district outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn gaps(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<GapsQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Gaps, false, gaps_asked(query.into_inner()), req, user, state).await
}

/// The gaps report as CSV.
#[utoipa::path(get, path = "/api/v1/reports/gaps.csv", tag = "reports", security(("bearer" = [])),
    params(GapsQuery),
    responses((status = 200, description = "text/csv", content_type = "text/csv"),
        (status = 403, description = "a district outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn gaps_csv(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<GapsQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Gaps, true, gaps_asked(query.into_inner()), req, user, state).await
}

/// The referral funnel per scheme and district: referred → acknowledged → enrolled, rejected,
/// withdrawn or expired, with the time to acknowledgement (median, 90th percentile, days) and
/// the share expired, for referrals made from `from` to `to`.
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", security(("bearer" = [])),
    params(FunnelQuery),
    responses((status = 200, body = crate::reports::Report),
        (status = 403, description = "a district or scheme outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn funnel(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<FunnelQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Funnel, false, funnel_asked(query.into_inner()), req, user, state).await
}

/// The funnel report as CSV.
#[utoipa::path(get, path = "/api/v1/reports/funnel.csv", tag = "reports", security(("bearer" = [])),
    params(FunnelQuery),
    responses((status = 200, description = "text/csv", content_type = "text/csv"),
        (status = 403, description = "a district or scheme outside the caller's assignments", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn funnel_csv(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<FunnelQuery>,
) -> Result<HttpResponse, ApiError> {
    respond(ReportKind::Funnel, true, funnel_asked(query.into_inner()), req, user, state).await
}
