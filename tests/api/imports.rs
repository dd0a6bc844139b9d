//! Bulk import over HTTP and the CLI, and the demo-data generator.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const CSV: &str = "\
household_key,district,rooms,full_name,relation_to_head,sex,date_of_birth,id_type,id_number,member_monthly_income_pkr
A,swat,2,Gul Khan,head,male,1975-03-01,cnic,15602-1111111-1,12000
A,,,بی بی,spouse,female,1980-01-01,none,,
B,swat,,Sher Ali,head,male,1979-01-01,cnic,15602-2222222-1,
B,,,Nobody,son,male,2090-01-01,none,,
C,swat,3,Wali,head,male,1970-01-01,cnic,15602-3333333-1,
D,peshawar,1,Outsider,head,male,1970-01-01,cnic,17301-4444444-1,
";

async fn import(app: &TestApp, token: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let mut resp = app
        .client
        .post(app.url("/api/v1/imports/households"))
        .bearer_auth(token)
        .insert_header(("content-type", content_type))
        .send_body(body.to_string())
        .await
        .expect("sent");
    let status = resp.status();
    (status, resp.json().limit(1 << 20).await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_file_with_good_bad_and_duplicate_households_gives_the_exact_report() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let token = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    // C is already registered (same head ID number).
    let existing = json!({"district": "swat", "members": [{"full_name": "Wali", "relation_to_head": "head", "sex": "male",
        "date_of_birth": "1970-01-01", "id_type": "cnic", "id_number": "15602-3333333-1"}]});
    let c = app.call("POST", "/api/v1/households", Some(&token), Some(&existing)).await;
    assert_eq!(c.status, StatusCode::CREATED);

    let (status, report) = import(&app, &token, "text/csv", CSV).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["summary"], json!({"accepted": 1, "rejected": 2, "duplicate": 1}));
    let results = report["results"].as_array().expect("results");
    let outcomes: Vec<_> =
        results.iter().map(|r| (r["household_key"].clone(), r["outcome"].clone(), r["line"].clone())).collect();
    assert_eq!(
        outcomes,
        vec![
            (json!("A"), json!("accepted"), json!(2)),
            (json!("B"), json!("rejected"), json!(4)),
            (json!("C"), json!("duplicate"), json!(6)),
            (json!("D"), json!("rejected"), json!(7)),
        ]
    );
    assert_eq!(results[1]["errors"][0]["field"], "members[1].date_of_birth");
    assert_eq!(results[2]["household_number"], c.body["household_number"]);
    assert_eq!(results[3]["errors"][0]["code"], "not_assigned");

    let a = app
        .call(
            "GET",
            &format!("/api/v1/households/{}", results[0]["household_id"].as_str().expect("id")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(a.body["members"].as_array().expect("members").len(), 2);
    assert_eq!(a.body["members"][0]["monthly_income_pkr"], 12000);
    assert_eq!(a.body["rooms"], 2);
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&token), None).await;
    assert_eq!(search.body["items"].as_array().expect("items").len(), 2, "exactly the good household was added");
    let half = app.call("GET", "/api/v1/households?id_number=15602-2222222-1", Some(&token), None).await;
    assert_eq!(half.body["items"], json!([]), "no half of household B");

    // Running the same file again stores nothing new.
    let (_, again) = import(&app, &token, "text/csv", CSV).await;
    assert_eq!(again["summary"], json!({"accepted": 0, "rejected": 2, "duplicate": 2}));
    assert_eq!(again["results"][0]["household_id"], results[0]["household_id"]);
}

#[actix_web::test]
async fn duplicates_inside_one_file_are_reported_against_the_first_and_every_import_is_recorded() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let token = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let household = |name: &str, id: &str| {
        json!({"district": "swat", "members": [{"full_name": name, "relation_to_head": "head", "sex": "male",
            "date_of_birth": "1975-03-01", "id_type": "cnic", "id_number": id}]})
    };
    let first = household("Gul", "15602-5555555-1");
    let same_person = household("Gul Khan", "15602-5555555-1");
    let other = household("Sher", "15602-6666666-1");
    // Line 2 repeats line 1's person in another record, line 3 repeats line 1 exactly.
    let body = format!("{first}\n{same_person}\n{first}\n{other}\n");
    let (status, report) = import(&app, &token, "application/x-ndjson", &body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["summary"], json!({"accepted": 2, "rejected": 0, "duplicate": 2}));
    let results = report["results"].as_array().expect("results");
    let outcomes: Vec<_> = results.iter().map(|r| r["outcome"].as_str().expect("outcome")).collect();
    assert_eq!(outcomes, ["accepted", "duplicate", "duplicate", "accepted"]);
    for dup in &results[1..3] {
        assert_eq!(dup["household_id"], results[0]["household_id"], "named after the first: {dup}");
        assert_eq!(dup["household_number"], results[0]["household_number"]);
    }
    let numbers: Vec<&str> =
        [&results[0], &results[3]].iter().map(|r| r["household_number"].as_str().expect("n")).collect();
    assert_ne!(numbers[0], numbers[1]);
    assert!(numbers.iter().all(|n| n.starts_with("SWAT-")), "{numbers:?}");

    // Each stored household is readable, has its creation in history, and an audit event.
    for r in [&results[0], &results[3]] {
        let id = r["household_id"].as_str().expect("id");
        let got = app.call("GET", &format!("/api/v1/households/{id}"), Some(&token), None).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body["household_number"], r["household_number"]);
        let history = app.call("GET", &format!("/api/v1/households/{id}/history"), Some(&token), None).await;
        assert_eq!(history.body["items"][0]["change_type"], "create", "{}", history.body);
    }
    let auditor = app.token_for("aziz", Role::Auditor).await;
    let events = app.call("GET", "/api/v1/audit/events?action=household_create", Some(&auditor), None).await;
    assert_eq!(events.body["items"].as_array().expect("items").len(), 2, "{}", events.body);
    let verify = app.call("GET", "/api/v1/audit/verify", Some(&auditor), None).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
}

#[actix_web::test]
async fn json_lines_imports_and_reports_by_line() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let token = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let good = json!({"district": "swat", "members": [{"full_name": "Gul", "relation_to_head": "head", "sex": "male",
        "date_of_birth": "1975-03-01", "id_type": "none"}]});
    let body = format!("{good}\n\n{{not json\n{}\n", json!({"district": "swat", "members": []}));
    let (status, report) = import(&app, &token, "application/x-ndjson", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["summary"], json!({"accepted": 1, "rejected": 2, "duplicate": 0}));
    let lines: Vec<_> = report["results"].as_array().expect("results").iter().map(|r| r["line"].clone()).collect();
    assert_eq!(lines, vec![json!(1), json!(3), json!(4)]);
    assert_eq!(report["results"][1]["errors"][0]["code"], "malformed_json");

    let (status, problem) = import(&app, &token, "application/pdf", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "unsupported_media_type");
    let (status, problem) = import(&app, &token, "text/csv", "household_key,shoe_size\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().expect("detail").contains("shoe_size"));
}

#[test]
fn the_cli_imports_a_generated_file_and_a_rerun_creates_nothing() {
    let rules = tempfile::TempDir::new().expect("dir");
    let db = TestDb::new();
    let env = test_source(db.url(), rules.path());
    let file = rules.path().join("households.jsonl");
    let out = run_cli(
        &env,
        &["demo-data", "--households", "40", "--seed", "9", "--output", file.to_str().expect("path")],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = std::fs::read_to_string(&file).expect("file").lines().count();
    assert_eq!(lines, 40);

    let first = run_cli(&env, &["import", "households", file.to_str().expect("path")], "");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stderr).contains("accepted 40, rejected 0, duplicate 0"));
    let report: Vec<Value> =
        String::from_utf8_lossy(&first.stdout).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(report.len(), 40);
    assert!(report.iter().all(|r| r["outcome"] == "accepted"));

    let second = run_cli(&env, &["import", "households", file.to_str().expect("path")], "");
    assert!(String::from_utf8_lossy(&second.stderr).contains("accepted 0, rejected 0, duplicate 40"));
    let direct = run_cli(&env, &["demo-data", "--households", "25", "--seed", "10"], "");
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("stored 25 households"),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let verify = run_cli(&env, &["audit", "verify"], "");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}
