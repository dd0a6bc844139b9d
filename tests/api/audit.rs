//! The audit trail: one event per change in the same transaction, a chain that verifies,
//! and tampering that the verifier pinpoints.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_chain_verifies_and_records_who_did_what() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    let body =
        json!({"username": "bilal", "role": "clerk", "password": "a clerk's long password", "districts": ["swat"]});
    let created = app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await;
    let id = created.body["id"].as_str().expect("id").to_string();

    let events = app.call("GET", &format!("/api/v1/audit/events?object_id={id}"), Some(&auditor), None).await;
    assert_eq!(events.status, StatusCode::OK);
    let items = events.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    let event = &items[0];
    assert_eq!(event["action"], "user_create");
    assert_eq!(event["actor_username"], "root");
    assert_eq!(event["actor_role"], "admin");
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["client_addr"], "127.0.0.1");
    assert_eq!(event["request_id"].as_str(), created.header("x-request-id").as_deref());
    assert!(!events.body.to_string().contains("a clerk's long password"));

    let verify = app.call("GET", "/api/v1/audit/verify", Some(&auditor), None).await;
    assert_eq!(verify.status, StatusCode::OK);
    assert_eq!(verify.body["ok"], true);
    assert!(verify.body["count"].as_i64().expect("count") >= 5);
}

#[actix_web::test]
async fn the_application_cannot_rewrite_history() {
    let app = spawn_app().await;
    app.create_user("root", Role::Admin, &[], &[]).await;
    let mut conn = app.db.connect();
    use diesel::connection::SimpleConnection;
    let update = conn.batch_execute("UPDATE audit_events SET action = 'nothing' WHERE seq = 1");
    assert!(update.is_err(), "UPDATE on audit_events must be refused");
    let delete = conn.batch_execute("DELETE FROM audit_events");
    assert!(delete.is_err(), "DELETE on audit_events must be refused");
}

fn tamper(db: &TestDb, seq: i64, sql: &str) {
    let disable = if db.is_postgres() {
        "ALTER TABLE audit_events DISABLE TRIGGER USER;"
    } else {
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
    };
    execute_sql(db, &format!("{disable} {}", sql.replace("{seq}", &seq.to_string())));
}

#[actix_web::test]
async fn tampering_with_one_row_is_named_by_audit_verify() {
    let app = spawn_app().await;
    for name in ["clerk-a", "clerk-b", "clerk-c", "clerk-d"] {
        app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    }
    let ok = app.cli(&["audit", "verify"], "");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // The four accounts, and the rules seeded when the service first started.
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "ok: 5 events in 2 chain(s) verified");

    tamper(&app.db, 3, "UPDATE audit_events SET details = '{}' WHERE chain_id = 'cli' AND seq = {seq}");
    let broken = app.cli(&["audit", "verify"], "");
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.starts_with("BROKEN in chain cli at seq 3: mac mismatch"), "{out}");
}

#[actix_web::test]
async fn an_inserted_row_is_named_by_audit_verify() {
    let app = spawn_app().await;
    for name in ["clerk-a", "clerk-b", "clerk-c", "clerk-d"] {
        app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    }
    // A forged event after the last one, copied from a genuine row (its MAC included).
    tamper(
        &app.db,
        2,
        "INSERT INTO audit_events (id, chain_id, seq, occurred_at, actor_user_id, actor_username, actor_role, \
         action, object_type, object_id, district_code, request_id, client_addr, outcome, details, prev_mac, mac) \
         SELECT 'forged', chain_id, 5, occurred_at, actor_user_id, actor_username, actor_role, action, object_type, \
         object_id, district_code, request_id, client_addr, outcome, details, prev_mac, mac \
         FROM audit_events WHERE chain_id = 'cli' AND seq = {seq}",
    );
    let out = app.cli(&["audit", "verify"], "");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BROKEN in chain cli at seq 5: "), "{text}");
}

#[actix_web::test]
async fn deleting_a_row_or_the_tail_is_detected() {
    let app = spawn_app().await;
    for name in ["clerk-a", "clerk-b", "clerk-c", "clerk-d"] {
        app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    }
    tamper(&app.db, 4, "DELETE FROM audit_events WHERE chain_id = 'cli' AND seq = {seq}");
    let out = app.cli(&["audit", "verify"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("BROKEN in chain cli at seq 4: "), "{text}");

    let app = spawn_app().await;
    for name in ["clerk-a", "clerk-b", "clerk-c"] {
        app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    }
    tamper(&app.db, 2, "DELETE FROM audit_events WHERE chain_id = 'cli' AND seq > {seq}");
    let text = String::from_utf8_lossy(&app.cli(&["audit", "verify"], "").stdout).to_string();
    assert!(text.starts_with("BROKEN in chain cli at seq 3: events at the end"), "{text}");
}

#[actix_web::test]
async fn audit_queries_are_themselves_audited_and_filtered() {
    let app = spawn_app().await;
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    app.call("GET", "/api/v1/audit/events?action=login", Some(&auditor), None).await;
    let reply = app.call("GET", "/api/v1/audit/events?action=audit_query", Some(&auditor), None).await;
    let items = reply.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "the first query and this one");
    assert_eq!(items[1]["details"]["filters"], json!(["action"]));
    let bad = app.call("GET", "/api/v1/audit/events?from=yesterday&cursor=x", Some(&auditor), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"].as_array().expect("errors").len(), 2);
    let unknown = app.call("GET", "/api/v1/audit/events?colour=red", Some(&auditor), None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["code"], "malformed_query");
}

#[actix_web::test]
async fn each_district_has_its_own_chain_and_verify_names_it() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let clerk = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    for id in ["15602-1111111-1", "15602-2222222-1"] {
        let body = json!({"district": "swat", "members": [{"full_name": "Gul", "relation_to_head": "head", "sex": "male",
            "date_of_birth": "1970-01-01", "id_type": "cnic", "id_number": id}]});
        assert_eq!(app.call("POST", "/api/v1/households", Some(&clerk), Some(&body)).await.status, StatusCode::CREATED);
    }
    let events = app.call("GET", "/api/v1/audit/events?action=household_create", Some(&auditor), None).await;
    let chains: Vec<_> = events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| (e["chain_id"].clone(), e["seq"].clone()))
        .collect();
    assert_eq!(chains, vec![(json!("district:swat"), json!(2)), (json!("district:swat"), json!(1))]);
    let verify = app.call("GET", "/api/v1/audit/verify", Some(&auditor), None).await;
    assert_eq!(verify.body["ok"], true, "{:?}", verify.body);

    tamper(&app.db, 1, "UPDATE audit_events SET outcome = 'denied' WHERE chain_id = 'district:swat' AND seq = {seq}");
    let verify = app.call("GET", "/api/v1/audit/verify", Some(&auditor), None).await;
    assert_eq!(verify.body["ok"], false);
    assert_eq!(verify.body["broken_chain"], "district:swat");
    assert_eq!(verify.body["first_broken_seq"], 1);
}
