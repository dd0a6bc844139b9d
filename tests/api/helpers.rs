//! The test harness: the real application on a random port against a fresh database —
//! a temporary SQLite file, or a fresh PostgreSQL database per test when
//! `TEST_DATABASE_URL` names a PostgreSQL maintenance database.

use std::time::Duration;

use awc::http::StatusCode;
use diesel::connection::SimpleConnection;
use sahulat::audit::{AuditContext, AuditKey};
use sahulat::auth::Role;
use sahulat::auth::password::hash_password;
use sahulat::auth::service::{self, CreateUser};
use sahulat::auth::users::Assignments;
use sahulat::config::{Settings, Source};
use sahulat::db::{self, DatabaseUrl, DbConnection};
use sahulat::startup::{AppState, Application};
use serde_json::Value;
use tempfile::TempDir;

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123456789abcdef";
pub const AUDIT_KEY: &str = "test-audit-key-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "a quite long test password";

/// A database that exists for one test.
pub enum TestDb {
    Sqlite { _dir: TempDir, url: String },
    Postgres { maintenance: String, name: String, url: String },
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            Some(maintenance) => {
                let name = format!("sahulat_test_{}", uuid::Uuid::new_v4().simple());
                // On a Citus coordinator the database joins the cluster (and its tables are
                // distributed by the migrations).
                let url = db::citus::create_database(&maintenance, &name, db::citus::TEST_SHARD_COUNT)
                    .expect("create test database");
                TestDb::Postgres { maintenance, name, url }
            }
            None => {
                let dir = TempDir::new().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("sahulat.db").display());
                TestDb::Sqlite { _dir: dir, url }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    /// A direct connection, for what only a test may do (tampering, introspection).
    pub fn connect(&self) -> DbConnection {
        db::connect(&DatabaseUrl::parse(self.url()).expect("url")).expect("connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { maintenance, name, .. } = self {
            let _ = db::citus::drop_database(maintenance, name);
        }
    }
}

/// The settings a test app runs with.
pub fn test_source(database_url: &str, rules_dir: &std::path::Path) -> Source {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("SAHULAT_BIND", "127.0.0.1:0".to_string()),
        // Many apps run at once: no metrics listener (tests/api/metrics.rs turns it on).
        ("SAHULAT_METRICS_BIND", "off".to_string()),
        ("SAHULAT_RULES_DIR", rules_dir.display().to_string()),
        ("SAHULAT_JWT_SECRET", JWT_SECRET.to_string()),
        ("SAHULAT_AUDIT_KEY", AUDIT_KEY.to_string()),
        ("SAHULAT_DB_POOL_SIZE", "4".to_string()),
        ("SAHULAT_LOG", "warn".to_string()),
        // The tests that edit rule files reload them, on both databases.
        ("SAHULAT_RULES_FILE_RELOAD", "true".to_string()),
        // Every test logs in from 127.0.0.1; the address limit has its own test.
        ("SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE", "10000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: awc::Client,
    pub state: AppState,
    pub db: TestDb,
    pub settings: Settings,
    pub rules: TempDir,
}

/// A temporary copy of the repository's `rules/` (tests may change it and reload).
pub fn rules_copy() -> TempDir {
    let dir = TempDir::new().expect("rules dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(source).expect("rules/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy rule file");
        }
    }
    dir
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new();
    let rules = rules_copy();
    let settings = Settings::from_source(&test_source(db.url(), rules.path())).expect("settings");
    spawn_with(db, rules, settings)
}

/// An app whose settings add or override `overrides`.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new();
    let rules = rules_copy();
    let mut source = test_source(db.url(), rules.path());
    source.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_source(&source).expect("settings");
    spawn_with(db, rules, settings)
}

pub fn spawn_with(db: TestDb, rules: TempDir, settings: Settings) -> TestApp {
    let app = Application::build(&settings).expect("build application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    actix_web::rt::spawn(app.into_server());
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).disable_redirects().finish();
    TestApp { address, client, state, db, settings, rules }
}

/// A response read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The body without the per-request `request_id`, for comparing two answers.
    pub fn body_without_request_id(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove("request_id");
        }
        body
    }
}

/// Every response of every test, whatever its status, carries the security headers (S10).
pub fn assert_secure_headers(reply: &Reply) {
    for (name, want) in
        [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")]
    {
        assert_eq!(reply.header(name).as_deref(), Some(want), "{name} on a {} response", reply.status);
    }
    // The console's own files (marked by their resource policy) are revalidated by ETag;
    // everything else is never stored.
    let cache = reply.header("cache-control");
    let console_file = reply.header("cross-origin-resource-policy").is_some() && reply.header("etag").is_some();
    let allowed: &[&str] = if console_file { &["no-store", "no-cache"] } else { &["no-store"] };
    assert!(
        cache.as_deref().is_some_and(|c| allowed.contains(&c)),
        "cache-control {cache:?} on a {} response",
        reply.status
    );
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "CSP on a {} response: {csp:?}", reply.status);
    assert!(reply.header("access-control-allow-origin").is_none(), "CORS is closed");
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request; `token` adds a bearer header, `body` a JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.insert_header(("authorization", format!("Bearer {token}")));
        }
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let mut resp = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        }
        .expect("request sent");
        let raw = resp.body().limit(8 * 1024 * 1024).await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let reply = Reply { status: resp.status(), headers: resp.headers().clone(), body, raw };
        assert_secure_headers(&reply);
        reply
    }

    /// Creates an account directly through the service layer (as the CLI does).
    pub async fn create_user(&self, username: &str, role: Role, districts: &[&str], schemes: &[&str]) -> String {
        let pool = self.state.pool.clone();
        let key = AuditKey::new(&self.settings.audit_key);
        let (username, districts, schemes) = (
            username.to_string(),
            districts.iter().map(|s| s.to_string()).collect(),
            schemes.iter().map(|s| s.to_string()).collect(),
        );
        actix_web::web::block(move || {
            let hash = hash_password(PASSWORD).expect("hash");
            let mut conn = pool.get().expect("connection");
            let request = CreateUser {
                username: &username,
                role,
                password: PASSWORD,
                password_hash: &hash,
                assignments: Assignments { districts, schemes },
            };
            db::write_tx(&mut conn, |c| service::create_user(c, &key, &AuditContext::cli(), request))
                .expect("create user")
                .id
        })
        .await
        .expect("blocking task")
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "username": username, "password": password });
        self.call("POST", "/api/v1/auth/login", None, Some(&body)).await
    }

    /// Creates a user with `role` (default assignments) and returns a token for it.
    pub async fn token_for(&self, username: &str, role: Role) -> String {
        let (districts, schemes): (&[&str], &[&str]) = match role {
            Role::Clerk => (&["peshawar"], &[]),
            Role::SchemeAdmin => (&[], &["bisp-kafaalat"]),
            Role::Auditor | Role::Admin => (&[], &[]),
        };
        self.create_user(username, role, districts, schemes).await;
        let reply = self.login(username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "login of {username}: {:?}", reply.body);
        reply.body["access_token"].as_str().expect("token").to_string()
    }

    /// Runs the `sahulat` binary against this app's database.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        run_cli(&test_source(self.db.url(), std::path::Path::new(".")), args, stdin)
    }
}

/// Runs the `sahulat` binary with exactly `env` (plus PATH) and `stdin`.
pub fn run_cli(env: &Source, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sahulat"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sahulat");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for sahulat")
}

/// base64url without padding, for hand-made tokens.
pub fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Signs an arbitrary header and payload with HS256 under `secret`.
pub fn sign_hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(payload.to_string().as_bytes()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(tag.as_ref()))
}

/// A valid claims set for `user_id`, to be bent by a test.
pub fn claims_for(user_id: &str) -> Value {
    let now = chrono::Utc::now();
    serde_json::json!({
        "iss": "sahulat", "aud": "sahulat-api", "sub": user_id,
        "iat": now.timestamp(), "iat_ms": now.timestamp_millis(), "exp": now.timestamp() + 600,
        "jti": "test", "role": "admin"
    })
}

/// Runs raw SQL directly on the test database.
pub fn execute_sql(db: &TestDb, sql: &str) {
    db.connect().batch_execute(sql).expect("sql");
}

/// A poor household in Swat: a widow, her enrolled son and an infant; no vehicle, PMT 20.
pub fn poor_swat_household() -> Value {
    serde_json::json!({
        "district": "swat",
        "pmt_score": 20,
        "owns_vehicle": false,
        "monthly_income_pkr": 12000,
        "members": [
            {"full_name": "زرینہ بی بی", "relation_to_head": "head", "sex": "female", "date_of_birth": "1985-03-01",
             "id_type": "cnic", "id_number": "15602-1234567-2", "marital_status": "widowed", "religion": "muslim",
             "disability": "none", "govt_employee": false, "taxpayer": false, "employment": "homemaker"},
            {"full_name": "Gul", "relation_to_head": "son", "sex": "male", "date_of_birth": "2015-06-10",
             "id_type": "b_form", "id_number": "15602-7654321-1", "disability": "none", "govt_employee": false,
             "taxpayer": false, "school_enrolled": true, "school_level": "primary", "attendance_pct": 85},
            {"full_name": "Mina", "relation_to_head": "daughter", "sex": "female", "date_of_birth": "2024-11-01",
             "id_type": "none", "govt_employee": false, "taxpayer": false}
        ]
    })
}
