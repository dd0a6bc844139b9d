//! The streaming replica (`DATABASE_REPLICA_URL`): read-only work is served by it, a clerk's
//! own write is read back at once, a replica URL that reaches a primary never takes a write,
//! a replica that does not answer (at start or mid-way) costs no read, and lag beyond a kind
//! of read's threshold (replay paused) moves that kind to the primary and back.
//!
//! Run with `TEST_DATABASE_URL` (the primary's maintenance database) and `TEST_REPLICA_URL`
//! (the same cluster's streaming replica, e.g. `.ci/replica.sh start`); each test's database
//! is replicated with the cluster, so the test's replica URL is the same database name on the
//! replica. Without them each test prints a notice and passes; the unreachable-replica test
//! needs only `TEST_DATABASE_URL`. `.ci/replica-tests.sh` runs them all.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use sahulat::auth::Role;
use sahulat::config::Settings;
use serde_json::{Value, json};

use crate::helpers::*;

/// One replica test at a time: pausing replay pauses it for every database of the cluster.
static REPLICA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn urls() -> Option<(String, String)> {
    let primary = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"));
    let replica = std::env::var("TEST_REPLICA_URL").ok().filter(|u| u.starts_with("postgres"));
    match (primary, replica) {
        (Some(p), Some(r)) => Some((p, r)),
        _ => {
            println!("skipped: set TEST_DATABASE_URL and TEST_REPLICA_URL (see .ci/replica-tests.sh)");
            None
        }
    }
}

/// `url` with its database name replaced by `name` (the query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("URL has a database name");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// An app on a fresh test database whose replica URL is `replica(name)`.
fn spawn_with_replica(replica: impl Fn(&str) -> String, overrides: &[(&str, &str)]) -> TestApp {
    let db = TestDb::new();
    let TestDb::Postgres { name, .. } = &db else { panic!("TEST_DATABASE_URL must be PostgreSQL") };
    let rules = rules_copy();
    let mut source = test_source(db.url(), rules.path());
    source.insert("DATABASE_REPLICA_URL".into(), replica(name));
    source.extend(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings = Settings::from_source(&source).expect("settings");
    spawn_with(db, rules, settings)
}

async fn clerk(app: &TestApp, name: &str) -> String {
    app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    let reply = app.login(name, PASSWORD).await;
    reply.body["access_token"].as_str().expect("token").to_string()
}

fn household(head_id: &str) -> Value {
    json!({
        "district": "swat", "pmt_score": 20, "monthly_income_pkr": 12000,
        "members": [{"full_name": "Gul Khan", "relation_to_head": "head", "sex": "male",
            "date_of_birth": "1975-03-01", "id_type": "cnic", "id_number": head_id}]
    })
}

async fn readyz(app: &TestApp) -> Value {
    let reply = app.call("GET", "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "a replica's state never makes the instance unready: {:?}", reply.body);
    reply.body["replica"].clone()
}

/// Polls `/readyz` until `pred` holds on the replica's report (at most `secs`).
async fn wait_for(app: &TestApp, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let replica = readyz(app).await;
        if pred(&replica) {
            return replica;
        }
        assert!(Instant::now() < deadline, "waited {secs} s for {what}; the replica: {replica}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Repeats a read until the replica serves it (the monitor sees the caught-up replica within
/// a second or two); returns that reply. Without a read-your-writes token a record written a
/// moment ago may not be on the replica yet: a 404 from the replica is "not yet".
async fn until_served_by_replica(app: &TestApp, path: &str, token: &str) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.call("GET", path, Some(token), None).await;
        let by = reply.header("x-sahulat-read");
        let not_yet = reply.status == StatusCode::NOT_FOUND && by.as_deref() == Some("replica");
        assert!(reply.status == StatusCode::OK || not_yet, "{path}: {:?}", reply.body);
        if reply.status == StatusCode::OK && by.as_deref() == Some("replica") {
            return reply;
        }
        assert!(Instant::now() < deadline, "{path} was never served by the replica: {:?}", readyz(app).await);
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

fn fallbacks(replica: &Value, reason: &str) -> u64 {
    replica["fallbacks"][reason].as_u64().unwrap_or(0)
}

#[actix_web::test]
async fn read_only_work_is_served_by_the_replica_and_a_clerks_own_write_is_read_at_once() {
    let Some((_, replica_url)) = urls() else { return };
    let _one = REPLICA.lock().await;
    let app = spawn_with_replica(|name| with_database(&replica_url, name), &[]);
    wait_for(&app, 15, "a streaming replica", |r| r["state"] == "streaming" && r["usable"] == true).await;
    let amina = clerk(&app, "amina").await;

    // The write answers with a read-your-writes token (header and cookie).
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-1"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let token = created.header("x-sahulat-written").expect("a read-your-writes token");
    let cookie = created.header("set-cookie").expect("the token as a cookie");
    assert!(cookie.starts_with(&format!("sahulat_written={token};")) && cookie.contains("HttpOnly"), "{cookie}");
    let path = created.header("location").expect("location");
    let id = created.body["id"].as_str().expect("id").to_string();

    // Her next reads see the write at once, whichever instance they reach: the token sends
    // them to the primary until the replica has replayed it.
    for (name, value) in [("x-sahulat-written", token.clone()), ("cookie", format!("sahulat_written={token}"))] {
        let read = app.call_with("GET", &path, Some(&amina), None, &[(name, value.as_str())]).await;
        assert_eq!(read.status, StatusCode::OK, "{name}: {:?}", read.body);
        assert_eq!(read.body["id"], id.as_str());
        assert!(read.header("x-sahulat-read").is_some(), "a routed read says who served it");
    }
    // A change, then the household read back with the new token: the change is there.
    let patch = json!({"monthly_income_pkr": 9000});
    let changed = app
        .call_with("PATCH", &path, Some(&amina), Some(&patch), &[("if-match", "\"v1\""), ("x-sahulat-written", &token)])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let newer = changed.header("x-sahulat-written").expect("a new token");
    let read = app.call_with("GET", &path, Some(&amina), None, &[("x-sahulat-written", &newer)]).await;
    assert_eq!((read.body["version"].as_i64(), read.body["monthly_income_pkr"].as_i64()), (Some(2), Some(9000)));
    // A forged token is ignored, never an error (it could only have sent her to the primary):
    // the read is routed as a token-less one, which the replica may answer before it has the
    // household (404) or with it.
    let forged =
        app.call_with("GET", &path, Some(&amina), None, &[("x-sahulat-written", "ffffffff.99999999999.00")]).await;
    let by = forged.header("x-sahulat-read");
    assert!(
        forged.status == StatusCode::OK || (forged.status == StatusCode::NOT_FOUND && by.as_deref() == Some("replica")),
        "{:?} from {by:?}",
        forged.body
    );

    // Once replayed, the replica serves her search and the household read, with the change.
    let search = until_served_by_replica(&app, "/api/v1/households?district=swat", &amina).await;
    assert_eq!(search.body["items"][0]["id"], id.as_str(), "{:?}", search.body);
    let replica_read = until_served_by_replica(&app, &path, &amina).await;
    assert_eq!(replica_read.body["version"], 2);
    // The audit log, the referral log, a report and the scheme lookup are read-only work too.
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    let events = until_served_by_replica(&app, "/api/v1/audit/events?action=household_create", &auditor).await;
    assert_eq!(events.body["items"].as_array().map(Vec::len), Some(1), "{:?}", events.body);
    until_served_by_replica(&app, "/api/v1/referrals", &auditor).await;
    until_served_by_replica(&app, "/api/v1/reports/coverage", &auditor).await;
    let admin = app.token_for("bilal", Role::SchemeAdmin).await;
    until_served_by_replica(&app, "/api/v1/schemes/bisp-kafaalat/households", &admin).await;
    // A rule change's impact: computed on the primary, then one household's trace is read on
    // the replica (and audited on the primary).
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/bisp-kafaalat.yaml")).expect("rules");
    let changed = text.replacen("      2020-01-01: 32\n", "      2020-01-01: 32\n      2026-12-01: 35\n", 1);
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    let change =
        json!({"summary": "PMT cut-off 35", "effective_from": today, "files": {"bisp-kafaalat.yaml": changed}});
    let proposed = app.call("POST", "/api/v1/rule-proposals", Some(&admin), Some(&change)).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{:?}", proposed.body);
    let proposal = proposed.body["id"].as_str().expect("proposal id");
    let report = app.call("POST", &format!("/api/v1/rule-proposals/{proposal}/impact"), Some(&admin), None).await;
    assert_eq!(report.status, StatusCode::CREATED, "{:?}", report.body);
    let number = created.body["household_number"].as_str().expect("household number");
    let trace =
        format!("/api/v1/impact-reports/{}/households/{number}", report.body["id"].as_str().expect("report id"));
    let traced = until_served_by_replica(&app, &trace, &admin).await;
    assert_eq!(traced.body["schemes"][0]["scheme"], "bisp-kafaalat", "{:?}", traced.body);
    // Its audit event was written on the primary: the auditor's log shows it once replayed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let traces = app.call("GET", "/api/v1/audit/events?action=rule_impact_trace", Some(&auditor), None).await;
        if traces.body["items"].as_array().map_or(0, Vec::len) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the trace was never audited: {:?}", traces.body);
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    // Reads served by the replica are still audited (on the primary).
    let reads = app.call("GET", "/api/v1/audit/events?action=household_read", Some(&auditor), None).await;
    assert!(reads.body["items"].as_array().map_or(0, Vec::len) >= 3, "{:?}", reads.body);
    let report = readyz(&app).await;
    assert!(report["served_by_replica"].as_u64().unwrap_or(0) >= 6, "{report}");
    assert!(fallbacks(&report, "read_after_write") >= 1, "{report}");
}

#[actix_web::test]
async fn a_replica_url_that_reaches_the_primary_never_takes_a_write() {
    let Some(_) = urls() else { return };
    let _one = REPLICA.lock().await;
    // The "replica" is the test's own primary database.
    let primary_url = std::env::var("TEST_DATABASE_URL").expect("set");
    let app = spawn_with_replica(|name| with_database(&primary_url, name), &[]);
    let replica = wait_for(&app, 15, "the monitor's verdict", |r| r["state"] != "unchecked").await;
    assert_eq!((replica["state"].as_str(), replica["usable"].as_bool()), (Some("not_standby"), Some(false)));

    // Its pool's connections are read-only: a write is refused by PostgreSQL itself.
    let pool = app.state.replica.as_ref().expect("configured").pool().clone();
    let refused = actix_web::web::block(move || {
        let mut conn = pool.get().expect("a connection to the primary through the replica pool");
        let insert = conn.batch_execute("INSERT INTO districts (code, name) VALUES ('nowhere', 'Nowhere')");
        let create = conn.batch_execute("CREATE TABLE replica_write_probe (id int)");
        (insert.map_err(|e| e.to_string()), create.map_err(|e| e.to_string()))
    })
    .await
    .expect("blocking");
    for result in [refused.0, refused.1] {
        assert!(result.as_ref().is_err_and(|e| e.contains("read-only transaction")), "{result:?}");
    }
    // The service reads and writes on the primary as without a replica.
    let amina = clerk(&app, "amina").await;
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-1"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&amina), None).await;
    assert_eq!(search.header("x-sahulat-read").as_deref(), Some("primary"));
    assert_eq!(search.body["items"].as_array().map(Vec::len), Some(1));
    let mut check = diesel::PgConnection::establish(app.db.url()).expect("primary");
    let districts: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM districts WHERE code = 'nowhere')",
    ))
    .get_result(&mut check)
    .expect("count");
    assert_eq!(districts, 0);
}

#[actix_web::test]
async fn an_unreachable_replica_is_a_warning_and_every_read_falls_back() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        println!("skipped: set TEST_DATABASE_URL to a PostgreSQL maintenance database");
        return;
    }
    // A closed port: nothing listens on 127.0.0.1:1.
    let closed = "postgres://postgres@127.0.0.1:1/x".to_string();
    let app = spawn_with_replica(|_| closed.clone(), &[]);
    let amina = clerk(&app, "amina").await;
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-1"))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let path = created.header("location").expect("location");
    let started = Instant::now();
    for _ in 0..20 {
        for read in [path.as_str(), "/api/v1/households?district=swat"] {
            let reply = app.call("GET", read, Some(&amina), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{read}: {:?}", reply.body);
            assert_eq!(reply.header("x-sahulat-read").as_deref(), Some("primary"));
        }
    }
    println!("40 reads with an unreachable replica in {:?}", started.elapsed());
    let replica = readyz(&app).await;
    assert_eq!(replica["state"], "unreachable", "{replica}");
    assert_eq!(replica["served_by_replica"], 0);
    assert!(fallbacks(&replica, "unreachable") + fallbacks(&replica, "unchecked") >= 40, "{replica}");
}

/// A TCP relay to the replica that can be cut: every connection closed, new ones refused.
struct Relay {
    port: u16,
    alive: Arc<AtomicBool>,
}

impl Relay {
    fn to(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let alive = Arc::new(AtomicBool::new(true));
        let (target, flag) = (target.to_string(), alive.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !flag.load(Ordering::Acquire) {
                    continue; // dropped: refused
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                for (mut from, mut to) in
                    [(client.try_clone().expect("clone"), server.try_clone().expect("clone")), (server, client)]
                {
                    let flag = flag.clone();
                    from.set_read_timeout(Some(Duration::from_millis(100))).ok();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while flag.load(Ordering::Acquire) {
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { port, alive }
    }
}

#[actix_web::test]
async fn a_replica_that_dies_mid_way_costs_no_read_and_is_used_again_when_back() {
    let Some((_, replica_url)) = urls() else { return };
    let _one = REPLICA.lock().await;
    let authority = replica_url.split_once('@').map(|(_, rest)| rest).expect("user@host:port");
    let target = authority.split_once('/').map_or(authority, |(hp, _)| hp).to_string();
    let relay = Relay::to(&target);
    let through_relay = replica_url.replacen(&target, &format!("127.0.0.1:{}", relay.port), 1);
    let app = spawn_with_replica(|name| with_database(&through_relay, name), &[]);
    wait_for(&app, 15, "a streaming replica", |r| r["state"] == "streaming" && r["usable"] == true).await;
    let amina = clerk(&app, "amina").await;
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-1"))).await;
    let path = created.header("location").expect("location");
    until_served_by_replica(&app, &path, &amina).await;

    // Cut it: open connections die, new ones are refused.
    relay.alive.store(false, Ordering::Release);
    let mut primary = 0;
    for _ in 0..30 {
        let reply = app.call("GET", &path, Some(&amina), None).await;
        assert_eq!(reply.status, StatusCode::OK, "a read failed while the replica died: {:?}", reply.body);
        primary += usize::from(reply.header("x-sahulat-read").as_deref() == Some("primary"));
    }
    assert!(primary >= 29, "{primary} of 30 reads served by the primary");
    let replica = wait_for(&app, 5, "the monitor to see it gone", |r| r["state"] == "unreachable").await;
    assert!(fallbacks(&replica, "error") + fallbacks(&replica, "unreachable") >= 29, "{replica}");

    // Back: reads return to it.
    relay.alive.store(true, Ordering::Release);
    until_served_by_replica(&app, &path, &amina).await;
}

/// Resumes replay when the test ends, whatever happened.
struct ResumeReplay(String);

impl Drop for ResumeReplay {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.0) {
            let _ = conn.batch_execute("SELECT pg_wal_replay_resume()");
        }
    }
}

#[actix_web::test]
async fn paused_replay_moves_reads_to_the_primary_and_they_return_when_it_resumes() {
    let Some((_, replica_url)) = urls() else { return };
    let _one = REPLICA.lock().await;
    let app = spawn_with_replica(|name| with_database(&replica_url, name), &[]);
    wait_for(&app, 15, "a streaming replica", |r| r["state"] == "streaming" && r["usable"] == true).await;
    let amina = clerk(&app, "amina").await;
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-1"))).await;
    let path = created.header("location").expect("location");
    until_served_by_replica(&app, &path, &amina).await;

    let resume = ResumeReplay(replica_url.clone());
    diesel::PgConnection::establish(&replica_url)
        .expect("replica")
        .batch_execute("SELECT pg_wal_replay_pause()")
        .expect("pause replay");
    // A write on the primary that the replica will not replay.
    let second = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-1234567-3"))).await;
    assert_eq!(second.status, StatusCode::CREATED);
    let lagging = wait_for(&app, 10, "paused replay with WAL waiting", |r| {
        r["replay_paused"] == true && r["lag_bytes"].as_u64().is_some_and(|b| b > 0)
    })
    .await;
    assert_eq!(lagging["usable"], false, "{lagging}");
    let before = fallbacks(&lagging, "lag");
    // Reads (without a token) go to the primary, with no error, and see the second household.
    for _ in 0..10 {
        let search = app.call("GET", "/api/v1/households?district=swat", Some(&amina), None).await;
        assert_eq!(search.status, StatusCode::OK);
        assert_eq!(search.header("x-sahulat-read").as_deref(), Some("primary"));
        assert_eq!(search.body["items"].as_array().map(Vec::len), Some(2), "{:?}", search.body);
    }
    let after = readyz(&app).await;
    assert!(fallbacks(&after, "lag") >= before + 10, "{after}");
    assert!(after["lag_seconds"].as_f64().is_some_and(|s| s > 0.0), "lag is reported in seconds too: {after}");

    drop(resume);
    let search = until_served_by_replica(&app, "/api/v1/households?district=swat", &amina).await;
    assert_eq!(search.body["items"].as_array().map(Vec::len), Some(2));
    wait_for(&app, 10, "caught up", |r| r["lag_bytes"] == 0 && r["usable"] == true).await;
}

#[actix_web::test]
async fn an_impact_report_reads_the_registry_on_the_replica_and_says_so() {
    let Some((_, replica_url)) = urls() else { return };
    let _one = REPLICA.lock().await;
    let app = spawn_with_replica(|name| with_database(&replica_url, name), &[]);
    wait_for(&app, 15, "a streaming replica", |r| r["state"] == "streaming" && r["usable"] == true).await;
    let amina = clerk(&app, "amina").await;
    let created = app.call("POST", "/api/v1/households", Some(&amina), Some(&household("15602-7654321-1"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    // Once the replica serves the household, it holds what the report should count.
    until_served_by_replica(&app, &created.header("location").expect("location"), &amina).await;

    let admin = app.token_for("root", Role::Admin).await;
    let text = std::fs::read_to_string(app.rules.path().join("bisp-kafaalat.yaml")).expect("rule file");
    let changed = text.replacen("      2020-01-01: 32\n", "      2020-01-01: 32\n      2026-12-01: 35\n", 1);
    assert_ne!(text, changed);
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    let body = json!({"summary": "cut-off 35", "effective_from": today, "files": {"bisp-kafaalat.yaml": changed}});
    let proposed = app.call("POST", "/api/v1/rule-proposals", Some(&admin), Some(&body)).await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{:?}", proposed.body);
    let id = proposed.body["id"].as_str().expect("id");
    let report = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&admin), None).await;
    assert_eq!(report.status, StatusCode::CREATED, "{:?}", report.body);
    assert_eq!(report.body["read_from"], "replica", "{:?}", report.body);
    assert_eq!(report.body["registry_households"], 1, "{:?}", report.body);
    assert!(report.body["data_time"].as_str().is_some_and(|t| t <= report.body["computed_at"].as_str().unwrap_or("")));
}
