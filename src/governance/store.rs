//! The rules in force, kept in the database so every instance reads the same rules: one row
//! per scheme naming its current version (`rule_files`), every version ever activated
//! (`rule_versions`) and a generation counter (`rule_state`) that instances poll.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::audit::now_micros;
use crate::db::DbConnection;
use crate::db::schema::{rule_files, rule_state, rule_versions};
use crate::per_backend;

/// A version of one scheme's file, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rule_versions)]
pub struct VersionRow {
    pub id: String,
    pub scheme_id: String,
    pub seq: i32,
    pub file_name: String,
    pub body: Option<String>,
    pub sha256: String,
    pub proposal_id: Option<String>,
    pub summary: String,
    pub proposed_by: Option<String>,
    pub approved_by: Option<String>,
    pub activated_by: String,
    pub effective_from: NaiveDate,
    pub activated_at: chrono::NaiveDateTime,
}

/// The rules in force as files, with the version of each scheme and the generation.
#[derive(Debug, Clone, Default)]
pub struct InForce {
    /// `(file name, text)`, sorted by file name.
    pub files: Vec<(String, String)>,
    /// Scheme id → its current version id.
    pub versions: BTreeMap<String, String>,
    /// The generation of the rules in force (0: never seeded).
    pub generation: i64,
}

impl InForce {
    /// The text of one scheme's file.
    pub fn text_of(&self, scheme: &str) -> Option<&str> {
        let name = file_name(scheme);
        self.files.iter().find(|(n, _)| *n == name).map(|(_, t)| t.as_str())
    }
}

/// The file name of a scheme (`<id>.yaml`).
pub fn file_name(scheme: &str) -> String {
    format!("{scheme}.yaml")
}

/// Hex SHA-256 of a text.
pub fn sha256(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The generation of the rules in force (0 when no rules were ever stored).
pub fn generation(conn: &mut DbConnection) -> QueryResult<i64> {
    Ok(rule_state::table.find(1).select(rule_state::generation).first(conn).optional()?.unwrap_or(0))
}

/// The rule-set version (content hash) recorded with the rules in force.
pub fn rules_version(conn: &mut DbConnection) -> QueryResult<Option<String>> {
    rule_state::table.find(1).select(rule_state::rules_version).first(conn).optional()
}

/// Reads the rules in force.
pub fn read_in_force(conn: &mut DbConnection) -> QueryResult<InForce> {
    let generation = generation(conn)?;
    let rows: Vec<(String, String, String, Option<String>)> = rule_files::table
        .inner_join(rule_versions::table)
        .select((rule_files::scheme_id, rule_versions::id, rule_versions::file_name, rule_versions::body))
        .order(rule_versions::file_name.asc())
        .load(conn)?;
    let mut out = InForce { generation, ..InForce::default() };
    for (scheme, version, name, body) in rows {
        if let Some(body) = body {
            out.files.push((name, body));
        }
        out.versions.insert(scheme, version);
    }
    Ok(out)
}

/// One scheme's new file (`None`: the scheme is retired).
pub struct NewFile<'a> {
    /// Scheme id.
    pub scheme: &'a str,
    /// The text, or `None` to retire the scheme.
    pub body: Option<&'a str>,
}

/// Who and what an activation records on each version.
pub struct Provenance<'a> {
    pub proposal_id: Option<&'a str>,
    pub summary: &'a str,
    pub proposed_by: Option<&'a str>,
    pub approved_by: Option<&'a str>,
    pub activated_by: &'a str,
    pub effective_from: NaiveDate,
}

/// Makes `files` the rules in force for their schemes: a new version of each, the in-force
/// pointers moved, the generation bumped with the new rule-set version. Call inside a write
/// transaction; returns the new version ids, in the order given.
pub fn activate(
    conn: &mut DbConnection,
    files: &[NewFile<'_>],
    who: &Provenance<'_>,
    rules_version: &str,
) -> QueryResult<Vec<String>> {
    let now = now_micros();
    let mut ids = Vec::new();
    for f in files {
        let last: Option<i32> = rule_versions::table
            .filter(rule_versions::scheme_id.eq(f.scheme))
            .select(diesel::dsl::max(rule_versions::seq))
            .first(conn)?;
        let row = VersionRow {
            id: uuid::Uuid::now_v7().to_string(),
            scheme_id: f.scheme.to_string(),
            seq: last.unwrap_or(0) + 1,
            file_name: file_name(f.scheme),
            body: f.body.map(str::to_string),
            sha256: sha256(f.body.unwrap_or("")),
            proposal_id: who.proposal_id.map(str::to_string),
            summary: who.summary.to_string(),
            proposed_by: who.proposed_by.map(str::to_string),
            approved_by: who.approved_by.map(str::to_string),
            activated_by: who.activated_by.to_string(),
            effective_from: who.effective_from,
            activated_at: now,
        };
        per_backend!(conn, |c| diesel::insert_into(rule_versions::table).values(&row).execute(c))?;
        diesel::delete(rule_files::table.find(f.scheme)).execute(conn)?;
        if f.body.is_some() {
            per_backend!(conn, |c| diesel::insert_into(rule_files::table)
                .values((rule_files::scheme_id.eq(f.scheme), rule_files::version_id.eq(&row.id)))
                .execute(c))?;
        }
        ids.push(row.id);
    }
    let generation = generation(conn)?;
    if generation == 0 {
        per_backend!(conn, |c| diesel::insert_into(rule_state::table)
            .values((
                rule_state::id.eq(1),
                rule_state::generation.eq(1_i64),
                rule_state::rules_version.eq(rules_version),
                rule_state::changed_at.eq(now),
            ))
            .execute(c))?;
    } else {
        diesel::update(rule_state::table.find(1))
            .set((
                rule_state::generation.eq(generation + 1),
                rule_state::rules_version.eq(rules_version),
                rule_state::changed_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(ids)
}

/// One version by id.
pub fn version(conn: &mut DbConnection, id: &str) -> QueryResult<Option<VersionRow>> {
    rule_versions::table.find(id).select(VersionRow::as_select()).first(conn).optional()
}

/// Versions by id.
pub fn versions(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<VersionRow>> {
    rule_versions::table.filter(rule_versions::id.eq_any(ids)).select(VersionRow::as_select()).load(conn)
}
