//! The command line's side of rule governance: the rules in force for `screen` and
//! `report`, `rules export` (the rules in force, byte for byte), `rules simulate` (the impact
//! of files on disk, nothing stored) and `rules propose` (a proposal from files on disk).

use std::path::Path;

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::impact::{self, Input};
use super::proposal::{self, Actor, NewProposal};
use super::{compile, merged, read_dir, scheme_of, store};
use crate::audit::{self, AuditContext, AuditKey, Event};
use crate::config::Settings;
use crate::db::{self, DbConnection};
use crate::error::ApiError;
use crate::registry::warnings::today_in_pakistan;
use crate::rules::RuleSet;

/// The rules in force (the database is seeded from the rules directory when empty).
pub fn in_force(conn: &mut DbConnection, settings: &Settings) -> anyhow::Result<RuleSet> {
    Ok(super::prepare(conn, &settings.rules_dir, &AuditKey::new(&settings.audit_key))?.0)
}

/// Writes the rules in force into `dir` (created if missing), byte for byte as approved;
/// returns the number of files.
pub fn export(conn: &mut DbConnection, dir: &Path) -> anyhow::Result<usize> {
    let in_force = store::read_in_force(conn)?;
    if in_force.generation == 0 {
        anyhow::bail!("no rules are in force in this database yet (start the service once to seed them)");
    }
    std::fs::create_dir_all(dir)?;
    for (name, text) in &in_force.files {
        std::fs::write(dir.join(name), text.as_bytes())?;
    }
    Ok(in_force.files.len())
}

/// The files of `dir` that differ from the rules in force (changed or new).
fn changed(in_force: &store::InForce, dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let (files, _) = read_dir(dir)
        .map_err(|d| anyhow::anyhow!("{}", d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))?;
    Ok(files.into_iter().filter(|(name, text)| in_force.text_of(scheme_of(name)) != Some(text.as_str())).collect())
}

/// The impact of the files in `dir` (those that differ from the rules in force) on the
/// registry, as a report like the stored ones, storing nothing.
pub fn simulate(
    settings: &Settings,
    dir: &Path,
    as_of: Option<NaiveDate>,
    district: Option<&str>,
    counts_only: bool,
) -> anyhow::Result<Value> {
    let mut conn = db::connect(&settings.database_url)?;
    let current = in_force(&mut conn, settings)?;
    let in_force = store::read_in_force(&mut conn)?;
    let files = changed(&in_force, dir)?;
    let after = compile(&merged(&in_force, &files, &[]))
        .map_err(|d| anyhow::anyhow!("{}", d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))?;
    let focus: Vec<String> = files.iter().map(|(n, _)| scheme_of(n).to_string()).collect();
    let as_of = as_of.unwrap_or_else(today_in_pakistan);
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut reader = db::connect(&settings.database_url)?;
        db::tune_for_bulk(&mut reader)?;
        readers.push(Box::new(reader));
    }
    let started = std::time::Instant::now();
    let input = Input {
        before: &current,
        after: &after,
        as_of,
        district,
        focus: &focus,
        store_as: None,
        counts_only,
        chunk: super::activation::CHUNK,
    };
    let outcome = impact::compute(&mut conn, readers, &input)?;
    let mut report = json!({
        "simulated": true,
        "files": focus,
        "as_of": as_of,
        "district": district,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Value::Object(map) = &mut report {
        map.extend(outcome.json(&current, &after));
    }
    Ok(report)
}

/// Proposes the files of `dir` that differ from the rules in force (and retires `retire`)
/// as `author`, a scheme administrator or admin; returns the proposal id.
pub fn propose(
    settings: &Settings,
    dir: &Path,
    (summary, effective_from): (&str, &str),
    author: &str,
    retire: &[String],
) -> anyhow::Result<String> {
    let mut conn = db::connect(&settings.database_url)?;
    let current = in_force(&mut conn, settings)?;
    let in_force = store::read_in_force(&mut conn)?;
    let user = crate::auth::users::find_by_username(&mut conn, author)?
        .filter(|u| u.active)
        .ok_or_else(|| anyhow::anyhow!("--author {author:?} is not an active user"))?;
    let role = user.role().ok_or_else(|| anyhow::anyhow!("--author has no known role"))?;
    let assignments = crate::auth::users::assignments(&mut conn, &user.id)?;
    let actor = Actor { id: &user.id, username: &user.username, role, schemes: &assignments.schemes };
    let asked = NewProposal {
        summary: Some(summary.to_string()),
        effective_from: Some(effective_from.to_string()),
        files: changed(&in_force, dir)?.into_iter().collect(),
        retire: retire.to_vec(),
    };
    let describe = |e: ApiError| match e {
        ApiError::Validation(errors) => anyhow::anyhow!(
            "the proposal was refused:\n{}",
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("\n")
        ),
        other => anyhow::anyhow!("{other}"),
    };
    let checked = proposal::check(&in_force, &current, asked, &actor, today_in_pakistan(), false).map_err(describe)?;
    let key = AuditKey::new(&settings.audit_key);
    let id = db::write_tx(&mut conn, |c| -> anyhow::Result<String> {
        let row = proposal::create(c, &checked, &current.version, &actor, None)?;
        let ctx = AuditContext::cli().with_user(&user.id, &user.username, role);
        let event = Event::new("rule_propose").object("rule_proposal", &row.id).details(json!({
            "schemes": checked.base.keys().collect::<Vec<_>>(), "retire": checked.retire,
            "effective_from": checked.effective_from, "rules_after": checked.set.version, "via": "cli",
        }));
        audit::record(c, &key, &ctx, &event)?;
        Ok(row.id)
    })?;
    Ok(id)
}
