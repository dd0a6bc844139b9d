//! User administration over the API, and the role × action policy.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn an_admin_creates_reads_and_updates_a_clerk() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let body = json!({"username": "bilal", "role": "clerk", "password": "a clerk's long password", "districts": ["swat", "peshawar"]});
    let created = app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["districts"], json!(["peshawar", "swat"]));
    assert_eq!(created.header("etag").as_deref(), Some("\"v1\""));
    let location = created.header("location").expect("location");

    let read = app.call("GET", &location, Some(&admin), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["username"], "bilal");

    let change = json!({"districts": ["swat"]});
    let missing = app.call("PATCH", &location, Some(&admin), Some(&change)).await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    let updated = app.call_with("PATCH", &location, Some(&admin), Some(&change), &[("if-match", "\"v1\"")]).await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["districts"], json!(["swat"]));
    assert_eq!(updated.header("etag").as_deref(), Some("\"v2\""));
    let stale = app.call_with("PATCH", &location, Some(&admin), Some(&change), &[("if-match", "\"v1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.body["code"], "version_mismatch");

    let login = app.login("bilal", "a clerk's long password").await;
    assert_eq!(login.status, StatusCode::OK);
}

#[actix_web::test]
async fn invalid_accounts_get_one_error_per_field() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let body =
        json!({"username": "B", "role": "clerk", "password": "short", "districts": ["atlantis"], "schemes": ["x"]});
    let reply = app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.header("content-type").as_deref(), Some("application/problem+json"));
    let mut fields: Vec<String> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect();
    fields.sort();
    // Every field is checked (before hashing), the weak password with the rest.
    assert_eq!(fields, vec!["districts", "password", "schemes", "schemes", "username"]);

    let body = json!({"username": "B", "role": "clerk", "password": "a long enough password", "districts": ["atlantis"], "schemes": ["x"]});
    let reply = app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<String> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| format!("{}:{}", e["field"].as_str().unwrap_or_default(), e["code"].as_str().unwrap_or_default()))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec!["districts:unknown_district", "schemes:invalid_format", "schemes:not_allowed", "username:invalid_format"]
    );
}

#[actix_web::test]
async fn duplicate_user_names_conflict() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let body = json!({"username": "root", "role": "auditor", "password": "another long password"});
    let reply = app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body["code"], "username_taken");
}

#[actix_web::test]
async fn unknown_fields_and_roles_are_rejected_not_ignored() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let extra = json!({"username": "zara", "role": "auditor", "password": "a long enough password", "active": false});
    let reply = app.call("POST", "/api/v1/users", Some(&admin), Some(&extra)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "malformed_json");
    let bad_role = json!({"username": "zara", "role": "superuser", "password": "a long enough password"});
    assert_eq!(app.call("POST", "/api/v1/users", Some(&admin), Some(&bad_role)).await.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_role_without_permission_gets_403_and_the_denial_is_audited() {
    let app = spawn_app().await;
    let clerk = app.token_for("amina", Role::Clerk).await;
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    let reply = app.call("GET", "/api/v1/users", Some(&clerk), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "forbidden");
    let events = app.call("GET", "/api/v1/audit/events?action=authz_denied", Some(&auditor), None).await;
    let items = events.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor_username"], "amina");
    assert_eq!(items[0]["details"]["action"], "user_list");
}

#[actix_web::test]
async fn an_admin_cannot_disable_their_own_account() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let me = app.call("GET", "/api/v1/auth/me", Some(&admin), None).await;
    let path = format!("/api/v1/users/{}", me.body["id"].as_str().expect("id"));
    let reply =
        app.call_with("PATCH", &path, Some(&admin), Some(&json!({"active": false})), &[("if-match", "\"v1\"")]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.body["code"], "cannot_disable_self");
}

#[actix_web::test]
async fn user_lists_are_paginated() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    for name in ["clerk-a", "clerk-b", "clerk-c"] {
        app.create_user(name, Role::Clerk, &["swat"], &[]).await;
    }
    let first = app.call("GET", "/api/v1/users?limit=2", Some(&admin), None).await;
    assert_eq!(first.body["items"].as_array().expect("items").len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = app.call("GET", &format!("/api/v1/users?limit=2&cursor={cursor}"), Some(&admin), None).await;
    let names: Vec<_> = second.body["items"].as_array().expect("items").iter().map(|u| u["username"].clone()).collect();
    assert_eq!(names, vec![json!("clerk-c"), json!("root")]);
    let capped = app.call("GET", "/api/v1/users?limit=100000", Some(&admin), None).await;
    assert_eq!(capped.status, StatusCode::OK, "a huge limit is capped at a page of 100");
    assert_eq!(capped.body["items"].as_array().expect("items").len(), 4, "root and three clerks");
    assert_eq!(
        app.call("GET", "/api/v1/users?limit=0", Some(&admin), None).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[actix_web::test]
async fn an_admin_reset_password_revokes_tokens() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let clerk = app.token_for("amina", Role::Clerk).await;
    let me = app.call("GET", "/api/v1/auth/me", Some(&clerk), None).await;
    let path = format!("/api/v1/users/{}/password", me.body["id"].as_str().expect("id"));
    let reply = app.call("POST", &path, Some(&admin), Some(&json!({"new_password": "reset by the admin"}))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call("GET", "/api/v1/auth/me", Some(&clerk), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("amina", "reset by the admin").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn an_admin_adds_and_changes_districts_without_a_code_change() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let body = json!({"code": "new-district", "name": "New District", "division": "Peshawar"});
    let created = app.call("POST", "/api/v1/districts", Some(&admin), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(app.call("POST", "/api/v1/districts", Some(&admin), Some(&body)).await.status, StatusCode::CONFLICT);
    let bad = app
        .call("POST", "/api/v1/districts", Some(&admin), Some(&json!({"code": "X", "name": "", "division": "d"})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"].as_array().expect("errors").len(), 2);

    // The new district is usable at once: a clerk assigned to it registers a household there.
    app.create_user("amina", Role::Clerk, &["new-district"], &[]).await;
    let clerk = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let household = json!({"district": "new-district", "members": [{"full_name": "Gul", "relation_to_head": "head",
        "sex": "male", "date_of_birth": "1970-01-01", "id_type": "none"}]});
    let registered = app.call("POST", "/api/v1/households", Some(&clerk), Some(&household)).await;
    assert_eq!(registered.body["household_number"], "NEW-DISTRICT-000001");

    let renamed =
        app.call("PATCH", "/api/v1/districts/new-district", Some(&admin), Some(&json!({"name": "Renamed"}))).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["name"], "Renamed");
    let list = app.call("GET", "/api/v1/districts", Some(&clerk), None).await;
    assert!(list.body.as_array().expect("list").iter().any(|d| d["name"] == "Renamed"));
    assert_eq!(
        app.call("PATCH", "/api/v1/districts/new-district", Some(&clerk), Some(&json!({"active": false}))).await.status,
        StatusCode::FORBIDDEN
    );
}
