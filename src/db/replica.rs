//! The streaming replica (`DATABASE_REPLICA_URL`): a read-only pool beside the primary's, a
//! monitor that measures the replica every second, and the router the read-only endpoints
//! call instead of [`super::run`].
//!
//! * **Never a write.** Every replica connection runs `SET default_transaction_read_only =
//!   on`, so even a URL that points at a primary refuses a write (SQLSTATE 25006); and only
//!   [`read`], [`read_audited`] and [`read_after_audit`] ever use the pool, each with a
//!   closure that reads. Their audit events are written on the primary.
//! * **Never in the way.** The pool is built without connecting (`build_unchecked`), waits at
//!   most [`CHECKOUT_TIMEOUT`] for a connection, and a replica that is down, is no standby, or
//!   is further behind than the kind of read allows sends the read to the primary. A read that
//!   fails on the replica is run once more on the primary, so a replica that dies mid-way
//!   costs a retry, never a failed request.
//! * **Read-your-writes.** After a successful write request, [`track`] records the primary's
//!   WAL insert position in a short-lived signed token, sent back both as the response header
//!   [`WRITTEN_HEADER`] and as an `HttpOnly` cookie [`WRITTEN_COOKIE`]. A read carrying a token
//!   whose position the replica has not replayed yet goes to the primary. The token lives in
//!   the client, so it holds whichever instance behind the proxy the next request reaches,
//!   and costs no database lookup.
//! * **Which one answered.** Every routed read sets the response header [`READ_HEADER`]
//!   (`replica` or `primary`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use aws_lc_rs::hmac;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, R2D2Connection};
use diesel::sql_types::{BigInt, Bool, Double};
use serde::Serialize;
use utoipa::ToSchema;

use super::{DatabaseUrl, DbConnection, DbManager, DbPool};
use crate::audit::{self, AuditContext, Event};
use crate::error::ApiError;
use crate::startup::AppState;

/// How long a read waits for a replica connection before it goes to the primary.
pub const CHECKOUT_TIMEOUT: Duration = Duration::from_millis(400);
/// How often the monitor measures the replica.
pub const MONITOR_INTERVAL: Duration = Duration::from_secs(1);
/// Response header naming the database that served a routed read.
pub const READ_HEADER: &str = "x-sahulat-read";
/// Response header (and request header, for API clients) carrying the read-your-writes token.
pub const WRITTEN_HEADER: &str = "x-sahulat-written";
/// The cookie carrying the same token (browsers send it back by themselves).
pub const WRITTEN_COOKIE: &str = "sahulat_written";
/// libpq's `connect_timeout` added to a replica URL without one (seconds; libpq's minimum).
const CONNECT_TIMEOUT_SECS: u32 = 2;
/// How many primary positions the monitor remembers (one a second).
const SAMPLES: usize = 900;

/// How far behind the replica may be for each kind of read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagThresholds {
    /// Household search and household reads.
    pub search: Duration,
    /// The audit log, its chain check, the referral log and its export.
    pub audit: Duration,
    /// Monitoring reports and their exports, impact reports.
    pub reports: Duration,
    /// Scheme administrators' lookups of eligible and undetermined households.
    pub schemes: Duration,
}

impl Default for LagThresholds {
    fn default() -> Self {
        Self {
            search: Duration::from_secs(2),
            audit: Duration::from_secs(10),
            reports: Duration::from_secs(60),
            schemes: Duration::from_secs(60),
        }
    }
}

impl LagThresholds {
    /// The threshold of one kind of read.
    pub fn of(&self, kind: ReadKind) -> Duration {
        match kind {
            ReadKind::Search => self.search,
            ReadKind::Audit => self.audit,
            ReadKind::Reports => self.reports,
            ReadKind::Schemes => self.schemes,
        }
    }

    fn longest(&self) -> Duration {
        self.search.max(self.audit).max(self.reports).max(self.schemes)
    }
}

/// The kinds of read-only work the replica may serve, each with its own lag threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Household search and reads.
    Search,
    /// Audit log and referral log reads and exports.
    Audit,
    /// Monitoring and impact reports.
    Reports,
    /// Scheme lookups.
    Schemes,
}

/// Which database answered a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The primary (`DATABASE_URL`).
    Primary,
    /// The replica (`DATABASE_REPLICA_URL`).
    Replica,
}

impl Served {
    /// `primary` or `replica` (the [`READ_HEADER`] value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Replica => "replica",
        }
    }
}

/// Why a read that could have gone to the replica went to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The monitor has not measured the replica yet (the first second after start).
    Unchecked,
    /// The replica does not answer.
    Unreachable,
    /// The replica URL reaches a server that is not in recovery (a primary).
    NotStandby,
    /// The replica is further behind than the kind of read allows, or its replay is paused
    /// with WAL waiting.
    Lag,
    /// The caller wrote something the replica has not replayed yet.
    ReadAfterWrite,
    /// The read failed on the replica (or got no connection in time) and was run again on
    /// the primary.
    Error,
}

impl Fallback {
    /// Every reason, in the order of [`ReplicaStatus::fallbacks`].
    pub const ALL: [Fallback; 6] =
        [Self::Unchecked, Self::Unreachable, Self::NotStandby, Self::Lag, Self::ReadAfterWrite, Self::Error];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Unreachable => "unreachable",
            Self::NotStandby => "not_standby",
            Self::Lag => "lag",
            Self::ReadAfterWrite => "read_after_write",
            Self::Error => "error",
        }
    }
}

/// What the monitor last found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not measured yet.
    Unchecked,
    /// A standby that answers.
    Streaming,
    /// No connection.
    Unreachable,
    /// It answers but is not in recovery.
    NotStandby,
}

impl Health {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Streaming,
            2 => Self::Unreachable,
            3 => Self::NotStandby,
            _ => Self::Unchecked,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Unchecked => 0,
            Self::Streaming => 1,
            Self::Unreachable => 2,
            Self::NotStandby => 3,
        }
    }

    /// `unchecked`, `streaming`, `unreachable` or `not_standby`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unchecked => "unchecked",
            Self::Streaming => "streaming",
            Self::Unreachable => "unreachable",
            Self::NotStandby => "not_standby",
        }
    }
}

const UNKNOWN: u64 = u64::MAX;

/// The replica's state as the monitor measured it, and the router's counters: atomics, read
/// by every routed request without a lock.
#[derive(Debug)]
pub struct ReplicaStatus {
    health: AtomicU8,
    lag_ms: AtomicU64,
    lag_bytes: AtomicU64,
    replay_lsn: AtomicU64,
    paused: AtomicBool,
    checked_at_ms: AtomicU64,
    fallbacks: [AtomicU64; 6],
    served_replica: AtomicU64,
    served_primary: AtomicU64,
}

impl Default for ReplicaStatus {
    fn default() -> Self {
        Self {
            health: AtomicU8::new(0),
            lag_ms: AtomicU64::new(UNKNOWN),
            lag_bytes: AtomicU64::new(UNKNOWN),
            replay_lsn: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            checked_at_ms: AtomicU64::new(0),
            fallbacks: Default::default(),
            served_replica: AtomicU64::new(0),
            served_primary: AtomicU64::new(0),
        }
    }
}

impl ReplicaStatus {
    /// What the monitor last found.
    pub fn health(&self) -> Health {
        Health::from_u8(self.health.load(Ordering::Acquire))
    }

    /// Replay lag in time (`None`: unknown).
    pub fn lag(&self) -> Option<Duration> {
        let ms = self.lag_ms.load(Ordering::Acquire);
        (ms != UNKNOWN).then(|| Duration::from_millis(ms))
    }

    /// Replay lag in bytes of WAL behind the primary (`None`: unknown, e.g. primary down).
    pub fn lag_bytes(&self) -> Option<u64> {
        let bytes = self.lag_bytes.load(Ordering::Acquire);
        (bytes != UNKNOWN).then_some(bytes)
    }

    /// The WAL position the replica had replayed at the last check.
    pub fn replay_lsn(&self) -> u64 {
        self.replay_lsn.load(Ordering::Acquire)
    }

    /// Whether replay is paused (`pg_wal_replay_pause()`).
    pub fn replay_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Unix time in milliseconds of the last check (0: never).
    pub fn checked_at_ms(&self) -> u64 {
        self.checked_at_ms.load(Ordering::Acquire)
    }

    /// Whether the replica may serve some reads now: streaming, and not paused with WAL
    /// waiting. (Each kind of read also checks its lag threshold.)
    pub fn usable(&self) -> bool {
        self.health() == Health::Streaming && !self.paused_behind()
    }

    fn paused_behind(&self) -> bool {
        self.replay_paused() && self.lag_bytes() != Some(0)
    }

    /// Reads sent to the primary since start, per reason, in the order of [`Fallback::ALL`].
    pub fn fallbacks(&self) -> [(Fallback, u64); 6] {
        Fallback::ALL.map(|reason| (reason, self.fallbacks[reason as usize].load(Ordering::Relaxed)))
    }

    /// Counts a routed read served by the replica (`true`) or the primary.
    pub(crate) fn count_served(&self, by_replica: bool) {
        let counter = if by_replica { &self.served_replica } else { &self.served_primary };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Routed reads served by the replica and by the primary since start.
    pub fn served(&self) -> (u64, u64) {
        (self.served_replica.load(Ordering::Relaxed), self.served_primary.load(Ordering::Relaxed))
    }

    /// Counts a read moved to the primary, with its reason.
    pub(crate) fn count(&self, reason: Fallback) {
        self.fallbacks[reason as usize].fetch_add(1, Ordering::Relaxed);
        crate::metrics::replica_fallback(reason.as_str());
    }

    fn set_health(&self, health: Health) {
        self.health.store(health.as_u8(), Ordering::Release);
    }

    fn report(&self) -> ReplicaReport {
        ReplicaReport {
            state: self.health().as_str(),
            usable: self.usable(),
            lag_seconds: self.lag().map(|d| d.as_secs_f64()),
            lag_bytes: self.lag_bytes(),
            replay_paused: self.replay_paused(),
            served_by_replica: self.served().0,
            served_by_primary: self.served().1,
            fallbacks: self.fallbacks().iter().map(|(r, n)| (r.as_str().to_string(), *n)).collect(),
        }
    }
}

/// The replica's state in `/readyz` (it never makes the instance unready).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaReport {
    /// `unchecked`, `streaming`, `unreachable` or `not_standby`.
    pub state: &'static str,
    /// Whether reads within their lag threshold go to it now.
    pub usable: bool,
    /// Replay lag in seconds (null: unknown).
    pub lag_seconds: Option<f64>,
    /// Replay lag in bytes of WAL (null: unknown).
    pub lag_bytes: Option<u64>,
    /// Whether WAL replay is paused.
    pub replay_paused: bool,
    /// Routed reads the replica served since start.
    pub served_by_replica: u64,
    /// Routed reads the primary served since start.
    pub served_by_primary: u64,
    /// Reads sent to the primary since start, by reason.
    #[schema(value_type = Object)]
    pub fallbacks: std::collections::BTreeMap<String, u64>,
}

/// The replica: its pool, the thresholds, the monitor's state and the token key.
pub struct Replica {
    pool: DbPool,
    url: DatabaseUrl,
    thresholds: LagThresholds,
    status: ReplicaStatus,
    token_key: hmac::Key,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("url", &self.url).field("thresholds", &self.thresholds).finish_non_exhaustive()
    }
}

impl Replica {
    /// Builds the replica's pool (without connecting: a replica that is down delays nothing)
    /// and starts its monitor, which measures against `primary`. `secret` keys the
    /// read-your-writes tokens (the JWT secret: every instance behind the proxy shares it).
    pub fn start(
        url: &DatabaseUrl,
        primary: DbPool,
        max_size: u32,
        thresholds: LagThresholds,
        secret: &[u8],
    ) -> Arc<Self> {
        let url = with_connect_timeout(url);
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .max_lifetime(Some(Duration::from_secs(300)))
            // A `SELECT 1` before each checkout (~0.1 ms on a LAN): after the replica restarts,
            // its dead connections are dropped here instead of failing one read each, again and
            // again (a connection cut by the network is not always marked broken).
            .test_on_check_out(true)
            // The monitor reports the replica's state (once per change, not per attempt).
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .connection_customizer(Box::new(ReadOnly))
            .event_handler(crate::metrics::pool_event_handler("replica", max_size))
            .build_unchecked(DbManager::new(url.clone()));
        let derive = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let subkey = hmac::sign(&derive, b"sahulat replica read-your-writes token");
        let replica = Arc::new(Self {
            pool,
            url,
            thresholds,
            status: ReplicaStatus::default(),
            token_key: hmac::Key::new(hmac::HMAC_SHA256, subkey.as_ref()),
        });
        crate::metrics::set_replica_configured(true);
        Monitor::new(Arc::downgrade(&replica), primary, replica.url.clone()).spawn();
        replica
    }

    /// The read-only pool (tests check that it refuses writes).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The monitor's state and the router's counters.
    pub fn status(&self) -> &ReplicaStatus {
        &self.status
    }

    /// The lag thresholds.
    pub fn thresholds(&self) -> LagThresholds {
        self.thresholds
    }

    /// The state for `/readyz`.
    pub fn report(&self) -> ReplicaReport {
        let mut report = self.status.report();
        report.usable = self.usable_for_some();
        report
    }

    /// Whether some kind of read may go to the replica now (its lag is within the longest
    /// threshold).
    pub fn usable_for_some(&self) -> bool {
        self.status.usable() && self.status.lag().is_some_and(|lag| lag <= self.thresholds.longest())
    }

    /// Whether a read of `kind` by a caller who must see WAL position `min_lsn` may go to
    /// the replica now.
    pub fn decide(&self, kind: ReadKind, min_lsn: Option<u64>) -> Result<(), Fallback> {
        let status = &self.status;
        match status.health() {
            Health::Streaming => {}
            Health::Unchecked => return Err(Fallback::Unchecked),
            Health::Unreachable => return Err(Fallback::Unreachable),
            Health::NotStandby => return Err(Fallback::NotStandby),
        }
        if status.paused_behind() || status.lag().is_none_or(|lag| lag > self.thresholds.of(kind)) {
            return Err(Fallback::Lag);
        }
        if min_lsn.is_some_and(|lsn| lsn > status.replay_lsn()) {
            return Err(Fallback::ReadAfterWrite);
        }
        Ok(())
    }

    /// How long a read-your-writes token lives: longer than any threshold, so once it has
    /// expired a replica within its threshold has replayed the write.
    fn token_ttl(&self) -> Duration {
        self.thresholds.longest() + Duration::from_secs(60)
    }

    /// A token for WAL position `lsn`, valid until `now + ttl`.
    pub fn token(&self, lsn: u64, now: u64) -> String {
        let body = format!("{lsn:x}.{}", now + self.token_ttl().as_secs());
        let tag = hmac::sign(&self.token_key, body.as_bytes());
        format!("{body}.{}", hex(tag.as_ref()))
    }

    /// The position a token names, if it is ours and has not expired.
    pub fn verify(&self, token: &str, now: u64) -> Option<u64> {
        let (body, tag) = token.trim().rsplit_once('.')?;
        hmac::verify(&self.token_key, body.as_bytes(), &unhex(tag)?).ok()?;
        let (lsn, expires) = body.split_once('.')?;
        let expires: u64 = expires.parse().ok()?;
        (expires >= now).then(|| u64::from_str_radix(lsn, 16).ok()).flatten()
    }

    /// The newest write position the caller's tokens (header and cookie) name.
    fn written_by(&self, req: &HttpRequest) -> Option<u64> {
        let now = unix_secs();
        let header = req.headers().get(WRITTEN_HEADER).and_then(|v| v.to_str().ok());
        header.into_iter().chain(cookie(req, WRITTEN_COOKIE)).filter_map(|t| self.verify(t, now)).max()
    }
}

/// Read-only session settings of a replica connection, beside the primary's own.
#[derive(Debug, Clone, Copy)]
struct ReadOnly;

impl CustomizeConnection<DbConnection, r2d2::Error> for ReadOnly {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            DbConnection::Postgres(c) => c
                .batch_execute(&format!("{} SET default_transaction_read_only = on;", super::POSTGRES_SESSION))
                .map_err(r2d2::Error::QueryError),
            // Settings refuse an SQLite replica; a connection of it is never opened.
            DbConnection::Sqlite(_) => Err(r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                "DATABASE_REPLICA_URL must be PostgreSQL".into(),
            ))),
        }
    }
}

/// `url` with libpq's `connect_timeout` unless it names one: an address that swallows
/// packets must not hold a connection attempt for minutes.
fn with_connect_timeout(url: &DatabaseUrl) -> DatabaseUrl {
    match url {
        DatabaseUrl::Postgres(raw) if !raw.contains("connect_timeout=") => {
            let glue = if raw.contains('?') { '&' } else { '?' };
            DatabaseUrl::Postgres(format!("{raw}{glue}connect_timeout={CONNECT_TIMEOUT_SECS}"))
        }
        other => other.clone(),
    }
}

/// Marks the current request as having written data its own later reads in this request
/// must see: they go to the primary.
pub fn wrote_here(req: &HttpRequest) {
    req.extensions_mut().insert(WroteHere);
}

#[derive(Debug, Clone, Copy)]
struct WroteHere;

/// The replica to try for this read, or `None` (counted with its reason when a replica is
/// configured).
pub(crate) fn route(state: &AppState, req: &HttpRequest, kind: ReadKind) -> Option<Arc<Replica>> {
    let replica = state.replica.as_ref()?;
    let min_lsn = if req.extensions().contains::<WroteHere>() { Some(UNKNOWN) } else { replica.written_by(req) };
    match replica.decide(kind, min_lsn) {
        Ok(()) => Some(replica.clone()),
        Err(reason) => {
            replica.status.count(reason);
            None
        }
    }
}

/// Runs `f` on the replica when given, else (or when that fails) on the primary; with the
/// answer, who gave it (a 404 from a replica that has not replayed a record yet says so too).
fn execute<T, F>(primary: &DbPool, replica: Option<&Replica>, f: &F) -> (Result<T, ApiError>, Served)
where
    F: Fn(&mut DbConnection) -> Result<T, ApiError>,
{
    if let Some(replica) = replica {
        match replica.pool.get() {
            Ok(mut conn) => match f(&mut conn) {
                Ok(value) => {
                    replica.status.served_replica.fetch_add(1, Ordering::Relaxed);
                    return (Ok(value), Served::Replica);
                }
                // A 4xx is the answer; a failure of the replica is retried on the primary.
                Err(error @ (ApiError::Unavailable(_) | ApiError::Internal(_))) => {
                    if conn.is_broken() {
                        replica.status.set_health(Health::Unreachable);
                    }
                    replica.status.count(Fallback::Error);
                    tracing::warn!(%error, "a read failed on the replica; running it on the primary");
                }
                Err(error) => {
                    replica.status.served_replica.fetch_add(1, Ordering::Relaxed);
                    return (Err(error), Served::Replica);
                }
            },
            Err(_) => {
                // No connection at all: down (the monitor confirms within a second). Some but
                // all busy: only this read moves.
                if replica.pool.state().connections == 0 {
                    replica.status.set_health(Health::Unreachable);
                }
                replica.status.count(Fallback::Error);
            }
        }
    }
    if let Some(replica) = replica {
        replica.status.served_primary.fetch_add(1, Ordering::Relaxed);
    }
    let result = primary.get().map_err(ApiError::from).and_then(|mut conn| f(&mut conn));
    (result, Served::Primary)
}

fn served(state: &AppState, req: &HttpRequest, served: Served, routed: bool) {
    if !routed && let Some(replica) = &state.replica {
        replica.status.served_primary.fetch_add(1, Ordering::Relaxed);
    }
    req.extensions_mut().insert(served);
}

fn blocking(e: actix_web::error::BlockingError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
}

/// A read-only query of `kind`: on the replica when it is configured, usable, within the
/// kind's lag threshold and has replayed the caller's last write; else on the primary. `f`
/// may run twice (on the primary after a failure on the replica), so it must only read.
pub async fn read<T, F>(state: &AppState, req: &HttpRequest, kind: ReadKind, f: F) -> Result<T, ApiError>
where
    F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let replica = route(state, req, kind);
    let routed = replica.is_some();
    let primary = state.pool.clone();
    let (result, by) = web::block(move || execute(&primary, replica.as_deref(), &f)).await.map_err(blocking)?;
    served(state, req, by, routed);
    result
}

/// A read that is audited with an event it builds from what it read (`f` returns both). On
/// the primary the read and its event share one write transaction, exactly as without a
/// replica; on the replica the event is recorded on the primary after the read, and the
/// answer is given only once it is.
pub async fn read_audited<T, F>(
    state: &AppState,
    req: &HttpRequest,
    kind: ReadKind,
    ctx: AuditContext,
    f: F,
) -> Result<T, ApiError>
where
    F: Fn(&mut DbConnection) -> Result<(T, Event), ApiError> + Send + 'static,
    T: Send + 'static,
{
    let key = state.audit_key.clone();
    let Some(replica) = route(state, req, kind) else {
        let value = super::run_write(&state.pool, move |conn| {
            let (value, event) = f(conn)?;
            audit::record(conn, &key, &ctx, &event)?;
            Ok(value)
        })
        .await?;
        served(state, req, Served::Primary, false);
        return Ok(value);
    };
    let primary = state.pool.clone();
    let (result, by) = web::block(move || execute(&primary, Some(&replica), &f)).await.map_err(blocking)?;
    served(state, req, by, true);
    let (value, event) = result?;
    super::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    Ok(value)
}

/// A read audited with an event known beforehand, recorded first: on the primary in the same
/// write transaction as the read (so the read sees its own event, as without a replica); on
/// the replica, the event is recorded on the primary and then the replica is read.
pub async fn read_after_audit<T, F>(
    state: &AppState,
    req: &HttpRequest,
    kind: ReadKind,
    ctx: AuditContext,
    event: Event,
    f: F,
) -> Result<T, ApiError>
where
    F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let key = state.audit_key.clone();
    let Some(replica) = route(state, req, kind) else {
        let value = super::run_write(&state.pool, move |conn| {
            audit::record(conn, &key, &ctx, &event)?;
            f(conn)
        })
        .await?;
        served(state, req, Served::Primary, false);
        return Ok(value);
    };
    super::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    let primary = state.pool.clone();
    let (result, by) = web::block(move || execute(&primary, Some(&replica), &f)).await.map_err(blocking)?;
    served(state, req, by, true);
    result
}

/// A connection for a long read of `kind` that pages itself (a CSV export), and which
/// database it is on. A page that fails on the replica is read again from the primary with
/// [`primary_connection`], from the same cursor.
pub async fn export_connection(
    state: &AppState,
    req: &HttpRequest,
    kind: ReadKind,
) -> Result<(super::PooledConn, Served), ApiError> {
    let replica = route(state, req, kind);
    let routed = replica.is_some();
    let primary = state.pool.clone();
    let status_of = replica.clone();
    let (conn, by) = web::block(move || {
        if let Some(replica) = &replica {
            match replica.pool.get() {
                Ok(conn) => return Ok((conn, Served::Replica)),
                Err(_) => replica.status.count(Fallback::Error),
            }
        }
        primary.get().map(|c| (c, Served::Primary)).map_err(ApiError::from)
    })
    .await
    .map_err(blocking)??;
    if let Some(replica) = status_of {
        let counter =
            if by == Served::Replica { &replica.status.served_replica } else { &replica.status.served_primary };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    served(state, req, by, routed);
    Ok((conn, by))
}

/// After a read on the replica failed mid-way: counts it and returns a primary connection.
pub fn primary_connection(state: &AppState) -> Result<super::PooledConn, ApiError> {
    if let Some(replica) = &state.replica {
        replica.status.count(Fallback::Error);
    }
    Ok(state.pool.get()?)
}

/// Middleware: names the database that served the request's routed read ([`READ_HEADER`]),
/// and after a successful write request gives the caller a read-your-writes token.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut res = next.call(req).await?;
    let by = res.request().extensions().get::<Served>().copied();
    if let Some(by) = by {
        res.headers_mut().insert(header::HeaderName::from_static(READ_HEADER), HeaderValue::from_static(by.as_str()));
    }
    let replica = state.as_ref().and_then(|s| s.replica.clone());
    if let (true, true, Some(state), Some(replica)) = (writes, res.status().is_success(), state, replica) {
        let pool = state.pool.clone();
        let lsn = match web::block(move || insert_lsn(&pool)).await {
            Ok(Some(lsn)) => lsn,
            // The write committed but its position is unknown: the caller reads from the
            // primary until the token expires.
            _ => UNKNOWN,
        };
        let lsn = replica.written_by(res.request()).map_or(lsn, |earlier| earlier.max(lsn));
        let token = replica.token(lsn, unix_secs());
        let cookie = format!(
            "{WRITTEN_COOKIE}={token}; Path=/api; Max-Age={}; HttpOnly; SameSite=Strict",
            replica.token_ttl().as_secs()
        );
        if let (Ok(value), Ok(cookie)) = (HeaderValue::from_str(&token), HeaderValue::from_str(&cookie)) {
            res.headers_mut().insert(header::HeaderName::from_static(WRITTEN_HEADER), value);
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    Ok(res)
}

/// The primary's WAL insert position (past every commit made so far).
fn insert_lsn(pool: &DbPool) -> Option<u64> {
    let mut conn = pool.get().ok()?;
    match &mut *conn {
        DbConnection::Postgres(c) => lsn_of(c, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS lsn"),
        DbConnection::Sqlite(_) => None,
    }
}

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

fn lsn_of(conn: &mut diesel::PgConnection, sql: &str) -> Option<u64> {
    diesel::sql_query(sql).get_result::<Lsn>(conn).ok().and_then(|row| u64::try_from(row.lsn).ok())
}

/// One measurement on the replica.
#[derive(Debug, Clone, QueryableByName)]
struct Standby {
    #[diesel(sql_type = Bool)]
    recovery: bool,
    /// -1: none (nothing streamed yet).
    #[diesel(sql_type = BigInt)]
    receive: i64,
    #[diesel(sql_type = BigInt)]
    replay: i64,
    #[diesel(sql_type = Bool)]
    paused: bool,
    /// Seconds since the last replayed commit (-1: none yet).
    #[diesel(sql_type = Double)]
    replay_age: f64,
}

const STANDBY_SQL: &str = "SELECT pg_is_in_recovery() AS recovery, \
     COALESCE((pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint, -1) AS receive, \
     COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, -1) AS replay, \
     CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused, \
     COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, -1) AS replay_age";

/// The replay lag in time and bytes.
///
/// `now() - pg_last_xact_replay_timestamp()` alone grows while the primary is idle, so: when
/// the replica has replayed the primary's position (0 bytes behind) the lag is 0; otherwise it
/// is at most the time since the primary was at a position the replica has replayed (the
/// monitor keeps one position a second in `samples`), and at most the age of the last replayed
/// commit. With the primary unreachable, a replica that has replayed all it received is
/// current.
fn lag_of(
    primary_lsn: Option<u64>,
    standby: &Standby,
    samples: &VecDeque<(Instant, u64)>,
    now: Instant,
) -> (Option<Duration>, Option<u64>) {
    let replay = u64::try_from(standby.replay).unwrap_or(0);
    let bytes = primary_lsn.map(|p| p.saturating_sub(replay));
    let age = (standby.replay_age >= 0.0).then(|| Duration::from_secs_f64(standby.replay_age));
    let lag = match bytes {
        Some(0) => Some(Duration::ZERO),
        Some(_) => {
            let window = samples.iter().rev().find(|(_, lsn)| *lsn <= replay).map(|(at, _)| now - *at);
            match (window, age) {
                (Some(w), Some(a)) => Some(w.min(a)),
                (w, a) => w.or(a),
            }
        }
        None if standby.receive >= 0 && standby.receive <= standby.replay => Some(Duration::ZERO),
        None => age,
    };
    (lag, bytes)
}

/// Measures the replica every [`MONITOR_INTERVAL`] on its own connection (so a saturated
/// pool does not blind it) until the [`Replica`] is dropped.
struct Monitor {
    replica: Weak<Replica>,
    primary: DbPool,
    url: DatabaseUrl,
    conn: Option<diesel::PgConnection>,
    samples: VecDeque<(Instant, u64)>,
    reported: Health,
}

impl Monitor {
    fn new(replica: Weak<Replica>, primary: DbPool, url: DatabaseUrl) -> Self {
        Self { replica, primary, url, conn: None, samples: VecDeque::new(), reported: Health::Unchecked }
    }

    fn spawn(self) {
        std::thread::Builder::new()
            .name("replica-monitor".into())
            .spawn(move || self.run())
            .map(|_| ())
            .unwrap_or_else(
                |error| tracing::warn!(%error, "cannot start the replica monitor; reads stay on the primary"),
            );
    }

    fn run(mut self) {
        loop {
            let Some(replica) = self.replica.upgrade() else { return };
            self.check(&replica);
            drop(replica);
            std::thread::sleep(MONITOR_INTERVAL);
        }
    }

    fn check(&mut self, replica: &Replica) {
        let status = &replica.status;
        let primary_lsn = insert_or_current(&self.primary);
        let now = Instant::now();
        if let Some(lsn) = primary_lsn {
            self.samples.push_back((now, lsn));
            if self.samples.len() > SAMPLES {
                self.samples.pop_front();
            }
        }
        let measured = self.measure();
        status.checked_at_ms.store(unix_millis(), Ordering::Release);
        let health = match measured {
            Err(error) => {
                self.conn = None;
                self.report(Health::Unreachable, Some(&error));
                Health::Unreachable
            }
            Ok(standby) if !standby.recovery => {
                self.report(Health::NotStandby, None);
                Health::NotStandby
            }
            Ok(standby) => {
                let (lag, bytes) = lag_of(primary_lsn, &standby, &self.samples, now);
                status.replay_lsn.store(u64::try_from(standby.replay).unwrap_or(0), Ordering::Release);
                status.paused.store(standby.paused, Ordering::Release);
                status.lag_bytes.store(bytes.unwrap_or(UNKNOWN), Ordering::Release);
                status.lag_ms.store(lag.map_or(UNKNOWN, |d| d.as_millis() as u64), Ordering::Release);
                self.report(Health::Streaming, None);
                Health::Streaming
            }
        };
        if health != Health::Streaming {
            status.lag_bytes.store(UNKNOWN, Ordering::Release);
            status.lag_ms.store(UNKNOWN, Ordering::Release);
            status.paused.store(false, Ordering::Release);
        }
        status.set_health(health);
        // While the lag is unknown the gauges keep the last measurement; `usable` says 0.
        if let (Some(lag), Some(bytes)) = (status.lag(), status.lag_bytes()) {
            crate::metrics::set_replica_lag(lag.as_secs_f64(), bytes);
        }
        crate::metrics::set_replica_usable(replica.usable_for_some());
    }

    fn measure(&mut self) -> Result<Standby, String> {
        if self.conn.is_none() {
            let DatabaseUrl::Postgres(url) = &self.url else { return Err("not PostgreSQL".into()) };
            let mut conn = diesel::PgConnection::establish(url).map_err(|e| e.to_string())?;
            conn.batch_execute("SET default_transaction_read_only = on; SET statement_timeout = '2s';")
                .map_err(|e| e.to_string())?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().ok_or("no connection")?;
        diesel::sql_query(STANDBY_SQL).get_result::<Standby>(conn).map_err(|e| e.to_string())
    }

    /// Logs a change of state once (a replica that stays down is not a line a second).
    fn report(&mut self, health: Health, error: Option<&str>) {
        if health == self.reported {
            return;
        }
        let url = self.url.to_string();
        match health {
            Health::Streaming => tracing::info!(replica = %url, "the replica is streaming; read-only work goes to it"),
            Health::Unreachable => tracing::warn!(
                replica = %url, error = error.unwrap_or(""),
                "the replica does not answer: reads stay on the primary until it does"
            ),
            Health::NotStandby => tracing::warn!(
                replica = %url,
                "DATABASE_REPLICA_URL reaches a server that is not in recovery (a primary?): no read goes to it"
            ),
            Health::Unchecked => {}
        }
        self.reported = health;
    }
}

/// The primary's current WAL position for the lag in bytes.
fn insert_or_current(pool: &DbPool) -> Option<u64> {
    let mut conn = pool.get().ok()?;
    match &mut *conn {
        DbConnection::Postgres(c) => lsn_of(c, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn"),
        DbConnection::Sqlite(_) => None,
    }
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn unix_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standby(receive: i64, replay: i64, replay_age: f64) -> Standby {
        Standby { recovery: true, receive, replay, paused: false, replay_age }
    }

    #[test]
    fn an_idle_primary_is_no_lag() {
        // The last commit was an hour ago, but the replica has replayed everything.
        let (lag, bytes) = lag_of(Some(5000), &standby(5000, 5000, 3600.0), &VecDeque::new(), Instant::now());
        assert_eq!((lag, bytes), (Some(Duration::ZERO), Some(0)));
    }

    #[test]
    fn lag_is_the_time_since_the_primary_was_where_the_replica_is() {
        let now = Instant::now();
        let samples: VecDeque<(Instant, u64)> =
            [(now - Duration::from_secs(5), 1000), (now - Duration::from_secs(4), 2000), (now, 3000)].into();
        // Replayed 2000 (the primary's position 4 s ago); the last replayed commit was long ago.
        let (lag, bytes) = lag_of(Some(3000), &standby(3000, 2000, 3600.0), &samples, now);
        assert_eq!((lag, bytes), (Some(Duration::from_secs(4)), Some(1000)));
        // A commit replayed 0.5 s ago bounds it more tightly.
        let (lag, _) = lag_of(Some(3000), &standby(3000, 2000, 0.5), &samples, now);
        assert_eq!(lag, Some(Duration::from_millis(500)));
        // Behind every remembered position: the age of the last replayed commit.
        let (lag, _) = lag_of(Some(3000), &standby(3000, 500, 42.0), &samples, now);
        assert_eq!(lag, Some(Duration::from_secs(42)));
    }

    #[test]
    fn without_the_primary_a_caught_up_replica_is_current() {
        let (lag, bytes) = lag_of(None, &standby(800, 800, 3600.0), &VecDeque::new(), Instant::now());
        assert_eq!((lag, bytes), (Some(Duration::ZERO), None));
        let (lag, _) = lag_of(None, &standby(900, 800, 12.0), &VecDeque::new(), Instant::now());
        assert_eq!(lag, Some(Duration::from_secs(12)));
    }

    fn replica_for_decisions() -> Replica {
        let url = DatabaseUrl::Postgres("postgres://nobody@127.0.0.1:1/none".into());
        Replica {
            pool: r2d2::Pool::builder().max_size(1).min_idle(Some(0)).build_unchecked(DbManager::new(url.clone())),
            url,
            thresholds: LagThresholds::default(),
            status: ReplicaStatus::default(),
            token_key: hmac::Key::new(hmac::HMAC_SHA256, b"test key for the replica tokens"),
        }
    }

    #[test]
    fn decisions_follow_state_lag_pause_and_the_callers_write() {
        let r = replica_for_decisions();
        assert_eq!(r.decide(ReadKind::Search, None), Err(Fallback::Unchecked));
        r.status.set_health(Health::Unreachable);
        assert_eq!(r.decide(ReadKind::Search, None), Err(Fallback::Unreachable));
        r.status.set_health(Health::NotStandby);
        assert_eq!(r.decide(ReadKind::Reports, None), Err(Fallback::NotStandby));
        r.status.set_health(Health::Streaming);
        r.status.lag_ms.store(5_000, Ordering::Release);
        r.status.lag_bytes.store(100, Ordering::Release);
        r.status.replay_lsn.store(1_000, Ordering::Release);
        assert_eq!(r.decide(ReadKind::Search, None), Err(Fallback::Lag), "5 s > 2 s for search");
        assert_eq!(r.decide(ReadKind::Audit, None), Ok(()), "5 s < 10 s for the audit log");
        assert_eq!(r.decide(ReadKind::Audit, Some(1_001)), Err(Fallback::ReadAfterWrite));
        assert_eq!(r.decide(ReadKind::Audit, Some(1_000)), Ok(()));
        r.status.paused.store(true, Ordering::Release);
        assert_eq!(r.decide(ReadKind::Reports, None), Err(Fallback::Lag), "paused with WAL waiting");
        r.status.lag_bytes.store(0, Ordering::Release);
        assert_eq!(r.decide(ReadKind::Reports, None), Ok(()), "paused but caught up");
        r.status.lag_ms.store(UNKNOWN, Ordering::Release);
        assert_eq!(r.decide(ReadKind::Reports, None), Err(Fallback::Lag), "unknown lag");
    }

    #[test]
    fn tokens_are_signed_and_expire() {
        let r = replica_for_decisions();
        let token = r.token(0x2A_0000, 1_000);
        assert_eq!(r.verify(&token, 1_000), Some(0x2A_0000));
        assert_eq!(r.verify(&token, 1_000 + r.token_ttl().as_secs() + 1), None, "expired");
        let (body, tag) = token.rsplit_once('.').expect("tag");
        let forged = body.replacen("2a0000", "ffffff", 1);
        assert_eq!(r.verify(&format!("{forged}.{tag}"), 1_000), None, "forged position");
        for bad in ["", "x", "1.2.3", "2a0000.99999999999.zz", "é.é.é"] {
            assert_eq!(r.verify(bad, 1_000), None, "{bad:?}");
        }
    }

    #[test]
    fn a_connect_timeout_is_added_once() {
        let plain = DatabaseUrl::Postgres("postgres://u@h/db".into());
        assert_eq!(with_connect_timeout(&plain), DatabaseUrl::Postgres("postgres://u@h/db?connect_timeout=2".into()));
        let query = DatabaseUrl::Postgres("postgres://u@h/db?sslmode=disable".into());
        assert_eq!(
            with_connect_timeout(&query),
            DatabaseUrl::Postgres("postgres://u@h/db?sslmode=disable&connect_timeout=2".into())
        );
        let own = DatabaseUrl::Postgres("postgres://u@h/db?connect_timeout=9".into());
        assert_eq!(with_connect_timeout(&own), own);
    }
}
