//! The scheme catalogue, pre-screening, and the loaded rule set (read and reload).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{Page, ok_json, page_limit};
use crate::audit::{self, AuditContext, Event};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, FieldError};
use crate::registry::districts;
use crate::registry::parse::parse_new_household;
use crate::registry::warnings::today_in_pakistan;
use crate::rules::dict::Facts;
use crate::rules::{Diagnostic, Guarantee, RuleSet, Scheme, Text, num};
use crate::screening::{self, LoadedRules, MemberNames, Screening};
use crate::startup::AppState;

/// `as_of` (default: today in Asia/Karachi).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// Evaluation date, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub as_of: Option<String>,
}

/// Catalogue query: date and page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CatalogueQuery {
    /// Date at which parameters are shown and activity is judged, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Parses `as_of`, defaulting to today in Pakistan.
pub fn parse_as_of(raw: Option<&str>) -> Result<NaiveDate, ApiError> {
    let Some(raw) = raw else { return Ok(today_in_pakistan()) };
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2200).contains(&chrono::Datelike::year(d)) && raw.len() == 10)
        .ok_or_else(|| ApiError::invalid_field("as_of", "invalid_date", "as_of must be a date written YYYY-MM-DD"))
}

/// A criterion as published.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionView {
    /// Id.
    pub id: String,
    /// Label.
    pub label: Text,
    /// The rule as written in the file.
    pub rule: String,
}

/// A parameter's value in force at the requested date.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParameterView {
    /// Name used in rules.
    pub name: String,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Value in force (`null` before the first effective date).
    #[schema(value_type = Option<f64>)]
    pub value: Option<serde_json::Number>,
    /// Since when.
    pub effective_from: Option<NaiveDate>,
}

/// A scheme in the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemeView {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Department.
    pub department: String,
    /// Social protection floor guarantee.
    pub guarantee: Guarantee,
    /// Benefit.
    pub benefit: Text,
    /// Documents to bring.
    pub documents: Vec<Text>,
    /// Where to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office: Option<Text>,
    /// Where the criteria are published.
    pub source: String,
    /// Values not confirmed against the source.
    pub illustrative: bool,
    /// Validity window start.
    pub valid_from: NaiveDate,
    /// Validity window end (inclusive).
    pub valid_until: Option<NaiveDate>,
    /// Whether the scheme runs at the requested date.
    pub active: bool,
    /// Days a scheme office has to acknowledge a referral.
    pub acknowledge_within_days: u32,
    /// Criteria, all of which must hold.
    pub criteria: Vec<CriterionView>,
    /// Parameters in force at the requested date.
    pub parameters: Vec<ParameterView>,
    /// Conditions decided outside the office.
    pub subject_to: Vec<Text>,
}

fn scheme_view(s: &Scheme, as_of: NaiveDate) -> SchemeView {
    SchemeView {
        id: s.id.clone(),
        name: s.name.clone(),
        department: s.department.clone(),
        guarantee: s.guarantee,
        benefit: s.benefit.clone(),
        documents: s.documents.clone(),
        office: s.office.clone(),
        source: s.source.clone(),
        illustrative: s.illustrative,
        valid_from: s.valid_from,
        valid_until: s.valid_until,
        active: s.active_on(as_of),
        acknowledge_within_days: s.acknowledge_within_days,
        criteria: s
            .criteria
            .iter()
            .map(|c| CriterionView { id: c.id.clone(), label: c.label.clone(), rule: c.rule.trim().to_string() })
            .collect(),
        parameters: s
            .parameters
            .iter()
            .map(|p| {
                let current = p.values.iter().rev().find(|(from, _)| *from <= as_of);
                ParameterView {
                    name: p.name.clone(),
                    label: p.label.clone(),
                    unit: p.unit.clone(),
                    value: current.and_then(|(_, v)| num::display(*v).parse().ok()),
                    effective_from: current.map(|(from, _)| *from),
                }
            })
            .collect(),
        subject_to: s.subject_to.clone(),
    }
}

/// The scheme catalogue, in id order, with parameters in force at `as_of`.
#[utoipa::path(get, path = "/api/v1/schemes", tag = "schemes", security(("bearer" = [])),
    params(CatalogueQuery),
    responses((status = 200, body = Page<SchemeView>), (status = 422, body = crate::error::Problem)))]
pub async fn list_schemes(
    state: web::Data<AppState>,
    query: web::Query<CatalogueQuery>,
) -> Result<HttpResponse, ApiError> {
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let limit = page_limit(query.limit)? as usize;
    let rules = state.rules.current();
    let after = query.cursor.as_deref().unwrap_or("");
    let mut items: Vec<SchemeView> = rules
        .set
        .schemes
        .iter()
        .filter(|s| s.id.as_str() > after)
        .take(limit + 1)
        .map(|s| scheme_view(s, as_of))
        .collect();
    let next_cursor = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|s| s.id.clone()).unwrap_or_default()
    });
    Ok(ok_json(&Page { items, next_cursor }))
}

/// One scheme of the catalogue.
#[utoipa::path(get, path = "/api/v1/schemes/{id}", tag = "schemes", security(("bearer" = [])),
    params(("id" = String, Path, description = "scheme id"), AsOfQuery),
    responses((status = 200, body = SchemeView), (status = 404, body = crate::error::Problem)))]
pub async fn get_scheme(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let rules = state.rules.current();
    let scheme = rules.set.scheme(&id).ok_or(ApiError::NotFound)?;
    Ok(ok_json(&scheme_view(scheme, as_of)))
}

/// Pre-screening: a household in the registration format is screened against every active
/// scheme. Nothing is stored but an audit record of who asked (no personal data in it).
#[utoipa::path(post, path = "/api/v1/screenings", tag = "schemes", security(("bearer" = [])),
    params(AsOfQuery),
    request_body(content = super::contract::HouseholdRegistration, description = "a household as for registration, with its `members`"),
    responses(
        (status = 200, body = Screening),
        (status = 422, description = "field errors, as for registration", body = crate::error::Problem),
    ))]
pub async fn pre_screen(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<AsOfQuery>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let body = body.into_inner();
    let input = match parse_new_household(&body, today_in_pakistan()) {
        Ok(input) => input,
        // Any district may be pre-screened: only an unknown one is a field error.
        Err(errors) => {
            return Err(super::households::refused(&state, crate::registry::repo::Scope::All, body, errors).await);
        }
    };
    let rules = state.rules.current();
    let mut facts = Facts::default();
    facts.fill_from_registry(&input.district, &input.fields, &input.members);
    let result = screening::screen(&rules.set, as_of, &mut facts, None, MemberNames::Positions);
    let event = Event::new("screening_preview").district(input.district.clone()).details(json!({
        "as_of": as_of,
        "rules_version": result.rules_version,
        "members": input.members.len(),
        "eligible": result.summary.eligible,
        "undetermined": result.summary.undetermined,
    }));
    let (key, ctx, district) = (state.audit_key.clone(), user.audit_context(&req), input.district);
    db::run_write(&state.pool, move |conn| {
        if !districts::unknown_codes(conn, std::slice::from_ref(&district))?.is_empty() {
            return Err(ApiError::invalid_field(
                "district",
                "unknown_district",
                "district is not an active district code",
            ));
        }
        Ok(audit::record(conn, &key, &ctx, &event)?)
    })
    .await?;
    Ok(ok_json(&result))
}

/// The loaded rule set.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesInfo {
    /// Content hash of the rule files; every decision records it.
    pub version: String,
    /// When the set was loaded.
    pub loaded_at: DateTime<Utc>,
    /// Schemes.
    pub schemes: usize,
    /// Criteria over all schemes.
    pub criteria: usize,
    /// Example households over all schemes.
    pub examples: usize,
}

fn info(loaded: &LoadedRules) -> RulesInfo {
    let set: &RuleSet = &loaded.set;
    RulesInfo {
        version: set.version.clone(),
        loaded_at: loaded.loaded_at,
        schemes: set.schemes.len(),
        criteria: set.criterion_count(),
        examples: set.schemes.iter().map(|s| s.examples.len()).sum(),
    }
}

/// The rule set in force.
#[utoipa::path(get, path = "/api/v1/rules", tag = "schemes", security(("bearer" = [])),
    responses((status = 200, body = RulesInfo)))]
pub async fn rules_info(state: web::Data<AppState>) -> HttpResponse {
    ok_json(&info(&state.rules.current()))
}

/// Diagnostics as field errors: `field` is `file:line:column`.
pub fn diagnostics_problem(diagnostics: &[Diagnostic]) -> ApiError {
    ApiError::Validation(
        diagnostics
            .iter()
            .map(|d| {
                let name =
                    std::path::Path::new(&d.file).file_name().map_or(d.file.clone(), |n| n.to_string_lossy().into());
                let message = match &d.hint {
                    Some(h) => format!("{} ({h})", d.message),
                    None => d.message.clone(),
                };
                FieldError::new(format!("{name}:{}:{}", d.line, d.column), "rule_error", message)
            })
            .collect(),
    )
}

/// Development only (`SAHULAT_RULES_FILE_RELOAD`): reads the rules directory and puts its
/// files in force without a proposal (a new version of each changed scheme, audited as a
/// development reload). On any mistake nothing changes. Other instances pick the rules up
/// from the database like any activation.
pub async fn reload(state: &AppState, ctx: AuditContext, trigger: &'static str) -> Result<RulesInfo, ApiError> {
    if !state.rules_file_reload {
        return Err(ApiError::conflict(
            "file_reload_disabled",
            "rules change through proposals and approvals here; reloading files is for a single-instance development set-up (SAHULAT_RULES_FILE_RELOAD)",
        ));
    }
    let previous = state.rules.current().set.version.clone();
    let dir = state.rules.dir().to_path_buf();
    let outcome =
        web::block(move || crate::governance::read_dir(&dir)).await.map_err(|e| anyhow::anyhow!("reload: {e}"))?;
    let key = state.audit_key.clone();
    let username = ctx.username.clone().unwrap_or_else(|| "system".into());
    match outcome {
        Ok((files, set)) => {
            let version = set.version.clone();
            let schemes = set.schemes.len();
            let (changed, generation) = db::run_write(&state.pool, move |conn| {
                // `run_write` is the transaction already (its writer lock is not re-entrant).
                let c = conn;
                let who = crate::governance::store::Provenance {
                    proposal_id: None,
                    summary: "development reload from the rules directory",
                    proposed_by: None,
                    approved_by: None,
                    activated_by: &username,
                    effective_from: today_in_pakistan(),
                };
                let changed = crate::governance::store_files(c, &files, &version, &who)?;
                let event = Event::new("rules_reload").details(json!({
                    "trigger": trigger,
                    "mode": "development",
                    "previous_version": previous,
                    "version": version,
                    "schemes": schemes,
                    "changed": changed,
                }));
                audit::record(c, &key, &ctx, &event)?;
                Ok((changed, crate::governance::store::generation(c)?))
            })
            .await?;
            let loaded = state.rules.install(set, generation);
            tracing::info!(version = %loaded.set.version, changed = changed.len(), trigger, "rules reloaded from files (development)");
            Ok(info(&loaded))
        }
        Err(diagnostics) => {
            let event = Event::new("rules_reload").denied().details(json!({
                "trigger": trigger,
                "mode": "development",
                "version_kept": previous,
                "errors": diagnostics.len(),
            }));
            db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
            tracing::warn!(errors = diagnostics.len(), trigger, "rules reload refused; keeping the rules in force");
            Err(diagnostics_problem(&diagnostics))
        }
    }
}

/// `?rescreen=true`: re-screen the registry with the new rules once they are loaded.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReloadQuery {
    /// Start a re-screening job after a successful reload.
    pub rescreen: Option<bool>,
}

/// The reload's outcome, and the re-screening job it started.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadResult {
    /// The rules now in force.
    #[serde(flatten)]
    pub rules: RulesInfo,
    /// The job re-screening the registry with them (`?rescreen=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescreen: Option<crate::screening::rescreen::RunView>,
}

/// Reloads the rule files (admin). A directory with any mistake is refused with every
/// mistake listed (`field` = `file:line:column`), and the rules in force stay. With
/// `?rescreen=true` a re-screening job starts with the new rules (follow it at
/// `/api/v1/rescreens/{id}`).
#[utoipa::path(post, path = "/api/v1/rules/reload", tag = "schemes", security(("bearer" = [])),
    params(ReloadQuery),
    responses(
        (status = 200, body = ReloadResult),
        (status = 409, description = "reloaded, but a re-screening job is already running", body = crate::error::Problem),
        (status = 422, description = "the files have mistakes; nothing changed", body = crate::error::Problem),
    ))]
pub async fn reload_rules(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ReloadQuery>,
) -> Result<HttpResponse, ApiError> {
    let rules = reload(&state, user.audit_context(&req), "api").await?;
    let rescreen = if query.rescreen.unwrap_or(false) {
        let today = today_in_pakistan();
        Some(super::rescreens::start(&state, user.audit_context(&req), state.rules.current(), today, None).await?)
    } else {
        None
    };
    Ok(ok_json(&ReloadResult { rules, rescreen }))
}

/// Which households of a scheme to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SchemeHouseholdsQuery {
    /// `eligible` (default) or `undetermined`.
    #[param(pattern = "^(eligible|undetermined)$")]
    pub status: Option<String>,
    /// District code.
    pub district: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Households currently eligible (or undetermined) for one of the caller's schemes: numbers,
/// district and this scheme's status only, never another scheme's data. Scheme administrators,
/// for the schemes assigned to them; the read is audited.
#[utoipa::path(get, path = "/api/v1/schemes/{id}/households", tag = "schemes", security(("bearer" = [])),
    params(("id" = String, Path, description = "scheme id"), SchemeHouseholdsQuery),
    responses((status = 200, body = Page<crate::screening::store::SchemeHousehold>),
        (status = 403, description = "not one of your schemes", body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn scheme_households(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<SchemeHouseholdsQuery>,
) -> Result<HttpResponse, ApiError> {
    let scheme = id.into_inner();
    if state.rules.current().set.scheme(&scheme).is_none() {
        return Err(ApiError::NotFound);
    }
    if !user.principal.assignments.schemes.contains(&scheme) {
        return Err(ApiError::Forbidden);
    }
    let status = query.status.clone().unwrap_or_else(|| "eligible".into());
    if !matches!(status.as_str(), "eligible" | "undetermined") {
        return Err(ApiError::invalid_field("status", "invalid_choice", "eligible or undetermined"));
    }
    let limit = page_limit(query.limit)?;
    let ctx = user.audit_context(&req);
    let (district, cursor) = (query.district.clone(), query.cursor.clone());
    let event =
        Event::new("scheme_households_read").details(json!({"scheme": scheme, "status": status, "district": district}));
    let items = db::read_after_audit(&state, &req, db::ReadKind::Schemes, ctx, event, move |conn| {
        Ok(crate::screening::store::households_for_scheme(
            conn,
            &scheme,
            &status,
            district.as_deref(),
            cursor.as_deref(),
            limit,
        )?)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|h| h.household_id.clone())).flatten();
    Ok(ok_json(&Page { items, next_cursor }))
}
