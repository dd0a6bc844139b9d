//! `sahulat screen --all`: writes only changed decisions, summarises per scheme, resumes.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::json;

use crate::helpers::*;

fn household(id_number: &str, pmt: f64) -> serde_json::Value {
    json!({
        "district": "swat",
        "pmt_score": pmt,
        "owns_vehicle": false,
        "members": [
            {"full_name": "Zarina Bibi", "relation_to_head": "head", "sex": "female", "date_of_birth": "1985-03-01",
             "id_type": "cnic", "id_number": id_number, "disability": "none", "govt_employee": false, "taxpayer": false}
        ]
    })
}

#[actix_web::test]
async fn rescreening_writes_only_changes_summarises_them_and_resumes() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let token = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let mut ids = Vec::new();
    for (n, id_number) in ["15602-1111111-2", "15602-2222222-4", "15602-3333333-6"].iter().enumerate() {
        let reply =
            app.call("POST", "/api/v1/households", Some(&token), Some(&household(id_number, 10.0 + n as f64))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().expect("id").to_string());
    }
    ids.sort();
    // Two households were decided by other rules (say, last year's), one never (an import).
    execute_sql(
        &app.db,
        &format!(
            "UPDATE household_decisions SET rules_version = 'old', eligible = '' WHERE household_id <> '{}'",
            ids[0]
        ),
    );
    execute_sql(&app.db, &format!("DELETE FROM household_decisions WHERE household_id = '{}'", ids[0]));

    let env = test_source(app.db.url(), app.rules.path());
    let out = run_cli(&env, &["screen", "--all", "--as-of", "2025-01-15", "--chunk", "2"], "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("finished run")
            && stdout.contains("3 households decided")
            && stdout.contains("3 decision rows written"),
        "{stdout}"
    );
    let kafaalat = stdout.lines().find(|l| l.starts_with("bisp-kafaalat")).expect("kafaalat line");
    let counts: Vec<&str> = kafaalat.split_whitespace().skip(1).collect();
    assert_eq!(counts, ["2", "0", "0"], "two households newly eligible (the third had no earlier decision): {stdout}");

    // Nothing changed since: nothing is written.
    let again = run_cli(&env, &["screen", "--all", "--as-of", "2025-01-15"], "");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("0 decision rows written"), "{stdout}");

    // An interrupted run (one household committed) resumes after it.
    let version = app.state.rules.current().set.version.clone();
    execute_sql(&app.db, "UPDATE household_decisions SET rules_version = 'older'");
    execute_sql(
        &app.db,
        &format!(
            "INSERT INTO rescreen_runs (id, rules_version, as_of, district_code, status, last_household_id, processed, \
             written, summary, started_at, updated_at) VALUES ('run-1', '{version}', '2025-01-20', NULL, 'running', \
             '{}', 1, 1, '{{}}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            ids[0]
        ),
    );
    let resumed = run_cli(&env, &["screen", "--all", "--as-of", "2025-01-20"], "");
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert!(stdout.contains("resumed run run-1") && stdout.contains("3 households decided"), "{stdout}");
    assert!(stdout.contains("3 decision rows written"), "1 before the interruption + the 2 after it: {stdout}");

    let refused = run_cli(&env, &["screen", "--district", "swat"], "");
    assert!(!refused.status.success(), "--all is required");
    let unknown = run_cli(&env, &["screen", "--all", "--district", "atlantis"], "");
    assert!(!unknown.status.success());
}

#[actix_web::test]
async fn scheme_administrators_list_the_households_eligible_for_their_own_schemes() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    app.create_user("bilal", Role::Clerk, &["peshawar"], &[]).await;
    let swat = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let peshawar = app.login("bilal", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let mut numbers = Vec::new();
    for (token, district, id_number, pmt) in [
        (&swat, "swat", "15602-1111111-2", 10.0),
        (&swat, "swat", "15602-2222222-4", 90.0),
        (&peshawar, "peshawar", "17301-3333333-6", 12.0),
    ] {
        let mut body = household(id_number, pmt);
        body["district"] = json!(district);
        let reply = app.call("POST", "/api/v1/households", Some(token), Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        numbers.push(reply.body["household_number"].as_str().expect("number").to_string());
    }
    app.create_user("bisp-officer", Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await;
    let bisp = app.login("bisp-officer", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let all = app.call("GET", "/api/v1/schemes/bisp-kafaalat/households", Some(&bisp), None).await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let listed: Vec<&str> =
        all.body["items"].as_array().expect("items").iter().filter_map(|h| h["household_number"].as_str()).collect();
    // The two poor households are eligible; the one with PMT 90 is not.
    assert_eq!(listed.len(), 2, "{:?}", all.body);
    assert!(listed.contains(&numbers[0].as_str()) && listed.contains(&numbers[2].as_str()));
    assert!(!all.body.to_string().contains("Zarina"), "no names");
    assert!(all.body["items"][0].get("eligible").is_none(), "no other scheme's data");
    let swat_only =
        app.call("GET", "/api/v1/schemes/bisp-kafaalat/households?district=swat&limit=1", Some(&bisp), None).await;
    assert_eq!(swat_only.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(swat_only.body["items"][0]["household_number"], numbers[0].as_str());
    let other = app.call("GET", "/api/v1/schemes/zakat-guzara/households", Some(&bisp), None).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let bad = app.call("GET", "/api/v1/schemes/bisp-kafaalat/households?status=maybe", Some(&bisp), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.call("GET", "/api/v1/schemes/bisp-kafaalat/households", Some(&swat), None).await.status,
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn an_admin_starts_a_rescreen_through_the_api_and_follows_it() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let clerk = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    for id_number in ["15602-1111111-2", "15602-2222222-4"] {
        let reply = app.call("POST", "/api/v1/households", Some(&clerk), Some(&household(id_number, 10.0))).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let admin = app.token_for("root", Role::Admin).await;
    let follow = |location: String| {
        let (app, admin) = (&app, &admin);
        async move {
            for _ in 0..100 {
                let run = app.call("GET", &location, Some(admin), None).await;
                assert_eq!(run.status, StatusCode::OK, "{:?}", run.body);
                if run.body["status"] == "done" {
                    return run.body;
                }
                actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the re-screening job did not finish");
        }
    };
    let started = app.call("POST", "/api/v1/rescreens", Some(&admin), Some(&json!({"as_of": "2025-01-15"}))).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let done = follow(started.header("location").expect("location")).await;
    assert_eq!(done["processed"], 2);
    assert_eq!(done["as_of"], "2025-01-15");
    assert!(done["summary"].is_object());

    // A reload can start one with the new rules.
    let reloaded = app.call("POST", "/api/v1/rules/reload?rescreen=true", Some(&admin), None).await;
    assert_eq!(reloaded.status, StatusCode::OK, "{:?}", reloaded.body);
    let id = reloaded.body["rescreen"]["id"].as_str().expect("run id").to_string();
    let done = follow(format!("/api/v1/rescreens/{id}")).await;
    assert_eq!(done["processed"], 2);

    let bad = app.call("POST", "/api/v1/rescreens", Some(&admin), Some(&json!({"district": "atlantis"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.call("POST", "/api/v1/rescreens", Some(&clerk), Some(&json!({}))).await.status,
        StatusCode::FORBIDDEN
    );
    // No body at all: the whole registry, today. A malformed body is refused, not defaulted.
    let empty = app.call("POST", "/api/v1/rescreens", Some(&admin), None).await;
    assert_eq!(empty.status, StatusCode::ACCEPTED, "{:?}", empty.body);
    follow(empty.header("location").expect("location")).await;
    let broken = app
        .client
        .post(app.url("/api/v1/rescreens"))
        .insert_header(("authorization", format!("Bearer {admin}")))
        .send_body("{\"as_of\": ")
        .await
        .expect("sent");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    // An array of the fields in order is not an object (schemathesis found it accepted).
    let array = app.call("POST", "/api/v1/rescreens", Some(&admin), Some(&json!([null, null]))).await;
    assert_eq!(array.status, StatusCode::BAD_REQUEST, "{:?}", array.body);
}

/// Every stored decisions row's `missing`, by household id.
fn stored_missing(app: &TestApp) -> Vec<(String, Option<String>)> {
    use diesel::prelude::*;
    use sahulat::db::schema::household_decisions as d;
    let mut conn = app.db.connect();
    d::table.select((d::household_id, d::missing)).order(d::household_id).load(&mut conn).expect("decisions")
}

fn decision_changes(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use sahulat::db::schema::decision_changes as c;
    let mut conn = app.db.connect();
    c::table.count().get_result(&mut conn).expect("count")
}

#[actix_web::test]
async fn rescreening_fills_the_missing_fields_of_rows_written_before_they_were_kept() {
    let app = spawn_app().await;
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    let token = app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let mut unknown_pmt = household("15602-2222222-4", 0.0);
    unknown_pmt.as_object_mut().expect("object").remove("pmt_score");
    let mut ids = Vec::new();
    for body in [household("15602-1111111-2", 10.0), unknown_pmt] {
        let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().expect("id").to_string());
    }
    let env = test_source(app.db.url(), app.rules.path());
    let screen = || {
        let out = run_cli(&env, &["screen", "--all", "--as-of", "2025-01-15"], "");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    // Decided for 2025-01-15 once; then the rows look as if written before `missing` was kept.
    screen();
    let decided = stored_missing(&app);
    assert!(decided.iter().all(|(_, m)| m.is_some()), "{decided:?}");
    execute_sql(&app.db, "UPDATE household_decisions SET missing = NULL");
    let changes = decision_changes(&app);

    // No status changed, but every row without missing fields is written.
    let stdout = screen();
    assert!(stdout.contains("2 decision rows written"), "{stdout}");
    assert_eq!(stored_missing(&app), decided, "the same text as before");
    assert_eq!(decision_changes(&app), changes, "no change of status is recorded");
    let unknown = decided.iter().find(|(h, _)| *h == ids[1]).and_then(|(_, m)| m.clone()).expect("row");
    let kafaalat: Option<Vec<&str>> = sahulat::screening::store::parse_missing(&unknown)
        .find(|(s, _)| *s == "bisp-kafaalat")
        .map(|(_, fields)| fields.collect());
    assert_eq!(kafaalat, Some(vec!["pmt_score"]), "{unknown}");
    let known = decided.iter().find(|(h, _)| *h == ids[0]).and_then(|(_, m)| m.clone()).expect("row");
    assert!(!known.contains("bisp-kafaalat:"), "{known}");

    // Nothing changed: nothing written. Stored fields that differ are written again.
    assert!(screen().contains("0 decision rows written"));
    execute_sql(&app.db, &format!("UPDATE household_decisions SET missing = 'x:y' WHERE household_id = '{}'", ids[1]));
    assert!(screen().contains("1 decision rows written"));
    assert_eq!(stored_missing(&app), decided);
}
