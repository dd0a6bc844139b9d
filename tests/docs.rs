//! The documents in `docs/` against the code they describe, so they cannot drift apart.
//!
//! - `docs/DATA.md`: its field tables are compared, in both directions, with the code's field
//!   table — the registry parser's field lists (`registry::parse::*_EDITABLE`), the household
//!   answer as its OpenAPI schema describes it (`HouseholdView`, `MemberView`) and the rules'
//!   data dictionary (`rules::dict::FIELDS`): names, types, coded values, which fields rules may
//!   name, the derived values, the removal reasons and the district list. Each documented type,
//!   range and requiredness is then tried on the registry parser itself (the limits are
//!   accepted, one step beyond them is refused at that field's path).
//! - `docs/API.md`: every `METHOD /path` it names is a route of the endpoint table.
//! - README.md and `docs/`: relative links resolve, and nothing points outside the repository.
//!
//! Every failure names the document, the field or link, and what differs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sahulat::domain::codes::RemovalReason;
use sahulat::registry::parse::{HOUSEHOLD_EDITABLE, MEMBER_EDITABLE, parse_new_household};
use sahulat::rules::dict::{self, Scope, Ty};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// Fails with every message at once, so one run shows every drift.
fn report(doc: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{doc} and the code disagree:\n  - {}", problems.join("\n  - "));
}

// ---------------------------------------------------------------------------------------------
// Markdown tables
// ---------------------------------------------------------------------------------------------

/// One table row: the cells by column name, and its line in the file.
#[derive(Debug, Clone)]
struct Row {
    cells: BTreeMap<String, String>,
    line: usize,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.cells.get(column).map_or("", String::as_str)
    }

    /// The first cell without its backticks: the row's name.
    fn name(&self, column: &str) -> String {
        self.get(column).trim_matches('`').to_string()
    }
}

/// The text of the `## heading` section (up to the next `## `).
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let marker = format!("\n## {heading}\n");
    let start = doc.find(&marker).unwrap_or_else(|| panic!("docs/DATA.md has no section `## {heading}`"));
    let body = &doc[start + marker.len()..];
    body.find("\n## ").map_or(body, |end| &body[..end])
}

fn line_of(doc: &str, section: &str) -> usize {
    let offset = section.as_ptr() as usize - doc.as_ptr() as usize;
    doc[..offset].lines().count() + 1
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// The tables of a section whose header starts with `first_column`.
fn table(doc: &str, heading: &str, first_column: &str) -> Vec<Row> {
    let text = section(doc, heading);
    let first_line = line_of(doc, text);
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) =
        lines.iter().position(|l| l.starts_with('|') && cells(l).first().is_some_and(|c| c == first_column))
    else {
        panic!("docs/DATA.md section `{heading}` has no table starting with the column `{first_column}`");
    };
    let header = cells(lines[start]);
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start + 2) {
        if !line.starts_with('|') {
            break;
        }
        let values = cells(line);
        assert_eq!(
            values.len(),
            header.len(),
            "docs/DATA.md line {}: {} cells, the header has {}",
            first_line + i,
            values.len(),
            header.len()
        );
        rows.push(Row { cells: header.iter().cloned().zip(values).collect(), line: first_line + i });
    }
    rows
}

/// The backticked values of a cell: "`a`, `b`" → [a, b].
fn listed(cell: &str) -> Vec<String> {
    cell.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// The code's field table
// ---------------------------------------------------------------------------------------------

/// The schemas of the household answer (`HouseholdView`, with every schema it refers to), as
/// the OpenAPI document serves them: generated from the same types serde serialises.
fn openapi() -> Value {
    use sahulat::registry::service::{HouseholdView, MemberView};
    use utoipa::{PartialSchema, ToSchema};
    let mut schemas = Vec::new();
    HouseholdView::schemas(&mut schemas);
    MemberView::schemas(&mut schemas);
    schemas.push(("HouseholdView".to_string(), HouseholdView::schema()));
    schemas.push(("MemberView".to_string(), MemberView::schema()));
    let components: serde_json::Map<String, Value> = schemas
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or_else(|e| panic!("schema: {e}"))))
        .collect();
    json!({"components": {"schemas": components}})
}

/// A component schema by name.
fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "the OpenAPI schemas of the household answer have no `{name}`");
    schema
}

/// Follows `$ref`s.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => component(doc, r.rsplit('/').next().unwrap_or_default()),
        None => schema,
    }
}

/// Every property of an object schema, through `$ref` and `allOf` (serde's `flatten`).
fn properties(doc: &Value, schema: &Value, out: &mut BTreeMap<String, Value>) {
    let schema = resolve(doc, schema);
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            properties(doc, part, out);
        }
    }
    for (name, value) in schema["properties"].as_object().into_iter().flatten() {
        out.insert(name.clone(), value.clone());
    }
}

/// The JSON types and format a property allows (ignoring `null`), through refs and unions.
fn json_types(doc: &Value, schema: &Value, out: &mut BTreeSet<String>) {
    let schema = resolve(doc, schema);
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            json_types(doc, part, out);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for t in types.into_iter().filter(|t| *t != "null") {
        match schema["format"].as_str() {
            Some(format) => out.insert(format!("{t}:{format}")),
            None => out.insert(t.to_string()),
        };
    }
}

/// The `enum` values a property allows, through refs and unions.
fn enum_values(doc: &Value, schema: &Value) -> Option<Vec<String>> {
    let schema = resolve(doc, schema);
    if let Some(values) = schema["enum"].as_array() {
        return Some(values.iter().filter_map(Value::as_str).map(str::to_string).collect());
    }
    ["allOf", "oneOf", "anyOf"]
        .iter()
        .flat_map(|key| schema[*key].as_array().into_iter().flatten())
        .find_map(|part| enum_values(doc, part))
}

/// One scope of the data dictionary as the code has it.
struct CodeFields {
    /// Fields a client writes (the parser reads exactly these).
    input: BTreeSet<String>,
    /// Fields of the answer, with their OpenAPI schema.
    answer: BTreeMap<String, Value>,
}

fn code_fields(doc: &Value, scope: Scope) -> CodeFields {
    let (view, editable, extra): (&str, &[&str], &[&str]) = match scope {
        Scope::Household => ("HouseholdView", HOUSEHOLD_EDITABLE, &["district", "members"]),
        Scope::Member => ("MemberView", MEMBER_EDITABLE, &[]),
    };
    let mut answer = BTreeMap::new();
    properties(doc, component(doc, view), &mut answer);
    let input = editable.iter().chain(extra).map(|s| s.to_string()).collect();
    CodeFields { input, answer }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Household => "household",
        Scope::Member => "member",
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour: the documented types and ranges on the registry parser
// ---------------------------------------------------------------------------------------------

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

fn valid_member(relation: &str) -> Value {
    json!({"full_name": "Gul Bibi", "relation_to_head": relation, "sex": "female",
           "date_of_birth": "1980-05-01", "id_type": "none"})
}

fn valid_household() -> Value {
    json!({"district": "swat", "members": [valid_member("head")]})
}

/// The error codes the parser gives at `path` for `body` (empty: accepted there).
fn errors_at(body: &Value, path: &str) -> Vec<String> {
    match parse_new_household(body, today()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().filter(|e| e.field == path).map(|e| e.code).collect(),
    }
}

/// A body with `field` set to `value` (of the household, or of its first member).
fn with(scope: Scope, field: &str, value: Value) -> Value {
    let mut body = valid_household();
    match scope {
        Scope::Household => body[field] = value,
        Scope::Member => {
            if field == "id_number" {
                body["members"][0]["id_type"] = json!("cnic");
            }
            body["members"][0][field] = value;
        }
    }
    body
}

fn without(scope: Scope, field: &str) -> Value {
    let mut body = valid_household();
    let object = match scope {
        Scope::Household => &mut body,
        Scope::Member => &mut body["members"][0],
    };
    if let Some(map) = object.as_object_mut() {
        map.remove(field);
    }
    body
}

/// Values the documented type accepts, and values one step outside it.
fn probes(ty: &str, allowed: &[String]) -> Option<(Vec<Value>, Vec<Value>)> {
    let range = |text: &str| -> Option<(f64, f64)> {
        let (low, high) = text.split_once('–')?;
        Some((low.trim().parse().ok()?, high.trim().parse().ok()?))
    };
    if let Some(n) = ty.strip_prefix("Urdu name ≤ ") {
        let n: usize = n.trim().parse().ok()?;
        return Some((
            vec![json!("ض".repeat(n)), json!("گل خان")],
            vec![json!("ض".repeat(n + 1)), json!("Gul Khan"), json!("  ")],
        ));
    }
    if let Some(n) = ty.strip_prefix("text ≤ ").or_else(|| ty.strip_prefix("name ≤ ")) {
        let n: usize = n.trim().parse().ok()?;
        return Some((vec![json!("x".repeat(n)), json!("ضلع")], vec![json!("x".repeat(n + 1)), json!("  "), json!(7)]));
    }
    if let Some(r) = ty.strip_prefix("integer ") {
        let (low, high) = range(r)?;
        return Some((
            vec![json!(low as i64), json!(high as i64)],
            vec![json!(low as i64 - 1), json!(high as i64 + 1), json!(low + 0.5)],
        ));
    }
    if let Some(rest) = ty.strip_prefix("decimal ") {
        let (r, decimals) = rest.split_once(", ≤ ")?;
        let (low, high) = range(r)?;
        let decimals: i32 = decimals.trim_end_matches(" decimals").parse().ok()?;
        let step = 10f64.powi(-decimals);
        return Some((
            vec![json!(low), json!(high), json!(low + step)],
            vec![json!(low - step), json!(high + step), json!(low + step / 10.0)],
        ));
    }
    Some(match ty {
        "yes/no" => (vec![json!(true), json!(false)], vec![json!("yes"), json!(1)]),
        "date" => (vec![json!("2000-02-29")], vec![json!("2001-02-29"), json!("01/02/2000")]),
        "coded" => (allowed.iter().map(|v| json!(v)).collect(), vec![json!("not-a-value"), json!(1)]),
        "phone" => (vec![json!("+92 300 1234567"), json!("0300-1234567")], vec![json!("12345"), json!("02112345678")]),
        "ID number" => (vec![json!("15602-1234567-2"), json!("1560212345672")], vec![json!("85602-1234567-2")]),
        "district code" => (vec![json!("swat")], vec![json!(""), json!(3)]),
        _ => return None,
    })
}

fn check_behaviour(scope: Scope, row: &Row, problems: &mut Vec<String>) {
    let name = row.name("field");
    let ty = row.get("type");
    let required = row.get("required");
    let path = match scope {
        Scope::Household => name.clone(),
        Scope::Member => format!("members[0].{name}"),
    };
    let at = format!("docs/DATA.md:{} `{name}`", row.line);
    if name == "members" {
        let members = |n: usize| {
            let list: Vec<Value> = (0..n).map(|i| valid_member(if i == 0 { "head" } else { "son" })).collect();
            json!({"district": "swat", "members": list})
        };
        let (low, high) = listed_range(row.get("allowed values"));
        for (n, ok) in [(low, true), (high, true), (low.saturating_sub(1), false), (high + 1, false)] {
            if errors_at(&members(n), "members").is_empty() != ok {
                problems.push(format!("{at}: {n} members are {}", if ok { "refused" } else { "accepted" }));
            }
        }
        return;
    }
    match required {
        "yes" => {
            if !errors_at(&without(scope, &name), &path).contains(&"required".to_string()) {
                problems.push(format!("{at}: documented as required, but a body without it is not refused"));
            }
        }
        "no" => {
            if !errors_at(&without(scope, &name), &path).is_empty() {
                problems.push(format!("{at}: documented as optional, but a body without it is refused"));
            }
        }
        "if `id_type` is not `none`" => {
            let mut missing = with(scope, &name, Value::Null);
            missing["members"][0]["id_type"] = json!("b_form");
            if !errors_at(&missing, &path).contains(&"required".to_string()) {
                problems.push(format!("{at}: is not required when id_type is b_form"));
            }
            let mut extra = with(scope, &name, json!("15602-1234567-2"));
            extra["members"][0]["id_type"] = json!("none");
            if errors_at(&extra, &path).is_empty() {
                problems.push(format!("{at}: is accepted with id_type none"));
            }
        }
        other => problems.push(format!("{at}: unknown requiredness `{other}` (yes, no, server or a condition)")),
    }
    let Some((good, bad)) = probes(ty, &listed(row.get("allowed values"))) else {
        problems.push(format!("{at}: unknown type `{ty}`"));
        return;
    };
    for value in good {
        let errors = errors_at(&with(scope, &name, value.clone()), &path);
        if !errors.is_empty() {
            problems.push(format!("{at}: documented as {ty}, but {value} is refused ({})", errors.join(", ")));
        }
    }
    for value in bad {
        if errors_at(&with(scope, &name, value.clone()), &path).is_empty() {
            problems.push(format!("{at}: documented as {ty}, but {value} is accepted"));
        }
    }
}

/// "1–30 members" → (1, 30).
fn listed_range(cell: &str) -> (usize, usize) {
    let text = cell.split_whitespace().next().unwrap_or_default();
    let (low, high) = text.split_once('–').unwrap_or_else(|| panic!("docs/DATA.md: `{cell}` is not a range a–b"));
    (low.parse().unwrap_or(0), high.parse().unwrap_or(0))
}

// ---------------------------------------------------------------------------------------------
// docs/DATA.md
// ---------------------------------------------------------------------------------------------

/// Whether a documented type matches a type of the rules' dictionary.
fn same_kind(doc_type: &str, ty: Ty) -> bool {
    match ty {
        Ty::Bool => doc_type == "yes/no",
        Ty::Num => doc_type.starts_with("integer ") || doc_type.starts_with("decimal "),
        Ty::Coded(_) => doc_type == "coded" || doc_type == "district code",
        Ty::Date => doc_type == "date",
    }
}

/// Whether a documented type matches the answer's JSON type.
fn answer_kind(doc_type: &str, json: &BTreeSet<String>) -> bool {
    let has = |t: &str| json.contains(t);
    match doc_type.split_whitespace().next().unwrap_or_default() {
        "integer" => has("integer") || has("integer:int32") || has("integer:int64"),
        "decimal" => has("number") || has("number:double") || has("number:float"),
        "yes/no" => has("boolean"),
        "date" => has("string:date"),
        "timestamp" => has("string:date-time"),
        "list" => has("array"),
        _ => has("string"),
    }
}

fn check_scope(doc: &str, openapi: &Value, heading: &str, scope: Scope, problems: &mut Vec<String>) {
    let rows = table(doc, heading, "field");
    let code = code_fields(openapi, scope);
    let what = scope_name(scope);
    let documented: BTreeMap<String, &Row> = rows.iter().map(|r| (r.name("field"), r)).collect();
    assert_eq!(documented.len(), rows.len(), "docs/DATA.md: a {what} field is listed twice");

    let all_code: BTreeSet<&String> = code.input.iter().chain(code.answer.keys()).collect();
    for name in &all_code {
        if !documented.contains_key(*name) {
            problems.push(format!("{what} field `{name}` is in the code but has no row in docs/DATA.md § {heading}"));
        }
    }
    for (name, row) in &documented {
        let at = format!("docs/DATA.md:{} {what} field `{name}`", row.line);
        if !all_code.contains(name) {
            problems.push(format!("{at} is not a field of the code (parser or answer)"));
            continue;
        }
        let ty = row.get("type");
        let server = row.get("required") == "server";
        if server == code.input.contains(name) {
            problems.push(format!(
                "{at}: documented as {}, but the parser {} it",
                if server { "server-assigned" } else { "written by clients" },
                if server { "reads" } else { "does not read" }
            ));
        }
        match code.answer.get(name) {
            Some(schema) => {
                let mut json = BTreeSet::new();
                json_types(openapi, schema, &mut json);
                if !answer_kind(ty, &json) {
                    problems.push(format!("{at}: documented as {ty}, the answer's schema says {json:?}"));
                }
                if ty == "coded" {
                    let values = enum_values(openapi, schema);
                    if values.as_deref() != Some(&listed(row.get("allowed values"))[..]) {
                        problems.push(format!(
                            "{at}: allowed values {:?}, the OpenAPI document says {values:?}",
                            listed(row.get("allowed values"))
                        ));
                    }
                }
            }
            None => problems.push(format!("{at} is read by the parser but not in the answer")),
        }
        match (row.get("rules"), dict::lookup(scope, name)) {
            ("yes", Some(field)) if !field.derived => {
                if !same_kind(ty, field.ty) {
                    problems.push(format!("{at}: documented as {ty}, the rules see {}", field.ty.describe()));
                }
                if matches!(field.ty, Ty::Coded(_)) && ty == "coded" {
                    let codes: Vec<String> = field.codes().iter().map(|c| c.to_string()).collect();
                    let doc_codes = listed(row.get("allowed values"));
                    for c in codes.iter().filter(|c| !doc_codes.contains(*c)) {
                        problems.push(format!("{at}: the code allows `{c}`, which is not documented"));
                    }
                    for c in doc_codes.iter().filter(|c| !codes.contains(*c)) {
                        problems.push(format!("{at}: documents `{c}`, which the code does not allow"));
                    }
                    if codes.iter().all(|c| doc_codes.contains(c)) && doc_codes.iter().all(|c| codes.contains(c)) {
                        assert_eq!(doc_codes, codes, "{at}: list the values in the code's order");
                    }
                }
            }
            ("yes", _) => problems.push(format!("{at}: documented as usable in rules, but rules cannot name it")),
            ("no", Some(field)) if !field.derived => {
                problems.push(format!("{at}: documented as not usable in rules, but the rules dictionary has it"))
            }
            ("no", _) => {}
            (other, _) => problems.push(format!("{at}: the rules column must be yes or no, not `{other}`")),
        }
        if !server {
            check_behaviour(scope, row, problems);
        }
    }
}

#[test]
fn data_md_matches_the_code() {
    let doc = read("docs/DATA.md");
    let openapi = openapi();
    let mut problems = Vec::new();
    check_scope(&doc, &openapi, "Household", Scope::Household, &mut problems);
    check_scope(&doc, &openapi, "Member", Scope::Member, &mut problems);

    // Every field rules may name is documented as such (derived values in their own table).
    let derived = table(&doc, "Derived values rules may use", "value");
    for field in dict::FIELDS.iter().filter(|f| f.derived) {
        match derived.iter().find(|r| r.name("value") == field.name) {
            None => problems.push(format!("derived value `{}` has no row in docs/DATA.md", field.name)),
            Some(row) => {
                let at = format!("docs/DATA.md:{} derived value `{}`", row.line, field.name);
                if row.get("scope") != scope_name(field.scope) {
                    problems.push(format!(
                        "{at}: scope `{}`, the code says {}",
                        row.get("scope"),
                        scope_name(field.scope)
                    ));
                }
                let source = row.get("computed from").trim_matches('`');
                if source != field.source.unwrap_or_default() {
                    problems.push(format!("{at}: computed from `{source}`, the code says {:?}", field.source));
                }
            }
        }
    }
    for row in &derived {
        if !dict::FIELDS.iter().any(|f| f.derived && f.name == row.name("value")) {
            problems.push(format!(
                "docs/DATA.md:{} `{}` is not a derived value of the code",
                row.line,
                row.name("value")
            ));
        }
    }

    let reasons: Vec<String> =
        table(&doc, "Member", "removal reason").iter().map(|r| r.name("removal reason")).collect();
    if reasons != RemovalReason::TEXTS {
        problems.push(format!("removal reasons: docs/DATA.md lists {reasons:?}, the code {:?}", RemovalReason::TEXTS));
    }

    let districts: Vec<String> = table(&doc, "Reference data", "code").iter().map(|r| r.name("code")).collect();
    if districts != dict::districts() {
        let doc_set: BTreeSet<&String> = districts.iter().collect();
        for code in dict::districts().iter().filter(|c| !doc_set.contains(&c.to_string())) {
            problems.push(format!("district `{code}` is in src/rules/kp-districts.csv but not in docs/DATA.md"));
        }
        for code in districts.iter().filter(|c| !dict::districts().contains(&c.as_str())) {
            problems.push(format!("district `{code}` is in docs/DATA.md but not in src/rules/kp-districts.csv"));
        }
        if problems.is_empty() {
            problems.push("list the districts in the order of src/rules/kp-districts.csv".into());
        }
    }
    report("docs/DATA.md", &problems);
}

// ---------------------------------------------------------------------------------------------
// docs/API.md and links
// ---------------------------------------------------------------------------------------------

/// `/api/v1/households/{id}` and `/api/v1/households/{household_id}` are the same route.
fn route_shape(path: &str) -> String {
    let path = path.split(['?', '#', '[']).next().unwrap_or_default().trim_end_matches('/');
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

#[test]
fn every_route_api_md_names_exists() {
    let doc = read("docs/API.md");
    let routes: BTreeSet<(String, String)> =
        sahulat::api::endpoints().iter().map(|e| (e.method.as_str().to_string(), route_shape(e.path))).collect();
    let mut problems = Vec::new();
    let mut named = 0;
    for (n, line) in doc.lines().enumerate() {
        for method in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
            for (at, _) in line.match_indices(&format!("{method} /")) {
                let preceded_by_word = line[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '-');
                if preceded_by_word {
                    continue;
                }
                let rest = &line[at + method.len() + 1..];
                let end =
                    rest.find(|c: char| c.is_whitespace() || c == '`' || c == ',' || c == ')').unwrap_or(rest.len());
                let path = &rest[..end];
                // The console (`GET /`) is described elsewhere; only API routes are checked.
                if !path.starts_with("/api") && !path.starts_with("/healthz") && !path.starts_with("/readyz") {
                    continue;
                }
                named += 1;
                if !routes.contains(&(method.to_string(), route_shape(path))) {
                    problems.push(format!("docs/API.md:{}: `{method} {path}` is not a route of src/api/mod.rs", n + 1));
                }
            }
        }
    }
    assert!(named > 20, "docs/API.md names only {named} routes: is the file there?");
    report("docs/API.md", &problems);
}

/// The targets of `[text](target)` links in a Markdown file.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push((n + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md"), root().join("rules/README.md"), root().join("deploy/README.md")];
    if let Ok(entries) = std::fs::read_dir(root().join("docs")) {
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")));
    }
    files.sort();
    files
}

#[test]
fn links_in_the_documents_resolve() {
    let mut problems = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let dir = file.parent().unwrap_or(Path::new("."));
        let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap_or_default();
            if !dir.join(path).exists() {
                problems.push(format!("{name}:{line}: the link `{target}` points at nothing"));
            }
        }
    }
    report("the documents", &problems);
}

/// Text files of the repository that people read (sources, documents, deployment files).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "vendor" | "node_modules" | ".git") {
                text_files(&path, out);
            }
        } else if [".rs", ".md", ".toml", ".sh", ".sql", ".example", ".service", ".env", ".yaml", ".json"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    // Built so that this file does not contain the text it looks for.
    let outside = ["..", "shared", ""].join("/");
    let mut files = vec![root().join("README.md"), root().join("Cargo.toml")];
    for dir in ["src", "docs", "deploy", "tests", "rules", "benches", "migrations"] {
        text_files(&root().join(dir), &mut files);
    }
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if line.contains(&outside) {
                let name = file.strip_prefix(root()).unwrap_or(&file).display().to_string();
                problems.push(format!("{name}:{}: `{outside}` is not part of a clone; point into docs/", n + 1));
            }
        }
    }
    report("the repository", &problems);
}
