//! The OpenAPI document as a contract a client can be written from: every response
//! described, every operation named, the request bodies and `If-Match` described as the
//! server checks them. (`.ci/schemathesis` validates it against the OpenAPI 3.1 schema and
//! tests the server against it.)

use serde_json::Value;
use utoipa::OpenApi;

fn document() -> Value {
    serde_json::to_value(sahulat::api::docs::ApiDoc::openapi()).expect("document")
}

fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            found.push((format!("{} {path}", method.to_uppercase()), op));
        }
    }
    found
}

#[test]
fn every_response_has_a_description_and_every_operation_an_id() {
    let doc = document();
    let mut problems = Vec::new();
    for (name, op) in operations(&doc) {
        if op["operationId"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no operationId"));
        }
        for (status, response) in op["responses"].as_object().expect("responses") {
            if response["description"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{name} {status}: no description"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_operation_that_checks_if_match_documents_it_as_a_required_etag() {
    let doc = document();
    let needs = [
        "PATCH /api/v1/households/{id}",
        "POST /api/v1/households/{id}/members",
        "PATCH /api/v1/households/{id}/members/{member_id}",
        "POST /api/v1/households/{id}/members/{member_id}/removal",
        "POST /api/v1/households/{id}/head",
        "PATCH /api/v1/users/{id}",
    ];
    for (name, op) in operations(&doc) {
        let if_match = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("if-match")));
        match if_match {
            Some(p) => {
                assert!(needs.contains(&name.as_str()), "{name} documents If-Match it does not check");
                assert_eq!(p["in"], "header", "{name}");
                assert_eq!(p["required"], true, "{name}");
                assert_eq!(p["schema"]["pattern"], r#"^(W/)?"v[0-9]{1,18}"$"#, "{name}");
            }
            None => assert!(!needs.contains(&name.as_str()), "{name} checks If-Match but does not document it"),
        }
    }
}

#[test]
fn json_request_bodies_are_described_not_free_objects() {
    let doc = document();
    for (name, op) in operations(&doc) {
        let Some(content) = op["requestBody"]["content"].as_object() else { continue };
        for (media, body) in content {
            let schema = &body["schema"];
            if media.ends_with("json") {
                assert!(schema["$ref"].is_string(), "{name} {media}: {schema}");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let members = &schemas["HouseholdRegistration"]["properties"]["members"];
    assert_eq!((members["minContains"].as_u64(), members["maxContains"].as_u64()), (Some(1), Some(1)));
    assert_eq!(schemas["MemberInput"]["additionalProperties"], false);
    assert!(schemas["MemberInput"]["else"]["required"].as_array().is_some_and(|r| r.contains(&"id_number".into())));
    let dob = &schemas["MemberInput"]["properties"]["date_of_birth"];
    assert_eq!(dob["format"], "date");
    assert!(dob["pattern"].as_str().is_some_and(|p| p.starts_with("^(19[0-9][0-9]|20")), "{dob}");
}
