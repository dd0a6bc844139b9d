//! Rule governance: the rules in force kept in the database for every instance, proposals
//! checked against them, impact reports on the registry, four-eyes approval, activation on
//! the effective date (with the impact computed again), versions, rollback and freezes.
//!
//! The flow (see `docs/RULE-CHANGES.md`): [`proposal::create`] → [`impact::compute`] →
//! [`proposal::approve`] → [`activation::activate_due`] → [`store::activate`], after which
//! every instance's [`Poller`] installs the new rules within a second or two.

pub mod activation;
pub mod diff;
pub mod impact;
pub mod offline;
pub mod proposal;
pub mod scan;
pub mod store;

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::audit::{self, AuditContext, AuditKey, Event};
use crate::db::{DbConnection, DbPool, write_tx};
use crate::rules::{Diagnostic, RuleSet, load};
use crate::screening::RulesHandle;
pub use store::InForce;

/// Rule files as `(file name, text)`.
pub type Files = Vec<(String, String)>;

/// Reads the `*.yaml` files of a rules directory as `(file name, text)`, sorted by name,
/// and checks them together.
pub fn read_dir(dir: &Path) -> Result<(Files, RuleSet), Vec<Diagnostic>> {
    let set = load::load_dir(dir)?;
    let mut files = Vec::new();
    let fail =
        |message: String| vec![Diagnostic { file: dir.display().to_string(), line: 1, column: 1, message, hint: None }];
    let entries = std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read the rules directory: {e}")))?;
    for entry in entries {
        let path = entry.map_err(|e| fail(format!("cannot read the rules directory: {e}")))?.path();
        if path.extension().is_some_and(|x| x == "yaml" || x == "yml") && path.is_file() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("{name}: {e}")))?;
            files.push((name, text));
        }
    }
    files.sort();
    Ok((files, set))
}

/// The scheme id of a file name (`<id>.yaml` or `.yml`).
pub fn scheme_of(name: &str) -> &str {
    name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml")).unwrap_or(name)
}

/// Checks files given as `(name, text)` together (names are base names).
pub fn compile(files: &[(String, String)]) -> Result<RuleSet, Vec<Diagnostic>> {
    load::load_sources(files)
}

/// The rules in force with `changed` files put in (replacing a scheme's file or adding one)
/// and `retired` schemes taken out.
pub fn merged(in_force: &InForce, changed: &[(String, String)], retired: &[String]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = in_force
        .files
        .iter()
        .filter(|(name, _)| {
            let id = scheme_of(name);
            !retired.iter().any(|r| r == id) && !changed.iter().any(|(n, _)| scheme_of(n) == id)
        })
        .cloned()
        .collect();
    files.extend(changed.iter().map(|(n, t)| (store::file_name(scheme_of(n)), t.clone())));
    files.sort();
    files
}

/// Stores `files` (a whole rules directory) as the rules in force: a new version of each
/// scheme whose text differs, and schemes missing from `files` retired. Returns the schemes
/// that changed. Used to seed an empty database and by the development reload.
pub fn store_files(
    conn: &mut DbConnection,
    files: &[(String, String)],
    version: &str,
    who: &store::Provenance<'_>,
) -> diesel::QueryResult<Vec<String>> {
    let in_force = store::read_in_force(conn)?;
    let mut changes: Vec<(String, Option<&str>)> = Vec::new();
    for (name, text) in files {
        let id = scheme_of(name);
        if in_force.text_of(id) != Some(text.as_str()) {
            changes.push((id.to_string(), Some(text.as_str())));
        }
    }
    for (name, _) in &in_force.files {
        let id = scheme_of(name);
        if !files.iter().any(|(n, _)| scheme_of(n) == id) {
            changes.push((id.to_string(), None));
        }
    }
    if changes.is_empty() && in_force.generation > 0 {
        return Ok(Vec::new());
    }
    let new: Vec<store::NewFile> = changes.iter().map(|(s, b)| store::NewFile { scheme: s, body: *b }).collect();
    store::activate(conn, &new, who, version)?;
    Ok(changes.into_iter().map(|(s, _)| s).collect())
}

/// At start: seeds an empty database from the rules directory (audited), then reads the
/// rules in force. Returns them compiled, with their generation.
pub fn prepare(conn: &mut DbConnection, dir: &Path, key: &AuditKey) -> anyhow::Result<(RuleSet, i64)> {
    if store::generation(conn)? == 0 {
        let (files, set) = read_dir(dir).map_err(|d| anyhow::anyhow!("{}", listing(&d)))?;
        let today = crate::registry::warnings::today_in_pakistan();
        write_tx(conn, |c| -> anyhow::Result<()> {
            // Instances that start at the same moment on a new database: on PostgreSQL they
            // queue here (SQLite's BEGIN IMMEDIATE already does), so the check below sees the
            // first one's seed instead of both inserting version 1 of every scheme.
            if let DbConnection::Postgres(pg) = c {
                pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({SEED_LOCK_KEY})"))?;
            }
            // Another instance may have seeded it meanwhile.
            if store::generation(c)? > 0 {
                return Ok(());
            }
            let who = store::Provenance {
                proposal_id: None,
                summary: "seeded from the rules directory",
                proposed_by: None,
                approved_by: None,
                activated_by: "system",
                effective_from: today,
            };
            let schemes = store_files(c, &files, &set.version, &who)?;
            let event = Event::new("rules_seed").details(json!({
                "directory": dir.display().to_string(), "schemes": schemes.len(), "version": set.version,
            }));
            audit::record(c, key, &AuditContext::system(), &event)?;
            Ok(())
        })?;
    }
    load_in_force(conn)
}

/// Advisory-lock key serialising the seeding of a new database ("rulseed" in ASCII).
const SEED_LOCK_KEY: i64 = 0x0072_756c_7365_6564;

/// Reads and compiles the rules in force.
pub fn load_in_force(conn: &mut DbConnection) -> anyhow::Result<(RuleSet, i64)> {
    let in_force = store::read_in_force(conn)?;
    let set = compile(&in_force.files)
        .map_err(|d| anyhow::anyhow!("the rules in force in the database do not load:\n{}", listing(&d)))?;
    Ok((set, in_force.generation))
}

fn listing(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// How often an instance looks for new rules in force and for activations that are due.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The background loop of an instance: installs the rules in force when their generation
/// moves (another instance activated or reloaded), and activates approved proposals whose
/// date has come. It stops when the service's rules handle is dropped.
pub struct Poller {
    pub pool: DbPool,
    pub rules: Weak<RulesHandle>,
    pub activation: activation::Activator,
}

impl Poller {
    /// Starts the loop on its own thread.
    pub fn spawn(self) {
        std::thread::Builder::new()
            .name("rules-poller".into())
            .spawn(move || self.run())
            .map(|_| ())
            .unwrap_or_else(|error| tracing::warn!(%error, "cannot start the rules poller"));
    }

    fn run(self) {
        let mut tick: u64 = 0;
        loop {
            std::thread::sleep(POLL_EVERY);
            let Some(rules) = self.rules.upgrade() else { return };
            if let Err(error) = self.refresh(&rules) {
                tracing::warn!(%error, "cannot read the rules in force; keeping the ones loaded");
            }
            // Due activations: every few seconds (and at once when an approval asks).
            tick += 1;
            if tick.is_multiple_of(5) || self.activation.nudged() {
                self.activation.run_in_background(Arc::clone(&rules));
            }
        }
    }

    fn refresh(&self, rules: &RulesHandle) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        if rules.generation() == 0 {
            // Started while the database did not answer: seed it if new, then read it.
            let (set, generation) = prepare(&mut conn, rules.dir(), &self.activation.key)?;
            rules.install(set, generation);
            return Ok(());
        }
        let generation = store::generation(&mut conn)?;
        if generation != rules.generation() {
            let (set, generation) = load_in_force(&mut conn)?;
            tracing::info!(version = %set.version, generation, "rules in force changed; installed");
            rules.install(set, generation);
        }
        Ok(())
    }
}
