//! The scheme catalogue, pre-screening and rule reloads over HTTP.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn result<'a>(body: &'a Value, scheme: &str) -> &'a Value {
    body["results"].as_array().expect("results").iter().find(|r| r["scheme"] == scheme).expect("scheme result")
}

#[actix_web::test]
async fn the_catalogue_lists_every_scheme_with_parameters_in_force_at_a_date() {
    let app = spawn_app().await;
    let token = app.token_for("sana", Role::Auditor).await;
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/schemes?limit=15&cursor={c}"),
            None => "/api/v1/schemes?limit=15".to_string(),
        };
        let reply = app.call("GET", &path, Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        for item in reply.body["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_string());
        }
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 51, "{} schemes", ids.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "pages are in id order without repeats");
    for reference in ["bisp-kafaalat", "zakat-guzara", "essi-medical-care", "senior-citizen-card"] {
        assert!(ids.iter().any(|i| i == reference), "{reference} missing");
    }

    let wage = |body: &Value| {
        body["parameters"].as_array().expect("parameters").iter().find(|p| p["name"] == "kp_minimum_wage").cloned()
    };
    let before = app.call("GET", "/api/v1/schemes/essi-medical-care?as_of=2024-06-30", Some(&token), None).await;
    let after = app.call("GET", "/api/v1/schemes/essi-medical-care?as_of=2024-07-01", Some(&token), None).await;
    assert_eq!(wage(&before.body).expect("param")["value"], 32000);
    assert_eq!(wage(&after.body).expect("param")["value"], 36000);
    assert_eq!(wage(&after.body).expect("param")["effective_from"], "2024-07-01");
    // SCHEMES.md revision 2: Rs 40,000 from 2025-07-01.
    let wage_2025 = app.call("GET", "/api/v1/schemes/essi-medical-care?as_of=2025-07-01", Some(&token), None).await;
    assert_eq!(wage(&wage_2025.body).expect("param")["value"], 40000);
    assert_eq!(wage(&wage_2025.body).expect("param")["effective_from"], "2025-07-01");
    assert!(after.body["documents"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(after.body["criteria"][0]["label"]["ur"].is_string());

    let missing = app.call("GET", "/api/v1/schemes/no-such-scheme", Some(&token), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = app.call("GET", "/api/v1/schemes?as_of=2024-13-01", Some(&token), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "as_of");
}

#[actix_web::test]
async fn pre_screening_explains_every_scheme_and_stores_nothing_but_an_audit_record() {
    let app = spawn_app().await;
    let clerk = app.token_for("amina", Role::Clerk).await;
    let reply =
        app.call("POST", "/api/v1/screenings?as_of=2025-01-15", Some(&clerk), Some(&poor_swat_household())).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let body = &reply.body;
    assert_eq!(body["as_of"], "2025-01-15");
    assert!(body.get("household_id").is_none());
    assert_eq!(body["rules_version"].as_str().map(str::len), Some(64));
    let results = body["results"].as_array().expect("results");
    assert!(results.len() >= 35, "{} active schemes", results.len());

    let kafaalat = result(body, "bisp-kafaalat");
    assert_eq!(kafaalat["status"], "eligible", "{kafaalat}");
    assert_eq!(kafaalat["criteria"].as_array().map(Vec::len), Some(5));
    assert!(kafaalat["criteria"].as_array().expect("criteria").iter().all(|c| c["outcome"] == true));
    assert!(kafaalat["criteria"][0]["label_ur"].is_string());
    // Derived eligibility: the stipend follows Kafaalat, and the enrolled son qualifies.
    assert_eq!(result(body, "bisp-taleemi-wazaif")["status"], "eligible");
    // The infant (under 24 months) makes the household eligible for Nashonuma.
    assert_eq!(result(body, "bisp-nashonuma")["status"], "eligible");
    // No one is 60 or over.
    let senior = result(body, "senior-citizen-card");
    assert_eq!(senior["status"], "not_eligible");
    assert_eq!(senior["failed_criteria"], json!(["senior_with_cnic"]));
    assert_eq!(senior["subject_to"], json!([]));
    let total = body["summary"]["eligible"].as_u64().unwrap_or(0)
        + body["summary"]["not_eligible"].as_u64().unwrap_or(0)
        + body["summary"]["undetermined"].as_u64().unwrap_or(0);
    assert_eq!(total as usize, results.len());

    // Unknown PMT score: Kafaalat waits for it, and says so.
    let mut unknown = poor_swat_household();
    unknown.as_object_mut().expect("object").remove("pmt_score");
    unknown["members"][0].as_object_mut().expect("member").remove("taxpayer");
    let reply = app.call("POST", "/api/v1/screenings?as_of=2025-01-15", Some(&clerk), Some(&unknown)).await;
    let kafaalat = result(&reply.body, "bisp-kafaalat");
    assert_eq!(kafaalat["status"], "undetermined", "{kafaalat}");
    let missing = kafaalat["missing_fields"].as_array().expect("missing");
    assert!(missing.contains(&json!({"field": "pmt_score"})), "{missing:?}");
    assert!(missing.contains(&json!({"member_index": 0, "field": "taxpayer"})), "{missing:?}");
    assert_eq!(kafaalat["criteria"][3]["outcome"], Value::Null);

    // Nothing stored; one audit record per screening, without names or ID numbers.
    let search = app.call("GET", "/api/v1/households?district=swat", Some(&clerk), None).await;
    assert_eq!(search.body["items"], json!([]));
    let auditor = app.token_for("sana", Role::Auditor).await;
    let events = app.call("GET", "/api/v1/audit/events?action=screening_preview", Some(&auditor), None).await;
    let items = events.body["items"].as_array().expect("events");
    assert_eq!(items.len(), 2, "{:?}", events.body);
    let text = events.body.to_string();
    assert!(!text.contains("زرینہ") && !text.contains("1560212345672") && !text.contains("15602-1234567-2"));
}

#[actix_web::test]
async fn pre_screening_refuses_bad_input_field_by_field_and_other_roles() {
    let app = spawn_app().await;
    let clerk = app.token_for("amina", Role::Clerk).await;
    let mut bad = poor_swat_household();
    bad["members"][1]["sex"] = json!("femal");
    bad["pmt_score"] = json!(-3);
    let reply = app.call("POST", "/api/v1/screenings", Some(&clerk), Some(&bad)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    let fields: Vec<&str> =
        reply.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"members[1].sex") && fields.contains(&"pmt_score"), "{fields:?}");

    let mut nowhere = poor_swat_household();
    nowhere["district"] = json!("atlantis");
    let reply = app.call("POST", "/api/v1/screenings", Some(&clerk), Some(&nowhere)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);

    let reply =
        app.call("POST", "/api/v1/screenings?as_of=yesterday", Some(&clerk), Some(&poor_swat_household())).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    let scheme_admin = app.token_for("bilal", Role::SchemeAdmin).await;
    let reply = app.call("POST", "/api/v1/screenings", Some(&scheme_admin), Some(&poor_swat_household())).await;
    assert_eq!(reply.status, StatusCode::OK);
    for role in [Role::Auditor, Role::Admin] {
        let token = app.token_for(&format!("user-{}", role.as_str()), role).await;
        let reply = app.call("POST", "/api/v1/screenings", Some(&token), Some(&poor_swat_household())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role:?}");
    }
}

#[actix_web::test]
async fn a_reload_with_a_broken_file_keeps_the_rules_in_force_and_is_audited() {
    let app = spawn_app().await;
    let admin = app.token_for("root", Role::Admin).await;
    let first = app.call("GET", "/api/v1/rules", Some(&admin), None).await;
    assert_eq!(first.status, StatusCode::OK);
    let version = first.body["version"].as_str().expect("version").to_string();
    assert!(first.body["schemes"].as_u64().unwrap_or(0) >= 40);

    // A misspelled field: refused with the file, line and column, and a hint.
    let path = app.rules.path().join("senior-citizen-card.yaml");
    let original = std::fs::read_to_string(&path).expect("read");
    let line = original.lines().position(|l| l.contains("rule:")).expect("a rule line") + 1;
    let broken = original.replacen("id_type = cnic", "id_typ = cnic", 1);
    assert_ne!(broken, original);
    std::fs::write(&path, &broken).expect("write");
    let reply = app.call("POST", "/api/v1/rules/reload", Some(&admin), None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
    let error = &reply.body["errors"][0];
    let column = broken.lines().nth(line - 1).expect("line").find("id_typ").expect("column") + 1;
    assert_eq!(error["field"], format!("senior-citizen-card.yaml:{line}:{column}"));
    assert!(error["message"].as_str().expect("message").contains("did you mean `id_type`"), "{error}");
    let still = app.call("GET", "/api/v1/rules", Some(&admin), None).await;
    assert_eq!(still.body["version"], version.as_str());

    // Fixed (and changed): the new set is in force, with a new version.
    std::fs::write(app.rules.path().join("senior-citizen-card.yaml"), format!("{original}\n# reviewed\n"))
        .expect("write");
    let reply = app.call("POST", "/api/v1/rules/reload", Some(&admin), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_ne!(reply.body["version"], version.as_str());

    let clerk = app.token_for("amina", Role::Clerk).await;
    let denied = app.call("POST", "/api/v1/rules/reload", Some(&clerk), None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let auditor = app.token_for("sana", Role::Auditor).await;
    let events = app.call("GET", "/api/v1/audit/events?action=rules_reload", Some(&auditor), None).await;
    let outcomes: Vec<&str> =
        events.body["items"].as_array().expect("items").iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "denied").count(), 1, "{:?}", events.body);
    assert_eq!(outcomes.iter().filter(|o| **o == "success").count(), 1, "{:?}", events.body);
}

#[actix_web::test]
async fn the_service_refuses_to_start_on_invalid_rules() {
    let db = TestDb::new();
    let rules = rules_copy();
    std::fs::write(rules.path().join("broken.yaml"), "id: broken\nname: {en: x}\n").expect("write");
    let settings = sahulat::config::Settings::from_source(&test_source(db.url(), rules.path())).expect("settings");
    let error = sahulat::startup::Application::build(&settings).err().expect("refused");
    let text = format!("{error:#}");
    assert!(text.contains("broken.yaml:2:7"), "{text}");
}

/// `kill -HUP` reloads the rules of a running `sahulat serve`: a broken directory is refused
/// (the process keeps running), a good one is taken; both attempts are audited.
#[cfg(unix)]
#[test]
fn sighup_reloads_the_rules_and_is_audited() {
    use sahulat::audit::repo::{self, AuditFilter};
    let db = TestDb::new();
    let rules = rules_copy();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sahulat"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&test_source(db.url(), rules.path()))
        .env("SAHULAT_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sahulat serve");
    // Wait until it serves (it logs the line once the rules are loaded and the port bound).
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = std::time::Instant::now();
    while !rx.recv_timeout(std::time::Duration::from_secs(30)).expect("serve log").contains("sahulat is serving") {
        assert!(started.elapsed().as_secs() < 60, "serve did not start");
    }
    let hangup = || {
        let status = std::process::Command::new("kill").args(["-HUP", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    };
    let reloads = |want: usize| {
        let mut conn = db.connect();
        for _ in 0..100 {
            let filter = AuditFilter { action: Some("rules_reload".into()), ..AuditFilter::default() };
            let events = repo::list(&mut conn, &filter, 10).expect("audit events");
            if events.len() >= want {
                return events;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no rules_reload event after SIGHUP");
    };
    let path = rules.path().join("bisp-kafaalat.yaml");
    let original = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, original.replacen("pmt_score <=", "pmt_scor <=", 1)).expect("write");
    hangup();
    let events = reloads(1);
    assert_eq!(events[0].outcome, "denied");
    assert!(events[0].details.contains("sighup"), "{}", events[0].details);

    std::fs::write(&path, &original).expect("write");
    hangup();
    let events = reloads(2);
    assert_eq!(events[0].outcome, "success", "newest first");
    assert!(child.try_wait().expect("status").is_none(), "the service keeps running");
    let _ = child.kill();
    let _ = child.wait();
}
