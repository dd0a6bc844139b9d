//! The fault harness: the real `sahulat` binary as a child process on a loopback port it
//! picks, on SQLite (a temp file) or on a PostgreSQL cluster of its own (initdb/pg_ctl in a
//! temp directory, run as the `postgres` user). It owns every process it starts and kills
//! only those. Clients record each request's outcome; checkers read the final state.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

pub const JWT_SECRET: &str = "reliability-suite-jwt-secret-0123456789abcdef";
pub const AUDIT_KEY: &str = "reliability-suite-audit-key-0123456789abcdef";
pub const PASSWORD: &str = "a long reliability password";

/// `gate` (CI, the default) or `extended` (`SAHULAT_RELIABILITY_TIER=extended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Gate,
    Extended,
}

impl Tier {
    pub fn current() -> Self {
        match std::env::var("SAHULAT_RELIABILITY_TIER").as_deref() {
            Ok("extended") => Self::Extended,
            _ => Self::Gate,
        }
    }

    /// The gate's or the extended tier's count.
    pub fn pick(self, gate: usize, extended: usize) -> usize {
        match self {
            Self::Gate => gate,
            Self::Extended => extended,
        }
    }
}

/// Whether this run is for PostgreSQL: the suite follows the integration tests' switch
/// (`TEST_DATABASE_URL` set), but never uses that server: it starts its own cluster.
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

/// A free loopback port (bound and released; the child binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn pg_bin(tool: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir(root).expect("PostgreSQL is installed").filter_map(|e| e.ok().map(|e| e.path())).collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version").join("bin").join(tool)
}

fn as_postgres(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(pg_bin(tool))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run a PostgreSQL tool as postgres")
}

/// How many Citus workers the suite's clusters get: `SAHULAT_RELIABILITY_CITUS_WORKERS`
/// (CI runs the gate once with 2, against a coordinator), 0 for plain PostgreSQL.
pub fn citus_workers() -> usize {
    std::env::var("SAHULAT_RELIABILITY_CITUS_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The data directory every cluster of the suite starts from: `initdb` (and, for Citus, the
/// extension in the `postgres` database) done once and kept in Cargo's temp directory for
/// tests, one per PostgreSQL and Citus version, so each test copies 40 MB instead of running
/// `initdb` and `CREATE EXTENSION` on every node (about 2 s a node on 2 cores).
fn template(citus: bool) -> PathBuf {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static CITUS: OnceLock<PathBuf> = OnceLock::new();
    let cell = if citus { &CITUS } else { &PLAIN };
    cell.get_or_init(|| {
        let version = |tool: &str, arg: &str| {
            let out = Command::new(pg_bin(tool)).arg(arg).output().expect("PostgreSQL tool");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let mut key = version("pg_config", "--version");
        if citus {
            let control = Path::new(&version("pg_config", "--sharedir")).join("extension/citus.control");
            let text = std::fs::read_to_string(&control).expect("the citus extension is installed");
            let line = text.lines().find(|l| l.starts_with("default_version")).unwrap_or_default();
            key.push_str(" citus ");
            key.push_str(line.split('=').nth(1).unwrap_or_default().trim().trim_matches('\''));
        }
        let name: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reliability-pgdata-{name}"));
        if kept.join("PG_VERSION").exists() {
            return kept;
        }
        let work = tempfile::Builder::new().prefix("sahulat-pg-template-").tempdir().expect("temp dir");
        let chown = Command::new("chown").args(["postgres:postgres"]).arg(work.path()).status();
        assert!(chown.is_ok_and(|s| s.success()), "the suite runs as root to start its own cluster as postgres");
        let data = work.path().join("data");
        let data_s = data.to_str().expect("path");
        let out = as_postgres("initdb", &["-D", data_s, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        if citus {
            let once = PgCluster { dir: work, port: free_port(), citus, workers: Vec::new() };
            once.pg_start();
            once.psql("postgres", "CREATE EXTENSION citus");
            let out = as_postgres("pg_ctl", &["-D", &once.data(), "-m", "fast", "-w", "stop"]);
            assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
            return keep(&once.dir.path().join("data"), &kept);
        }
        keep(&data, &kept)
    })
    .clone()
}

/// Copies `data` to `kept` (through a name of this process's own, so two suites starting at
/// once never see half a copy) and returns `kept`.
fn keep(data: &Path, kept: &Path) -> PathBuf {
    let partial = kept.with_extension(format!("partial-{}", std::process::id()));
    let copied = Command::new("cp").arg("-a").arg(data).arg(&partial).status();
    assert!(copied.is_ok_and(|s| s.success()), "copy the template data directory");
    if std::fs::rename(&partial, kept).is_err() {
        // Another suite kept the same template first.
        let _ = std::fs::remove_dir_all(&partial);
    }
    assert!(kept.join("PG_VERSION").exists(), "template at {}", kept.display());
    kept.to_path_buf()
}

/// A PostgreSQL cluster of the suite's own, in a temp directory, on its own port; with
/// [`citus_workers`] > 0, a Citus coordinator with that many worker clusters of its own.
pub struct PgCluster {
    dir: TempDir,
    pub port: u16,
    citus: bool,
    workers: Vec<PgCluster>,
}

impl PgCluster {
    pub fn start() -> Self {
        let workers = citus_workers();
        let mut cluster = Self::start_one(workers > 0);
        if workers > 0 {
            cluster.workers = (0..workers).map(|_| Self::start_one(true)).collect();
            let mut sql = format!("SELECT citus_set_coordinator_host('127.0.0.1', {});", cluster.port);
            for worker in &cluster.workers {
                sql.push_str(&format!("SELECT citus_add_node('127.0.0.1', {});", worker.port));
            }
            cluster.psql("postgres", &sql);
        }
        cluster
    }

    /// A cluster from a copy of [`template`]'s data directory (`initdb` once, not per test).
    fn start_one(citus: bool) -> Self {
        let dir = tempfile::Builder::new().prefix("sahulat-pg-").tempdir().expect("temp dir");
        let copied = Command::new("cp").arg("-a").arg(template(citus)).arg(dir.path().join("data")).status();
        assert!(copied.is_ok_and(|s| s.success()), "copy the template data directory");
        let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
        assert!(chown.is_ok_and(|s| s.success()), "the suite runs as root to start its own cluster as postgres");
        let cluster = Self { dir, port: free_port(), citus, workers: Vec::new() };
        cluster.pg_start();
        if citus {
            // Citus tells nodes apart by the server id `CREATE EXTENSION` drew, which every
            // copy of the template shares: draw a new one, as the extension does.
            cluster.psql(
                "postgres",
                "UPDATE pg_dist_node_metadata SET metadata = \
                 jsonb_set(metadata, '{server_id}', to_jsonb(gen_random_uuid()::text))",
            );
        }
        cluster
    }

    fn psql(&self, database: &str, sql: &str) {
        let out = Command::new(pg_bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-qc", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Starts the server and waits until it accepts connections.
    pub fn pg_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200{}",
            self.port,
            self.dir.path().display(),
            if self.citus { " -c shared_preload_libraries=citus" } else { "" }
        );
        let log = self.dir.path().join("pg.log");
        let out =
            as_postgres("pg_ctl", &["-D", &self.data(), "-o", &opts, "-l", log.to_str().expect("path"), "-w", "start"]);
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `pg_ctl stop -m immediate`: a crash, as far as the service can tell.
    pub fn crash(&self) {
        let out = as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }

    /// Creates a database (on a coordinator, across the cluster) and returns its URL.
    pub fn database(&self, name: &str) -> String {
        sahulat::db::citus::create_database(&self.url("postgres"), name, sahulat::db::citus::TEST_SHARD_COUNT)
            .expect("create database");
        self.url(name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

/// Where the service's data lives for one test.
pub enum Store {
    Sqlite(TempDir),
    Postgres(PgCluster),
}

impl Store {
    /// A fresh store for `test` on the backend of this run.
    pub fn new(test: &str) -> (Self, String) {
        if on_postgres() {
            let started = Instant::now();
            let cluster = PgCluster::start();
            let up = started.elapsed();
            let url = cluster.database(test);
            println!(
                "{test}: own cluster ({} worker(s)) up in {:.2} s, database made in {:.2} s",
                cluster.workers.len(),
                up.as_secs_f64(),
                (started.elapsed() - up).as_secs_f64()
            );
            (Self::Postgres(cluster), url)
        } else {
            let dir = TempDir::new().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("reliability.db").display());
            (Self::Sqlite(dir), url)
        }
    }

    pub fn cluster(&self) -> Option<&PgCluster> {
        match self {
            Self::Postgres(c) => Some(c),
            Self::Sqlite(_) => None,
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite(dir) => Some(dir.path().join("reliability.db")),
            Self::Postgres(_) => None,
        }
    }
}

/// The running service (a child process) and how to reach it.
pub struct Service {
    pub url: String,
    pub database_url: String,
    pub port: u16,
    pub logs: PathBuf,
    /// Holds the log file's directory for the service's lifetime.
    _log_dir: TempDir,
    child: Option<Child>,
    starts: u32,
    extra_env: Vec<(String, String)>,
}

pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

fn base_env(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("SAHULAT_RULES_DIR", rules_dir().display().to_string()),
        // Several processes on one host: no metrics listener (it would be one port for all).
        ("SAHULAT_METRICS_BIND", "off".to_string()),
        ("SAHULAT_JWT_SECRET", JWT_SECRET.to_string()),
        ("SAHULAT_AUDIT_KEY", AUDIT_KEY.to_string()),
        ("SAHULAT_LOG", "info,sahulat=debug".to_string()),
        ("SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE", "100000".to_string()),
        // On Citus every registration of a district waits for the one before it to finish
        // its two-phase commit (the district's counter and audit-chain rows are held until
        // then), so R1's 50 clients of one district queue there. With as many connections as
        // clients they queue in the database; with fewer, the rest wait in the pool, whose
        // 2 s limit answers 503 once a loaded machine slows the commits (a load-shedding
        // answer, not the correctness R1 checks).
        ("SAHULAT_DB_POOL_SIZE", if citus_workers() > 0 { "50" } else { "16" }.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs a `sahulat` command against `database_url` (users, audit verify).
pub fn cli(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sahulat"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(base_env(database_url))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sahulat");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin");
    child.wait_with_output().expect("sahulat ran")
}

impl Service {
    /// Migrates, creates `users` (name, role, districts) and starts the service.
    pub async fn start(database_url: &str, users: &[(&str, &str, &[&str])]) -> Self {
        Self::start_with(database_url, users, &[]).await
    }

    pub async fn start_with(database_url: &str, users: &[(&str, &str, &[&str])], env: &[(&str, &str)]) -> Self {
        let migrated = cli(database_url, &["migrate"], "");
        assert!(migrated.status.success(), "migrate: {}", String::from_utf8_lossy(&migrated.stderr));
        for (name, role, districts) in users {
            let mut args = vec!["user", "add", "--username", name, "--role", role];
            for d in *districts {
                args.extend(["--district", d]);
            }
            let out = cli(database_url, &args, &format!("{PASSWORD}\n"));
            assert!(out.status.success(), "user add {name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port();
        let log_dir = TempDir::new().expect("log dir");
        let mut service = Self {
            url: format!("http://127.0.0.1:{port}"),
            database_url: database_url.to_string(),
            port,
            logs: log_dir.path().join("service.log"),
            _log_dir: log_dir,
            child: None,
            starts: 0,
            extra_env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        service.spawn().await;
        service
    }

    /// Starts the process and waits for `/readyz`; returns how long that took.
    pub async fn spawn(&mut self) -> Duration {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.logs).expect("log file");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_sahulat"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(base_env(&self.database_url))
            .env("SAHULAT_BIND", format!("127.0.0.1:{}", self.port))
            .envs(self.extra_env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn sahulat serve");
        self.child = Some(child);
        let client = client(2);
        loop {
            if let Ok(resp) = client.get(format!("{}/readyz", self.url)).send().await
                && resp.status() == StatusCode::OK
            {
                return started.elapsed();
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "sahulat serve exited with {status}: {}",
                    std::fs::read_to_string(&self.logs).unwrap_or_default()
                );
            }
            assert!(started.elapsed() < Duration::from_secs(60), "not ready after 60 s");
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (graceful stop); the caller awaits [`Service::wait_exit`].
    pub fn sigterm(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            assert!(status.is_ok_and(|s| s.success()), "kill -TERM");
        }
    }

    /// Waits for the process to exit (after SIGTERM), at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return status;
            }
            assert!(started.elapsed() < limit, "did not stop within {limit:?}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }

    /// The first `limit` log lines of answers that were not the client's fault (5xx), to
    /// say why a test saw one.
    pub fn server_errors(&self, limit: usize) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains("internal error") || l.contains("dependency unavailable"))
            .take(limit)
            .map(str::to_string)
            .collect()
    }

    /// Logs in and returns a bearer token.
    pub async fn token(&self, username: &str) -> String {
        let (status, body) = call(
            &client(1),
            "POST",
            &format!("{}/api/v1/auth/login", self.url),
            None,
            Some(&serde_json::json!({"username": username, "password": PASSWORD})),
            &[],
        )
        .await
        .expect("login sent");
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().expect("token").to_string()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An HTTP client with at most `connections` connections.
pub fn client(connections: usize) -> awc::Client {
    let connector = awc::Connector::new().limit(connections);
    awc::Client::builder().connector(connector).timeout(Duration::from_secs(30)).disable_redirects().finish()
}

/// Why a request has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The connection was refused: the request never reached the service.
    NotSent,
    /// Sent, but no (complete) answer came back: it may or may not have been applied.
    Lost(String),
}

/// One request: `Ok((status, body))`, or why there is no answer.
pub async fn call(
    client: &awc::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, Value), NoAnswer> {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, url);
    if let Some(token) = token {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let sent = match body {
        Some(body) => req.send_json(body).await,
        None => req.send().await,
    };
    let mut resp = sent.map_err(|e| match e {
        awc::error::SendRequestError::Connect(_) => NoAnswer::NotSent,
        other => NoAnswer::Lost(other.to_string()),
    })?;
    let raw = resp.body().limit(8 << 20).await.map_err(|e| NoAnswer::Lost(e.to_string()))?;
    Ok((resp.status(), serde_json::from_slice(&raw).unwrap_or(Value::Null)))
}

/// Latency percentiles in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1000.0
}

/// A direct connection to the service's database, for the checkers.
pub fn db(database_url: &str) -> sahulat::db::DbConnection {
    let url = sahulat::db::DatabaseUrl::parse(database_url).expect("database url");
    sahulat::db::connect(&url).expect("connect")
}

/// Runs `sahulat audit verify` and asserts the chain is intact.
pub fn assert_audit_verifies(database_url: &str) {
    let out = cli(database_url, &["audit", "verify"], "");
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts no log line holds an ID number, a JWT or the test password (S15).
pub fn assert_clean_logs(text: &str, id_numbers: &[String]) {
    assert!(!text.contains(PASSWORD), "a password is in the logs");
    assert!(!text.contains("eyJ"), "a JWT is in the logs");
    for id in id_numbers {
        let plain: String = id.chars().filter(char::is_ascii_digit).collect();
        assert!(!text.contains(&plain), "an ID number is in the logs");
    }
}
