//! One 422 names every bad field: a district that is unknown or not the clerk's is reported
//! together with the other bad fields, on registration, import, pre-screening, household
//! and member changes, accounts and re-screening. A request whose only mistake is the
//! district keeps its answer (see `households.rs` and `isolation.rs`).

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

/// `field:code` of every error of a 422, in the order given.
fn errors_of(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    assert_eq!(reply.header("content-type").as_deref(), Some("application/problem+json"));
    reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| format!("{}:{}", e["field"].as_str().unwrap_or_default(), e["code"].as_str().unwrap_or_default()))
        .collect()
}

/// A household in `district` with three mistakes besides the district.
fn bad_household(district: &str) -> Value {
    json!({
        "district": district,
        "rooms": 0,
        "members": [
            {"full_name": "Gul Khan", "relation_to_head": "head", "sex": "male", "date_of_birth": "2099-01-01",
             "id_type": "cnic", "id_number": "15602-1234567-1"},
            {"full_name": "Zarmina", "relation_to_head": "daughter", "sex": "girl", "date_of_birth": "2015-02-10",
             "id_type": "none"},
        ]
    })
}

const OTHERS: [&str; 3] = ["members[0].date_of_birth:in_future", "members[1].sex:invalid_choice", "rooms:out_of_range"];

fn with_district(code: &str) -> Vec<String> {
    let mut all: Vec<String> = OTHERS.iter().map(|s| s.to_string()).collect();
    all.insert(0, format!("district:{code}"));
    all
}

async fn token(app: &TestApp, name: &str, role: Role, districts: &[&str]) -> String {
    app.create_user(name, role, districts, &[]).await;
    app.login(name, PASSWORD).await.body["access_token"].as_str().expect("token").to_string()
}

#[actix_web::test]
async fn a_registration_names_a_bad_district_with_the_other_bad_fields() {
    let app = spawn_app().await;
    let clerk = token(&app, "amina", Role::Clerk, &["swat"]).await;
    let register = |body: Value| {
        let (app, clerk) = (&app, clerk.clone());
        async move { app.call("POST", "/api/v1/households", Some(&clerk), Some(&body)).await }
    };
    assert_eq!(errors_of(&register(bad_household("atlantis")).await), with_district("unknown_district"));
    assert_eq!(errors_of(&register(bad_household("peshawar")).await), with_district("not_assigned"));
    // The clerk's own district adds nothing; a district the parser refuses is named once.
    assert_eq!(errors_of(&register(bad_household("swat")).await), OTHERS);
    let mut long = bad_household("swat");
    long["district"] = json!("x".repeat(41));
    assert_eq!(errors_of(&register(long).await)[0], "district:too_long");
    assert_eq!(
        errors_of(&register(without_district(bad_household("swat"))).await).len(),
        4,
        "district:required and the rest"
    );

    // Pre-screening takes any district, but not an unknown one.
    let pre = app.call("POST", "/api/v1/screenings", Some(&clerk), Some(&bad_household("atlantis"))).await;
    assert_eq!(errors_of(&pre), with_district("unknown_district"));
    let pre = app.call("POST", "/api/v1/screenings", Some(&clerk), Some(&bad_household("peshawar"))).await;
    assert_eq!(errors_of(&pre), OTHERS);

    let search = app.call("GET", "/api/v1/households?district=swat", Some(&clerk), None).await;
    assert_eq!(search.body["items"].as_array().map(Vec::len), Some(0), "nothing half-written");
}

fn without_district(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.remove("district");
    }
    body
}

#[actix_web::test]
async fn an_import_line_names_a_bad_district_with_the_other_bad_fields() {
    let app = spawn_app().await;
    let clerk = token(&app, "amina", Role::Clerk, &["swat"]).await;
    let lines: String =
        ["atlantis", "peshawar", "swat"].iter().map(|d| bad_household(d).to_string() + "\n").collect::<String>()
            + &json!({"district": "peshawar", "members": [{"full_name": "Wali", "relation_to_head": "head",
            "sex": "male", "date_of_birth": "1970-01-01", "id_type": "none"}]})
            .to_string();
    let mut resp = app
        .client
        .post(app.url("/api/v1/imports/households"))
        .bearer_auth(&clerk)
        .insert_header(("content-type", "application/x-ndjson"))
        .send_body(lines)
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().limit(1 << 20).await.expect("report");
    let errors: Vec<Vec<String>> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    format!("{}:{}", e["field"].as_str().unwrap_or_default(), e["code"].as_str().unwrap_or_default())
                })
                .collect()
        })
        .collect();
    let others: Vec<String> = OTHERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        errors,
        vec![
            with_district("unknown_district"),
            with_district("not_assigned"),
            others,
            vec!["district:not_assigned".into()]
        ]
    );
}

#[actix_web::test]
async fn a_change_names_a_field_it_may_not_change_with_the_other_bad_fields() {
    let app = spawn_app().await;
    let clerk = token(&app, "amina", Role::Clerk, &["swat"]).await;
    let created = app.call("POST", "/api/v1/households", Some(&clerk), Some(&poor_swat_household())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let path = format!("/api/v1/households/{}", created.body["id"].as_str().expect("id"));
    let patch = json!({"district": "peshawar", "rooms": 0, "phone": "12"});
    let reply = app.call_with("PATCH", &path, Some(&clerk), Some(&patch), &[("if-match", "\"v1\"")]).await;
    assert_eq!(errors_of(&reply), vec!["district:not_editable", "phone:invalid_format", "rooms:out_of_range"]);

    let member = created.body["members"][1]["id"].as_str().expect("member id");
    let patch = json!({"household_id": "x", "sex": "boy", "date_of_birth": "2099-01-01"});
    let path = format!("{path}/members/{member}");
    let reply = app.call_with("PATCH", &path, Some(&clerk), Some(&patch), &[("if-match", "\"v1\"")]).await;
    assert_eq!(errors_of(&reply), vec!["date_of_birth:in_future", "household_id:not_editable", "sex:invalid_choice"]);
}

#[actix_web::test]
async fn an_account_and_a_rescreen_name_a_bad_district_with_the_other_bad_fields() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let body =
        json!({"username": "B", "role": "clerk", "password": "short", "districts": ["atlantis"], "schemes": ["x"]});
    let mut errors = errors_of(&app.call("POST", "/api/v1/users", Some(&admin), Some(&body)).await);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "districts:unknown_district",
            "password:weak_password",
            "schemes:invalid_format",
            "schemes:not_allowed",
            "username:invalid_format",
        ]
    );
    let body = json!({"as_of": "yesterday", "district": "atlantis"});
    let reply = app.call("POST", "/api/v1/rescreens", Some(&admin), Some(&body)).await;
    assert_eq!(errors_of(&reply), vec!["as_of:invalid_date", "district:unknown_district"]);
}
