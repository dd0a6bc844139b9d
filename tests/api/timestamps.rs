//! Every timestamp an answer carries is RFC 3339 with its offset: a browser must not have to
//! guess the zone. Walks the JSON of the main answers and checks every value whose key ends
//! in `_at` (dates such as `as_of` and `acknowledge_by` stay `YYYY-MM-DD`).

use awc::http::StatusCode;
use chrono::DateTime;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

/// Checks every `*_at` value in `value` (at any depth) and adds its key to `seen`.
fn check(value: &Value, path: &str, seen: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let at = format!("{path}.{key}");
                if key.ends_with("_at") && !v.is_null() {
                    let text = v.as_str().unwrap_or_else(|| panic!("{at} is not text: {v}"));
                    let parsed = DateTime::parse_from_rfc3339(text);
                    assert!(parsed.is_ok(), "{at} = {text:?} is not RFC 3339 with an offset");
                    seen.push(key.clone());
                }
                check(v, &at, seen);
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| check(v, &format!("{path}[{i}]"), seen)),
        _ => {}
    }
}

async fn token(app: &TestApp, name: &str, role: Role, districts: &[&str], schemes: &[&str]) -> String {
    app.create_user(name, role, districts, schemes).await;
    app.login(name, PASSWORD).await.body["access_token"].as_str().expect("token").to_string()
}

#[actix_web::test]
async fn every_timestamp_in_the_main_answers_has_an_offset() {
    let app = spawn_app().await;
    let clerk = token(&app, "amina", Role::Clerk, &["swat"], &[]).await;
    let officer = token(&app, "bisp-officer", Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await;
    let auditor = token(&app, "sana", Role::Auditor, &[], &[]).await;
    let admin = app.token_for("root", Role::Admin).await;

    let created = app.call("POST", "/api/v1/households", Some(&clerk), Some(&poor_swat_household())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let household = format!("/api/v1/households/{id}");
    let changed =
        app.call_with("PATCH", &household, Some(&clerk), Some(&json!({"rooms": 2})), &[("if-match", "\"v1\"")]).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let screened = app.call("POST", &format!("{household}/screenings"), Some(&clerk), None).await;
    assert_eq!(screened.status, StatusCode::CREATED, "{:?}", screened.body);
    let referred = app.call("POST", &format!("{household}/referrals"), Some(&clerk), None).await;
    assert_eq!(referred.status, StatusCode::CREATED, "{:?}", referred.body);
    let referral = referred.body["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| r["scheme"] == "bisp-kafaalat"))
        .and_then(|r| r["id"].as_str())
        .expect("a bisp-kafaalat referral")
        .to_string();
    let step = json!({"to": "acknowledged"});
    let ack = app.call("POST", &format!("/api/v1/referrals/{referral}/transitions"), Some(&officer), Some(&step)).await;
    assert_eq!(ack.status, StatusCode::OK, "{:?}", ack.body);

    let mut seen = Vec::new();
    let mut replies = vec![("created", created), ("changed", changed), ("screened", screened), ("referred", referred)];
    for (name, path, who) in [
        ("household", household.clone(), &clerk),
        ("history", format!("{household}/history"), &clerk),
        ("screenings", format!("{household}/screenings"), &clerk),
        ("latest", format!("{household}/screenings/latest"), &clerk),
        ("decisions", format!("{household}/decisions"), &clerk),
        ("household referrals", format!("{household}/referrals"), &clerk),
        ("referral with ledger", format!("/api/v1/referrals/{referral}"), &clerk),
        ("referral log", "/api/v1/referrals".to_string(), &auditor),
        ("audit events", "/api/v1/audit/events".to_string(), &auditor),
        ("users", "/api/v1/users".to_string(), &admin),
        ("me", "/api/v1/auth/me".to_string(), &clerk),
        ("rules", "/api/v1/rules".to_string(), &admin),
    ] {
        let reply = app.call("GET", &path, Some(who), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {:?}", reply.body);
        replies.push((name, reply));
    }
    replies.push(("acknowledged", ack));
    for (name, reply) in &replies {
        check(&reply.body, name, &mut seen);
    }
    seen.sort();
    seen.dedup();
    for key in ["changed_at", "created_at", "decided_at", "occurred_at", "referred_at", "screened_at", "updated_at"] {
        assert!(seen.iter().any(|k| k == key), "no {key} was checked (saw {seen:?})");
    }

    // The CSV export writes the same form.
    let csv = app.call("GET", "/api/v1/referrals/export.csv", Some(&auditor), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.raw.as_slice());
    let headers = reader.headers().expect("header").clone();
    let columns: Vec<usize> = (0..headers.len()).filter(|&i| headers[i].ends_with("_at")).collect();
    assert_eq!(columns.len(), 2, "{headers:?}");
    for row in reader.records() {
        let row = row.expect("row");
        for &i in &columns {
            assert!(DateTime::parse_from_rfc3339(&row[i]).is_ok(), "{} = {:?}", &headers[i], &row[i]);
        }
    }
}
