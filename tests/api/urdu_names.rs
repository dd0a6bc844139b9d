//! A member's name in Urdu script (`full_name_ur`) beside the name of record: written and read
//! back, patched, refused in another script, searched by prefix, and carried by imports.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const HEAD_UR: &str = "گل خان";

fn household(head_ur: Option<&str>) -> Value {
    let mut head = json!({"full_name": "Gul Khan", "relation_to_head": "head", "sex": "male",
        "date_of_birth": "1975-03-01", "id_type": "none"});
    if let Some(ur) = head_ur {
        head["full_name_ur"] = json!(ur);
    }
    json!({"district": "swat", "members": [head,
        {"full_name": "Zarmina", "relation_to_head": "daughter", "sex": "female", "date_of_birth": "2015-02-10",
         "id_type": "none"}]})
}

async fn clerk(app: &TestApp) -> String {
    app.create_user("amina", Role::Clerk, &["swat"], &[]).await;
    app.login("amina", PASSWORD).await.body["access_token"].as_str().expect("token").to_string()
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn search(app: &TestApp, token: &str, name: &str) -> Vec<Value> {
    let reply = app.call("GET", &format!("/api/v1/households?name={}", encoded(name)), Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
    reply.body["items"].as_array().expect("items").clone()
}

fn errors_of(reply: &Reply) -> Vec<(String, String)> {
    let errors = reply.body["errors"].as_array().map(Vec::as_slice).unwrap_or_default();
    errors.iter().map(|e| (e["field"].as_str().unwrap_or("").into(), e["code"].as_str().unwrap_or("").into())).collect()
}

#[actix_web::test]
async fn the_urdu_name_is_stored_read_back_patched_and_searched() {
    let app = spawn_app().await;
    let token = clerk(&app).await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&household(Some("  گل خان ")))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let base = format!("/api/v1/households/{}", created.body["id"].as_str().expect("id"));
    let head_id = created.body["members"][0]["id"].as_str().expect("head").to_string();
    let child_id = created.body["members"][1]["id"].as_str().expect("child").to_string();
    let read = app.call("GET", &base, Some(&token), None).await;
    assert_eq!(read.body["members"][0]["full_name"], "Gul Khan");
    assert_eq!(read.body["members"][0]["full_name_ur"], HEAD_UR, "trimmed, otherwise byte for byte");
    assert_eq!(read.body["members"][1]["full_name_ur"], Value::Null, "unknown stays unknown");
    // Another household, without an Urdu name, must not match the Urdu search.
    let other = app.call("POST", "/api/v1/households", Some(&token), Some(&household(None))).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);

    // Either script finds it; harakat and inner spacing are ignored as for the name of record.
    for prefix in ["گل", "گُل  خ", HEAD_UR] {
        let items = search(&app, &token, prefix).await;
        assert_eq!(items.len(), 1, "{prefix}: {items:?}");
        assert_eq!(items[0]["id"], created.body["id"], "{prefix}");
        assert_eq!(items[0]["head_name"], "Gul Khan");
        assert_eq!(items[0]["head_name_ur"], HEAD_UR);
    }
    let latin = search(&app, &token, "gul kh").await;
    assert_eq!(latin.len(), 2, "{latin:?}");
    assert!(latin.iter().any(|h| h["head_name_ur"] == Value::Null), "{latin:?}");
    assert!(search(&app, &token, "زر").await.is_empty());

    // PATCH (merge patch): set on a member who had none, change, and clear with null.
    let patch = |member: &str, body: Value, version: i64| {
        let (app, token, path) = (&app, token.clone(), format!("{base}/members/{member}"));
        async move {
            app.call_with("PATCH", &path, Some(&token), Some(&body), &[("if-match", &format!("\"v{version}\""))]).await
        }
    };
    let set = patch(&child_id, json!({"full_name_ur": "زرمینہ"}), 1).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["members"][1]["full_name_ur"], "زرمینہ");
    assert_eq!(set.body["members"][1]["full_name"], "Zarmina", "the rest of the member is kept");
    assert_eq!(search(&app, &token, "زرم").await.len(), 1, "the new Urdu name is searchable");
    let changed = patch(&head_id, json!({"full_name_ur": "گل محمد خان"}), 2).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(search(&app, &token, "گل خ").await.is_empty(), "the old key is gone");
    assert_eq!(search(&app, &token, "گل مح").await[0]["head_name_ur"], "گل محمد خان");
    let history = app.call("GET", &format!("{base}/history"), Some(&token), None).await;
    let last = history.body["items"].as_array().expect("items").last().cloned().unwrap_or_default();
    assert_eq!(last["changes"]["full_name_ur"], json!({"from": HEAD_UR, "to": "گل محمد خان"}), "{last}");
    let cleared = patch(&head_id, json!({"full_name_ur": null}), 3).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["members"][0]["full_name_ur"], Value::Null);
    assert!(search(&app, &token, "گل").await.is_empty());

    // A member added later may have one too.
    let baby = json!({"full_name": "Baby", "full_name_ur": "بچہ", "relation_to_head": "son", "sex": "male",
        "date_of_birth": "2025-12-01", "id_type": "none"});
    let added =
        app.call_with("POST", &format!("{base}/members"), Some(&token), Some(&baby), &[("if-match", "\"v4\"")]).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["members"][2]["full_name_ur"], "بچہ");
}

#[actix_web::test]
async fn an_urdu_name_in_another_script_or_empty_is_refused_at_its_field() {
    let app = spawn_app().await;
    let token = clerk(&app).await;
    for bad in
        [json!("Gul Khan"), json!("گل Khan"), json!(""), json!("  "), json!("۔"), json!(7), json!("گ".repeat(201))]
    {
        let mut body = household(None);
        body["members"][0]["full_name_ur"] = bad.clone();
        let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let fields: Vec<String> = errors_of(&reply).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["members[0].full_name_ur"], "{bad}: {}", reply.body);
    }
    let mut latin = household(None);
    latin["members"][0]["full_name_ur"] = json!("Gul Khan");
    let reply = app.call("POST", "/api/v1/households", Some(&token), Some(&latin)).await;
    let message = reply.body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Urdu script"), "{message}");
    assert!(!reply.body.to_string().contains("Gul Khan"), "the value is not echoed: {}", reply.body);

    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&household(None))).await;
    let base = format!("/api/v1/households/{}", created.body["id"].as_str().expect("id"));
    let member = created.body["members"][0]["id"].as_str().expect("member");
    let path = format!("{base}/members/{member}");
    let patch = json!({"full_name_ur": "Gul"});
    let refused = app.call_with("PATCH", &path, Some(&token), Some(&patch), &[("if-match", "\"v1\"")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(errors_of(&refused), [("full_name_ur".to_string(), "invalid_format".to_string())]);
    assert_eq!(app.call("GET", &base, Some(&token), None).await.body["version"], 1, "nothing was written");
}

async fn import(app: &TestApp, token: &str, content_type: &str, body: &str) -> Value {
    let mut resp = app
        .client
        .post(app.url("/api/v1/imports/households"))
        .bearer_auth(token)
        .insert_header(("content-type", content_type))
        .send_body(body.to_string())
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().limit(1 << 20).await.expect("report")
}

#[actix_web::test]
async fn csv_and_json_lines_imports_carry_the_urdu_name() {
    let app = spawn_app().await;
    let token = clerk(&app).await;
    let csv = "household_key,district,full_name,full_name_ur,relation_to_head,sex,date_of_birth,id_type\n\
               A,swat,Sher Ali,شیر علی,head,male,1979-01-01,none\n\
               A,,Gul,,son,male,2010-01-01,none\n\
               B,swat,Wali,Wali,head,male,1970-01-01,none\n";
    let report = import(&app, &token, "text/csv", csv).await;
    assert_eq!(report["summary"], json!({"accepted": 1, "rejected": 1, "duplicate": 0}), "{report}");
    assert_eq!(report["results"][1]["errors"][0]["field"], "members[0].full_name_ur");
    let jsonl = format!(
        "{}\n",
        json!({"district": "swat", "members": [{"full_name": "Nasreen", "full_name_ur": "نسرین",
        "relation_to_head": "head", "sex": "female", "date_of_birth": "1988-04-04", "id_type": "none"}]})
    );
    let lines = import(&app, &token, "application/x-ndjson", &jsonl).await;
    assert_eq!(lines["summary"], json!({"accepted": 1, "rejected": 0, "duplicate": 0}), "{lines}");

    for (result, name, ur) in
        [(&report["results"][0], "Sher Ali", "شیر علی"), (&lines["results"][0], "Nasreen", "نسرین")]
    {
        let id = result["household_id"].as_str().expect("id");
        let got = app.call("GET", &format!("/api/v1/households/{id}"), Some(&token), None).await;
        assert_eq!(got.body["members"][0]["full_name"], name);
        assert_eq!(got.body["members"][0]["full_name_ur"], ur);
        let found = search(&app, &token, ur).await;
        assert_eq!(found.len(), 1, "{ur}");
        assert_eq!(found[0]["head_name_ur"], ur);
    }
    let got = app
        .call(
            "GET",
            &format!("/api/v1/households/{}", report["results"][0]["household_id"].as_str().expect("id")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(got.body["members"][1]["full_name_ur"], Value::Null, "an empty cell is unknown");
}
