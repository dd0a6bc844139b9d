//! The platform around the endpoints: probes, documents, error shapes, the endpoint ×
//! policy matrix, start-up validation, database outages and log hygiene.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use sahulat::api::endpoints;
use sahulat::auth::extractor::Access;
use sahulat::auth::{Role, policy};
use sahulat::config::Settings;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::*;

#[actix_web::test]
async fn probes_answer_without_a_token_and_carry_a_request_id() {
    let app = spawn_app().await;
    let health = app.call("GET", "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(health.header("x-request-id").is_some_and(|id| id.len() >= 32));
    let ready = app.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let backend = if app.db.is_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(ready.body["database"], backend);
    let echoed = app.call_with("GET", "/healthz", None, None, &[("x-request-id", "office-7-req-42")]).await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("office-7-req-42"));
    let hostile = app.call_with("GET", "/healthz", None, None, &[("x-request-id", "a b\tc")]).await;
    assert_ne!(hostile.header("x-request-id").as_deref(), Some("a b\tc"));
}

#[actix_web::test]
async fn errors_are_problem_json_never_plain_text() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let cases = [
        ("GET", "/no/such/path", None, StatusCode::NOT_FOUND, "not_found"),
        ("DELETE", "/healthz", None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("TRACE", "/api/v1/households", None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("TRACE", "/api/v1/auth/login", None, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("GET", "/api/v1/users", None, StatusCode::UNAUTHORIZED, "unauthorized"),
        ("GET", "/api/v1/users?limit=abc", Some(admin.as_str()), StatusCode::BAD_REQUEST, "malformed_query"),
        ("GET", "/api/v1/users/nope", Some(admin.as_str()), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (method, path, token, status, code) in cases {
        let reply = app.call(method, path, token, None).await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(reply.header("content-type").as_deref(), Some("application/problem+json"), "{method} {path}");
        assert_eq!(reply.body["code"], code, "{method} {path}");
        assert_eq!(reply.body["status"], status.as_u16());
        assert_eq!(reply.body["request_id"].as_str(), reply.header("x-request-id").as_deref());
    }
}

#[actix_web::test]
async fn malformed_and_oversized_bodies_are_400_and_413() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/login");
    let mut resp = app
        .client
        .post(&url)
        .insert_header(("content-type", "application/json"))
        .send_body("{\"username\": \"35202-1234567-1\", \"password\": ")
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "malformed_json");

    let mut resp = app
        .client
        .post(&url)
        .insert_header(("content-type", "application/json"))
        .send_body("{\"username\": 35202123456712, \"password\": \"x\"}")
        .await
        .expect("sent");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(!body.to_string().contains("35202123456712"), "values are not echoed: {body}");

    let big = json!({"username": "x".repeat(10_000), "password": "y"});
    let reply = app.call("POST", "/api/v1/auth/login", None, Some(&big)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["code"], "payload_too_large");
}

#[actix_web::test]
async fn cors_is_closed_to_foreign_origins_and_bodies_reveal_no_internals() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let origin = [("origin", "https://evil.example")];
    let preflight = [("origin", "https://evil.example"), ("access-control-request-method", "POST")];
    let replies = [
        app.call_with("GET", "/api/v1/auth/me", Some(&admin), None, &origin).await,
        app.call_with("OPTIONS", "/api/v1/households", None, None, &preflight).await,
        app.call_with("POST", "/api/v1/auth/login", None, Some(&json!({"username": 1})), &origin).await,
        app.call_with("GET", "/api/v1/households?limit=abc", Some(&admin), None, &origin).await,
    ];
    for reply in &replies {
        // `call_with` already checked the security headers and that no CORS header is present.
        let text = String::from_utf8_lossy(&reply.raw).to_lowercase();
        for leak in ["sqlite", "postgres", "diesel", "panicked", "/src/", ".rs:", "select ", "actix"] {
            assert!(!text.contains(leak), "{leak:?} in a {} body: {text}", reply.status);
        }
    }
    assert!(replies[1].status.is_client_error(), "a preflight is not granted: {}", replies[1].status);
}

/// Substitutes path parameters with ids that do not exist.
fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{member_id}", "00000000-0000-0000-0000-000000000001")
        .replace("{code}", "no-such-district")
        .replace("{file:.*}", "index.html")
}

#[actix_web::test]
async fn every_route_answers_as_its_policy_entry_says_for_every_role() {
    let app = spawn_app().await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, app.token_for(&format!("user-{}", role.as_str().replace('_', "-")), role).await));
    }
    for endpoint in endpoints() {
        let path = concrete(endpoint.path);
        let method = endpoint.method.as_str();
        let body = (method != "GET").then(|| json!({}));
        let anonymous = app.call(method, &path, None, body.as_ref()).await;
        match endpoint.access {
            Access::Public => assert_ne!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path}"),
            Access::Requires(action) => {
                assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
                for (role, token) in &tokens {
                    let reply = app.call(method, &path, Some(token), body.as_ref()).await;
                    let allowed = policy::permits(*role, action);
                    assert_eq!(
                        reply.status == StatusCode::FORBIDDEN,
                        !allowed,
                        "{method} {path} as {role}: {}",
                        reply.status
                    );
                    assert!(!reply.status.is_server_error(), "{method} {path} as {role}: {:?}", reply.body);
                }
            }
        }
    }
}

#[actix_web::test]
async fn the_openapi_document_lists_exactly_the_endpoint_table() {
    let app = spawn_app().await;
    let doc = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().expect("version").starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    // The documentation viewer itself is the only route not described in the document.
    let registered: BTreeSet<String> = endpoints()
        .iter()
        .filter(|e| !e.path.starts_with("/api/docs"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert_eq!(documented, registered);
}

#[actix_web::test]
async fn the_docs_viewer_is_served_from_the_binary() {
    let app = spawn_app().await;
    let redirect = app.call("GET", "/api/docs", None, None).await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
    let index = app.call("GET", "/api/docs/", None, None).await;
    assert_eq!(index.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&index.raw);
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://cdn"), "no external assets");
    let config = app.call("GET", "/api/docs/swagger-initializer.js", None, None).await;
    assert_eq!(config.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&config.raw).contains("/api/openapi.json"));
}

#[actix_web::test]
async fn an_unreachable_database_is_a_fast_503_not_a_hang() {
    let rules = TempDir::new().expect("dir");
    let mut source = test_source("postgres://nobody@127.0.0.1:9/none?connect_timeout=2", rules.path());
    source.insert("SAHULAT_MIGRATE_ON_START".into(), "false".into());
    let settings = Settings::from_source(&source).expect("settings");
    let app = spawn_with(TestDb::new(), rules, settings);
    for path in ["/readyz", "/api/v1/auth/me"] {
        let started = Instant::now();
        let reply =
            if path == "/readyz" { app.call("GET", path, None, None).await } else { app.login("root", PASSWORD).await };
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "service_unavailable");
        assert!(reply.header("retry-after").is_some());
        assert!(started.elapsed() < Duration::from_millis(3_500), "{path} took {:?}", started.elapsed());
    }
}

#[test]
fn bad_settings_stop_the_process_with_one_sentence_naming_the_setting() {
    let rules = TempDir::new().expect("dir");
    let db = TestDb::new();
    let cases = [
        ("DATABASE_URL", "postgresql:typo"),
        ("SAHULAT_JWT_SECRET", "too-short"),
        ("SAHULAT_AUDIT_KEY", "too-short"),
        ("SAHULAT_RULES_DIR", "/definitely/not/here"),
        ("SAHULAT_BIND", "everywhere"),
    ];
    for (key, value) in cases {
        let mut env = test_source(db.url(), rules.path());
        env.insert(key.into(), value.into());
        let out = run_cli(&env, &["serve"], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}={value} must fail");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{key}: {stderr}");
    }
    let mut public = test_source(db.url(), rules.path());
    public.insert("SAHULAT_BIND".into(), "0.0.0.0:0".into());
    public.remove("SAHULAT_JWT_SECRET");
    let out = run_cli(&public, &["serve"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SAHULAT_JWT_SECRET is required"));
    assert!(!std::path::Path::new("postgresql:typo").exists());
}

#[test]
fn cli_creates_users_from_stdin_and_refuses_short_passwords() {
    let rules = TempDir::new().expect("dir");
    let db = TestDb::new();
    let env = test_source(db.url(), rules.path());
    let add = |name: &str, password: &str, extra: &[&str]| {
        let mut args = vec!["user", "add", "--username", name];
        args.extend_from_slice(extra);
        run_cli(&env, &args, &format!("{password}\n"))
    };
    let short = add("amina", "short", &["--role", "clerk", "--district", "peshawar"]);
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let ok = add("amina", "a long clerk password", &["--role", "clerk", "--district", "peshawar"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let bad_role = add("zara", "a long clerk password", &["--role", "superuser"]);
    assert!(!bad_role.status.success());
    let list = run_cli(&env, &["user", "list"], "");
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(listing.contains("amina") && listing.contains("peshawar"), "{listing}");
    let disable = run_cli(&env, &["user", "disable", "--username", "amina"], "");
    assert!(disable.status.success(), "{}", String::from_utf8_lossy(&disable.stderr));
    assert!(String::from_utf8_lossy(&run_cli(&env, &["user", "list"], "").stdout).contains("false"));
    let reset = run_cli(&env, &["user", "set-password", "--username", "amina"], "another long password\n");
    assert!(reset.status.success());
    let verify = run_cli(&env, &["audit", "verify"], "");
    assert_eq!(String::from_utf8_lossy(&verify.stdout).trim(), "ok: 3 events in 1 chain(s) verified");
}

#[test]
fn logs_never_contain_passwords_tokens_or_id_numbers() {
    use std::io::Read;
    let rules = TempDir::new().expect("dir");
    let db = TestDb::new();
    let mut env = test_source(db.url(), rules.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    env.insert("SAHULAT_BIND".into(), format!("127.0.0.1:{port}"));
    env.insert("SAHULAT_LOG".into(), "debug".into());
    let out = run_cli(&env, &["user", "add", "--username", "root", "--role", "admin"], "a long admin password\n");
    assert!(out.status.success());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sahulat"))
        .arg("serve")
        .env_clear()
        .envs(&env)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let token = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::default();
        for _ in 0..100 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let mut login = client
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(&json!({"username": "root", "password": "a long admin password"}))
            .await
            .expect("login");
        let body: serde_json::Value = login.json().await.expect("json");
        let token = body["access_token"].as_str().expect("token").to_string();
        client
            .get(format!("{base}/api/v1/users?cursor=35202-1234567-1"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        client
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(&json!({"username": "3520212345671", "password": "a long admin password"}))
            .await
            .expect("login");
        token
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut logs = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut logs).expect("read");
    assert!(logs.contains("request handled"), "the access log is written: {logs}");
    for secret in ["a long admin password", token.as_str(), "35202-1234567-1", "3520212345671", "eyJ"] {
        assert!(!logs.contains(secret), "log contains {secret:?}");
    }
}
