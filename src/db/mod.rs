//! Storage: one connection type over SQLite and PostgreSQL, its pool, the embedded
//! migrations and the helpers every repository uses (`run`, `write_tx`, `per_backend!`).
//!
//! Repositories are written once against `&mut DbConnection`. Where the two SQL dialects
//! really differ (upserts, multi-row inserts, SQLite's `BEGIN IMMEDIATE`) the
//! `per_backend!` macro compiles the same body once per concrete connection.

pub mod citus;
pub mod replica;
pub mod schema;
pub mod url;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiError;
pub use replica::{ReadKind, read, read_after_audit, read_audited};
pub use url::DatabaseUrl;

/// A connection to either supported database.
///
/// SQLite stays the last variant: the derived `establish` tries variants in order and
/// SQLite would accept any string. We never call it; [`DbManager`] dispatches on the URL.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, the production database for a province.
    Postgres(diesel::PgConnection),
    /// SQLite, the embedded default.
    Sqlite(diesel::SqliteConnection),
}

/// Runs the same diesel code on the concrete connection inside a [`DbConnection`], for the
/// few statements `MultiBackend` cannot express.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// The connection pool shared by the service and the CLI.
pub type DbPool = r2d2::Pool<DbManager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<DbManager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serialises this process's SQLite write transactions (see [`write_tx`]).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How long a request waits for a pooled connection before it is answered with 503. While
/// the database is down every request waits this long (new connections keep failing), so
/// it is kept well under the 3 s within which an outage must be answered.
pub const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens connections for the pool, choosing the backend from the parsed URL.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
}

impl DbManager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url).map(DbConnection::Postgres),
            DatabaseUrl::Sqlite(path) => {
                diesel::SqliteConnection::establish(&path.to_string_lossy()).map(DbConnection::Sqlite)
            }
        };
        conn.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The session settings of every PostgreSQL connection (the replica's add read-only).
/// A runaway statement must not hold a pooled connection for ever. Custom plans: a generic
/// plan cached while a table was small (a fresh registry) keeps scanning it sequentially
/// after it has grown.
pub(crate) const POSTGRES_SESSION: &str =
    "SET statement_timeout = '30s'; SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan;";

/// On a Citus coordinator only (the same statement elsewhere does nothing): one connection
/// per worker for each pooled session. A registration's statements that span shards (its
/// ID numbers' claims, the search for same-name members) would otherwise open more
/// connections to a worker when one is busy, and each connection that wrote is a
/// participant of its own in the two-phase commit. Short transactions from many sessions
/// keep the workers busy without that parallelism (the setting Citus advises for such
/// workloads); measured in `deploy/CITUS.md`. A command-line bulk job ([`connect`]) keeps
/// Citus's default, so its whole-registry reads may scan a worker's shards in parallel.
pub(crate) const CITUS_SESSION: &str = "DO $citus$ BEGIN \
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN \
    PERFORM set_config('citus.max_adaptive_executor_pool_size', '1', false); \
    END IF; END $citus$;";

/// Per-connection settings applied whenever the pool opens a connection.
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup {
    /// Whether [`CITUS_SESSION`] applies (the service's pool, not a bulk job).
    pooled: bool,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        let sql = match conn {
            // busy_timeout first: switching to WAL needs a lock that another fresh
            // connection may hold for a moment.
            DbConnection::Sqlite(_) => "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                .to_string(),
            // One round trip: the settings and the Citus check go in one batch.
            DbConnection::Postgres(_) if self.pooled => format!("{POSTGRES_SESSION} {CITUS_SESSION}"),
            DbConnection::Postgres(_) => POSTGRES_SESSION.to_string(),
        };
        conn.batch_execute(&sql).map_err(r2d2::Error::QueryError)
    }
}

/// Builds the pool. Connections are opened lazily, so a database that is down at this
/// moment is reported by the first use (and by `/readyz`), not by a 30 s hang here.
pub fn build_pool(url: &DatabaseUrl, max_size: u32) -> DbPool {
    r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(POOL_TIMEOUT)
        // No `SELECT 1` before every checkout: it doubled the round trips of short requests.
        // A connection that died is detected by its first failing statement (answered 503)
        // and discarded by `has_broken`.
        .test_on_check_out(false)
        .connection_customizer(Box::new(ConnectionSetup { pooled: true }))
        // Open and idle connections, checkout wait and time-outs as `pool="primary"`.
        .event_handler(crate::metrics::pool_event_handler("primary", max_size))
        .build_unchecked(DbManager::new(url.clone()))
}

/// Opens one connection with the settings of pooled ones, except [`CITUS_SESSION`] (CLI
/// and start-up checks).
pub fn connect(url: &DatabaseUrl) -> anyhow::Result<DbConnection> {
    let manager = DbManager::new(url.clone());
    let mut conn = manager.connect().map_err(|e| anyhow::anyhow!("{e}"))?;
    ConnectionSetup { pooled: false }.on_acquire(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(conn)
}

/// Settings for a command-line bulk job (import, demo data, re-screening) on its own
/// connection: on SQLite a 128 MiB page cache, so index pages are not read again with a
/// system call for every batch. Memory stays bounded by that size per connection.
pub fn tune_for_bulk(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => c.batch_execute("PRAGMA cache_size = -131072;"),
        DbConnection::Postgres(_) => Ok(()),
    }
}

/// Applies every pending migration of the connection's backend; returns the versions applied.
///
/// On PostgreSQL an advisory lock serialises instances that start at the same moment, so
/// exactly one applies each migration and the others find nothing pending; migrations run
/// without the session's statement time-out (a backfill over millions of rows takes longer).
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let applied = match conn {
        DbConnection::Postgres(c) => {
            // A migration that fills a new table from a province's registry runs for minutes:
            // no statement time-out while migrating, the session's own again after.
            c.batch_execute(&format!("SET statement_timeout = 0; SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result =
                c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.iter().map(ToString::to_string).collect());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY}); {POSTGRES_SESSION}"))?;
            result
        }
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.iter().map(ToString::to_string).collect())
        }
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// Advisory-lock key for migrations ("sahulat" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0073_6168_756c_6174;

/// Reverts every applied migration (tests check that down migrations work).
pub fn revert_all_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let reverted = match conn {
        DbConnection::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))?;
    Ok(reverted.len())
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so two writers never
/// deadlock upgrading read locks), an ordinary transaction on PostgreSQL. Commits when `f`
/// returns `Ok`, rolls back otherwise.
///
/// SQLite has one writer at a time. Writers of this process queue on a mutex first, in
/// order, instead of spinning in SQLite's busy handler (which sleeps up to 100 ms between
/// tries and made tail latency under load explode); `busy_timeout` still covers other
/// processes such as a CLI import running beside the service.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let _writer = match conn {
        DbConnection::Sqlite(c) => {
            let guard = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Some(guard)
        }
        DbConnection::Postgres(c) => {
            AnsiTransactionManager::begin_transaction(c)?;
            None
        }
    };
    match f(conn) {
        Ok(value) => {
            per_backend!(conn, |c| AnsiTransactionManager::commit_transaction(c))?;
            Ok(value)
        }
        Err(e) => {
            per_backend!(conn, |c| AnsiTransactionManager::rollback_transaction(c))?;
            Err(e)
        }
    }
}

/// Runs blocking database work off the async executor with a pooled connection.
///
/// A pool timeout (database down or saturated) becomes a 503, never a hang.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(ApiError::from)?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// [`run`] inside [`write_tx`].
pub async fn run_write<T, F>(pool: &DbPool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    run(pool, move |conn| write_tx(conn, f)).await
}

/// The backend of a connection, for messages and the few dialect branches.
pub fn backend_name(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Postgres(_) => "postgres",
        DbConnection::Sqlite(_) => "sqlite",
    }
}
