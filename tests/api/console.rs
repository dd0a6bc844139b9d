//! The console as files: served with the right types and policy, compressed, cacheable by
//! ETag; its vendored files match their recorded checksums; its two catalogues agree; its
//! code keeps to the rules the Content-Security-Policy relies on. (The browser suite in
//! `tests/ui` drives it like a person.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use awc::http::StatusCode;
use aws_lc_rs::digest;
use serde_json::Value;

use crate::helpers::*;

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Every file under `dir` whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read console dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if exts.iter().any(|e| path.to_string_lossy().ends_with(e)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[actix_web::test]
async fn the_console_is_served_at_the_root_with_a_strict_policy() {
    let app = spawn_app().await;
    let page = app.call("GET", "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ] {
        assert!(csp.contains(directive), "console CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "no unsafe-* source in the console's policy: {csp}");
    let html = String::from_utf8_lossy(&page.raw);
    assert!(html.contains(r#"<html lang="en" dir="ltr">"#));
    assert!(html.contains(r#"<script type="module" src="/console/app.js"></script>"#));

    let urdu = app.call("GET", "/?lang=ur", None, None).await;
    assert!(String::from_utf8_lossy(&urdu.raw).contains(r#"<html lang="ur" dir="rtl">"#), "?lang=ur is right to left");

    // The API docs keep their own, looser policy; the console's is not weakened for them.
    let docs = app.call("GET", "/api/docs/index.html", None, None).await;
    assert_ne!(docs.header("content-security-policy"), page.header("content-security-policy"));
    // Only GET.
    let post = app.call("POST", "/", None, None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn console_files_have_their_types_an_etag_and_gzip() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/vendor/preact.mjs", "text/javascript; charset=utf-8"),
        ("/console/css/app.css", "text/css; charset=utf-8"),
        ("/console/i18n/ur/core.json", "application/json"),
        ("/console/vendor/fonts/noto-nastaliq-urdu-arabic-wght-normal.woff2", "font/woff2"),
    ] {
        let reply = app.call("GET", path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("content-type").as_deref(), Some(kind), "{path}");
        let etag = reply.header("etag").expect("an ETag");
        let again = app.call_with("GET", path, None, None, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path} revalidates");
        assert!(again.raw.is_empty());
    }
    let zipped = app.call_with("GET", "/console/app.js", None, None, &[("accept-encoding", "gzip")]).await;
    assert_eq!(zipped.header("content-encoding").as_deref(), Some("gzip"));
    // API answers too, when the client asks.
    let token = app.token_for("clerk-z", sahulat::auth::Role::Clerk).await;
    let api = app.call_with("GET", "/api/v1/schemes", Some(&token), None, &[("accept-encoding", "gzip")]).await;
    assert_eq!(api.header("content-encoding").as_deref(), Some("gzip"));
    let plain = app.call("GET", "/api/v1/schemes", Some(&token), None).await;
    assert!(plain.header("content-encoding").is_none() && plain.body["items"].is_array());
    for missing in ["/console/nothing.js", "/console/vendor/VENDOR.md", "/console/../Cargo.toml"] {
        let reply = app.call("GET", missing, None, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[actix_web::test]
async fn the_setup_state_says_when_the_first_administrator_is_missing() {
    let app = spawn_app().await;
    let fresh = app.call("GET", "/api/v1/auth/setup", None, None).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(fresh.body["first_admin_needed"], true);
    let token = app.token_for("clerk-a", sahulat::auth::Role::Clerk).await;
    let later = app.call("GET", "/api/v1/auth/setup", None, None).await;
    assert_eq!(later.body["first_admin_needed"], false);
    let me = app.call("GET", "/api/v1/auth/me", Some(&token), None).await;
    let permissions: Vec<&str> =
        me.body["permissions"].as_array().expect("permissions").iter().filter_map(Value::as_str).collect();
    assert!(permissions.contains(&"household_create"));
    assert!(!permissions.contains(&"user_list"), "a clerk is not offered user administration");
}

fn sha256_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn vendored_files_match_their_recorded_checksums() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(console_dir().join("vendor/VENDOR.md")).expect("VENDOR.md");
    let mut checked = 0;
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        let want = cells[5].trim_matches('`');
        let path = if file.starts_with("tests/") { root.join(file) } else { console_dir().join("vendor").join(file) };
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(sha256_hex(&bytes), want, "{file} differs from the checksum in VENDOR.md");
        checked += 1;
    }
    assert_eq!(checked, 5, "every vendored file is listed");
    // And nothing vendored is unlisted.
    let listed = files(&console_dir().join("vendor"), &[".mjs", ".js", ".woff2"]);
    for path in listed {
        let name = path.strip_prefix(console_dir().join("vendor")).expect("under vendor").to_string_lossy().to_string();
        assert!(table.contains(&format!("`{name}`")), "{name} is vendored but not in VENDOR.md");
    }
}

fn catalogue(lang: &str, part: &str) -> BTreeMap<String, String> {
    let path = console_dir().join(format!("i18n/{lang}/{part}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const PARTS: [&str; 5] = ["core", "clerk", "roles", "reports", "changes"];

#[test]
fn both_catalogues_have_the_same_keys_and_no_key_twice() {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for part in PARTS {
        let (en, ur) = (catalogue("en", part), catalogue("ur", part));
        let en_keys: BTreeSet<_> = en.keys().collect();
        let ur_keys: BTreeSet<_> = ur.keys().collect();
        let only_en: Vec<_> = en_keys.difference(&ur_keys).collect();
        let only_ur: Vec<_> = ur_keys.difference(&en_keys).collect();
        assert!(only_en.is_empty() && only_ur.is_empty(), "{part}: only English {only_en:?}, only Urdu {only_ur:?}");
        for (key, text) in &ur {
            assert!(!text.trim().is_empty(), "ur/{part}.json: {key} is empty");
        }
        for key in en.keys() {
            if let Some(other) = seen.insert(key.clone(), part) {
                panic!("{key} is in both {other}.json and {part}.json");
            }
        }
    }
}

/// The catalogue keys written literally in the console's code, e.g. `t('search.title')`.
fn literal_keys(source: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for call in ["t('", "tIn(l, '"] {
        let mut rest = source;
        while let Some(at) = rest.find(call) {
            // `t(` itself, not the end of another name such as `get(`.
            let whole = at == 0 || !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            rest = &rest[at + call.len()..];
            if !whole {
                continue;
            }
            let end = rest.find('\'').unwrap_or(0);
            let key = &rest[..end];
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                keys.push(key.to_string());
            }
        }
    }
    keys
}

#[test]
fn every_key_the_code_names_is_in_the_catalogue() {
    let mut all = BTreeMap::new();
    for part in PARTS {
        all.extend(catalogue("en", part));
    }
    let mut missing = Vec::new();
    for file in files(&console_dir(), &[".js"]).into_iter().filter(|p| !p.to_string_lossy().contains("/vendor/")) {
        let source = std::fs::read_to_string(&file).expect("read");
        for key in literal_keys(&source) {
            if !all.contains_key(&key) {
                missing.push(format!("{}: {key}", file.display()));
            }
        }
    }
    assert!(missing.is_empty(), "keys used but not in the catalogue:\n{}", missing.join("\n"));
    // Every field and coded value of the forms has its words.
    let fields = std::fs::read_to_string(console_dir().join("lib/fields.js")).expect("fields.js");
    for name in fields.split("name: '").skip(1).filter_map(|s| s.split('\'').next()) {
        assert!(all.contains_key(&format!("field.{name}")), "field.{name} is not in the catalogue");
    }
}

/// The reports page names its tables, columns, rows and units by the API's keys
/// (`reports.table.<id>`, …): every key the reports API publishes has its words.
#[test]
fn the_reports_page_has_words_for_every_key_the_reports_publish() {
    let mut all = BTreeMap::new();
    for part in PARTS {
        all.extend(catalogue("en", part));
    }
    let tables = [
        "coverage_by_guarantee",
        "coverage_by_scheme",
        "coverage_by_district",
        "coverage_by_sex_age",
        "sdg_groups",
        "nothing_by_district",
        "uncovered_by_guarantee",
        "uncovered_by_district",
        "not_referred_by_scheme",
        "not_referred_by_district",
        "missing_fields",
        "few_missing_by_district",
        "funnel_by_scheme",
        "funnel_by_district",
    ];
    let columns = [
        "registered",
        "eligible",
        "undetermined",
        "referred",
        "enrolled",
        "with_member",
        "not_covered",
        "eligible_for_nothing",
        "left_with_nothing",
        "not_referred",
        "undetermined_households",
        "at_most_3_fields",
        "undetermined_decisions",
        "settles_alone",
        "households",
        "acknowledged",
        "rejected",
        "withdrawn",
        "expired",
        "open",
        "ack_median_days",
        "ack_p90_days",
        "expired_share",
    ];
    let rows = ["guarantee", "scheme", "district", "sex_age", "sdg_group", "field"];
    let units = ["households", "people", "decisions", "referrals"];
    let sdg = ["children", "older_persons", "disability", "pregnant_or_lactating", "poor"];
    let guarantees = ["health", "children", "working_age", "old_age"];
    let keys = tables
        .iter()
        .map(|k| format!("reports.table.{k}"))
        .chain(columns.iter().map(|k| format!("reports.col.{k}")))
        .chain(rows.iter().map(|k| format!("reports.rows.{k}")))
        .chain(units.iter().map(|k| format!("reports.unit.{k}")))
        .chain(sdg.iter().map(|k| format!("reports.sdg.{k}")))
        .chain(guarantees.iter().map(|k| format!("guarantee.{k}")))
        .chain(["district", "scheme", "as_of", "days", "from", "to"].map(|k| format!("reports.f_{k}")))
        .chain(["coverage", "gaps", "funnel"].map(|k| format!("reports.tab_{k}")));
    let missing: Vec<String> = keys.filter(|k| !all.contains_key(k)).collect();
    assert!(missing.is_empty(), "the reports page has no words for {missing:?}");
}

#[test]
fn the_console_code_keeps_to_its_content_security_policy() {
    let index = std::fs::read_to_string(console_dir().join("index.html")).expect("index.html");
    assert!(!index.contains("<script>") && !index.contains("style="), "no inline script or style in index.html");
    let handler = index.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!handler, "no inline event handler attributes");
    for file in files(&console_dir(), &[".js", ".css", ".html"]) {
        if file.to_string_lossy().contains("/vendor/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for banned in [
            "innerHTML",
            "outerHTML",
            "dangerouslySetInnerHTML",
            "insertAdjacentHTML",
            "eval(",
            "new Function",
            "localStorage.setItem('sahulat.draft",
            "http://",
            "https://",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", file.display());
        }
    }
}

/// The console files a module needs: itself and what it imports, transitively.
fn module_closure(start: &str, into: &mut BTreeSet<String>) {
    if !into.insert(start.to_string()) {
        return;
    }
    let path = console_dir().join(start);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dir = Path::new(start).parent().map(Path::to_path_buf).unwrap_or_default();
    for piece in text.split(" from '").skip(1) {
        let Some(target) = piece.split('\'').next() else { continue };
        let mut resolved = dir.clone();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    resolved.pop();
                }
                other => resolved.push(other),
            }
        }
        module_closure(&resolved.to_string_lossy(), into);
    }
}

fn bytes_of(files: &BTreeSet<String>, vendored: bool) -> usize {
    files
        .iter()
        .filter(|f| f.starts_with("vendor/") == vendored)
        .map(|f| std::fs::metadata(console_dir().join(f)).map(|m| m.len() as usize).unwrap_or(0))
        .sum()
}

#[test]
fn what_each_role_loads_stays_within_the_budget() {
    // The shell every visitor loads, then the pages each role's navigation reaches (pages
    // are loaded on first visit: console/routes.js).
    let mut shell = BTreeSet::new();
    module_closure("app.js", &mut shell);
    for always in ["index.html", "css/app.css", "css/print.css", "pages/not-found.js", "pages/account.js"] {
        module_closure(always, &mut shell);
    }
    let roles: [(&str, &[&str]); 4] = [
        (
            "clerk",
            &[
                "search",
                "register",
                "household",
                "edit-household",
                "member",
                "screening",
                "referral",
                "slip",
                "schemes",
                "reports",
            ],
        ),
        ("scheme_admin", &["inbox", "schemes", "referral", "reports", "rule-changes"]),
        ("auditor", &["log", "audit", "schemes", "reports", "rule-changes"]),
        ("admin", &["admin-users", "admin-districts", "admin-rules", "schemes", "reports", "rule-changes"]),
    ];
    let mut everything = shell.clone();
    for (role, pages) in roles {
        let mut loaded = shell.clone();
        for page in pages {
            module_closure(&format!("pages/{page}.js"), &mut loaded);
        }
        everything.extend(loaded.iter().cloned());
        let own = bytes_of(&loaded, false);
        println!("{role}: console code and styles {own} bytes, vendored {} bytes", bytes_of(&loaded, true));
        assert!(own <= 150 * 1024, "a {role} loads {own} bytes of console code and styles (budget 150 KB)");
    }
    let all_files: usize = files(&console_dir(), &[".js", ".css", ".html"])
        .iter()
        .filter(|p| !p.to_string_lossy().contains("/vendor/"))
        .map(|p| std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0))
        .sum();
    println!("all console code and styles together: {all_files} bytes");
    let unreached: Vec<_> = files(&console_dir(), &[".js"])
        .iter()
        .map(|p| p.strip_prefix(console_dir()).expect("inside").to_string_lossy().to_string())
        .filter(|p| !p.starts_with("vendor/") && !everything.contains(p))
        .collect();
    assert!(unreached.is_empty(), "modules no role loads (dead code?): {unreached:?}");
}
