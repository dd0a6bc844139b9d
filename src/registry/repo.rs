//! Registry queries. Every read of a household takes a [`Scope`]: a clerk's queries are
//! restricted to the clerk's districts here, in SQL, so a handler cannot forget it. Another
//! district's household is simply not found.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::{
    ChangeRow, HouseholdChangeset, HouseholdRow, MemberChangeset, MemberFactsRow, MemberRow, REASON_DECEASED,
    STATUS_CURRENT,
};
use crate::db::DbConnection;
use crate::db::schema::{
    household_changes, household_counters, households, id_number_claims, member_name_keys, members,
};
use crate::per_backend;

/// Which households a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only households in these districts (clerks).
    Districts(Vec<String>),
    /// Every household (the operator's CLI: import, demo data).
    All,
}

impl Scope {
    /// Whether `district` is inside the scope.
    pub fn includes(&self, district: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Districts(list) => list.iter().any(|d| d == district),
        }
    }
}

fn scoped<'a>(scope: &Scope) -> households::BoxedQuery<'a, crate::db::MultiBackend> {
    let query = households::table.into_boxed();
    match scope {
        Scope::All => query,
        Scope::Districts(list) => query.filter(households::district_code.eq_any(list.clone())),
    }
}

/// A household inside `scope`, or `None`.
pub fn find_household(conn: &mut DbConnection, scope: &Scope, id: &str) -> QueryResult<Option<HouseholdRow>> {
    scoped(scope).filter(households::id.eq(id.to_string())).select(HouseholdRow::as_select()).first(conn).optional()
}

/// Members of a household, current first, in registration order.
pub fn members_of(conn: &mut DbConnection, household_id: &str, current_only: bool) -> QueryResult<Vec<MemberRow>> {
    let mut query = members::table.filter(members::household_id.eq(household_id.to_string())).into_boxed();
    if current_only {
        query = query.filter(members::status.eq(STATUS_CURRENT));
    }
    query
        .order((members::status.asc(), members::created_at.asc(), members::id.asc()))
        .select(MemberRow::as_select())
        .load(conn)
}

/// Current members of several households (search results).
pub fn current_members_of(conn: &mut DbConnection, household_ids: &[String]) -> QueryResult<Vec<MemberRow>> {
    members::table
        .filter(members::household_id.eq_any(household_ids))
        .filter(members::status.eq(STATUS_CURRENT))
        .order((members::created_at.asc(), members::id.asc()))
        .select(MemberRow::as_select())
        .load(conn)
}

/// The rule-relevant columns of the current members, and of those removed as deceased, of several households (batch
/// re-screening). In no particular order: every member condition of the rule language is
/// a quantifier (any, all, count, sum), so decisions do not depend on member order, and
/// sorting by a text key was half the database's time for these reads.
pub fn current_member_facts(conn: &mut DbConnection, household_ids: &[String]) -> QueryResult<Vec<MemberFactsRow>> {
    members::table
        .filter(members::household_id.eq_any(household_ids))
        .filter(members::status.eq(STATUS_CURRENT).or(members::removal_reason.eq(REASON_DECEASED)))
        .select(MemberFactsRow::as_select())
        .load(conn)
}

/// The rule-relevant columns of the current and deceased members of every household whose id is in
/// `(after, upto]` (a keyset chunk of the whole registry: one index range scan instead of
/// a long IN list). Unordered, as [`current_member_facts`].
pub fn current_member_facts_in_range(
    conn: &mut DbConnection,
    after: Option<&str>,
    upto: &str,
) -> QueryResult<Vec<MemberFactsRow>> {
    // PostgreSQL (and Citus) group the rows by household where they are and send one packed
    // text per household (see `packed`); SQLite has no wire to save and reads the columns.
    if let DbConnection::Postgres(c) = conn
        && let Some(rows) = super::packed::read(c, after, upto)?
    {
        return Ok(rows);
    }
    let mut query = members::table
        .filter(members::household_id.le(upto.to_string()))
        .filter(members::status.eq(STATUS_CURRENT).or(members::removal_reason.eq(REASON_DECEASED)))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(members::household_id.gt(after.to_string()));
    }
    query.select(MemberFactsRow::as_select()).load(conn)
}

/// (id number, member id, household id, household number) of a current ID holder.
pub type IdHolder = (Option<String>, String, String, String);

/// For each of `id_numbers` held by a current member anywhere in the registry (duplicates
/// are caught across districts): (id number, member id, household id, household number).
pub fn holders_of_id_numbers(conn: &mut DbConnection, id_numbers: &[String]) -> QueryResult<Vec<IdHolder>> {
    if id_numbers.is_empty() {
        return Ok(Vec::new());
    }
    // Through the claims, keyed by the number: on Citus each number is one shard and the
    // households are then looked up by their distribution column, so no query fans out to
    // every worker. The claims are written in the same transaction as the members.
    let claims: Vec<(String, String, String)> = id_number_claims::table
        .filter(id_number_claims::id_number.eq_any(id_numbers))
        .select((id_number_claims::id_number, id_number_claims::member_id, id_number_claims::household_id))
        .load(conn)?;
    if claims.is_empty() {
        return Ok(Vec::new());
    }
    let households: Vec<&str> = claims.iter().map(|(_, _, h)| h.as_str()).collect();
    let numbers: HashMap<String, String> = households::table
        .filter(households::id.eq_any(&households))
        .select((households::id, households::household_number))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    Ok(claims
        .into_iter()
        .filter_map(|(id_number, member, household)| {
            let number = numbers.get(&household)?.clone();
            Some((Some(id_number), member, household, number))
        })
        .collect())
}

/// The household holding `id_number` through a current member, if any (by the claim).
fn holder_of(conn: &mut DbConnection, id_number: &str) -> QueryResult<Option<String>> {
    id_number_claims::table
        .filter(id_number_claims::id_number.eq(id_number))
        .select(id_number_claims::household_id)
        .first(conn)
        .optional()
}

/// The group of a member's `dedup_key` (name, date of birth, father/husband name) in
/// `member_name_keys`, the table's distribution column on Citus: the father/husband part
/// (the text after the key's last `|`), or the whole key when that part is empty. Equal
/// keys have equal groups. Migration 000016 computes the same in SQL for its backfill.
pub fn name_group(dedup_key: &str) -> &str {
    match dedup_key.rsplit_once('|') {
        Some((_, father)) if !father.is_empty() => father,
        _ => dedup_key,
    }
}

/// (dedup key, household number) of current members of other households sharing one of
/// `keys` (likely duplicates). Read from `member_name_keys` by the keys' groups: on Citus
/// the shards of those groups only (usually one), not every shard of `members`.
pub fn possible_duplicates(
    conn: &mut DbConnection,
    keys: &[String],
    except_household: &str,
) -> QueryResult<Vec<(String, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut groups: Vec<&str> = keys.iter().map(|k| name_group(k)).collect();
    groups.sort_unstable();
    groups.dedup();
    member_name_keys::table
        .filter(member_name_keys::name_group.eq_any(groups))
        .filter(member_name_keys::dedup_key.eq_any(keys))
        .filter(member_name_keys::household_id.ne(except_household))
        .select((member_name_keys::dedup_key, member_name_keys::household_number))
        .limit(50)
        .load(conn)
}

/// Takes the next number of `district`'s sequence (locks the counter row until commit).
pub fn next_household_number(conn: &mut DbConnection, district: &str) -> QueryResult<String> {
    Ok(reserve_household_numbers(conn, district, 1)?.pop().unwrap_or_default())
}

/// Takes the next `count` numbers of `district`'s sequence in one statement (locks the
/// counter row until commit). Counters are seeded for every district; one for a district
/// added later is created on first use, safely under concurrency.
pub fn reserve_household_numbers(conn: &mut DbConnection, district: &str, count: usize) -> QueryResult<Vec<String>> {
    let step = count as i64;
    for _ in 0..2 {
        let last: Option<i64> = diesel::update(household_counters::table.find(district))
            .set(household_counters::last_value.eq(household_counters::last_value + step))
            .returning(household_counters::last_value)
            .get_result(conn)
            .optional()?;
        if let Some(last) = last {
            let prefix = district.to_uppercase();
            return Ok((last - step + 1..=last).map(|value| format!("{prefix}-{value:06}")).collect());
        }
        let row = (household_counters::district_code.eq(district), household_counters::last_value.eq(0_i64));
        per_backend!(conn, |c| diesel::insert_into(household_counters::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Err(diesel::result::Error::NotFound)
}

/// Rows per multi-row INSERT: PostgreSQL allows 65,535 bind parameters, and a member row
/// has 37 columns.
const INSERT_CHUNK: usize = 1_500;

/// Inserts household rows (multi-row statements).
pub fn insert_households(conn: &mut DbConnection, rows: &[HouseholdRow]) -> QueryResult<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(households::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Inserts a household row.
pub fn insert_household(conn: &mut DbConnection, row: &HouseholdRow) -> QueryResult<()> {
    insert_households(conn, std::slice::from_ref(row))
}

/// Inserts member rows (multi-row statements) of `households`, claiming their ID numbers
/// first: a number another current member holds (or two of `rows` share) fails here with a
/// unique violation, after which the caller must roll back. The current members' name keys
/// (`member_name_keys`, with their household's number) are written with them.
///
/// Registration does not look the numbers up first (see `service::register`), so this is
/// how an already registered number is refused. The claims go in with `ON CONFLICT DO
/// NOTHING` and are counted instead of letting the INSERT fail: PostgreSQL would log the
/// failed statement with the conflicting key, an ID number, in its server log.
pub fn insert_members(conn: &mut DbConnection, households: &[HouseholdRow], rows: &[MemberRow]) -> QueryResult<()> {
    let claims: Vec<_> = rows
        .iter()
        .filter(|m| m.status == STATUS_CURRENT)
        .filter_map(|m| m.id_number.as_ref().map(|n| claim(n, &m.household_id, &m.id)))
        .collect();
    for chunk in claims.chunks(INSERT_CHUNK) {
        let claimed = per_backend!(conn, |c| diesel::insert_into(id_number_claims::table)
            .values(chunk)
            .on_conflict(id_number_claims::id_number)
            .do_nothing()
            .execute(c))?;
        if claimed < chunk.len() {
            return Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                Box::new("an ID number is already claimed by a current member".to_string()),
            ));
        }
    }
    let numbers: HashMap<&str, &str> =
        households.iter().map(|h| (h.id.as_str(), h.household_number.as_str())).collect();
    let keys = rows
        .iter()
        .filter(|m| m.status == STATUS_CURRENT)
        .map(|m| {
            let number = numbers.get(m.household_id.as_str()).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(
                    format!("member {} of household {}, which is not being written", m.id, m.household_id).into(),
                )
            })?;
            Ok(name_key(&m.dedup_key, &m.household_id, &m.id, number))
        })
        .collect::<QueryResult<Vec<_>>>()?;
    for chunk in keys.chunks(INSERT_CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(member_name_keys::table).values(chunk).execute(c))?;
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(members::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Writes household fields if the stored version is `expected`; returns rows changed.
pub fn update_household(
    conn: &mut DbConnection,
    id: &str,
    expected: i64,
    changes: &HouseholdChangeset,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(households::table.filter(households::id.eq(id)).filter(households::version.eq(expected)))
        .set((changes, households::version.eq(households::version + 1), households::updated_at.eq(now)))
        .execute(conn)
}

/// Bumps the version if it is `expected` (member changes count as household changes).
pub fn bump_version(conn: &mut DbConnection, id: &str, expected: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(households::table.filter(households::id.eq(id)).filter(households::version.eq(expected)))
        .set((households::version.eq(households::version + 1), households::updated_at.eq(now)))
        .execute(conn)
}

/// The values of one `id_number_claims` row.
type Claim<'a> = (
    diesel::dsl::Eq<id_number_claims::id_number, &'a str>,
    diesel::dsl::Eq<id_number_claims::household_id, &'a str>,
    diesel::dsl::Eq<id_number_claims::member_id, &'a str>,
);

/// The claim row that keeps an ID number unique among current members (a table keyed by
/// the number, so a Citus cluster enforces it too; see migration 000015).
fn claim<'a>(id_number: &'a str, household_id: &'a str, member_id: &'a str) -> Claim<'a> {
    (
        id_number_claims::id_number.eq(id_number),
        id_number_claims::household_id.eq(household_id),
        id_number_claims::member_id.eq(member_id),
    )
}

/// The values of one `member_name_keys` row.
type NameKey<'a> = (
    diesel::dsl::Eq<member_name_keys::name_group, &'a str>,
    diesel::dsl::Eq<member_name_keys::dedup_key, &'a str>,
    diesel::dsl::Eq<member_name_keys::household_id, &'a str>,
    diesel::dsl::Eq<member_name_keys::member_id, &'a str>,
    diesel::dsl::Eq<member_name_keys::household_number, &'a str>,
);

/// The name-key row of a current member (see [`possible_duplicates`]).
fn name_key<'a>(
    dedup_key: &'a str,
    household_id: &'a str,
    member_id: &'a str,
    household_number: &'a str,
) -> NameKey<'a> {
    (
        member_name_keys::name_group.eq(name_group(dedup_key)),
        member_name_keys::dedup_key.eq(dedup_key),
        member_name_keys::household_id.eq(household_id),
        member_name_keys::member_id.eq(member_id),
        member_name_keys::household_number.eq(household_number),
    )
}

/// Removes a member's name-key row (removed, or the key changed); by its group, so on
/// Citus the delete goes to one shard.
fn drop_name_key(conn: &mut DbConnection, dedup_key: &str, member_id: &str) -> QueryResult<usize> {
    diesel::delete(
        member_name_keys::table
            .filter(member_name_keys::name_group.eq(name_group(dedup_key)))
            .filter(member_name_keys::member_id.eq(member_id)),
    )
    .execute(conn)
}

/// Releases a member's claim on an ID number (removed, or the number changed).
/// Looked up by the number, so on Citus the delete goes to the one shard holding it.
fn release_claim(conn: &mut DbConnection, id_number: Option<&str>, member_id: &str) -> QueryResult<usize> {
    let Some(number) = id_number else { return Ok(0) };
    diesel::delete(
        id_number_claims::table
            .filter(id_number_claims::id_number.eq(number))
            .filter(id_number_claims::member_id.eq(member_id)),
    )
    .execute(conn)
}

/// Writes a current member's fields (`stored` is its row before the change, in the
/// household numbered `household_number`); the ID number's claim moves only when the
/// number changes, the name-key row only when the key (name, date of birth,
/// father/husband name) changes.
pub fn update_member(
    conn: &mut DbConnection,
    stored: &MemberRow,
    household_number: &str,
    changes: &MemberChangeset,
) -> QueryResult<usize> {
    let (household_id, member_id) = (stored.household_id.as_str(), stored.id.as_str());
    if stored.id_number != changes.id_number {
        release_claim(conn, stored.id_number.as_deref(), member_id)?;
        if let Some(number) = &changes.id_number {
            per_backend!(conn, |c| diesel::insert_into(id_number_claims::table)
                .values(claim(number, household_id, member_id))
                .execute(c))?;
        }
    }
    if stored.dedup_key != changes.dedup_key {
        drop_name_key(conn, &stored.dedup_key, member_id)?;
        let key = name_key(&changes.dedup_key, household_id, member_id, household_number);
        per_backend!(conn, |c| diesel::insert_into(member_name_keys::table).values(key).execute(c))?;
    }
    diesel::update(members::table.filter(members::household_id.eq(household_id)).filter(members::id.eq(member_id)))
        .set(changes)
        .execute(conn)
}

/// Writes a removed member's fields (a deceased member's record); no ID number claim moves.
pub fn update_removed_member(
    conn: &mut DbConnection,
    household_id: &str,
    member_id: &str,
    changes: &MemberChangeset,
) -> QueryResult<usize> {
    diesel::update(members::table.filter(members::household_id.eq(household_id)).filter(members::id.eq(member_id)))
        .set(changes)
        .execute(conn)
}

/// Marks a current member (`stored`) removed, keeping the row for history; the ID number
/// is free again and the same-name search no longer finds the member.
pub fn remove_member(
    conn: &mut DbConnection,
    stored: &MemberRow,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let (household_id, member_id) = (stored.household_id.as_str(), stored.id.as_str());
    release_claim(conn, stored.id_number.as_deref(), member_id)?;
    drop_name_key(conn, &stored.dedup_key, member_id)?;
    diesel::update(members::table.filter(members::household_id.eq(household_id)).filter(members::id.eq(member_id)))
        .set((
            members::status.eq(super::model::STATUS_REMOVED),
            members::removal_reason.eq(reason),
            members::removed_at.eq(now),
            members::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Sets (or clears) the date of death of a member removed as deceased.
pub fn set_date_of_death(
    conn: &mut DbConnection,
    household_id: &str,
    member_id: &str,
    date: Option<NaiveDate>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(members::table.filter(members::household_id.eq(household_id)).filter(members::id.eq(member_id)))
        .set((members::date_of_death.eq(date), members::updated_at.eq(now)))
        .execute(conn)
}

/// Sets a member's relation to the head.
pub fn set_relation(
    conn: &mut DbConnection,
    household_id: &str,
    member_id: &str,
    relation: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(members::table.filter(members::household_id.eq(household_id)).filter(members::id.eq(member_id)))
        .set((members::relation_to_head.eq(relation), members::updated_at.eq(now)))
        .execute(conn)
}

/// Appends history entries.
pub fn insert_changes(conn: &mut DbConnection, rows: &[ChangeRow]) -> QueryResult<()> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        per_backend!(conn, |c| diesel::insert_into(household_changes::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Appends a history entry.
pub fn insert_change(conn: &mut DbConnection, row: &ChangeRow) -> QueryResult<()> {
    insert_changes(conn, std::slice::from_ref(row))
}

/// A household's history, oldest first, after the `after` entry id.
pub fn history(
    conn: &mut DbConnection,
    household_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ChangeRow>> {
    let mut query =
        household_changes::table.filter(household_changes::household_id.eq(household_id.to_string())).into_boxed();
    if let Some(after) = after {
        query = query.filter(household_changes::id.gt(after.to_string()));
    }
    query.order(household_changes::id.asc()).limit(limit).select(ChangeRow::as_select()).load(conn)
}

/// The household already created from the same import record, if any.
pub fn find_by_import_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<(String, String)>> {
    Ok(find_by_import_hashes(conn, &[hash.to_string()])?.pop().map(|(_, id, number)| (id, number)))
}

/// (import hash, household id, household number) of the households created from any of
/// `hashes`.
pub fn find_by_import_hashes(conn: &mut DbConnection, hashes: &[String]) -> QueryResult<Vec<(String, String, String)>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    households::table
        .filter(households::import_hash.eq_any(hashes))
        .select((households::import_hash.assume_not_null(), households::id, households::household_number))
        .load(conn)
}

/// Search criteria (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Normalised 13-digit ID number held by a current member.
    pub id_number: Option<String>,
    /// Exact household number (upper-cased).
    pub household_number: Option<String>,
    /// Search-key prefix of a current member's name (of record or in Urdu script), with its
    /// exclusive upper bound.
    pub name_range: Option<(String, String)>,
    /// District code.
    pub district: Option<String>,
}

/// Households inside `scope` matching `filter`, by id after `after`, at most `limit`.
pub fn search(
    conn: &mut DbConnection,
    scope: &Scope,
    filter: &SearchFilter,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<HouseholdRow>> {
    let mut query = scoped(scope);
    if let Some(id_number) = &filter.id_number {
        // The claim names the one household (a single-shard lookup on Citus, where a join
        // with the members would ask every worker).
        let Some(holder) = holder_of(conn, id_number)? else { return Ok(Vec::new()) };
        query = query.filter(households::id.eq(holder));
    }
    if let Some((low, high)) = &filter.name_range {
        // Either key in the range: an index range scan on each (SQLite's multi-index OR,
        // PostgreSQL's BitmapOr).
        let in_name = members::name_key.ge(low.clone()).and(members::name_key.lt(high.clone()));
        let in_name_ur = members::name_key_ur.ge(low.clone()).and(members::name_key_ur.lt(high.clone()));
        let named = members::table
            .filter(in_name.or(in_name_ur))
            .filter(members::status.eq(STATUS_CURRENT))
            .select(members::household_id);
        query = query.filter(households::id.eq_any(named));
    }
    if let Some(number) = &filter.household_number {
        query = query.filter(households::household_number.eq(number.clone()));
    }
    if let Some(district) = &filter.district {
        query = query.filter(households::district_code.eq(district.clone()));
    }
    if let Some(after) = after {
        query = query.filter(households::id.gt(after.to_string()));
    }
    query.order(households::id.asc()).limit(limit).select(HouseholdRow::as_select()).load(conn)
}

#[cfg(test)]
mod tests {
    use super::name_group;

    #[test]
    fn a_name_key_is_grouped_by_its_father_or_husband_part_or_else_by_itself() {
        assert_eq!(name_group("bibi fatima|1980-07-15|gul khan"), "gul khan");
        assert_eq!(name_group("zarmina|2015-02-10|"), "zarmina|2015-02-10|");
        // A `|` inside a name: the text after the last one still decides, as in the SQL.
        assert_eq!(name_group("a|b|2000-01-01|c d"), "c d");
        assert_eq!(name_group("no separator"), "no separator");
    }
}
