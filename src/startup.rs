//! Building the application: database preparation, shared state and the HTTP server.
//! Production (`sahulat serve`) and the integration tests use the same `Application::build`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::{Next, from_fn};
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
    /// Set by SIGTERM for the drain before the stop: every answer then closes its connection
    /// (`close_when_draining`).
    pub draining: Arc<AtomicBool>,
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
    /// How long SIGTERM drains before the stop (`SAHULAT_SHUTDOWN_DRAIN_SECS`).
    drain: Duration,
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
            draining: Arc::default(),
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
        Ok(Self { port, server, state, metrics, drain: settings.shutdown_drain })
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

    /// Runs until a signal stops the server (see `stop_on_signals`: SIGTERM drains first);
    /// the metrics listener stops after it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        #[cfg(unix)]
        {
            let signals = Signals::new()?;
            actix_web::rt::spawn(stop_on_signals(
                signals,
                self.server.handle(),
                self.state.draining.clone(),
                self.drain,
            ));
        }
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

/// The signals that stop the service. actix's own handling is switched off (`serve`), because
/// it stops at once: it closes every idle keep-alive connection and stops accepting in the same
/// moment, and a proxy that has just sent a request on such a connection (nginx keeps them
/// open to reuse) gets no answer. A proxy cannot resend a POST it has sent, so that request
/// fails (502 from nginx).
#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

/// How a signal asks the service to stop.
#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopRequest {
    /// SIGTERM (systemd, `docker stop`): drain, then stop gracefully.
    Drain,
    /// SIGINT (Ctrl-C), or a second SIGTERM: stop gracefully now.
    Graceful,
    /// SIGQUIT: stop now, dropping the connections.
    Immediate,
}

#[cfg(unix)]
impl Signals {
    /// Registers the handlers (before the server runs, so no signal is missed).
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    async fn next(&mut self) -> StopRequest {
        use std::task::Poll;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(Some(())) = self.quit.poll_recv(cx) {
                return Poll::Ready(StopRequest::Immediate);
            }
            if let Poll::Ready(Some(())) = self.interrupt.poll_recv(cx) {
                return Poll::Ready(StopRequest::Graceful);
            }
            if let Poll::Ready(Some(())) = self.terminate.poll_recv(cx) {
                return Poll::Ready(StopRequest::Drain);
            }
            Poll::Pending
        })
        .await
    }
}

/// Stops the server on a signal. SIGTERM first drains for `drain`: the service keeps
/// accepting and answering, and every answer carries `Connection: close`, so the proxy stops
/// reusing its connections to this instance: each is closed by the proxy's own idle time-out
/// (nginx's upstream `keepalive_timeout`, shorter than the drain) or by the instance right after
/// an answer that said so. When the drain ends no idle connection is left for the stop to
/// close under a request; the graceful stop then closes the listener and lets the requests in
/// flight finish (up to `shutdown_timeout`). Another SIGTERM or a SIGINT ends the drain early;
/// SIGQUIT stops at once.
#[cfg(unix)]
async fn stop_on_signals(mut signals: Signals, server: ServerHandle, draining: Arc<AtomicBool>, drain: Duration) {
    let mut request = signals.next().await;
    if request == StopRequest::Drain {
        draining.store(true, Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(
                seconds = drain.as_secs(),
                "SIGTERM: draining (answering, each answer closing its connection) before the stop"
            );
            let mut elapsed = std::pin::pin!(actix_web::rt::time::sleep(drain));
            let mut another = std::pin::pin!(signals.next());
            request = std::future::poll_fn(|cx| {
                use std::future::Future;
                if elapsed.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(StopRequest::Graceful);
                }
                another.as_mut().poll(cx).map(|r| if r == StopRequest::Immediate { r } else { StopRequest::Graceful })
            })
            .await;
        }
    }
    let graceful = request != StopRequest::Immediate;
    tracing::info!(graceful, "stopping: no new connections; requests in flight finish");
    server.stop(graceful).await;
}

/// While the service drains before a stop, every answer closes its connection (see
/// `stop_on_signals`). Errors arrive here as answers already (`telemetry::request_context`
/// answers every error inside it).
async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let draining = req.app_data::<web::Data<AppState>>().map(|state| state.draining.clone());
    let mut response = next.call(req).await?;
    // Read after the answer: a request that began before SIGTERM and ends during the drain
    // closes its connection too.
    if draining.is_some_and(|d| d.load(Ordering::Relaxed)) {
        response.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(response)
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
            .wrap(from_fn(close_when_draining))
    })
    .client_request_timeout(Duration::from_secs(10))
    .keep_alive(Duration::from_secs(15))
    .shutdown_timeout(30);
    // SIGTERM, SIGINT and SIGQUIT are `stop_on_signals`'s (run_until_stopped).
    #[cfg(unix)]
    let server = server.disable_signals();
    let server = server.listen(listener)?.run();
    Ok(server)
}
