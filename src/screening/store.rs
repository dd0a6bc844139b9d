//! Stored screenings and each household's current decisions.
//!
//! A household's decisions live in one compact row (`household_decisions`: the rule-set
//! version, the date, and the ids of the schemes it is eligible for or undetermined on; every
//! other active scheme is not eligible). The row is brought up to date in the transaction of
//! every change to the household and of every screening, and each change of status for a
//! scheme is recorded in `decision_changes`. The row also keeps what each undetermined scheme
//! waits for (`missing`: the registry fields that would decide it, worked out in explained
//! mode; see [`parse_missing`]). Screenings a clerk asks for are kept whole (`screenings`),
//! with the household version they saw, so the latest one is re-done when the household or
//! the rules have changed since.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{LoadedRules, MemberNames, screen};
use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::db::DbConnection;
use crate::db::schema::{decision_changes, household_decisions, screenings};
use crate::error::ApiError;
use crate::per_backend;
use crate::registry::model::{HouseholdFields, HouseholdRow, MemberFields, MemberRow, RuleMembers, STATUS_CURRENT};
use crate::registry::repo::{self, Scope};
use crate::rules::dict::Facts;
use crate::rules::{Bound, Explanation, Missing, RuleSet, Status};

/// As a changeset it leaves `household_id` out: an upsert never rewrites the key (Citus
/// refuses any write to a distribution column, even of the same value).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = household_decisions, primary_key(household_id))]
pub(crate) struct DecisionRow {
    pub(crate) household_id: String,
    pub(crate) household_version: i64,
    pub(crate) rules_version: String,
    pub(crate) as_of: NaiveDate,
    pub(crate) eligible: String,
    pub(crate) undetermined: String,
    pub(crate) decided_at: NaiveDateTime,
    /// What the undetermined schemes wait for ([`encode_missing`]); `None` only in rows
    /// written before the column existed.
    pub(crate) missing: Option<String>,
    /// The current members as the monitoring reports count them ([`profile_of`]); `None`
    /// only in rows written before the column existed.
    pub(crate) profile: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = screenings)]
struct ScreeningRow {
    id: String,
    household_id: String,
    household_version: i64,
    as_of: NaiveDate,
    rules_version: String,
    result: String,
    screened_by: String,
    screened_at: NaiveDateTime,
}

/// A recorded change of a household's status for one scheme.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, ToSchema)]
#[diesel(table_name = decision_changes)]
pub struct DecisionChange {
    /// Change id.
    #[serde(skip)]
    pub id: String,
    /// Household.
    #[serde(skip)]
    pub household_id: String,
    /// Scheme id.
    #[serde(rename = "scheme")]
    pub scheme_id: String,
    /// Status before (`null`: no decision recorded before).
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Rule-set version that decided it.
    pub rules_version: String,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// `screening`, `household_change` or `refresh`.
    pub cause: String,
    /// When.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub changed_at: NaiveDateTime,
}

/// A household's current decisions and their recent changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decisions {
    /// Household id.
    pub household_id: String,
    /// The household version they were decided on.
    pub household_version: i64,
    /// Rule-set version.
    pub rules_version: String,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// When decided.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub decided_at: NaiveDateTime,
    /// Schemes the household is eligible for.
    pub eligible: Vec<String>,
    /// Schemes that wait for missing information.
    pub undetermined: Vec<String>,
    /// The latest changes of status, newest first (at most 100).
    pub changes: Vec<DecisionChange>,
}

/// Who is asking: the audit key and context, and the caller's district scope.
pub struct Caller<'a> {
    /// Audit chain key.
    pub key: &'a AuditKey,
    /// Audit context of the request.
    pub ctx: &'a AuditContext,
    /// The caller's districts.
    pub scope: &'a Scope,
}

/// A stored household's facts (current members) and its members' ids in the same order.
pub fn facts_of(row: &HouseholdRow, members: &[MemberRow]) -> (Facts, Vec<String>) {
    let ids = members.iter().filter(|m| m.status == STATUS_CURRENT).map(|m| m.id.clone()).collect();
    (facts_from_fields(row, &RuleMembers::from_rows(members)), ids)
}

/// A stored household's facts from its current members' fields and its deceased member.
pub fn facts_from_fields(row: &HouseholdRow, members: &RuleMembers) -> Facts {
    let mut facts = Facts::default();
    facts.fill_from_registry(&row.district_code, &HouseholdFields::from_row(row), &members.current);
    facts.fill_deceased(members.deceased.as_ref());
    facts
}

/// A stored household's facts with its enrolments (referrals that ended `enrolled`), which
/// rules read through `enrolled("…")`.
pub fn stored_facts(
    conn: &mut DbConnection,
    rules: &RuleSet,
    row: &HouseholdRow,
    members: &[MemberRow],
) -> QueryResult<(Facts, Vec<String>)> {
    use crate::db::schema::referrals;
    let (mut facts, ids) = facts_of(row, members);
    let schemes: Vec<String> = referrals::table
        .filter(referrals::household_id.eq(&row.id))
        .filter(referrals::status.eq("enrolled"))
        .select(referrals::scheme_id)
        .load(conn)?;
    facts.enrolled = schemes.iter().filter_map(|s| rules.schemes.iter().position(|x| x.id == *s)).collect();
    Ok((facts, ids))
}

/// The scheme ids of a comma-separated decisions list (`eligible`, `undetermined`).
pub(crate) fn ids(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|s| !s.is_empty())
}

/// The decisions row for one household from batch-mode statuses (one per scheme) and the
/// encoded missing fields of its undetermined schemes ([`missing_of`]).
pub(crate) fn decision_row(
    rules: &RuleSet,
    bound: &Bound,
    statuses: &[Status],
    row: (&str, i64),
    (as_of, now): (NaiveDate, NaiveDateTime),
    missing: String,
    members: &[MemberFields],
) -> DecisionRow {
    let pick = |want: Status| -> String {
        rules
            .schemes
            .iter()
            .zip(statuses)
            .enumerate()
            .filter(|(i, (_, s))| bound.is_active(*i) && **s == want)
            .map(|(_, (scheme, _))| scheme.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    DecisionRow {
        household_id: row.0.to_string(),
        household_version: row.1,
        rules_version: rules.version.clone(),
        as_of,
        eligible: pick(Status::Eligible),
        undetermined: pick(Status::Undetermined),
        decided_at: now,
        missing: Some(missing),
        profile: Some(profile_of(members)),
    }
}

/// The reports' profile of a household's current members (`crate::reports::profile`).
pub(crate) fn profile_of(members: &[MemberFields]) -> String {
    crate::reports::profile::encode(members.iter().map(|m| crate::reports::profile::Person {
        sex: m.sex.as_str(),
        date_of_birth: m.date_of_birth,
        disability: m.disability.map(|d| d.as_str()),
        is_pregnant: m.is_pregnant,
        is_lactating: m.is_lactating,
    }))
}

/// Encodes what undetermined schemes wait for, as `household_decisions.missing` keeps it:
/// `scheme-id:field+field;scheme-id:field`. One entry per scheme given (the caller passes
/// the undetermined active schemes, in rule-set order); each registry field name once per
/// scheme, in first-seen order, whatever member it belongs to. An undetermined scheme with
/// no field to collect (an unknown parameter) is written `scheme-id:`. Nothing undetermined
/// is the empty string. Scheme ids are lower-case letters, digits and `-`, and field names
/// lower-case letters, digits and `_`, so the separators never occur inside them.
pub(crate) fn encode_missing<'a>(schemes: impl IntoIterator<Item = (&'a str, &'a [Missing])>) -> String {
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for (n, (scheme, missing)) in schemes.into_iter().enumerate() {
        if n > 0 {
            out.push(';');
        }
        out.push_str(scheme);
        out.push(':');
        seen.clear();
        for m in missing {
            if seen.contains(&m.field) {
                continue;
            }
            if !seen.is_empty() {
                out.push('+');
            }
            out.push_str(m.field);
            seen.push(m.field);
        }
    }
    out
}

/// Reads `household_decisions.missing` back: each undetermined scheme (in rule-set order)
/// with the registry fields it waits for (each once, possibly none). The text is
/// `scheme-id:field+field;scheme-id:field`, and `''` when nothing is undetermined.
pub fn parse_missing(text: &str) -> impl Iterator<Item = (&str, impl Iterator<Item = &str> + Clone)> {
    text.split(';').filter(|entry| !entry.is_empty()).map(|entry| {
        let (scheme, fields) = entry.split_once(':').unwrap_or((entry, ""));
        (scheme, fields.split('+').filter(|f| !f.is_empty()))
    })
}

/// What the household's undetermined schemes wait for, encoded ([`encode_missing`]).
/// `statuses` are its batch-mode statuses (they decide which schemes are undetermined);
/// explained mode runs over `facts` only when one is, reusing `explanation`.
pub(crate) fn missing_of(
    bound: &Bound,
    facts: &mut Facts,
    statuses: &[Status],
    explanation: &mut Explanation,
) -> String {
    let undetermined = |i: usize| bound.is_active(i) && statuses[i] == Status::Undetermined;
    if !(0..statuses.len()).any(undetermined) {
        return String::new();
    }
    bound.explain(facts, explanation);
    let schemes = bound.rules.schemes.iter().zip(&explanation.results).enumerate().filter(|(i, (_, result))| {
        debug_assert_eq!(
            result.status.unwrap_or(Status::NotEligible),
            statuses[*i],
            "explain() and statuses() disagree"
        );
        undetermined(*i)
    });
    encode_missing(schemes.map(|(_, (scheme, result))| (scheme.id.as_str(), result.missing.as_slice())))
}

/// A scheme's status in a decisions row.
pub(crate) fn status_in(d: &DecisionRow, scheme: &str) -> &'static str {
    if ids(&d.eligible).any(|s| s == scheme) {
        "eligible"
    } else if ids(&d.undetermined).any(|s| s == scheme) {
        "undetermined"
    } else {
        "not_eligible"
    }
}

/// The changes of status from `old` to `new` (none for a household's first decisions).
pub(crate) fn changes_between(
    rules: &RuleSet,
    old: Option<&DecisionRow>,
    new: &DecisionRow,
    cause: &str,
) -> Vec<DecisionChange> {
    let Some(old) = old else { return Vec::new() };
    let change = |scheme: &str, from: &str, to: &str| DecisionChange {
        id: uuid::Uuid::now_v7().to_string(),
        household_id: new.household_id.clone(),
        scheme_id: scheme.to_string(),
        from_status: Some(from.to_string()),
        to_status: to.to_string(),
        rules_version: new.rules_version.clone(),
        as_of: new.as_of,
        cause: cause.to_string(),
        changed_at: new.decided_at,
    };
    let mut changes = Vec::new();
    for scheme in &rules.schemes {
        let (was, is) = (status_in(old, &scheme.id), status_in(new, &scheme.id));
        if was != is {
            changes.push(change(&scheme.id, was, is));
        }
    }
    // Schemes no longer in the rule set that the household was eligible or waiting for.
    for gone in ids(&old.eligible).chain(ids(&old.undetermined)).filter(|s| rules.scheme(s).is_none()) {
        changes.push(change(gone, status_in(old, gone), "not_eligible"));
    }
    changes
}

/// The update of a decisions upsert: every column from the row offered (`excluded`), so each
/// value is sent once. (A macro: the tuple's type is not nameable.)
macro_rules! from_excluded {
    () => {{
        use diesel::upsert::excluded;
        use household_decisions as d;
        (
            d::household_version.eq(excluded(d::household_version)),
            d::rules_version.eq(excluded(d::rules_version)),
            d::as_of.eq(excluded(d::as_of)),
            d::eligible.eq(excluded(d::eligible)),
            d::undetermined.eq(excluded(d::undetermined)),
            d::decided_at.eq(excluded(d::decided_at)),
            d::missing.eq(excluded(d::missing)),
            d::profile.eq(excluded(d::profile)),
        )
    }};
}

/// How a decisions row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// The household was registered in this transaction: no other transaction can see it, so
    /// it has no decisions row yet and a plain INSERT does (half the statement an upsert is,
    /// which on Citus the coordinator writes out in full for the worker to parse).
    New,
    /// The row may exist: an upsert.
    Upsert,
}

/// Writes a decisions row and its changes.
pub(crate) fn write_decisions(
    conn: &mut DbConnection,
    new: &DecisionRow,
    changes: &[DecisionChange],
    write: Write,
) -> QueryResult<()> {
    if !changes.is_empty() {
        per_backend!(conn, |c| diesel::insert_into(decision_changes::table).values(changes).execute(c))?;
    }
    match write {
        Write::New => per_backend!(conn, |c| diesel::insert_into(household_decisions::table).values(new).execute(c))?,
        Write::Upsert => per_backend!(conn, |c| diesel::insert_into(household_decisions::table)
            .values(new)
            .on_conflict(household_decisions::household_id)
            .do_update()
            .set(from_excluded!())
            .execute(c))?,
    };
    Ok(())
}

/// Writes many households' decisions and their changes (a re-screening chunk): multi-row
/// upserts on PostgreSQL, one prepared statement per row on SQLite (in-process, no round
/// trips to save). Call inside the chunk's transaction.
pub(crate) fn write_decisions_batch(
    conn: &mut DbConnection,
    rows: &[DecisionRow],
    changes: &[DecisionChange],
) -> QueryResult<()> {
    const CHUNK: usize = 1_000;
    for chunk in changes.chunks(CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(decision_changes::table).values(chunk).execute(c))?;
    }
    match conn {
        DbConnection::Postgres(c) => {
            for chunk in rows.chunks(CHUNK) {
                diesel::insert_into(household_decisions::table)
                    .values(chunk)
                    .on_conflict(household_decisions::household_id)
                    .do_update()
                    .set(from_excluded!())
                    .execute(c)?;
            }
        }
        DbConnection::Sqlite(_) => {
            for row in rows {
                write_decisions(conn, row, &[], Write::Upsert)?;
            }
        }
    }
    Ok(())
}

/// The stored decisions of the households whose id is in `(after, upto]`.
pub(crate) fn decisions_in_range(
    conn: &mut DbConnection,
    after: Option<&str>,
    upto: &str,
) -> QueryResult<Vec<DecisionRow>> {
    let mut query =
        household_decisions::table.filter(household_decisions::household_id.le(upto.to_string())).into_boxed();
    if let Some(after) = after {
        query = query.filter(household_decisions::household_id.gt(after.to_string()));
    }
    query.select(DecisionRow::as_select()).load(conn)
}

/// The stored decisions of households, by id.
pub(crate) fn decisions_of(conn: &mut DbConnection, household_ids: &[String]) -> QueryResult<Vec<DecisionRow>> {
    household_decisions::table
        .filter(household_decisions::household_id.eq_any(household_ids))
        .select(DecisionRow::as_select())
        .load(conn)
}

/// Brings the household's decisions up to date with `rules` at `as_of`, recording each change
/// of status. Call it inside the transaction that changed the household.
pub fn refresh(
    conn: &mut DbConnection,
    rules: &RuleSet,
    row: &HouseholdRow,
    members: &[MemberRow],
    as_of: NaiveDate,
    cause: &str,
) -> QueryResult<()> {
    let (facts, _) = stored_facts(conn, rules, row, members)?;
    let old: Option<DecisionRow> =
        household_decisions::table.find(&row.id).select(DecisionRow::as_select()).first(conn).optional()?;
    decide_and_write(conn, rules, (row, members, facts), as_of, old.as_ref(), cause, Write::Upsert)
}

/// Decides a household from its facts and writes its decisions, with the changes from
/// `old` (its stored decisions, if any).
fn decide_and_write(
    conn: &mut DbConnection,
    rules: &RuleSet,
    (row, members, mut facts): (&HouseholdRow, &[MemberRow], Facts),
    as_of: NaiveDate,
    old: Option<&DecisionRow>,
    cause: &str,
    write: Write,
) -> QueryResult<()> {
    let bound = rules.bind(as_of);
    let mut statuses = Vec::new();
    bound.statuses(&mut facts, &mut statuses);
    let missing = missing_of(&bound, &mut facts, &statuses, &mut Explanation::default());
    let current: Vec<MemberFields> =
        members.iter().filter(|m| m.status == STATUS_CURRENT).map(MemberFields::from_row).collect();
    let new = decision_row(rules, &bound, &statuses, (&row.id, row.version), (as_of, now_micros()), missing, &current);
    let changes = changes_between(rules, old, &new, cause);
    write_decisions(conn, &new, &changes, write)
}

/// After a registration (in this transaction): the new household's decisions, decided for
/// today from the rows just written. Nothing else is stored about it yet (no referral, so no
/// enrolment; no decisions, so no change of status), so unlike [`after_change`] nothing is
/// read back: on Citus each read is a round trip from the coordinator to a worker.
pub fn after_register(
    conn: &mut DbConnection,
    rules: &RuleSet,
    row: &HouseholdRow,
    members: &[MemberRow],
    today: NaiveDate,
) -> QueryResult<()> {
    let (facts, _) = facts_of(row, members);
    decide_and_write(conn, rules, (row, members, facts), today, None, "household_change", Write::New)
}

/// After a write to a household (already authorised and done in this transaction): its
/// decisions follow, decided for today.
pub fn after_change(
    conn: &mut DbConnection,
    rules: &RuleSet,
    household_id: &str,
    today: NaiveDate,
) -> Result<(), ApiError> {
    after(conn, rules, household_id, today, "household_change")
}

/// After an enrolment (a referral that ended `enrolled`): rules that read `enrolled("…")`
/// decide again.
pub fn after_enrolment(
    conn: &mut DbConnection,
    rules: &RuleSet,
    household_id: &str,
    today: NaiveDate,
) -> Result<(), ApiError> {
    after(conn, rules, household_id, today, "enrolment")
}

fn after(
    conn: &mut DbConnection,
    rules: &RuleSet,
    household_id: &str,
    today: NaiveDate,
    cause: &str,
) -> Result<(), ApiError> {
    let row = repo::find_household(conn, &Scope::All, household_id)?.ok_or(ApiError::NotFound)?;
    let members = repo::members_of(conn, household_id, false)?;
    Ok(refresh(conn, rules, &row, &members, today, cause)?)
}

/// Screens a stored household at `as_of`, keeps the result and brings its decisions up to
/// date. Returns the API body: the screening with its id, time and author.
pub fn screen_stored(
    conn: &mut DbConnection,
    caller: &Caller,
    rules: &LoadedRules,
    household_id: &str,
    as_of: NaiveDate,
    cause: &str,
) -> Result<Value, ApiError> {
    let row = repo::find_household(conn, caller.scope, household_id)?.ok_or(ApiError::NotFound)?;
    let members = repo::members_of(conn, household_id, false)?;
    let (mut facts, member_ids) = stored_facts(conn, &rules.set, &row, &members)?;
    let result = screen(&rules.set, as_of, &mut facts, Some(row.id.clone()), MemberNames::Ids(&member_ids));
    refresh(conn, &rules.set, &row, &members, as_of, cause)?;
    // The answer is built from this value, not by parsing the stored text back.
    let value = serde_json::to_value(&result).map_err(anyhow::Error::from)?;
    let stored = ScreeningRow {
        id: uuid::Uuid::now_v7().to_string(),
        household_id: row.id.clone(),
        household_version: row.version,
        as_of,
        rules_version: rules.set.version.clone(),
        result: value.to_string(),
        screened_by: caller.ctx.username.clone().unwrap_or_default(),
        screened_at: now_micros(),
    };
    per_backend!(conn, |c| diesel::insert_into(screenings::table).values(&stored).execute(c))?;
    let event =
        Event::new("household_screen").object("household", &row.id).district(&row.district_code).details(json!({
            "screening_id": stored.id,
            "as_of": as_of,
            "rules_version": stored.rules_version,
            "cause": cause,
            "eligible": result.summary.eligible,
            "undetermined": result.summary.undetermined,
        }));
    audit::record(conn, caller.key, caller.ctx, &event)?;
    Ok(with_metadata(value, &stored))
}

fn body(row: &ScreeningRow) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_str(&row.result).map_err(anyhow::Error::from)?;
    Ok(with_metadata(value, row))
}

/// A stored screening's result with its id, household version, author and time.
fn with_metadata(mut value: Value, row: &ScreeningRow) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("screening_id".into(), json!(row.id));
        map.insert("household_version".into(), json!(row.household_version));
        map.insert("screened_by".into(), json!(row.screened_by));
        map.insert("screened_at".into(), json!(row.screened_at.and_utc()));
    }
    value
}

/// The latest screening of a household. If the household or the rules changed after it (or
/// it was never screened), it is screened again for today first: a clerk never reads a stale
/// decision.
pub fn latest(
    conn: &mut DbConnection,
    caller: &Caller,
    rules: &LoadedRules,
    household_id: &str,
    today: NaiveDate,
) -> Result<Value, ApiError> {
    let row = repo::find_household(conn, caller.scope, household_id)?.ok_or(ApiError::NotFound)?;
    let last: Option<ScreeningRow> = screenings::table
        .filter(screenings::household_id.eq(household_id))
        .order(screenings::id.desc())
        .select(ScreeningRow::as_select())
        .first(conn)
        .optional()?;
    // An enrolment after the screening can change `enrolled("…")` criteria.
    let enrolled_since = |s: &ScreeningRow, conn: &mut DbConnection| -> QueryResult<bool> {
        use crate::db::schema::referrals;
        let count: i64 = referrals::table
            .filter(referrals::household_id.eq(household_id))
            .filter(referrals::status.eq("enrolled"))
            .filter(referrals::updated_at.gt(s.screened_at))
            .count()
            .get_result(conn)?;
        Ok(count > 0)
    };
    let current = match &last {
        Some(s) => {
            s.household_version == row.version && s.rules_version == rules.set.version && !enrolled_since(s, conn)?
        }
        None => false,
    };
    match last {
        Some(s) if current => {
            let event = Event::new("screening_read").object("screening", &s.id).district(&row.district_code);
            audit::record(conn, caller.key, caller.ctx, &event)?;
            body(&s)
        }
        _ => screen_stored(conn, caller, rules, household_id, today, "refresh"),
    }
}

/// One past screening, without its criteria.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreeningSummaryView {
    /// Screening id (the cursor).
    pub id: String,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// Rule-set version.
    pub rules_version: String,
    /// The household version screened.
    pub household_version: i64,
    /// Who screened.
    pub screened_by: String,
    /// When.
    #[serde(serialize_with = "crate::domain::timestamp::utc")]
    pub screened_at: NaiveDateTime,
    /// Counts per status.
    pub summary: Value,
    /// Schemes eligible at the time.
    pub eligible: Vec<String>,
}

/// Past screenings, newest first, after `cursor` (a screening id).
pub fn history(
    conn: &mut DbConnection,
    caller: &Caller,
    household_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Vec<ScreeningSummaryView>, ApiError> {
    let row = repo::find_household(conn, caller.scope, household_id)?.ok_or(ApiError::NotFound)?;
    let mut query = screenings::table.filter(screenings::household_id.eq(household_id)).into_boxed();
    if let Some(cursor) = cursor {
        query = query.filter(screenings::id.lt(cursor.to_string()));
    }
    let rows: Vec<ScreeningRow> =
        query.order(screenings::id.desc()).limit(limit).select(ScreeningRow::as_select()).load(conn)?;
    let event = Event::new("screening_history_read").object("household", household_id).district(&row.district_code);
    audit::record(conn, caller.key, caller.ctx, &event)?;
    Ok(rows
        .into_iter()
        .map(|s| {
            let result: Value = serde_json::from_str(&s.result).unwrap_or(Value::Null);
            let eligible = result["results"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .filter(|r| r["status"] == "eligible")
                        .filter_map(|r| r["scheme"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            ScreeningSummaryView {
                id: s.id,
                as_of: s.as_of,
                rules_version: s.rules_version,
                household_version: s.household_version,
                screened_by: s.screened_by,
                screened_at: s.screened_at,
                summary: result["summary"].clone(),
                eligible,
            }
        })
        .collect())
}

/// A household's current decisions (refreshed first if the household or the rules changed)
/// and its latest changes of status.
pub fn decisions(
    conn: &mut DbConnection,
    caller: &Caller,
    rules: &RuleSet,
    household_id: &str,
    today: NaiveDate,
) -> Result<Decisions, ApiError> {
    let row = repo::find_household(conn, caller.scope, household_id)?.ok_or(ApiError::NotFound)?;
    let current: Option<DecisionRow> =
        household_decisions::table.find(household_id).select(DecisionRow::as_select()).first(conn).optional()?;
    let fresh = current.filter(|d| d.household_version == row.version && d.rules_version == rules.version);
    let d = match fresh {
        Some(d) => d,
        None => {
            let members = repo::members_of(conn, household_id, false)?;
            refresh(conn, rules, &row, &members, today, "refresh")?;
            household_decisions::table.find(household_id).select(DecisionRow::as_select()).first(conn)?
        }
    };
    let changes = decision_changes::table
        .filter(decision_changes::household_id.eq(household_id))
        .order(decision_changes::id.desc())
        .limit(100)
        .select(DecisionChange::as_select())
        .load(conn)?;
    let event = Event::new("decisions_read").object("household", household_id).district(&row.district_code);
    audit::record(conn, caller.key, caller.ctx, &event)?;
    Ok(Decisions {
        household_id: d.household_id,
        household_version: d.household_version,
        rules_version: d.rules_version,
        as_of: d.as_of,
        decided_at: d.decided_at,
        eligible: ids(&d.eligible).map(str::to_string).collect(),
        undetermined: ids(&d.undetermined).map(str::to_string).collect(),
        changes,
    })
}

/// A household in a scheme administrator's list: numbers and this scheme's status only.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemeHousehold {
    /// Household id (the cursor).
    pub household_id: String,
    /// Household number.
    pub household_number: String,
    /// District.
    pub district: String,
    /// `eligible` or `undetermined` for this scheme.
    pub status: String,
    /// Rule-set version of the decision.
    pub rules_version: String,
    /// Evaluation date of the decision.
    pub as_of: NaiveDate,
}

/// Households whose current decision for `scheme` is `status`, by household id, after
/// `cursor`; optionally in one district. Reads the compact decisions rows (scheme ids are
/// lower-case letters, digits and `-`, so the patterns below match whole ids only).
pub fn households_for_scheme(
    conn: &mut DbConnection,
    scheme: &str,
    status: &str,
    district: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<SchemeHousehold>> {
    use crate::db::schema::households;
    let column = if status == "undetermined" { "undetermined" } else { "eligible" };
    let mut query = household_decisions::table
        .inner_join(households::table)
        .select((
            household_decisions::household_id,
            households::household_number,
            households::district_code,
            household_decisions::rules_version,
            household_decisions::as_of,
        ))
        .into_boxed();
    let (exact, first, last, middle) =
        (scheme.to_string(), format!("{scheme},%"), format!("%,{scheme}"), format!("%,{scheme},%"));
    query = if column == "eligible" {
        query.filter(
            household_decisions::eligible
                .eq(exact)
                .or(household_decisions::eligible.like(first))
                .or(household_decisions::eligible.like(last))
                .or(household_decisions::eligible.like(middle)),
        )
    } else {
        query.filter(
            household_decisions::undetermined
                .eq(exact)
                .or(household_decisions::undetermined.like(first))
                .or(household_decisions::undetermined.like(last))
                .or(household_decisions::undetermined.like(middle)),
        )
    };
    if let Some(d) = district {
        query = query.filter(households::district_code.eq(d.to_string()));
    }
    if let Some(c) = cursor {
        query = query.filter(household_decisions::household_id.gt(c.to_string()));
    }
    let rows: Vec<(String, String, String, String, NaiveDate)> =
        query.order(household_decisions::household_id.asc()).limit(limit).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(household_id, household_number, district, rules_version, as_of)| SchemeHousehold {
            household_id,
            household_number,
            district,
            status: column.to_string(),
            rules_version,
            as_of,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn household(field: &'static str) -> Missing {
        Missing { member: None, field }
    }

    fn member(i: usize, field: &'static str) -> Missing {
        Missing { member: Some(i), field }
    }

    fn parsed(text: &str) -> Vec<(&str, Vec<&str>)> {
        parse_missing(text).map(|(scheme, fields)| (scheme, fields.collect())).collect()
    }

    #[test]
    fn missing_fields_are_encoded_once_per_scheme_without_members_and_read_back() {
        let kafaalat =
            [household("pmt_score"), member(2, "disability"), member(0, "taxpayer"), member(1, "disability")];
        let nashonuma = [member(1, "date_of_birth"), member(0, "date_of_birth"), household("pmt_score")];
        let text = encode_missing([("bisp-kafaalat", &kafaalat[..]), ("bisp-nashonuma", &nashonuma[..])]);
        assert_eq!(text, "bisp-kafaalat:pmt_score+disability+taxpayer;bisp-nashonuma:date_of_birth+pmt_score");
        assert_eq!(
            parsed(&text),
            [
                ("bisp-kafaalat", vec!["pmt_score", "disability", "taxpayer"]),
                ("bisp-nashonuma", vec!["date_of_birth", "pmt_score"])
            ]
        );
        let one = encode_missing([("zakat-guzara", &[member(3, "monthly_income_pkr")][..])]);
        assert_eq!(one, "zakat-guzara:monthly_income_pkr");
        assert_eq!(parsed(&one), [("zakat-guzara", vec!["monthly_income_pkr"])]);
    }

    #[test]
    fn nothing_undetermined_is_the_empty_string_and_a_scheme_without_fields_keeps_its_entry() {
        assert_eq!(encode_missing(std::iter::empty::<(&str, &[Missing])>()), "");
        assert!(parsed("").is_empty());
        let text = encode_missing([("a-scheme", &[][..]), ("b-scheme", &[household("land_acres")][..])]);
        assert_eq!(text, "a-scheme:;b-scheme:land_acres");
        assert_eq!(parsed(&text), [("a-scheme", vec![]), ("b-scheme", vec!["land_acres"])]);
    }

    #[test]
    fn the_encoded_fields_are_those_explained_mode_reports_for_the_undetermined_schemes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let rules = crate::rules::load_dir(&dir).expect("rules load");
        let as_of = NaiveDate::from_ymd_opt(2025, 1, 15).expect("date");
        let bound = rules.bind(as_of);
        // Nothing known but one adult woman: most schemes wait for something.
        let mut facts = Facts::default();
        let woman = facts.push_member();
        woman[2] = 1; // sex: female
        woman[23] = 19_800_101; // date_of_birth
        let mut statuses = Vec::new();
        bound.statuses(&mut facts, &mut statuses);
        let text = missing_of(&bound, &mut facts, &statuses, &mut Explanation::default());
        let mut explanation = Explanation::default();
        bound.explain(&mut facts, &mut explanation);
        let entries = parsed(&text);
        let undetermined: Vec<&str> = rules
            .schemes
            .iter()
            .zip(&statuses)
            .enumerate()
            .filter(|(i, (_, s))| bound.is_active(*i) && **s == Status::Undetermined)
            .map(|(_, (scheme, _))| scheme.id.as_str())
            .collect();
        assert!(!undetermined.is_empty());
        assert_eq!(entries.iter().map(|(s, _)| *s).collect::<Vec<_>>(), undetermined, "{text}");
        for (scheme, fields) in &entries {
            let i = rules.schemes.iter().position(|s| s.id == *scheme).expect("scheme");
            let mut want: Vec<&str> = Vec::new();
            for m in &explanation.results[i].missing {
                if !want.contains(&m.field) {
                    want.push(m.field);
                }
            }
            assert_eq!(fields, &want, "{scheme}");
        }
        let kafaalat = entries.iter().find(|(s, _)| *s == "bisp-kafaalat").expect("kafaalat undetermined");
        assert_eq!(kafaalat.1.first(), Some(&"pmt_score"), "{text}");

        // Nothing undetermined: no explanation, the empty string.
        let decided = vec![Status::NotEligible; statuses.len()];
        assert_eq!(missing_of(&bound, &mut facts, &decided, &mut explanation), "");
    }
}
