//! Member operations under a household: add, update, remove with a reason, and change the
//! head. Every one checks the household's version (`If-Match`), bumps it, keeps the
//! previous values in the history and records an audit event. A household has exactly one
//! head at all times: the head changes only through [`change_head`].

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::model::{HouseholdRow, MemberFields, MemberRow, REASON_DECEASED, STATUS_CURRENT};
use super::parse::{self, MAX_MEMBERS};
use super::repo::{self, Scope};
use super::service::{self, HouseholdView, HouseholdWithWarnings, check_id_numbers, record_change, view};
use super::warnings::member_warnings;
use crate::audit::{self, AuditContext, AuditKey, Event, now_micros};
use crate::db::DbConnection;
use crate::domain::codes::{Relation, RemovalReason};
use crate::error::ApiError;

/// Who is acting, and on which household at which version.
pub struct Target<'a> {
    /// Audit context of the caller.
    pub ctx: &'a AuditContext,
    /// The caller's district scope.
    pub scope: &'a Scope,
    /// The household id.
    pub household_id: &'a str,
    /// The version from `If-Match`.
    pub expected_version: i64,
}

/// Loads the household and its members, checks the version and bumps it.
fn begin(conn: &mut DbConnection, t: &Target<'_>) -> Result<(HouseholdRow, Vec<MemberRow>), ApiError> {
    let (row, members) = service::load(conn, t.scope, t.household_id)?;
    if row.version != t.expected_version
        || repo::bump_version(conn, t.household_id, t.expected_version, now_micros())? == 0
    {
        return Err(ApiError::PreconditionFailed);
    }
    Ok((row, members))
}

fn current<'m>(members: &'m [MemberRow], member_id: &str) -> Result<&'m MemberRow, ApiError> {
    members.iter().find(|m| m.id == member_id && m.status == STATUS_CURRENT).ok_or(ApiError::NotFound)
}

/// A current member, or one removed as deceased (whose record stays editable: the
/// deceased's insurance and date of death decide survivors' schemes).
fn current_or_deceased<'m>(members: &'m [MemberRow], member_id: &str) -> Result<&'m MemberRow, ApiError> {
    members
        .iter()
        .find(|m| {
            m.id == member_id && (m.status == STATUS_CURRENT || m.removal_reason.as_deref() == Some(REASON_DECEASED))
        })
        .ok_or(ApiError::NotFound)
}

/// Reads a `date_of_death` value: a date, not in the future, not before the date of birth.
pub fn date_of_death(value: &Value, born: Option<NaiveDate>, today: NaiveDate) -> Result<Option<NaiveDate>, ApiError> {
    let field = "date_of_death";
    let date = match value {
        Value::Null => return Ok(None),
        Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid_field(field, "invalid_date", "must be a date written YYYY-MM-DD"))?,
        _ => return Err(ApiError::invalid_field(field, "invalid_type", "must be a date written YYYY-MM-DD")),
    };
    if date > today {
        return Err(ApiError::invalid_field(field, "in_future", "must not be in the future"));
    }
    if born.is_some_and(|b| date < b) {
        return Err(ApiError::invalid_field(field, "before_birth", "must not be before the date of birth"));
    }
    Ok(Some(date))
}

fn finish(
    conn: &mut DbConnection,
    key: &AuditKey,
    t: &Target<'_>,
    district: &str,
    action: &str,
    details: Value,
) -> Result<HouseholdView, ApiError> {
    let event = Event::new(action).object("household", t.household_id).district(district).details(details);
    audit::record(conn, key, t.ctx, &event)?;
    let (row, members) = service::load(conn, t.scope, t.household_id)?;
    Ok(view(row, &members))
}

/// Adds a member (not a head: use [`change_head`] to make a member the head).
pub fn add_member(
    conn: &mut DbConnection,
    key: &AuditKey,
    t: &Target<'_>,
    member: &MemberFields,
    today: NaiveDate,
) -> Result<HouseholdWithWarnings, ApiError> {
    if member.relation_to_head == Relation::Head {
        return Err(ApiError::invalid_field(
            "relation_to_head",
            "head_exists",
            "the household already has a head; add the member, then change the head",
        ));
    }
    let (row, members) = begin(conn, t)?;
    if members.iter().filter(|m| m.status == STATUS_CURRENT).count() >= MAX_MEMBERS {
        return Err(ApiError::conflict("too_many_members", "a household has at most 30 members"));
    }
    check_id_numbers(conn, &[("member".into(), member)], None)?;
    let now = now_micros();
    let new = member.new_row(uuid::Uuid::now_v7().to_string(), t.household_id, now);
    repo::insert_members(conn, std::slice::from_ref(&row), std::slice::from_ref(&new))
        .map_err(service::members_write_error)?;
    let mut warnings = member_warnings(member, "member", today);
    for w in &mut warnings {
        w.member_id = Some(new.id.clone());
    }
    record_change(
        conn,
        t.household_id,
        Some(&new.id),
        t.expected_version + 1,
        "member_add",
        Map::new(),
        None,
        t.ctx,
        now,
    )?;
    let household = finish(conn, key, t, &row.district_code, "member_add", json!({"member_id": new.id}))?;
    Ok(HouseholdWithWarnings { household, warnings })
}

/// Applies a merge patch to a member. The head's relation cannot change here, and no one
/// becomes head here.
pub fn update_member(
    conn: &mut DbConnection,
    key: &AuditKey,
    t: &Target<'_>,
    member_id: &str,
    patch: &Value,
    today: NaiveDate,
) -> Result<HouseholdWithWarnings, ApiError> {
    // Not `begin`: a patch that changes nothing must not bump the version or add history.
    let (row, members) = service::load(conn, t.scope, t.household_id)?;
    if row.version != t.expected_version {
        return Err(ApiError::PreconditionFailed);
    }
    let stored = current_or_deceased(&members, member_id)?;
    let deceased = stored.status != STATUS_CURRENT;
    let old = MemberFields::from_row(stored);
    // A deceased member's patch may also set `date_of_death`; it is read apart from the
    // member's fields (a current member has none).
    let mut patch = patch.clone();
    let death = match patch.as_object_mut().and_then(|o| o.remove("date_of_death")) {
        Some(_) if !deceased => {
            return Err(ApiError::invalid_field(
                "date_of_death",
                "not_allowed",
                "only a member removed as deceased has a date of death: remove the member with reason deceased",
            ));
        }
        Some(v) => Some(date_of_death(&v, Some(old.date_of_birth), today)?),
        None => None,
    };
    let new =
        parse::patched(&parse::to_object(&old), &patch, parse::MEMBER_EDITABLE, |m| parse::parse_member(m, "", today))
            .map_err(ApiError::Validation)?;
    if death.flatten().is_some_and(|d| d < new.date_of_birth) {
        return Err(ApiError::invalid_field("date_of_death", "before_birth", "must not be before the date of birth"));
    }
    if (old.relation_to_head == Relation::Head) != (new.relation_to_head == Relation::Head) {
        return Err(ApiError::invalid_field(
            "relation_to_head",
            "use_change_head",
            "the head changes only through POST /households/{id}/head",
        ));
    }
    if new.id_number != old.id_number && !deceased {
        check_id_numbers(conn, &[("member".into(), &new)], Some(member_id))?;
    }
    let mut changes = parse::diff(&old, &new);
    if let Some(date) = death.filter(|d| *d != stored.date_of_death) {
        changes.insert("date_of_death".into(), json!({"from": stored.date_of_death, "to": date}));
    }
    let now = now_micros();
    if changes.is_empty() {
        return Ok(HouseholdWithWarnings { household: view(row, &members), warnings: Vec::new() });
    }
    if repo::bump_version(conn, t.household_id, t.expected_version, now)? == 0 {
        return Err(ApiError::PreconditionFailed);
    }
    if deceased {
        // A removed member holds no ID number claim: its fields are written as they are.
        repo::update_removed_member(conn, t.household_id, member_id, &new.changeset(now))?;
        if let Some(date) = death {
            repo::set_date_of_death(conn, t.household_id, member_id, date, now)?;
        }
    } else {
        repo::update_member(conn, stored, &row.household_number, &new.changeset(now))
            .map_err(service::members_write_error)?;
    }
    let fields: Vec<String> = changes.keys().cloned().collect();
    record_change(
        conn,
        t.household_id,
        Some(member_id),
        t.expected_version + 1,
        "member_update",
        changes,
        None,
        t.ctx,
        now,
    )?;
    let mut warnings = member_warnings(&new, "member", today);
    for w in &mut warnings {
        w.member_id = Some(member_id.to_string());
    }
    let details = json!({"member_id": member_id, "changed": fields});
    let household = finish(conn, key, t, &row.district_code, "member_update", details)?;
    Ok(HouseholdWithWarnings { household, warnings })
}

/// Removes a member with a reason; the row stays, marked removed, for history.
pub fn remove_member(
    conn: &mut DbConnection,
    key: &AuditKey,
    t: &Target<'_>,
    member_id: &str,
    reason: RemovalReason,
    date_of_death: Option<NaiveDate>,
) -> Result<HouseholdView, ApiError> {
    let (row, members) = begin(conn, t)?;
    let stored = current(&members, member_id)?;
    if stored.relation_to_head == Relation::Head.as_str() {
        return Err(ApiError::conflict("head_cannot_be_removed", "make another member the head first"));
    }
    if date_of_death.is_some_and(|d| d < stored.date_of_birth) {
        return Err(ApiError::invalid_field("date_of_death", "before_birth", "must not be before the date of birth"));
    }
    let now = now_micros();
    repo::remove_member(conn, stored, reason.as_str(), now)?;
    let mut changes = Map::new();
    changes.insert("status".into(), json!({"from": "current", "to": "removed"}));
    if let Some(date) = date_of_death {
        repo::set_date_of_death(conn, t.household_id, member_id, Some(date), now)?;
        changes.insert("date_of_death".into(), json!({"from": null, "to": date}));
    }
    record_change(
        conn,
        t.household_id,
        Some(member_id),
        t.expected_version + 1,
        "member_remove",
        changes,
        Some(reason.as_str()),
        t.ctx,
        now,
    )?;
    let details = json!({"member_id": member_id, "reason": reason.as_str()});
    finish(conn, key, t, &row.district_code, "member_remove", details)
}

/// Makes `new_head_id` the head; the previous head takes `previous_head_relation`.
pub fn change_head(
    conn: &mut DbConnection,
    key: &AuditKey,
    t: &Target<'_>,
    new_head_id: &str,
    previous_head_relation: Relation,
) -> Result<HouseholdView, ApiError> {
    if previous_head_relation == Relation::Head {
        return Err(ApiError::invalid_field(
            "previous_head_relation",
            "invalid_choice",
            "the previous head needs another relation",
        ));
    }
    let (row, members) = begin(conn, t)?;
    let new_head = current(&members, new_head_id).map_err(|_| {
        ApiError::invalid_field("member_id", "not_a_member", "is not a current member of this household")
    })?;
    if new_head.relation_to_head == Relation::Head.as_str() {
        return Err(ApiError::invalid_field("member_id", "already_head", "this member is already the head"));
    }
    let old_head = members
        .iter()
        .find(|m| m.status == STATUS_CURRENT && m.relation_to_head == Relation::Head.as_str())
        .ok_or_else(|| anyhow::anyhow!("household {} has no head", t.household_id))?;
    let now = now_micros();
    repo::set_relation(conn, t.household_id, &old_head.id, previous_head_relation.as_str(), now)?;
    repo::set_relation(conn, t.household_id, new_head_id, Relation::Head.as_str(), now)?;
    let mut changes = Map::new();
    changes.insert("head".into(), json!({"from": old_head.id, "to": new_head_id}));
    changes.insert(
        "previous_head_relation".into(),
        json!({"from": "head", "to": previous_head_relation.as_str(), "member_id": old_head.id}),
    );
    changes.insert("new_head_relation".into(), json!({"from": new_head.relation_to_head, "to": "head"}));
    record_change(
        conn,
        t.household_id,
        Some(new_head_id),
        t.expected_version + 1,
        "head_change",
        changes,
        None,
        t.ctx,
        now,
    )?;
    let details = json!({"new_head": new_head_id, "previous_head": old_head.id});
    finish(conn, key, t, &row.district_code, "head_change", details)
}
