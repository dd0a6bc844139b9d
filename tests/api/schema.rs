//! The two migration folders stay paired, and the committed `schema.rs` matches what the
//! migrations build on the database under test.

use std::collections::BTreeMap;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use crate::helpers::*;

fn folders(backend: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("migrations dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = folders("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, folders("postgres"));
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend).join(name).join(file);
                assert!(path.exists(), "{} is missing", path.display());
            }
        }
    }
}

/// table → [(column, diesel type, nullable)] as declared in `src/db/schema.rs`.
fn declared() -> BTreeMap<String, Vec<(String, String, bool)>> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/schema.rs")).expect("schema.rs");
    let mut tables = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix('{').and_then(|l| l.split_once(" (")).map(|(n, _)| n.to_string()) {
            current = Some(name.clone());
            tables.insert(name, Vec::new());
        } else if let (Some(table), Some((col, ty))) = (&current, line.split_once(" -> ")) {
            let ty = ty.trim_end_matches(',');
            let (ty, nullable) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                Some(inner) => (inner, true),
                None => (ty, false),
            };
            tables.get_mut(table).expect("table").push((col.to_string(), ty.to_string(), nullable));
        } else if line == "}" {
            current = None;
        }
    }
    tables
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// Maps a database's own type name to the diesel type `print-schema` would write.
fn diesel_type(db_type: &str) -> String {
    match db_type.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "integer" => "Integer",
        "bigint" => "BigInt",
        "boolean" => "Bool",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        "double precision" | "double" => "Double",
        "date" => "Date",
        other => return format!("unmapped({other})"),
    }
    .to_string()
}

fn actual(db: &TestDb) -> BTreeMap<String, Vec<(String, String, bool)>> {
    let mut conn = db.connect();
    sahulat::db::run_migrations(&mut conn).expect("migrate");
    let sql = if db.is_postgres() {
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
         AND table_name NOT IN ('citus_tables', 'citus_schemas') ORDER BY table_name, ordinal_position"
    } else {
        "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
         CASE WHEN p.\"notnull\" = 0 AND p.pk = 0 THEN 1 ELSE 0 END AS nullable \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
         AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations' ORDER BY m.name, p.cid"
    };
    let rows: Vec<Column> = diesel::sql_query(sql).load(&mut conn).expect("introspect");
    let mut tables: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for r in rows {
        tables.entry(r.table_name).or_default().push((r.column_name, diesel_type(&r.data_type), r.nullable == 1));
    }
    tables
}

#[test]
fn committed_schema_matches_the_migrations() {
    let db = TestDb::new();
    assert_eq!(declared(), actual(&db));
}

#[test]
fn migrations_run_down_and_up_again() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let applied = sahulat::db::run_migrations(&mut conn).expect("up");
    assert_eq!(sahulat::db::revert_all_migrations(&mut conn).expect("down"), applied.len());
    assert_eq!(sahulat::db::run_migrations(&mut conn).expect("up again"), applied);
    assert_eq!(declared(), actual(&db));
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct Placement {
    #[diesel(sql_type = Text)]
    table_name: String,
    /// `h` hash-distributed, `n` reference or coordinator-local (as Citus records it).
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Integer)]
    shards: i32,
    #[diesel(sql_type = Integer)]
    colocation: i32,
    /// `t` for a reference table (a copy on every node), `s` otherwise.
    #[diesel(sql_type = Text)]
    replication: String,
}

#[derive(QueryableByName)]
struct Workers {
    #[diesel(sql_type = Integer)]
    n: i32,
}

/// On a Citus coordinator (`.ci/citus.sh`), the migrations spread the tables as
/// `deploy/CITUS.md` says: a household's tables by household and co-located with it, the ID
/// numbers' claims and the same-name keys by their own key with one shard per worker, and the
/// districts a reference table. On any other database there is no Citus and nothing to check
/// beyond that.
#[test]
fn citus_places_each_table_as_documented() {
    let db = TestDb::new();
    let mut conn = db.connect();
    sahulat::db::run_migrations(&mut conn).expect("migrate");
    let sahulat::db::DbConnection::Postgres(pg) = &mut conn else { return };
    if !sahulat::db::citus::is_coordinator(pg).expect("extension") {
        return;
    }
    let workers: Workers = diesel::sql_query(
        "SELECT count(*)::int AS n FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 AND isactive",
    )
    .get_result(pg)
    .expect("workers");
    let placements: Vec<Placement> = diesel::sql_query(
        "SELECT p.logicalrelid::text AS table_name, p.partmethod::text AS method, \
         COALESCE(column_to_column_name(p.logicalrelid, p.partkey), '') AS column, \
         (SELECT count(*)::int FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid) AS shards, \
         p.colocationid AS colocation, p.repmodel::text AS replication FROM pg_dist_partition p ORDER BY 1",
    )
    .load(pg)
    .expect("placements");
    let find =
        |name: &str| placements.iter().find(|p| p.table_name == name).unwrap_or_else(|| panic!("{name} is not placed"));
    let households = find("households");
    assert_eq!((households.method.as_str(), households.column.as_str()), ("h", "id"));
    for table in [
        "members",
        "household_changes",
        "household_decisions",
        "screenings",
        "decision_changes",
        "referrals",
        "referral_events",
    ] {
        let t = find(table);
        assert_eq!((t.method.as_str(), t.column.as_str()), ("h", "household_id"), "{table}");
        assert_eq!(t.colocation, households.colocation, "{table} is co-located with households");
        assert_eq!(t.shards, households.shards, "{table}");
    }
    for (table, column) in [("id_number_claims", "id_number"), ("member_name_keys", "name_group")] {
        let t = find(table);
        assert_eq!((t.method.as_str(), t.column.as_str()), ("h", column), "{table}");
        assert_eq!(t.shards, workers.n, "{table} has one shard per worker");
        assert_ne!(t.colocation, households.colocation, "{table} is not placed by household");
    }
    let districts = find("districts");
    assert_eq!(
        (districts.method.as_str(), districts.replication.as_str()),
        ("n", "t"),
        "districts is a reference table"
    );
}

/// A cluster whose `citus.shard_count` is already one per worker migrates too: migration
/// 000017 then leaves the claims and keys as they are (Citus refuses an
/// `alter_distributed_table` that changes nothing, which failed the migration).
#[test]
fn citus_migrates_when_the_shard_count_is_already_one_per_worker() {
    let Some(maintenance) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        return;
    };
    let mut admin = diesel::PgConnection::establish(&maintenance).expect("maintenance");
    if !sahulat::db::citus::is_coordinator(&mut admin).expect("extension") {
        return;
    }
    let workers: Workers = diesel::sql_query(
        "SELECT count(*)::int AS n FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 AND isactive",
    )
    .get_result(&mut admin)
    .expect("workers");
    let name = format!("sahulat_test_{}", uuid::Uuid::new_v4().simple());
    let url = sahulat::db::citus::create_database(&maintenance, &name, workers.n as u32).expect("create");
    let migrated = sahulat::db::DatabaseUrl::parse(&url)
        .map_err(|e| anyhow::anyhow!(e))
        .and_then(|u| sahulat::db::connect(&u))
        .and_then(|mut conn| sahulat::db::run_migrations(&mut conn));
    let shards: Result<Workers, _> =
        diesel::PgConnection::establish(&url).map_err(anyhow::Error::from).and_then(|mut c| {
            diesel::sql_query(
                "SELECT count(*)::int AS n FROM pg_dist_shard WHERE logicalrelid = 'id_number_claims'::regclass",
            )
            .get_result(&mut c)
            .map_err(Into::into)
        });
    sahulat::db::citus::drop_database(&maintenance, &name).expect("drop");
    migrated.expect("migrations on a database with one shard per worker");
    assert_eq!(shards.expect("claims' shards").n, workers.n);
}
