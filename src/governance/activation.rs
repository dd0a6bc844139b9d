//! Impact reports as stored, and activation: an approved proposal takes effect at 00:00
//! Pakistan time on its date (at once when that is today or past), unless a freeze period
//! covers the day. Just before, its impact is computed again; if a headline count moved by
//! more than 2 % or more than 500 households from the approved report, the activation is held
//! and the proposal returns for approval with both reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{NaiveDate, TimeDelta};
use diesel::prelude::*;
use serde_json::{Value, json};

use super::impact::{self, Input};
use super::proposal::{self, ProposalRow, ReportRow};
use super::store::{self, InForce};
use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::db::schema::{impact_changes, impact_reports, rule_freezes, rule_proposals};
use crate::db::{DbConnection, DbPool, write_tx};
use crate::error::ApiError;
use crate::per_backend;
use crate::registry::warnings::today_in_pakistan;
use crate::rules::RuleSet;
use crate::screening::RulesHandle;

/// The engine version recorded with every report.
pub const ENGINE_VERSION: &str = concat!("sahulat ", env!("CARGO_PKG_VERSION"));
/// Households per chunk when computing an impact: memory grows with it (a few chunks per
/// reader are in flight), time hardly falls beyond it.
pub const CHUNK: i64 = 2_000;
/// Extra connections that read and decide chunks of an impact computation side by side
/// (fewer when the pool has fewer free).
pub const READERS: usize = 2;

/// What report to compute.
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    /// The date both rule sets are evaluated on.
    pub as_of: NaiveDate,
    /// One district, or the whole registry.
    pub district: Option<&'a str>,
    /// `review` or `activation`.
    pub purpose: &'a str,
    /// Who asked (`system` at activation).
    pub computed_by: &'a str,
    /// Households per chunk ([`CHUNK`]).
    pub chunk: i64,
    /// When the readers are connections to the streaming replica: how far its data was
    /// behind the primary's when the computation started (the report's `data_time` is that
    /// much earlier, and it says it read from the replica).
    pub replica_lag: Option<std::time::Duration>,
}

fn rfc3339(ts: chrono::NaiveDateTime) -> String {
    ts.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Computes and stores an impact report of `proposal` against the rules in force.
/// `readers` read and decide chunks side by side (see [`impact::compute`]).
pub fn compute_report<R: std::ops::DerefMut<Target = DbConnection> + Send>(
    conn: &mut DbConnection,
    readers: Vec<R>,
    proposal: &ProposalRow,
    (in_force, current): (&InForce, &RuleSet),
    ask: &Ask<'_>,
) -> Result<ReportRow, ApiError> {
    let Ask { as_of, district, purpose, computed_by, chunk, replica_lag } = *ask;
    let (_, after) = proposal.apply(in_force)?;
    let id = uuid::Uuid::now_v7().to_string();
    let focus: Vec<String> = proposal.base_versions().into_keys().collect();
    let started = now_micros();
    let input = Input {
        before: current,
        after: &after,
        as_of,
        district,
        focus: &focus,
        store_as: Some(&id),
        counts_only: false,
        chunk,
    };
    let outcome = match impact::compute(conn, readers, &input) {
        Ok(o) => o,
        Err(e) => {
            // The changes stored so far belong to no report.
            let _ = diesel::delete(impact_changes::table.filter(impact_changes::report_id.eq(&id))).execute(conn);
            return Err(ApiError::Internal(e));
        }
    };
    let finished = now_micros();
    let mut notes = vec![
        "Each household is in one class per scheme: gained (eligible now, not before), lost (eligible before, not eligible now), newly_undetermined (undetermined now, decided before, including households eligible before), resolved (undetermined before, not eligible now) or unchanged.".to_string(),
        format!("Breakdown cells of 1 to {} households are suppressed (null) with their samples; the per-scheme totals are exact.", impact::SUPPRESS_BELOW - 1),
        "Sex and age band are those of the head of household on the report's date.".to_string(),
    ];
    if district.is_some() {
        notes.push("One district only: an approval needs a report of the whole registry.".into());
    }
    let mut body = json!({
        "id": id,
        "proposal_id": proposal.id,
        "purpose": purpose,
        "as_of": as_of,
        "district": district,
        "computed_at": rfc3339(finished),
        "computed_by": computed_by,
        "data_time": rfc3339(started - chrono::Duration::from_std(replica_lag.unwrap_or_default()).unwrap_or_default()),
        "read_from": if replica_lag.is_some() { "replica" } else { "primary" },
        "seconds": (finished - started).num_milliseconds() as f64 / 1000.0,
        "stored_changes": outcome.stored_changes,
        "notes": notes,
    });
    if let Value::Object(map) = &mut body {
        map.extend(outcome.json(current, &after));
    }
    let row = ReportRow {
        id,
        proposal_id: proposal.id.clone(),
        purpose: purpose.to_string(),
        as_of,
        district_code: district.map(str::to_string),
        rules_before: current.version.clone(),
        rules_after: after.version.clone(),
        before_versions: serde_json::to_string(&in_force.versions).unwrap_or_default(),
        computed_by: computed_by.to_string(),
        computed_at: finished,
        body: body.to_string(),
    };
    per_backend!(conn, |c| diesel::insert_into(impact_reports::table).values(&row).execute(c))?;
    Ok(row)
}

/// One household of a report: each reported scheme's criteria under the rules in force when
/// the report was computed (the versions it recorded) and under the proposal, on today's
/// record of the household; with the stored change. Returns the trace and the household's
/// `(id, district)`.
pub fn trace(
    conn: &mut DbConnection,
    r: &ReportRow,
    p: &ProposalRow,
    number: &str,
) -> Result<(Value, (String, String)), ApiError> {
    use crate::db::schema::{households, impact_changes};
    let household = households::table
        .filter(households::household_number.eq(number))
        .select((households::id, households::district_code))
        .first::<(String, String)>(conn)
        .optional()?
        .filter(|(_, d)| r.district_code.as_ref().is_none_or(|x| x == d))
        .ok_or(ApiError::NotFound)?;
    // The rules before: the versions recorded with the report.
    let before_ids: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&r.before_versions).unwrap_or_default();
    let versions = store::versions(conn, &before_ids.values().cloned().collect::<Vec<_>>())?;
    let before_files: Vec<(String, String)> =
        versions.into_iter().filter_map(|v| v.body.map(|b| (v.file_name, b))).collect();
    let before_in_force = store::InForce { files: before_files.clone(), versions: before_ids, generation: 0 };
    let before = crate::governance::compile(&before_files).map_err(|d| crate::api::schemes::diagnostics_problem(&d))?;
    let after_files = crate::governance::merged(&before_in_force, &p.file_list(), &p.retired());
    let after = crate::governance::compile(&after_files).map_err(|d| crate::api::schemes::diagnostics_problem(&d))?;
    let row: crate::registry::model::HouseholdRow =
        households::table.find(&household.0).select(crate::registry::model::HouseholdRow::as_select()).first(conn)?;
    let members = crate::registry::model::RuleMembers::by_household(crate::registry::repo::current_member_facts(
        conn,
        std::slice::from_ref(&household.0),
    )?)
    .remove(&household.0)
    .unwrap_or_default();
    let facts = crate::screening::store::facts_from_fields(&row, &members);
    let enrolled: Vec<String> = crate::db::schema::referrals::table
        .filter(crate::db::schema::referrals::household_id.eq(&household.0))
        .filter(crate::db::schema::referrals::status.eq("enrolled"))
        .select(crate::db::schema::referrals::scheme_id)
        .load(conn)?;
    let body: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    let schemes: Vec<String> = body["schemes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["scheme"].as_str().map(str::to_string))
        .collect();
    let trace = |set: &crate::rules::RuleSet, id: &str| -> Value {
        let Some(i) = set.schemes.iter().position(|s| s.id == id) else {
            return json!({"status": Value::Null, "criteria": [], "missing": []});
        };
        let mut f = facts.clone();
        f.enrolled = enrolled.iter().filter_map(|s| set.schemes.iter().position(|x| x.id == *s)).collect();
        let mut e = crate::rules::Explanation::default();
        set.bind(r.as_of).explain(&mut f, &mut e);
        let result = &e.results[i];
        let s = &set.schemes[i];
        json!({
            "status": result.status.map(|s| s.as_str()),
            "criteria": s.criteria.iter().zip(&result.outcomes).map(|(c, o)| json!({"id": c.id, "label": c.label, "outcome": o.known()})).collect::<Vec<_>>(),
            "missing": result.missing.iter().map(|m| m.field).collect::<Vec<_>>(),
        })
    };
    let stored: Vec<(String, String)> = impact_changes::table
        .filter(impact_changes::report_id.eq(&r.id))
        .filter(impact_changes::household_id.eq(&household.0))
        .select((impact_changes::scheme_id, impact_changes::change))
        .load(conn)?;
    let out = json!({
        "report_id": r.id,
        "household_number": number,
        "as_of": r.as_of,
        "changes": stored.iter().map(|(s, c)| json!({"scheme": s, "change": c})).collect::<Vec<_>>(),
        "schemes": schemes.iter().map(|id| json!({"scheme": id, "before": trace(&before, id), "after": trace(&after, id)})).collect::<Vec<_>>(),
    });
    Ok((out, household))
}

/// Whether `now` moved from `approved` by more than 2 % or more than 500 households on any
/// headline count of any scheme; returns what moved.
pub fn drift(approved: &Value, now: &Value) -> Vec<String> {
    let mut moved = Vec::new();
    let schemes = |v: &Value| v["schemes"].as_array().cloned().unwrap_or_default();
    let (a, b) = (schemes(approved), schemes(now));
    let ids: std::collections::BTreeSet<String> =
        a.iter().chain(&b).filter_map(|s| s["scheme"].as_str().map(str::to_string)).collect();
    for id in ids {
        let find = |list: &[Value]| list.iter().find(|s| s["scheme"] == id.as_str()).cloned().unwrap_or(Value::Null);
        let (x, y) = (find(&a), find(&b));
        for class in ["gained", "lost", "newly_undetermined", "resolved"] {
            let (was, is) = (x[class].as_u64().unwrap_or(0), y[class].as_u64().unwrap_or(0));
            let change = was.abs_diff(is);
            if change > 500 || change * 50 > was {
                moved.push(format!("{id}: {class} {was} → {is}"));
            }
        }
    }
    moved
}

/// The freeze period covering `day`, if any: `(id, reason)`.
pub fn freeze_on(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<Option<(String, String)>> {
    rule_freezes::table
        .filter(rule_freezes::lifted_at.is_null())
        .filter(rule_freezes::starts_on.le(day))
        .filter(rule_freezes::ends_on.ge(day))
        .select((rule_freezes::id, rule_freezes::reason))
        .first(conn)
        .optional()
}

/// What happened to one due proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activated {
    /// In force (the new rule-set version).
    Active(String),
    /// Held: the impact moved (what moved), or the rules it changes moved.
    Held(Vec<String>),
}

/// Background activation for one instance: at most one pass at a time; an approval nudges
/// it so a change due today does not wait for the next tick.
#[derive(Clone)]
pub struct Activator {
    pub pool: DbPool,
    pub key: AuditKey,
    pub rescreen_running: Arc<AtomicBool>,
    running: Arc<AtomicBool>,
    nudge: Arc<AtomicBool>,
}

impl Activator {
    /// An activator over the service's pool.
    pub fn new(pool: DbPool, key: AuditKey, rescreen_running: Arc<AtomicBool>) -> Self {
        Self { pool, key, rescreen_running, running: Arc::default(), nudge: Arc::default() }
    }

    /// Asks for a pass soon (after an approval).
    pub fn nudge(&self) {
        self.nudge.store(true, Ordering::SeqCst);
    }

    /// Whether a pass was asked for (and clears the request).
    pub fn nudged(&self) -> bool {
        self.nudge.swap(false, Ordering::SeqCst)
    }

    /// Runs a pass on its own thread unless one is running.
    pub fn run_in_background(&self, rules: Arc<RulesHandle>) {
        if self.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        std::thread::spawn(move || {
            if let Err(error) = me.activate_due(&rules, today_in_pakistan()) {
                tracing::warn!(%error, "activating the approved rule changes failed; retrying later");
            }
            me.running.store(false, Ordering::SeqCst);
        });
    }

    /// Activates every approved proposal due on `today` (oldest date first), unless a freeze
    /// period covers it.
    pub fn activate_due(&self, rules: &RulesHandle, today: NaiveDate) -> anyhow::Result<Vec<(String, Activated)>> {
        let mut conn = self.pool.get()?;
        let due: Vec<String> = rule_proposals::table
            .filter(rule_proposals::status.eq("approved"))
            .filter(rule_proposals::effective_from.le(today))
            .order((rule_proposals::effective_from.asc(), rule_proposals::id.asc()))
            .select(rule_proposals::id)
            .load(&mut conn)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        if let Some((freeze, reason)) = freeze_on(&mut conn, today)? {
            tracing::info!(%freeze, %reason, waiting = due.len(), "a freeze period holds the rule changes due");
            return Ok(Vec::new());
        }
        let mut done = Vec::new();
        for id in due {
            // Claim it: one instance activates it; a claim older than 30 minutes is stale.
            let now = now_micros();
            let stale = now - TimeDelta::minutes(30);
            let claimed =
                diesel::update(rule_proposals::table.find(&id).filter(rule_proposals::status.eq("approved")).filter(
                    rule_proposals::activation_claimed_at.is_null().or(rule_proposals::activation_claimed_at.lt(stale)),
                ))
                .set(rule_proposals::activation_claimed_at.eq(now))
                .execute(&mut conn)?;
            if claimed == 0 {
                continue;
            }
            let outcome = self.activate_one(&mut conn, rules, &id, today);
            if outcome.is_err() {
                let _ = diesel::update(rule_proposals::table.find(&id))
                    .set(rule_proposals::activation_claimed_at.eq(None::<chrono::NaiveDateTime>))
                    .execute(&mut conn);
            }
            done.push((id, outcome.map_err(|e| anyhow::anyhow!("{e}"))?));
        }
        Ok(done)
    }

    fn activate_one(
        &self,
        conn: &mut DbConnection,
        rules: &RulesHandle,
        id: &str,
        today: NaiveDate,
    ) -> Result<Activated, ApiError> {
        let p = proposal::find(conn, id)?.ok_or(ApiError::NotFound)?;
        let in_force = store::read_in_force(conn)?;
        let current = super::compile(&in_force.files).map_err(|d| crate::api::schemes::diagnostics_problem(&d))?;
        let ctx = AuditContext::system();
        let approved = match p.approved_report_id.as_deref() {
            Some(r) => proposal::report(conn, r)?,
            None => None,
        };
        let readers: Vec<_> = (0..READERS).filter_map(|_| self.pool.try_get()).collect();
        let report = match compute_report(
            conn,
            readers,
            &p,
            (&in_force, &current),
            &Ask {
                as_of: today,
                district: None,
                purpose: "activation",
                computed_by: "system",
                chunk: CHUNK,
                replica_lag: None,
            },
        ) {
            Ok(r) => Some(r),
            Err(ApiError::Conflict { detail, .. }) => {
                self.hold(conn, &p, approved.as_ref(), None, vec![detail])?;
                return Ok(Activated::Held(Vec::new()));
            }
            Err(e) => return Err(e),
        };
        let report = report.ok_or(ApiError::NotFound)?;
        let parse =
            |r: Option<&ReportRow>| r.and_then(|r| serde_json::from_str::<Value>(&r.body).ok()).unwrap_or(Value::Null);
        let moved = drift(&parse(approved.as_ref()), &parse(Some(&report)));
        if !moved.is_empty() {
            self.hold(conn, &p, approved.as_ref(), Some(&report), moved.clone())?;
            return Ok(Activated::Held(moved));
        }
        let (_, after) = p.apply(&in_force)?;
        let files = p.file_list();
        let retired = p.retired();
        let mut new: Vec<store::NewFile> = files
            .iter()
            .map(|(name, text)| store::NewFile { scheme: super::scheme_of(name), body: Some(text.as_str()) })
            .collect();
        new.extend(retired.iter().map(|s| store::NewFile { scheme: s, body: None }));
        let approver =
            proposal::decisions(conn, &p.id)?.into_iter().rev().find(|d| d.kind == "approval").and_then(|d| d.username);
        let key = self.key.clone();
        write_tx(conn, |c| -> Result<(), ApiError> {
            let who = store::Provenance {
                proposal_id: Some(&p.id),
                summary: &p.summary,
                proposed_by: Some(&p.author),
                approved_by: approver.as_deref(),
                activated_by: "system",
                effective_from: p.effective_from,
            };
            let versions = store::activate(c, &new, &who, &after.version)?;
            proposal::set_status(c, &p.id, &["approved"], "active", p.approved_report_id.as_deref())?;
            proposal::record_decision(
                c,
                &p.id,
                "activation",
                None,
                None,
                (p.approved_report_id.as_deref(), Some(&report.id)),
            )?;
            let event = Event::new("rule_activate").object("rule_proposal", &p.id).details(json!({
                "schemes": p.base_versions().keys().collect::<Vec<_>>(),
                "versions": versions,
                "rules_before": current.version,
                "rules_after": after.version,
                "approved_report": p.approved_report_id,
                "activation_report": report.id,
            }));
            audit::record(c, &key, &ctx, &event)?;
            Ok(())
        })?;
        let generation = store::generation(conn)?;
        let version = after.version.clone();
        let loaded = rules.install(after, generation);
        tracing::info!(proposal = %p.id, %version, "rule change activated");
        self.rescreen(loaded, today);
        Ok(Activated::Active(version))
    }

    fn hold(
        &self,
        conn: &mut DbConnection,
        p: &ProposalRow,
        approved: Option<&ReportRow>,
        report: Option<&ReportRow>,
        moved: Vec<String>,
    ) -> Result<(), ApiError> {
        let key = self.key.clone();
        write_tx(conn, |c| -> Result<(), ApiError> {
            proposal::set_status(c, &p.id, &["approved"], "proposed", None)?;
            let comment = format!("held at activation: {}", moved.join("; "));
            proposal::record_decision(
                c,
                &p.id,
                "hold",
                None,
                Some(&comment),
                (approved.map(|r| r.id.as_str()), report.map(|r| r.id.as_str())),
            )?;
            let event = Event::new("rule_hold").object("rule_proposal", &p.id).details(json!({
                "moved": moved,
                "approved_report": approved.map(|r| &r.id),
                "activation_report": report.map(|r| &r.id),
            }));
            audit::record(c, &key, &AuditContext::system(), &event)?;
            Ok(())
        })?;
        tracing::warn!(proposal = %p.id, "rule change held at activation: its impact moved");
        Ok(())
    }

    /// Re-screens the registry with the rules just activated (unless a job is running: then
    /// the next job started picks the new rules).
    fn rescreen(&self, loaded: Arc<crate::screening::LoadedRules>, today: NaiveDate) {
        if self.rescreen_running.swap(true, Ordering::SeqCst) {
            tracing::warn!("a re-screening job is running; start another to apply the new rules everywhere");
            return;
        }
        let outcome = self.pool.get().map_err(anyhow::Error::from).and_then(|mut conn| {
            let (id, resumed) = crate::screening::rescreen::prepare(&mut conn, &loaded.set, today, None)?;
            let event = Event::new("rescreen_start").object("rescreen", &id).details(json!({
                "as_of": today, "district": Value::Null, "resumed": resumed,
                "rules_version": loaded.set.version, "trigger": "rule_activation",
            }));
            audit::record(&mut conn, &self.key, &AuditContext::system(), &event)?;
            let readers: Vec<_> = (0..2).filter_map(|_| self.pool.try_get()).collect();
            crate::screening::rescreen::continue_observed(&mut conn, readers, &loaded.set, &id, 1000)
        });
        match outcome {
            Ok(report) => {
                tracing::info!(run = %report.id, processed = report.processed, written = report.written, "re-screening after activation finished")
            }
            Err(error) => tracing::warn!(%error, "re-screening after activation stopped; start it again to resume"),
        }
        self.rescreen_running.store(false, Ordering::SeqCst);
    }
}
