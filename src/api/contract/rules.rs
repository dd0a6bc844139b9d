//! The rules the derived schemas of [`super`] cannot carry — across fields, over state the
//! server checks (today's date), and over every parameter of a kind — added to the document
//! as JSON Schema 2020-12 keywords (OpenAPI 3.1's dialect).

use chrono::Datelike;
use serde_json::{Value, json};
use utoipa::Modify;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{RefOr, Schema, Type};

/// The rules across fields that the derived schemas cannot carry, added as JSON Schema
/// 2020-12 keywords (OpenAPI 3.1's dialect), and the date pattern, which depends on today.
pub struct CrossFieldRules;

/// A schema made of raw keywords (for the ones utoipa has no field for).
fn raw(keywords: Value) -> Schema {
    let keywords: Extensions = match keywords {
        Value::Object(map) => map.into_iter().collect(),
        _ => Extensions::default(),
    };
    Schema::Object(
        utoipa::openapi::ObjectBuilder::new().schema_type(SchemaType::AnyValue).extensions(Some(keywords)).build(),
    )
}

/// Adds raw keywords to a schema object (or array).
fn add_keywords(schema: Option<&mut RefOr<Schema>>, keywords: Value) {
    let Value::Object(map) = keywords else { return };
    let extensions = match schema {
        Some(RefOr::T(Schema::Object(o))) => &mut o.extensions,
        Some(RefOr::T(Schema::Array(a))) => &mut a.extensions,
        _ => return,
    };
    extensions.get_or_insert_with(Extensions::default).extend(map);
}

/// `schema`, except `head`.
fn not_head(schema: RefOr<Schema>) -> Schema {
    let all = utoipa::openapi::AllOfBuilder::new().item(schema).item(raw(json!({"not": {"const": "head"}})));
    Schema::AllOf(all.build())
}

fn property<'a>(schema: Option<&'a mut RefOr<Schema>>, name: &str) -> Option<&'a mut RefOr<Schema>> {
    match schema {
        Some(RefOr::T(Schema::Object(o))) => o.properties.get_mut(name),
        _ => None,
    }
}

/// `YYYY-MM-DD` for every real date from 1900-01-01 to the end of `last_year` (2000–2099):
/// what the server accepts however late in the year the document is read. `format: date`
/// alone would let a client (or a test generator) send dates in the future.
pub fn past_date_pattern(last_year: i32) -> String {
    let last_year = last_year.clamp(2000, 2099);
    let (decade, unit) = ((last_year - 2000) / 10, (last_year - 2000) % 10);
    let mut years = vec!["19[0-9][0-9]".to_string()];
    if decade > 0 {
        years.push(format!("20[0-{}][0-9]", decade - 1));
    }
    years.push(format!("20{decade}[0-{unit}]"));
    let leap: Vec<String> = (2000..=last_year).step_by(4).map(|y| format!("{:02}", y - 2000)).collect();
    let days = "(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31";
    format!(r"^({})-({days})$|^(19(0[48]|[2468][048]|[13579][26])|20({}))-02-29$", years.join("|"), leap.join("|"))
}

impl Modify for CrossFieldRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        let schemas = &mut components.schemas;
        let last_year = crate::registry::warnings::today_in_pakistan().year() - 1;
        let date = past_date_pattern(last_year);
        for name in ["MemberInput", "MemberPatch"] {
            if let Some(RefOr::T(Schema::Object(o))) = property(schemas.get_mut(name), "date_of_birth") {
                o.pattern = Some(date.clone());
            }
        }
        // An ID number exactly when the document asks for one.
        add_keywords(
            schemas.get_mut("MemberInput"),
            json!({
                "if": {"properties": {"id_type": {"const": "none"}}},
                "then": {"properties": {"id_number": {"type": "null"}}},
                "else": {"required": ["id_number"], "properties": {"id_number": {"type": "string"}}},
            }),
        );
        add_keywords(
            schemas.get_mut("MemberPatch"),
            json!({
                "dependentRequired": {"id_type": ["id_number"], "id_number": ["id_type"]},
                "if": {"required": ["id_type"], "properties": {"id_type": {"const": "none"}}},
                "then": {"properties": {"id_number": {"type": "null"}}},
                "else": {"properties": {"id_number": {"type": "string"}}},
            }),
        );
        if let Some(relation) = property(schemas.get_mut("MemberPatch"), "relation_to_head") {
            *relation = RefOr::T(not_head(relation.clone()));
        }
        // Exactly one head.
        add_keywords(
            property(schemas.get_mut("HouseholdRegistration"), "members"),
            json!({
                "contains": {"properties": {"relation_to_head": {"const": "head"}}},
                "minContains": 1,
                "maxContains": 1,
            }),
        );
        let relation = raw(json!({"properties": {"relation_to_head": {"not": {"const": "head"}}}}));
        let new_member = utoipa::openapi::AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("MemberInput"))
            .item(relation)
            .description(Some("A member added to a registered household: not the head."))
            .build();
        schemas.insert("NewMember".into(), RefOr::T(Schema::AllOf(new_member)));
        if let Some(relation) = property(schemas.get_mut("ChangeHeadRequest"), "previous_head_relation") {
            *relation = RefOr::T(not_head(relation.clone()));
        }
        add_keywords(property(schemas.get_mut("ReferRequest"), "schemes"), json!({"uniqueItems": true}));
        add_keywords(
            schemas.get_mut("TransitionRequest"),
            json!({
                "if": {"properties": {"to": {"enum": ["rejected", "withdrawn"]}}},
                "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": r"\S"}}},
            }),
        );
        add_keywords(schemas.get_mut("CreateUserRequest"), role_assignments());
        let dates = past_date_pattern(2099);
        if let Some(RefOr::T(Schema::Object(o))) = property(schemas.get_mut("RescreenRequest"), "as_of") {
            o.pattern = Some(dates);
        }
        for item in openapi.paths.paths.values_mut() {
            if let Some(RefOr::T(body)) = item.post.as_mut().and_then(|op| op.request_body.as_mut()) {
                describe_body(body);
            }
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for parameter in operations.into_iter().flatten().flat_map(|op| op.parameters.iter_mut().flatten()) {
                if let RefOr::T(parameter) = parameter {
                    describe_parameter(parameter);
                }
            }
        }
    }
}

/// A body that may be left out is documented as optional (`required: false`), not as
/// `null`: a `null` body is refused (400), an empty one means the defaults. A CSV import
/// must start with a header of known columns, `household_key` first (otherwise 400).
fn describe_body(body: &mut utoipa::openapi::request_body::RequestBody) {
    for (media, content) in body.content.iter_mut() {
        let RefOr::T(content) = content else { continue };
        let schema = content.schema.as_mut();
        match schema {
            Some(RefOr::T(Schema::OneOf(one_of))) => {
                let null = |s: &&RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
                let mut items = one_of.items.iter().filter(|s| !null(s));
                if let (Some(only), None) = (items.next().cloned(), items.next()) {
                    content.schema = Some(only);
                }
            }
            Some(RefOr::T(Schema::Object(o))) if media == "text/csv" => {
                let columns = crate::registry::import::csv_columns();
                let known = columns.iter().filter(|c| **c != "household_key").copied().collect::<Vec<_>>().join("|");
                o.pattern = Some(format!(r"^household_key(,({known}))*(\r?\n[^\x00]*)?$"));
            }
            _ => {}
        }
    }
}

/// Parameter rules the server applies to every request or to every parameter of a kind: no
/// NUL anywhere in the URL (answered 400), page sizes that fit an i64, dates as real `YYYY-MM-DD` dates (1900–2099 here),
/// and the `Idempotency-Key` as `idempotency::check_key` reads it.
fn describe_parameter(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::path::ParameterIn;
    let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { return };
    if parameter.name == "limit" {
        // Read as an i64: a larger number does not parse (400).
        schema.maximum = Some(utoipa::Number::Int(i64::MAX as isize));
    }
    let is_text =
        matches!(&schema.schema_type, utoipa::openapi::schema::SchemaType::Type(utoipa::openapi::Type::String))
            || matches!(&schema.schema_type, utoipa::openapi::schema::SchemaType::Array(types)
            if types.contains(&utoipa::openapi::Type::String));
    if !is_text || schema.pattern.is_some() {
        return;
    }
    let date = matches!(parameter.name.as_str(), "as_of" | "from" | "to");
    schema.pattern = Some(match parameter.parameter_in {
        ParameterIn::Query if date => {
            schema.format = Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date));
            past_date_pattern(2099)
        }
        ParameterIn::Header if parameter.name.eq_ignore_ascii_case("idempotency-key") => {
            schema.max_length = Some(255);
            "^[!-~]{1,255}$".into()
        }
        ParameterIn::Query | ParameterIn::Path => r"^[^\x00]*$".into(),
        _ => return,
    });
}

/// Which assignments each role needs and may hold (`auth::service::check_assignments`).
fn role_assignments() -> Value {
    let rule = |role: &str, then: Value| json!({"if": {"properties": {"role": {"const": role}}}, "then": then});
    let none = json!({"maxItems": 0});
    let some = json!({"minItems": 1});
    json!({"allOf": [
        rule("clerk", json!({"required": ["districts"], "properties": {"districts": some, "schemes": none}})),
        rule("scheme_admin", json!({"required": ["schemes"], "properties": {"schemes": some, "districts": none}})),
        rule("auditor", json!({"properties": {"schemes": none}})),
        rule("admin", json!({"properties": {"districts": none, "schemes": none}})),
    ]})
}

#[cfg(test)]
mod tests {
    use super::past_date_pattern;

    #[test]
    fn the_date_pattern_admits_real_past_dates_only() {
        let pattern = past_date_pattern(2025);
        // A few spot checks by hand-rolled matching would repeat the pattern; the integration
        // suite checks it with a regex engine. Here: its shape for 2025.
        assert!(pattern.starts_with("^(19[0-9][0-9]|20[0-1][0-9]|202[0-5])-"), "{pattern}");
        assert!(pattern.ends_with("|20(00|04|08|12|16|20|24))-02-29$"), "{pattern}");
        assert!(past_date_pattern(2003).starts_with("^(19[0-9][0-9]|200[0-3])-"));
    }
}
