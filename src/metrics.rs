//! Prometheus metrics: a small process-wide registry and its text exposition (format 0.0.4),
//! served on its own address (`SAHULAT_METRICS_BIND`, loopback by default) at `GET /metrics`.
//!
//! Labels only ever hold values from closed sets chosen by the code (a route *pattern*, a
//! method, a status, a pool name, an error kind, a fallback reason): never a path, an ID
//! number, a name, a token or anything else a client sent.
//!
//! What others call:
//! - [`pool_event_handler`] for every r2d2 pool (`Pool::builder().event_handler(…)`): open
//!   and idle connections, checkout wait and time-outs, per pool name;
//! - [`db_error`] where a database error becomes an answer (`error.rs` does);
//! - [`set_replica_configured`], [`set_replica_lag`], [`set_replica_usable`] and
//!   [`replica_fallback`] for the read replica;
//! - [`rule_evaluations`] from the rules engine, [`RescreenProgress`] around a re-screening run;
//! - [`track_requests`] wraps the application (request latency by route pattern).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::r2d2::HandleEvent;
use diesel::r2d2::event::{AcquireEvent, CheckinEvent, CheckoutEvent, ReleaseEvent, TimeoutEvent};

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latency buckets, in seconds.
const REQUEST_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Pool checkout wait buckets, in seconds (the pool gives up at `db::POOL_TIMEOUT`, 2 s).
const WAIT_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0];

/// Kinds of database error, the values of `sahulat_db_errors_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// The database could not be reached or the connection was lost.
    Unavailable,
    /// No pooled connection within the pool's time-out (database down or pool exhausted).
    PoolTimeout,
    /// A statement or lock wait ran out of time (PostgreSQL `statement_timeout`, SQLite busy).
    Timeout,
    /// A serialization failure (concurrent transactions; retry).
    Serialization,
    /// A unique constraint refused a write.
    UniqueViolation,
    /// Another constraint (foreign key, not null, check) refused a write.
    Constraint,
    /// A write reached a read-only transaction or a standby.
    ReadOnly,
    /// Input the database cannot store (text with U+0000 on PostgreSQL).
    InvalidInput,
    /// Anything else (answered 500).
    Other,
}

impl DbErrorKind {
    const ALL: [DbErrorKind; 9] = [
        Self::Unavailable,
        Self::PoolTimeout,
        Self::Timeout,
        Self::Serialization,
        Self::UniqueViolation,
        Self::Constraint,
        Self::ReadOnly,
        Self::InvalidInput,
        Self::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::PoolTimeout => "pool_timeout",
            Self::Timeout => "timeout",
            Self::Serialization => "serialization",
            Self::UniqueViolation => "unique_violation",
            Self::Constraint => "constraint",
            Self::ReadOnly => "read_only",
            Self::InvalidInput => "invalid_input",
            Self::Other => "other",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Values

/// A monotonically increasing count.
#[derive(Debug, Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// A value that goes up and down (an `f64` kept as its bits).
#[derive(Debug, Default)]
struct Gauge(AtomicU64);

impl Gauge {
    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + delta).to_bits()));
    }
}

/// Observations counted into fixed buckets (each bucket counted once; cumulated when rendered,
/// so `_count` always equals the `+Inf` bucket).
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// One per bound, and one more for `+Inf`.
    counts: Vec<AtomicU64>,
    sum: Gauge,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: Gauge::default() }
    }

    fn observe(&self, seconds: f64) {
        let index = self.bounds.iter().position(|b| seconds <= *b).unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.add(seconds);
    }
}

// ---------------------------------------------------------------------------------------
// Families and rendering

/// How one series renders its samples.
trait Sample: Send + Sync {
    fn render(&self, name: &str, labels: &str, out: &mut String);
}

impl Sample for Counter {
    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let _ = writeln!(out, "{name}{} {}", braces(labels), self.0.load(Ordering::Relaxed));
    }
}

impl Sample for Gauge {
    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let _ = writeln!(out, "{name}{} {}", braces(labels), number(self.get()));
    }
}

impl Sample for Histogram {
    fn render(&self, name: &str, labels: &str, out: &mut String) {
        let mut cumulative = 0u64;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| number(*b));
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), number(self.sum.get()));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// A metric name, its help, its type, its label names and one series per label values.
struct Family<T> {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    labels: &'static [&'static str],
    series: RwLock<BTreeMap<Vec<String>, Arc<T>>>,
    make: fn() -> T,
}

impl<T: Sample> Family<T> {
    fn new(name: &'static str, help: &'static str, kind: &'static str, labels: &'static [&'static str]) -> Self
    where
        T: Default,
    {
        Self { name, help, kind, labels, series: RwLock::default(), make: T::default }
    }

    /// The series for `values` (one per label name, in order), created on first use.
    fn with(&self, values: &[&str]) -> Arc<T> {
        let key: Vec<String> = values.iter().map(|v| (*v).to_string()).collect();
        if let Some(found) = self.series.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return found.clone();
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        series.entry(key).or_insert_with(|| Arc::new((self.make)())).clone()
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, self.kind);
        for (values, sample) in self.series.read().unwrap_or_else(PoisonError::into_inner).iter() {
            sample.render(self.name, &label_pairs(self.labels, values), out);
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn braces(labels: &str) -> String {
    if labels.is_empty() { String::new() } else { format!("{{{labels}}}") }
}

/// `a="x",b="y"` with the values escaped.
fn label_pairs(names: &[&str], values: &[String]) -> String {
    names.iter().zip(values).map(|(n, v)| format!("{n}=\"{}\"", escape_label_value(v))).collect::<Vec<_>>().join(",")
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes help text: backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus reads it (`+Inf`, `-Inf`, `NaN`, or a plain number).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

// ---------------------------------------------------------------------------------------
// The registry

/// One pool instance's connection counts, kept by its event handler. The registry holds it
/// weakly: when the pool (and with it its handler) is dropped, it stops being counted.
#[derive(Debug, Default)]
struct PoolInstance {
    max_size: u32,
    acquired: AtomicU64,
    released: AtomicU64,
    checked_out: AtomicU64,
    checked_in: AtomicU64,
}

struct Registry {
    requests: Family<Histogram>,
    pool_wait: Family<Histogram>,
    pool_timeouts: Family<Counter>,
    pools: Mutex<Vec<(&'static str, Weak<PoolInstance>)>>,
    db_errors: Family<Counter>,
    replica_configured: Gauge,
    replica_lag_seconds: Gauge,
    replica_lag_bytes: Gauge,
    replica_usable: Gauge,
    replica_fallbacks: Family<Counter>,
    rule_evaluations: Counter,
    rescreen_running: Gauge,
    rescreen_done: Gauge,
    rescreen_in_scope: Gauge,
    rescreen_processed: Counter,
}

impl Registry {
    fn new() -> Self {
        let registry = Self {
            requests: Family::histogram(
                "sahulat_http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern (never the path), method and status.",
                &["route", "method", "status"],
                || Histogram::new(REQUEST_BUCKETS),
            ),
            pool_wait: Family::histogram(
                "sahulat_db_pool_checkout_wait_seconds",
                "Time a successful checkout waited for a pooled database connection.",
                &["pool"],
                || Histogram::new(WAIT_BUCKETS),
            ),
            pool_timeouts: Family::new(
                "sahulat_db_pool_timeouts_total",
                "Checkouts that gave up waiting for a pooled connection (answered 503).",
                "counter",
                &["pool"],
            ),
            pools: Mutex::default(),
            db_errors: Family::new(
                "sahulat_db_errors_total",
                "Database errors that reached an answer, by kind.",
                "counter",
                &["kind"],
            ),
            replica_configured: Gauge::default(),
            replica_lag_seconds: Gauge::default(),
            replica_lag_bytes: Gauge::default(),
            replica_usable: Gauge::default(),
            replica_fallbacks: Family::new(
                "sahulat_replica_fallbacks_total",
                "Reads meant for the replica that were served by the primary, by reason.",
                "counter",
                &["reason"],
            ),
            rule_evaluations: Counter::default(),
            rescreen_running: Gauge::default(),
            rescreen_done: Gauge::default(),
            rescreen_in_scope: Gauge::default(),
            rescreen_processed: Counter::default(),
        };
        for kind in DbErrorKind::ALL {
            registry.db_errors.with(&[kind.as_str()]);
        }
        registry
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        header(&mut out, "sahulat_build_info", "The running build: 1, labelled with its version.", "gauge");
        let _ = writeln!(out, "sahulat_build_info{{version=\"{}\"}} 1", escape_label_value(env!("CARGO_PKG_VERSION")));
        self.requests.render(&mut out);
        self.render_pools(&mut out);
        self.pool_wait.render(&mut out);
        self.pool_timeouts.render(&mut out);
        self.db_errors.render(&mut out);
        let gauges: [(&str, &str, &Gauge); 4] = [
            (
                "sahulat_replica_configured",
                "1 when a read replica is configured (DATABASE_REPLICA_URL), else 0.",
                &self.replica_configured,
            ),
            (
                "sahulat_replica_lag_seconds",
                "Replication lag of the read replica as last measured, in seconds (0 without a replica).",
                &self.replica_lag_seconds,
            ),
            (
                "sahulat_replica_lag_bytes",
                "Replication lag of the read replica as last measured, in bytes of WAL (0 without a replica).",
                &self.replica_lag_bytes,
            ),
            (
                "sahulat_replica_usable",
                "1 while reads may go to the replica (reachable, lag under the threshold), else 0.",
                &self.replica_usable,
            ),
        ];
        for (name, help, gauge) in gauges {
            header(&mut out, name, help, "gauge");
            gauge.render(name, "", &mut out);
        }
        self.replica_fallbacks.render(&mut out);
        let name = "sahulat_rule_evaluations_total";
        header(&mut out, name, "Scheme evaluations by the rules engine (households x schemes in force).", "counter");
        self.rule_evaluations.render(name, "", &mut out);
        let rescreen: [(&str, &str, &Gauge); 3] = [
            (
                "sahulat_rescreen_running",
                "1 while this process runs a re-screening job, else 0.",
                &self.rescreen_running,
            ),
            (
                "sahulat_rescreen_households_done",
                "Households decided so far by the current (or last) re-screening run of this process.",
                &self.rescreen_done,
            ),
            (
                "sahulat_rescreen_households_in_scope",
                "Households in the scope of the current (or last) re-screening run of this process.",
                &self.rescreen_in_scope,
            ),
        ];
        for (name, help, gauge) in rescreen {
            header(&mut out, name, help, "gauge");
            gauge.render(name, "", &mut out);
        }
        let name = "sahulat_rescreen_households_processed_total";
        header(&mut out, name, "Households decided by re-screening runs of this process.", "counter");
        self.rescreen_processed.render(name, "", &mut out);
        out
    }

    /// Open and idle connections, summed over the live pool instances of each name.
    fn render_pools(&self, out: &mut String) {
        // Per pool name: open, idle, maximum.
        let mut totals: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
        {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            pools.retain(|(_, instance)| instance.strong_count() > 0);
            for (name, instance) in pools.iter() {
                let Some(p) = instance.upgrade() else { continue };
                let open = p.acquired.load(Ordering::Relaxed).saturating_sub(p.released.load(Ordering::Relaxed));
                let busy = p.checked_out.load(Ordering::Relaxed).saturating_sub(p.checked_in.load(Ordering::Relaxed));
                let entry = totals.entry(name).or_default();
                entry[0] += open;
                entry[1] += open.saturating_sub(busy);
                entry[2] += u64::from(p.max_size);
            }
        }
        let parts = [
            ("sahulat_db_pool_connections", "Open connections of the pool."),
            ("sahulat_db_pool_idle_connections", "Open connections of the pool not checked out."),
            ("sahulat_db_pool_max_connections", "The pool's maximum size."),
        ];
        for (i, (name, help)) in parts.into_iter().enumerate() {
            header(out, name, help, "gauge");
            for (pool, values) in &totals {
                let _ = writeln!(out, "{name}{{pool=\"{}\"}} {}", escape_label_value(pool), values[i]);
            }
        }
    }
}

impl Family<Histogram> {
    /// A histogram family; `make` builds a series with the family's buckets.
    fn histogram(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        make: fn() -> Histogram,
    ) -> Self {
        Self { name, help, kind: "histogram", labels, series: RwLock::default(), make }
    }
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The whole registry in the Prometheus text format.
pub fn render() -> String {
    REGISTRY.render()
}

// ---------------------------------------------------------------------------------------
// What the rest of the service records

/// Records one answered request. `route` is the matched pattern (`None`: no route matched).
pub fn http_request(route: Option<&str>, method: &Method, status: u16, elapsed: Duration) {
    let method = method_label(method);
    let status = status.to_string();
    REGISTRY.requests.with(&[route.unwrap_or("unmatched"), method, &status]).observe(elapsed.as_secs_f64());
}

/// Methods from a closed set: anything else a client invents is counted as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: observes every request's latency under its route pattern.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let route = req.match_pattern();
    let method = req.method().clone();
    let started = Instant::now();
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    http_request(route.as_deref(), &method, status.as_u16(), started.elapsed());
    result
}

/// Counts one database error of `kind`.
pub fn db_error(kind: DbErrorKind) {
    REGISTRY.db_errors.with(&[kind.as_str()]).add(1);
}

/// The r2d2 event handler that keeps a pool's metrics under `pool="{name}"`: install it with
/// `Pool::builder().max_size(n).event_handler(metrics::pool_event_handler("replica", n))`.
/// Open and idle connections are counted from the pool's own events, so the registry never
/// keeps a pool (or its connections) alive.
pub fn pool_event_handler(name: &'static str, max_size: u32) -> Box<dyn HandleEvent> {
    let instance = Arc::new(PoolInstance { max_size, ..PoolInstance::default() });
    REGISTRY.pools.lock().unwrap_or_else(PoisonError::into_inner).push((name, Arc::downgrade(&instance)));
    Box::new(PoolEvents {
        instance,
        wait: REGISTRY.pool_wait.with(&[name]),
        timeouts: REGISTRY.pool_timeouts.with(&[name]),
    })
}

#[derive(Debug)]
struct PoolEvents {
    instance: Arc<PoolInstance>,
    wait: Arc<Histogram>,
    timeouts: Arc<Counter>,
}

impl HandleEvent for PoolEvents {
    fn handle_acquire(&self, _event: AcquireEvent) {
        self.instance.acquired.fetch_add(1, Ordering::Relaxed);
    }

    fn handle_release(&self, _event: ReleaseEvent) {
        self.instance.released.fetch_add(1, Ordering::Relaxed);
    }

    fn handle_checkout(&self, event: CheckoutEvent) {
        self.instance.checked_out.fetch_add(1, Ordering::Relaxed);
        self.wait.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: TimeoutEvent) {
        self.timeouts.add(1);
    }

    fn handle_checkin(&self, _event: CheckinEvent) {
        self.instance.checked_in.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a read replica is configured (`sahulat_replica_configured`).
pub fn set_replica_configured(configured: bool) {
    REGISTRY.replica_configured.set(if configured { 1.0 } else { 0.0 });
}

/// The replica's lag as last measured: seconds behind the primary and WAL bytes not yet
/// replayed (`sahulat_replica_lag_seconds`, `sahulat_replica_lag_bytes`).
pub fn set_replica_lag(seconds: f64, bytes: u64) {
    REGISTRY.replica_lag_seconds.set(seconds);
    REGISTRY.replica_lag_bytes.set(bytes as f64);
}

/// Whether reads may go to the replica now (`sahulat_replica_usable`).
pub fn set_replica_usable(usable: bool) {
    REGISTRY.replica_usable.set(if usable { 1.0 } else { 0.0 });
}

/// One read meant for the replica served by the primary (`sahulat_replica_fallbacks_total`).
/// `reason` must come from a small fixed set chosen in code (e.g. `unusable`, `lag`,
/// `checkout_timeout`, `error`), never from input.
pub fn replica_fallback(reason: &'static str) {
    REGISTRY.replica_fallbacks.with(&[reason]).add(1);
}

/// Counts `n` scheme evaluations (households × schemes in force).
pub fn rule_evaluations(n: u64) {
    REGISTRY.rule_evaluations.add(n);
}

/// The progress of a re-screening run of this process: `sahulat_rescreen_running` is 1 while
/// one is alive and back to 0 when it is dropped (finished or failed).
#[derive(Debug)]
pub struct RescreenProgress(());

impl RescreenProgress {
    /// A run over `in_scope` households, `done` of which were decided before (a resumed run).
    pub fn start(done: u64, in_scope: u64) -> Self {
        REGISTRY.rescreen_running.set(1.0);
        REGISTRY.rescreen_done.set(done as f64);
        REGISTRY.rescreen_in_scope.set(in_scope as f64);
        Self(())
    }

    /// `n` more households decided (a committed chunk).
    pub fn advance(&self, n: u64) {
        REGISTRY.rescreen_done.add(n as f64);
        REGISTRY.rescreen_processed.add(n);
    }
}

impl Drop for RescreenProgress {
    fn drop(&mut self) {
        REGISTRY.rescreen_running.set(0.0);
    }
}

// ---------------------------------------------------------------------------------------
// The metrics listener

/// Serves `GET /metrics` (and nothing else) on `listener`: one worker, its own server, so
/// neither the API's routes nor its middleware are reachable here. It ignores signals: the
/// application stops it after the API's server (`Application::run_until_stopped`), so the
/// metrics stay up while the API drains after SIGTERM.
pub fn serve(listener: TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(|| {
        App::new()
            .service(web::resource("/metrics").route(web::get().to(scrape)))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }))
    })
    .workers(1)
    .client_request_timeout(Duration::from_secs(5))
    .shutdown_timeout(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

async fn scrape() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a"b"#), r#"a\"b"#);
        assert_eq!(escape_label_value(r"a\b"), r"a\\b");
        assert_eq!(escape_label_value("a\nb"), r"a\nb");
        assert_eq!(escape_label_value("/api/v1/households/{id}"), "/api/v1/households/{id}");
        assert_eq!(escape_label_value("ضلع"), "ضلع");
        assert_eq!(label_pairs(&["a", "b"], &["x\"y".into(), "z".into()]), r#"a="x\"y",b="z""#);
        assert_eq!(escape_help("one\\two\nthree"), r"one\\two\nthree");
    }

    #[test]
    fn numbers_render_as_prometheus_reads_them() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(0.005), "0.005");
        assert_eq!(number(2.0), "2");
    }

    #[test]
    fn a_histogram_renders_cumulative_buckets_sum_and_count() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render("x_seconds", "route=\"/a\"", &mut out);
        assert_eq!(
            out,
            "x_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n\
             x_seconds_bucket{route=\"/a\",le=\"1\"} 3\n\
             x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n\
             x_seconds_sum{route=\"/a\"} 3.65\n\
             x_seconds_count{route=\"/a\"} 4\n"
        );
        let mut bare = String::new();
        Histogram::new(&[1.0]).render("y_seconds", "", &mut bare);
        assert!(bare.starts_with("y_seconds_bucket{le=\"1\"} 0\n"), "{bare}");
        assert!(bare.contains("y_seconds_sum 0\n"), "{bare}");
    }

    #[test]
    fn odd_methods_and_unmatched_routes_do_not_become_labels() {
        let odd = Method::from_bytes(b"SECRET-35202-1234567-1").expect("a token");
        http_request(None, &odd, 404, Duration::from_millis(1));
        let text = render();
        assert!(!text.contains("35202"), "{text}");
        assert!(text.contains(r#"route="unmatched",method="other",status="404""#), "{text}");
    }

    #[derive(Debug)]
    struct Nothing;

    impl diesel::r2d2::ManageConnection for Nothing {
        type Connection = ();
        type Error = std::io::Error;

        fn connect(&self) -> Result<(), std::io::Error> {
            Ok(())
        }

        fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> {
            Ok(())
        }

        fn has_broken(&self, _: &mut ()) -> bool {
            false
        }
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn pools_are_counted_from_their_events_while_they_live() {
        let pool = diesel::r2d2::Pool::builder()
            .max_size(3)
            .min_idle(Some(2))
            .connection_timeout(Duration::from_millis(50))
            .event_handler(pool_event_handler("unit_test", 3))
            .build(Nothing)
            .expect("pool");
        let held: Vec<_> = (0..3).map(|_| pool.get().expect("a connection")).collect();
        assert!(pool.get().is_err(), "the fourth checkout times out");
        let text = render();
        assert_eq!(
            line(&text, "sahulat_db_pool_connections{pool=\"unit_test\"}"),
            Some("sahulat_db_pool_connections{pool=\"unit_test\"} 3")
        );
        assert_eq!(
            line(&text, "sahulat_db_pool_idle_connections{pool=\"unit_test\"}"),
            Some("sahulat_db_pool_idle_connections{pool=\"unit_test\"} 0")
        );
        assert_eq!(
            line(&text, "sahulat_db_pool_max_connections{pool=\"unit_test\"}"),
            Some("sahulat_db_pool_max_connections{pool=\"unit_test\"} 3")
        );
        assert_eq!(
            line(&text, "sahulat_db_pool_timeouts_total{pool=\"unit_test\"}"),
            Some("sahulat_db_pool_timeouts_total{pool=\"unit_test\"} 1")
        );
        assert!(text.contains("sahulat_db_pool_checkout_wait_seconds_count{pool=\"unit_test\"} 3"), "{text}");
        drop(held);
        let text = render();
        assert_eq!(
            line(&text, "sahulat_db_pool_idle_connections{pool=\"unit_test\"}"),
            Some("sahulat_db_pool_idle_connections{pool=\"unit_test\"} 3")
        );
        drop(pool);
        let text = render();
        // A dropped pool is no longer counted; its counters stay (they never go down).
        assert_eq!(line(&text, "sahulat_db_pool_connections{pool=\"unit_test\"}"), None);
        assert!(text.contains("sahulat_db_pool_timeouts_total{pool=\"unit_test\"} 1"), "{text}");
    }
}
