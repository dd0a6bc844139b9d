//! The household registry over HTTP: registration, duplicates, district scoping,
//! concurrency control, members, search, history and idempotency.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn member(name: &str, relation: &str, sex: &str, dob: &str, id: Option<&str>) -> Value {
    let mut m = json!({"full_name": name, "relation_to_head": relation, "sex": sex, "date_of_birth": dob,
        "id_type": if id.is_some() { "cnic" } else { "none" }});
    if let Some(id) = id {
        m["id_number"] = json!(id);
    }
    m
}

fn household(district: &str, head_id: &str) -> Value {
    json!({
        "district": district,
        "village": "Kalam",
        "phone": "+92 300 1234567",
        "monthly_income_pkr": 18000,
        "pmt_score": 14.25,
        "members": [
            member("Gul Khan", "head", "male", "1975-03-01", Some(head_id)),
            member("بی بی فاطمہ", "spouse", "female", "1980-07-15", None),
            member("Zarmina", "daughter", "female", "2015-02-10", None),
        ]
    })
}

async fn clerk(app: &TestApp, name: &str, district: &str) -> String {
    app.create_user(name, Role::Clerk, &[district], &[]).await;
    let reply = app.login(name, PASSWORD).await;
    reply.body["access_token"].as_str().expect("token").to_string()
}

#[actix_web::test]
async fn a_clerk_registers_a_household_and_reads_it_back_unchanged() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let body = &reply.body;
    assert!(body["household_number"].as_str().expect("number").starts_with("SWAT-"));
    assert_eq!(body["version"], 1);
    assert_eq!(body["phone"], "03001234567");
    assert_eq!(body["members"].as_array().expect("members").len(), 3);
    assert!(body["members"][0]["id"].is_string());
    assert_eq!(body["members"][0]["id_number"], "1560212345671");
    assert_eq!(body["registered_by"], "amina");
    assert_eq!(reply.header("etag").as_deref(), Some("\"v1\""));
    let location = reply.header("location").expect("location");

    let read = app.call("GET", &location, Some(&token), None).await;
    assert_eq!(read.status, StatusCode::OK);
    // Urdu round-trips byte for byte.
    assert_eq!(read.body["members"][1]["full_name"], "بی بی فاطمہ");
    assert!(String::from_utf8_lossy(&read.raw).contains("بی بی فاطمہ"));
    assert_eq!(read.body["pmt_score"], 14.25);
    assert_eq!(read.body["tehsil"], Value::Null, "unknown stays unknown");
}

#[actix_web::test]
async fn household_numbers_are_sequential_per_district() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let first = app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let second =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-3"))).await;
    assert_eq!(first.body["household_number"], "SWAT-000001");
    assert_eq!(second.body["household_number"], "SWAT-000002");
}

#[actix_web::test]
async fn a_registered_id_number_is_a_409_naming_the_household() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let first = app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let again = app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "1560212345671"))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "duplicate_id_number");
    assert_eq!(again.body["existing_household"]["id"], first.body["id"]);
    assert_eq!(again.body["existing_household"]["household_number"], first.body["household_number"]);
    assert_eq!(again.body["field"], "members[0].id_number");
}

/// The claim that keeps an ID number unique (`id_number_claims`, the only guard on Citus)
/// follows the member: a changed number frees the old one, a removal frees the member's.
#[actix_web::test]
async fn a_changed_or_removed_members_id_number_is_free_again_and_the_new_one_is_taken() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let first = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let base = format!("/api/v1/households/{}", first.body["id"].as_str().expect("id"));
    let son = first.body["members"][1]["id"].as_str().expect("son").to_string();

    let patch = json!({"id_number": "15602-7654321-9"});
    let changed = app
        .call_with("PATCH", &format!("{base}/members/{son}"), Some(&token), Some(&patch), &[("if-match", "\"v1\"")])
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let old_number =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-7654321-1"))).await;
    assert_eq!(old_number.status, StatusCode::CREATED, "the old number is free: {:?}", old_number.body);
    let new_number =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-7654321-9"))).await;
    assert_eq!(new_number.status, StatusCode::CONFLICT);
    assert_eq!(new_number.body["code"], "duplicate_id_number");

    let removal = json!({"reason": "moved_out"});
    let removed = app
        .call_with(
            "POST",
            &format!("{base}/members/{son}/removal"),
            Some(&token),
            Some(&removal),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let again = app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-7654321-9"))).await;
    assert_eq!(again.status, StatusCode::CREATED, "a removed member's number is free: {:?}", again.body);
}

#[actix_web::test]
async fn bad_fields_get_one_422_entry_each_without_echoing_values() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let mut body = household("swat", "15602-1234567-1");
    body["members"][1]["id_type"] = json!("cnic");
    body["members"][1]["id_number"] = json!("99999-9999999-9");
    body["members"][2]["date_of_birth"] = json!("2099-01-01");
    body["rooms"] = json!(0);
    body["favourite_colour"] = json!("green");
    let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(fields, vec!["favourite_colour", "members[1].id_number", "members[2].date_of_birth", "rooms"]);
    assert!(!reply.body.to_string().contains("99999"));

    let many: Vec<Value> = (0..31)
        .map(|i| member(&format!("M {i}"), if i == 0 { "head" } else { "son" }, "male", "2000-01-01", None))
        .collect();
    let reply =
        app.call("POST", "/api/v1/households", Some(&token), Some(&json!({"district": "swat", "members": many}))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"][0]["code"], "too_many");

    let reply = app
        .call(
            "POST",
            "/api/v1/households",
            Some(&token),
            Some(&json!({"district": "atlantis", "members": [member("A", "head", "male", "1990-01-01", None)]})),
        )
        .await;
    assert_eq!(reply.body["errors"][0]["code"], "unknown_district");
    let reply =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("peshawar", "15602-1234567-1"))).await;
    assert_eq!(reply.body["errors"][0]["code"], "not_assigned");
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&token), None).await;
    assert_eq!(search.body["items"].as_array().expect("items").len(), 0, "nothing half-written");
}

#[actix_web::test]
async fn another_districts_household_is_indistinguishable_from_a_missing_one() {
    let app = spawn_app().await;
    let swat = clerk(&app, "amina", "swat").await;
    let peshawar = clerk(&app, "bilal", "peshawar").await;
    let created =
        app.call("POST", "/api/v1/households", Some(&swat), Some(&household("swat", "15602-1234567-1"))).await;
    let path = format!("/api/v1/households/{}", created.body["id"].as_str().expect("id"));
    let other = app.call("GET", &path, Some(&peshawar), None).await;
    let missing =
        app.call("GET", "/api/v1/households/00000000-0000-0000-0000-000000000000", Some(&peshawar), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.body_without_request_id(), missing.body_without_request_id());
    let patch =
        app.call_with("PATCH", &path, Some(&peshawar), Some(&json!({"rooms": 3})), &[("if-match", "\"v1\"")]).await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
    for history in [format!("{path}/history")] {
        assert_eq!(app.call("GET", &history, Some(&peshawar), None).await.status, StatusCode::NOT_FOUND);
    }
    let search = app.call("GET", "/api/v1/households?id_number=15602-1234567-1", Some(&peshawar), None).await;
    assert_eq!(search.body["items"], json!([]));
    // Admins and auditors have no beneficiary access at all.
    let admin = app.token_for("root", Role::Admin).await;
    assert_eq!(app.call("GET", &path, Some(&admin), None).await.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn updates_need_the_current_version() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let path = format!("/api/v1/households/{}", created.body["id"].as_str().expect("id"));
    let change = json!({"rooms": 3, "village": null});
    assert_eq!(app.call("PATCH", &path, Some(&token), Some(&change)).await.status, StatusCode::PRECONDITION_REQUIRED);
    let ok = app.call_with("PATCH", &path, Some(&token), Some(&change), &[("if-match", "\"v1\"")]).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["rooms"], 3);
    assert_eq!(ok.body["village"], Value::Null);
    assert_eq!(ok.header("etag").as_deref(), Some("\"v2\""));
    let stale =
        app.call_with("PATCH", &path, Some(&token), Some(&json!({"rooms": 4})), &[("if-match", "\"v1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let read_only = app
        .call_with("PATCH", &path, Some(&token), Some(&json!({"district": "peshawar"})), &[("if-match", "\"v2\"")])
        .await;
    assert_eq!(read_only.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(read_only.body["errors"][0]["code"], "not_editable");
    let invalid =
        app.call_with("PATCH", &path, Some(&token), Some(&json!({"phone": "12"})), &[("if-match", "\"v2\"")]).await;
    assert_eq!(invalid.body["errors"][0]["field"], "phone");
}

#[actix_web::test]
async fn members_are_added_changed_removed_and_the_head_changes_in_one_step() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let base = format!("/api/v1/households/{id}");
    let head_id = created.body["members"][0]["id"].as_str().expect("head").to_string();
    let spouse_id = created.body["members"][1]["id"].as_str().expect("spouse").to_string();

    let newborn = member("Baby", "son", "male", "2025-12-01", None);
    let added = app
        .call_with("POST", &format!("{base}/members"), Some(&token), Some(&newborn), &[("if-match", "\"v1\"")])
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(added.body["members"].as_array().expect("members").len(), 4);
    let second_head = member("Other", "head", "male", "1990-01-01", None);
    let refused = app
        .call_with("POST", &format!("{base}/members"), Some(&token), Some(&second_head), &[("if-match", "\"v2\"")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    let changed = app
        .call_with(
            "PATCH",
            &format!("{base}/members/{spouse_id}"),
            Some(&token),
            Some(&json!({"is_pregnant": true})),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["members"][1]["is_pregnant"], true);

    let no_head_removal = app
        .call_with(
            "POST",
            &format!("{base}/members/{head_id}/removal"),
            Some(&token),
            Some(&json!({"reason": "deceased"})),
            &[("if-match", "\"v3\"")],
        )
        .await;
    assert_eq!(no_head_removal.status, StatusCode::CONFLICT);
    assert_eq!(no_head_removal.body["code"], "head_cannot_be_removed");

    let head = json!({"member_id": spouse_id, "previous_head_relation": "spouse"});
    let new_head =
        app.call_with("POST", &format!("{base}/head"), Some(&token), Some(&head), &[("if-match", "\"v3\"")]).await;
    assert_eq!(new_head.status, StatusCode::OK, "{:?}", new_head.body);
    let heads: Vec<_> =
        new_head.body["members"].as_array().expect("m").iter().filter(|m| m["relation_to_head"] == "head").collect();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0]["id"], json!(spouse_id));

    let removed = app
        .call_with(
            "POST",
            &format!("{base}/members/{head_id}/removal"),
            Some(&token),
            Some(&json!({"reason": "deceased"})),
            &[("if-match", "\"v4\"")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    assert_eq!(removed.body["members"].as_array().expect("m").len(), 3);
    let bad_reason = app
        .call_with(
            "POST",
            &format!("{base}/members/{spouse_id}/removal"),
            Some(&token),
            Some(&json!({"reason": "bored"})),
            &[("if-match", "\"v5\"")],
        )
        .await;
    assert_eq!(bad_reason.status, StatusCode::UNPROCESSABLE_ENTITY);

    let history = app.call("GET", &format!("{base}/history"), Some(&token), None).await;
    assert_eq!(history.status, StatusCode::OK);
    let entries = history.body["items"].as_array().expect("items");
    let kinds: Vec<_> = entries.iter().map(|e| e["change_type"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, vec!["create", "member_add", "member_update", "head_change", "member_remove"]);
    assert_eq!(entries[2]["changes"]["is_pregnant"], json!({"from": null, "to": true}));
    assert_eq!(entries[4]["reason"], "deceased");
    assert_eq!(entries[4]["member_id"], json!(head_id));
    assert_eq!(entries[4]["changed_by"], "amina");

    // The removed head's ID number is free again (a person registered once, among current members).
    let read = app.call("GET", &base, Some(&token), None).await;
    assert_eq!(read.body["version"], 5);
}

#[actix_web::test]
async fn search_by_id_number_household_number_and_name() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let number = created.body["household_number"].as_str().expect("number").to_string();
    let mut other = household("swat", "15602-7654321-1");
    other["members"][0]["full_name"] = json!("Zoë Ahmad");
    other["members"][1]["full_name"] = json!("Shabana");
    app.call("POST", "/api/v1/households", Some(&token), Some(&other)).await;

    let cases = [
        "id_number=15602-1234567-1".to_string(),
        "id_number=1560212345671".to_string(),
        format!("household_number={}", number.to_lowercase()),
        "name=gul".to_string(),
        "name=%D8%A8%DB%8C%20%D8%A8%DB%8C".to_string(), // "بی بی"
    ];
    for query in cases {
        let reply = app.call("GET", &format!("/api/v1/households?{query}"), Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        let items = reply.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{query}: {items:?}");
        assert_eq!(items[0]["household_number"], json!(number), "{query}");
        assert_eq!(items[0]["head_name"], "Gul Khan");
        assert_eq!(items[0]["member_count"], 3);
    }
    let accented = app.call("GET", "/api/v1/households?name=ZOE", Some(&token), None).await;
    assert_eq!(accented.body["items"][0]["head_name"], "Zoë Ahmad");
    let page = app.call("GET", "/api/v1/households?district=swat&limit=1", Some(&token), None).await;
    let cursor = page.body["next_cursor"].as_str().expect("cursor");
    let next =
        app.call("GET", &format!("/api/v1/households?district=swat&limit=1&cursor={cursor}"), Some(&token), None).await;
    assert_eq!(next.body["items"].as_array().expect("items").len(), 1);
    assert_ne!(next.body["items"][0]["id"], page.body["items"][0]["id"]);
    let bad = app.call("GET", "/api/v1/households?id_number=123&name=a", Some(&token), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"].as_array().expect("errors").len(), 2);
}

#[actix_web::test]
async fn warnings_flag_implausible_data_without_refusing_it() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let mut body = household("swat", "15602-1234567-2"); // even last digit, male head
    body["members"][2]["is_pregnant"] = json!(true); // a child of ten
    let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let codes: Vec<_> =
        reply.body["warnings"].as_array().expect("warnings").iter().map(|w| w["code"].clone()).collect();
    assert_eq!(codes, vec![json!("cnic_parity_mismatch"), json!("implausible_pregnancy")]);
    assert_eq!(reply.body["warnings"][0]["member_id"], reply.body["members"][0]["id"]);

    let mut twin = household("swat", "15602-1234567-5");
    twin["members"] = json!([
        member("Gul Khan II", "head", "male", "1970-01-01", Some("15602-1234567-5")),
        member("بی بی فاطمہ", "spouse", "female", "1980-07-15", None)
    ]);
    let dup = app.call("POST", "/api/v1/households", Some(&token), Some(&twin)).await;
    assert_eq!(dup.status, StatusCode::CREATED);
    let warning = &dup.body["warnings"][0];
    assert_eq!(warning["code"], "possible_duplicate");
    assert_eq!(warning["field"], "members[1].full_name");
    assert_eq!(warning["household_number"], reply.body["household_number"]);
}

#[actix_web::test]
async fn a_retried_post_with_the_same_idempotency_key_creates_one_household() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let other = clerk(&app, "bilal", "swat").await;
    let body = household("swat", "15602-1234567-1");
    let key = [("idempotency-key", "a1b2c3")];
    let first = app.call_with("POST", "/api/v1/households", Some(&token), Some(&body), &key).await;
    let retry = app.call_with("POST", "/api/v1/households", Some(&token), Some(&body), &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(first.body, retry.body);
    assert_eq!(retry.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.header("location"), retry.header("location"));
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&token), None).await;
    assert_eq!(search.body["items"].as_array().expect("items").len(), 1);

    let mut changed = body.clone();
    changed["rooms"] = json!(2);
    let misuse = app.call_with("POST", "/api/v1/households", Some(&token), Some(&changed), &key).await;
    assert_eq!(misuse.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(misuse.body["errors"][0]["code"], "idempotency_key_reused");

    // Another user with the same key does not get the first user's answer.
    let theirs = app.call_with("POST", "/api/v1/households", Some(&other), Some(&body), &key).await;
    assert_eq!(theirs.status, StatusCode::CONFLICT, "their own attempt: the person is already registered");
    assert!(theirs.header("idempotent-replayed").is_none());
}

#[actix_web::test]
async fn reads_and_writes_of_households_are_audited_without_personal_data() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let auditor = app.token_for("ayesha", Role::Auditor).await;
    let created =
        app.call("POST", "/api/v1/households", Some(&token), Some(&household("swat", "15602-1234567-1"))).await;
    let id = created.body["id"].as_str().expect("id");
    app.call("GET", &format!("/api/v1/households/{id}"), Some(&token), None).await;
    app.call("GET", "/api/v1/households?id_number=15602-1234567-1", Some(&token), None).await;
    let events = app.call("GET", &format!("/api/v1/audit/events?object_id={id}"), Some(&auditor), None).await;
    let actions: Vec<_> = events.body["items"].as_array().expect("items").iter().map(|e| e["action"].clone()).collect();
    assert_eq!(actions, vec![json!("household_read"), json!("household_create")]);
    assert_eq!(events.body["items"][0]["district_code"], "swat");
    let all = app.call("GET", "/api/v1/audit/events?limit=100", Some(&auditor), None).await;
    let text = all.body.to_string();
    for pii in ["1560212345671", "15602-1234567-1", "Gul Khan", "فاطمہ", "03001234567"] {
        assert!(!text.contains(pii), "audit trail contains {pii}");
    }
    assert!(text.contains("household_search"));
}

#[actix_web::test]
async fn concurrent_registrations_of_one_person_store_exactly_one() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let body = household("swat", "15602-1234567-1");
    let calls = (0..12).map(|_| app.call("POST", "/api/v1/households", Some(&token), Some(&body)));
    let replies = futures_join_all(calls).await;
    let created: Vec<_> = replies.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert_eq!(created.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(
            r.body["existing_household"]["id"], created[0].body["id"],
            "the conflict names the winner: {:?}",
            r.body
        );
    }
}

#[actix_web::test]
async fn concurrent_retries_with_one_idempotency_key_create_one_household() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let body = household("swat", "15602-1234567-1");
    let key = [("idempotency-key", "retry-storm")];
    let calls = (0..12).map(|_| app.call_with("POST", "/api/v1/households", Some(&token), Some(&body), &key));
    let replies = futures_join_all(calls).await;
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body, replies[0].body);
    }
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&token), None).await;
    assert_eq!(search.body["items"].as_array().expect("items").len(), 1);
}

/// Runs futures concurrently on the test's single-threaded runtime.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(|f| Box::pin(f)).collect();
    let mut outputs = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    outputs.extend(results.into_iter().flatten());
    outputs
}

/// Registers a household of a head (ID number `head_id`) and `candidate` (no ID number) and
/// returns the household numbers the same-name warnings name for the candidate.
async fn same_name_matches(app: &TestApp, token: &str, head_id: &str, candidate: Value) -> Vec<Value> {
    let body = json!({"district": "swat", "members": [
        member("Wali Shah", "head", "male", "1960-01-01", Some(head_id)),
        candidate
    ]});
    let reply = app.call("POST", "/api/v1/households", Some(token), Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let warnings = reply.body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().filter(|w| w["code"] == "possible_duplicate").all(|w| w["field"] == "members[1].full_name"),
        "{warnings:?}"
    );
    warnings.iter().filter(|w| w["code"] == "possible_duplicate").map(|w| w["household_number"].clone()).collect()
}

/// A `member_name_keys` row: (group, key, household id, member id, household number).
type NameKeyRow = (String, String, String, String, String);

/// The name-key rows as stored, and as they follow from the current members (each with its
/// household's number): the two must be equal after every change.
fn name_keys(app: &TestApp) -> (Vec<NameKeyRow>, Vec<NameKeyRow>) {
    use diesel::prelude::*;
    use sahulat::db::schema::{households, member_name_keys as k, members};
    let mut conn = app.db.connect();
    let stored: Vec<NameKeyRow> = k::table
        .select((k::name_group, k::dedup_key, k::household_id, k::member_id, k::household_number))
        .order(k::member_id)
        .load(&mut conn)
        .expect("name keys");
    let current: Vec<(String, String, String)> = members::table
        .filter(members::status.eq("current"))
        .select((members::dedup_key, members::household_id, members::id))
        .order(members::id)
        .load(&mut conn)
        .expect("members");
    let numbers: std::collections::HashMap<String, String> = households::table
        .select((households::id, households::household_number))
        .load(&mut conn)
        .expect("households")
        .into_iter()
        .collect();
    let expected = current
        .into_iter()
        .map(|(key, household, id)| {
            let group = sahulat::registry::repo::name_group(&key).to_string();
            (group, key, household.clone(), id, numbers[&household].clone())
        })
        .collect();
    (stored, expected)
}

/// The same-name warning reads `member_name_keys` (on Citus distributed by the key's group,
/// so the search asks one shard): every writer of members keeps it in step, and migration
/// 000016's backfill computes the same rows (and groups) as the service writes.
#[actix_web::test]
async fn the_same_name_warning_follows_members_through_edits_removals_additions_and_imports() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let mut spouse = member("Bibi Fatima", "spouse", "female", "1980-07-15", None);
    spouse["father_or_husband_name"] = json!("Gul Khan");
    let body = json!({"district": "swat", "members": [
        member("Gul Khan", "head", "male", "1975-03-01", Some("15602-1234567-1")),
        spouse.clone(),
        member("Zarmina", "daughter", "female", "2015-02-10", None),
        member("Zoë Ahmad", "other_relative", "female", "1990-05-05", Some("15602-1234567-2")),
        json!({"full_name": "Ali", "relation_to_head": "grandchild", "sex": "male", "date_of_birth": "2022-04-04",
            "id_type": "none", "father_or_husband_name": "گل  خان"}),
    ]});
    let first = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let number = first.body["household_number"].clone();
    let base = format!("/api/v1/households/{}", first.body["id"].as_str().expect("id"));
    let id_of = |i: usize| first.body["members"][i]["id"].as_str().expect("member id").to_string();

    // By name, date of birth and father/husband name (written differently), with or without
    // a father/husband name, and against a member holding an ID number.
    let mut respelled = spouse.clone();
    respelled["full_name"] = json!("BIBI  fatima");
    respelled["father_or_husband_name"] = json!("gul KHAN");
    assert_eq!(same_name_matches(&app, &token, "15602-2000001-1", respelled).await, vec![number.clone()]);
    let daughter = member("Zarmina", "daughter", "female", "2015-02-10", None);
    assert_eq!(same_name_matches(&app, &token, "15602-2000002-1", daughter.clone()).await, vec![number.clone()]);
    let zoe = member("Zoe Ahmad", "other_relative", "female", "1990-05-05", None);
    assert_eq!(same_name_matches(&app, &token, "15602-2000003-1", zoe).await, vec![number.clone()]);
    let other_father = json!({"full_name": "Bibi Fatima", "relation_to_head": "spouse", "sex": "female",
        "date_of_birth": "1980-07-15", "id_type": "none", "father_or_husband_name": "Sher Khan"});
    assert!(same_name_matches(&app, &token, "15602-2000004-1", other_father).await.is_empty());

    // A renamed member is found by the new name only.
    let rename = json!({"full_name": "Zarmina Gul"});
    let path = format!("{base}/members/{}", id_of(2));
    let renamed = app.call_with("PATCH", &path, Some(&token), Some(&rename), &[("if-match", "\"v1\"")]).await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    // (Each check registers its candidate too: the earlier "Zarmina" is still found.)
    let old_name = same_name_matches(&app, &token, "15602-2000005-1", daughter).await;
    assert_eq!(old_name.len(), 1);
    assert!(!old_name.contains(&number));
    let new_name = member("Zarmina Gul", "daughter", "female", "2015-02-10", None);
    assert_eq!(same_name_matches(&app, &token, "15602-2000006-1", new_name).await, vec![number.clone()]);
    // An edit that leaves the key alone keeps the member findable.
    let school = json!({"school_enrolled": true});
    let edited = app.call_with("PATCH", &path, Some(&token), Some(&school), &[("if-match", "\"v2\"")]).await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);

    // A removed member is not found any more; an added one is.
    let removal = format!("{base}/members/{}/removal", id_of(1));
    let reason = json!({"reason": "moved_out"});
    let removed = app.call_with("POST", &removal, Some(&token), Some(&reason), &[("if-match", "\"v3\"")]).await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let after_removal = same_name_matches(&app, &token, "15602-2000007-1", spouse).await;
    assert_eq!(after_removal.len(), 1, "the respelled candidate registered above");
    assert!(!after_removal.contains(&number));
    let mut son = member("Sana Ullah", "son", "male", "2018-01-01", None);
    son["father_or_husband_name"] = json!("Gul Khan");
    let added =
        app.call_with("POST", &format!("{base}/members"), Some(&token), Some(&son), &[("if-match", "\"v4\"")]).await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    assert_eq!(same_name_matches(&app, &token, "15602-2000008-1", son.clone()).await, vec![number.clone()]);

    // Imported households are found too (the batch path writes its members' keys).
    let imported = json!({"district": "swat", "members": [
        member("Akbar Ali", "head", "male", "1950-06-06", None)
    ]});
    let mut resp = app
        .client
        .post(app.url("/api/v1/imports/households"))
        .bearer_auth(&token)
        .insert_header(("content-type", "application/x-ndjson"))
        .send_body(format!("{imported}\n"))
        .await
        .expect("import");
    let report: Value = resp.json().limit(1 << 20).await.expect("report");
    assert_eq!(report["summary"]["accepted"], 1, "{report:?}");
    let akbar = member("Akbar Ali", "parent", "male", "1950-06-06", None);
    let matches = same_name_matches(&app, &token, "15602-2000009-1", akbar).await;
    assert_eq!(matches.len(), 1);
    assert_ne!(matches[0], number);

    let (stored, expected) = name_keys(&app);
    assert_eq!(stored.len(), expected.len());
    assert_eq!(stored, expected);
    assert!(stored.iter().any(|(group, key, ..)| group == key), "a member without a father/husband name");
    assert!(stored.iter().any(|(group, ..)| group == "gul khan"), "grouped by the father/husband name");
    assert!(stored.iter().any(|(group, ..)| group == "گل خان"), "in Urdu script too");

    // The migration's backfill, run again on these members, writes the same rows.
    let backend = if app.db.is_postgres() { "postgres" } else { "sqlite" };
    let up = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
        .join("2026-12-07-000016_member_name_keys/up.sql");
    let sql = std::fs::read_to_string(up).expect("up.sql");
    execute_sql(&app.db, &format!("DROP TABLE member_name_keys;\n{sql}"));
    let (backfilled, _) = name_keys(&app);
    assert_eq!(backfilled, stored);
}
