//! Rule proposals: checked as a whole against the rules in force when made, then approved
//! (never by their author) or rejected, withdrawn, held or activated.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::diff::{self, SchemeChange};
use super::store::{self, InForce};
use super::{compile, merged, scheme_of};
use crate::audit::now_micros;
use crate::auth::Role;
use crate::auth::service::check_scheme_id;
use crate::db::DbConnection;
use crate::db::schema::{impact_reports, rule_decisions, rule_proposals};
use crate::error::{ApiError, FieldError};
use crate::per_backend;
use crate::rules::{Explanation, RuleSet, Tri, examples};

/// Most files in one proposal.
pub const MAX_FILES: usize = 60;
/// An approval must name an impact report younger than this.
pub const REPORT_MAX_AGE: TimeDelta = TimeDelta::hours(24);

/// A proposal as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rule_proposals)]
pub struct ProposalRow {
    pub id: String,
    pub status: String,
    pub summary: String,
    pub effective_from: NaiveDate,
    /// JSON: scheme id → the version in force when proposed (`null`: a new scheme).
    pub schemes: String,
    /// JSON: file name → text.
    pub files: String,
    /// JSON: scheme ids retired.
    pub retire: String,
    pub base_rules_version: String,
    pub rollback_of: Option<String>,
    pub author_id: String,
    pub author: String,
    pub approved_report_id: Option<String>,
    pub activation_claimed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub activated_at: Option<NaiveDateTime>,
}

impl ProposalRow {
    /// Scheme id → the version in force when proposed.
    pub fn base_versions(&self) -> BTreeMap<String, Option<String>> {
        serde_json::from_str(&self.schemes).unwrap_or_default()
    }

    /// The proposed files, `(name, text)`.
    pub fn file_list(&self) -> Vec<(String, String)> {
        let map: BTreeMap<String, String> = serde_json::from_str(&self.files).unwrap_or_default();
        map.into_iter().collect()
    }

    /// The schemes retired.
    pub fn retired(&self) -> Vec<String> {
        serde_json::from_str(&self.retire).unwrap_or_default()
    }

    /// The rules in force with this proposal applied, checked. A scheme the proposal touches
    /// whose version in force changed since it was made is a conflict.
    pub fn apply(&self, in_force: &InForce) -> Result<(Vec<(String, String)>, RuleSet), ApiError> {
        for (scheme, base) in self.base_versions() {
            if in_force.versions.get(&scheme) != base.as_ref() {
                return Err(ApiError::conflict(
                    "rules_changed",
                    format!("the rules of {scheme} changed after this proposal was made; propose the change again"),
                ));
            }
        }
        let files = merged(in_force, &self.file_list(), &self.retired());
        let set = compile(&files).map_err(|d| crate::api::schemes::diagnostics_problem(&d))?;
        Ok((files, set))
    }
}

/// Who is acting.
pub struct Actor<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub role: Role,
    /// Schemes assigned (scheme administrators).
    pub schemes: &'a [String],
}

impl Actor<'_> {
    /// Whether the actor administers every one of `schemes` (admins administer all).
    pub fn administers<'s>(&self, mut schemes: impl Iterator<Item = &'s String>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::SchemeAdmin => schemes.all(|s| self.schemes.contains(s)),
            _ => false,
        }
    }

    /// Whether the actor may read a proposal touching `schemes`.
    pub fn may_read<'s>(&self, mut schemes: impl Iterator<Item = &'s String>) -> bool {
        match self.role {
            Role::Admin | Role::Auditor => true,
            Role::SchemeAdmin => schemes.any(|s| self.schemes.contains(s)),
            Role::Clerk => false,
        }
    }
}

/// A proposal as asked for.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    /// What changes and why (1–2,000 characters).
    pub summary: Option<String>,
    /// The day it takes effect (`YYYY-MM-DD`, today or later, Pakistan time).
    #[schema(format = Date)]
    pub effective_from: Option<String>,
    /// File name (`<scheme id>.yaml`) → the file's text: changed or new schemes.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Schemes to retire.
    #[serde(default)]
    pub retire: Vec<String>,
}

/// A proposal that passed every check, ready to store.
pub struct Checked {
    pub summary: String,
    pub effective_from: NaiveDate,
    pub files: BTreeMap<String, String>,
    pub retire: Vec<String>,
    pub base: BTreeMap<String, Option<String>>,
    pub set: RuleSet,
}

/// Checks a proposal against the rules in force (`current` compiled from `in_force`):
/// fields, scope, type-check of the whole set, every example, and (unless it restores an
/// approved version) examples where each added or changed criterion is true, false and
/// unknown. Every mistake comes back at once.
pub fn check(
    in_force: &InForce,
    current: &RuleSet,
    asked: NewProposal,
    actor: &Actor<'_>,
    today: NaiveDate,
    restoring: bool,
) -> Result<Checked, ApiError> {
    let mut errors = Vec::new();
    let summary = asked.summary.as_deref().map(str::trim).unwrap_or_default().to_string();
    if summary.is_empty() {
        errors.push(FieldError::new("summary", "required", "say what changes and why"));
    } else if summary.chars().count() > 2000 {
        errors.push(FieldError::new("summary", "length", "at most 2,000 characters"));
    }
    let effective_from = match asked.effective_from.as_deref().map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d")) {
        None => {
            errors.push(FieldError::new("effective_from", "required", "give the day it takes effect, YYYY-MM-DD"));
            None
        }
        Some(Err(_)) => {
            errors.push(FieldError::new("effective_from", "invalid_format", "a date as YYYY-MM-DD"));
            None
        }
        Some(Ok(d)) if d < today => {
            errors.push(FieldError::new("effective_from", "in_the_past", format!("today ({today}) or later")));
            None
        }
        Some(Ok(d)) if d > today + TimeDelta::days(5 * 366) => {
            errors.push(FieldError::new("effective_from", "too_far", "at most five years ahead"));
            None
        }
        Some(Ok(d)) => Some(d),
    };
    if asked.files.is_empty() && asked.retire.is_empty() {
        errors.push(FieldError::new("files", "required", "give at least one file, or a scheme to retire"));
    }
    if asked.files.len() > MAX_FILES {
        errors.push(FieldError::new("files", "too_many", format!("at most {MAX_FILES} files in one proposal")));
    }
    let mut touched: Vec<String> = Vec::new();
    for (name, text) in &asked.files {
        let id = name.strip_suffix(".yaml").unwrap_or("");
        if !check_scheme_id(id) {
            errors.push(FieldError::new(
                format!("files.{name}"),
                "invalid_name",
                "name the file <scheme id>.yaml: lower-case letters, digits and '-'",
            ));
            continue;
        }
        if in_force.text_of(id) == Some(text.as_str()) {
            errors.push(FieldError::new(format!("files.{name}"), "unchanged", "the file is the one in force"));
        }
        touched.push(id.to_string());
    }
    for (i, id) in asked.retire.iter().enumerate() {
        if !in_force.versions.contains_key(id) {
            errors.push(FieldError::new(format!("retire[{i}]"), "unknown_scheme", "no scheme in force has this id"));
        } else if touched.contains(id) {
            errors.push(FieldError::new(
                format!("retire[{i}]"),
                "conflict",
                "the proposal also gives this scheme's file",
            ));
        } else {
            touched.push(id.clone());
        }
    }
    let new_schemes: Vec<&String> = touched.iter().filter(|s| !in_force.versions.contains_key(*s)).collect();
    if !actor.administers(touched.iter()) || (actor.role != Role::Admin && !new_schemes.is_empty()) {
        return Err(ApiError::refused(
            "not_your_scheme",
            "you may propose changes only to schemes assigned to you; an admin proposes new schemes",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let files: Vec<(String, String)> = asked.files.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
    let all = merged(in_force, &files, &asked.retire);
    let set = compile(&all).map_err(|d| crate::api::schemes::diagnostics_problem(&d))?;
    // Every example of every scheme passes (a change can break another scheme's examples
    // through `eligible(…)`).
    for report in examples::run(&set).iter().filter(|r| !r.passed()) {
        errors.push(FieldError::new(
            format!("files.{}", store::file_name(&report.scheme)),
            "example_failed",
            format!("example “{}” ({}): {}", report.name, report.location, report.problems.join("; ")),
        ));
    }
    if !restoring {
        for id in asked.files.keys().map(|n| scheme_of(n)) {
            let Some(i) = set.schemes.iter().position(|s| s.id == id) else { continue };
            let scheme = &set.schemes[i];
            for criterion in diff::changed_criteria(current.scheme(id), scheme) {
                let c = scheme.criteria.iter().position(|x| x.id == criterion).unwrap_or(0);
                let mut seen = [false; 3];
                let mut explanation = Explanation::default();
                for example in &scheme.examples {
                    let mut facts = example.facts.clone();
                    set.bind(example.as_of).explain(&mut facts, &mut explanation);
                    match explanation.results[i].outcomes.get(c) {
                        Some(Tri::True) => seen[0] = true,
                        Some(Tri::False) => seen[1] = true,
                        Some(Tri::Unknown) => seen[2] = true,
                        None => {}
                    }
                }
                // A criterion decided even for a household of which nothing is known (one
                // that tests `enrolled(…)` only, say) can never be unknown: no example can
                // show it so.
                let mut blank = crate::rules::dict::Facts::default();
                blank.members.push([crate::rules::num::UNKNOWN; crate::rules::dict::MEMBER_SLOTS]);
                set.bind(scheme.valid_from).explain(&mut blank, &mut explanation);
                if explanation.results[i].outcomes.get(c) != Some(&Tri::Unknown) {
                    seen[2] = true;
                }
                let lacking: Vec<&str> =
                    ["true", "false", "unknown"].iter().zip(seen).filter(|(_, s)| !s).map(|(w, _)| *w).collect();
                if !lacking.is_empty() {
                    errors.push(FieldError::new(
                        format!("files.{id}.yaml"),
                        "criterion_coverage",
                        format!(
                            "criterion `{criterion}` has no example where it is {}; add example households for it",
                            lacking.join(" or ")
                        ),
                    ));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let base = touched.iter().map(|s| (s.clone(), in_force.versions.get(s).cloned())).collect();
    Ok(Checked {
        summary,
        effective_from: effective_from.unwrap_or(today),
        files: asked.files,
        retire: asked.retire,
        base,
        set,
    })
}

/// Stores a checked proposal.
pub fn create(
    conn: &mut DbConnection,
    checked: &Checked,
    base_rules_version: &str,
    actor: &Actor<'_>,
    rollback_of: Option<&str>,
) -> QueryResult<ProposalRow> {
    let now = now_micros();
    let row = ProposalRow {
        id: uuid::Uuid::now_v7().to_string(),
        status: "proposed".into(),
        summary: checked.summary.clone(),
        effective_from: checked.effective_from,
        schemes: serde_json::to_string(&checked.base).unwrap_or_default(),
        files: serde_json::to_string(&checked.files).unwrap_or_default(),
        retire: serde_json::to_string(&checked.retire).unwrap_or_default(),
        base_rules_version: base_rules_version.to_string(),
        rollback_of: rollback_of.map(str::to_string),
        author_id: actor.id.to_string(),
        author: actor.username.to_string(),
        approved_report_id: None,
        activation_claimed_at: None,
        created_at: now,
        updated_at: now,
        activated_at: None,
    };
    per_backend!(conn, |c| diesel::insert_into(rule_proposals::table).values(&row).execute(c))?;
    Ok(row)
}

/// One proposal.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ProposalRow>> {
    rule_proposals::table.find(id).select(ProposalRow::as_select()).first(conn).optional()
}

/// A page of proposals, newest first, that `actor` may read.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor<'_>,
    status: Option<&str>,
    scheme: Option<&str>,
    limit: i64,
    cursor: Option<&str>,
) -> QueryResult<Vec<ProposalRow>> {
    let mut q = rule_proposals::table.select(ProposalRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(rule_proposals::status.eq(s.to_string()));
    }
    if let Some(s) = scheme {
        q = q.filter(rule_proposals::schemes.like(format!("%\"{s}\"%")));
    }
    if actor.role == Role::SchemeAdmin {
        // Their schemes only (the ids are checked `a-z 0-9 -`, so the pattern is literal).
        let mut any = Box::new(rule_proposals::author_id.eq(actor.id.to_string()))
            as Box<dyn BoxableExpression<rule_proposals::table, _, SqlType = diesel::sql_types::Bool>>;
        for s in actor.schemes {
            any = Box::new(any.or(rule_proposals::schemes.like(format!("%\"{s}\"%"))));
        }
        q = q.filter(any);
    }
    if let Some(c) = cursor {
        q = q.filter(rule_proposals::id.lt(c.to_string()));
    }
    q.order(rule_proposals::id.desc()).limit(limit).load(conn)
}

/// A decision on a proposal.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = rule_decisions)]
pub struct DecisionRow {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub proposal_id: String,
    /// `approval`, `rejection`, `withdrawal`, `hold` or `activation`.
    pub kind: String,
    #[serde(skip)]
    pub user_id: Option<String>,
    /// Who decided (`system` for an activation or hold by the scheduler).
    #[serde(rename = "by")]
    pub username: Option<String>,
    /// The comment or reason.
    pub comment: Option<String>,
    /// The report the approver saw (approval), or the approved report (hold).
    pub impact_report_id: Option<String>,
    /// The report computed at activation (hold, activation).
    pub activation_report_id: Option<String>,
    /// When.
    #[serde(rename = "at", serialize_with = "crate::domain::timestamp::utc")]
    pub decided_at: NaiveDateTime,
}

/// Records a decision.
pub fn record_decision(
    conn: &mut DbConnection,
    proposal: &str,
    kind: &str,
    actor: Option<(&str, &str)>,
    comment: Option<&str>,
    reports: (Option<&str>, Option<&str>),
) -> QueryResult<()> {
    let row = DecisionRow {
        id: uuid::Uuid::now_v7().to_string(),
        proposal_id: proposal.to_string(),
        kind: kind.to_string(),
        user_id: actor.map(|a| a.0.to_string()),
        username: Some(actor.map_or("system", |a| a.1).to_string()),
        comment: comment.map(str::to_string),
        impact_report_id: reports.0.map(str::to_string),
        activation_report_id: reports.1.map(str::to_string),
        decided_at: now_micros(),
    };
    per_backend!(conn, |c| diesel::insert_into(rule_decisions::table).values(&row).execute(c))?;
    Ok(())
}

/// A proposal's decisions, oldest first.
pub fn decisions(conn: &mut DbConnection, proposal: &str) -> QueryResult<Vec<DecisionRow>> {
    rule_decisions::table
        .filter(rule_decisions::proposal_id.eq(proposal))
        .order((rule_decisions::decided_at.asc(), rule_decisions::id.asc()))
        .select(DecisionRow::as_select())
        .load(conn)
}

/// Sets a proposal's status (and the approved report), checking it was `from`.
pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    from: &[&str],
    to: &str,
    approved_report: Option<&str>,
) -> Result<(), ApiError> {
    let now = now_micros();
    let changed = diesel::update(
        rule_proposals::table.find(id).filter(rule_proposals::status.eq_any(from.iter().map(|s| s.to_string()))),
    )
    .set((
        rule_proposals::status.eq(to),
        rule_proposals::approved_report_id.eq(approved_report),
        rule_proposals::activation_claimed_at.eq(None::<NaiveDateTime>),
        rule_proposals::updated_at.eq(now),
        rule_proposals::activated_at.eq((to == "active").then_some(now)),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::conflict("proposal_state", format!("the proposal is no longer {}", from.join(" or "))));
    }
    Ok(())
}

/// Checks that `actor` may approve or reject `proposal`: never its author, and only an
/// administrator of every scheme it touches, or an admin.
pub fn may_decide(proposal: &ProposalRow, actor: &Actor<'_>) -> Result<(), ApiError> {
    if proposal.author_id == actor.id {
        return Err(ApiError::refused(
            "own_proposal",
            "the author of a proposal can never approve or reject it: another administrator of its schemes, or an admin, decides",
        ));
    }
    let schemes = proposal.base_versions();
    // A new scheme has no administrators yet: an admin decides.
    let has_new = schemes.values().any(Option::is_none);
    if !actor.administers(schemes.keys()) || (has_new && actor.role != Role::Admin) {
        return Err(ApiError::refused(
            "not_your_scheme",
            "only another administrator of every scheme in the proposal, or an admin, decides on it",
        ));
    }
    Ok(())
}

/// An impact report's stored header.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = impact_reports)]
pub struct ReportRow {
    pub id: String,
    pub proposal_id: String,
    pub purpose: String,
    pub as_of: NaiveDate,
    pub district_code: Option<String>,
    pub rules_before: String,
    pub rules_after: String,
    pub before_versions: String,
    pub computed_by: String,
    pub computed_at: NaiveDateTime,
    pub body: String,
}

/// One report.
pub fn report(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ReportRow>> {
    impact_reports::table.find(id).select(ReportRow::as_select()).first(conn).optional()
}

/// A proposal's reports, oldest first.
pub fn reports_of(conn: &mut DbConnection, proposal: &str) -> QueryResult<Vec<ReportRow>> {
    impact_reports::table
        .filter(impact_reports::proposal_id.eq(proposal))
        .order(impact_reports::computed_at.asc())
        .select(ReportRow::as_select())
        .load(conn)
}

/// Checks the report an approver names: this proposal's, for the whole registry, under 24
/// hours old, and computed against the rules in force now.
pub fn check_report_for_approval(
    report: Option<&ReportRow>,
    proposal: &ProposalRow,
    rules_in_force: &str,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let Some(r) = report.filter(|r| r.proposal_id == proposal.id) else {
        return Err(ApiError::invalid_field(
            "impact_report_id",
            "unknown_report",
            "name an impact report of this proposal",
        ));
    };
    if r.district_code.is_some() {
        return Err(ApiError::invalid_field(
            "impact_report_id",
            "district_report",
            "approve on a report of the whole registry, not of one district",
        ));
    }
    if now - r.computed_at > REPORT_MAX_AGE {
        return Err(ApiError::conflict(
            "report_stale",
            "the impact report is more than 24 hours old; compute it again and read the new one",
        ));
    }
    if r.rules_before != rules_in_force {
        return Err(ApiError::conflict(
            "rules_changed",
            "the rules in force changed after the impact report was computed; compute it again",
        ));
    }
    Ok(())
}

/// The plain-language and text changes a proposal makes to the rules in force.
pub fn changes(
    proposal: &ProposalRow,
    current: &RuleSet,
    in_force: &InForce,
) -> (Vec<SchemeChange>, BTreeMap<String, String>) {
    let files = proposal.file_list();
    let mut out = Vec::new();
    let mut text = BTreeMap::new();
    // The proposed schemes compiled with the rules in force (when they still load).
    let proposed = compile(&merged(in_force, &files, &proposal.retired())).ok();
    for (name, body) in &files {
        let id = scheme_of(name);
        let before_text = in_force.text_of(id).unwrap_or("");
        text.insert(name.clone(), diff::unified(name, before_text, body));
        let after = proposed.as_ref().and_then(|s| s.scheme(id));
        match (current.scheme(id), after) {
            (Some(b), Some(a)) => {
                out.push(SchemeChange { scheme: id.into(), kind: "changed", items: diff::scheme(b, a) })
            }
            (None, Some(a)) => out.push(SchemeChange {
                scheme: id.into(),
                kind: "added",
                items: a
                    .criteria
                    .iter()
                    .map(|c| diff::Item {
                        what: "criterion_added",
                        name: c.id.clone(),
                        before: None,
                        after: Some(format!("{} ({})", c.rule, c.label.en)),
                    })
                    .collect(),
            }),
            _ => out.push(SchemeChange { scheme: id.into(), kind: "changed", items: Vec::new() }),
        }
    }
    for id in proposal.retired() {
        text.insert(
            store::file_name(&id),
            diff::unified(&store::file_name(&id), in_force.text_of(&id).unwrap_or(""), ""),
        );
        out.push(SchemeChange { scheme: id, kind: "retired", items: Vec::new() });
    }
    (out, text)
}
