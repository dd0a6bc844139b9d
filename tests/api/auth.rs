//! Login, tokens and their revocation.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn login_returns_a_short_lived_bearer_token_that_works() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["peshawar"], &[]).await;
    let reply = app.login("amina", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let token = reply.body["access_token"].as_str().expect("token");
    let me = app.call("GET", "/api/v1/auth/me", Some(token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "amina");
    assert_eq!(me.body["role"], "clerk");
    assert_eq!(me.body["districts"], json!(["peshawar"]));
    assert!(me.body.get("password_hash").is_none());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_are_indistinguishable() {
    // Enough failures allowed that the back-off (tested below) does not answer instead.
    let app = spawn_app_with(&[("SAHULAT_LOGIN_MAX_FAILURES", "100")]).await;
    app.create_user("amina", Role::Clerk, &["peshawar"], &[]).await;
    let wrong = app.login("amina", "not the right password").await;
    let unknown = app.login("nobody", "not the right password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body_without_request_id(), unknown.body_without_request_id());
    assert_eq!(wrong.header("www-authenticate"), unknown.header("www-authenticate"));

    // Both paths must pay for an argon2 verification; without the dummy hash an unknown
    // user would answer in a fraction of the time. (Figures are measured in the
    // reliability suite; this only checks that the expensive step is not skipped.)
    let (mut t_wrong, mut t_unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let start = Instant::now();
        app.login("amina", "not the right password").await;
        t_wrong.push(start.elapsed());
        let start = Instant::now();
        app.login("nobody", "not the right password").await;
        t_unknown.push(start.elapsed());
    }
    let (w, u) = (median(t_wrong), median(t_unknown));
    assert!(u * 2 > w, "unknown user answered in {u:?}, wrong password in {w:?}");
}

#[actix_web::test]
async fn repeated_failures_make_the_account_back_off_even_for_the_right_password() {
    let app = spawn_app_with(&[("SAHULAT_LOGIN_BACKOFF_SECS", "2")]).await;
    app.create_user("amina", Role::Clerk, &["peshawar"], &[]).await;
    for name in ["amina", "nobody"] {
        for attempt in 1..=5 {
            let reply = app.login(name, "not the right password").await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}, attempt {attempt}");
        }
    }
    // Known and unknown names back off alike, and the right password does not bypass it.
    let right = app.login("AMINA", PASSWORD).await;
    let unknown = app.login("nobody", "not the right password").await;
    for reply in [&right, &unknown] {
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.header("retry-after").as_deref(), Some("2"));
        assert_eq!(reply.body["code"], "too_many_requests");
    }
    assert_eq!(right.body_without_request_id(), unknown.body_without_request_id());
    assert_eq!(app.login("amina", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Other accounts are unaffected; the back-off ends, and a success clears the count.
    app.create_user("bilal", Role::Clerk, &["peshawar"], &[]).await;
    assert_eq!(app.login("bilal", PASSWORD).await.status, StatusCode::OK);
    actix_web::rt::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(app.login("amina", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.login("amina", "not the right password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("amina", PASSWORD).await.status, StatusCode::OK);

    let auditor = app.token_for("aziz", Role::Auditor).await;
    let events = app.call("GET", "/api/v1/audit/events?action=login&limit=100", Some(&auditor), None).await;
    let backoffs = events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["details"]["reason"] == "account_backoff")
        .count();
    assert_eq!(backoffs, 3, "every refused attempt is audited");
}

#[actix_web::test]
async fn one_address_gets_a_limited_number_of_login_attempts_a_minute() {
    let app = spawn_app_with(&[("SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE", "4")]).await;
    app.create_user("amina", Role::Clerk, &["peshawar"], &[]).await;
    for _ in 0..4 {
        assert_ne!(app.login("someone", "guess").await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let limited = app.login("amina", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[actix_web::test]
async fn login_attempts_are_audited_without_the_attempted_name() {
    let app = spawn_app().await;
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    app.login("nobody-here", "whatever password").await;
    let events = app.call("GET", "/api/v1/audit/events?action=login", Some(&auditor), None).await;
    assert_eq!(events.status, StatusCode::OK);
    let items = events.body["items"].as_array().expect("items");
    let denied: Vec<_> = items.iter().filter(|e| e["outcome"] == "denied").collect();
    let granted: Vec<_> = items.iter().filter(|e| e["outcome"] == "success").collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(granted.len(), 1);
    assert_eq!(denied[0]["details"]["reason"], "unknown_user");
    assert!(!events.body.to_string().contains("nobody-here"));
}

#[actix_web::test]
async fn empty_credentials_get_field_errors() {
    let app = spawn_app().await;
    let reply = app.login("", "").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = reply.body["errors"].as_array().expect("errors").iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, vec![json!("password"), json!("username")]);
}

#[actix_web::test]
async fn forged_and_expired_tokens_are_refused() {
    let app = spawn_app().await;
    let id = app.create_user("root", Role::Admin, &[], &[]).await;
    let secret = JWT_SECRET.as_bytes();
    let hs256 = json!({"alg": "HS256", "typ": "at+jwt"});
    let now = chrono::Utc::now().timestamp();
    let with = |patch: serde_json::Value| {
        let mut claims = claims_for(&id);
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    // The control: a hand-made token with the right key and claims is accepted, so each
    // refusal below is caused by the one thing bent in it.
    let good = sign_hs256(&hs256, &claims_for(&id), secret);
    assert_eq!(app.call("GET", "/api/v1/users", Some(&good), None).await.status, StatusCode::OK);

    let alg_none = format!(
        "{}.{}.",
        b64url(json!({"alg": "none", "typ": "at+jwt"}).to_string().as_bytes()),
        b64url(claims_for(&id).to_string().as_bytes())
    );
    let forged = [
        ("alg none", alg_none),
        ("wrong key", sign_hs256(&hs256, &claims_for(&id), b"another-secret-another-secret-0123456789")),
        ("alg HS512 header", sign_hs256(&json!({"alg": "HS512", "typ": "at+jwt"}), &claims_for(&id), secret)),
        ("expired beyond leeway", sign_hs256(&hs256, &with(json!({"exp": now - 120})), secret)),
        ("exp as a string", sign_hs256(&hs256, &with(json!({"exp": (now + 600).to_string()})), secret)),
        ("nbf as a string", sign_hs256(&hs256, &with(json!({"nbf": (now + 600).to_string()})), secret)),
        ("missing exp", sign_hs256(&hs256, &with(json!({"exp": null})), secret)),
        ("wrong issuer", sign_hs256(&hs256, &with(json!({"iss": "someone-else"})), secret)),
        ("wrong audience", sign_hs256(&hs256, &with(json!({"aud": "other-api"})), secret)),
        ("wrong typ", sign_hs256(&json!({"alg": "HS256", "typ": "refresh"}), &claims_for(&id), secret)),
        ("unknown subject", sign_hs256(&hs256, &claims_for("00000000-0000-0000-0000-000000000000"), secret)),
        ("garbage", "not.a.token".to_string()),
    ];
    for (name, token) in forged {
        let reply = app.call("GET", "/api/v1/users", Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(reply.body["code"], "unauthorized", "{name}");
    }
    let no_scheme = app.call_with("GET", "/api/v1/users", None, None, &[("authorization", &good)]).await;
    assert_eq!(no_scheme.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_disabled_user_is_locked_out_at_once() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let clerk = app.token_for("amina", Role::Clerk).await;
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&clerk), None).await.status, StatusCode::OK);
    let me = app.call("GET", "/api/v1/auth/me", Some(&clerk), None).await;
    let id = me.body["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/users/{id}");
    let reply =
        app.call_with("PATCH", &path, Some(&admin), Some(&json!({"active": false})), &[("if-match", "\"v1\"")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["active"], false);
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&clerk), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("amina", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_password_change_revokes_older_tokens() {
    let app = spawn_app().await;
    let old = app.token_for("amina", Role::Clerk).await;
    let body = json!({"current_password": PASSWORD, "new_password": "a brand new pass phrase"});
    let reply = app.call("POST", "/api/v1/auth/password", Some(&old), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&old), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("amina", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let fresh = app.login("amina", "a brand new pass phrase").await;
    assert_eq!(fresh.status, StatusCode::OK);
    let token = fresh.body["access_token"].as_str().expect("token");
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(token), None).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_password_change_needs_the_current_password_and_a_strong_new_one() {
    let app = spawn_app().await;
    let token = app.token_for("amina", Role::Clerk).await;
    let wrong = json!({"current_password": "not my password", "new_password": "a brand new pass phrase"});
    let reply = app.call("POST", "/api/v1/auth/password", Some(&token), Some(&wrong)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let weak = json!({"current_password": PASSWORD, "new_password": "short"});
    let reply = app.call("POST", "/api/v1/auth/password", Some(&token), Some(&weak)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"][0]["field"], "new_password");
}
