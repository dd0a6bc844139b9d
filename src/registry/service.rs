//! Registry operations: register, read, update, search and history. Each runs inside the
//! caller's transaction and records its audit event (ids and field names only) and, for
//! changes, a history entry with the previous values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::model::{ChangeRow, HouseholdFields, HouseholdRow, MemberFields, MemberRow};
use super::parse::{self, NewHousehold};
use super::repo::{self, Scope, SearchFilter};
use super::warnings::{Warning, member_warnings};
use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::db::DbConnection;
use crate::domain::codes::RemovalReason;
use crate::error::{ApiError, FieldError};
use crate::registry::districts;

/// A member as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    /// Member id.
    pub id: String,
    /// The member's attributes.
    #[serde(flatten)]
    pub fields: MemberFields,
}

/// A member removed as deceased, kept with the household: the record the survivors'
/// schemes read (insurance, employment, pension) and the date of death.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeceasedMemberView {
    /// Member id.
    pub id: String,
    /// Date of death, if recorded.
    pub date_of_death: Option<chrono::NaiveDate>,
    /// When the member was removed (UTC).
    pub removed_at: Option<DateTime<Utc>>,
    /// The member's attributes as last recorded.
    #[serde(flatten)]
    pub fields: MemberFields,
}

/// A household as the API shows it, with its current members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HouseholdView {
    /// Household id.
    pub id: String,
    /// Human-readable number, e.g. `PESHAWAR-000123`.
    pub household_number: String,
    /// District code.
    pub district: String,
    /// Household attributes.
    #[serde(flatten)]
    pub fields: HouseholdFields,
    /// Current members.
    pub members: Vec<MemberView>,
    /// Members removed as deceased, most recently removed first (the rules read the first).
    pub deceased_members: Vec<DeceasedMemberView>,
    /// Version for `If-Match`.
    pub version: i64,
    /// Registered (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// The clerk who registered it.
    pub registered_by: String,
    /// The office (district) that registered it.
    pub registered_office: String,
}

/// The answer to a registration or change: the household and any warnings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HouseholdWithWarnings {
    /// The stored household.
    #[serde(flatten)]
    pub household: HouseholdView,
    /// Plausibility warnings (never rejections).
    pub warnings: Vec<Warning>,
}

/// Builds the view of a household from its rows.
pub fn view(row: HouseholdRow, members: &[MemberRow]) -> HouseholdView {
    HouseholdView {
        fields: HouseholdFields::from_row(&row),
        members: members
            .iter()
            .filter(|m| m.status == super::model::STATUS_CURRENT)
            .map(|m| MemberView { id: m.id.clone(), fields: MemberFields::from_row(m) })
            .collect(),
        deceased_members: deceased_of(members),
        id: row.id,
        household_number: row.household_number,
        district: row.district_code,
        version: row.version,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        registered_by: row.registered_by,
        registered_office: row.registered_office,
    }
}

/// The deceased members of a household, in the order the rules choose from (see
/// [`super::model::RuleMembers`]): the one removed last first.
fn deceased_of(members: &[MemberRow]) -> Vec<DeceasedMemberView> {
    let mut list: Vec<&MemberRow> =
        members.iter().filter(|m| m.removal_reason.as_deref() == Some(super::model::REASON_DECEASED)).collect();
    list.sort_by_key(|m| std::cmp::Reverse((m.removed_at, m.date_of_death)));
    list.into_iter()
        .map(|m| DeceasedMemberView {
            id: m.id.clone(),
            date_of_death: m.date_of_death,
            removed_at: m.removed_at.map(|t| t.and_utc()),
            fields: MemberFields::from_row(m),
        })
        .collect()
}

fn actor(ctx: &AuditContext) -> String {
    ctx.username.clone().unwrap_or_else(|| "unknown".into())
}

/// A 409 naming the household that already holds an ID number.
pub fn duplicate_id_conflict(field: &str, household_id: &str, household_number: &str) -> ApiError {
    let mut extra = Map::new();
    extra.insert("field".into(), json!(field));
    extra.insert("existing_household".into(), json!({"id": household_id, "household_number": household_number}));
    ApiError::Conflict {
        code: "duplicate_id_number",
        detail: format!("this ID number is already registered in household {household_number}"),
        extra: Some(extra),
    }
}

/// Checks that no current member elsewhere holds one of `members`' ID numbers (one query).
pub fn check_id_numbers(
    conn: &mut DbConnection,
    members: &[(String, &MemberFields)],
    except_member: Option<&str>,
) -> Result<(), ApiError> {
    let wanted: Vec<String> = members.iter().filter_map(|(_, m)| m.id_number.clone()).collect();
    let holders = repo::holders_of_id_numbers(conn, &wanted)?;
    for (path, m) in members {
        let Some(id_number) = &m.id_number else { continue };
        let holder = holders.iter().find(|(n, member_id, _, _)| {
            n.as_deref() == Some(id_number.as_str()) && Some(member_id.as_str()) != except_member
        });
        if let Some((_, _, household_id, number)) = holder {
            return Err(duplicate_id_conflict(&format!("{path}.id_number"), household_id, number));
        }
    }
    Ok(())
}

/// After a registration refused on an ID number's claim (already registered, or a clerk
/// registering the same person at the same moment), names the household holding it,
/// outside the failed transaction.
pub fn name_duplicate(conn: &mut DbConnection, input: &NewHousehold, error: ApiError) -> ApiError {
    match &error {
        ApiError::Conflict { code: "duplicate_id_number", extra: None, .. } => {
            let members: Vec<_> = input.members.iter().enumerate().map(|(i, m)| (format!("members[{i}]"), m)).collect();
            check_id_numbers(conn, &members, None).err().unwrap_or(error)
        }
        _ => error,
    }
}

/// Maps a unique violation while writing members to the duplicate-ID conflict.
pub fn members_write_error(e: diesel::result::Error) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::Conflict {
                code: "duplicate_id_number",
                detail: "an ID number in this request is already registered".into(),
                extra: None,
            }
        }
        other => other.into(),
    }
}

/// Warnings for a set of members, plus likely duplicates of members without an ID number.
fn warnings_for(
    conn: &mut DbConnection,
    members: &[(String, MemberFields)],
    household_id: &str,
    today: NaiveDate,
) -> Result<Vec<Warning>, ApiError> {
    let mut warnings: Vec<Warning> = members.iter().flat_map(|(path, m)| member_warnings(m, path, today)).collect();
    let keyed: Vec<(&String, String)> =
        members.iter().filter(|(_, m)| m.id_number.is_none()).map(|(path, m)| (path, m.dedup_key())).collect();
    let keys: Vec<String> = keyed.iter().map(|(_, k)| k.clone()).collect();
    let matches = repo::possible_duplicates(conn, &keys, household_id)?;
    for (path, key) in &keyed {
        for (_, number) in matches.iter().filter(|(k, _)| k == key).take(3) {
            warnings.push(Warning {
                code: "possible_duplicate",
                field: format!("{path}.full_name"),
                message: format!(
                    "a member with the same name, date of birth and father/husband name is in household {number}"
                ),
                member_id: None,
                household_number: Some(number.clone()),
            });
        }
    }
    Ok(warnings)
}

/// A registration's answer with the rows it wrote: the new household's decisions are made
/// from these (`screening::store::after_register`) instead of reading them back, a round
/// trip each on Citus.
#[derive(Debug)]
pub struct Registered {
    /// The answer (the household and any warnings).
    pub answer: HouseholdWithWarnings,
    /// The household's row as stored.
    pub row: HouseholdRow,
    /// Its members' rows as stored.
    pub members: Vec<MemberRow>,
}

/// Registers a household with its members. A member's ID number already held by a current
/// member fails with a `duplicate_id_number` conflict that does not name the holder yet:
/// callers pass the error through [`name_duplicate`] once this transaction (or savepoint) is
/// rolled back. `import_hash` marks a household read from an
/// import file, so re-running the file finds it instead of registering it twice.
pub fn register(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    scope: &Scope,
    input: &NewHousehold,
    import_hash: Option<&str>,
    today: NaiveDate,
) -> Result<Registered, ApiError> {
    let errors = districts::household_errors(conn, scope, &[&input.district])?.concat();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if let Some(hash) = import_hash
        && let Some((id, number)) = repo::find_by_import_hash(conn, hash)?
    {
        let mut extra = Map::new();
        extra.insert("existing_household".into(), json!({"id": id, "household_number": number}));
        return Err(ApiError::Conflict {
            code: "duplicate_import",
            detail: format!("already imported as {number}"),
            extra: Some(extra),
        });
    }
    let paths: Vec<(String, MemberFields)> =
        input.members.iter().enumerate().map(|(i, m)| (format!("members[{i}]"), m.clone())).collect();
    // No look-up of the ID numbers first: their claims' key refuses a number already held
    // (`members_write_error`), and [`name_duplicate`] then names the household holding it,
    // after the rollback. A registration that succeeds (nearly all) saves the look-up, which
    // on Citus asks one shard per number.
    let id = uuid::Uuid::now_v7().to_string();
    // Before the district's counter is taken: that row stays locked until commit, and every
    // registration in the district waits for it. The new household has no members yet, so
    // the search by name finds the same households here as after the insert.
    let mut warnings = warnings_for(conn, &paths, &id, today)?;

    let now = now_micros();
    let number = repo::next_household_number(conn, &input.district)?;
    let row = new_household_row(input, id.clone(), number, import_hash, ctx, now);
    repo::insert_household(conn, &row)?;
    let members: Vec<MemberRow> =
        input.members.iter().map(|m| m.new_row(uuid::Uuid::now_v7().to_string(), &id, now)).collect();
    repo::insert_members(conn, std::slice::from_ref(&row), &members).map_err(members_write_error)?;
    for w in &mut warnings {
        w.member_id = member_id_at(&w.field, &members);
    }
    record_change(conn, &id, None, 1, "create", Map::new(), None, ctx, now)?;
    let event = Event::new("household_create")
        .object("household", &id)
        .district(&input.district)
        .details(json!({"members": members.len(), "imported": import_hash.is_some()}));
    audit::record(conn, key, ctx, &event)?;
    let answer = HouseholdWithWarnings { household: view(row.clone(), &members), warnings };
    Ok(Registered { answer, row, members })
}

/// The row of a newly registered household.
fn new_household_row(
    input: &NewHousehold,
    id: String,
    household_number: String,
    import_hash: Option<&str>,
    ctx: &AuditContext,
    now: NaiveDateTime,
) -> HouseholdRow {
    let row = HouseholdRow {
        id,
        household_number,
        district_code: input.district.clone(),
        tehsil: None,
        union_council: None,
        village: None,
        address: None,
        area_type: None,
        phone: None,
        monthly_income_pkr: None,
        pmt_score: None,
        land_acres: None,
        livestock_heads: None,
        house_ownership: None,
        rooms: None,
        owns_vehicle: None,
        import_hash: import_hash.map(str::to_string),
        version: 1,
        registered_by: actor(ctx),
        registered_office: input.district.clone(),
        created_at: now,
        updated_at: now,
        owns_residential_plot: None,
    };
    with_fields(row, &input.fields)
}

/// What became of one household of a [`register_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Stored as (id, household number).
    Stored(String, String),
    /// Already registered, as (id, household number): the same import record, or a member's
    /// ID number held by a current member (possibly of an earlier household of the batch).
    Duplicate(String, String),
    /// Refused with these field errors (the district).
    Invalid(Vec<FieldError>),
}

/// Registers imported households, each with its content hash, with a constant number of
/// statements per batch: one lookup each for districts, import hashes and ID numbers, one
/// counter update per district, and multi-row inserts. Decides exactly as [`register`]
/// would, household by household in order. Run it inside a savepoint: a unique violation
/// (a clerk registering the same person at this moment) fails the whole batch, and the
/// caller then stores it household by household.
pub fn register_batch(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    scope: &Scope,
    batch: &[(NewHousehold, String)],
) -> Result<Vec<BatchOutcome>, ApiError> {
    use std::collections::HashMap;

    let mut codes: Vec<String> = batch.iter().map(|(h, _)| h.district.clone()).collect();
    codes.sort();
    codes.dedup();
    let unknown = districts::unknown_codes(conn, &codes)?;
    let hashes: Vec<String> = batch.iter().map(|(_, hash)| hash.clone()).collect();
    let mut by_hash: HashMap<String, (String, String)> = repo::find_by_import_hashes(conn, &hashes)?
        .into_iter()
        .map(|(hash, id, number)| (hash, (id, number)))
        .collect();
    let id_numbers: Vec<String> =
        batch.iter().flat_map(|(h, _)| h.members.iter().filter_map(|m| m.id_number.clone())).collect();
    let mut by_id_number: HashMap<String, (String, String)> = repo::holders_of_id_numbers(conn, &id_numbers)?
        .into_iter()
        .filter_map(|(n, _, id, number)| Some((n?, (id, number))))
        .collect();

    // Decide in order; an accepted household's hash and ID numbers count for later ones.
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut accepted: Vec<usize> = Vec::new();
    let mut pending_numbers: HashMap<&str, usize> = HashMap::new();
    for (at, (input, hash)) in batch.iter().enumerate() {
        let problems = districts::household_problem(scope, &input.district, unknown.contains(&input.district));
        if !problems.is_empty() {
            outcomes.push(BatchOutcome::Invalid(problems));
            continue;
        }
        let existing = by_hash
            .get(hash)
            .or_else(|| input.members.iter().filter_map(|m| m.id_number.as_ref()).find_map(|n| by_id_number.get(n)));
        if let Some((id, number)) = existing {
            outcomes.push(BatchOutcome::Duplicate(id.clone(), number.clone()));
            continue;
        }
        // "#at" stands for the number until the district's numbers are reserved below.
        let id = uuid::Uuid::now_v7().to_string();
        let slot = (id.clone(), format!("#{at}"));
        by_hash.insert(hash.clone(), slot.clone());
        for n in input.members.iter().filter_map(|m| m.id_number.clone()) {
            by_id_number.insert(n, slot.clone());
        }
        *pending_numbers.entry(input.district.as_str()).or_default() += 1;
        outcomes.push(BatchOutcome::Stored(id, format!("#{at}")));
        accepted.push(at);
    }

    let mut numbers: HashMap<&str, std::vec::IntoIter<String>> = HashMap::new();
    for (district, count) in pending_numbers {
        numbers.insert(district, repo::reserve_household_numbers(conn, district, count)?.into_iter());
    }
    let reserved: HashMap<usize, String> = accepted
        .iter()
        .map(|&at| (at, numbers.get_mut(batch[at].0.district.as_str()).and_then(Iterator::next).unwrap_or_default()))
        .collect();
    for outcome in &mut outcomes {
        if let BatchOutcome::Stored(_, number) | BatchOutcome::Duplicate(_, number) = outcome
            && let Some(at) = number.strip_prefix('#').and_then(|at| at.parse::<usize>().ok())
        {
            *number = reserved.get(&at).cloned().unwrap_or_default();
        }
    }

    let now = now_micros();
    let mut households = Vec::with_capacity(accepted.len());
    let mut members = Vec::new();
    let mut changes = Vec::with_capacity(accepted.len());
    let mut events = Vec::with_capacity(accepted.len());
    for &at in &accepted {
        let (input, hash) = &batch[at];
        let BatchOutcome::Stored(id, number) = &outcomes[at] else { continue };
        households.push(new_household_row(input, id.clone(), number.clone(), Some(hash), ctx, now));
        members.extend(input.members.iter().map(|m| m.new_row(uuid::Uuid::now_v7().to_string(), id, now)));
        changes.push(ChangeRow {
            id: uuid::Uuid::now_v7().to_string(),
            household_id: id.clone(),
            member_id: None,
            version: 1,
            change_type: "create".into(),
            changes: "{}".into(),
            reason: None,
            changed_by: actor(ctx),
            changed_at: now,
        });
        events.push(
            Event::new("household_create")
                .object("household", id)
                .district(&input.district)
                .details(json!({"members": input.members.len(), "imported": true})),
        );
    }
    repo::insert_households(conn, &households)?;
    repo::insert_members(conn, &households, &members).map_err(members_write_error)?;
    repo::insert_changes(conn, &changes)?;
    audit::record_many(conn, key, ctx, &events)?;
    Ok(outcomes)
}

fn member_id_at(field: &str, members: &[MemberRow]) -> Option<String> {
    let index: usize = field.strip_prefix("members[")?.split(']').next()?.parse().ok()?;
    members.get(index).map(|m| m.id.clone())
}

fn with_fields(mut row: HouseholdRow, f: &HouseholdFields) -> HouseholdRow {
    let c = f.changeset();
    row.tehsil = c.tehsil;
    row.union_council = c.union_council;
    row.village = c.village;
    row.address = c.address;
    row.area_type = c.area_type;
    row.phone = c.phone;
    row.monthly_income_pkr = c.monthly_income_pkr;
    row.pmt_score = c.pmt_score;
    row.land_acres = c.land_acres;
    row.livestock_heads = c.livestock_heads;
    row.house_ownership = c.house_ownership;
    row.rooms = c.rooms;
    row.owns_vehicle = c.owns_vehicle;
    row.owns_residential_plot = c.owns_residential_plot;
    row
}

/// Appends a history entry.
#[expect(clippy::too_many_arguments, reason = "one flat record of a change")]
pub fn record_change(
    conn: &mut DbConnection,
    household_id: &str,
    member_id: Option<&str>,
    version: i64,
    change_type: &str,
    changes: Map<String, Value>,
    reason: Option<&str>,
    ctx: &AuditContext,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    repo::insert_change(
        conn,
        &ChangeRow {
            id: uuid::Uuid::now_v7().to_string(),
            household_id: household_id.to_string(),
            member_id: member_id.map(str::to_string),
            version,
            change_type: change_type.to_string(),
            changes: Value::Object(changes).to_string(),
            reason: reason.map(str::to_string),
            changed_by: actor(ctx),
            changed_at: now,
        },
    )?;
    Ok(())
}

/// Loads a household inside `scope` (404 otherwise) with all its member rows.
pub fn load(conn: &mut DbConnection, scope: &Scope, id: &str) -> Result<(HouseholdRow, Vec<MemberRow>), ApiError> {
    let row = repo::find_household(conn, scope, id)?.ok_or(ApiError::NotFound)?;
    let members = repo::members_of(conn, id, false)?;
    Ok((row, members))
}

/// Reads a household, with the audit event of the read for the caller to record (it only
/// reads, so it may run on the replica: `db::read_audited`).
pub fn get(conn: &mut DbConnection, scope: &Scope, id: &str) -> Result<(HouseholdView, Event), ApiError> {
    let (row, members) = load(conn, scope, id)?;
    let event = Event::new("household_read").object("household", id).district(&row.district_code);
    Ok((view(row, &members), event))
}

/// Applies a merge patch to a household's attributes at version `expected`.
pub fn update(
    conn: &mut DbConnection,
    key: &AuditKey,
    ctx: &AuditContext,
    scope: &Scope,
    id: &str,
    expected: i64,
    patch: &Value,
) -> Result<HouseholdView, ApiError> {
    let row = repo::find_household(conn, scope, id)?.ok_or(ApiError::NotFound)?;
    if row.version != expected {
        return Err(ApiError::PreconditionFailed);
    }
    let old = HouseholdFields::from_row(&row);
    let new = parse::patched(&parse::to_object(&old), patch, parse::HOUSEHOLD_EDITABLE, parse::parse_household_fields)
        .map_err(ApiError::Validation)?;
    let changes = parse::diff(&old, &new);
    let now = now_micros();
    if !changes.is_empty() {
        if repo::update_household(conn, id, expected, &new.changeset(), now)? == 0 {
            return Err(ApiError::PreconditionFailed);
        }
        let fields: Vec<&String> = changes.keys().collect();
        let event = Event::new("household_update")
            .object("household", id)
            .district(&row.district_code)
            .details(json!({"changed": fields}));
        audit::record(conn, key, ctx, &event)?;
        record_change(conn, id, None, expected + 1, "update", changes, None, ctx, now)?;
    }
    let (row, members) = load(conn, scope, id)?;
    Ok(view(row, &members))
}

/// One entry of a household's history as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Entry id (also the pagination cursor).
    pub id: String,
    /// The household version this change produced.
    pub version: i64,
    /// `create`, `update`, `member_add`, `member_update`, `member_remove`, `head_change`.
    pub change_type: String,
    /// The member concerned, if any.
    pub member_id: Option<String>,
    /// `{field: {"from": old, "to": new}}`.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// Removal reason, if any.
    pub reason: Option<String>,
    /// Who made the change.
    pub changed_by: String,
    /// When (UTC).
    pub changed_at: DateTime<Utc>,
}

/// A household's history, oldest first, with the audit event of the read for the caller to
/// record (it only reads: `db::read_audited`).
pub fn history(
    conn: &mut DbConnection,
    scope: &Scope,
    id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<HistoryEntry>, Event), ApiError> {
    let row = repo::find_household(conn, scope, id)?.ok_or(ApiError::NotFound)?;
    let entries = repo::history(conn, id, after, limit)?;
    let event = Event::new("household_history_read").object("household", id).district(&row.district_code);
    let entries = entries
        .into_iter()
        .map(|e| HistoryEntry {
            id: e.id,
            version: e.version,
            change_type: e.change_type,
            member_id: e.member_id,
            changes: serde_json::from_str(&e.changes).unwrap_or(Value::Null),
            reason: e.reason,
            changed_by: e.changed_by,
            changed_at: e.changed_at.and_utc(),
        })
        .collect();
    Ok((entries, event))
}

/// A search hit: enough to pick the right household, without every member's details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HouseholdSummary {
    /// Household id.
    pub id: String,
    /// Household number.
    pub household_number: String,
    /// District code.
    pub district: String,
    /// The head's name.
    pub head_name: Option<String>,
    /// The head's name in Urdu script, where known.
    pub head_name_ur: Option<String>,
    /// Current members.
    pub member_count: usize,
    /// Version.
    pub version: i64,
    /// When a clerk last screened the household (null: never).
    pub last_screened_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Finds households inside `scope`, with the audit event of the search (names of the filters
/// used only, never the values) for the caller to record (it only reads: `db::read_audited`).
pub fn search(
    conn: &mut DbConnection,
    scope: &Scope,
    filter: &SearchFilter,
    filters_used: &[&'static str],
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<HouseholdSummary>, Event), ApiError> {
    let rows = repo::search(conn, scope, filter, after, limit)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let members = repo::current_members_of(conn, &ids)?;
    let screened = last_screenings(conn, &ids)?;
    let event = Event::new("household_search").details(json!({"filters": filters_used, "results": rows.len()}));
    let found = rows
        .into_iter()
        .map(|r| {
            let mine: Vec<&MemberRow> = members.iter().filter(|m| m.household_id == r.id).collect();
            let head = mine.iter().find(|m| m.relation_to_head == "head");
            HouseholdSummary {
                head_name: head.map(|m| m.full_name.clone()),
                head_name_ur: head.and_then(|m| m.full_name_ur.clone()),
                member_count: mine.len(),
                last_screened_at: screened.get(&r.id).map(|at| at.and_utc()),
                id: r.id,
                household_number: r.household_number,
                district: r.district_code,
                version: r.version,
            }
        })
        .collect();
    Ok((found, event))
}

/// The time of each household's latest stored screening (one indexed query for a page).
fn last_screenings(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<std::collections::HashMap<String, chrono::NaiveDateTime>, ApiError> {
    use crate::db::schema::screenings;
    use diesel::dsl::max;
    use diesel::prelude::*;
    let rows: Vec<(String, Option<chrono::NaiveDateTime>)> = screenings::table
        .filter(screenings::household_id.eq_any(ids))
        .group_by(screenings::household_id)
        .select((screenings::household_id, max(screenings::screened_at)))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, at)| at.map(|at| (id, at))).collect())
}

/// Parses a removal reason.
pub fn removal_reason(raw: &str) -> Result<RemovalReason, ApiError> {
    RemovalReason::parse(raw).ok_or_else(|| {
        ApiError::invalid_field("reason", "invalid_choice", &format!("must be one of: {}", RemovalReason::allowed()))
    })
}
