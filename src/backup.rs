//! `sahulat backup FILE`: an online, consistent copy of an SQLite database.
//!
//! The copy is made with `VACUUM INTO`, which reads one snapshot of the database (a read
//! transaction: in WAL mode writers of this and other processes carry on while it runs) and
//! writes a compacted copy. It goes to a temporary name beside FILE (mode 0600: it holds
//! personal data), is flushed to disk (SQLite does not fsync a `VACUUM INTO` output),
//! checked (`PRAGMA integrity_check`, the migrations table holding as many migrations as the
//! live database), and only then linked to FILE, which must not exist. A PostgreSQL database is backed up with its own tools
//! (`pg_dump`, pgBackRest); see deploy/README.md, "Backups and restore".
//!
//! The backup is audited as `database_backup` by `cli` before the snapshot is taken, so the
//! copy itself carries the record of its making.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::audit::{self, AuditContext, AuditKey};
use crate::db::{self, DatabaseUrl, DbConnection};

/// What `sahulat backup` says when the database is PostgreSQL.
pub const POSTGRES_REFUSAL: &str = "sahulat backup copies SQLite databases only; back PostgreSQL up with its \
    own tools: pg_dump -Fc (a logical dump, restored with pg_restore) or pgBackRest (base backups and a WAL \
    archive, for point-in-time recovery). See deploy/README.md, section \"Backups and restore\".";

/// A finished, verified backup.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The file written.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Migrations recorded in the copy (equal to the live database's).
    pub migrations: i64,
    /// Time from the start of the snapshot to the verified, renamed file.
    pub elapsed: Duration,
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Backs the database of `url` up into `target` (SQLite only; PostgreSQL is refused).
pub fn run(url: &DatabaseUrl, key: &AuditKey, target: &Path) -> anyhow::Result<BackupReport> {
    let DatabaseUrl::Sqlite(live) = url else {
        bail!("{POSTGRES_REFUSAL}");
    };
    if target.exists() {
        bail!("{} already exists; a backup never overwrites a file (choose a new name)", target.display());
    }
    let file_name = target.file_name().context("the backup FILE must name a file")?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("the directory {} does not exist", dir.display());
    }
    if !live.exists() {
        bail!("there is no database at {} to back up", live.display());
    }
    let mut temp_name = file_name.to_os_string();
    temp_name.push(format!(".partial-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let temp_text = temp.to_str().context("the backup path must be valid UTF-8")?.to_string();

    let mut conn = db::connect(url)?;
    let migrations = migration_count(&mut conn).context("the live database has no migrations table")?;
    let started = Instant::now();
    let event = audit::Event::new("database_backup").details(serde_json::json!({
        "file": target.display().to_string(),
    }));
    db::write_tx(&mut conn, |c| audit::record(c, key, &AuditContext::cli(), &event).map_err(anyhow::Error::from))?;
    let result = copy_and_check(&mut conn, &temp, &temp_text, migrations).and_then(|bytes| {
        publish(&temp, target, &dir)?;
        Ok(bytes)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    let bytes = result?;
    Ok(BackupReport { file: target.to_path_buf(), bytes, migrations, elapsed: started.elapsed() })
}

fn migration_count(conn: &mut DbConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations").get_result::<CountRow>(conn).map(|r| r.n)
}

/// Writes the snapshot to `temp`, flushes it and checks it; returns its size.
fn copy_and_check(conn: &mut DbConnection, temp: &Path, temp_text: &str, migrations: i64) -> anyhow::Result<u64> {
    // The copy holds personal data: created here, empty and readable by the owner only
    // (VACUUM INTO accepts an empty file and keeps its mode); `create_new` refuses a leftover.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(temp_text)
        .execute(conn)
        .with_context(|| format!("VACUUM INTO {} failed", temp.display()))?;
    let file = std::fs::File::open(temp).with_context(|| format!("cannot open {}", temp.display()))?;
    file.sync_all().with_context(|| format!("cannot flush {} to disk", temp.display()))?;
    let bytes = file.metadata()?.len();
    drop(file);

    let mut copy = diesel::SqliteConnection::establish(temp_text)
        .with_context(|| format!("cannot open the copy {}", temp.display()))?;
    let problems: Vec<String> = diesel::sql_query("PRAGMA integrity_check")
        .load::<IntegrityRow>(&mut copy)?
        .into_iter()
        .map(|r| r.integrity_check)
        .filter(|line| line != "ok")
        .collect();
    if !problems.is_empty() {
        bail!("the copy failed PRAGMA integrity_check: {}", problems.join("; "));
    }
    let mut copy = DbConnection::Sqlite(copy);
    let in_copy = migration_count(&mut copy).context("the copy has no migrations table")?;
    if in_copy != migrations {
        bail!("the copy records {in_copy} migrations, the live database {migrations}");
    }
    Ok(bytes)
}

/// Gives the checked copy its name without ever replacing a file: a hard link fails when
/// `target` appeared meanwhile. Where hard links are not supported, a rename after a last
/// check. The directory entry is flushed too.
fn publish(temp: &Path, target: &Path, dir: &Path) -> anyhow::Result<()> {
    match std::fs::hard_link(temp, target) {
        Ok(()) => std::fs::remove_file(temp)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} appeared while the backup ran; it was left alone", target.display())
        }
        Err(_) => {
            if target.exists() {
                bail!("{} appeared while the backup ran; it was left alone", target.display());
            }
            std::fs::rename(temp, target).with_context(|| format!("cannot rename the copy to {}", target.display()))?;
        }
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
