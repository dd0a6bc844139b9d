//! S1 (object-level authorisation): every route with a household or referral id, every
//! method, as a clerk and as an auditor of one district, against {own district, other
//! district, nonexistent}.
//! Another district's object must answer exactly like one that does not exist, and stay
//! untouched.

use awc::http::StatusCode;
use sahulat::api::endpoints;
use sahulat::auth::extractor::Access;
use sahulat::auth::{Role, policy};
use serde_json::{Value, json};

use crate::helpers::*;

const NOWHERE: &str = "00000000-0000-0000-0000-000000000000";

struct Objects {
    household: String,
    member: String,
    referral: String,
}

async fn objects_in(app: &TestApp, token: &str, district: &str, id_digits: &str) -> Objects {
    let mut body = poor_swat_household();
    body["district"] = json!(district);
    body["members"][0]["id_number"] = json!(format!("{id_digits}-1234567-2"));
    body["members"][1]["id_number"] = json!(format!("{id_digits}-7654321-1"));
    let created = app.call("POST", "/api/v1/households", Some(token), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let household = created.body["id"].as_str().expect("id").to_string();
    let member = created.body["members"][1]["id"].as_str().expect("member").to_string();
    let referred =
        app.call("POST", &format!("/api/v1/households/{household}/referrals"), Some(token), Some(&json!({}))).await;
    assert_eq!(referred.status, StatusCode::CREATED, "{}", referred.body);
    let referral = referred.body["items"][0]["id"].as_str().expect("a referral").to_string();
    Objects { household, member, referral }
}

fn path_for(pattern: &str, objects: Option<&Objects>) -> String {
    let (household, member, referral) = match objects {
        Some(o) => (o.household.as_str(), o.member.as_str(), o.referral.as_str()),
        None => (NOWHERE, NOWHERE, NOWHERE),
    };
    let path = pattern.replace("{member_id}", member);
    if pattern.starts_with("/api/v1/referrals/") {
        path.replace("{id}", referral)
    } else {
        path.replace("{id}", household)
    }
}

/// The state of a household and its referral that no other district may change.
async fn snapshot(app: &TestApp, token: &str, o: &Objects) -> (Value, Value, Value) {
    let household = app.call("GET", &format!("/api/v1/households/{}", o.household), Some(token), None).await;
    let history = app.call("GET", &format!("/api/v1/households/{}/history", o.household), Some(token), None).await;
    let referral = app.call("GET", &format!("/api/v1/referrals/{}", o.referral), Some(token), None).await;
    (household.body_without_request_id(), history.body["items"].clone(), referral.body["status"].clone())
}

#[actix_web::test]
async fn another_districts_objects_answer_like_missing_ones_and_stay_untouched() {
    let app = spawn_app().await;
    app.create_user("clerk-swat", Role::Clerk, &["swat"], &[]).await;
    app.create_user("clerk-peshawar", Role::Clerk, &["peshawar"], &[]).await;
    let swat = app.login("clerk-swat", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let peshawar =
        app.login("clerk-peshawar", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let theirs = objects_in(&app, &swat, "swat", "15602").await;
    let mine = objects_in(&app, &peshawar, "peshawar", "17301").await;
    let before = snapshot(&app, &swat, &theirs).await;
    app.create_user("auditor-peshawar", Role::Auditor, &["peshawar"], &[]).await;
    let auditor =
        app.login("auditor-peshawar", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();

    let mut checked = 0;
    for (role, token) in [(Role::Clerk, &peshawar), (Role::Auditor, &auditor)] {
        for endpoint in endpoints() {
            let Access::Requires(action) = endpoint.access else { continue };
            let scoped = endpoint.path.starts_with("/api/v1/households/{id}")
                || endpoint.path.starts_with("/api/v1/referrals/{id}");
            if !scoped || !policy::permits(role, action) {
                continue;
            }
            let method = endpoint.method.as_str();
            let body = (method != "GET").then(|| json!({}));
            let headers = [("if-match", "\"v1\"")];
            let own = app
                .call_with(method, &path_for(endpoint.path, Some(&mine)), Some(token), body.as_ref(), &headers)
                .await;
            let other = app
                .call_with(method, &path_for(endpoint.path, Some(&theirs)), Some(token), body.as_ref(), &headers)
                .await;
            let missing =
                app.call_with(method, &path_for(endpoint.path, None), Some(token), body.as_ref(), &headers).await;
            let route = format!("{method} {} as {role}", endpoint.path);
            assert!(!other.status.is_success(), "{route}: another district's object answered {}", other.status);
            assert_eq!(
                (other.status, other.body_without_request_id()),
                (missing.status, missing.body_without_request_id()),
                "{route}: another district's object must look missing"
            );
            assert!(!own.status.is_server_error() && !other.status.is_server_error(), "{route}");
            if method == "GET" {
                assert!(own.status.is_success(), "{route}: an object of the caller's district answered {}", own.status);
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} routes checked");
    assert_eq!(snapshot(&app, &swat, &theirs).await, before, "the other district's records are unchanged");
}
