//! Building the application: database preparation, shared state and the HTTP server.
//! Production (`sahulat serve`) and the integration tests use the same `Application::build`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::audit::AuditKey;
use crate::auth::jwt::TokenKeys;
use crate::auth::password::{self, HashLimiter};
use crate::auth::service::PrincipalCache;
use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbPool};
use crate::governance::activation::Activator;
use crate::screening::RulesHandle;
use crate::{api, telemetry};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub pool: DbPool,
    /// JWT signing and verification.
    pub tokens: TokenKeys,
    /// Key of the audit hash chain.
    pub audit_key: AuditKey,
    /// Caps concurrent password hashing.
    pub hash_limiter: HashLimiter,
    /// Login back-off and per-address limits.
    pub login_throttle: Arc<crate::auth::throttle::LoginThrottle>,
    /// Recently resolved principals (see `PrincipalCache`).
    pub principals: std::sync::Arc<PrincipalCache>,
    /// The rules directory (checked by `/readyz`).
    pub rules_dir: PathBuf,
    /// The rule set in force (reloadable).
    pub rules: Arc<RulesHandle>,
    /// Set while this service runs a re-screening job (one at a time).
    pub rescreen_running: Arc<std::sync::atomic::AtomicBool>,
    /// Whether the rules directory may be put in force without a proposal (development).
    pub rules_file_reload: bool,
    /// Activates approved rule changes when due (nudged by approvals).
    pub activator: Activator,
    /// The streaming replica for read-only work (`DATABASE_REPLICA_URL`), if configured.
    pub replica: Option<Arc<db::replica::Replica>>,
}

/// Creates the parent directory of an SQLite file, so the default `./data/` just works.
pub fn ensure_sqlite_dir(url: &DatabaseUrl) -> anyhow::Result<()> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("DATABASE_URL: cannot create directory {}", parent.display()))?;
    }
    Ok(())
}

/// Connects once and applies pending migrations; returns the versions applied.
pub fn migrate(url: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    ensure_sqlite_dir(url)?;
    let mut conn = db::connect(url).with_context(|| format!("DATABASE_URL ({url}): cannot connect"))?;
    db::run_migrations(&mut conn)
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// The metrics listener's port and server (`SAHULAT_METRICS_BIND`; none when `off`).
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Checks the settings against the world (rules directory, database), migrates if asked,
    /// and binds the listener.
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        settings.check_rules_dir().map_err(anyhow::Error::msg)?;
        ensure_sqlite_dir(&settings.database_url)?;
        if settings.migrate_on_start {
            let applied = migrate(&settings.database_url)?;
            if !applied.is_empty() {
                tracing::info!(count = applied.len(), "applied migrations");
            }
        }
        let audit_key = AuditKey::new(&settings.audit_key);
        let pool = db::build_pool(&settings.database_url, settings.db_pool_size);
        let (set, generation) = match pool.get() {
            Ok(mut conn) => {
                if crate::governance::store::generation(&mut conn)? == 0 {
                    // A new database is seeded from the rules directory: it must load.
                    crate::rules::load_dir(&settings.rules_dir).map_err(|diagnostics| {
                        let listed: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                        anyhow::anyhow!(
                            "the rules in {} have {} mistake(s); the service will not start with them:\n{}",
                            settings.rules_dir.display(),
                            diagnostics.len(),
                            listed.join("\n")
                        )
                    })?;
                }
                crate::governance::prepare(&mut conn, &settings.rules_dir, &audit_key)?
            }
            // The service starts and answers 503 until the database answers; meanwhile it
            // holds the directory's rules, and takes the database's as soon as it can.
            Err(error) => {
                tracing::warn!(%error, "the database does not answer: holding the rules directory's rules until it does");
                let set = crate::rules::load_dir(&settings.rules_dir).map_err(|diagnostics| {
                    let listed: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                    anyhow::anyhow!(
                        "the rules in {} have mistakes:\n{}",
                        settings.rules_dir.display(),
                        listed.join("\n")
                    )
                })?;
                (set, 0)
            }
        };
        tracing::info!(
            schemes = set.schemes.len(),
            criteria = set.criterion_count(),
            version = %set.version,
            generation,
            "rules in force loaded from the database"
        );
        let rules = Arc::new(RulesHandle::with_set(&settings.rules_dir, set, generation));
        let rescreen_running: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let activator = Activator::new(pool.clone(), audit_key.clone(), rescreen_running.clone());
        crate::governance::Poller { pool: pool.clone(), rules: Arc::downgrade(&rules), activation: activator.clone() }
            .spawn();
        // Never blocks: a replica that is down or wrong is a warning from its monitor.
        let replica = settings.database_replica_url.as_ref().map(|url| {
            db::replica::Replica::start(
                url,
                pool.clone(),
                settings.db_pool_size,
                settings.replica_max_lag,
                settings.jwt_secret.expose(),
            )
        });
        let state = AppState {
            pool,
            tokens: TokenKeys::new(&settings.jwt_secret, settings.token_ttl),
            audit_key,
            hash_limiter: HashLimiter::new(),
            login_throttle: Arc::new(crate::auth::throttle::LoginThrottle::new(settings.login_throttle)),
            principals: std::sync::Arc::new(PrincipalCache::default()),
            rules_dir: settings.rules_dir.clone(),
            rules,
            rescreen_running,
            rules_file_reload: settings.rules_file_reload,
            activator,
            replica,
        };
        std::thread::spawn(password::warm_up);
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("SAHULAT_BIND ({}): cannot listen", settings.bind))?;
        let port = listener.local_addr()?.port();
        let metrics = match settings.metrics_bind {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .with_context(|| format!("SAHULAT_METRICS_BIND ({addr}): cannot listen (or set it to off)"))?;
                let port = listener.local_addr()?.port();
                Some((port, crate::metrics::serve(listener)?))
            }
            None => None,
        };
        let server = serve(listener, state.clone())?;
        Ok(Self { port, server, state, metrics })
    }

    /// The metrics listener's port, when it is on.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The bound port (useful when binding port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use its pool).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until the server is stopped (SIGINT/SIGTERM drain in-flight requests); the
    /// metrics listener stops with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(false).await;
        }
        result
    }

    /// Reloads the rules on SIGHUP from now on (call inside the runtime, before announcing
    /// that the service is up: until then SIGHUP would end the process).
    pub fn reload_rules_on_hangup(&self) {
        reload_on_hangup(self.state.clone());
    }

    /// Splits off the server future (tests spawn it); the metrics listener, if on, is
    /// spawned here on the current (actix) runtime.
    pub fn into_server(self) -> Server {
        if let Some((_, metrics)) = self.metrics {
            actix_web::rt::spawn(metrics);
        }
        self.server
    }
}

/// `kill -HUP` reloads the rules (audited; a directory with mistakes is refused and the
/// rules in force stay).
fn reload_on_hangup(state: AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, synchronously; the loop runs on the event loop.
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload the rules through the API");
            return;
        };
        actix_web::rt::spawn(async move {
            while hangups.recv().await.is_some() {
                let ctx = crate::audit::AuditContext::cli();
                if let Err(error) = api::schemes::reload(&state, ctx, "sighup").await {
                    tracing::warn!(%error, "rules reload on SIGHUP failed");
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = state;
}

fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(crate::console::configure)
            .configure(api::configure)
            .wrap(from_fn(db::replica::track))
            .wrap(from_fn(telemetry::request_context))
            .wrap(from_fn(crate::metrics::track_requests))
            // gzip when the client asks (a screening answer shrinks about eightfold). No answer
            // puts a secret beside text the requester chose, so compression leaks nothing.
            .wrap(actix_web::middleware::Compress::default())
    })
    .client_request_timeout(Duration::from_secs(10))
    .keep_alive(Duration::from_secs(15))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}
