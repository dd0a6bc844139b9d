//! Rule governance over HTTP: proposals, impact reports, approval and rejection (never by the
//! author), withdrawal, pending activations, versions with diffs and rollback, and freeze
//! periods. Every step is audited in the hash chain. See `docs/RULE-CHANGES.md`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::schemes::parse_as_of;
use super::{Page, no_store, ok_json, page_limit};
use crate::audit::{self, AuditContext, Event, now_micros};
use crate::auth::{AuthUser, Role};
use crate::db::schema::{rule_freezes, rule_proposals, rule_versions};
use crate::db::{self, DbConnection};
use crate::error::{ApiError, FieldError};
use crate::governance::activation::{self, Ask};
use crate::governance::proposal::{self, Actor, NewProposal, ProposalRow, ReportRow};
use crate::governance::{diff, store};
use crate::per_backend;
use crate::registry::districts;
use crate::registry::warnings::today_in_pakistan;
use crate::startup::AppState;
use diesel::prelude::*;

/// The acting user, owned (handlers move it into blocking closures).
#[derive(Clone)]
struct Who {
    id: String,
    username: String,
    role: Role,
    schemes: Vec<String>,
    ctx: AuditContext,
}

impl Who {
    fn of(user: &AuthUser, req: &HttpRequest) -> Self {
        let p = &user.principal;
        Self {
            id: p.id.clone(),
            username: p.username.clone(),
            role: p.role,
            schemes: p.assignments.schemes.clone(),
            ctx: user.audit_context(req),
        }
    }

    fn actor(&self) -> Actor<'_> {
        Actor { id: &self.id, username: &self.username, role: self.role, schemes: &self.schemes }
    }
}

fn ts(t: chrono::NaiveDateTime) -> Value {
    json!(t.and_utc())
}

/// A proposal's summary fields.
fn summary_json(p: &ProposalRow) -> Value {
    json!({
        "id": p.id,
        "status": p.status,
        "summary": p.summary,
        "effective_from": p.effective_from,
        "schemes": p.base_versions().keys().collect::<Vec<_>>(),
        "retire": p.retired(),
        "author": p.author,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "rollback_of": p.rollback_of,
        "approved_report_id": p.approved_report_id,
        "activated_at": p.activated_at.map(ts),
    })
}

/// A proposal with its files, changes, reports, decisions and what the caller may do.
fn detail_json(conn: &mut DbConnection, state: &AppState, p: &ProposalRow, who: &Who) -> Result<Value, ApiError> {
    let mut in_force = store::read_in_force(conn)?;
    let current = state.rules.current();
    // A decided proposal is shown against the versions it was made on, not the rules now in
    // force (an active one would otherwise show no difference).
    let base =
        (p.status != "proposed" && p.status != "approved").then(|| base_of(conn, p, &in_force)).transpose()?.flatten();
    let (changes, text_diff) = match &base {
        Some((set, files)) => {
            in_force = files.clone();
            proposal::changes(p, set, &in_force)
        }
        None => proposal::changes(p, &current.set, &in_force),
    };
    let reports: Vec<Value> = proposal::reports_of(conn, &p.id)?
        .iter()
        .map(|r| {
            json!({"id": r.id, "purpose": r.purpose, "computed_at": ts(r.computed_at), "as_of": r.as_of,
                   "district": r.district_code, "computed_by": r.computed_by, "rules_before": r.rules_before})
        })
        .collect();
    let decisions = proposal::decisions(conn, &p.id)?;
    let decider = proposal::may_decide(p, &who.actor()).is_ok();
    let open = p.status == "proposed";
    let author_or_admin = p.author_id == who.id || who.role == Role::Admin;
    let mut out = summary_json(p);
    out["files"] = json!(p.file_list().into_iter().collect::<std::collections::BTreeMap<_, _>>());
    out["changes"] = json!(changes);
    out["text_diff"] = json!(text_diff);
    out["impact_reports"] = json!(reports);
    out["decisions"] = json!(decisions);
    out["may"] = json!({
        "approve": open && decider,
        "reject": open && decider,
        "withdraw": (open || p.status == "approved") && author_or_admin && who.role != Role::Auditor,
        "compute_impact": (open || p.status == "approved") && (author_or_admin || decider),
    });
    Ok(out)
}

/// The rules a proposal was made on: the rules in force with its schemes at the versions
/// recorded when it was made (`None` when they no longer load together).
fn base_of(
    conn: &mut DbConnection,
    p: &ProposalRow,
    in_force: &store::InForce,
) -> Result<Option<(crate::rules::RuleSet, store::InForce)>, ApiError> {
    let base = p.base_versions();
    let ids: Vec<String> = base.values().flatten().cloned().collect();
    let versions = store::versions(conn, &ids)?;
    let touched: Vec<String> = base.keys().cloned().collect();
    let mut files: Vec<(String, String)> = in_force
        .files
        .iter()
        .filter(|(name, _)| !touched.iter().any(|t| t == crate::governance::scheme_of(name)))
        .cloned()
        .collect();
    files.extend(versions.into_iter().filter_map(|v| v.body.map(|b| (v.file_name, b))));
    files.sort();
    let mut versions = in_force.versions.clone();
    for (scheme, version) in &base {
        match version {
            Some(v) => versions.insert(scheme.clone(), v.clone()),
            None => versions.remove(scheme),
        };
    }
    let Ok(set) = crate::governance::compile(&files) else { return Ok(None) };
    Ok(Some((set, store::InForce { files, versions, generation: in_force.generation })))
}

fn load_visible(conn: &mut DbConnection, id: &str, who: &Who) -> Result<ProposalRow, ApiError> {
    let p = proposal::find(conn, id)?.ok_or(ApiError::NotFound)?;
    if p.author_id != who.id && !who.actor().may_read(p.base_versions().keys()) {
        return Err(ApiError::NotFound);
    }
    Ok(p)
}

fn audit(conn: &mut DbConnection, state: &AppState, who: &Who, event: Event) -> Result<(), ApiError> {
    audit::record(conn, &state.audit_key, &who.ctx, &event)?;
    Ok(())
}

/// Proposes new or changed rule files (scheme administrators for their schemes; an admin
/// for any scheme, and alone for a new one). Checked as a whole against the rules in force:
/// type errors come back as `file:line:column`, every example must pass, and every added or
/// changed criterion needs examples where it is true, false and unknown.
#[utoipa::path(post, path = "/api/v1/rule-proposals", tag = "rules", security(("bearer" = [])),
    request_body = NewProposal,
    responses((status = 201, description = "the proposal", body = Object),
        (status = 403, description = "not an administrator of a scheme in it", body = crate::error::Problem),
        (status = 422, description = "mistakes, each named", body = crate::error::Problem)))]
pub async fn create_proposal(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<NewProposal>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let state2 = state.clone();
    let out = db::run_write(&state.pool, move |conn| {
        let in_force = store::read_in_force(conn)?;
        let current = state2.rules.current();
        let checked =
            match proposal::check(&in_force, &current.set, body.into_inner(), &who.actor(), today_in_pakistan(), false)
            {
                Ok(c) => c,
                Err(e) => {
                    let event = Event::new("rule_propose").denied().details(json!({"code": e.code()}));
                    audit(conn, &state2, &who, event)?;
                    return Err(e);
                }
            };
        let row = proposal::create(conn, &checked, &current.set.version, &who.actor(), None)?;
        let event = Event::new("rule_propose").object("rule_proposal", &row.id).details(json!({
            "schemes": checked.base.keys().collect::<Vec<_>>(), "retire": checked.retire,
            "effective_from": checked.effective_from, "rules_after": checked.set.version,
        }));
        audit(conn, &state2, &who, event)?;
        detail_json(conn, &state2, &row, &who)
    })
    .await?;
    let location = format!("/api/v1/rule-proposals/{}", out["id"].as_str().unwrap_or_default());
    Ok(no_store(HttpResponse::Created()).insert_header(("location", location)).json(out))
}

/// Which proposals to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    /// Only this status.
    #[param(pattern = "^(proposed|approved|active|rejected|withdrawn)$")]
    pub status: Option<String>,
    /// Only proposals touching this scheme.
    #[param(pattern = "^[a-z0-9][a-z0-9-]{1,63}$")]
    pub scheme: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Proposals, newest first: a scheme administrator sees those touching their schemes (and
/// their own), admins and auditors all.
#[utoipa::path(get, path = "/api/v1/rule-proposals", tag = "rules", security(("bearer" = [])),
    params(ProposalQuery), responses((status = 200, description = "a page of proposals", body = Object),
        (status = 422, body = crate::error::Problem)))]
pub async fn list_proposals(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ProposalQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let q = query.into_inner();
    let mut errors = Vec::new();
    if q.status.as_deref().is_some_and(|s| !["proposed", "approved", "active", "rejected", "withdrawn"].contains(&s)) {
        errors.push(FieldError::new("status", "invalid_choice", "proposed, approved, active, rejected or withdrawn"));
    }
    if q.scheme.as_deref().is_some_and(|s| !crate::auth::service::check_scheme_id(s)) {
        errors.push(FieldError::new("scheme", "invalid_format", "a scheme id: a-z, 0-9 and '-'"));
    }
    let limit = match page_limit(q.limit) {
        Ok(l) => l,
        Err(ApiError::Validation(e)) => {
            errors.extend(e);
            1
        }
        Err(e) => return Err(e),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let items = db::run(&state.pool, move |conn| {
        Ok(proposal::list(conn, &who.actor(), q.status.as_deref(), q.scheme.as_deref(), limit, q.cursor.as_deref())?)
    })
    .await?;
    let next_cursor = (items.len() as i64 == limit).then(|| items.last().map(|p| p.id.clone())).flatten();
    let items: Vec<Value> = items.iter().map(summary_json).collect();
    Ok(ok_json(&Page { items, next_cursor }))
}

/// One proposal: its files, plain-language changes and text diff against the rules in
/// force, its impact reports, its decisions, and what the caller may do with it.
#[utoipa::path(get, path = "/api/v1/rule-proposals/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "proposal id")),
    responses((status = 200, description = "the proposal", body = Object)))]
pub async fn get_proposal(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let (id, state2) = (id.into_inner(), state.clone());
    let out = db::run(&state.pool, move |conn| {
        let p = load_visible(conn, &id, &who)?;
        detail_json(conn, &state2, &p, &who)
    })
    .await?;
    Ok(ok_json(&out))
}

/// Where and when to compute an impact.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    /// The date both rule sets are evaluated on (default: the proposal's effective date).
    #[param(format = Date)]
    pub as_of: Option<String>,
    /// One district (default: the whole registry; an approval needs the whole registry).
    #[param(pattern = r"^[a-z][a-z0-9_]{1,39}$")]
    pub district: Option<String>,
}

/// Runs the proposed rules and the rules in force over every registered household (or one
/// district's) and stores the report. Takes seconds to tens of seconds on a large registry.
#[utoipa::path(post, path = "/api/v1/rule-proposals/{id}/impact", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "proposal id"), ImpactQuery),
    responses((status = 201, description = "the stored report", body = Object),
        (status = 409, description = "the proposal is decided, or its schemes' rules changed", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn compute_impact(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ImpactQuery>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let q = query.into_inner();
    let as_of = match q.as_of.as_deref() {
        Some(_) => Some(parse_as_of(q.as_of.as_deref())?),
        None => None,
    };
    let (id, state2) = (id.into_inner(), state.clone());
    let pool = state.pool.clone();
    // The registry is read on the streaming replica when it may serve reports (the report
    // and its stored changes are written on the primary).
    let replica = db::replica::route(&state, &req, db::ReadKind::Reports);
    let body = db::run(&state.pool, move |conn| {
        let p = load_visible(conn, &id, &who)?;
        let decider = proposal::may_decide(&p, &who.actor()).is_ok();
        if !(p.author_id == who.id || who.role == Role::Admin || decider) {
            return Err(ApiError::refused(
                "not_your_scheme",
                "only the author, the schemes' administrators or an admin compute impact",
            ));
        }
        if !matches!(p.status.as_str(), "proposed" | "approved") {
            return Err(ApiError::conflict("proposal_state", format!("the proposal is {}", p.status)));
        }
        if let Some(d) = &q.district
            && districts::find(conn, d)?.is_none()
        {
            return Err(ApiError::invalid_field("district", "unknown_district", "not a district code"));
        }
        let in_force = store::read_in_force(conn)?;
        let current = state2.rules.current();
        let ask = Ask {
            as_of: as_of.unwrap_or(p.effective_from),
            district: q.district.as_deref(),
            purpose: "review",
            computed_by: &who.username,
            chunk: activation::CHUNK,
            replica_lag: None,
        };
        let on_replica = replica.as_ref().and_then(|r| {
            let readers: Vec<_> = (0..activation::READERS).filter_map(|_| r.pool().try_get()).collect();
            (!readers.is_empty()).then(|| (r, readers, r.status().lag().unwrap_or_default()))
        });
        let rules = (&in_force, &current.set);
        let on_primary = |conn: &mut DbConnection| {
            let readers: Vec<_> = (0..activation::READERS).filter_map(|_| pool.try_get()).collect();
            activation::compute_report(conn, readers, &p, rules, &ask)
        };
        let report = match on_replica {
            Some((r, readers, lag)) => {
                match activation::compute_report(conn, readers, &p, rules, &Ask { replica_lag: Some(lag), ..ask }) {
                    Ok(report) => {
                        r.status().count_served(true);
                        report
                    }
                    // A replica that fails mid-way (its stored changes are removed): the
                    // primary computes the report.
                    Err(error @ ApiError::Internal(_)) => {
                        tracing::warn!(%error, "the impact read failed on the replica; computing it on the primary");
                        r.status().count(db::replica::Fallback::Error);
                        r.status().count_served(false);
                        on_primary(conn)?
                    }
                    Err(error) => return Err(error),
                }
            }
            None => on_primary(conn)?,
        };
        let event = Event::new("rule_impact").object("impact_report", &report.id).details(json!({
            "proposal": p.id, "as_of": report.as_of, "district": report.district_code,
            "rules_before": report.rules_before, "rules_after": report.rules_after,
        }));
        audit(conn, &state2, &who, event)?;
        Ok(report.body)
    })
    .await?;
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let location = format!("/api/v1/impact-reports/{}", value["id"].as_str().unwrap_or_default());
    Ok(no_store(HttpResponse::Created()).insert_header(("location", location)).json(value))
}

fn visible_report(conn: &mut DbConnection, id: &str, who: &Who) -> Result<(ReportRow, ProposalRow), ApiError> {
    let r = proposal::report(conn, id)?.ok_or(ApiError::NotFound)?;
    let p = load_visible(conn, &r.proposal_id, who)?;
    Ok((r, p))
}

/// A stored impact report (immutable).
#[utoipa::path(get, path = "/api/v1/impact-reports/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "report id")),
    responses((status = 200, description = "the report", body = Object)))]
pub async fn get_impact_report(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let id = id.into_inner();
    // Stored and immutable: the replica serves it (its author, just after computing it, reads
    // it from the primary until the replica has it).
    let body =
        db::read(&state, &req, db::ReadKind::Reports, move |conn| Ok(visible_report(conn, &id, &who)?.0.body)).await?;
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(ok_json(&value))
}

/// One household of a report: the outcome of every criterion of each scheme the report
/// covers, under the rules in force when it was computed and under the proposal, evaluated
/// on today's record of the household. Household number only, never names or ID numbers;
/// the read is audited.
#[utoipa::path(get, path = "/api/v1/impact-reports/{id}/households/{number}", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "report id"), ("number" = String, Path, description = "household number")),
    responses((status = 200, description = "the two traces", body = Object)))]
pub async fn impact_trace(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let (id, number) = path.into_inner();
    let ctx = who.ctx.clone();
    // A read (on the replica when it is usable), audited on the primary before the answer.
    // Auditors are refused by the policy table (`rule_change_write`).
    let out = db::read_audited(&state, &req, db::ReadKind::Reports, ctx, move |conn| {
        let (r, p) = visible_report(conn, &id, &who)?;
        let (out, household) = crate::governance::activation::trace(conn, &r, &p, &number)?;
        let event = Event::new("rule_impact_trace")
            .object("impact_report", &r.id)
            .district(household.1.clone())
            .details(json!({"household": household.0}));
        Ok((out, event))
    })
    .await?;
    Ok(ok_json(&out))
}

/// An approval: the impact report the approver read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    /// The impact report read (of this proposal, the whole registry, under 24 hours old,
    /// computed against the rules in force now).
    pub impact_report_id: String,
    /// A comment (up to 2,000 characters).
    pub comment: Option<String>,
}

/// A rejection or withdrawal, with its reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why (1–2,000 characters).
    pub reason: String,
}

fn reason(text: &str, field: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 2000 {
        return Err(ApiError::invalid_field(field, "length", "give a reason of 1 to 2,000 characters"));
    }
    Ok(t.to_string())
}

/// Approves a proposal: another administrator of every scheme in it, or an admin — never
/// its author, whatever their role. A proposal due today or earlier is activated at once
/// (with its impact computed again first).
#[utoipa::path(post, path = "/api/v1/rule-proposals/{id}/approval", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "proposal id")), request_body = ApprovalBody,
    responses((status = 200, description = "the proposal", body = Object),
        (status = 403, description = "the author, or not an administrator of its schemes", body = crate::error::Problem),
        (status = 409, description = "not awaiting approval, or the report is stale", body = crate::error::Problem)))]
pub async fn approve(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ApprovalBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let (id, state2) = (id.into_inner(), state.clone());
    let body = body.into_inner();
    let comment = match body.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) if c.chars().count() > 2000 => {
            return Err(ApiError::invalid_field("comment", "length", "at most 2,000 characters"));
        }
        c => c.map(str::to_string),
    };
    let out = db::run_write(&state.pool, move |conn| {
        let p = load_visible(conn, &id, &who)?;
        if let Err(e) = proposal::may_decide(&p, &who.actor()) {
            audit(
                conn,
                &state2,
                &who,
                Event::new("rule_approve").object("rule_proposal", &p.id).denied().details(json!({"code": e.code()})),
            )?;
            return Err(e);
        }
        if p.status != "proposed" {
            return Err(ApiError::conflict(
                "proposal_state",
                format!("the proposal is {}, not awaiting approval", p.status),
            ));
        }
        let report = proposal::report(conn, &body.impact_report_id)?;
        let in_force_version = store::rules_version(conn)?.unwrap_or_default();
        proposal::check_report_for_approval(report.as_ref(), &p, &in_force_version, now_micros())?;
        proposal::set_status(conn, &p.id, &["proposed"], "approved", Some(&body.impact_report_id))?;
        proposal::record_decision(
            conn,
            &p.id,
            "approval",
            Some((&who.id, &who.username)),
            comment.as_deref(),
            (Some(&body.impact_report_id), None),
        )?;
        let event = Event::new("rule_approve").object("rule_proposal", &p.id).details(json!({
            "impact_report": body.impact_report_id, "effective_from": p.effective_from,
        }));
        audit(conn, &state2, &who, event)?;
        let p = proposal::find(conn, &p.id)?.ok_or(ApiError::NotFound)?;
        detail_json(conn, &state2, &p, &who)
    })
    .await?;
    state.activator.nudge();
    Ok(ok_json(&out))
}

/// Rejects a proposal, with a reason (the same people as approve it; never the author, who
/// withdraws instead).
#[utoipa::path(post, path = "/api/v1/rule-proposals/{id}/rejection", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "proposal id")), request_body = ReasonBody,
    responses((status = 200, description = "the proposal", body = Object),
        (status = 409, description = "not awaiting approval", body = crate::error::Problem)))]
pub async fn reject(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let text = reason(&body.reason, "reason")?;
    let (id, state2) = (id.into_inner(), state.clone());
    let out = db::run_write(&state.pool, move |conn| {
        let p = load_visible(conn, &id, &who)?;
        proposal::may_decide(&p, &who.actor())?;
        proposal::set_status(conn, &p.id, &["proposed"], "rejected", None)?;
        proposal::record_decision(conn, &p.id, "rejection", Some((&who.id, &who.username)), Some(&text), (None, None))?;
        audit(
            conn,
            &state2,
            &who,
            Event::new("rule_reject").object("rule_proposal", &p.id).details(json!({"reason": text})),
        )?;
        let p = proposal::find(conn, &p.id)?.ok_or(ApiError::NotFound)?;
        detail_json(conn, &state2, &p, &who)
    })
    .await?;
    Ok(ok_json(&out))
}

/// Withdraws a proposal waiting for approval, or an approved one waiting for its date (its
/// author, or an admin), with a reason.
#[utoipa::path(post, path = "/api/v1/rule-proposals/{id}/withdrawal", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "proposal id")), request_body = ReasonBody,
    responses((status = 200, description = "the proposal", body = Object),
        (status = 409, description = "already active, rejected or withdrawn", body = crate::error::Problem)))]
pub async fn withdraw(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let text = reason(&body.reason, "reason")?;
    let (id, state2) = (id.into_inner(), state.clone());
    let out = db::run_write(&state.pool, move |conn| {
        let p = load_visible(conn, &id, &who)?;
        if p.author_id != who.id && who.role != Role::Admin {
            return Err(ApiError::refused("not_author", "only the author or an admin withdraws a proposal"));
        }
        // An activation in progress has claimed it: too late to withdraw.
        let claimed: Option<chrono::NaiveDateTime> =
            rule_proposals::table.find(&p.id).select(rule_proposals::activation_claimed_at).first(conn)?;
        if claimed.is_some() && p.status == "approved" {
            return Err(ApiError::conflict("activating", "the proposal is being activated"));
        }
        proposal::set_status(conn, &p.id, &["proposed", "approved"], "withdrawn", None)?;
        proposal::record_decision(
            conn,
            &p.id,
            "withdrawal",
            Some((&who.id, &who.username)),
            Some(&text),
            (None, None),
        )?;
        audit(
            conn,
            &state2,
            &who,
            Event::new("rule_withdraw")
                .object("rule_proposal", &p.id)
                .details(json!({"reason": text, "was": p.status})),
        )?;
        let p = proposal::find(conn, &p.id)?.ok_or(ApiError::NotFound)?;
        detail_json(conn, &state2, &p, &who)
    })
    .await?;
    Ok(ok_json(&out))
}

/// Approved proposals waiting for their date, soonest first, with the freeze period that
/// holds them, if any.
#[utoipa::path(get, path = "/api/v1/rule-activations", tag = "rules", security(("bearer" = [])),
    responses((status = 200, description = "pending activations", body = Object)))]
pub async fn pending_activations(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let out = db::run(&state.pool, move |conn| {
        let rows: Vec<ProposalRow> = rule_proposals::table
            .filter(rule_proposals::status.eq("approved"))
            .order((rule_proposals::effective_from.asc(), rule_proposals::id.asc()))
            .limit(500)
            .select(ProposalRow::as_select())
            .load(conn)?;
        let mut items = Vec::new();
        for p in rows.iter().filter(|p| p.author_id == who.id || who.actor().may_read(p.base_versions().keys())) {
            let day = p.effective_from.max(today_in_pakistan());
            let frozen = activation::freeze_on(conn, day)?.map(|(id, reason)| json!({"id": id, "reason": reason}));
            // 00:00 Pakistan time is 19:00 UTC the day before.
            let at = p.effective_from.and_hms_opt(0, 0, 0).map(|t| (t - chrono::TimeDelta::hours(5)).and_utc());
            items.push(json!({"proposal": summary_json(p), "activates_at": at, "frozen_by": frozen}));
        }
        Ok(json!({"items": items}))
    })
    .await?;
    Ok(ok_json(&out))
}

/// Which versions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Only this scheme's versions.
    #[param(pattern = "^[a-z0-9][a-z0-9-]{1,63}$")]
    pub scheme: Option<String>,
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn version_json(v: &store::VersionRow, in_force: bool) -> Value {
    json!({
        "id": v.id, "scheme": v.scheme_id, "seq": v.seq, "file_name": v.file_name, "sha256": v.sha256,
        "retired": v.body.is_none(), "in_force": in_force, "summary": v.summary, "proposal_id": v.proposal_id,
        "proposed_by": v.proposed_by, "approved_by": v.approved_by, "activated_by": v.activated_by,
        "effective_from": v.effective_from, "activated_at": ts(v.activated_at),
    })
}

/// Every activated version of the rules, newest first: who proposed, approved and activated
/// it, and its summary.
#[utoipa::path(get, path = "/api/v1/rule-versions", tag = "rules", security(("bearer" = [])),
    params(VersionQuery), responses((status = 200, description = "a page of versions", body = Object),
        (status = 422, body = crate::error::Problem)))]
pub async fn list_versions(
    state: web::Data<AppState>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if q.scheme.as_deref().is_some_and(|s| !crate::auth::service::check_scheme_id(s)) {
        return Err(ApiError::invalid_field("scheme", "invalid_format", "a scheme id: a-z, 0-9 and '-'"));
    }
    let limit = page_limit(q.limit)?;
    let out = db::run(&state.pool, move |conn| {
        let mut query = rule_versions::table.select(store::VersionRow::as_select()).into_boxed();
        if let Some(s) = &q.scheme {
            query = query.filter(rule_versions::scheme_id.eq(s.clone()));
        }
        if let Some(c) = &q.cursor {
            query = query.filter(rule_versions::id.lt(c.clone()));
        }
        let rows: Vec<store::VersionRow> = query.order(rule_versions::id.desc()).limit(limit).load(conn)?;
        let in_force = store::read_in_force(conn)?;
        let next_cursor = (rows.len() as i64 == limit).then(|| rows.last().map(|v| v.id.clone())).flatten();
        let items: Vec<Value> =
            rows.iter().map(|v| version_json(v, in_force.versions.get(&v.scheme_id) == Some(&v.id))).collect();
        Ok(Page { items, next_cursor })
    })
    .await?;
    Ok(ok_json(&out))
}

/// What to compare a version with.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgainstQuery {
    /// Another version of the same scheme: the plain-language changes and the text diff from
    /// it to this one.
    pub against: Option<String>,
}

/// One version: its text, and with `against` the changes from another version.
#[utoipa::path(get, path = "/api/v1/rule-versions/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "version id"), AgainstQuery),
    responses((status = 200, description = "the version", body = Object), (status = 422, body = crate::error::Problem)))]
pub async fn get_version(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<AgainstQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, against) = (id.into_inner(), query.into_inner().against);
    let state2 = state.clone();
    let out = db::run(&state.pool, move |conn| {
        let v = store::version(conn, &id)?.ok_or(ApiError::NotFound)?;
        let in_force = store::read_in_force(conn)?;
        let mut out = version_json(&v, in_force.versions.get(&v.scheme_id) == Some(&v.id));
        out["text"] = json!(v.body);
        if let Some(other) = against {
            let o = store::version(conn, &other)?.filter(|o| o.scheme_id == v.scheme_id).ok_or_else(|| {
                ApiError::invalid_field("against", "unknown_version", "name another version of the same scheme")
            })?;
            let (from, to) = (o.body.as_deref().unwrap_or(""), v.body.as_deref().unwrap_or(""));
            out["text_diff"] = json!(diff::unified(&v.file_name, from, to));
            // Each side compiled with the other schemes in force.
            let compile = |body: Option<&str>| -> Option<crate::rules::RuleSet> {
                let changed = body.map(|b| vec![(v.file_name.clone(), b.to_string())]).unwrap_or_default();
                let retired = if body.is_none() { vec![v.scheme_id.clone()] } else { Vec::new() };
                crate::governance::compile(&crate::governance::merged(&in_force, &changed, &retired)).ok()
            };
            let (a, b) = (compile(o.body.as_deref()), compile(v.body.as_deref()));
            let changes = match (
                a.as_ref().and_then(|s| s.scheme(&v.scheme_id)),
                b.as_ref().and_then(|s| s.scheme(&v.scheme_id)),
            ) {
                (Some(x), Some(y)) => json!(diff::scheme(x, y)),
                _ => Value::Null,
            };
            out["against"] = json!(other);
            out["changes"] = changes;
        }
        let _ = &state2;
        Ok(out)
    })
    .await?;
    Ok(ok_json(&out))
}

/// A rollback: why, and from when.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// Why (1–2,000 characters).
    pub summary: String,
    /// The day the restored version takes effect again (`YYYY-MM-DD`, today or later).
    #[schema(format = Date)]
    pub effective_from: String,
}

/// Proposes to restore an earlier version of a scheme (a proposal like any other: it needs
/// a second person and an impact report; the example-coverage gate is skipped, since the
/// version was approved before).
#[utoipa::path(post, path = "/api/v1/rule-versions/{id}/rollback", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "the version to restore")), request_body = RollbackBody,
    responses((status = 201, description = "the proposal", body = Object),
        (status = 409, description = "the version is the one in force", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn rollback(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<RollbackBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let (id, state2, body) = (id.into_inner(), state.clone(), body.into_inner());
    let out = db::run_write(&state.pool, move |conn| {
        let v = store::version(conn, &id)?.ok_or(ApiError::NotFound)?;
        let in_force = store::read_in_force(conn)?;
        if in_force.versions.get(&v.scheme_id) == Some(&v.id) {
            return Err(ApiError::conflict("in_force", "this version is the one in force"));
        }
        let asked = NewProposal {
            summary: Some(body.summary),
            effective_from: Some(body.effective_from),
            files: v.body.iter().map(|b| (v.file_name.clone(), b.clone())).collect(),
            retire: if v.body.is_none() { vec![v.scheme_id.clone()] } else { Vec::new() },
        };
        let current = state2.rules.current();
        let checked = proposal::check(&in_force, &current.set, asked, &who.actor(), today_in_pakistan(), true)?;
        let row = proposal::create(conn, &checked, &current.set.version, &who.actor(), Some(&v.id))?;
        let event = Event::new("rule_rollback").object("rule_proposal", &row.id).details(json!({
            "scheme": v.scheme_id, "restores": v.id, "seq": v.seq, "effective_from": checked.effective_from,
        }));
        audit(conn, &state2, &who, event)?;
        detail_json(conn, &state2, &row, &who)
    })
    .await?;
    let location = format!("/api/v1/rule-proposals/{}", out["id"].as_str().unwrap_or_default());
    Ok(no_store(HttpResponse::Created()).insert_header(("location", location)).json(out))
}

/// A freeze period: no rule change activates from `starts_on` to `ends_on`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeBody {
    /// First day (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub starts_on: String,
    /// Last day, inclusive (`YYYY-MM-DD`).
    #[schema(format = Date)]
    pub ends_on: String,
    /// Why (1–500 characters), e.g. an election.
    pub reason: String,
}

fn freeze_json(row: &(String, NaiveDate, NaiveDate, String, String, chrono::NaiveDateTime)) -> Value {
    json!({"id": row.0, "starts_on": row.1, "ends_on": row.2, "reason": row.3, "created_by": row.4, "created_at": ts(row.5)})
}

/// Freeze periods in force or to come.
#[utoipa::path(get, path = "/api/v1/rule-freezes", tag = "rules", security(("bearer" = [])),
    responses((status = 200, description = "freeze periods", body = Object)))]
pub async fn list_freezes(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let today = today_in_pakistan();
    let rows = db::run(&state.pool, move |conn| {
        Ok(rule_freezes::table
            .filter(rule_freezes::lifted_at.is_null())
            .filter(rule_freezes::ends_on.ge(today))
            .order(rule_freezes::starts_on.asc())
            .limit(500)
            .select((
                rule_freezes::id,
                rule_freezes::starts_on,
                rule_freezes::ends_on,
                rule_freezes::reason,
                rule_freezes::created_by,
                rule_freezes::created_at,
            ))
            .load(conn)?)
    })
    .await?;
    let items: Vec<Value> = rows.iter().map(freeze_json).collect();
    Ok(ok_json(&json!({"items": items})))
}

/// Declares a freeze period (admin).
#[utoipa::path(post, path = "/api/v1/rule-freezes", tag = "rules", security(("bearer" = [])),
    request_body = FreezeBody,
    responses((status = 201, description = "the freeze period", body = Object), (status = 422, body = crate::error::Problem)))]
pub async fn create_freeze(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<FreezeBody>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let mut errors = Vec::new();
    let day = |field: &str, v: &str, errors: &mut Vec<FieldError>| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| errors.push(FieldError::new(field, "invalid_format", "a date as YYYY-MM-DD")))
            .ok()
    };
    let starts = day("starts_on", &body.starts_on, &mut errors);
    let ends = day("ends_on", &body.ends_on, &mut errors);
    if let (Some(s), Some(e)) = (starts, ends) {
        if e < s {
            errors.push(FieldError::new("ends_on", "before_start", "on or after starts_on"));
        }
        if e < today_in_pakistan() {
            errors.push(FieldError::new("ends_on", "in_the_past", "the period must not be over already"));
        }
    }
    let text = body.reason.trim().to_string();
    if text.is_empty() || text.chars().count() > 500 {
        errors.push(FieldError::new("reason", "length", "give a reason of 1 to 500 characters"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (Some(starts), Some(ends)) = (starts, ends) else { return Err(ApiError::Validation(errors)) };
    let state2 = state.clone();
    let row = db::run_write(&state.pool, move |conn| {
        let row = (uuid::Uuid::now_v7().to_string(), starts, ends, text, who.username.clone(), now_micros());
        per_backend!(conn, |c| diesel::insert_into(rule_freezes::table)
            .values((
                rule_freezes::id.eq(&row.0),
                rule_freezes::starts_on.eq(row.1),
                rule_freezes::ends_on.eq(row.2),
                rule_freezes::reason.eq(&row.3),
                rule_freezes::created_by.eq(&row.4),
                rule_freezes::created_at.eq(row.5),
            ))
            .execute(c))?;
        audit(
            conn,
            &state2,
            &who,
            Event::new("rule_freeze")
                .object("rule_freeze", &row.0)
                .details(json!({"starts_on": starts, "ends_on": ends, "reason": row.3})),
        )?;
        Ok(row)
    })
    .await?;
    Ok(no_store(HttpResponse::Created()).json(freeze_json(&row)))
}

/// Lifts a freeze period (admin).
#[utoipa::path(delete, path = "/api/v1/rule-freezes/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "freeze id")),
    responses((status = 204, description = "lifted")))]
pub async fn lift_freeze(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let who = Who::of(&user, &req);
    let (id, state2) = (id.into_inner(), state.clone());
    db::run_write(&state.pool, move |conn| {
        let changed = diesel::update(rule_freezes::table.find(&id).filter(rule_freezes::lifted_at.is_null()))
            .set((rule_freezes::lifted_at.eq(now_micros()), rule_freezes::lifted_by.eq(&who.username)))
            .execute(conn)?;
        if changed == 0 {
            return Err(ApiError::NotFound);
        }
        audit(conn, &state2, &who, Event::new("rule_freeze_lift").object("rule_freeze", &id))
    })
    .await?;
    state.activator.nudge();
    Ok(HttpResponse::NoContent().finish())
}
