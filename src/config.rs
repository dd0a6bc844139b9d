//! Settings: read from the environment, optionally layered over a `KEY=VALUE` file named
//! by `SAHULAT_CONFIG` (the same format as a systemd `EnvironmentFile`, so one vocabulary
//! serves the shell, the unit file and the config file). The environment wins over the file.
//!
//! Everything is validated here, at start-up, with a message that names the setting.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::DatabaseUrl;

/// The default database: an SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/sahulat.db";
/// The default listening address (loopback only).
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The default address of the Prometheus metrics (loopback only; `off` disables them).
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9464";
/// Minimum length of the JWT secret and the audit key, in bytes (256 bits for HS256).
pub const MIN_SECRET_BYTES: usize = 32;
/// Development-only secrets, accepted only when the service listens on loopback.
const DEV_JWT_SECRET: &str = "sahulat-development-jwt-secret-do-not-use-in-production";
const DEV_AUDIT_KEY: &str = "sahulat-development-audit-key-do-not-use-in-production";

/// A secret value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw bytes, for keying HMAC and JWT.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Validated service settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// `SAHULAT_BIND`: address and port to listen on.
    pub bind: SocketAddr,
    /// `SAHULAT_METRICS_BIND`: where `GET /metrics` is served, apart from the API (default
    /// 127.0.0.1:9464; `None` when set to `off`).
    pub metrics_bind: Option<SocketAddr>,
    /// `SAHULAT_RULES_DIR`: the directory of scheme rule files.
    pub rules_dir: PathBuf,
    /// `SAHULAT_JWT_SECRET`: HS256 signing key, ≥ 32 bytes.
    pub jwt_secret: Secret,
    /// `SAHULAT_AUDIT_KEY`: HMAC key of the audit hash chain, ≥ 32 bytes. Keep it outside
    /// the database: whoever holds it can re-forge the chain.
    pub audit_key: Secret,
    /// `SAHULAT_TOKEN_TTL_SECS`: access-token lifetime (60–3600 s, default 900).
    pub token_ttl: Duration,
    /// `SAHULAT_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `SAHULAT_LOG`: log filter, e.g. `info` or `info,sahulat=debug`.
    pub log_filter: String,
    /// `SAHULAT_MIGRATE_ON_START`: apply migrations when `serve` starts (default true; turn
    /// off when several instances share one PostgreSQL and `sahulat migrate` runs once).
    pub migrate_on_start: bool,
    /// `SAHULAT_DB_POOL_SIZE`: connections per process (1–200, default 10).
    pub db_pool_size: u32,
    /// `SAHULAT_RULES_FILE_RELOAD`: whether `POST /api/v1/rules/reload` and SIGHUP may put the
    /// rules directory's files in force without a proposal — for a single-instance
    /// development set-up (default true on SQLite, false on PostgreSQL).
    pub rules_file_reload: bool,
    /// `SAHULAT_LOGIN_MAX_FAILURES` (1–100, default 5), `SAHULAT_LOGIN_BACKOFF_SECS` (first
    /// back-off, 1–3600, default 60) and `SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE` (1–100000,
    /// default 30): login throttling (see `auth::throttle`).
    pub login_throttle: crate::auth::throttle::ThrottlePolicy,
    /// `DATABASE_REPLICA_URL`: a PostgreSQL streaming replica for read-only work (optional;
    /// PostgreSQL only, see `db::replica`).
    pub database_replica_url: Option<DatabaseUrl>,
    /// `SAHULAT_REPLICA_MAX_LAG_{SEARCH,AUDIT,REPORTS,SCHEMES}_MS`: how far behind the replica
    /// may be for each kind of read before it is served by the primary.
    pub replica_max_lag: crate::db::replica::LagThresholds,
    /// `SAHULAT_SHUTDOWN_DRAIN_SECS`: after SIGTERM, how long the service keeps answering,
    /// each answer closing its connection, before it stops accepting (see `startup`).
    pub shutdown_drain: Duration,
    /// Warnings to log once logging is up (e.g. development secrets in use).
    pub warnings: Vec<String>,
}

/// Where settings come from: a flat map of variable names to values.
pub type Source = HashMap<String, String>;

impl Settings {
    /// Loads settings from the process environment and the optional `SAHULAT_CONFIG` file.
    pub fn load() -> Result<Self, String> {
        let env: Source = std::env::vars().collect();
        let mut source = match env.get("SAHULAT_CONFIG") {
            Some(path) => read_env_file(Path::new(path))?,
            None => Source::new(),
        };
        source.extend(env);
        Self::from_source(&source)
    }

    /// Builds settings from an explicit source (used by tests).
    pub fn from_source(source: &Source) -> Result<Self, String> {
        let get = |key: &str| source.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut warnings = Vec::new();

        let database_url = DatabaseUrl::parse(get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL))?;
        let bind_raw = get("SAHULAT_BIND").unwrap_or(DEFAULT_BIND);
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            format!("SAHULAT_BIND must be an address and port such as 127.0.0.1:8080 (got {bind_raw:?})")
        })?;
        let metrics_bind = metrics_bind(get("SAHULAT_METRICS_BIND"), bind, &mut warnings)?;
        let rules_dir = PathBuf::from(get("SAHULAT_RULES_DIR").unwrap_or("./rules"));
        let loopback = bind.ip().is_loopback();
        let jwt_secret =
            secret(get("SAHULAT_JWT_SECRET"), "SAHULAT_JWT_SECRET", DEV_JWT_SECRET, loopback, &mut warnings)?;
        let audit_key = secret(get("SAHULAT_AUDIT_KEY"), "SAHULAT_AUDIT_KEY", DEV_AUDIT_KEY, loopback, &mut warnings)?;
        let token_ttl =
            Duration::from_secs(number(get("SAHULAT_TOKEN_TTL_SECS"), "SAHULAT_TOKEN_TTL_SECS", 900, 60, 3600)?);
        let log_format = match get("SAHULAT_LOG_FORMAT").unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(format!("SAHULAT_LOG_FORMAT must be text or json (got {other:?})")),
        };
        let log_filter = get("SAHULAT_LOG").unwrap_or("info").to_string();
        let migrate_on_start = match get("SAHULAT_MIGRATE_ON_START").unwrap_or("true") {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => return Err(format!("SAHULAT_MIGRATE_ON_START must be true or false (got {other:?})")),
        };
        let db_pool_size = number(get("SAHULAT_DB_POOL_SIZE"), "SAHULAT_DB_POOL_SIZE", 10, 1, 200)? as u32;
        let single = matches!(database_url, DatabaseUrl::Sqlite(_));
        let rules_file_reload = match get("SAHULAT_RULES_FILE_RELOAD") {
            None => single,
            Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => return Err(format!("SAHULAT_RULES_FILE_RELOAD must be true or false (got {other:?})")),
        };
        let login_throttle = crate::auth::throttle::ThrottlePolicy {
            max_failures: number(get("SAHULAT_LOGIN_MAX_FAILURES"), "SAHULAT_LOGIN_MAX_FAILURES", 5, 1, 100)? as u32,
            backoff: Duration::from_secs(number(
                get("SAHULAT_LOGIN_BACKOFF_SECS"),
                "SAHULAT_LOGIN_BACKOFF_SECS",
                60,
                1,
                3600,
            )?),
            per_address: number(
                get("SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE"),
                "SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE",
                30,
                1,
                100_000,
            )? as u32,
        };
        let database_replica_url = replica_url(get("DATABASE_REPLICA_URL"), &database_url, &mut warnings)?;
        let lag = |key: &str, default: u64| -> Result<Duration, String> {
            Ok(Duration::from_millis(number(get(key), key, default, 0, 3_600_000)?))
        };
        let replica_max_lag = crate::db::replica::LagThresholds {
            search: lag("SAHULAT_REPLICA_MAX_LAG_SEARCH_MS", 2_000)?,
            audit: lag("SAHULAT_REPLICA_MAX_LAG_AUDIT_MS", 10_000)?,
            reports: lag("SAHULAT_REPLICA_MAX_LAG_REPORTS_MS", 60_000)?,
            schemes: lag("SAHULAT_REPLICA_MAX_LAG_SCHEMES_MS", 60_000)?,
        };
        let shutdown_drain =
            Duration::from_secs(number(get("SAHULAT_SHUTDOWN_DRAIN_SECS"), "SAHULAT_SHUTDOWN_DRAIN_SECS", 5, 0, 60)?);
        Ok(Self {
            database_url,
            bind,
            metrics_bind,
            rules_dir,
            jwt_secret,
            audit_key,
            token_ttl,
            log_format,
            log_filter,
            migrate_on_start,
            db_pool_size,
            rules_file_reload,
            login_throttle,
            database_replica_url,
            replica_max_lag,
            shutdown_drain,
            warnings,
        })
    }

    /// Checks that the rules directory can be read (the service refuses to start otherwise).
    pub fn check_rules_dir(&self) -> Result<(), String> {
        std::fs::read_dir(&self.rules_dir)
            .map(|_| ())
            .map_err(|e| format!("SAHULAT_RULES_DIR ({}) is not a readable directory: {e}", self.rules_dir.display()))
    }
}

fn secret(
    value: Option<&str>,
    name: &str,
    dev_default: &str,
    loopback: bool,
    warnings: &mut Vec<String>,
) -> Result<Secret, String> {
    match value {
        Some(v) if v.len() < MIN_SECRET_BYTES => Err(format!(
            "{name} must be at least {MIN_SECRET_BYTES} bytes (got {}); generate one with `openssl rand -hex 32`",
            v.len()
        )),
        Some(v) if v == dev_default && !loopback => {
            Err(format!("{name} is the published development value; set a real secret before binding beyond loopback"))
        }
        Some(v) => Ok(Secret::new(v.as_bytes())),
        None if loopback => {
            warnings.push(format!(
                "{name} is not set: using the DEVELOPMENT default. Anyone can forge it. Never use this outside a laptop."
            ));
            Ok(Secret::new(dev_default.as_bytes()))
        }
        None => Err(format!("{name} is required when SAHULAT_BIND is not a loopback address")),
    }
}

/// `DATABASE_REPLICA_URL`: a `postgres://` URL beside a PostgreSQL `DATABASE_URL`, or nothing.
/// A malformed value, an SQLite URL or a replica beside an SQLite primary stop the start (a
/// typo must not silently mean "no replica"); whether the replica answers, and whether it
/// really is a standby, is checked once the service runs and is only ever a warning.
fn replica_url(
    value: Option<&str>,
    primary: &DatabaseUrl,
    warnings: &mut Vec<String>,
) -> Result<Option<DatabaseUrl>, String> {
    let Some(raw) = value else { return Ok(None) };
    let url = DatabaseUrl::parse(raw).map_err(|e| e.replace("DATABASE_URL", "DATABASE_REPLICA_URL"))?;
    match (&url, primary) {
        (DatabaseUrl::Sqlite(_), _) => {
            Err("DATABASE_REPLICA_URL must be a postgres:// URL: an SQLite database has no replica".into())
        }
        (_, DatabaseUrl::Sqlite(_)) => Err(
            "DATABASE_REPLICA_URL is set but DATABASE_URL is SQLite: a replica needs a PostgreSQL primary (unset it)"
                .into(),
        ),
        _ => {
            if &url == primary {
                warnings.push(
                    "DATABASE_REPLICA_URL is the same as DATABASE_URL: the primary is no standby, so every read stays on it"
                        .into(),
                );
            }
            Ok(Some(url))
        }
    }
}

/// `SAHULAT_METRICS_BIND`: an address and port, or `off`. The metrics carry no personal data
/// but are served without authentication, so an address beyond loopback is a warning.
fn metrics_bind(
    value: Option<&str>,
    api: SocketAddr,
    warnings: &mut Vec<String>,
) -> Result<Option<SocketAddr>, String> {
    let raw = value.unwrap_or(DEFAULT_METRICS_BIND);
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: SocketAddr = raw.parse().map_err(|_| {
        format!("SAHULAT_METRICS_BIND must be an address and port such as 127.0.0.1:9464, or off (got {raw:?})")
    })?;
    if addr.port() != 0
        && addr.port() == api.port()
        && (addr.ip() == api.ip() || addr.ip().is_unspecified() || api.ip().is_unspecified())
    {
        return Err(format!("SAHULAT_METRICS_BIND ({addr}) must not be the API's address (SAHULAT_BIND {api})"));
    }
    if !addr.ip().is_loopback() {
        warnings.push(format!(
            "SAHULAT_METRICS_BIND ({addr}) is not a loopback address: anyone who can reach it reads the metrics \
             (no authentication); keep it on a private network and never proxy /metrics"
        ));
    }
    Ok(Some(addr))
}

fn number(value: Option<&str>, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let Some(raw) = value else { return Ok(default) };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{name} must be a whole number from {min} to {max} (got {raw:?})")),
    }
}

/// Reads a `KEY=VALUE` file (comments with `#`, optional quotes).
fn read_env_file(path: &Path) -> Result<Source, String> {
    let entries = dotenvy::from_path_iter(path)
        .map_err(|e| format!("SAHULAT_CONFIG ({}) cannot be read: {e}", path.display()))?;
    entries.map(|entry| entry.map_err(|e| format!("SAHULAT_CONFIG ({}) is malformed: {e}", path.display()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> Source {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_work_on_loopback_with_a_warning() {
        let s = Settings::from_source(&Source::new()).expect("defaults are valid");
        assert_eq!(s.database_url.backend(), "sqlite");
        assert_eq!(s.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.token_ttl, Duration::from_secs(900));
        assert_eq!(s.shutdown_drain, Duration::from_secs(5));
        assert_eq!(s.warnings.len(), 2);
    }

    #[test]
    fn the_shutdown_drain_is_0_to_60_seconds() {
        let drain = |v: &str| Settings::from_source(&source(&[("SAHULAT_SHUTDOWN_DRAIN_SECS", v)]));
        assert_eq!(drain("0").expect("no drain").shutdown_drain, Duration::ZERO);
        assert_eq!(drain("60").expect("a minute").shutdown_drain, Duration::from_secs(60));
        for bad in ["61", "-1", "2.5", "soon"] {
            let err = drain(bad).expect_err(bad);
            assert!(err.contains("SAHULAT_SHUTDOWN_DRAIN_SECS") && err.contains("0 to 60"), "{err}");
        }
    }

    #[test]
    fn short_secret_is_refused_by_name() {
        let err = Settings::from_source(&source(&[("SAHULAT_JWT_SECRET", "short")])).expect_err("short");
        assert!(err.starts_with("SAHULAT_JWT_SECRET must be at least 32 bytes"), "{err}");
    }

    #[test]
    fn public_bind_needs_real_secrets() {
        let err = Settings::from_source(&source(&[("SAHULAT_BIND", "0.0.0.0:8080")])).expect_err("no secret");
        assert!(err.contains("SAHULAT_JWT_SECRET is required"), "{err}");
        let dev = source(&[
            ("SAHULAT_BIND", "0.0.0.0:8080"),
            ("SAHULAT_JWT_SECRET", DEV_JWT_SECRET),
            ("SAHULAT_AUDIT_KEY", DEV_AUDIT_KEY),
        ]);
        assert!(Settings::from_source(&dev).expect_err("dev").contains("development value"));
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (key, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("SAHULAT_BIND", "localhost"),
            ("SAHULAT_TOKEN_TTL_SECS", "86400"),
            ("SAHULAT_LOG_FORMAT", "xml"),
            ("SAHULAT_DB_POOL_SIZE", "0"),
        ] {
            let err = Settings::from_source(&source(&[(key, value)])).expect_err(key);
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn the_config_file_is_read_and_malformed_lines_are_reported() {
        let dir = std::env::temp_dir().join(format!("sahulat-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good.env");
        std::fs::write(&good, "# comment\nSAHULAT_BIND=127.0.0.1:9999\nSAHULAT_LOG=\"debug\"\n").expect("write");
        let source = read_env_file(&good).expect("readable");
        assert_eq!(source.get("SAHULAT_BIND").map(String::as_str), Some("127.0.0.1:9999"));
        assert_eq!(source.get("SAHULAT_LOG").map(String::as_str), Some("debug"));
        let bad = dir.join("bad.env");
        std::fs::write(&bad, "SAHULAT_LOG='unterminated\n").expect("write");
        assert!(read_env_file(&bad).expect_err("malformed").starts_with("SAHULAT_CONFIG"));
        assert!(read_env_file(&dir.join("missing.env")).expect_err("missing").contains("cannot be read"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_replica_url_is_postgres_beside_postgres_only() {
        let pg = [("DATABASE_URL", "postgres://u@h/db")];
        let none = Settings::from_source(&source(&pg)).expect("no replica");
        assert!(none.database_replica_url.is_none());
        assert_eq!(none.replica_max_lag.search, Duration::from_secs(2));
        assert_eq!(none.replica_max_lag.reports, Duration::from_secs(60));
        let with = Settings::from_source(&source(&[pg[0], ("DATABASE_REPLICA_URL", "postgres://u@r:5442/db")]))
            .expect("replica");
        assert_eq!(with.database_replica_url.map(|u| u.backend()), Some("postgres"));
        for (primary, replica, says) in [
            ("postgres://u@h/db", "sqlite://./r.db", "must be a postgres:// URL"),
            ("postgres://u@h/db", "postgress://r/db", "DATABASE_REPLICA_URL must start with"),
            ("sqlite://./p.db", "postgres://u@r/db", "DATABASE_URL is SQLite"),
        ] {
            let err = Settings::from_source(&source(&[("DATABASE_URL", primary), ("DATABASE_REPLICA_URL", replica)]))
                .expect_err(replica);
            assert!(err.contains(says), "{err}");
        }
        let same = Settings::from_source(&source(&[pg[0], ("DATABASE_REPLICA_URL", pg[0].1)])).expect("same");
        assert!(same.warnings.iter().any(|w| w.contains("same as DATABASE_URL")), "{:?}", same.warnings);
        let err = Settings::from_source(&source(&[("SAHULAT_REPLICA_MAX_LAG_SEARCH_MS", "soon")])).expect_err("lag");
        assert!(err.contains("SAHULAT_REPLICA_MAX_LAG_SEARCH_MS"), "{err}");
    }

    #[test]
    fn the_metrics_address_is_loopback_by_default_and_can_be_off() {
        let s = Settings::from_source(&Source::new()).expect("defaults");
        assert_eq!(s.metrics_bind.map(|a| a.to_string()).as_deref(), Some(DEFAULT_METRICS_BIND));
        let off = Settings::from_source(&source(&[("SAHULAT_METRICS_BIND", "off")])).expect("off");
        assert_eq!(off.metrics_bind, None);
        for bad in ["9464", "localhost:9464", "127.0.0.1", "127.0.0.1:8080"] {
            let err = Settings::from_source(&source(&[("SAHULAT_METRICS_BIND", bad)])).expect_err(bad);
            assert!(err.starts_with("SAHULAT_METRICS_BIND"), "{bad}: {err}");
        }
        let wide = Settings::from_source(&source(&[("SAHULAT_METRICS_BIND", "0.0.0.0:9464")])).expect("wide");
        assert!(wide.warnings.iter().any(|w| w.contains("not a loopback address")), "{:?}", wide.warnings);
        assert!(!s.warnings.iter().any(|w| w.contains("SAHULAT_METRICS_BIND")), "{:?}", s.warnings);
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Settings::from_source(&Source::new()).expect("valid");
        assert!(!format!("{s:?}").contains("development-jwt"));
    }
}
