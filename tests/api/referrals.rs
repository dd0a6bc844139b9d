//! Referrals: refer to every eligible scheme, overrides, one open referral per scheme, the
//! lifecycle with its permissions and ledger, expiry, idempotent retries, district scoping.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

fn household() -> Value {
    json!({
        "district": "swat",
        "pmt_score": 20,
        "owns_vehicle": false,
        "monthly_income_pkr": 12000,
        "members": [
            {"full_name": "Zarina Bibi", "relation_to_head": "head", "sex": "female", "date_of_birth": "1985-03-01",
             "id_type": "cnic", "id_number": "15602-1234567-2", "marital_status": "widowed", "religion": "muslim",
             "disability": "none", "govt_employee": false, "taxpayer": false, "employment": "homemaker"},
            {"full_name": "Gul", "relation_to_head": "son", "sex": "male", "date_of_birth": "2015-06-10",
             "id_type": "b_form", "id_number": "15602-7654321-1", "disability": "none", "govt_employee": false,
             "taxpayer": false, "school_enrolled": true, "school_level": "primary", "attendance_pct": 85}
        ]
    })
}

async fn login_as(app: &TestApp, name: &str, role: Role, districts: &[&str], schemes: &[&str]) -> String {
    app.create_user(name, role, districts, schemes).await;
    let reply = app.login(name, PASSWORD).await;
    reply.body["access_token"].as_str().expect("token").to_string()
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn a_household_is_referred_to_exactly_its_eligible_schemes_and_referrals_move_through_their_lifecycle() {
    let app = spawn_app().await;
    let clerk = login_as(&app, "amina", Role::Clerk, &["swat"], &[]).await;
    let bisp = login_as(&app, "bisp-officer", Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await;
    let zakat = login_as(&app, "zakat-officer", Role::SchemeAdmin, &[], &["zakat-guzara"]).await;
    let created = app.call("POST", "/api/v1/households", Some(&clerk), Some(&household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();

    // Default: every scheme the household is eligible for today, and nothing else.
    let decisions = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&clerk), None).await;
    let mut eligible: Vec<String> = decisions.body["eligible"]
        .as_array()
        .expect("eligible")
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    eligible.sort();
    assert!(eligible.contains(&"bisp-kafaalat".to_string()), "{eligible:?}");
    let referred = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&clerk), None).await;
    assert_eq!(referred.status, StatusCode::CREATED, "{:?}", referred.body);
    let mut schemes: Vec<String> =
        items(&referred.body).iter().filter_map(|r| r["scheme"].as_str().map(String::from)).collect();
    schemes.sort();
    assert_eq!(schemes, eligible);
    assert!(items(&referred.body).iter().all(|r| r["status"] == "referred" && r["eligibility"] == "eligible"));
    let kafaalat = items(&referred.body).into_iter().find(|r| r["scheme"] == "bisp-kafaalat").expect("kafaalat");
    let kafaalat_id = kafaalat["id"].as_str().expect("id").to_string();
    assert!(kafaalat["referral_number"].as_str().expect("number").starts_with("R-"));

    // One open referral per scheme: a second is a 409 naming the first.
    let again = json!({"schemes": ["bisp-kafaalat"]});
    let conflict = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&clerk), Some(&again)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{:?}", conflict.body);
    assert_eq!(conflict.body["referral_id"], kafaalat_id.as_str());

    // A scheme the household is not eligible for needs an override reason.
    let senior = json!({"schemes": ["senior-citizen-card"]});
    let refused = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&clerk), Some(&senior)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.body["errors"][0]["field"], "schemes[0]");
    assert_eq!(refused.body["errors"][0]["code"], "not_eligible");
    let overridden =
        json!({"schemes": ["senior-citizen-card"], "override_reason": "age on the CNIC is wrong; correction pending"});
    let forced = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&clerk), Some(&overridden)).await;
    assert_eq!(forced.status, StatusCode::CREATED, "{:?}", forced.body);
    assert_eq!(forced.body["items"][0]["eligibility"], "not_eligible");
    assert!(forced.body["items"][0]["override_reason"].as_str().is_some_and(|r| r.contains("CNIC")));
    let unknown = json!({"schemes": ["no-such-scheme"]});
    let bad = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&clerk), Some(&unknown)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Lifecycle with its permissions.
    let step = |to: &str, reason: Option<&str>| {
        let mut b = json!({"to": to});
        if let Some(r) = reason {
            b["reason"] = json!(r);
        }
        b
    };
    let path = format!("/api/v1/referrals/{kafaalat_id}/transitions");
    let by_clerk = app.call("POST", &path, Some(&clerk), Some(&step("acknowledged", None))).await;
    assert_eq!(by_clerk.status, StatusCode::FORBIDDEN);
    let other_scheme = app.call("POST", &path, Some(&zakat), Some(&step("acknowledged", None))).await;
    assert_eq!(other_scheme.status, StatusCode::FORBIDDEN);
    let ack = app.call("POST", &path, Some(&bisp), Some(&step("acknowledged", None))).await;
    assert_eq!(ack.status, StatusCode::OK, "{:?}", ack.body);
    assert_eq!(ack.body["status"], "acknowledged");
    let skip = app.call("POST", &path, Some(&bisp), Some(&step("acknowledged", None))).await;
    assert_eq!(skip.status, StatusCode::CONFLICT);
    assert_eq!(skip.body["allowed_transitions"], json!(["enrolled", "rejected", "withdrawn"]));
    let reject = app.call("POST", &path, Some(&bisp), Some(&step("rejected", None))).await;
    assert_eq!(reject.status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a reason");
    let enrolled = app.call("POST", &path, Some(&bisp), Some(&step("enrolled", None))).await;
    assert_eq!(enrolled.status, StatusCode::OK);
    let closed = app.call("POST", &path, Some(&clerk), Some(&step("withdrawn", Some("moved")))).await;
    assert_eq!(closed.status, StatusCode::CONFLICT);
    assert_eq!(closed.body["allowed_transitions"], json!([]));

    // The ledger: every step, who and when.
    let read = app.call("GET", &format!("/api/v1/referrals/{kafaalat_id}"), Some(&bisp), None).await;
    assert_eq!(read.status, StatusCode::OK, "{:?}", read.body);
    let ledger: Vec<(Value, Value, Value)> = read.body["ledger"]
        .as_array()
        .expect("ledger")
        .iter()
        .map(|e| (e["from_status"].clone(), e["to_status"].clone(), e["actor"].clone()))
        .collect();
    assert_eq!(
        ledger,
        vec![
            (Value::Null, json!("referred"), json!("amina")),
            (json!("referred"), json!("acknowledged"), json!("bisp-officer")),
            (json!("acknowledged"), json!("enrolled"), json!("bisp-officer")),
        ]
    );
    let hidden = app.call("GET", &format!("/api/v1/referrals/{kafaalat_id}"), Some(&zakat), None).await;
    assert_eq!(hidden.status, StatusCode::FORBIDDEN);

    // The printable slip: numbers, scheme, office, documents from the rule file, deadline, in
    // English and right-to-left Urdu; no names or ID numbers.
    let slip = app.call("GET", &format!("/api/v1/referrals/{kafaalat_id}/slip"), Some(&clerk), None).await;
    assert_eq!(slip.status, StatusCode::OK);
    assert!(slip.header("content-type").is_some_and(|c| c.starts_with("text/html")));
    let page = String::from_utf8(slip.raw.to_vec()).expect("utf-8");
    let number = kafaalat["referral_number"].as_str().expect("number");
    let household_number = created.body["household_number"].as_str().expect("household number");
    for needle in [
        number,
        household_number,
        "Benazir Kafaalat",
        "Computerised National Identity Card (CNIC) of the woman recipient",
        "dir=\"rtl\"",
        "Visit by: ",
        "BISP Tehsil Office",
    ] {
        assert!(page.contains(needle), "slip lacks {needle:?}: {page}");
    }
    assert!(!page.contains("Zarina") && !page.contains("1560212345672"), "no names or ID numbers on a slip");
    let foreign = app.call("GET", &format!("/api/v1/referrals/{kafaalat_id}/slip"), Some(&zakat), None).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // A clerk withdraws another referral, with a reason.
    let senior_id = forced.body["items"][0]["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/referrals/{senior_id}/transitions");
    let no_reason = app.call("POST", &path, Some(&clerk), Some(&step("withdrawn", None))).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    let withdrawn = app.call("POST", &path, Some(&clerk), Some(&step("withdrawn", Some("family declined")))).await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{:?}", withdrawn.body);

    // Every transition is audited.
    let auditor = login_as(&app, "sana", Role::Auditor, &[], &[]).await;
    let events = app.call("GET", "/api/v1/audit/events?action=referral_transition", Some(&auditor), None).await;
    assert_eq!(items(&events.body).len(), 3, "{:?}", events.body);

    // The referral log: filters, household numbers, no names or ID numbers.
    let household_number = created.body["household_number"].as_str().expect("number").to_string();
    let log = app.call("GET", "/api/v1/referrals?scheme=bisp-kafaalat&district=swat", Some(&auditor), None).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    assert_eq!(items(&log.body).len(), 1);
    assert_eq!(log.body["items"][0]["household_number"], household_number.as_str());
    assert_eq!(log.body["items"][0]["status"], "enrolled");
    let enrolled = app.call("GET", "/api/v1/referrals?status=withdrawn&clerk=amina", Some(&auditor), None).await;
    assert_eq!(items(&enrolled.body).len(), 1);
    assert_eq!(enrolled.body["items"][0]["scheme"], "senior-citizen-card");
    let all = app.call("GET", "/api/v1/referrals?limit=2", Some(&auditor), None).await;
    assert_eq!(items(&all.body).len(), 2);
    let rest = app
        .call(
            "GET",
            &format!("/api/v1/referrals?cursor={}", all.body["next_cursor"].as_str().expect("cursor")),
            Some(&auditor),
            None,
        )
        .await;
    assert_eq!(items(&all.body).len() + items(&rest.body).len(), eligible.len() + 1);
    let none = app.call("GET", "/api/v1/referrals?from=2000-01-01&to=2000-12-31", Some(&auditor), None).await;
    assert_eq!(items(&none.body).len(), 0);
    let bad = app.call("GET", "/api/v1/referrals?status=lost&from=yesterday", Some(&auditor), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(app.call("GET", "/api/v1/referrals", Some(&clerk), None).await.status, StatusCode::FORBIDDEN);
    let text = log.body.to_string() + &all.body.to_string();
    assert!(!text.contains("Zarina") && !text.contains("1560212345672"));

    // The CSV export streams the filtered set, audited.
    let csv = app.call("GET", "/api/v1/referrals/export.csv?district=swat", Some(&auditor), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    let body = String::from_utf8(csv.raw.to_vec()).expect("utf-8");
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("id,referral_number,household_number,district,scheme,status"), "{body}");
    assert_eq!(lines.len(), eligible.len() + 2, "{body}");
    assert!(body.contains(&household_number) && !body.contains("Zarina") && !body.contains("1560212345672"));
    let exports = app.call("GET", "/api/v1/audit/events?action=referral_export", Some(&auditor), None).await;
    assert_eq!(items(&exports.body).len(), 1);
}

#[actix_web::test]
async fn referrals_expire_are_idempotent_and_stay_in_their_district() {
    let app = spawn_app().await;
    let clerk = login_as(&app, "amina", Role::Clerk, &["swat"], &[]).await;
    let other = login_as(&app, "bilal", Role::Clerk, &["peshawar"], &[]).await;
    let bisp = login_as(&app, "bisp-officer", Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await;
    let created = app.call("POST", "/api/v1/households", Some(&clerk), Some(&household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();

    let body = json!({"schemes": ["bisp-kafaalat"]});
    let path = format!("/api/v1/households/{id}/referrals");
    let headers = [("idempotency-key", "refer-once-1")];
    let first = app.call_with("POST", &path, Some(&clerk), Some(&body), &headers).await;
    let second = app.call_with("POST", &path, Some(&clerk), Some(&body), &headers).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.body["items"][0]["id"], second.body["items"][0]["id"]);
    let list = app.call("GET", &path, Some(&clerk), None).await;
    assert_eq!(items(&list.body).len(), 1);
    let referral_id = first.body["items"][0]["id"].as_str().expect("id").to_string();

    // Another district's clerk cannot see or refer it; a malformed body is refused.
    assert_eq!(app.call("POST", &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call("GET", &path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let referral_path = format!("/api/v1/referrals/{referral_id}");
    assert_eq!(app.call("GET", &referral_path, Some(&other), None).await.status, StatusCode::NOT_FOUND);
    let missing = app.call("GET", "/api/v1/referrals/00000000-0000-0000-0000-000000000000", Some(&clerk), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let malformed = app.call_with("POST", &path, Some(&clerk), None, &[("content-type", "application/json")]).await;
    assert_eq!(malformed.status, StatusCode::CONFLICT, "an empty body refers to all eligible: the open one conflicts");

    // The acknowledgement deadline passes: the referral expires, and cannot be acknowledged.
    execute_sql(&app.db, &format!("UPDATE referrals SET acknowledge_by = '2020-01-01' WHERE id = '{referral_id}'"));
    let read = app.call("GET", &referral_path, Some(&clerk), None).await;
    assert_eq!(read.body["status"], "expired", "{:?}", read.body);
    let last = read.body["ledger"].as_array().and_then(|l| l.last().cloned()).expect("ledger");
    assert_eq!(last["actor"], "system");
    let late = app
        .call("POST", &format!("{referral_path}/transitions"), Some(&bisp), Some(&json!({"to": "acknowledged"})))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    // Expired, it is no longer open: the household can be referred again.
    let again = app.call("POST", &path, Some(&clerk), Some(&body)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
}

#[actix_web::test]
async fn a_scheme_administrator_reads_the_log_of_their_own_schemes_with_overdue_and_next_steps() {
    let app = spawn_app().await;
    let clerk = login_as(&app, "amina", Role::Clerk, &["swat"], &[]).await;
    let bisp = login_as(&app, "bisp-officer", Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await;
    let created = app.call("POST", "/api/v1/households", Some(&clerk), Some(&household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/households/{id}/referrals");
    let made = app
        .call(
            "POST",
            &path,
            Some(&clerk),
            Some(&json!({"schemes": ["bisp-kafaalat", "senior-citizen-card"], "override_reason": "test"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    assert_eq!(items(&made.body).len(), 2);

    // Only their scheme's referral, whatever they ask for.
    let inbox = app.call("GET", "/api/v1/referrals", Some(&bisp), None).await;
    assert_eq!(inbox.status, StatusCode::OK, "{:?}", inbox.body);
    assert_eq!(items(&inbox.body).len(), 1);
    assert_eq!(inbox.body["items"][0]["scheme"], "bisp-kafaalat");
    let other = app.call("GET", "/api/v1/referrals?scheme=senior-citizen-card", Some(&bisp), None).await;
    assert_eq!(items(&other.body).len(), 0, "another scheme's referrals stay hidden");
    let csv = app.call("GET", "/api/v1/referrals/export.csv", Some(&bisp), None).await;
    assert_eq!(String::from_utf8_lossy(&csv.raw).lines().count(), 2, "header and their one referral");

    // Nothing is overdue until the deadline is reached.
    let overdue = app.call("GET", "/api/v1/referrals?overdue=true", Some(&bisp), None).await;
    assert_eq!(items(&overdue.body).len(), 0);
    let referral_id = inbox.body["items"][0]["id"].as_str().expect("id").to_string();
    let today = (chrono::Utc::now() + chrono::Duration::hours(5)).date_naive();
    execute_sql(&app.db, &format!("UPDATE referrals SET acknowledge_by = '{today}' WHERE id = '{referral_id}'"));
    let due = app.call("GET", "/api/v1/referrals?overdue=true", Some(&bisp), None).await;
    assert_eq!(items(&due.body).len(), 1, "due today is overdue: {:?}", due.body);

    // The steps each role may take from here.
    let read = |token: String| {
        let app = &app;
        let path = format!("/api/v1/referrals/{referral_id}");
        async move { app.call("GET", &path, Some(&token), None).await }
    };
    assert_eq!(read(bisp.clone()).await.body["next_steps"], json!(["acknowledged"]));
    assert_eq!(read(clerk.clone()).await.body["next_steps"], json!(["withdrawn"]));

    // Past the deadline, the log shows it expired (never as still open), with the ledger step.
    execute_sql(&app.db, &format!("UPDATE referrals SET acknowledge_by = '2020-01-01' WHERE id = '{referral_id}'"));
    let open = app.call("GET", "/api/v1/referrals?status=referred", Some(&bisp), None).await;
    assert_eq!(items(&open.body).len(), 0, "{:?}", open.body);
    let expired = app.call("GET", "/api/v1/referrals?status=expired", Some(&bisp), None).await;
    assert_eq!(items(&expired.body).len(), 1);
    let after = read(bisp.clone()).await;
    assert_eq!(after.body["status"], "expired");
    assert_eq!(after.body["next_steps"], json!([]));
    let ledger = after.body["ledger"].as_array().expect("ledger");
    assert_eq!(ledger.iter().filter(|e| e["to_status"] == "expired").count(), 1, "expired once: {ledger:?}");
}
