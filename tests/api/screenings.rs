//! Stored screenings of registered households: results, decisions that follow every change,
//! history, district scoping and idempotent retries.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn clerk(app: &TestApp, name: &str, district: &str) -> String {
    app.create_user(name, Role::Clerk, &[district], &[]).await;
    let reply = app.login(name, PASSWORD).await;
    reply.body["access_token"].as_str().expect("token").to_string()
}

fn status_of<'a>(body: &'a Value, scheme: &str) -> &'a Value {
    &body["results"].as_array().expect("results").iter().find(|r| r["scheme"] == scheme).expect("scheme")["status"]
}

#[actix_web::test]
async fn a_stored_household_is_screened_and_its_decisions_follow_every_change() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let infant_id = created.body["members"][2]["id"].as_str().expect("member id").to_string();

    // Registration already decided the household's schemes (for today).
    let decisions = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert_eq!(decisions.status, StatusCode::OK, "{:?}", decisions.body);
    assert!(decisions.body["eligible"].as_array().expect("eligible").contains(&json!("bisp-kafaalat")));

    let path = format!("/api/v1/households/{id}/screenings?as_of=2025-01-15");
    let screened = app.call("POST", &path, Some(&token), None).await;
    assert_eq!(screened.status, StatusCode::CREATED, "{:?}", screened.body);
    let body = &screened.body;
    assert_eq!(body["household_id"], id.as_str());
    assert_eq!(body["as_of"], "2025-01-15");
    assert_eq!(body["rules_version"].as_str().map(str::len), Some(64));
    assert_eq!(body["screened_by"], "amina");
    assert!(body["results"].as_array().expect("results").len() >= 35);
    assert_eq!(status_of(body, "bisp-kafaalat"), "eligible");
    assert_eq!(status_of(body, "bisp-nashonuma"), "eligible");
    // Unknown member fields (the infant's employment, …) leave schemes undetermined, and the
    // missing fields name the member by id.
    let member_ids: Vec<&Value> =
        created.body["members"].as_array().expect("members").iter().map(|m| &m["id"]).collect();
    let named = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .flat_map(|r| r["missing_fields"].as_array().cloned().unwrap_or_default())
        .filter(|m| member_ids.contains(&&m["member_id"]))
        .count();
    assert!(named > 0, "no member-level missing field in {body}");
    let screening_id = body["screening_id"].as_str().expect("screening id").to_string();

    // Unchanged household: the latest screening is that one.
    let latest = app.call("GET", &format!("/api/v1/households/{id}/screenings/latest"), Some(&token), None).await;
    assert_eq!(latest.status, StatusCode::OK);
    assert_eq!(latest.body["screening_id"], screening_id.as_str());

    // A vehicle makes the household ineligible for Kafaalat: the decisions follow at once.
    let patch = json!({"owns_vehicle": true});
    let updated = app
        .call_with("PATCH", &format!("/api/v1/households/{id}"), Some(&token), Some(&patch), &[("if-match", "\"v1\"")])
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    let decisions = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert!(!decisions.body["eligible"].as_array().expect("eligible").contains(&json!("bisp-kafaalat")));
    let change = decisions.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["scheme"] == "bisp-kafaalat" && c["to_status"] == "not_eligible")
        .cloned()
        .expect("the change of Kafaalat is recorded");
    assert_eq!(change["from_status"], "eligible");
    assert_eq!(change["cause"], "household_change");
    // Taleemi Wazaif follows Kafaalat, and its change is recorded too.
    assert!(
        decisions.body["changes"].as_array().expect("changes").iter().any(|c| c["scheme"] == "bisp-taleemi-wazaif")
    );

    // The latest screening is not stale: it is done again on the changed household.
    let latest = app.call("GET", &format!("/api/v1/households/{id}/screenings/latest"), Some(&token), None).await;
    assert_eq!(latest.status, StatusCode::OK);
    assert_ne!(latest.body["screening_id"], screening_id.as_str());
    assert_eq!(latest.body["household_version"], 2);
    assert_eq!(status_of(&latest.body, "bisp-kafaalat"), "not_eligible");

    // A member change flips a decision too: the infant removed, Nashonuma's criterion fails.
    let removal = json!({"reason": "data_error"});
    let removed = app
        .call_with(
            "POST",
            &format!("/api/v1/households/{id}/members/{infant_id}/removal"),
            Some(&token),
            Some(&removal),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let decisions = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert_eq!(decisions.body["household_version"], 3);

    // History: newest first, three screenings so far (one asked, one refreshed, none for the removal).
    let history = app.call("GET", &format!("/api/v1/households/{id}/screenings?limit=1"), Some(&token), None).await;
    assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(1));
    let cursor = history.body["next_cursor"].as_str().expect("cursor").to_string();
    assert_eq!(history.body["items"][0]["id"], latest.body["screening_id"]);
    let older = app
        .call("GET", &format!("/api/v1/households/{id}/screenings?limit=10&cursor={cursor}"), Some(&token), None)
        .await;
    assert_eq!(older.body["items"][0]["id"], screening_id.as_str());
    assert!(older.body["items"][0]["eligible"].as_array().expect("eligible").contains(&json!("bisp-kafaalat")));
}

#[actix_web::test]
async fn screenings_are_scoped_to_the_clerks_districts_and_retries_are_idempotent() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let other = clerk(&app, "bilal", "peshawar").await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    for (method, path) in [
        ("POST", format!("/api/v1/households/{id}/screenings")),
        ("GET", format!("/api/v1/households/{id}/screenings")),
        ("GET", format!("/api/v1/households/{id}/screenings/latest")),
        ("GET", format!("/api/v1/households/{id}/decisions")),
    ] {
        let reply = app.call(method, &path, Some(&other), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        let missing = path.replace(&id, "00000000-0000-0000-0000-000000000000");
        let reply = app.call(method, &missing, Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {missing}");
    }
    let path = format!("/api/v1/households/{id}/screenings?as_of=2025-01-15");
    let headers = [("idempotency-key", "screen-once-1")];
    let first = app.call_with("POST", &path, Some(&token), None, &headers).await;
    let again = app.call_with("POST", &path, Some(&token), None, &headers).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(first.body["screening_id"], again.body["screening_id"]);
    let history = app.call("GET", &format!("/api/v1/households/{id}/screenings"), Some(&token), None).await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(1));
    let bad =
        app.call("POST", &format!("/api/v1/households/{id}/screenings?as_of=2025-02-30"), Some(&token), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn editing_a_member_flips_a_decision_and_records_the_change() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let son = created.body["members"][1]["id"].as_str().expect("son").to_string();
    let before = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert!(before.body["eligible"].as_array().expect("eligible").contains(&json!("bisp-taleemi-wazaif")));
    // The son's attendance drops below 70%: the stipend's school criterion fails.
    let patch = json!({"attendance_pct": 50});
    let edited = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{son}"),
            Some(&token),
            Some(&patch),
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let after = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert!(!after.body["eligible"].as_array().expect("eligible").contains(&json!("bisp-taleemi-wazaif")));
    let change = after.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["scheme"] == "bisp-taleemi-wazaif")
        .cloned()
        .expect("the change is recorded");
    assert_eq!(
        (change["from_status"].as_str(), change["to_status"].as_str()),
        (Some("eligible"), Some("not_eligible"))
    );
    assert_eq!(change["cause"], "household_change");
}

#[actix_web::test]
async fn search_results_tell_when_a_household_was_last_screened() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&poor_swat_household())).await;
    let number = created.body["household_number"].as_str().expect("number").to_string();
    let search = format!("/api/v1/households?household_number={number}");
    let before = app.call("GET", &search, Some(&token), None).await;
    assert_eq!(before.body["items"][0]["last_screened_at"], Value::Null, "{:?}", before.body);
    let id = created.body["id"].as_str().expect("id");
    let screened = app.call("POST", &format!("/api/v1/households/{id}/screenings"), Some(&token), None).await;
    assert_eq!(screened.status, StatusCode::CREATED);
    let after = app.call("GET", &search, Some(&token), None).await;
    assert_eq!(after.body["items"][0]["last_screened_at"], screened.body["screened_at"], "{:?}", after.body);
}

/// The stored decisions row's `missing` text and date, read directly.
fn stored_missing(app: &TestApp, household_id: &str) -> (Option<String>, chrono::NaiveDate) {
    use diesel::prelude::*;
    use sahulat::db::schema::household_decisions as d;
    let mut conn = app.db.connect();
    d::table.find(household_id).select((d::missing, d::as_of)).first(&mut conn).expect("decisions row")
}

/// What a pre-screening says the undetermined schemes wait for, in the stored encoding.
fn missing_in(screening: &Value) -> String {
    let results = screening["results"].as_array().expect("results");
    let undetermined = results.iter().filter(|r| r["status"] == "undetermined").map(|r| {
        let mut fields: Vec<&str> = Vec::new();
        for f in r["missing_fields"].as_array().expect("missing fields") {
            let field = f["field"].as_str().expect("field");
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        format!("{}:{}", r["scheme"].as_str().expect("scheme"), fields.join("+"))
    });
    undetermined.collect::<Vec<_>>().join(";")
}

fn fields_of<'a>(missing: &'a str, scheme: &str) -> Option<Vec<&'a str>> {
    sahulat::screening::store::parse_missing(missing).find(|(s, _)| *s == scheme).map(|(_, fields)| fields.collect())
}

#[actix_web::test]
async fn the_decisions_row_keeps_what_each_undetermined_scheme_waits_for_and_follows_changes() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let mut body = poor_swat_household();
    body.as_object_mut().expect("object").remove("pmt_score");
    body["members"][0].as_object_mut().expect("member").remove("taxpayer");
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let head = created.body["members"][0]["id"].as_str().expect("head").to_string();

    // Registration stored, per undetermined scheme, the fields explained mode names.
    let (missing, as_of) = stored_missing(&app, &id);
    let missing = missing.expect("worked out at registration");
    let preview = |body: Value| {
        let app = &app;
        let token = &token;
        async move {
            let reply = app.call("POST", &format!("/api/v1/screenings?as_of={as_of}"), Some(token), Some(&body)).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            missing_in(&reply.body)
        }
    };
    assert_eq!(missing, preview(body.clone()).await);
    let kafaalat = fields_of(&missing, "bisp-kafaalat").expect("Kafaalat waits");
    assert_eq!(kafaalat.first(), Some(&"pmt_score"), "{missing}");
    assert!(kafaalat.contains(&"taxpayer"), "{missing}");
    let unique: std::collections::HashSet<&&str> = kafaalat.iter().collect();
    assert_eq!(unique.len(), kafaalat.len(), "each field once: {missing}");

    // The PMT score is collected: Kafaalat waits only for the head's taxpayer status now.
    let patch = json!({"pmt_score": 20});
    let updated = app
        .call_with("PATCH", &format!("/api/v1/households/{id}"), Some(&token), Some(&patch), &[("if-match", "\"v1\"")])
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    let (missing, _) = stored_missing(&app, &id);
    let missing = missing.expect("missing");
    body["pmt_score"] = json!(20);
    assert_eq!(missing, preview(body.clone()).await);
    assert_eq!(fields_of(&missing, "bisp-kafaalat"), Some(vec!["taxpayer"]), "{missing}");

    // And the taxpayer status: Kafaalat is decided, and waits for nothing.
    let patch = json!({"taxpayer": false});
    let edited = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{head}"),
            Some(&token),
            Some(&patch),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
    let (missing, _) = stored_missing(&app, &id);
    let missing = missing.expect("missing");
    body["members"][0]["taxpayer"] = json!(false);
    assert_eq!(missing, preview(body).await);
    assert_eq!(fields_of(&missing, "bisp-kafaalat"), None, "{missing}");
}
