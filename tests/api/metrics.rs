//! The Prometheus metrics (issue 13, item 3): served on their own address only, request
//! latency under the route pattern, and never an ID number, a name, a household number or a
//! token. The registry is process-wide, so what other tests ran is in it too; every check
//! here holds whatever else ran.

use awc::http::StatusCode;
use sahulat::auth::Role;
use sahulat::config::Settings;
use sahulat::startup::Application;

use crate::helpers::{PASSWORD, TestApp, TestDb, poor_swat_household, rules_copy, test_source};

/// An app with its metrics listener on a free loopback port; returns it and that port.
fn spawn_with_metrics() -> (TestApp, u16) {
    let db = TestDb::new();
    let rules = rules_copy();
    let mut source = test_source(db.url(), rules.path());
    source.insert("SAHULAT_METRICS_BIND".into(), "127.0.0.1:0".into());
    let settings = Settings::from_source(&source).expect("settings");
    let app = Application::build(&settings).expect("build application");
    let metrics_port = app.metrics_port().expect("the metrics listener is on");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    actix_web::rt::spawn(app.into_server());
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).disable_redirects().finish();
    (TestApp { address, client, state, db, settings, rules }, metrics_port)
}

async fn get(app: &TestApp, url: &str) -> (StatusCode, Option<String>, String) {
    let mut response = app.client.get(url).send().await.expect("request");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = response.body().limit(16 * 1024 * 1024).await.expect("body");
    (response.status(), content_type, String::from_utf8(body.to_vec()).expect("utf-8"))
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[actix_web::test]
async fn metrics_have_route_patterns_and_never_personal_data_or_tokens() {
    let (app, port) = spawn_with_metrics();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    app.create_user("metrics-clerk", Role::Clerk, &["swat"], &[]).await;
    let login = app.login("metrics-clerk", PASSWORD).await;
    let token = login.body["access_token"].as_str().expect("token").to_string();
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let number = created.body["household_number"].as_str().expect("number").to_string();

    let (_, _, before) = get(&app, &metrics).await;
    let route =
        r#"sahulat_http_request_duration_seconds_count{route="/api/v1/households/{id}",method="GET",status="200"}"#;
    let reads_before = sample(&before, route).unwrap_or(0.0);
    for _ in 0..3 {
        let read = app.call("GET", &format!("/api/v1/households/{id}"), Some(&token), None).await;
        assert_eq!(read.status, StatusCode::OK);
    }
    for query in
        ["id_number=15602-1234567-2", "id_number=1560212345672", "name=Gul", &format!("household_number={number}")]
    {
        let found = app.call("GET", &format!("/api/v1/households?{query}"), Some(&token), None).await;
        assert_eq!(found.status, StatusCode::OK, "{query}");
    }
    // A path that matches no route, holding an ID number.
    let unmatched = app.call("GET", "/api/v1/nowhere/15602-1234567-2", Some(&token), None).await;
    assert_eq!(unmatched.status, StatusCode::NOT_FOUND);

    let (status, content_type, text) = get(&app, &metrics).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    // The three reads are counted under the pattern (other tests may add to it, never take away).
    let reads = sample(&text, route).expect("the households/{id} series");
    assert!(reads >= reads_before + 3.0, "{reads} after {reads_before}");
    assert!(text.contains(r#"le="+Inf""#), "{text}");
    assert!(
        sample(&text, r#"sahulat_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"}"#)
            .is_some()
    );
    for family in [
        "sahulat_build_info{version=",
        r#"sahulat_db_pool_connections{pool="primary"}"#,
        r#"sahulat_db_pool_checkout_wait_seconds_count{pool="primary"}"#,
        r#"sahulat_db_pool_timeouts_total{pool="primary"}"#,
        r#"sahulat_db_errors_total{kind="unavailable"} "#,
        "sahulat_replica_usable ",
        "sahulat_replica_lag_seconds ",
        "# TYPE sahulat_replica_fallbacks_total counter",
        "sahulat_rescreen_households_done ",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    // Registering and reading a household screens it.
    assert!(sample(&text, "sahulat_rule_evaluations_total").is_some_and(|n| n > 0.0), "{text}");

    // Nothing a client sent or the registry holds about a person.
    for secret in [
        "15602-1234567-2",
        "1560212345672",
        "15602-7654321-1",
        "زرینہ",
        "Gul",
        "Mina",
        "metrics-clerk",
        &id,
        &number,
        &token,
        &token[..20],
        PASSWORD,
        "nowhere",
    ] {
        assert!(!text.contains(secret), "the metrics hold {secret:?}");
    }
}

#[actix_web::test]
async fn only_get_metrics_is_served_and_only_on_its_own_address() {
    let (app, port) = spawn_with_metrics();
    let base = format!("http://127.0.0.1:{port}");
    let (status, _, _) = get(&app, &format!("{base}/api/v1/households")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&app, &format!("{base}/healthz")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let post = app.client.post(format!("{base}/metrics")).send().await.expect("post");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    // The API's address does not serve them.
    let on_api = app.call("GET", "/metrics", None, None).await;
    assert_ne!(on_api.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&on_api.raw).contains("sahulat_build_info"));
}

#[actix_web::test]
async fn a_metrics_address_in_use_stops_the_start_with_its_setting_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = taken.local_addr().expect("addr").port();
    let db = TestDb::new();
    let rules = rules_copy();
    let mut source = test_source(db.url(), rules.path());
    source.insert("SAHULAT_METRICS_BIND".into(), format!("127.0.0.1:{port}"));
    let settings = Settings::from_source(&source).expect("settings");
    let error = Application::build(&settings).err().expect("refused");
    assert!(format!("{error:#}").contains("SAHULAT_METRICS_BIND"), "{error:#}");
}
