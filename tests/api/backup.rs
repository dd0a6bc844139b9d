//! `sahulat backup FILE`: an SQLite copy that opens as the same database (households, a
//! verifying audit chain that records the backup itself), never over an existing file and
//! never half-written under FILE's name; PostgreSQL refused with its tools named. The
//! restore drill (concurrent writes, pg_dump, point-in-time recovery) is
//! `deploy/drill/run.sh`. Both tests use their own SQLite file or no server at all, so they
//! run the same on either backend of the suite.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sahulat::db::{self, DatabaseUrl};

use crate::helpers::*;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(url: &str, sql: &str) -> i64 {
    let mut conn = db::connect(&DatabaseUrl::parse(url).expect("url")).expect("connect");
    diesel::sql_query(sql).get_result::<Count>(&mut conn).expect("count").n
}

fn rules() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn backup_writes_a_verified_sqlite_copy_and_never_overwrites() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let live = format!("sqlite://{}", dir.path().join("live.db").display());
    let env = test_source(&live, rules());
    let out = run_cli(&env, &["demo-data", "--households", "25", "--seed", "3"], "");
    assert!(out.status.success(), "demo-data: {}", text(&out.stderr));

    let target = dir.path().join("copy.db");
    let target_s = target.to_str().expect("path");
    let out = run_cli(&env, &["backup", target_s], "");
    assert!(out.status.success(), "backup: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("integrity ok"), "{}", text(&out.stdout));
    // It holds personal data: readable by its owner only, whatever the umask.
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&target).expect("copy").permissions());
    assert_eq!(mode & 0o777, 0o600);

    // The copy is the database: its households, the backup's own event, a chain that verifies.
    let copy = format!("sqlite://{target_s}");
    assert_eq!(count(&copy, "SELECT count(*) AS n FROM households"), 25);
    assert_eq!(count(&copy, "SELECT count(*) AS n FROM audit_events WHERE action = 'database_backup'"), 1);
    assert_eq!(
        count(&copy, "SELECT count(*) AS n FROM audit_events"),
        count(&live, "SELECT count(*) AS n FROM audit_events"),
        "the event is recorded before the snapshot, so the copy holds every event of the live database"
    );
    let out = run_cli(&test_source(&copy, rules()), &["audit", "verify"], "");
    assert!(out.status.success() && text(&out.stdout).starts_with("ok:"), "{}", text(&out.stdout));

    // An existing file is refused and left byte for byte as it was; nothing is audited.
    let before = std::fs::read(&target).expect("copy");
    let events = count(&live, "SELECT count(*) AS n FROM audit_events");
    let out = run_cli(&env, &["backup", target_s], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&target).expect("copy"), before);
    assert_eq!(count(&live, "SELECT count(*) AS n FROM audit_events"), events);

    // A directory that does not exist: a plain error, no file anywhere.
    let nowhere = dir.path().join("missing").join("copy.db");
    let out = run_cli(&env, &["backup", nowhere.to_str().expect("path")], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"), "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!dir.path().join("missing").exists());
    assert!(!names.iter().any(|n| n.contains(".partial-")), "a temporary file was left behind: {names:?}");
}

#[test]
fn backup_refuses_postgresql_and_names_its_tools() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    // No server is needed: the command refuses before connecting.
    let env = test_source("postgres://postgres@127.0.0.1:9/nowhere", rules());
    let target = dir.path().join("pg.db");
    let out = run_cli(&env, &["backup", target.to_str().expect("path")], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for needle in ["SQLite databases only", "pg_dump", "pgBackRest", "deploy/README.md", "Backups and restore"] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    assert!(!target.exists());
}
