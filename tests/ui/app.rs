//! The application under test: the real `Application::build` on a random port against a
//! fresh SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` names a
//! PostgreSQL maintenance database (the same arrangement as tests/api/helpers.rs, copied:
//! test binaries do not share modules).

use std::time::Duration;

use awc::http::StatusCode;
use sahulat::audit::{AuditContext, AuditKey};
use sahulat::auth::Role;
use sahulat::auth::password::hash_password;
use sahulat::auth::service::{self, CreateUser};
use sahulat::auth::users::Assignments;
use sahulat::config::{Settings, Source};
use sahulat::db;
use sahulat::startup::{AppState, Application};
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{Ctx, R};

pub const JWT_SECRET: &str = "ui-test-jwt-secret-0123456789abcdef0123456789abcdef";
pub const AUDIT_KEY: &str = "ui-test-audit-key-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "a quite long test password";

/// A database that exists for one run.
pub enum TestDb {
    Sqlite { _dir: TempDir, url: String },
    Postgres { maintenance: String, name: String, url: String },
}

impl TestDb {
    pub fn new() -> R<Self> {
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            Some(maintenance) => {
                let name = format!("sahulat_ui_{}", uuid::Uuid::new_v4().simple());
                let url =
                    sahulat::db::citus::create_database(&maintenance, &name, sahulat::db::citus::TEST_SHARD_COUNT)
                        .map_err(|e| format!("create the test database: {e}"))?;
                Ok(TestDb::Postgres { maintenance, name, url })
            }
            None => {
                let dir = TempDir::new().ctx(|| "temp dir")?;
                let url = format!("sqlite://{}", dir.path().join("sahulat.db").display());
                Ok(TestDb::Sqlite { _dir: dir, url })
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TestDb::Sqlite { .. } => "SQLite",
            TestDb::Postgres { .. } => "PostgreSQL",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { maintenance, name, .. } = self {
            let _ = sahulat::db::citus::drop_database(maintenance, name);
        }
    }
}

/// A temporary copy of the repository's `rules/`.
fn rules_copy() -> R<TempDir> {
    let dir = TempDir::new().ctx(|| "rules dir")?;
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(source).ctx(|| "read rules/")? {
        let path = entry.ctx(|| "rules/ entry")?.path();
        if path.extension().is_some_and(|x| x == "yaml")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, dir.path().join(name)).ctx(|| format!("copy {}", path.display()))?;
        }
    }
    Ok(dir)
}

/// A running application.
pub struct App {
    pub address: String,
    pub state: AppState,
    pub settings: Settings,
    pub db: TestDb,
    _rules: TempDir,
    http: awc::Client,
}

/// An answer read to the end.
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
}

impl App {
    pub async fn spawn() -> R<App> {
        let db = TestDb::new()?;
        let rules = rules_copy()?;
        let source: Source = [
            ("DATABASE_URL", db.url().to_string()),
            ("SAHULAT_BIND", "127.0.0.1:0".to_string()),
            ("SAHULAT_METRICS_BIND", "off".to_string()),
            ("SAHULAT_RULES_DIR", rules.path().display().to_string()),
            ("SAHULAT_JWT_SECRET", JWT_SECRET.to_string()),
            ("SAHULAT_AUDIT_KEY", AUDIT_KEY.to_string()),
            ("SAHULAT_DB_POOL_SIZE", "4".to_string()),
            ("SAHULAT_LOG", "warn".to_string()),
            // Every sign-in of the suite comes from 127.0.0.1.
            ("SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE", "10000".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let settings = Settings::from_source(&source).map_err(|e| format!("settings: {e}"))?;
        let app = Application::build(&settings).map_err(|e| format!("build application: {e:#}"))?;
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        actix_web::rt::spawn(app.into_server());
        let http = awc::Client::builder().timeout(Duration::from_secs(30)).disable_redirects().finish();
        Ok(App { address, state, settings, db, _rules: rules, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// One request; `token` adds a bearer header, `body` a JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> R<Reply> {
        let m = awc::http::Method::from_bytes(method.as_bytes()).ctx(|| format!("method {method}"))?;
        let mut req = self.http.request(m, self.url(path));
        if let Some(token) = token {
            req = req.insert_header(("authorization", format!("Bearer {token}")));
        }
        if method == "POST" {
            req = req.insert_header(("idempotency-key", uuid::Uuid::new_v4().to_string()));
        }
        let mut resp = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        }
        .map_err(|e| format!("{method} {path}: {e}"))?;
        let raw = resp.body().limit(8 * 1024 * 1024).await.map_err(|e| format!("{method} {path}: body: {e}"))?.to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Ok(Reply { status: resp.status(), headers: resp.headers().clone(), body, raw })
    }

    /// Creates an account through the service layer (as the CLI does); returns its id.
    pub async fn create_user(&self, username: &str, role: Role, districts: &[&str], schemes: &[&str]) -> R<String> {
        let pool = self.state.pool.clone();
        let key = AuditKey::new(&self.settings.audit_key);
        let (username, districts, schemes) = (
            username.to_string(),
            districts.iter().map(|s| s.to_string()).collect(),
            schemes.iter().map(|s| s.to_string()).collect(),
        );
        actix_web::web::block(move || -> R<String> {
            let hash = hash_password(PASSWORD).map_err(|e| format!("hash: {e}"))?;
            let mut conn = pool.get().ctx(|| "connection")?;
            let request = CreateUser {
                username: &username,
                role,
                password: PASSWORD,
                password_hash: &hash,
                assignments: Assignments { districts, schemes },
            };
            let user = db::write_tx(&mut conn, |c| service::create_user(c, &key, &AuditContext::cli(), request))
                .map_err(|e| format!("create user {username}: {e:?}"))?;
            Ok(user.id)
        })
        .await
        .ctx(|| "blocking task")?
    }

    /// A bearer token for `username`.
    pub async fn token(&self, username: &str, password: &str) -> R<String> {
        let body = serde_json::json!({ "username": username, "password": password });
        let reply = self.call("POST", "/api/v1/auth/login", None, Some(&body)).await?;
        if reply.status != StatusCode::OK {
            return Err(format!("API login of {username}: {} {}", reply.status, reply.body));
        }
        reply.body["access_token"].as_str().map(str::to_string).ok_or_else(|| "login: no access_token".to_string())
    }
}
