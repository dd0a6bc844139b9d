//! Re-screening the registry: every household (or one district's) decided again in batch
//! mode, chunk by chunk, writing only the decisions that changed. Households left
//! undetermined on some scheme are explained one by one for the fields they wait for, and a
//! row whose stored fields differ (or were never worked out) is written too.
//!
//! A run is a row in `rescreen_runs` with its rule-set version, date, district and the last
//! household it finished. Each chunk's decisions, changes and the run's progress commit in one
//! transaction, so an interrupted run leaves no half-written chunk and a new run with the same
//! rules, date and district resumes after the last committed household.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::store::{
    changes_between, decision_row, decisions_in_range, decisions_of, facts_from_fields, missing_of,
    write_decisions_batch,
};
use crate::audit::now_micros;
use crate::db::schema::{households, referrals, rescreen_runs};
use crate::db::{DbConnection, write_tx};
use crate::per_backend;
use crate::registry::model::{HouseholdRow, MemberFactsRow, RuleMembers};
use crate::registry::repo;
use crate::rules::columnar::Chunk;
use crate::rules::dict::Facts;
use crate::rules::{Explanation, RuleSet};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rescreen_runs)]
struct RunRow {
    id: String,
    rules_version: String,
    as_of: NaiveDate,
    district_code: Option<String>,
    status: String,
    last_household_id: Option<String>,
    processed: i64,
    written: i64,
    summary: String,
    started_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Per scheme: households that became eligible, stopped being eligible, became undetermined.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SchemeSummary {
    /// Newly eligible.
    pub newly_eligible: u64,
    /// No longer eligible.
    pub no_longer_eligible: u64,
    /// Newly undetermined.
    pub newly_undetermined: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Run id.
    pub id: String,
    /// Whether this run continued an interrupted one.
    pub resumed: bool,
    /// Households decided (over the whole run, including before a resume).
    pub processed: i64,
    /// Decision rows written (changed, or decided for the first time / by other rules, or
    /// whose missing fields were not kept or differ).
    pub written: i64,
    /// Per scheme.
    pub summary: BTreeMap<String, SchemeSummary>,
}

/// Households in the scope of a run (for a progress bar).
pub fn count(conn: &mut DbConnection, district: Option<&str>) -> QueryResult<i64> {
    let mut q = households::table.into_boxed();
    if let Some(d) = district {
        q = q.filter(households::district_code.eq(d.to_string()));
    }
    q.count().get_result(conn)
}

/// Re-screens the households of `district` (all when `None`) at `as_of`, `chunk` at a time
/// (reading ahead on up to two extra connections, `readers`);
/// `progress` is told how many households each committed chunk held. Resumes an unfinished
/// run with the same rules, date and district.
pub fn run<R: std::ops::DerefMut<Target = DbConnection> + Send>(
    conn: &mut DbConnection,
    readers: Vec<R>,
    rules: &RuleSet,
    as_of: NaiveDate,
    district: Option<&str>,
    chunk: i64,
    progress: impl FnMut(u64),
) -> anyhow::Result<RunReport> {
    let (id, resumed) = prepare(conn, rules, as_of, district)?;
    let mut report = continue_run(conn, readers, rules, &id, chunk, progress)?;
    report.resumed = resumed;
    Ok(report)
}

/// Finds the unfinished run with these rules, date and district, or creates one; returns its
/// id and whether it was resumed.
pub fn prepare(
    conn: &mut DbConnection,
    rules: &RuleSet,
    as_of: NaiveDate,
    district: Option<&str>,
) -> QueryResult<(String, bool)> {
    let existing: Option<RunRow> = rescreen_runs::table
        .filter(rescreen_runs::status.eq("running"))
        .filter(rescreen_runs::rules_version.eq(&rules.version))
        .filter(rescreen_runs::as_of.eq(as_of))
        .select(RunRow::as_select())
        .load(conn)?
        .into_iter()
        .find(|r| r.district_code.as_deref() == district);
    if let Some(r) = existing {
        return Ok((r.id, true));
    }
    let now = now_micros();
    let r = RunRow {
        id: uuid::Uuid::now_v7().to_string(),
        rules_version: rules.version.clone(),
        as_of,
        district_code: district.map(str::to_string),
        status: "running".into(),
        last_household_id: None,
        processed: 0,
        written: 0,
        summary: "{}".into(),
        started_at: now,
        updated_at: now,
    };
    per_backend!(conn, |c| diesel::insert_into(rescreen_runs::table).values(&r).execute(c))?;
    Ok((r.id, false))
}

/// A run as the API shows it (progress is readable while it runs).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// Run id.
    pub id: String,
    /// `running` or `done`.
    pub status: String,
    /// Rule-set version.
    pub rules_version: String,
    /// Evaluation date.
    pub as_of: NaiveDate,
    /// District, or all.
    pub district: Option<String>,
    /// Households decided so far.
    pub processed: i64,
    /// Decision rows written so far.
    pub written: i64,
    /// Per scheme so far.
    #[schema(value_type = Object)]
    pub summary: BTreeMap<String, SchemeSummary>,
    /// Started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Last progress.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One run's state.
pub fn view(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RunView>> {
    let row: Option<RunRow> = rescreen_runs::table.find(id).select(RunRow::as_select()).first(conn).optional()?;
    Ok(row.map(|r| RunView {
        summary: serde_json::from_str(&r.summary).unwrap_or_default(),
        id: r.id,
        status: r.status,
        rules_version: r.rules_version,
        as_of: r.as_of,
        district: r.district_code,
        processed: r.processed,
        written: r.written,
        started_at: r.started_at.and_utc(),
        updated_at: r.updated_at.and_utc(),
    }))
}

/// One chunk as read from the database: households (in id order), their current members'
/// rule-relevant fields, their enrolments and their stored decisions.
pub(crate) struct ChunkData {
    pub(crate) rows: Vec<HouseholdRow>,
    pub(crate) members: HashMap<String, RuleMembers>,
    /// Household id → the schemes it is enrolled in.
    pub(crate) enrolments: HashMap<String, Vec<String>>,
    old: HashMap<String, super::store::DecisionRow>,
}

/// Members' rule-relevant fields grouped by household.
fn by_household(rows: Vec<MemberFactsRow>) -> HashMap<String, RuleMembers> {
    RuleMembers::by_household(rows)
}

/// Reads the chunk after `after` (`None` when the run is done). A whole-registry run reads
/// members, enrolments and (with `decisions`) decisions as one id range each; a district run
/// asks for exactly its households.
pub(crate) fn read_chunk(
    conn: &mut DbConnection,
    helper: Option<&mut DbConnection>,
    district: Option<&str>,
    after: Option<&str>,
    chunk: i64,
    decisions: bool,
) -> QueryResult<Option<ChunkData>> {
    let mut q = households::table.select(HouseholdRow::as_select()).into_boxed();
    if let Some(d) = district {
        q = q.filter(households::district_code.eq(d.to_string()));
    }
    if let Some(after) = after {
        q = q.filter(households::id.gt(after.to_string()));
    }
    let rows: Vec<HouseholdRow> = if district.is_none() {
        // The chunk's ids first (the index alone), then the whole rows of that id range: on
        // Citus every shard would otherwise send up to a chunk of whole rows for the
        // coordinator to keep one chunk of them; here each sends narrow ids and then only its
        // own rows of the range. On one database it is one cheap index read more per chunk.
        let mut ids = households::table.select(households::id).into_boxed();
        if let Some(after) = after {
            ids = ids.filter(households::id.gt(after.to_string()));
        }
        let ids: Vec<String> = ids.order(households::id.asc()).limit(chunk).load(conn)?;
        let Some(last) = ids.last() else { return Ok(None) };
        q.filter(households::id.le(last.clone())).order(households::id.asc()).load(conn)?
    } else {
        q.order(households::id.asc()).limit(chunk).load(conn)?
    };
    let Some(last) = rows.last().map(|r| r.id.clone()) else { return Ok(None) };
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let whole = district.is_none();
    let members = match (whole, helper) {
        // Members are most of what is read: with a helper connection the two halves of
        // the range are read (and decoded) at the same time.
        (true, Some(helper)) if rows.len() > 1 => {
            let mid = rows[rows.len() / 2 - 1].id.clone();
            let (first, second) = std::thread::scope(|scope| {
                let second =
                    scope.spawn(|| repo::current_member_facts_in_range(helper, Some(&mid), &last).map(by_household));
                let first = repo::current_member_facts_in_range(conn, after, &mid).map(by_household);
                (first, second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            });
            let mut members = first?;
            members.extend(second?);
            members
        }
        (true, _) => by_household(repo::current_member_facts_in_range(conn, after, &last)?),
        (false, _) => by_household(repo::current_member_facts(conn, &ids)?),
    };
    // The chunk's referrals by household (the index on household id carries the status and
    // scheme, so this reads the index alone), enrolled ones kept here: filtering on status in
    // SQL made SQLite walk every enrolled referral of the registry for each chunk.
    let mut chunk_referrals = referrals::table.into_boxed();
    if whole {
        chunk_referrals = chunk_referrals.filter(referrals::household_id.le(last.clone()));
        if let Some(after) = after {
            chunk_referrals = chunk_referrals.filter(referrals::household_id.gt(after.to_string()));
        }
    } else {
        chunk_referrals = chunk_referrals.filter(referrals::household_id.eq_any(&ids));
    }
    let mut enrolments: HashMap<String, Vec<String>> = HashMap::new();
    for (household, scheme, status) in chunk_referrals
        .select((referrals::household_id, referrals::scheme_id, referrals::status))
        .load::<(String, String, String)>(conn)?
    {
        if status == "enrolled" {
            enrolments.entry(household).or_default().push(scheme);
        }
    }
    let stored = match (decisions, whole) {
        (false, _) => Vec::new(),
        (true, true) => decisions_in_range(conn, after, &last)?,
        (true, false) => decisions_of(conn, &ids)?,
    };
    let old = stored.into_iter().map(|d| (d.household_id.clone(), d)).collect();
    Ok(Some(ChunkData { rows, members, enrolments, old }))
}

/// [`continue_run`] for a job of the service: its progress is published as metrics
/// (`sahulat_rescreen_*`: running, households in scope and done) while it runs.
pub fn continue_observed<R: std::ops::DerefMut<Target = DbConnection> + Send>(
    conn: &mut DbConnection,
    readers: Vec<R>,
    rules: &RuleSet,
    id: &str,
    chunk: i64,
) -> anyhow::Result<RunReport> {
    let (done, district): (i64, Option<String>) =
        rescreen_runs::table.find(id).select((rescreen_runs::processed, rescreen_runs::district_code)).first(conn)?;
    let in_scope = count(conn, district.as_deref())?;
    let progress = crate::metrics::RescreenProgress::start(done.max(0) as u64, in_scope.max(0) as u64);
    continue_run(conn, readers, rules, id, chunk, |n| progress.advance(n))
}

/// Continues the run `id` to its end. With a reader connection the next chunk is read on a
/// second thread while this one is decided and written, and with a second reader each
/// chunk's members are read in two halves at once; without readers, chunks are read in turn
/// on `conn`. Reading is most of the work of a run where little changed.
pub fn continue_run<R: std::ops::DerefMut<Target = DbConnection> + Send>(
    conn: &mut DbConnection,
    readers: Vec<R>,
    rules: &RuleSet,
    id: &str,
    chunk: i64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<RunReport> {
    let mut run: RunRow = rescreen_runs::table.find(id).select(RunRow::as_select()).first(conn)?;
    if run.rules_version != rules.version {
        anyhow::bail!("run {id} was started with other rules ({})", run.rules_version);
    }
    let (as_of, district_owned) = (run.as_of, run.district_code.clone());
    let district = district_owned.as_deref();
    let resumed = false;
    let mut summary: BTreeMap<String, SchemeSummary> = serde_json::from_str(&run.summary).unwrap_or_default();
    let bound = rules.bind(as_of);
    let mut statuses = Vec::new();
    let mut explanation = Explanation::default();
    let start = run.last_household_id.clone();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Two chunks in flight at most: memory stays bounded by the chunk size.
        let (sender, chunks) = std::sync::mpsc::sync_channel::<QueryResult<Option<ChunkData>>>(1);
        let mut readers = readers.into_iter();
        if let Some(mut reader) = readers.next() {
            let mut helper = readers.next();
            scope.spawn(move || {
                let mut after = start;
                loop {
                    let read = read_chunk(&mut reader, helper.as_deref_mut(), district, after.as_deref(), chunk, true);
                    if let Ok(Some(data)) = &read {
                        after = data.rows.last().map(|r| r.id.clone());
                    }
                    let done = !matches!(read, Ok(Some(_)));
                    // The receiver is gone when the writer stopped on an error.
                    if sender.send(read).is_err() || done {
                        break;
                    }
                }
            });
        } else {
            drop(sender);
        }
        loop {
            let next = match chunks.recv() {
                Ok(read) => read?,
                Err(_) => read_chunk(conn, None, district, run.last_household_id.as_deref(), chunk, true)?,
            };
            let Some(ChunkData { rows, members: by_household, enrolments, old }) = next else { break };
            let Some(last) = rows.last().map(|r| r.id.clone()) else { break };
            let mut facts: Vec<Facts> = rows
                .iter()
                .map(|row| {
                    let mut f = facts_from_fields(row, by_household.get(&row.id).unwrap_or(&RuleMembers::default()));
                    f.enrolled = enrolments
                        .get(&row.id)
                        .into_iter()
                        .flatten()
                        .filter_map(|s| rules.schemes.iter().position(|x| x.id == *s))
                        .collect();
                    f
                })
                .collect();
            let columns = Chunk::from_facts(&mut facts, as_of);
            bound.statuses_columnar(&columns, &mut statuses);
            let now = now_micros();
            let n = rules.schemes.len();
            let mut writes = Vec::new();
            let mut all_changes = Vec::new();
            for (h, row) in rows.iter().enumerate() {
                let statuses = &statuses[h * n..(h + 1) * n];
                // Row-wise explained mode over the same facts, only for a household with an
                // undetermined scheme.
                let missing = missing_of(&bound, &mut facts[h], statuses, &mut explanation);
                let people = by_household.get(&row.id).map_or(&[][..], |m| m.current.as_slice());
                let new = decision_row(rules, &bound, statuses, (&row.id, row.version), (as_of, now), missing, people);
                let previous = old.get(&row.id);
                // A stored row without missing fields (written before they were kept) or with
                // others is written again, even when no status changed.
                let same = previous.is_some_and(|p| {
                    p.eligible == new.eligible
                        && p.undetermined == new.undetermined
                        && p.rules_version == new.rules_version
                        && p.household_version == new.household_version
                        && p.missing.is_some()
                        && p.missing == new.missing
                        && p.profile.is_some()
                        && p.profile == new.profile
                });
                if same {
                    continue;
                }
                let changes = changes_between(rules, previous, &new, "rescreen");
                for c in &changes {
                    let entry = summary.entry(c.scheme_id.clone()).or_default();
                    match (c.from_status.as_deref(), c.to_status.as_str()) {
                        (_, "eligible") => entry.newly_eligible += 1,
                        (Some("eligible"), _) => entry.no_longer_eligible += 1,
                        _ => {}
                    }
                    if c.to_status == "undetermined" {
                        entry.newly_undetermined += 1;
                    }
                }
                writes.push(new);
                all_changes.extend(changes);
            }
            run.last_household_id = Some(last);
            run.processed += rows.len() as i64;
            run.written += writes.len() as i64;
            run.summary = serde_json::to_string(&summary)?;
            run.updated_at = now;
            // The chunk's decisions and the run's progress commit together.
            write_tx(conn, |c| -> anyhow::Result<()> {
                write_decisions_batch(c, &writes, &all_changes)?;
                diesel::update(rescreen_runs::table.find(&run.id))
                    .set((
                        rescreen_runs::last_household_id.eq(&run.last_household_id),
                        rescreen_runs::processed.eq(run.processed),
                        rescreen_runs::written.eq(run.written),
                        rescreen_runs::summary.eq(&run.summary),
                        rescreen_runs::updated_at.eq(run.updated_at),
                    ))
                    .execute(c)?;
                Ok(())
            })?;
            progress(rows.len() as u64);
        }
        Ok(())
    })?;
    diesel::update(rescreen_runs::table.find(&run.id))
        .set((rescreen_runs::status.eq("done"), rescreen_runs::updated_at.eq(now_micros())))
        .execute(conn)?;
    Ok(RunReport { id: run.id, resumed, processed: run.processed, written: run.written, summary })
}
