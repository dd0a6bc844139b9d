//! Coverage, gaps and funnel reports on a registry built by hand, where every count is known
//! (three small schemes: tests/fixtures/report-rules/): each cell, the suppression of small
//! cells (and of a second cell where a total would give one away), the breakdowns adding up
//! to the headline numbers, scoping by role, CSV and audit.

use awc::http::StatusCode;
use chrono::{Duration, Utc};
use sahulat::auth::Role;
use sahulat::config::Settings;
use serde_json::{Value, json};

use crate::helpers::*;

const RULES: [(&str, &str); 3] = [
    ("t-old.yaml", include_str!("../fixtures/report-rules/t-old.yaml")),
    ("t-child.yaml", include_str!("../fixtures/report-rules/t-child.yaml")),
    ("t-mother.yaml", include_str!("../fixtures/report-rules/t-mother.yaml")),
];

fn spawn_report_app() -> TestApp {
    let db = TestDb::new();
    let rules = tempfile::TempDir::new().expect("rules dir");
    for (name, text) in RULES {
        std::fs::write(rules.path().join(name), text).expect("rule file");
    }
    let settings = Settings::from_source(&test_source(db.url(), rules.path())).expect("settings");
    spawn_with(db, rules, settings)
}

fn member(relation: &str, sex: &str, dob: &str, extra: Value) -> Value {
    let mut m = json!({"full_name": "Test Person", "relation_to_head": relation, "sex": sex, "date_of_birth": dob,
        "id_type": "none", "disability": "none"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        m[k] = v;
    }
    m
}

/// The hand-built registry (ages on any date in the next few years are far from 5, 18 and 60):
/// - G1, 6 in Swat: a man (1985), his mother (1950, not pregnant), a boy (2018); PMT 20 →
///   eligible for t-old and t-child. Referred to both; t-old acknowledged, 5 of 6 enrolled.
/// - G2, 5 in Peshawar: a pregnant woman (1990), a boy (2019); PMT unknown → t-mother
///   eligible, t-child undetermined (waiting for pmt_score alone).
/// - G3, 2 in Peshawar: a man alone (1980), PMT 50 → eligible for nothing, undetermined on nothing.
/// - G4, 1 in Swat: a woman (1995) whose pregnancy is not recorded, PMT 10 → t-mother undetermined.
fn households() -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for _ in 0..6 {
        out.push((
            "G1",
            json!({"district": "swat", "pmt_score": 20, "members": [
                member("head", "male", "1985-01-01", json!({})),
                member("parent", "female", "1950-01-01", json!({"is_pregnant": false})),
                member("son", "male", "2018-01-01", json!({})),
            ]}),
        ));
    }
    for _ in 0..5 {
        out.push((
            "G2",
            json!({"district": "peshawar", "members": [
                member("head", "female", "1990-01-01", json!({"is_pregnant": true})),
                member("son", "male", "2019-01-01", json!({})),
            ]}),
        ));
    }
    for _ in 0..2 {
        out.push((
            "G3",
            json!({"district": "peshawar", "pmt_score": 50, "members": [
                member("head", "male", "1980-01-01", json!({})),
            ]}),
        ));
    }
    out.push((
        "G4",
        json!({"district": "swat", "pmt_score": 10, "members": [
            member("head", "female", "1995-01-01", json!({})),
        ]}),
    ));
    out
}

async fn token(app: &TestApp, name: &str, role: Role, districts: &[&str], schemes: &[&str]) -> String {
    app.create_user(name, role, districts, schemes).await;
    app.login(name, PASSWORD).await.body["access_token"].as_str().expect("token").to_string()
}

/// Registers the registry and moves the referrals along; returns the auditor's token.
async fn build_registry(app: &TestApp) -> String {
    let swat = token(app, "clerk-swat", Role::Clerk, &["swat"], &[]).await;
    let peshawar = token(app, "clerk-peshawar", Role::Clerk, &["peshawar"], &[]).await;
    let officer = token(app, "old-age-officer", Role::SchemeAdmin, &[], &["t-old"]).await;
    let mut g1 = Vec::new();
    for (group, body) in households() {
        let clerk = if body["district"] == "swat" { &swat } else { &peshawar };
        let reply = app.call("POST", "/api/v1/households", Some(clerk), Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        if group == "G1" {
            g1.push(reply.body["id"].as_str().expect("id").to_string());
        }
    }
    for (i, id) in g1.iter().enumerate() {
        let reply = app.call("POST", &format!("/api/v1/households/{id}/referrals"), Some(&swat), None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let items = reply.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 2, "G1 is eligible for t-old and t-child: {}", reply.body);
        let old = items.iter().find(|r| r["scheme"] == "t-old").expect("t-old referral");
        let rid = old["id"].as_str().expect("referral id");
        let path = format!("/api/v1/referrals/{rid}/transitions");
        let ack = app.call("POST", &path, Some(&officer), Some(&json!({"to": "acknowledged"}))).await;
        assert!(ack.status.is_success(), "{}", ack.body);
        if i < 5 {
            let enrol = app.call("POST", &path, Some(&officer), Some(&json!({"to": "enrolled"}))).await;
            assert!(enrol.status.is_success(), "{}", enrol.body);
        }
    }
    token(app, "auditor", Role::Auditor, &[], &[]).await
}

fn table<'a>(report: &'a Value, id: &str, unit: &str, about: Value) -> &'a Value {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["id"] == id && t["unit"] == unit && t["about"] == about)
        .unwrap_or_else(|| panic!("no table {id} ({unit}, {about}) in {report}"))
}

/// A row's cells, `null` (suppressed) as -1.
fn row(t: &Value, key: &str) -> Vec<i64> {
    let rows = t["rows"].as_array().expect("rows");
    let i = rows.iter().position(|r| r == key).unwrap_or_else(|| panic!("no row {key} in {t}"));
    t["cells"][i].as_array().expect("cells").iter().map(|v| v.as_f64().map_or(-1, |x| x as i64)).collect()
}

fn totals(t: &Value) -> Vec<i64> {
    t["column_totals"].as_array().expect("totals").iter().map(|v| v.as_f64().map_or(-1, |x| x as i64)).collect()
}

/// No suppressed cell can be worked out from its column: a column whose total is shown never
/// has exactly one suppressed cell; where a column has none, its cells add up to its total.
fn check_disclosure_and_sums(report: &Value) {
    for t in report["tables"].as_array().expect("tables") {
        let Some(totals) = t["column_totals"].as_array() else { continue };
        let cells = t["cells"].as_array().expect("cells");
        for (j, total) in totals.iter().enumerate() {
            if !total.is_u64() {
                continue;
            }
            let column: Vec<&Value> = cells.iter().map(|r| &r[j]).collect();
            let hidden = column.iter().filter(|v| v.is_null()).count();
            assert_ne!(hidden, 1, "table {} column {j}: one suppressed cell beside a shown total: {t}", t["id"]);
            if hidden == 0 {
                let sum: u64 = column.iter().map(|v| v.as_u64().unwrap_or(0)).sum();
                assert_eq!(Some(sum), total.as_u64(), "table {} column {j} does not add up: {t}", t["id"]);
            }
            for v in &column {
                if let Some(n) = v.as_u64() {
                    assert!(n == 0 || n >= 5, "a shown cell of {n} in {t}");
                }
            }
        }
    }
}

#[actix_web::test]
async fn coverage_gaps_and_funnel_match_a_registry_built_by_hand() {
    let app = spawn_report_app();
    let auditor = build_registry(&app).await;

    // ---- Coverage.
    let reply = app.call("GET", "/api/v1/reports/coverage", Some(&auditor), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let c = &reply.body;
    assert_eq!(c["registered"], json!({"households": 14, "people": 31}));
    check_disclosure_and_sums(c);
    // [registered, eligible, undetermined, referred, enrolled]
    let g = table(c, "coverage_by_guarantee", "households", json!({}));
    assert_eq!(row(g, "health"), [14, 0, 0, 0, 0]);
    assert_eq!(row(g, "children"), [14, 6, 5, 6, 0]);
    assert_eq!(row(g, "working_age"), [14, 5, -1, 0, 0], "one undetermined household is suppressed");
    assert_eq!(row(g, "old_age"), [14, 6, 0, 6, 5]);
    let gp = table(c, "coverage_by_guarantee", "people", json!({}));
    assert_eq!(row(gp, "children"), [31, 18, 10, 18, 0]);
    assert_eq!(row(gp, "old_age"), [31, 18, 0, 18, 15]);
    let s = table(c, "coverage_by_scheme", "households", json!({}));
    assert_eq!(row(s, "t-child"), [14, 6, 5, 6, 0]);
    assert_eq!(row(s, "t-mother"), [14, 5, -1, 0, 0]);
    // By district: the rows add up to the headline numbers.
    let d = table(c, "coverage_by_district", "households", json!({"guarantee": "children"}));
    assert_eq!(row(d, "swat"), [7, 6, 0, 6, 0]);
    assert_eq!(row(d, "peshawar"), [7, 0, 5, 0, 0]);
    assert_eq!(totals(d), [14, 6, 5, 6, 0]);
    let dw = table(c, "coverage_by_district", "households", json!({"guarantee": "working_age"}));
    assert_eq!(row(dw, "swat")[2], -1, "Swat's one undetermined household is suppressed");
    assert_eq!(totals(dw)[2], -1, "and so is the total it would be read from");
    // By sex and age band.
    let sa = table(c, "coverage_by_sex_age", "people", json!({"guarantee": "old_age"}));
    assert_eq!(row(sa, "female:60+"), [6, 6, 0, 6, 5]);
    assert_eq!(row(sa, "male:5-17"), [11, 6, 0, 6, 5]);
    assert_eq!(row(sa, "male:18-59"), [8, 6, 0, 6, 5]);
    assert_eq!(row(sa, "female:18-59"), [6, 0, 0, 0, 0]);
    // SDG groups: [registered, eligible, undetermined, referred, enrolled] under their guarantee.
    let sdg = table(c, "sdg_groups", "people", json!({}));
    assert_eq!(row(sdg, "children"), [11, 6, 5, 6, 0]);
    assert_eq!(row(sdg, "older_persons"), [6, 6, 0, 6, 5]);
    assert_eq!(row(sdg, "pregnant_or_lactating"), [5, 5, 0, 0, 0]);
    assert_eq!(row(sdg, "disability"), [0, 0, 0, 0, 0]);
    assert_eq!(row(sdg, "poor"), [19, 18, -1, 18, 15]);
    assert!(c["notes"].to_string().contains("registered population as the denominator"));

    // Rows decided before profiles were kept (NULL) are counted from their members: the same.
    execute_sql(&app.db, "UPDATE household_decisions SET profile = NULL");
    let again = app.call("GET", "/api/v1/reports/coverage", Some(&auditor), None).await;
    assert_eq!(again.body["tables"], c["tables"], "counted from members, not profiles");

    // One scheme broken down.
    let one = app.call("GET", "/api/v1/reports/coverage?scheme=t-mother", Some(&auditor), None).await;
    let d = table(&one.body, "coverage_by_district", "households", json!({"scheme": "t-mother"}));
    assert_eq!(row(d, "peshawar"), [7, 5, 0, 0, 0]);

    // ---- Gaps.
    let reply = app.call("GET", "/api/v1/reports/gaps", Some(&auditor), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let gaps = &reply.body;
    check_disclosure_and_sums(gaps);
    let n = table(gaps, "nothing_by_district", "households", json!({}));
    assert_eq!(row(n, "peshawar"), [7, -1, -1], "G3: 2 households, suppressed");
    assert_eq!(row(n, "swat"), [7, -1, 0]);
    assert_eq!(totals(n), [14, -1, -1]);
    let u = table(gaps, "uncovered_by_guarantee", "households", json!({}));
    // [with_member, not_covered, undetermined]
    assert_eq!(row(u, "health"), [14, 14, 0]);
    assert_eq!(row(u, "children"), [11, 0, 5]);
    assert_eq!(row(u, "working_age"), [14, 8, -1]);
    assert_eq!(row(u, "old_age"), [6, 0, 0]);
    let mf = table(gaps, "missing_fields", "decisions", json!({}));
    assert_eq!(mf["rows"][0], "pmt_score", "the field that settles most decisions comes first: {mf}");
    // [settles_alone, undetermined_decisions, households]
    assert_eq!(row(mf, "pmt_score"), [5, 5, 5]);
    assert_eq!(row(mf, "is_pregnant"), [-1, -1, -1]);
    let few = table(gaps, "few_missing_by_district", "households", json!({}));
    // Swat's 1 is suppressed, so Peshawar's 5 goes too: the total (6) would give it away.
    assert_eq!(row(few, "swat"), [-1, -1]);
    assert_eq!(row(few, "peshawar"), [-1, -1]);
    assert_eq!(totals(few), [6, 6]);
    // Forty days on, nobody referred the eligible: G2 to t-mother; G1's t-child referrals expired.
    let later = (Utc::now() + Duration::days(40)).format("%Y-%m-%d").to_string();
    let reply = app.call("GET", &format!("/api/v1/reports/gaps?as_of={later}&days=30"), Some(&auditor), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let nr = table(&reply.body, "not_referred_by_scheme", "households", json!({}));
    assert_eq!(row(nr, "t-child"), [6, 6]);
    assert_eq!(row(nr, "t-mother"), [5, 5]);
    assert_eq!(row(nr, "t-old"), [6, 0]);
    let nrd = table(&reply.body, "not_referred_by_district", "households", json!({}));
    assert_eq!(row(nrd, "swat"), [6, 6]);
    assert_eq!(row(nrd, "peshawar"), [5, 5]);

    // ---- Funnel.
    let reply = app.call("GET", "/api/v1/reports/funnel", Some(&auditor), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let f = &reply.body;
    check_disclosure_and_sums(f);
    let fs = table(f, "funnel_by_scheme", "referrals", json!({}));
    // [referred, acknowledged, enrolled, rejected, withdrawn, expired, open, median, p90, expired share]
    assert_eq!(row(fs, "t-old"), [6, 6, 5, 0, 0, 0, -1, 0, 0, 0]);
    assert_eq!(row(fs, "t-child")[..7], [6, 0, 0, 0, 0, 0, -1], "the open 6 goes with t-old's open 1");
    assert_eq!(row(fs, "t-child")[7], -1, "no time to acknowledgement without acknowledgements");
    assert_eq!(totals(fs)[..7], [12, 6, 5, 0, 0, 0, 7]);
    let fd = table(f, "funnel_by_district", "referrals", json!({}));
    assert_eq!(row(fd, "swat")[..7], [12, 6, 5, 0, 0, 0, 7]);
}

#[actix_web::test]
async fn each_role_sees_its_own_scope_and_every_read_is_audited() {
    let app = spawn_report_app();
    let auditor = build_registry(&app).await;
    let clerk = app.login("clerk-swat", PASSWORD).await.body["access_token"].as_str().expect("token").to_string();
    let officer = app.login("old-age-officer", PASSWORD).await.body["access_token"].as_str().expect("t").to_string();
    let admin = token(&app, "root-admin", Role::Admin, &[], &[]).await;
    let bound = token(&app, "swat-auditor", Role::Auditor, &["swat"], &[]).await;

    // A clerk: their districts only.
    let mine = app.call("GET", "/api/v1/reports/coverage", Some(&clerk), None).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["scope"]["districts"], json!(["swat"]));
    assert_eq!(mine.body["registered"]["households"], 7);
    let other = app.call("GET", "/api/v1/reports/coverage?district=peshawar", Some(&clerk), None).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let bounded = app.call("GET", "/api/v1/reports/gaps", Some(&bound), None).await;
    assert_eq!(bounded.body["scope"]["districts"], json!(["swat"]));
    // A scheme administrator: their schemes only, every district.
    let theirs = app.call("GET", "/api/v1/reports/funnel", Some(&officer), None).await;
    assert_eq!(theirs.status, StatusCode::OK);
    let rows = &table(&theirs.body, "funnel_by_scheme", "referrals", json!({}))["rows"];
    assert_eq!(rows, &json!(["t-old"]));
    let not_theirs = app.call("GET", "/api/v1/reports/coverage?scheme=t-child", Some(&officer), None).await;
    assert_eq!(not_theirs.status, StatusCode::FORBIDDEN);
    // Admins and auditors: everything.
    let all = app.call("GET", "/api/v1/reports/coverage", Some(&admin), None).await;
    assert_eq!(all.body["registered"]["households"], 14);

    // Mistakes, all at once.
    let bad =
        app.call("GET", "/api/v1/reports/funnel?from=2026-13-01&to=2020-01-01&scheme=nope", Some(&auditor), None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        bad.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"from") && fields.contains(&"scheme"), "{}", bad.body);
    let unknown = app.call("GET", "/api/v1/reports/gaps?district=atlantis&days=0", Some(&auditor), None).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
    assert_eq!(unknown.body["errors"].as_array().map(Vec::len), Some(2), "{}", unknown.body);

    // CSV: a spreadsheet opens it as UTF-8; counts only; suppressed cells say so.
    let csv = app.call("GET", "/api/v1/reports/coverage.csv", Some(&auditor), None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    assert!(csv.raw.starts_with(b"\xEF\xBB\xBFreport,as_of,from,to,table,unit,about,row,column,value\n"));
    let text = String::from_utf8(csv.raw.clone()).expect("utf-8");
    assert!(text.contains("coverage,") && text.contains(",guarantee=children,swat,eligible,6\n"), "{text}");
    assert!(text.contains(",guarantee=working_age,swat,undetermined,suppressed\n"), "{text}");
    assert!(!text.contains("Test Person"));

    // Every read and export is in the audit trail, with its parameters.
    let events = app.call("GET", "/api/v1/audit/events?action=report_export", Some(&auditor), None).await;
    let items = events.body["items"].as_array().expect("items");
    assert!(items.iter().any(|e| e["details"]["report"] == "coverage"), "{}", events.body);
    let reads = app.call("GET", "/api/v1/audit/events?action=report_read", Some(&auditor), None).await;
    let roles: Vec<&str> =
        reads.body["items"].as_array().expect("items").iter().filter_map(|e| e["actor_role"].as_str()).collect();
    for role in ["clerk", "auditor", "scheme_admin", "admin"] {
        assert!(roles.contains(&role), "no report_read by a {role}: {}", reads.body);
    }

    // The command line prints the same numbers.
    let cli = |args: &[&str]| run_cli(&test_source(app.db.url(), app.rules.path()), args, "");
    let out = cli(&["report", "coverage", "--district", "swat", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed["registered"]["households"], 7);
    assert_eq!(row(table(&printed, "coverage_by_guarantee", "households", json!({})), "old_age"), [7, 6, 0, 6, 5]);
    let out = cli(&["report", "funnel", "--format", "csv"]);
    assert!(out.status.success() && out.stdout.starts_with(b"\xEF\xBB\xBFreport,"));
}
