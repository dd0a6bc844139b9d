//! Registry benchmarks (a bench binary, not a timed test): figures for the issue notes.
//!
//! ```sh
//! cargo bench --bench registry -- registration [--households 3000] [--clients 50]
//! cargo bench --bench registry -- search [--households 1000000] [--lookups 5000] [--clients 8]
//! ```
//!
//! SQLite by default (a temporary file); PostgreSQL when `BENCH_DATABASE_URL` names a
//! maintenance database (`postgres://postgres@127.0.0.1:5432/postgres`), in a fresh
//! database that is dropped afterwards. The service runs in this process on a random
//! loopback port with its production settings; clients share the machine's cores.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sahulat::audit::{AuditContext, AuditKey};
use sahulat::auth::Role;
use sahulat::auth::password::hash_password;
use sahulat::auth::service::{CreateUser, create_user};
use sahulat::auth::users::Assignments;
use sahulat::config::Settings;
use sahulat::db::{self, DatabaseUrl};
use sahulat::registry::demo::{DISTRICTS, Generator};
use sahulat::registry::import::{ImportContext, import_values};
use sahulat::registry::repo::Scope;
use sahulat::registry::warnings::today_in_pakistan;
use sahulat::startup::Application;
use serde_json::Value;

const PASSWORD: &str = "benchmark password 1";

struct Db {
    url: String,
    drop: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    fn new() -> Self {
        match std::env::var("BENCH_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            Some(maintenance) => {
                let name = format!("sahulat_bench_{}", std::process::id());
                // On a Citus coordinator the database spans the cluster, with
                // `BENCH_SHARD_COUNT` shards per table (default 32, Citus's own).
                let shards = std::env::var("BENCH_SHARD_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
                let _ = db::citus::drop_database(&maintenance, &name);
                let url =
                    db::citus::create_database(&maintenance, &name, shards).unwrap_or_else(|e| panic!("create: {e}"));
                Self { url, drop: Some((maintenance, name)), _dir: None }
            }
            None => {
                let dir = tempfile::TempDir::new().unwrap_or_else(|e| panic!("tempdir: {e}"));
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Self { url, drop: None, _dir: Some(dir) }
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((maintenance, name)) = &self.drop {
            let _ = db::citus::drop_database(maintenance, name);
        }
    }
}

fn settings(db: &Db, rules: &std::path::Path) -> Settings {
    let source = [
        ("DATABASE_URL", db.url.clone()),
        ("SAHULAT_BIND", "127.0.0.1:0".to_string()),
        ("SAHULAT_METRICS_BIND", "off".to_string()),
        ("SAHULAT_RULES_DIR", rules.display().to_string()),
        ("SAHULAT_JWT_SECRET", "bench-jwt-secret-0123456789abcdef0123456789".to_string()),
        ("SAHULAT_AUDIT_KEY", "bench-audit-key-0123456789abcdef0123456789".to_string()),
        ("SAHULAT_LOG", "error".to_string()),
        ("SAHULAT_DB_POOL_SIZE", std::env::var("BENCH_POOL_SIZE").unwrap_or_else(|_| "16".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Settings::from_source(&source).unwrap_or_else(|e| panic!("settings: {e}"))
}

fn arg(args: &HashMap<String, String>, name: &str, default: u64) -> u64 {
    args.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration, errors: usize) {
    latencies.sort();
    println!(
        "{name}: {} requests in {:.2} s = {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}; errors {errors}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
}

/// Runs `work(i)` for i in 0..n with `clients` concurrent callers; returns latencies.
async fn drive<F, Fut>(n: usize, clients: usize, work: F) -> (Vec<Duration>, usize, Duration)
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool>,
{
    let next = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, work) = (next.clone(), work.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            loop {
                let i = next.get();
                if i >= n {
                    break;
                }
                next.set(i + 1);
                let t = Instant::now();
                if !work(i).await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((l, e)) = task.await {
            all.extend(l);
            errors += e;
        }
    }
    (all, errors, started.elapsed())
}

async fn login(client: &awc::Client, base: &str) -> String {
    let mut resp = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "bench-clerk", "password": PASSWORD}))
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    let body: Value = resp.json().await.unwrap_or_else(|e| panic!("login body: {e}"));
    body["access_token"].as_str().unwrap_or_default().to_string()
}

fn make_clerk(url: &DatabaseUrl, key: &AuditKey) {
    let mut conn = db::connect(url).unwrap_or_else(|e| panic!("connect: {e}"));
    let hash = hash_password(PASSWORD).unwrap_or_default();
    let districts = DISTRICTS.iter().map(|(c, _)| c.to_string()).collect();
    let request = CreateUser {
        username: "bench-clerk",
        role: Role::Clerk,
        password: PASSWORD,
        password_hash: &hash,
        assignments: Assignments { districts, schemes: Vec::new() },
    };
    db::write_tx(&mut conn, |c| create_user(c, key, &AuditContext::cli(), request))
        .unwrap_or_else(|e| panic!("clerk: {e}"));
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let scenario = argv.first().cloned().unwrap_or_else(|| "registration".into());
    let args: HashMap<String, String> = argv
        .windows(2)
        .filter(|w| w[0].starts_with("--"))
        .map(|w| (w[0].trim_start_matches("--").to_string(), w[1].clone()))
        .collect();
    let db = Db::new();
    // The real catalogue: registration also decides every scheme, and screening needs it.
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let settings = settings(&db, &rules);
    let backend = settings.database_url.backend();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings).unwrap_or_else(|e| panic!("build: {e}"));
        let base = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.into_server());
        let key = AuditKey::new(&settings.audit_key);
        make_clerk(&settings.database_url, &key);
        let client = awc::Client::builder().timeout(Duration::from_secs(60)).finish();
        let token = login(&client, &base).await;
        match scenario.as_str() {
            "registration" => registration(&client, &base, &token, &args, backend).await,
            "search" => search(&client, &base, &token, &settings, &key, &args, backend).await,
            "screening" => screening(&client, &base, &token, &settings, &key, &args, backend).await,
            other => eprintln!("unknown scenario {other:?}: registration | search | screening"),
        }
    });
}

async fn registration(client: &awc::Client, base: &str, token: &str, args: &HashMap<String, String>, backend: &str) {
    let n = arg(args, "households", 3000) as usize;
    let clients = arg(args, "clients", 50) as usize;
    let districts: Vec<String> = DISTRICTS.iter().map(|(c, _)| c.to_string()).collect();
    let mut generator = Generator::new(arg(args, "seed", 11), today_in_pakistan(), &districts);
    let bodies: std::rc::Rc<Vec<Value>> = std::rc::Rc::new((0..n).map(|_| generator.household()).collect());
    let members: usize = bodies.iter().map(|b| b["members"].as_array().map_or(0, Vec::len)).sum();
    let (client, url, auth) = (client.clone(), format!("{base}/api/v1/households"), format!("Bearer {token}"));
    let (latencies, errors, elapsed) = drive(n, clients, move |i| {
        let (client, url, auth, bodies) = (client.clone(), url.clone(), auth.clone(), bodies.clone());
        async move {
            match client.post(&url).insert_header(("authorization", auth)).send_json(&bodies[i]).await {
                Ok(mut resp) => {
                    let ok = resp.status().as_u16() == 201;
                    let _ = resp.body().await;
                    ok
                }
                Err(_) => false,
            }
        }
    })
    .await;
    println!(
        "backend {backend}; {n} households, {members} members ({:.1} per household), {clients} clients",
        members as f64 / n as f64
    );
    report("POST /api/v1/households", latencies, elapsed, errors);
}

/// Loads `n` demo households through the import path; `each` sees every one (with its index)
/// before it is stored. Returns the connection and how many were stored.
fn load_registry(
    settings: &Settings,
    key: &AuditKey,
    n: u64,
    seed: u64,
    mut each: impl FnMut(u64, &Value),
) -> (db::DbConnection, u64) {
    let districts: Vec<String> = DISTRICTS.iter().map(|(c, _)| c.to_string()).collect();
    let mut generator = Generator::new(seed, today_in_pakistan(), &districts);
    let mut conn = db::connect(&settings.database_url).unwrap_or_else(|e| panic!("connect: {e}"));
    let ctx = AuditContext::cli();
    let ic = ImportContext { key, ctx: &ctx, scope: &Scope::All, batch: sahulat::registry::import::CLI_BATCH };
    let values = (0..n).map(|i| {
        let h = generator.household();
        each(i, &h);
        h
    });
    let summary = import_values(&mut conn, &ic, values, |_| {}).unwrap_or_else(|e| panic!("load: {e}"));
    (conn, summary.accepted as u64)
}

/// Stored screenings: `POST /households/{id}/screenings` over a loaded registry.
async fn screening(
    client: &awc::Client,
    base: &str,
    token: &str,
    settings: &Settings,
    key: &AuditKey,
    args: &HashMap<String, String>,
    backend: &str,
) {
    use diesel::prelude::*;
    let n = arg(args, "households", 2000);
    let requests = arg(args, "requests", 3000) as usize;
    let clients = arg(args, "clients", 50) as usize;
    let (mut conn, accepted) = load_registry(settings, key, n, arg(args, "seed", 31), |_, _| {});
    let ids: Vec<String> = sahulat::db::schema::households::table
        .select(sahulat::db::schema::households::id)
        .load(&mut conn)
        .unwrap_or_else(|e| panic!("ids: {e}"));
    println!("backend {backend}; loaded {accepted} households");
    let ids = std::rc::Rc::new(ids);
    let (client, base, auth) = (client.clone(), base.to_string(), format!("Bearer {token}"));
    let (latencies, errors, elapsed) = drive(requests, clients, move |i| {
        let url = format!("{base}/api/v1/households/{}/screenings", ids[i % ids.len()]);
        let (client, auth) = (client.clone(), auth.clone());
        async move {
            match client.post(&url).insert_header(("authorization", auth)).send().await {
                Ok(resp) => resp.status().as_u16() == 201,
                Err(_) => false,
            }
        }
    })
    .await;
    report("POST /api/v1/households/{id}/screenings", latencies, elapsed, errors);
}

async fn search(
    client: &awc::Client,
    base: &str,
    token: &str,
    settings: &Settings,
    key: &AuditKey,
    args: &HashMap<String, String>,
    backend: &str,
) {
    let n = arg(args, "households", 100_000);
    let lookups = arg(args, "lookups", 5000) as usize;
    let clients = arg(args, "clients", 8) as usize;
    let started = Instant::now();
    let mut ids = Vec::new();
    let (_, accepted) = load_registry(settings, key, n, arg(args, "seed", 21), |i, h| {
        if i % (n / lookups as u64).max(1) == 0
            && let Some(id) = h["members"][0]["id_number"].as_str()
        {
            ids.push(id.to_string());
        }
    });
    println!(
        "backend {backend}; loaded {accepted} households in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        accepted as f64 / started.elapsed().as_secs_f64()
    );
    let ids = std::rc::Rc::new(ids);
    let count = lookups.min(ids.len());
    let (client, base, auth) = (client.clone(), base.to_string(), format!("Bearer {token}"));
    let (latencies, errors, elapsed) = drive(count, clients, move |i| {
        let (client, url, auth) =
            (client.clone(), format!("{base}/api/v1/households?id_number={}", ids[i]), auth.clone());
        async move {
            match client.get(&url).insert_header(("authorization", auth)).send().await {
                Ok(mut resp) => {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    resp.status().as_u16() == 200 && body["items"].as_array().is_some_and(|a| a.len() == 1)
                }
                Err(_) => false,
            }
        }
    })
    .await;
    report("GET /api/v1/households?id_number=", latencies, elapsed, errors);
}
