//! The scenarios, each run in English and in Urdu, one browser at a time.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use sahulat::auth::Role;
use serde_json::{Value, json};

use crate::app::{App, PASSWORD};
use crate::harness::{Browser, Driver, R, Report, Stroke, Timing, until};

pub const LANGS: [&str; 2] = ["en", "ur"];

/// Everything the scenarios share: the app, chromedriver, the report and the accounts.
pub struct World<'a> {
    pub app: &'a App,
    pub driver: &'a Driver,
    pub report: &'a Report,
    admin_token: String,
    seq: Cell<u32>,
    /// Soft failures (axe findings) of the scenario running now.
    soft: RefCell<Vec<String>>,
}

pub const ADMIN: &str = "amna";
pub const CLERK: &str = "bilal";
pub const CLERK2: &str = "bushra";
pub const SCHEME_ADMIN: &str = "sana";
pub const AUDITOR: &str = "omar";

/// One member as the clerk types it.
#[derive(Clone)]
pub struct Person {
    pub name: &'static str,
    pub name_ur: &'static str,
    pub relation: &'static str,
    pub sex: &'static str,
    /// DD-MM-YYYY, typed as digits (the mask adds the dashes).
    pub dob: &'static str,
    pub id_type: &'static str,
    /// Typed as 13 digits (the mask adds the dashes); `None` for id_type none.
    pub id: Option<String>,
}

impl World<'_> {
    /// A fresh 13-digit ID number (province digit 1), the last digit even for women.
    pub fn id_number(&self, female: bool) -> String {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        format!("15602{:07}{}", 3_000_000 + n, if female { 2 } else { 1 })
    }

    fn soft_fail(&self, message: String) {
        println!("    soft failure: {}", message.lines().next().unwrap_or_default());
        self.soft.borrow_mut().push(message);
    }

    /// A household registered through the API as `CLERK`; returns its JSON.
    async fn api_household(&self, members: &[Person], extra: Value) -> R<Value> {
        let token = self.app.token(CLERK, PASSWORD).await?;
        let mut body = json!({
            "district": "swat", "pmt_score": 20, "owns_vehicle": false, "monthly_income_pkr": 12000,
            "members": members.iter().map(|p| {
                let mut m = json!({
                    "full_name": p.name, "full_name_ur": p.name_ur, "relation_to_head": p.relation, "sex": p.sex,
                    "date_of_birth": iso(p.dob), "id_type": p.id_type, "govt_employee": false, "taxpayer": false,
                    "disability": "none"
                });
                if let Some(id) = &p.id { m["id_number"] = json!(id); }
                m
            }).collect::<Vec<_>>()
        });
        if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(x.clone());
        }
        let reply = self.app.call("POST", "/api/v1/households", Some(&token), Some(&body)).await?;
        if !reply.status.is_success() {
            return Err(format!("API registration: {} {}", reply.status, reply.body));
        }
        Ok(reply.body)
    }

    /// Opens a browser in `lang`, runs `f`, checks the console, closes the browser.
    async fn in_browser(
        &self,
        lang: &'static str,
        scenario: &str,
        expected_console: &[&str],
        f: impl AsyncFnOnce(&Browser<'_>) -> R,
    ) -> R {
        let b = Browser::open_session(self.driver, &self.app.address, lang, self.report).await?;
        let outcome = f(&b).await;
        let outcome = match outcome {
            Ok(()) => b.assert_no_console_errors(scenario, expected_console).await,
            Err(e) => {
                let shot =
                    b.shot(&format!("{scenario}-FAILED-{}", self.seq.get())).await.map(|p| p.display().to_string());
                let log = b.console_log().await.unwrap_or_default();
                let log = log.iter().map(|(l, m)| format!("{l}: {m}")).collect::<Vec<_>>().join("\n    ");
                Err(format!(
                    "{e}\n  screenshot: {}\n  console:\n    {log}",
                    shot.unwrap_or_else(|e| format!("(none: {e})"))
                ))
            }
        };
        b.close().await;
        outcome
    }

    /// Screenshot and axe: a screenshot failure stops the scenario, axe findings are soft.
    async fn check_page(&self, b: &Browser<'_>, name: &str) -> R {
        b.shot(name).await?;
        if let Err(e) = b.axe(name).await {
            self.soft_fail(e);
        }
        Ok(())
    }
}

/// DD-MM-YYYY (or its 8 digits) → YYYY-MM-DD.
fn iso(dob: &str) -> String {
    let d: String = dob.chars().filter(char::is_ascii_digit).collect();
    format!("{}-{}-{}", &d[4..8], &d[2..4], &d[0..2])
}

/// `15602123456 72` → `15602-1234567-2`.
fn dashed(id: &str) -> String {
    format!("{}-{}-{}", &id[0..5], &id[5..12], &id[12..13])
}

/// The seven members of the household the clerk registers in the main path.
fn seven(w: &World<'_>) -> Vec<Person> {
    vec![
        Person {
            name: "Zarina Bibi",
            name_ur: "زرینہ بی بی",
            relation: "head",
            sex: "female",
            dob: "01031985",
            id_type: "cnic",
            id: Some(w.id_number(true)),
        },
        Person {
            name: "Gul Khan",
            name_ur: "گل خان",
            relation: "son",
            sex: "male",
            dob: "10062015",
            id_type: "b_form",
            id: Some(w.id_number(false)),
        },
        Person {
            name: "Mina",
            name_ur: "مینا",
            relation: "daughter",
            sex: "female",
            dob: "01112021",
            id_type: "none",
            id: None,
        },
        Person {
            name: "Shah Bibi",
            name_ur: "شاہ بی بی",
            relation: "parent",
            sex: "female",
            dob: "15041950",
            id_type: "cnic",
            id: Some(w.id_number(true)),
        },
        Person {
            name: "Aman",
            name_ur: "امان",
            relation: "son",
            sex: "male",
            dob: "20082010",
            id_type: "b_form",
            id: Some(w.id_number(false)),
        },
        Person {
            name: "Nazia",
            name_ur: "نازیہ",
            relation: "daughter",
            sex: "female",
            dob: "05052012",
            id_type: "b_form",
            id: Some(w.id_number(true)),
        },
        Person {
            name: "Sadia",
            name_ur: "سعدیہ",
            relation: "daughter",
            sex: "female",
            dob: "12122018",
            id_type: "b_form",
            id: Some(w.id_number(true)),
        },
    ]
}

/// Sets up the accounts and runs every scenario in both languages; returns the failures.
pub async fn run_all(app: &App, driver: &Driver, report: &Report) -> Vec<String> {
    let setup = async {
        app.create_user(ADMIN, Role::Admin, &[], &[]).await?;
        app.create_user(CLERK, Role::Clerk, &["peshawar", "swat"], &[]).await?;
        app.create_user(CLERK2, Role::Clerk, &["swat"], &[]).await?;
        app.create_user(SCHEME_ADMIN, Role::SchemeAdmin, &[], &["bisp-kafaalat"]).await?;
        app.create_user(AUDITOR, Role::Auditor, &[], &[]).await?;
        for lang in LANGS {
            app.create_user(&format!("rehan-{lang}"), Role::Clerk, &["swat"], &[]).await?;
        }
        app.token(ADMIN, PASSWORD).await
    };
    let only = std::env::var("SAHULAT_UI_ONLY").unwrap_or_default();
    let mut failures = Vec::new();

    // Before any account exists: the first-run notice.
    if "first_run".contains(&only) || only.is_empty() {
        let w0 = World { app, driver, report, admin_token: String::new(), seq: Cell::new(0), soft: RefCell::default() };
        run_one(&w0, "first_run", "en", &mut failures, first_run(&w0, "en")).await;
    }
    let admin_token = match setup.await {
        Ok(t) => t,
        Err(e) => return vec![format!("setting up the accounts: {e}")],
    };
    let w = World { app, driver, report, admin_token, seq: Cell::new(0), soft: RefCell::default() };
    for lang in LANGS {
        macro_rules! scenario {
            ($name:literal, $f:ident) => {
                if only.is_empty() || $name.contains(only.as_str()) {
                    run_one(&w, $name, lang, &mut failures, $f(&w, lang)).await;
                }
            };
        }
        scenario!("shell", shell);
        scenario!("clerk_main_path", clerk_main_path);
        scenario!("validation_422", validation_422);
        scenario!("duplicate_warning", duplicate_warning);
        scenario!("members", members);
        scenario!("conflict_412", conflict_412);
        scenario!("token_expiry", token_expiry);
        scenario!("keyboard_only", keyboard_only);
        scenario!("language_switch", language_switch);
        scenario!("scheme_admin", scheme_admin);
        scenario!("auditor", auditor);
        scenario!("admin", admin);
        scenario!("reports", reports);
        scenario!("rule_changes", rule_changes);
        scenario!("page_timings", page_timings);
    }
    failures
}

async fn run_one(w: &World<'_>, name: &str, lang: &str, failures: &mut Vec<String>, fut: impl Future<Output = R>) {
    let started = Instant::now();
    println!("  {name} [{lang}] …");
    w.soft.borrow_mut().clear();
    let mut outcome = fut.await;
    let soft: Vec<String> = w.soft.borrow_mut().drain(..).collect();
    if !soft.is_empty() {
        let joined = soft.join("\n");
        outcome = match outcome {
            Ok(()) => Err(joined),
            Err(e) => Err(format!("{e}\n{joined}")),
        };
    }
    let secs = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => println!("  {name} [{lang}] ok ({secs:.1} s)"),
        Err(e) => {
            println!("  {name} [{lang}] FAILED ({secs:.1} s):\n{e}");
            failures.push(format!("{name} [{lang}]: {e}"));
        }
    }
}

fn ensure(ok: bool, message: impl FnOnce() -> String) -> R {
    if ok { Ok(()) } else { Err(message()) }
}

// ---------------------------------------------------------------------------------------
// Shell: first run, sign-in errors, CSP, language and direction.

async fn first_run(w: &World<'_>, lang: &'static str) -> R {
    w.in_browser(lang, "first_run", &[], async |b| {
        b.open("").await?;
        b.wait("[data-testid=first-run]").await?;
        w.check_page(b, "first-run").await
    })
    .await
}

/// Login page, a wrong password, CSP header, `<html lang dir>`.
async fn shell(w: &World<'_>, lang: &'static str) -> R {
    // The HTML itself: CSP, and the language and direction set by the server before any script.
    let reply = w.app.call("GET", &format!("/?lang={lang}"), None, None).await?;
    let csp = reply.header("content-security-policy").unwrap_or_default();
    ensure(csp == sahulat::console::CONSOLE_CSP, || {
        format!("GET /?lang={lang}: Content-Security-Policy is {csp:?}, expected {:?}", sahulat::console::CONSOLE_CSP)
    })?;
    let html = String::from_utf8_lossy(&reply.raw).to_string();
    let want = if lang == "ur" { r#"<html lang="ur" dir="rtl">"# } else { r#"<html lang="en" dir="ltr">"# };
    ensure(html.contains(want), || format!("GET /?lang={lang}: the HTML does not start with {want}"))?;
    for asset in ["/console/app.js", "/console/api.js"] {
        let r = w.app.call("GET", asset, None, None).await?;
        ensure(r.status.is_success(), || format!("GET {asset}: {}", r.status))?;
        ensure(r.header("content-security-policy").is_some(), || format!("GET {asset}: no CSP header"))?;
    }

    w.in_browser(lang, "shell", &["401"], async |b| {
        b.open("").await?;
        b.measure("login", None, &["#f-login-username", "[data-testid=login-submit]"]).await?;
        let (html_lang, dir) = (b.attr("html", "lang").await?, b.attr("html", "dir").await?);
        let want_dir = if lang == "ur" { "rtl" } else { "ltr" };
        ensure(html_lang.as_deref() == Some(lang) && dir.as_deref() == Some(want_dir), || {
            format!("<html lang={html_lang:?} dir={dir:?}>, expected lang={lang} dir={want_dir}")
        })?;
        ensure(b.find("[data-testid=first-run]").await?.is_none(), || {
            "the first-run notice shows although accounts exist".into()
        })?;
        if lang == "en" {
            let label = b.text("label[for=f-login-username]").await?;
            ensure(label.starts_with("Username"), || format!("label of #f-login-username is {label:?}"))?;
            let label = b.text("label[for=f-login-password]").await?;
            ensure(label.starts_with("Password"), || format!("label of #f-login-password is {label:?}"))?;
        }
        // Empty submit: client errors on both inputs.
        b.click("[data-testid=login-submit]").await?;
        b.wait(".error-summary").await?;
        ensure(b.attr("#f-login-username", "aria-invalid").await?.as_deref() == Some("true"), || {
            "empty username: #f-login-username has no aria-invalid=true".into()
        })?;
        w.check_page(b, "login-errors").await?;
        // A wrong password.
        b.type_in("#f-login-username", CLERK).await?;
        b.type_in("#f-login-password", "not the password at all").await?;
        b.click("[data-testid=login-submit]").await?;
        b.wait("[data-testid=login-error]").await?;
        w.check_page(b, "login-wrong-password").await?;
        // The right one.
        b.type_in("#f-login-password", PASSWORD).await?;
        b.click("[data-testid=login-submit]").await?;
        b.wait("[data-testid=logout]").await?;
        b.wait_hash("^#/search").await?;
        let links =
            b.js("return [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href'))", vec![]).await?;
        ensure(links.to_string().contains("#/households/new") && !links.to_string().contains("#/admin/users"), || {
            format!("a clerk's navigation: {links}")
        })?;
        w.check_page(b, "search").await?;
        // Sign out: back to the login form.
        b.click("[data-testid=logout]").await?;
        b.wait("#f-login-username").await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The clerk's main path: register 7 members, check, save, screen, refer, print the slip.

async fn fill_household(b: &Browser<'_>, tehsil: &str, phone: &str) -> R {
    b.wait("#f-district option[value=swat]").await?;
    b.choose("#f-district", "swat").await?;
    b.type_in("#f-tehsil", tehsil).await?;
    b.type_in("#f-phone", phone).await?;
    b.type_in("#f-pmt_score", "20").await?;
    b.type_in("#f-monthly_income_pkr", "12000").await?;
    b.choose("#f-owns_vehicle", "false").await?;
    Ok(())
}

async fn fill_member(b: &Browser<'_>, i: usize, p: &Person) -> R {
    let f = |name: &str| format!("#f-members-{i}-{name}");
    b.type_in(&f("full_name"), p.name).await?;
    b.type_in(&f("full_name_ur"), p.name_ur).await?;
    b.choose(&f("relation_to_head"), p.relation).await?;
    b.choose(&f("sex"), p.sex).await?;
    b.type_in(&f("date_of_birth"), p.dob).await?;
    let shown = b.value(&f("date_of_birth")).await?;
    let want = format!("{}-{}-{}", &p.dob[0..2], &p.dob[2..4], &p.dob[4..8]);
    ensure(shown == want, || {
        format!("{}: typed {} shows {shown:?}, expected {want:?} (date mask)", f("date_of_birth"), p.dob)
    })?;
    b.choose(&f("id_type"), p.id_type).await?;
    if let Some(id) = &p.id {
        b.type_in(&f("id_number"), id).await?;
        let shown = b.value(&f("id_number")).await?;
        ensure(shown == dashed(id), || format!("{}: typed {id} shows {shown:?} (ID mask)", f("id_number")))?;
    }
    Ok(())
}

async fn clerk_main_path(w: &World<'_>, lang: &'static str) -> R {
    let people = seven(w);
    w.in_browser(lang, "clerk_main_path", &[], async |b| {
        b.open("").await?;
        b.sign_in(CLERK, PASSWORD).await?;
        // From the search page, the register link.
        b.wait("#f-q").await?;
        b.click("a[href='#/households/new']").await?;
        b.wait("[data-testid=review]").await?;
        fill_household(b, "Mingora", "03001234567").await?;
        // Seven members in one go: the member count (typed, then Tab).
        b.type_in("#f-member-count", "7").await?;
        b.keys(&[Stroke::Key(Key::Tab)]).await?;
        until("seven member blocks", async || Ok((b.count(".member-block").await? == 7).then_some(()))).await?;
        for (i, p) in people.iter().enumerate() {
            fill_member(b, i, p).await?;
        }
        w.check_page(b, "register").await?;
        b.click("[data-testid=review]").await?;
        b.wait("[data-testid=save-household]").await?;
        let review = b.text("main").await?;
        for p in &people {
            ensure(review.contains(p.name), || format!("check-your-answers does not show {:?}", p.name))?;
        }
        w.check_page(b, "review").await?;
        b.click("[data-testid=save-household]").await?;
        let hash = b.wait_hash(r"^#/households/(?!new)[^/?]+(\?|$)").await?;
        let id = hash.trim_start_matches("#/households/").split('?').next().unwrap_or_default().to_string();
        b.wait("[data-testid=household-number]").await?;
        let number = b.text("[data-testid=household-number]").await?;
        let version = b.text("[data-testid=household-version]").await?;
        ensure(version.contains('1'), || format!("a new household's version shows {version:?}"))?;
        w.report.note(format!("[{lang}] registered {number} ({id}), 7 members"));
        w.check_page(b, "household").await?;
        b.click("[data-testid=screen]").await?;
        b.wait("[data-testid=group-eligible]").await?;
        b.wait("[data-testid=group-undetermined]").await?;
        b.wait_present("[data-testid=group-not_eligible]").await?;
        let eligible = b.count("[data-testid=group-eligible] input[type=checkbox]:checked").await?;
        let undetermined = b.count("[data-testid=group-undetermined] li[data-testid^=scheme-]").await?;
        w.report.note(format!("[{lang}] screening: {eligible} eligible (pre-ticked), {undetermined} need information"));
        ensure(eligible > 0, || "no eligible scheme is pre-ticked".into())?;
        if undetermined > 0 {
            b.wait("[data-testid=collect-link]").await?;
        }
        w.check_page(b, "screening").await?;
        b.click("[data-testid=refer-all]").await?;
        b.wait("[data-testid=confirm-refer]").await?;
        w.check_page(b, "confirm-refer").await?;
        b.click("[data-testid=confirm-refer]").await?;
        b.wait("[data-testid=referral-link]").await?;
        let made = b.count("[data-testid=referral-link]").await?;
        ensure(made == eligible, || format!("{eligible} schemes ticked, {made} referral links"))?;
        w.check_page(b, "referred").await?;
        let actions = b.actions.get();
        let log = b.action_log.borrow().join(", ");
        w.report.note(format!(
            "[{lang}] page actions to register 7 members, screen and refer: {actions} (target <= 8): {log}"
        ));
        ensure(actions <= 8, || format!("{actions} page actions to register, screen and refer (target <= 8): {log}"))?;
        // The referral and its slip.
        b.click("[data-testid=referral-link]").await?;
        b.wait("[data-testid=print-slip]").await?;
        w.check_page(b, "referral").await?;
        b.click("[data-testid=print-slip]").await?;
        b.wait(".slip").await?;
        b.wait_hash(r"^#/referrals/[^/]+/slip").await?;
        w.check_page(b, "slip").await?;
        let pdf = b.print_pdf("slip").await?;
        ensure(pdf.starts_with(b"%PDF") && pdf.len() > 2000, || format!("the slip PDF is {} bytes", pdf.len()))?;
        let pages = pdf_pages(&pdf);
        w.report.note(format!("[{lang}] slip PDF: {} bytes, {pages} page(s) (A4)", pdf.len()));
        if let Some(text) = pdf_text(&shots_file("slip", lang, "pdf")) {
            let plain = text.replace(char::is_whitespace, "");
            ensure(plain.contains(&number.replace(char::is_whitespace, "")), || {
                format!(
                    "the slip PDF does not show the household number {number}: {}",
                    text.chars().take(400).collect::<String>()
                )
            })?;
            // The slip carries no ID numbers (by design: it travels in the beneficiary's hand).
            for p in &people {
                if let Some(id) = &p.id {
                    ensure(!plain.contains(&dashed(id)) && !plain.contains(id.as_str()), || {
                        format!("the slip PDF shows the ID number of {}", p.name)
                    })?;
                }
            }
        }
        ensure(pages == 1, || {
            format!("the slip prints on {pages} A4 pages (target/ui-shots/slip-{lang}.pdf); it should fit one")
        })?;
        // Back on the household: the referrals are listed.
        b.nav(&format!("#/households/{id}")).await?;
        b.wait("[data-testid=referral-link]").await?;
        Ok(())
    })
    .await
}

fn shots_file(name: &str, lang: &str, ext: &str) -> std::path::PathBuf {
    crate::harness::shots_dir().join(format!("{name}-{lang}.{ext}"))
}

/// The number of pages of a PDF (its `/Type /Page` objects).
fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1).filter(|w| w.starts_with(needle) && w[needle.len()] != b's').count()
}

/// The PDF's text through pdftotext (poppler-utils), when installed.
fn pdf_text(path: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("pdftotext").arg("-layout").arg(path).arg("-").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

// ---------------------------------------------------------------------------------------
// A 422 mapped onto the inputs.

async fn validation_422(w: &World<'_>, lang: &'static str) -> R {
    let head = Person {
        name: "Farzana",
        name_ur: "فرزانہ",
        relation: "head",
        sex: "female",
        dob: "01012090",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    w.in_browser(lang, "validation_422", &["422"], async |b| {
        b.open("#/households/new").await?;
        b.sign_in(CLERK, PASSWORD).await?;
        b.wait_hash("^#/households/new").await?;
        // A phone the server refuses, a date of birth in the future: both only the server checks.
        fill_household(b, "Kabal", "12").await?;
        fill_member(b, 0, &head).await?;
        b.click("[data-testid=review]").await?;
        b.click("[data-testid=save-household]").await?;
        b.wait(".error-summary").await?;
        for field in ["phone", "members-0-date_of_birth"] {
            let id = format!("#f-{field}");
            let invalid = b.attr(&id, "aria-invalid").await?;
            ensure(invalid.as_deref() == Some("true"), || format!("after the 422, {id} has aria-invalid={invalid:?}"))?;
            b.wait(&format!("#f-{field}-error")).await?;
            let link = format!(".error-summary a[href='{id}']");
            b.wait(&link).await?;
            let described = b.attr(&id, "aria-describedby").await?.unwrap_or_default();
            ensure(described.contains(&format!("f-{field}-error")), || {
                format!("{id} aria-describedby={described:?} does not name its error")
            })?;
        }
        // The summary's link moves focus to its input.
        b.click(".error-summary a[href='#f-members-0-date_of_birth']").await?;
        let focused = b.focused().await?;
        ensure(focused == "f-members-0-date_of_birth", || format!("the summary link focused {focused:?}"))?;
        w.check_page(b, "validation-422").await?;
        // Corrected, it saves.
        b.type_in("#f-phone", "03001234567").await?;
        b.type_in("#f-members-0-date_of_birth", "01011990").await?;
        b.click("[data-testid=review]").await?;
        b.click("[data-testid=save-household]").await?;
        b.wait("[data-testid=household-number]").await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The duplicate warning.

async fn duplicate_warning(w: &World<'_>, lang: &'static str) -> R {
    let existing = Person {
        name: "Rubina",
        name_ur: "روبینہ",
        relation: "head",
        sex: "female",
        dob: "02021980",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    let household = w.api_household(std::slice::from_ref(&existing), json!({})).await?;
    let hid = household["id"].as_str().unwrap_or_default().to_string();
    let number = household["household_number"].as_str().unwrap_or_default().to_string();
    let id = existing.id.clone().unwrap_or_default();
    w.in_browser(lang, "duplicate_warning", &["409"], async |b| {
        b.open("#/households/new").await?;
        b.sign_in(CLERK, PASSWORD).await?;
        b.wait("[data-testid=review]").await?;
        b.choose("#f-members-0-id_type", "cnic").await?;
        b.type_in("#f-members-0-id_number", &id).await?;
        b.keys(&[Stroke::Key(Key::Tab)]).await?;
        let link = format!("[data-testid=duplicate-warning] a[href='#/households/{hid}']");
        b.wait(&link).await?;
        let text = b.text("[data-testid=duplicate-warning]").await?;
        ensure(text.contains(&number), || format!("the duplicate warning says {text:?}, not {number}"))?;
        w.check_page(b, "duplicate-warning").await?;
        // Another number: the warning goes.
        b.type_in("#f-members-0-id_number", &w.id_number(true)).await?;
        b.wait_gone("[data-testid=duplicate-warning]").await?;
        // The link leads to the existing household.
        b.type_in("#f-members-0-id_number", &id).await?;
        b.click(&link).await?;
        b.wait("[data-testid=household-number]").await?;
        let shown = b.text("[data-testid=household-number]").await?;
        ensure(shown.contains(&number), || format!("the link opened {shown:?}, expected {number}"))?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Members: a "collect" link leads to the member's input, a member is edited, a new one
// without answers gets the error summary, and a member is removed with a reason.

async fn members(w: &World<'_>, lang: &'static str) -> R {
    let head = Person {
        name: "Shaista",
        name_ur: "شائستہ",
        relation: "head",
        sex: "female",
        dob: "03031979",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    let son = Person {
        name: "Ayaz",
        name_ur: "ایاز",
        relation: "son",
        sex: "male",
        dob: "05052014",
        id_type: "b_form",
        id: Some(w.id_number(false)),
    };
    let household = w.api_household(&[head, son], json!({})).await?;
    let hid = household["id"].as_str().unwrap_or_default().to_string();
    let son_id = household["members"][1]["id"].as_str().unwrap_or_default().to_string();
    let token = w.app.token(CLERK, PASSWORD).await?;
    w.in_browser(lang, "members", &["422"], async |b| {
        b.open(&format!("#/households/{hid}/screening")).await?;
        b.sign_in(CLERK, PASSWORD).await?;
        // A "collect" link for the son opens his page with the missing field's input focused.
        let link = format!("[data-testid=collect-link][href*='/members/{son_id}?focus=']");
        b.wait(&link).await?;
        let href = b.attr(&link, "href").await?.unwrap_or_default();
        let field = href.rsplit("focus=").next().unwrap_or_default().to_string();
        b.click(&link).await?;
        b.wait("[data-testid=save-member]").await?;
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let focused = b.js("return document.activeElement && document.activeElement.id", vec![]).await?;
        ensure(focused.as_str() == Some(&format!("f-{field}")), || format!("focus is on {focused}, not f-{field}"))?;
        // Edit the son: enrolled in school, attendance typed in Urdu digits.
        b.choose("#f-school_enrolled", "true").await?;
        b.type_in("#f-attendance_pct", "۸۵").await?;
        w.check_page(b, "member-edit").await?;
        b.click("[data-testid=save-member]").await?;
        b.wait("[data-testid=household-number]").await?;
        let stored = w.app.call("GET", &format!("/api/v1/households/{hid}"), Some(&token), None).await?.body;
        let son = &stored["members"][1];
        ensure(son["school_enrolled"] == json!(true) && son["attendance_pct"] == json!(85), || {
            format!(
                "the son as stored: school_enrolled {} attendance_pct {}",
                son["school_enrolled"], son["attendance_pct"]
            )
        })?;
        // A new member with nothing filled in: the error summary, the inputs marked.
        b.nav(&format!("#/households/{hid}/members/new")).await?;
        b.click("[data-testid=save-member]").await?;
        b.wait(".error-summary").await?;
        let invalid = b.attr("#f-full_name", "aria-invalid").await?;
        ensure(invalid.as_deref() == Some("true"), || format!("#f-full_name aria-invalid={invalid:?}"))?;
        w.check_page(b, "member-new-errors").await?;
        // Remove the son with a reason.
        b.nav(&format!("#/households/{hid}")).await?;
        b.click("[data-testid=remove-member-1]").await?;
        b.choose("#f-reason", "moved_out").await?;
        b.click("[data-testid=confirm-member-action]").await?;
        b.wait_gone("dialog#member-action[open]").await?;
        let after = w.app.call("GET", &format!("/api/v1/households/{hid}"), Some(&token), None).await?.body;
        let count = after["members"].as_array().map_or(0, Vec::len);
        ensure(count == 1, || format!("{count} members after removing one of two"))?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// 412 between two browser sessions.

async fn conflict_412(w: &World<'_>, lang: &'static str) -> R {
    let head = Person {
        name: "Parveen",
        name_ur: "پروین",
        relation: "head",
        sex: "female",
        dob: "03031975",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    let household = w.api_household(&[head], json!({"tehsil": "Matta", "phone": "03001111111"})).await?;
    let hid = household["id"].as_str().unwrap_or_default().to_string();
    let edit = format!("#/households/{hid}/edit");
    let other = Browser::open_session(w.driver, &w.app.address, lang, w.report).await?;
    let outcome = w
        .in_browser(lang, "conflict_412", &["412"], async |b| {
            // Both open the edit page of the same household (version 1).
            for (browser, user) in [(b, CLERK), (&other, CLERK2)] {
                browser.open(&edit).await?;
                browser.sign_in(user, PASSWORD).await?;
                browser.wait("[data-testid=save-changes]").await?;
                until("the edit form to show the stored tehsil", async || {
                    Ok((browser.value("#f-tehsil").await? == "Matta").then_some(()))
                })
                .await?;
            }
            // The other clerk saves first.
            other.type_in("#f-phone", "03002222222").await?;
            other.click("[data-testid=save-changes]").await?;
            other.wait("[data-testid=household-number]").await?;
            // This one saves a change made on version 1: conflict.
            b.type_in("#f-tehsil", "Khwazakhela").await?;
            b.click("[data-testid=save-changes]").await?;
            b.wait("[data-testid=conflict]").await?;
            let table = b.text("[data-testid=conflict]").await?;
            ensure(table.contains("03002222222") && table.contains("Khwazakhela"), || {
                format!("the conflict screen does not show both changes: {table:?}")
            })?;
            w.check_page(b, "conflict").await?;
            b.click("[data-testid=reapply]").await?;
            b.wait("[data-testid=household-number]").await?;
            let version = b.text("[data-testid=household-version]").await?;
            ensure(version.contains('3'), || format!("after re-applying, the version shows {version:?} (expected 3)"))?;
            let token = w.app.token(CLERK, PASSWORD).await?;
            let stored = w.app.call("GET", &format!("/api/v1/households/{hid}"), Some(&token), None).await?.body;
            ensure(stored["tehsil"] == json!("Khwazakhela") && stored["phone"] == json!("03002222222"), || {
                format!("after re-applying: tehsil {} phone {}", stored["tehsil"], stored["phone"])
            })?;
            Ok(())
        })
        .await;
    let other_console = other.assert_no_console_errors("conflict_412 (second session)", &[]).await;
    other.close().await;
    outcome.and(other_console)
}

// ---------------------------------------------------------------------------------------
// Token expiry keeps the form.

async fn token_expiry(w: &World<'_>, lang: &'static str) -> R {
    let user = format!("rehan-{lang}");
    let new_password = "the password the admin set just now";
    let head = Person {
        name: "Tahira",
        name_ur: "طاہرہ",
        relation: "head",
        sex: "female",
        dob: "07071982",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    let son = Person {
        name: "Bilawal",
        name_ur: "بلاول",
        relation: "son",
        sex: "male",
        dob: "09092012",
        id_type: "b_form",
        id: Some(w.id_number(false)),
    };
    let me_token = w.app.token(&user, PASSWORD).await?;
    let me = w.app.call("GET", "/api/v1/auth/me", Some(&me_token), None).await?.body;
    let uid = me["id"].as_str().ok_or("GET /auth/me: no id")?.to_string();
    w.in_browser(lang, "token_expiry", &["401"], async |b| {
        b.open("#/households/new").await?;
        b.sign_in(&user, PASSWORD).await?;
        b.wait("[data-testid=review]").await?;
        fill_household(b, "Barikot", "03003333333").await?;
        b.click("[data-testid=add-member]").await?;
        fill_member(b, 0, &head).await?;
        fill_member(b, 1, &son).await?;
        // Wait for the duplicate checks to finish before the token stops working.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        // An administrator sets the clerk's password: every older token stops working.
        let reply = w
            .app
            .call(
                "POST",
                &format!("/api/v1/users/{uid}/password"),
                Some(&w.admin_token),
                Some(&json!({"new_password": new_password})),
            )
            .await?;
        ensure(reply.status.is_success(), || format!("admin password reset: {} {}", reply.status, reply.body))?;
        b.click("[data-testid=review]").await?;
        b.click("[data-testid=save-household]").await?;
        b.wait("dialog#relogin #f-relogin-password").await?;
        // The page under the dialog still holds what was typed.
        let main = b.js("return document.querySelector('main').textContent", vec![]).await?;
        let main = main.as_str().unwrap_or_default();
        ensure(main.contains(head.name) && main.contains(son.name) && main.contains("Barikot"), || {
            format!(
                "under the re-login dialog the page lost the typed values: {}",
                main.chars().take(300).collect::<String>()
            )
        })?;
        w.check_page(b, "relogin").await?;
        b.type_in("#f-relogin-password", new_password).await?;
        b.click("dialog#relogin button[type=submit]").await?;
        b.wait_gone("dialog#relogin").await?;
        b.wait("[data-testid=household-number]").await?;
        // Exactly one household with the head's ID number, with what was typed.
        let token = w.app.token(&user, new_password).await?;
        let digits = head.id.clone().unwrap_or_default();
        let found =
            w.app.call("GET", &format!("/api/v1/households?id_number={digits}"), Some(&token), None).await?.body;
        let items = found["items"].as_array().cloned().unwrap_or_default();
        ensure(items.len() == 1, || format!("households with the head's ID after the re-login: {}", items.len()))?;
        let hid = items[0]["id"].as_str().unwrap_or_default();
        let stored = w.app.call("GET", &format!("/api/v1/households/{hid}"), Some(&token), None).await?.body;
        ensure(stored["tehsil"] == json!("Barikot") && stored["members"].as_array().map_or(0, Vec::len) == 2, || {
            format!("the saved household: tehsil {} members {}", stored["tehsil"], stored["members"])
        })?;
        // The token stops working again; a page that sends several requests at once (the
        // household hub: five) shows one dialog, and every request completes after it.
        let third_password = "and the password after that one";
        let reply = w
            .app
            .call(
                "POST",
                &format!("/api/v1/users/{uid}/password"),
                Some(&w.admin_token),
                Some(&json!({"new_password": third_password})),
            )
            .await?;
        ensure(reply.status.is_success(), || format!("second password reset: {}", reply.status))?;
        b.nav("#/search").await?;
        b.wait("#f-q").await?;
        b.nav(&format!("#/households/{hid}")).await?;
        b.wait("dialog#relogin #f-relogin-password").await?;
        b.type_in("#f-relogin-password", third_password).await?;
        b.click("dialog#relogin button[type=submit]").await?;
        b.wait_gone("dialog#relogin").await?;
        b.wait("[data-testid=household-number]").await?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The whole registration with the keyboard alone.

/// Presses Tab until the element with `id` has focus (fails after 80 presses).
async fn tab_to(b: &Browser<'_>, id: &str) -> R {
    for _ in 0..80 {
        if b.focused().await? == id {
            return Ok(());
        }
        b.keys(&[Stroke::Key(Key::Tab)]).await?;
    }
    Err(format!("80 Tabs did not reach #{id} (focus is on {:?}) at {}", b.focused().await?, b.here().await))
}

/// Chooses `value` in the focused select with arrow keys.
async fn arrow_select(b: &Browser<'_>, id: &str, value: &str) -> R {
    let idx = b
        .js(
            "const s = document.getElementById(arguments[0]); return [s.selectedIndex, [...s.options].findIndex(o => o.value === arguments[1])]",
            vec![json!(id), json!(value)],
        )
        .await?;
    let (now, want) = (idx[0].as_i64().unwrap_or(-1), idx[1].as_i64().unwrap_or(-1));
    ensure(want >= 0, || format!("#{id} has no option {value:?}"))?;
    let key = if want > now { Key::Down } else { Key::Up };
    let strokes: Vec<Stroke<'_>> = (0..(want - now).abs()).map(|_| Stroke::Key(key)).collect();
    b.keys(&strokes).await?;
    let got = b.value(&format!("#{id}")).await?;
    ensure(got == value, || format!("arrow keys on #{id} chose {got:?}, not {value:?}"))
}

async fn kb_field(b: &Browser<'_>, id: &str, text: &str) -> R {
    tab_to(b, id).await?;
    b.keys(&[Stroke::Text(text)]).await
}

async fn kb_choose(b: &Browser<'_>, id: &str, value: &str) -> R {
    tab_to(b, id).await?;
    arrow_select(b, id, value).await
}

async fn kb_member(b: &Browser<'_>, i: usize, p: &Person) -> R {
    let f = |name: &str| format!("f-members-{i}-{name}");
    kb_field(b, &f("full_name"), p.name).await?;
    kb_field(b, &f("full_name_ur"), p.name_ur).await?;
    kb_choose(b, &f("relation_to_head"), p.relation).await?;
    kb_choose(b, &f("sex"), p.sex).await?;
    kb_field(b, &f("date_of_birth"), p.dob).await?;
    kb_choose(b, &f("id_type"), p.id_type).await?;
    if let Some(id) = &p.id {
        kb_field(b, &f("id_number"), id).await?;
    }
    Ok(())
}

async fn keyboard_only(w: &World<'_>, lang: &'static str) -> R {
    let head = Person {
        name: "Kausar",
        name_ur: "کوثر",
        relation: "head",
        sex: "female",
        dob: "11111979",
        id_type: "cnic",
        id: Some(w.id_number(true)),
    };
    let daughter = Person {
        name: "Hina",
        name_ur: "حنا",
        relation: "daughter",
        sex: "female",
        dob: "02022016",
        id_type: "b_form",
        id: Some(w.id_number(true)),
    };
    w.in_browser(lang, "keyboard_only", &[], async |b| {
        b.open("").await?;
        // Sign in with keys: the username field, Tab, the password, Enter.
        b.wait("#f-login-username").await?;
        tab_to(b, "f-login-username").await?;
        b.keys(&[Stroke::Text(CLERK), Stroke::Key(Key::Tab), Stroke::Text(PASSWORD), Stroke::Key(Key::Enter)]).await?;
        b.wait("[data-testid=logout]").await?;
        // "/" focuses the search box; then Tab to the register link and Enter.
        b.wait("#f-q").await?;
        b.keys(&[Stroke::Key(Key::Escape)]).await?;
        b.js("document.activeElement && document.activeElement.blur()", vec![]).await?;
        b.keys(&[Stroke::Text("/")]).await?;
        until("'/' to focus #f-q", async || Ok((b.focused().await? == "f-q").then_some(()))).await?;
        for _ in 0..10 {
            let href = b.js("return document.activeElement.getAttribute('href')", vec![]).await?;
            if href == json!("#/households/new") {
                break;
            }
            b.keys(&[Stroke::Key(Key::Tab)]).await?;
        }
        b.keys(&[Stroke::Key(Key::Enter)]).await?;
        b.wait("[data-testid=review]").await?;
        b.wait("#f-district option[value=swat]").await?;
        kb_choose(b, "f-district", "swat").await?;
        kb_field(b, "f-tehsil", "Kalam").await?;
        kb_field(b, "f-phone", "03004444444").await?;
        kb_field(b, "f-pmt_score", "18").await?;
        kb_choose(b, "f-owns_vehicle", "false").await?;
        kb_member(b, 0, &head).await?;
        // Alt+N adds a member and focuses its first input.
        b.keys(&[Stroke::Alt('n')]).await?;
        until("Alt+N to add a second member", async || Ok((b.count(".member-block").await? == 2).then_some(())))
            .await?;
        until("focus in the new member's first input", async || {
            Ok(b.focused().await?.starts_with("f-members-1-").then_some(()))
        })
        .await?;
        kb_member(b, 1, &daughter).await?;
        // Alt+S: check your answers; Alt+S again: save.
        b.keys(&[Stroke::Alt('s')]).await?;
        b.wait("[data-testid=save-household]").await?;
        b.keys(&[Stroke::Alt('s')]).await?;
        b.wait("[data-testid=household-number]").await?;
        let token = w.app.token(CLERK, PASSWORD).await?;
        let digits = daughter.id.clone().unwrap_or_default();
        let found =
            w.app.call("GET", &format!("/api/v1/households?id_number={digits}"), Some(&token), None).await?.body;
        let hid = found["items"][0]["id"].as_str().ok_or_else(|| format!("no household with {digits}: {found}"))?;
        let stored = w.app.call("GET", &format!("/api/v1/households/{hid}"), Some(&token), None).await?.body;
        let m = &stored["members"];
        ensure(
            stored["tehsil"] == json!("Kalam")
                && stored["district"] == json!("swat")
                && stored["owns_vehicle"] == json!(false)
                && m.as_array().map_or(0, Vec::len) == 2
                && m.to_string().contains(head.name_ur)
                && m.to_string().contains("2016-02-02"),
            || format!("the household typed with the keyboard was stored as {stored}"),
        )?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Switching language keeps typed text.

async fn language_switch(w: &World<'_>, lang: &'static str) -> R {
    let other = if lang == "en" { "ur" } else { "en" };
    w.in_browser(lang, "language_switch", &[], async |b| {
        b.open("#/households/new").await?;
        b.sign_in(CLERK, PASSWORD).await?;
        b.wait("[data-testid=review]").await?;
        b.type_in("#f-tehsil", "Bahrain").await?;
        b.type_in("#f-members-0-full_name", "Saima").await?;
        b.type_in("#f-members-0-full_name_ur", "صائمہ").await?;
        b.type_in("#f-members-0-date_of_birth", "04041988").await?;
        let label_before = b.text("label[for=f-tehsil]").await?;
        b.click("[data-testid=lang-switch]").await?;
        until("the page to switch language", async || {
            Ok((b.attr("html", "lang").await?.as_deref() == Some(other)).then_some(()))
        })
        .await?;
        let dir = b.attr("html", "dir").await?;
        ensure(dir.as_deref() == Some(if other == "ur" { "rtl" } else { "ltr" }), || {
            format!("after switching to {other}, dir={dir:?}")
        })?;
        let label_after = b.text("label[for=f-tehsil]").await?;
        ensure(label_after != label_before, || format!("the tehsil label did not change language: {label_after:?}"))?;
        for (id, want) in [
            ("#f-tehsil", "Bahrain"),
            ("#f-members-0-full_name", "Saima"),
            ("#f-members-0-full_name_ur", "صائمہ"),
            ("#f-members-0-date_of_birth", "04-04-1988"),
        ] {
            let got = b.value(id).await?;
            ensure(got == want, || format!("after switching language {id} holds {got:?}, not {want:?}"))?;
        }
        let url = b.here().await;
        ensure(url.contains(&format!("lang={other}")), || format!("the URL keeps the old language: {url}"))?;
        // The Urdu name input reads right to left whatever the page direction.
        let ur_dir = b.attr("#f-members-0-full_name_ur", "dir").await?;
        ensure(ur_dir.as_deref() == Some("rtl"), || format!("#f-members-0-full_name_ur dir={ur_dir:?}"))?;
        let id_dir = b.attr("#f-members-0-date_of_birth", "dir").await?;
        ensure(id_dir.as_deref() == Some("ltr"), || format!("#f-members-0-date_of_birth dir={id_dir:?}"))?;
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The other roles' main paths.

/// A household referred to BISP Kafaalat through the API; returns (household id, referral id).
async fn referred_household(w: &World<'_>) -> R<(String, String)> {
    let people = [
        Person {
            name: "Zarina",
            name_ur: "زرینہ",
            relation: "head",
            sex: "female",
            dob: "01031985",
            id_type: "cnic",
            id: Some(w.id_number(true)),
        },
        Person {
            name: "Gul",
            name_ur: "گل",
            relation: "son",
            sex: "male",
            dob: "10062015",
            id_type: "b_form",
            id: Some(w.id_number(false)),
        },
    ];
    let hh = w.api_household(&people, json!({})).await?;
    let hid = hh["id"].as_str().unwrap_or_default().to_string();
    let token = w.app.token(CLERK, PASSWORD).await?;
    let s = w.app.call("POST", &format!("/api/v1/households/{hid}/screenings"), Some(&token), Some(&json!({}))).await?;
    ensure(s.status.is_success(), || format!("API screening: {} {}", s.status, s.body))?;
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/v1/households/{hid}/referrals"),
            Some(&token),
            Some(&json!({"schemes": ["bisp-kafaalat"]})),
        )
        .await?;
    ensure(r.status.is_success(), || format!("API referral: {} {}", r.status, r.body))?;
    let rid = r.body["items"][0]["id"].as_str().unwrap_or_default().to_string();
    Ok((hid, rid))
}

async fn scheme_admin(w: &World<'_>, lang: &'static str) -> R {
    let (_, rid) = referred_household(w).await?;
    let token = w.app.token(SCHEME_ADMIN, PASSWORD).await?;
    let number =
        w.app.call("GET", &format!("/api/v1/referrals/{rid}"), Some(&token), None).await?.body["referral_number"]
            .as_str()
            .ok_or("GET /referrals/{id} as the scheme administrator: no referral_number")?
            .to_string();
    w.in_browser(lang, "scheme_admin", &[], async |b| {
        b.open("").await?;
        b.sign_in(SCHEME_ADMIN, PASSWORD).await?;
        b.wait_hash("^#/inbox").await?;
        // The inbox lists the referral, with its next steps.
        let link = format!("[data-testid='referral-link-{number}']");
        let listed = until("the inbox to list the referral (or say it cannot)", async || {
            if b.find("[data-testid=inbox-unavailable]").await?.is_some() {
                return Ok(Some(false));
            }
            Ok(b.find(&link).await?.map(|_| true))
        })
        .await?;
        w.check_page(b, "inbox").await?;
        ensure(listed, || {
            "the inbox shows [data-testid=inbox-unavailable]: GET /api/v1/referrals answers 403 to a scheme administrator".into()
        })?;
        // Acknowledge it from the referral page.
        b.click(&link).await?;
        b.wait_hash(&format!("^#/referrals/{rid}")).await?;
        b.click("[data-testid=step-acknowledged]").await?;
        b.wait("[data-testid=confirm-step]").await?;
        w.check_page(b, "acknowledge").await?;
        b.click("[data-testid=confirm-step]").await?;
        b.wait_gone("[data-testid=confirm-step]").await?;
        until("the referral to be acknowledged", async || {
            let r = w.app.call("GET", &format!("/api/v1/referrals/{rid}"), Some(&token), None).await?;
            Ok((r.body["status"] == json!("acknowledged")).then_some(()))
        })
        .await?;
        w.check_page(b, "referral-acknowledged").await
    })
    .await
}

async fn auditor(w: &World<'_>, lang: &'static str) -> R {
    w.in_browser(lang, "auditor", &[], async |b| {
        b.open("").await?;
        b.sign_in(AUDITOR, PASSWORD).await?;
        b.wait_hash("^#/log").await?;
        b.wait("[data-testid=log-count]").await?;
        b.wait("[data-testid=export-csv]").await?;
        w.check_page(b, "log").await?;
        b.click("[data-testid=export-csv]").await?;
        // The export downloads through the API with the token; the button comes back enabled.
        until("the export to finish", async || {
            let el = b.wait("[data-testid=export-csv]").await?;
            Ok(el.is_enabled().await.unwrap_or(false).then_some(()))
        })
        .await?;
        b.nav("#/audit").await?;
        b.wait("[data-testid=audit-count]").await?;
        b.wait("[data-testid=verify-chain]").await?;
        w.check_page(b, "audit").await?;
        b.click("[data-testid=verify-chain]").await?;
        b.wait("[data-testid=verify-result]").await?;
        let ok = b.attr("[data-testid=verify-result]", "data-ok").await?;
        ensure(ok.as_deref() == Some("true"), || format!("the audit chain check says data-ok={ok:?}"))?;
        w.check_page(b, "audit-verified").await
    })
    .await
}

async fn admin(w: &World<'_>, lang: &'static str) -> R {
    let username = format!("new-clerk-{lang}");
    w.in_browser(lang, "admin", &[], async |b| {
        b.open("").await?;
        b.sign_in(ADMIN, PASSWORD).await?;
        b.wait_hash("^#/admin/users").await?;
        b.wait("[data-testid=users-count]").await?;
        w.check_page(b, "users").await?;
        b.type_in("#f-user-username", &username).await?;
        b.choose("#f-user-role", "clerk").await?;
        b.click("[data-testid=new-district-swat]").await?;
        b.type_in("#f-user-password", "a long enough password for a clerk").await?;
        w.check_page(b, "create-user").await?;
        b.click("[data-testid=create-user]").await?;
        b.wait_hash("^#/admin/users/[^/]+$").await?;
        b.wait("[data-testid=user-summary]").await?;
        w.check_page(b, "user").await?;
        let r = w.app.call("GET", "/api/v1/users?limit=100", Some(&w.admin_token), None).await?;
        let created = r.body["items"]
            .as_array()
            .and_then(|xs| xs.iter().find(|u| u["username"] == json!(username)).cloned())
            .ok_or_else(|| format!("{username} is not among the users: {}", r.body))?;
        ensure(created["role"] == json!("clerk") && created.to_string().contains("swat"), || {
            format!("the account created in the console: {created}")
        })?;
        // The new clerk can sign in.
        w.app.token(&username, "a long enough password for a clerk").await.map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Reports: coverage, gaps and the referral funnel, as an auditor (every district) and as a
// clerk (their districts).

/// `n` households of one older woman each, registered and screened through the API as `CLERK`.
async fn screened_households(w: &World<'_>, district: &str, n: usize) -> R {
    let token = w.app.token(CLERK, PASSWORD).await?;
    for _ in 0..n {
        let people = [Person {
            name: "Shazia",
            name_ur: "شازیہ",
            relation: "head",
            sex: "female",
            dob: "05051950",
            id_type: "cnic",
            id: Some(w.id_number(true)),
        }];
        let hh = w.api_household(&people, json!({ "district": district })).await?;
        let hid = hh["id"].as_str().unwrap_or_default();
        let s =
            w.app.call("POST", &format!("/api/v1/households/{hid}/screenings"), Some(&token), Some(&json!({}))).await?;
        ensure(s.status.is_success(), || format!("API screening: {} {}", s.status, s.body))?;
    }
    Ok(())
}

/// A report as `user` gets it from the API (`query` with its `?`, or empty).
async fn api_report(w: &World<'_>, user: &str, path: &str, query: &str) -> R<crate::app::Reply> {
    let token = w.app.token(user, PASSWORD).await?;
    let r = w.app.call("GET", &format!("/api/v1/reports/{path}{query}"), Some(&token), None).await?;
    ensure(r.status.is_success(), || format!("GET /api/v1/reports/{path}{query} as {user}: {} {}", r.status, r.body))?;
    Ok(r)
}

/// The registered households of a report as the page writes them (digits grouped by commas).
fn households_shown(report: &Value) -> String {
    let digits = report["registered"]["households"].as_u64().unwrap_or_default().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn scroll_to(b: &Browser<'_>, css: &str) -> R {
    b.wait(css).await?;
    b.js("document.querySelector(arguments[0]).scrollIntoView()", vec![json!(css)]).await.map(|_| ())
}

/// Waits until the page shows `want` registered households.
async fn shows_households(b: &Browser<'_>, want: &str) -> R {
    until(&format!("the page to show {want} registered households"), async || {
        let shown = match b.find("[data-testid=registered-households]").await? {
            Some(el) => el.text().await.unwrap_or_default(),
            None => return Ok(None),
        };
        Ok((shown == want).then_some(()))
    })
    .await
}

async fn reports(w: &World<'_>, lang: &'static str) -> R {
    referred_household(w).await?;
    screened_households(w, "swat", 5).await?;
    // A district with a handful of households: its counts are suppressed.
    screened_households(w, "peshawar", 2).await?;
    let coverage = api_report(w, AUDITOR, "coverage", "").await?.body;
    let has_null = |report: &Value| {
        report["tables"].as_array().into_iter().flatten().any(|t| {
            t["cells"].as_array().into_iter().flatten().filter_map(Value::as_array).flatten().any(Value::is_null)
        })
    };
    ensure(has_null(&coverage), || format!("the coverage report suppresses nothing: {coverage}"))?;
    let as_of = coverage["as_of"].as_str().ok_or("the coverage report has no as_of")?.to_string();
    let peshawar = api_report(w, AUDITOR, "coverage", &format!("?district=peshawar&as_of={as_of}")).await?.body;
    let csv = api_report(w, AUDITOR, "coverage.csv", "?district=peshawar").await?;
    let kind = csv.header("content-type").unwrap_or_default();
    ensure(kind.starts_with("text/csv") && csv.raw.starts_with(b"\xEF\xBB\xBF"), || {
        format!("GET /api/v1/reports/coverage.csv: {kind}, {} bytes", csv.raw.len())
    })?;
    let typed_date: String = as_of.split('-').rev().collect();
    w.in_browser(lang, "reports", &[], async |b| {
        b.open("").await?;
        b.sign_in(AUDITOR, PASSWORD).await?;
        b.click("nav a[href='#/reports']").await?;
        b.wait_hash("^#/reports").await?;
        shows_households(b, &households_shown(&coverage)).await?;
        b.wait("[data-testid=table-coverage_by_guarantee] table").await?;
        b.wait("[data-testid=suppressed]").await?;
        w.check_page(b, "reports-coverage").await?;
        scroll_to(b, "[data-testid=chart-coverage_by_guarantee]").await?;
        b.shot("reports-coverage-chart").await?;
        // The district chart, another guarantee chosen.
        scroll_to(b, "[data-testid=chart-coverage_by_district]").await?;
        b.choose("#f-reports-chart", "3").await?;
        b.shot("reports-coverage-districts").await?;
        b.click("[data-testid=tab-gaps]").await?;
        b.wait_hash("tab=gaps").await?;
        b.wait("[data-testid=table-nothing_by_district] table").await?;
        w.check_page(b, "reports-gaps").await?;
        scroll_to(b, "[data-testid=table-missing_fields]").await?;
        b.shot("reports-gaps-fields").await?;
        b.click("[data-testid=tab-funnel]").await?;
        b.wait_hash("tab=funnel").await?;
        b.wait("[data-testid=table-funnel_by_scheme] table").await?;
        w.check_page(b, "reports-funnel").await?;
        scroll_to(b, "[data-testid=chart-funnel_by_scheme]").await?;
        b.shot("reports-funnel-chart").await?;
        b.print_pdf("reports-funnel").await?;
        // Filters go into the link: a district, and the date typed DD-MM-YYYY.
        b.click("[data-testid=tab-coverage]").await?;
        b.wait_hash("tab=coverage").await?;
        b.choose("#f-reports-district", "peshawar").await?;
        b.type_in("#f-reports-as_of", &typed_date).await?;
        b.click("[data-testid=reports-apply]").await?;
        b.wait_hash(&format!("district=peshawar&as_of={as_of}")).await?;
        shows_households(b, &households_shown(&peshawar)).await?;
        b.wait("[data-testid=suppressed]").await?;
        // The CSV, downloaded with the token: the button comes back when it is saved.
        b.click("[data-testid=reports-csv]").await?;
        until("the CSV download to finish", async || {
            let el = b.wait("[data-testid=reports-csv]").await?;
            Ok(el.is_enabled().await.unwrap_or(false).then_some(()))
        })
        .await
    })
    .await?;
    // A clerk: their districts only.
    let mine = api_report(w, CLERK, "coverage", "").await?.body;
    w.in_browser(lang, "reports", &[], async |b| {
        b.open("").await?;
        b.sign_in(CLERK, PASSWORD).await?;
        b.nav("#/reports").await?;
        shows_households(b, &households_shown(&mine)).await?;
        b.wait("[data-testid=table-coverage_by_district] table").await?;
        w.check_page(b, "reports-clerk").await?;
        b.print_pdf("reports-clerk").await.map(|_| ())
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Rule changes: a scheme administrator proposes a change and computes its impact; a second
// one approves it (the author cannot); the versions page shows the difference.

const RC_SCHEME: &str = "bisp-kafaalat";

/// The rule file in force for `RC_SCHEME` with its PMT cut-off set to `cutoff` from `day`.
async fn rc_changed_text(w: &World<'_>, token: &str, day: &str, cutoff: u32) -> R<String> {
    let list =
        w.app.call("GET", &format!("/api/v1/rule-versions?scheme={RC_SCHEME}&limit=1"), Some(token), None).await?;
    let id = list.body["items"][0]["id"].as_str().ok_or_else(|| format!("no version of {RC_SCHEME}: {}", list.body))?;
    let v = w.app.call("GET", &format!("/api/v1/rule-versions/{id}"), Some(token), None).await?;
    let text = v.body["text"].as_str().ok_or_else(|| format!("version {id} has no text: {}", v.body))?.to_string();
    let (head, rest) = text.split_once("  pmt_cutoff:\n").ok_or("no pmt_cutoff parameter")?;
    let (label, values) = rest.split_once("    values:\n").ok_or("pmt_cutoff has no values")?;
    let line = format!("      {day}: ");
    let values = match values.find(&line) {
        Some(at) => {
            let end = values[at..].find('\n').map_or(values.len(), |e| at + e);
            format!("{}{line}{cutoff}{}", &values[..at], &values[end..])
        }
        None => format!("{line}{cutoff}\n{values}"),
    };
    Ok(format!("{head}  pmt_cutoff:\n{label}    values:\n{values}"))
}

async fn rule_changes(w: &World<'_>, lang: &'static str) -> R {
    let (author, approver) = (format!("rc-author-{lang}"), format!("rc-approver-{lang}"));
    w.app.create_user(&author, Role::SchemeAdmin, &[], &[RC_SCHEME]).await?;
    w.app.create_user(&approver, Role::SchemeAdmin, &[], &[RC_SCHEME]).await?;
    // Households just above the cut-off in force, below the proposed one: they gain.
    let cutoff = if lang == "en" { 35 } else { 36 };
    let pmt = f64::from(cutoff) - 0.5;
    for (district, n) in [("swat", 5), ("peshawar", 2)] {
        for _ in 0..n {
            let head = Person {
                name: "Rukhsana",
                name_ur: "رخسانہ",
                relation: "head",
                sex: "female",
                dob: "05051984",
                id_type: "cnic",
                id: Some(w.id_number(true)),
            };
            w.api_household(&[head], json!({ "district": district, "pmt_score": pmt })).await?;
        }
    }
    let token = w.app.token(&author, PASSWORD).await?;
    let today = sahulat::registry::warnings::today_in_pakistan();
    let text = rc_changed_text(w, &token, &today.to_string(), cutoff).await?;
    let typed = today.format("%d%m%Y").to_string();
    let mut proposal = String::new();
    // The broken file is refused on purpose.
    let refused = ["/api/v1/rule-proposals - Failed to load resource: the server responded with a status of 422"];
    w.in_browser(lang, "rule_changes", &refused, async |b| {
        b.open("").await?;
        b.sign_in(&author, PASSWORD).await?;
        b.click("nav a[href='#/rule-changes']").await?;
        b.wait_hash("^#/rule-changes$").await?;
        b.wait("[data-testid=proposals-count]").await?;
        w.check_page(b, "rule-changes").await?;
        b.click("[data-testid=new-proposal]").await?;
        b.type_in("#f-new-summary", &format!("PMT cut-off {cutoff} from today ({lang})")).await?;
        b.type_in("#f-new-effective_from", &typed).await?;
        b.choose("#f-new-from", RC_SCHEME).await?;
        b.click("[data-testid=new-start]").await?;
        b.wait("#f-new-files-0").await?;
        // The scheme's text in force, then the edit (as if typed).
        let shown = b.value("#f-new-files-0").await?;
        ensure(shown.contains("  pmt_cutoff:\n"), || format!("the file started from {RC_SCHEME} is {shown:?}"))?;
        let edit = async |text: &str| {
            b.js(
                "const t = document.getElementById('f-new-files-0'); t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true}));",
                vec![json!(text)],
            )
            .await
        };
        // A mistake first: refused with its file, line and column, the text kept.
        edit(&text.replace("rule: not owns_vehicle", "rule: not owns_vehicles")).await?;
        b.click("[data-testid=new-submit]").await?;
        b.wait(".error-summary").await?;
        let summary = b.text(".error-summary").await?;
        ensure(summary.contains(&format!("{RC_SCHEME}.yaml:")), || format!("the refusal of a broken file: {summary}"))?;
        ensure(b.value("#f-new-files-0").await?.contains("owns_vehicles"), || "the text typed was lost".into())?;
        w.check_page(b, "rule-new-error").await?;
        edit(&text).await?;
        w.check_page(b, "rule-new").await?;
        b.click("[data-testid=new-submit]").await?;
        let hash = b.wait_hash("^#/rule-changes/(?!new$)[^/?]+$").await?;
        proposal = hash.trim_start_matches("#/rule-changes/").to_string();
        b.wait("[data-testid=proposal-status]").await?;
        b.wait("[data-testid=own-proposal]").await?;
        ensure(b.find("[data-testid=approve]").await?.is_none(), || "the author is offered to approve".into())?;
        b.wait("[data-testid=text-diff] ins").await?;
        b.click("[data-testid=compute-impact]").await?;
        b.wait_hash("report=").await?;
        b.wait("[data-testid=impact-report] [data-testid=impact-chart]").await?;
        b.wait("[data-testid=suppressed]").await?;
        ensure(b.find("[data-testid=approve]").await?.is_none(), || "the author is offered to approve a report".into())?;
        w.check_page(b, "rule-impact").await?;
        scroll_to(b, "[data-testid=impact-chart]").await?;
        b.shot("rule-impact-chart").await?;
        b.click("[data-testid=sample]").await?;
        b.wait_hash("hh=").await?;
        b.wait("[data-testid=trace] table").await?;
        scroll_to(b, "[data-testid=trace]").await?;
        w.check_page(b, "rule-trace").await
    })
    .await?;
    // The API agrees: the author may not approve, whatever the report.
    let p = w.app.call("GET", &format!("/api/v1/rule-proposals/{proposal}"), Some(&token), None).await?;
    ensure(p.body["may"]["approve"] == json!(false), || {
        format!("the author may approve ({proposal}): {} {}", p.status, p.body)
    })?;
    let gained = w
        .app
        .call(
            "GET",
            &format!("/api/v1/impact-reports/{}", p.body["impact_reports"][0]["id"].as_str().unwrap_or_default()),
            Some(&token),
            None,
        )
        .await?;
    let counts = gained.body["schemes"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["scheme"] == json!(RC_SCHEME)).cloned())
        .unwrap_or_default();
    ensure(counts["gained"].as_u64().unwrap_or(0) >= 7, || {
        format!("the impact report's {RC_SCHEME} counts: {counts}")
    })?;

    w.in_browser(lang, "rule_changes", &[], async |b| {
        b.open("").await?;
        b.sign_in(&approver, PASSWORD).await?;
        b.nav(&format!("#/rule-changes/{proposal}")).await?;
        b.wait("[data-testid=proposal-status]").await?;
        b.click("[data-testid=report-link]").await?;
        b.wait("[data-testid=impact-report] table").await?;
        b.click("[data-testid=approve]").await?;
        b.type_in("#f-decide-text", "Checked the gained households.").await?;
        w.check_page(b, "rule-approve").await?;
        b.click("[data-testid=decide-confirm]").await?;
        b.wait_gone("[data-testid=decide-confirm]").await?;
        let token = w.app.token(&approver, PASSWORD).await?;
        // Due today: activated at once (its impact computed again first).
        let started = Instant::now();
        loop {
            let r = w.app.call("GET", &format!("/api/v1/rule-proposals/{proposal}"), Some(&token), None).await?;
            if r.body["status"] == json!("active") {
                break;
            }
            ensure(started.elapsed() < Duration::from_secs(60), || {
                format!("the approved proposal is {}", r.body["status"])
            })?;
            actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        }
        b.nav("#/rule-changes").await?;
        b.wait("[data-testid=proposals-count]").await?;
        b.nav(&format!("#/rule-changes/{proposal}")).await?;
        b.wait("[data-testid=decisions] li").await?;
        w.check_page(b, "rule-approved").await?;
        // The new version beside the one before.
        b.nav(&format!("#/rule-versions?scheme={RC_SCHEME}")).await?;
        b.click("[data-testid=version-link]").await?;
        b.wait("[data-testid=version]").await?;
        b.click("[data-testid=compare]").await?;
        b.wait_hash("against=").await?;
        let diff = b.text("[data-testid=text-diff]").await?;
        ensure(diff.contains(&format!("+      {today}: {cutoff}")), || format!("the versions' diff: {diff}"))?;
        w.check_page(b, "rule-versions").await?;
        // Going back to the version before is a proposal of its own, which its author withdraws.
        b.click("tbody tr:nth-child(2) [data-testid=version-link]").await?;
        b.wait_hash("&v=[^&]+$").await?;
        b.click("[data-testid=rollback]").await?;
        b.type_in("#f-rollback-summary", &format!("Back to the cut-off before ({lang})")).await?;
        b.type_in("#f-rollback-effective_from", &typed).await?;
        w.check_page(b, "rule-rollback").await?;
        b.click("[data-testid=rollback-confirm]").await?;
        let hash = b.wait_hash("^#/rule-changes/[^/?]+$").await?;
        let rollback = hash.trim_start_matches("#/rule-changes/").to_string();
        b.click("[data-testid=withdraw]").await?;
        b.type_in("#f-decide-text", "Proposed to try the rollback form.").await?;
        w.check_page(b, "rule-withdraw").await?;
        b.click("[data-testid=decide-confirm]").await?;
        b.wait_gone("[data-testid=decide-confirm]").await?;
        let r = w.app.call("GET", &format!("/api/v1/rule-proposals/{rollback}"), Some(&token), None).await?;
        ensure(r.body["status"] == json!("withdrawn") && r.body["rollback_of"].is_string(), || {
            format!("the rollback proposal after its withdrawal: {}", r.body)
        })?;
        b.nav("#/rule-activations").await?;
        b.wait("#freezes table, #freezes .empty").await?;
        w.check_page(b, "rule-activations").await
    })
    .await?;
    // An admin declares a freeze period and lifts it.
    let (first, last) = (today + chrono::Days::new(30), today + chrono::Days::new(31));
    w.in_browser(lang, "rule_changes", &[], async |b| {
        b.open("").await?;
        b.sign_in(ADMIN, PASSWORD).await?;
        b.click("nav a[href='#/rule-changes']").await?;
        b.nav("#/rule-activations").await?;
        b.type_in("#f-freeze-starts_on", &first.format("%d%m%Y").to_string()).await?;
        b.type_in("#f-freeze-ends_on", &last.format("%d%m%Y").to_string()).await?;
        b.type_in("#f-freeze-reason", &format!("By-election ({lang})")).await?;
        b.click("[data-testid=add-freeze]").await?;
        b.wait("[data-testid=lift-freeze]").await?;
        w.check_page(b, "rule-freezes").await?;
        b.click("[data-testid=lift-freeze]").await?;
        b.wait_gone("[data-testid=lift-freeze]").await
    })
    .await?;
    // An auditor reads the proposal and its report: no action, no household's trace.
    w.in_browser(lang, "rule_changes", &[], async |b| {
        b.open("").await?;
        b.sign_in(AUDITOR, PASSWORD).await?;
        b.nav(&format!("#/rule-changes/{proposal}")).await?;
        b.wait("[data-testid=proposal-status]").await?;
        b.click("[data-testid=report-link]").await?;
        b.wait("[data-testid=impact-report] table").await?;
        for action in ["approve", "reject", "withdraw", "compute-impact", "sample"] {
            ensure(b.find(&format!("[data-testid={action}]")).await?.is_none(), || {
                format!("an auditor is offered {action}")
            })?;
        }
        w.check_page(b, "rule-auditor").await
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Time to usable, page by page (deep links inside a signed-in session).

/// A page to time: its name, its link, and what must be on screen for it to be usable.
type PageToTime<'s> = (&'s str, String, Vec<&'s str>);

async fn page_timings(w: &World<'_>, lang: &'static str) -> R {
    let (hid, rid) = referred_household(w).await?;
    let clerk_pages: Vec<PageToTime<'_>> = vec![
        ("search", "#/search".into(), vec!["h1", "#f-q", "[data-testid=search-submit]"]),
        ("register", "#/households/new".into(), vec!["h1", "#f-district option[value=swat]", "[data-testid=review]"]),
        ("household", format!("#/households/{hid}"), vec!["[data-testid=household-number]", "[data-testid=screen]"]),
        ("edit", format!("#/households/{hid}/edit"), vec!["h1", "#f-tehsil", "[data-testid=save-changes]"]),
        (
            "screening",
            format!("#/households/{hid}/screening"),
            vec!["h1", "[data-testid=group-eligible]", "[data-testid=refer-all]"],
        ),
        ("referral", format!("#/referrals/{rid}"), vec!["h1", "[data-testid=print-slip]"]),
        ("slip", format!("#/referrals/{rid}/slip"), vec![".slip"]),
    ];
    let roles: Vec<(&str, Vec<PageToTime<'_>>)> = vec![
        (CLERK, clerk_pages),
        (SCHEME_ADMIN, vec![("inbox", "#/inbox".into(), vec!["h1", "[data-testid=inbox-count]"])]),
        (
            AUDITOR,
            vec![
                ("log", "#/log".into(), vec!["h1", "[data-testid=log-count]", "[data-testid=export-csv]"]),
                ("audit", "#/audit".into(), vec!["h1", "[data-testid=audit-count]", "[data-testid=verify-chain]"]),
                (
                    "reports",
                    "#/reports".into(),
                    vec!["h1", "[data-testid=registered-households]", "[data-testid=reports-csv]"],
                ),
            ],
        ),
        (
            ADMIN,
            vec![(
                "users",
                "#/admin/users".into(),
                vec!["h1", "[data-testid=users-count]", "[data-testid=create-user]"],
            )],
        ),
    ];
    let mut errors = Vec::new();
    for (user, pages) in roles {
        let outcome = w
            .in_browser(lang, "page_timings", &[], async |b| {
                b.open("").await?;
                b.sign_in(user, PASSWORD).await?;
                for (page, hash, usable) in &pages {
                    // From a page with nothing in common, so no element of the last page counts.
                    b.nav("#/blank").await?;
                    b.wait_gone("main [data-testid]").await?;
                    let t: Timing = b.measure(page, Some(hash), usable).await?;
                    println!(
                        "    {page:<10} [{lang}] usable {:>6.0} ms; {} API call(s), {:.0} ms in all, longest {:.0} ms",
                        t.usable_ms, t.api_calls, t.api_ms_sum, t.api_ms_max
                    );
                }
                Ok(())
            })
            .await;
        if let Err(e) = outcome {
            errors.push(format!("as {user}: {e}"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("\n")) }
}

// ---------------------------------------------------------------------------------------

/// The figures, printed for the note.
pub fn print_report(report: &Report, db: &str, elapsed: Duration) {
    println!("\n== console figures ({db}) ==");
    println!(
        "{:<22} {:>4} {:>10} {:>9} {:>12} {:>12}",
        "page", "lang", "usable ms", "API calls", "API ms (sum)", "API ms (max)"
    );
    for t in report.timings.borrow().iter() {
        println!(
            "{:<22} {:>4} {:>10.0} {:>9} {:>12.0} {:>12.0}",
            t.page, t.lang, t.usable_ms, t.api_calls, t.api_ms_sum, t.api_ms_max
        );
    }
    for n in report.notes.borrow().iter() {
        println!("- {n}");
    }
    println!("files written:");
    for f in report.files.borrow().iter() {
        println!("  {f}");
    }
    println!("UI test run: {:.1} s", elapsed.as_secs_f64());
}
