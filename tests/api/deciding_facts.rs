//! The facts the last catalogue schemes decide on (issue 12, item 8): the new member and
//! household fields are validated, stored and returned; a member removed as deceased is kept
//! with its date of death and insurance; and the survivors' pension rests on the deceased's
//! recorded insurance — undetermined without it, never eligible on a widow alone.

use awc::http::StatusCode;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn clerk(app: &TestApp, name: &str, district: &str) -> String {
    app.create_user(name, Role::Clerk, &[district], &[]).await;
    let reply = app.login(name, PASSWORD).await;
    reply.body["access_token"].as_str().expect("token").to_string()
}

/// A widow of 49 (head, CNIC), her husband (still a member) and an orphaned son of 14.
fn widow_household() -> Value {
    json!({
        "district": "swat",
        "members": [
            {"full_name": "Gul Bibi", "relation_to_head": "head", "sex": "female", "date_of_birth": "1975-04-02",
             "id_type": "cnic", "id_number": "15602-1234568-2", "marital_status": "married"},
            {"full_name": "Sher Khan", "relation_to_head": "spouse", "sex": "male", "date_of_birth": "1970-01-01",
             "id_type": "cnic", "id_number": "15602-1234569-1", "marital_status": "married",
             "employment": "employed_formal"},
            {"full_name": "Aslam", "relation_to_head": "son", "sex": "male", "date_of_birth": "2010-06-01",
             "id_type": "b_form", "id_number": "15602-1234570-1", "marital_status": "never_married"}
        ]
    })
}

fn result<'a>(body: &'a Value, scheme: &str) -> &'a Value {
    body["results"].as_array().expect("results").iter().find(|r| r["scheme"] == scheme).expect("scheme")
}

fn missing(result: &Value) -> Vec<String> {
    let mut names: Vec<String> = result["missing_fields"]
        .as_array()
        .expect("missing")
        .iter()
        .filter_map(|f| f["field"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (e["field"].as_str().unwrap_or_default().to_string(), e["code"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

#[actix_web::test]
async fn the_new_fields_are_validated_stored_and_returned() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let mut body = widow_household();
    body["owns_residential_plot"] = json!("yes");
    body["members"][2]["institution_type"] = json!("public");
    body["members"][1]["years_of_service"] = json!(61);
    body["members"][1]["pension_drawn"] = json!(true);
    let refused = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    assert_eq!(refused.header("content-type").as_deref(), Some("application/problem+json"));
    assert_eq!(
        errors(&refused.body),
        vec![
            ("members[1].pension_drawn".into(), "invalid_choice".into()),
            ("members[1].years_of_service".into(), "out_of_range".into()),
            ("members[2].institution_type".into(), "invalid_choice".into()),
            ("owns_residential_plot".into(), "invalid_type".into()),
        ]
    );

    let mut body = widow_household();
    body["owns_residential_plot"] = json!(true);
    body["members"][0]["protection_need"] = json!(false);
    body["members"][0]["marriage_arranged"] = json!(false);
    body["members"][1]["years_of_service"] = json!(12);
    body["members"][1]["pension_drawn"] = json!("none");
    body["members"][1]["employment_injury"] = json!(false);
    body["members"][1]["certified_unfit"] = json!(true);
    body["members"][1]["substance_use"] = json!(false);
    body["members"][2]["institution_type"] = json!("government");
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id");
    let read = app.call("GET", &format!("/api/v1/households/{id}"), Some(&token), None).await;
    assert_eq!(read.body["owns_residential_plot"], true);
    let m = &read.body["members"];
    assert_eq!((m[0]["protection_need"].clone(), m[0]["marriage_arranged"].clone()), (json!(false), json!(false)));
    assert_eq!(m[1]["years_of_service"], 12);
    assert_eq!(m[1]["pension_drawn"], "none");
    assert_eq!((m[1]["employment_injury"].clone(), m[1]["certified_unfit"].clone()), (json!(false), json!(true)));
    assert_eq!(m[1]["substance_use"], false);
    assert_eq!(m[2]["institution_type"], "government");
    assert_eq!(read.body["deceased_members"], json!([]));

    // A merge patch makes a value unknown again, and a bad one is refused at its field.
    let spouse = m[1]["id"].as_str().expect("spouse");
    let bad = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{spouse}"),
            Some(&token),
            Some(&json!({"pension_drawn": "bisp"})),
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&bad.body), vec![("pension_drawn".into(), "invalid_choice".into())]);
    let cleared = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{spouse}"),
            Some(&token),
            Some(&json!({"certified_unfit": null})),
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{:?}", cleared.body);
    assert_eq!(cleared.body["members"][1]["certified_unfit"], Value::Null);
}

#[actix_web::test]
async fn a_deceased_member_is_kept_with_the_date_of_death_and_insurance() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&widow_household())).await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let head = created.body["members"][0]["id"].as_str().expect("head").to_string();
    let husband = created.body["members"][1]["id"].as_str().expect("husband").to_string();
    let removal = format!("/api/v1/households/{id}/members/{husband}/removal");
    let v1 = [("if-match", "\"v1\"")];

    for (body, field, code) in [
        (json!({"reason": "moved_out", "date_of_death": "2024-10-01"}), "date_of_death", "not_allowed"),
        (json!({"reason": "deceased", "date_of_death": "01-10-2024"}), "date_of_death", "invalid_date"),
        (json!({"reason": "deceased", "date_of_death": "2999-01-01"}), "date_of_death", "in_future"),
        (json!({"reason": "deceased", "date_of_death": "1960-01-01"}), "date_of_death", "before_birth"),
        (json!({"reason": "deceased", "date_of_death": 20241001}), "date_of_death", "invalid_type"),
    ] {
        let refused = app.call_with("POST", &removal, Some(&token), Some(&body), &v1).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", refused.body);
        assert_eq!(refused.header("content-type").as_deref(), Some("application/problem+json"));
        assert_eq!(errors(&refused.body), vec![(field.to_string(), code.to_string())], "{body}");
    }
    // A current member has no date of death.
    let not_dead = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{head}"),
            Some(&token),
            Some(&json!({"date_of_death": "2024-10-01"})),
            &v1,
        )
        .await;
    assert_eq!(not_dead.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors(&not_dead.body), vec![("date_of_death".into(), "not_allowed".into())]);

    let removed = app
        .call_with(
            "POST",
            &removal,
            Some(&token),
            Some(&json!({"reason": "deceased", "date_of_death": "2024-10-01"})),
            &v1,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    assert_eq!(removed.body["members"].as_array().map(Vec::len), Some(2));
    let deceased = &removed.body["deceased_members"][0];
    assert_eq!(deceased["id"], json!(husband));
    assert_eq!(deceased["date_of_death"], "2024-10-01");
    assert_eq!(deceased["employment"], "employed_formal");
    assert!(deceased["removed_at"].is_string());
    assert_eq!(deceased["eobi_registered"], Value::Null);

    // The deceased's insurance is recorded later on the kept record; the date can change.
    let recorded = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{husband}"),
            Some(&token),
            Some(&json!({"eobi_registered": true, "eobi_contribution_years": 9, "date_of_death": "2024-09-30"})),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(recorded.status, StatusCode::OK, "{:?}", recorded.body);
    let deceased = &recorded.body["deceased_members"][0];
    assert_eq!(
        (deceased["eobi_registered"].clone(), deceased["eobi_contribution_years"].clone()),
        (json!(true), json!(9))
    );
    assert_eq!(deceased["date_of_death"], "2024-09-30");
    assert_eq!(recorded.body["members"].as_array().map(Vec::len), Some(2));
    let history = app.call("GET", &format!("/api/v1/households/{id}/history"), Some(&token), None).await;
    assert!(history.body.to_string().contains("date_of_death"), "{:?}", history.body);

    // A member removed for another reason stays out of reach.
    let son = created.body["members"][2]["id"].as_str().expect("son").to_string();
    let moved = app
        .call_with(
            "POST",
            &format!("/api/v1/households/{id}/members/{son}/removal"),
            Some(&token),
            Some(&json!({"reason": "moved_out"})),
            &[("if-match", "\"v3\"")],
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    let edit_moved = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{son}"),
            Some(&token),
            Some(&json!({"eobi_registered": true})),
            &[("if-match", "\"v4\"")],
        )
        .await;
    assert_eq!(edit_moved.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_survivors_pension_rests_on_the_deceased_members_recorded_insurance() {
    let app = spawn_app().await;
    let token = clerk(&app, "amina", "swat").await;
    // A widow and an orphan, and no deceased member recorded.
    let mut body = widow_household();
    body["members"][0]["marital_status"] = json!("widowed");
    body["members"][2]["is_orphan"] = json!(true);
    body["members"][1]["relation_to_head"] = json!("son");
    body["members"][1]["date_of_birth"] = json!("1995-01-01");
    body["members"][1]["marital_status"] = json!("never_married");
    let created = app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let screen = format!("/api/v1/households/{id}/screenings?as_of=2025-01-15");

    let first = app.call("POST", &screen, Some(&token), None).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let survivors = result(&first.body, "eobi-survivors-pension");
    assert_eq!(survivors["status"], "undetermined", "{survivors}");
    assert_eq!(
        missing(survivors),
        [
            "deceased_employment",
            "deceased_eobi_contribution_years",
            "deceased_eobi_registered",
            "deceased_pension_drawn"
        ]
    );
    assert_eq!(result(&first.body, "wwb-death-grant")["status"], "undetermined");

    // The husband was registered as a member, then died: removed as deceased, insured 8 years
    // in formal employment.
    let husband = json!({"full_name": "Sher Khan", "relation_to_head": "other_relative", "sex": "male",
        "date_of_birth": "1970-01-01", "id_type": "none", "employment": "employed_formal",
        "eobi_registered": true, "eobi_contribution_years": 8, "pension_drawn": "none"});
    let added = app
        .call_with(
            "POST",
            &format!("/api/v1/households/{id}/members"),
            Some(&token),
            Some(&husband),
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    let husband_id = added.body["members"][3]["id"].as_str().expect("husband").to_string();
    let removed = app
        .call_with(
            "POST",
            &format!("/api/v1/households/{id}/members/{husband_id}/removal"),
            Some(&token),
            Some(&json!({"reason": "deceased", "date_of_death": "2024-12-01"})),
            &[("if-match", "\"v2\"")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    let second = app.call("POST", &screen, Some(&token), None).await;
    assert_eq!(result(&second.body, "eobi-survivors-pension")["status"], "eligible");
    assert_eq!(
        result(&second.body, "wwb-death-grant")["status"],
        "eligible",
        "{}",
        result(&second.body, "wwb-death-grant")
    );

    // Recorded as never insured with EOBI: the survivors' pension is refused for that reason.
    let never = app
        .call_with(
            "PATCH",
            &format!("/api/v1/households/{id}/members/{husband_id}"),
            Some(&token),
            Some(&json!({"eobi_registered": false, "eobi_contribution_years": null})),
            &[("if-match", "\"v3\"")],
        )
        .await;
    assert_eq!(never.status, StatusCode::OK, "{:?}", never.body);
    let third = app.call("POST", &screen, Some(&token), None).await;
    let survivors = result(&third.body, "eobi-survivors-pension");
    assert_eq!(survivors["status"], "not_eligible");
    assert_eq!(survivors["failed_criteria"], json!(["deceased_insured"]));
    // The stored decisions follow the change too.
    let decisions = app.call("GET", &format!("/api/v1/households/{id}/decisions"), Some(&token), None).await;
    assert!(!decisions.body["eligible"].as_array().expect("eligible").contains(&json!("eobi-survivors-pension")));
}
