//! Rule governance end to end: a proposal checked against the rules in force, its impact on
//! a small registry counted household by household, four eyes (the author can never approve,
//! whatever their role), activation with the re-screening, versions, diffs and rollback; a
//! second instance on the same database serving the new rules within seconds.

use awc::http::StatusCode;
use sahulat::auth::Role;
use sahulat::config::Settings;
use serde_json::{Value, json};

use crate::helpers::*;

const T_OLD: &str = include_str!("../fixtures/report-rules/t-old.yaml");
const T_CHILD: &str = include_str!("../fixtures/report-rules/t-child.yaml");
const T_MOTHER: &str = include_str!("../fixtures/report-rules/t-mother.yaml");

fn rules_dir() -> tempfile::TempDir {
    let rules = tempfile::TempDir::new().expect("rules dir");
    for (name, text) in [("t-old.yaml", T_OLD), ("t-child.yaml", T_CHILD), ("t-mother.yaml", T_MOTHER)] {
        std::fs::write(rules.path().join(name), text).expect("rule file");
    }
    rules
}

fn spawn() -> TestApp {
    let db = TestDb::new();
    let rules = rules_dir();
    let settings = Settings::from_source(&test_source(db.url(), rules.path())).expect("settings");
    spawn_with(db, rules, settings)
}

/// t-old with a second criterion on the PMT score, and examples where it is true, false and
/// unknown.
fn t_old_with_pmt() -> String {
    let criteria =
        "  - id: c2\n    label:\n      en: Poor enough\n      ur: غربت\n    rule: pmt_score <= 30\nexamples:\n";
    let examples = "  - name: pmt unknown\n    as_of: 2025-01-15\n    household:\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: undetermined\n    missing: [pmt_score]\n  - name: pmt too high\n    as_of: 2025-01-15\n    household:\n      pmt_score: 50\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: not_eligible\n    failed: [c2]\n";
    let text = T_OLD.replacen("examples:\n", &format!("{criteria}{examples}"), 1);
    // The eligible example needs a PMT score now.
    text.replacen("    household:\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: eligible", "    household:\n      pmt_score: 20\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: eligible", 1)
}

async fn token(app: &TestApp, name: &str, role: Role, districts: &[&str], schemes: &[&str]) -> String {
    app.create_user(name, role, districts, schemes).await;
    app.login(name, PASSWORD).await.body["access_token"].as_str().expect("token").to_string()
}

fn old_household(pmt: Option<i64>) -> Value {
    let mut h = json!({"district": "swat", "members": [
        {"full_name": "Test Elder", "relation_to_head": "head", "sex": "female", "date_of_birth": "1950-01-01",
         "id_type": "none", "disability": "none"}
    ]});
    if let Some(p) = pmt {
        h["pmt_score"] = json!(p);
    }
    h
}

async fn wait_for_status(app: &TestApp, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..100 {
        let p = app.call("GET", &format!("/api/v1/rule-proposals/{id}"), Some(token), None).await;
        if p.body["status"] == status {
            return p.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("proposal {id} never became {status}");
}

#[actix_web::test]
async fn a_change_is_proposed_measured_approved_by_another_person_activated_and_rolled_back() {
    let app = spawn();
    let clerk = token(&app, "clerk-swat", Role::Clerk, &["swat"], &[]).await;
    let author = token(&app, "old-age-author", Role::SchemeAdmin, &[], &["t-old"]).await;
    let checker = token(&app, "old-age-checker", Role::SchemeAdmin, &[], &["t-old"]).await;
    let stranger = token(&app, "child-officer", Role::SchemeAdmin, &[], &["t-child"]).await;
    let admin = token(&app, "admin2", Role::Admin, &[], &[]).await;
    let auditor = token(&app, "auditor", Role::Auditor, &[], &[]).await;
    // 6 elders with a low PMT score (stay eligible), 5 without (become undetermined), 2 with
    // a high one (lose eligibility).
    let mut numbers = Vec::new();
    for pmt in [Some(20); 6].into_iter().chain([None; 5]).chain([Some(50); 2]) {
        let reply = app.call("POST", "/api/v1/households", Some(&clerk), Some(&old_household(pmt))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        numbers.push((pmt, reply.body["household_number"].as_str().expect("number").to_string()));
    }

    // Checked as a whole: a type error names file, line and column; a criterion without an
    // unknown example is refused by name; someone else's scheme is refused.
    let broken = T_OLD.replace("age >= 60", "agee >= 60");
    let bad = app
        .call(
            "POST",
            "/api/v1/rule-proposals",
            Some(&author),
            Some(&json!({"summary": "typo", "effective_from": "2026-01-01", "files": {"t-old.yaml": broken}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let fields: Vec<&str> =
        bad.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"effective_from"), "{}", bad.body);
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    let bad = app
        .call(
            "POST",
            "/api/v1/rule-proposals",
            Some(&author),
            Some(&json!({"summary": "typo", "effective_from": today, "files": {"t-old.yaml": broken}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body["errors"][0]["field"].as_str().expect("field").starts_with("t-old.yaml:"), "{}", bad.body);
    let no_unknown = t_old_with_pmt()
        .replace("  - name: pmt unknown\n    as_of: 2025-01-15\n    household:\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: undetermined\n    missing: [pmt_score]\n", "")
        .replace("      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1990-05-01", "      pmt_score: 10\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1990-05-01");
    let bad = app
        .call(
            "POST",
            "/api/v1/rule-proposals",
            Some(&author),
            Some(&json!({"summary": "pmt", "effective_from": today, "files": {"t-old.yaml": no_unknown}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["code"], "criterion_coverage", "{}", bad.body);
    assert!(bad.body["errors"][0]["message"].as_str().expect("message").contains("`c2`"), "{}", bad.body);
    let body = json!({"summary": "Only the poor: PMT score 30 or less", "effective_from": today, "files": {"t-old.yaml": t_old_with_pmt()}});
    let refused = app.call("POST", "/api/v1/rule-proposals", Some(&stranger), Some(&body)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let denied = app.call("POST", "/api/v1/rule-proposals", Some(&clerk), Some(&body)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let created = app.call("POST", "/api/v1/rule-proposals", Some(&author), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(created.body["status"], "proposed");
    let items = created.body["changes"][0]["items"].as_array().expect("items");
    assert!(items.iter().any(|i| i["what"] == "criterion_added" && i["name"] == "c2"), "{}", created.body);
    assert!(created.body["text_diff"]["t-old.yaml"].as_str().expect("diff").contains("+    rule: pmt_score <= 30"));
    assert_eq!(created.body["may"]["approve"], false, "the author may not approve");

    // The impact, household by household.
    let report = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&author), None).await;
    assert_eq!(report.status, StatusCode::CREATED, "{}", report.body);
    let r = &report.body;
    let old = r["schemes"].as_array().expect("schemes").iter().find(|s| s["scheme"] == "t-old").expect("t-old");
    assert_eq!(
        (old["gained"].as_u64(), old["lost"].as_u64(), old["newly_undetermined"].as_u64()),
        (Some(0), Some(2), Some(5)),
        "{r}"
    );
    assert_eq!((old["resolved"].as_u64(), old["unchanged"].as_u64()), (Some(0), Some(6)), "{r}");
    assert_eq!((old["eligible_before"].as_u64(), old["eligible_after"].as_u64()), (Some(13), Some(6)));
    assert_eq!(r["registry_households"], 13);
    // Other schemes untouched are not reported; the district cell of 2 is suppressed.
    assert!(r["schemes"].as_array().expect("schemes").iter().all(|s| s["scheme"] == "t-old"), "{r}");
    let by_district = r["breakdowns"]
        .as_array()
        .expect("breakdowns")
        .iter()
        .find(|b| b["scheme"] == "t-old" && b["by"] == "district")
        .expect("district");
    assert_eq!(by_district["rows"][0]["key"], "swat");
    assert_eq!(by_district["rows"][0]["lost"], Value::Null);
    assert_eq!(by_district["rows"][0]["newly_undetermined"], 5);
    let missing = &r["missing_fields"][0];
    assert_eq!((missing["field"].as_str(), missing["households"].as_u64()), (Some("pmt_score"), Some(5)), "{r}");
    let sample = r["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .find(|s| s["change"] == "newly_undetermined" && s["by"] == "total")
        .expect("sample");
    let unknown_numbers: Vec<&String> = numbers.iter().filter(|(p, _)| p.is_none()).map(|(_, n)| n).collect();
    assert_eq!(sample["households"].as_array().expect("list").len(), 5);
    assert!(sample["households"].as_array().expect("list").iter().all(|n| unknown_numbers.iter().any(|u| *u == n)));
    assert!(!r.to_string().contains("Test Elder"), "no names in a report");
    let report_id = r["id"].as_str().expect("report id").to_string();
    // Computed again on the same data: the same numbers.
    let again = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&checker), None).await;
    assert_eq!(again.body["schemes"], r["schemes"]);
    assert_eq!(again.body["breakdowns"], r["breakdowns"]);
    // One household's trace: c2 unknown after, absent before.
    let lost = &numbers.iter().find(|(p, _)| *p == Some(50)).expect("lost").1;
    let trace =
        app.call("GET", &format!("/api/v1/impact-reports/{report_id}/households/{lost}"), Some(&checker), None).await;
    assert_eq!(trace.status, StatusCode::OK, "{}", trace.body);
    assert_eq!(trace.body["schemes"][0]["before"]["status"], "eligible");
    assert_eq!(trace.body["schemes"][0]["after"]["status"], "not_eligible");
    assert_eq!(trace.body["schemes"][0]["after"]["criteria"][1]["outcome"], false);
    assert_eq!(trace.body["changes"][0]["change"], "lost");

    // Four eyes: the author is refused; so are a stranger and an auditor; the checker approves
    // naming the report.
    let own = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&author),
            Some(&json!({"impact_report_id": report_id})),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert_eq!(own.body["code"], "own_proposal");
    let other = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&stranger),
            Some(&json!({"impact_report_id": report_id})),
        )
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "a stranger's scheme's proposal is not even visible: {}",
        other.body
    );
    let by_auditor = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&auditor),
            Some(&json!({"impact_report_id": report_id})),
        )
        .await;
    assert_eq!(by_auditor.status, StatusCode::FORBIDDEN);
    let unknown_report = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&checker),
            Some(&json!({"impact_report_id": "nope"})),
        )
        .await;
    assert_eq!(unknown_report.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown_report.body);
    let approved = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&checker),
            Some(&json!({"impact_report_id": report_id, "comment": "read it"})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);

    // Due today: activated at once, after the impact is computed again.
    let active = wait_for_status(&app, &admin, &id, "active").await;
    let kinds: Vec<&str> =
        active["decisions"].as_array().expect("decisions").iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["approval", "activation"]);
    // Once active, it is still shown against the version it replaced.
    let items = active["changes"][0]["items"].as_array().expect("items");
    assert!(items.iter().any(|i| i["what"] == "criterion_added" && i["name"] == "c2"), "{active}");
    let rules = app.call("GET", "/api/v1/rules", Some(&admin), None).await;
    assert_eq!(rules.body["version"], r["rules_after"], "{}", rules.body);
    let auditor_view = app.call("GET", &format!("/api/v1/rule-proposals/{id}"), Some(&auditor), None).await;
    assert_eq!(auditor_view.status, StatusCode::OK);

    // Versions: seed (1) and the change (2), with who did what, and a plain diff.
    let versions = app.call("GET", "/api/v1/rule-versions?scheme=t-old", Some(&auditor), None).await;
    let items = versions.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{}", versions.body);
    assert_eq!(
        (items[0]["seq"].as_i64(), items[0]["proposed_by"].as_str(), items[0]["approved_by"].as_str()),
        (Some(2), Some("old-age-author"), Some("old-age-checker"))
    );
    assert_eq!(items[0]["in_force"], true);
    let (new_v, old_v) = (items[0]["id"].as_str().expect("id"), items[1]["id"].as_str().expect("id"));
    let d = app.call("GET", &format!("/api/v1/rule-versions/{new_v}?against={old_v}"), Some(&auditor), None).await;
    assert!(
        d.body["changes"].as_array().expect("changes").iter().any(|i| i["what"] == "criterion_added"),
        "{}",
        d.body
    );

    // Rollback is a proposal like any other: it needs someone else.
    let back = app
        .call(
            "POST",
            &format!("/api/v1/rule-versions/{old_v}/rollback"),
            Some(&author),
            Some(&json!({"summary": "back", "effective_from": today})),
        )
        .await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
    assert_eq!(back.body["rollback_of"], old_v);
    let back_id = back.body["id"].as_str().expect("id");
    let back_report = app.call("POST", &format!("/api/v1/rule-proposals/{back_id}/impact"), Some(&admin), None).await;
    let own = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{back_id}/approval"),
            Some(&author),
            Some(&json!({"impact_report_id": back_report.body["id"]})),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let rejected = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{back_id}/rejection"),
            Some(&admin),
            Some(&json!({"reason": "keep the PMT test"})),
        )
        .await;
    assert_eq!(rejected.body["status"], "rejected", "{}", rejected.body);

    // Every step is in the audit trail.
    let events = app.call("GET", "/api/v1/audit/events?limit=100", Some(&auditor), None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().expect("items").iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "rules_seed",
        "rule_propose",
        "rule_impact",
        "rule_impact_trace",
        "rule_approve",
        "rule_activate",
        "rule_rollback",
        "rule_reject",
    ] {
        assert!(actions.contains(&a), "no {a} in {actions:?}");
    }
    let verify = app.call("GET", "/api/v1/audit/verify", Some(&auditor), None).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
}

#[actix_web::test]
async fn an_admin_cannot_approve_their_own_proposal_and_a_freeze_holds_activation() {
    let app = spawn();
    let admin = token(&app, "admin-a", Role::Admin, &[], &[]).await;
    let other_admin = token(&app, "admin-b", Role::Admin, &[], &[]).await;
    let today = sahulat::registry::warnings::today_in_pakistan();
    let body = json!({"summary": "retire t-mother", "effective_from": today.to_string(), "retire": ["t-mother"]});
    let created = app.call("POST", "/api/v1/rule-proposals", Some(&admin), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let report = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&admin), None).await;
    assert_eq!(report.status, StatusCode::CREATED, "{}", report.body);
    let rid = report.body["id"].clone();
    let own = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&admin),
            Some(&json!({"impact_report_id": rid})),
        )
        .await;
    assert_eq!((own.status, own.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("own_proposal")), "{}", own.body);
    // A freeze over today: approved, but nothing activates until it is lifted.
    let freeze = app
        .call(
            "POST",
            "/api/v1/rule-freezes",
            Some(&other_admin),
            Some(&json!({"starts_on": today.to_string(), "ends_on": today.to_string(), "reason": "election"})),
        )
        .await;
    assert_eq!(freeze.status, StatusCode::CREATED, "{}", freeze.body);
    let approved = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&other_admin),
            Some(&json!({"impact_report_id": rid})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let pending = app.call("GET", "/api/v1/rule-activations", Some(&admin), None).await;
    assert_eq!(pending.body["items"][0]["proposal"]["id"], id.as_str(), "{}", pending.body);
    assert_eq!(pending.body["items"][0]["frozen_by"]["reason"], "election");
    let lifted = app
        .call(
            "DELETE",
            &format!("/api/v1/rule-freezes/{}", freeze.body["id"].as_str().expect("id")),
            Some(&other_admin),
            None,
        )
        .await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    wait_for_status(&app, &admin, &id, "active").await;
    let schemes = app.call("GET", "/api/v1/rules", Some(&admin), None).await;
    assert_eq!(schemes.body["schemes"], 2, "{}", schemes.body);
}

#[actix_web::test]
async fn a_second_instance_on_the_same_database_serves_an_activation_within_seconds() {
    let first = spawn();
    // The second instance: same database, its own (unchanged) copy of the files.
    let rules = rules_dir();
    let settings = Settings::from_source(&test_source(first.db.url(), rules.path())).expect("settings");
    let app = sahulat::startup::Application::build(&settings).expect("second instance");
    let second = app.state().clone();
    actix_web::rt::spawn(app.into_server());
    let before = second.rules.current().set.version.clone();
    let a = token(&first, "admin-a", Role::Admin, &[], &[]).await;
    let b = token(&first, "admin-b", Role::Admin, &[], &[]).await;
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    let created = first
        .call(
            "POST",
            "/api/v1/rule-proposals",
            Some(&a),
            Some(&json!({"summary": "retire t-child", "effective_from": today, "retire": ["t-child"]})),
        )
        .await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let report = first.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&a), None).await;
    let approved = first
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&b),
            Some(&json!({"impact_report_id": report.body["id"]})),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    wait_for_status(&first, &a, &id, "active").await;
    let activated = std::time::Instant::now();
    while second.rules.current().set.version == before {
        assert!(
            activated.elapsed() < std::time::Duration::from_secs(5),
            "the second instance still serves the old rules"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(second.rules.current().set.scheme("t-child").is_none());
}

#[actix_web::test]
async fn a_criterion_that_can_never_be_unknown_needs_no_unknown_example() {
    let app = spawn();
    let author = token(&app, "old-age-author", Role::SchemeAdmin, &[], &["t-old"]).await;
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    // `not enrolled(…)` is decided for every household: true and false examples suffice.
    let criterion = "  - id: c3\n    label:\n      en: Not already supported\n      ur: پہلے سے امداد نہیں\n    rule: not enrolled(\"t-child\")\nexamples:\n";
    let example = "  - name: already supported\n    as_of: 2025-01-15\n    household:\n      enrolled: [t-child]\n      members:\n        - { relation_to_head: head, sex: male, date_of_birth: 1950-05-01, id_type: cnic }\n    expect: not_eligible\n    failed: [c3]\n";
    let text = T_OLD.replacen("examples:\n", &format!("{criterion}{example}"), 1);
    let body = json!({"summary": "no double support", "effective_from": today, "files": {"t-old.yaml": text}});
    let created = app.call("POST", "/api/v1/rule-proposals", Some(&author), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // An age test can be unknown (no date of birth): it needs an unknown example.
    let age = T_OLD.replace("any member (age >= 60)", "any member (age >= 65)");
    let body = json!({"summary": "65", "effective_from": today, "files": {"t-old.yaml": age}});
    let refused = app.call("POST", "/api/v1/rule-proposals", Some(&author), Some(&body)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body["errors"][0]["message"].as_str().expect("message").contains("unknown"), "{}", refused.body);
}

#[actix_web::test]
async fn an_activation_whose_impact_moved_is_held_and_returns_for_approval() {
    let app = spawn();
    let clerk = token(&app, "clerk-swat", Role::Clerk, &["swat"], &[]).await;
    let author = token(&app, "old-age-author", Role::SchemeAdmin, &[], &["t-old"]).await;
    let checker = token(&app, "old-age-checker", Role::SchemeAdmin, &[], &["t-old"]).await;
    for pmt in [Some(50); 6] {
        let reply = app.call("POST", "/api/v1/households", Some(&clerk), Some(&old_household(pmt))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let tomorrow = sahulat::registry::warnings::today_in_pakistan() + chrono::Duration::days(1);
    let body = json!({"summary": "Only the poor", "effective_from": tomorrow.to_string(), "files": {"t-old.yaml": t_old_with_pmt()}});
    let created = app.call("POST", "/api/v1/rule-proposals", Some(&author), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let report = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&author), None).await;
    assert_eq!(report.body["schemes"][0]["lost"], 6, "{}", report.body);
    let approved = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&checker),
            Some(&json!({"impact_report_id": report.body["id"]})),
        )
        .await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    // Not due today: nothing happens.
    let today = sahulat::registry::warnings::today_in_pakistan();
    let state = app.state.clone();
    let none = actix_web::web::block(move || state.activator.activate_due(&state.rules, today))
        .await
        .expect("ran")
        .expect("pass");
    assert!(none.is_empty());
    // The registry moves before the date: 6 more households would lose (6 → 12: over 2 %).
    for pmt in [Some(60); 6] {
        app.call("POST", "/api/v1/households", Some(&clerk), Some(&old_household(pmt))).await;
    }
    let state = app.state.clone();
    let done = actix_web::web::block(move || state.activator.activate_due(&state.rules, tomorrow))
        .await
        .expect("ran")
        .expect("pass");
    assert!(
        matches!(&done[..], [(p, sahulat::governance::activation::Activated::Held(moved))] if *p == id && moved[0].contains("lost 6 → 12")),
        "{done:?}"
    );
    let held = app.call("GET", &format!("/api/v1/rule-proposals/{id}"), Some(&checker), None).await;
    assert_eq!(held.body["status"], "proposed");
    let hold = held.body["decisions"].as_array().expect("decisions").last().expect("hold").clone();
    assert_eq!(hold["kind"], "hold");
    assert_eq!(hold["impact_report_id"], report.body["id"]);
    assert_eq!(held.body["impact_reports"].as_array().expect("reports").len(), 2, "both reports are kept");
    // Approved again on the new report, it activates on its date.
    let again = app.call("POST", &format!("/api/v1/rule-proposals/{id}/impact"), Some(&checker), None).await;
    let approved = app
        .call(
            "POST",
            &format!("/api/v1/rule-proposals/{id}/approval"),
            Some(&checker),
            Some(&json!({"impact_report_id": again.body["id"]})),
        )
        .await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let state = app.state.clone();
    let done = actix_web::web::block(move || state.activator.activate_due(&state.rules, tomorrow))
        .await
        .expect("ran")
        .expect("pass");
    assert!(matches!(&done[..], [(_, sahulat::governance::activation::Activated::Active(_))]), "{done:?}");
}

#[actix_web::test]
async fn the_command_line_exports_simulates_and_proposes() {
    let app = spawn();
    let clerk = token(&app, "clerk-swat", Role::Clerk, &["swat"], &[]).await;
    token(&app, "old-age-author", Role::SchemeAdmin, &[], &["t-old"]).await;
    for pmt in [Some(20), Some(50), None] {
        app.call("POST", "/api/v1/households", Some(&clerk), Some(&old_household(pmt))).await;
    }
    // Export: the rules in force, byte for byte.
    let out = tempfile::TempDir::new().expect("dir");
    let dir = out.path().to_str().expect("path");
    let export = app.cli(&["rules", "export", dir], "");
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    assert_eq!(std::fs::read_to_string(out.path().join("t-old.yaml")).expect("exported"), T_OLD);
    // Simulate an edit: nothing stored.
    std::fs::write(out.path().join("t-old.yaml"), t_old_with_pmt()).expect("edit");
    let simulated = app.cli(&["rules", "simulate", dir], "");
    assert!(simulated.status.success(), "{}", String::from_utf8_lossy(&simulated.stderr));
    let report: Value = serde_json::from_slice(&simulated.stdout).expect("JSON");
    let old = &report["schemes"][0];
    assert_eq!(
        (old["scheme"].as_str(), old["lost"].as_u64(), old["newly_undetermined"].as_u64()),
        (Some("t-old"), Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["registry_households"], 3);
    // Propose it as the scheme's administrator; a stranger's name is refused.
    let today = sahulat::registry::warnings::today_in_pakistan().to_string();
    let refused =
        app.cli(&["rules", "propose", dir, "--summary", "pmt", "--effective", &today, "--author", "nobody"], "");
    assert!(!refused.status.success());
    let proposed = app.cli(
        &["rules", "propose", dir, "--summary", "Only the poor", "--effective", &today, "--author", "old-age-author"],
        "",
    );
    assert!(proposed.status.success(), "{}", String::from_utf8_lossy(&proposed.stderr));
    let admin = token(&app, "admin2", Role::Admin, &[], &[]).await;
    let list = app.call("GET", "/api/v1/rule-proposals?status=proposed", Some(&admin), None).await;
    assert_eq!(list.body["items"][0]["author"], "old-age-author", "{}", list.body);
}

/// Instances started at the same moment on a new database (`systemctl enable --now
/// sahulat@8081 sahulat@8082 sahulat@8083`, compose, the loopback demonstration) seed the
/// rules once: every start succeeds, with one version of each scheme and one `rules_seed`
/// event. On PostgreSQL the later ones used to fail on `rule_versions_scheme_id_seq_key`
/// and the instance exited.
#[test]
fn instances_starting_together_on_a_new_database_seed_the_rules_once() {
    use diesel::prelude::*;
    use sahulat::db::schema::{audit_events, rule_files, rule_versions};

    const STARTS: usize = 4;
    let db = TestDb::new();
    sahulat::db::run_migrations(&mut db.connect()).expect("migrate");
    let rules = rules_dir();
    let key = sahulat::audit::AuditKey::new(&sahulat::config::Secret::new(AUDIT_KEY.as_bytes()));
    let barrier = std::sync::Barrier::new(STARTS);
    let generations: Vec<Result<i64, String>> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..STARTS)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.connect();
                    barrier.wait();
                    sahulat::governance::prepare(&mut conn, rules.path(), &key)
                        .map(|(_, generation)| generation)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        starts.into_iter().map(|start| start.join().expect("start thread")).collect()
    });
    assert_eq!(generations, vec![Ok(1); STARTS], "every start sees the one seed");
    let mut conn = db.connect();
    let versions: i64 = rule_versions::table.count().get_result(&mut conn).expect("versions");
    let in_force: i64 = rule_files::table.count().get_result(&mut conn).expect("in force");
    let seeds: i64 = audit_events::table
        .filter(audit_events::action.eq("rules_seed"))
        .count()
        .get_result(&mut conn)
        .expect("events");
    assert_eq!((versions, in_force, seeds), (3, 3, 1), "three schemes seeded once, one rules_seed event");
}
