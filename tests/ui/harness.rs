//! The browser side: chromedriver as a child process, one Chromium session per scenario,
//! and the helpers the scenarios use (sign-in, waiting for elements, keys, screenshots,
//! axe, printing, the browser's console log, timings).

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, PrintConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A scenario's outcome: `Err` carries a message naming what failed and where.
pub type R<T = ()> = Result<T, String>;

/// Adds what was being done to an error.
pub trait Ctx<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> R<T>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> R<T> {
        self.map_err(|e| format!("{}: {e}", what().into()))
    }
}

/// How long a wait for an element may take before the scenario fails.
pub fn wait_timeout() -> Duration {
    let secs = std::env::var("SAHULAT_UI_WAIT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    Duration::from_secs(secs)
}

/// Where screenshots, PDFs and axe reports go: `target/ui-shots/`.
pub fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let target = if target.is_absolute() { target } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(target) };
    target.join("ui-shots")
}

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on PATH, else /usr/bin/chromedriver.
pub fn find_chromedriver() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file());
    on_path.or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.is_file()))
}

/// chromedriver, in its own process group: dropping the guard kills it and any Chromium it
/// started.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub async fn start(binary: &Path) -> R<Driver> {
        use std::os::unix::process::CommandExt;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ctx(|| "find a free port")?;
        let log = shots_dir().join("chromedriver.log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ctx(|| format!("spawn {}", binary.display()))?;
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let http = awc::Client::builder().timeout(Duration::from_secs(2)).finish();
        let started = Instant::now();
        loop {
            if let Ok(mut resp) = http.get(format!("{}/status", driver.url)).send().await
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(driver);
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!("chromedriver on port {port} did not answer /status within 20 s"));
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers it launched.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /session/{id}/se/log {"type":"browser"}`: chromedriver's console log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_string()))
    }
}

/// A page-load figure: navigation to usable, and the API calls made meanwhile.
#[derive(Clone, Debug)]
pub struct Timing {
    pub page: String,
    pub lang: &'static str,
    pub usable_ms: f64,
    pub api_calls: usize,
    pub api_ms_sum: f64,
    pub api_ms_max: f64,
}

/// What the whole run collects.
#[derive(Default)]
pub struct Report {
    pub timings: RefCell<Vec<Timing>>,
    pub notes: RefCell<Vec<String>>,
    pub files: RefCell<Vec<String>>,
}

impl Report {
    pub fn note(&self, text: impl Into<String>) {
        let text = text.into();
        println!("    note: {text}");
        self.notes.borrow_mut().push(text);
    }

    fn file(&self, path: &Path) {
        self.files.borrow_mut().push(path.display().to_string());
    }
}

/// One browser session (a fresh profile) in one language.
pub struct Browser<'a> {
    pub c: Client,
    pub base: String,
    pub lang: &'static str,
    pub report: &'a Report,
    /// Clicks and submits since the last `reset_actions`.
    pub actions: Cell<u32>,
    pub action_log: RefCell<Vec<String>>,
    log_supported: Cell<bool>,
    _profile: TempDir,
}

/// A key for `Browser::keys`: a character, or a chord with Alt.
pub enum Stroke<'s> {
    Text(&'s str),
    Key(fantoccini::key::Key),
    Alt(char),
}

impl<'a> Browser<'a> {
    pub async fn open_session(driver: &Driver, base: &str, lang: &'static str, report: &'a Report) -> R<Browser<'a>> {
        let profile = TempDir::new().ctx(|| "browser profile dir")?;
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--window-size=1366,900",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "script": 30000, "pageLoad": 30000, "implicit": 0 }
        }))
        .ctx(|| "capabilities")?;
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .ctx(|| format!("start Chromium through chromedriver at {}", driver.url))?;
        Ok(Browser {
            c,
            base: base.to_string(),
            lang,
            report,
            actions: Cell::new(0),
            action_log: RefCell::default(),
            log_supported: Cell::new(true),
            _profile: profile,
        })
    }

    pub async fn close(self) {
        let _ = self.c.close().await;
    }

    /// The page's URL, for failure messages.
    pub async fn here(&self) -> String {
        self.c.current_url().await.map(|u| u.to_string()).unwrap_or_else(|e| format!("<no URL: {e}>"))
    }

    /// A full load of `/?lang=<lang><hash>`.
    pub async fn open(&self, hash: &str) -> R {
        let url = format!("{}/?lang={}{}", self.base, self.lang, hash);
        self.c.goto(&url).await.ctx(|| format!("load {url}"))
    }

    /// In-app navigation (the token lives in the page's memory: a reload would sign out).
    pub async fn nav(&self, hash: &str) -> R {
        self.js("location.hash = arguments[0]", vec![json!(hash)]).await.map(|_| ())
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> R<Value> {
        let url = self.here().await;
        self.c.execute(script, args).await.ctx(|| format!("script on {url}: {}", first_line(script)))
    }

    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> R<Value> {
        let url = self.here().await;
        self.c.execute_async(script, args).await.ctx(|| format!("async script on {url}: {}", first_line(script)))
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> R<Option<Element>> {
        let all = self.c.find_all(Locator::Css(css)).await.ctx(|| format!("find {css}"))?;
        Ok(all.into_iter().next())
    }

    pub async fn count(&self, css: &str) -> R<usize> {
        Ok(self.c.find_all(Locator::Css(css)).await.ctx(|| format!("find {css}"))?.len())
    }

    /// Waits until `css` matches a displayed element.
    pub async fn wait(&self, css: &str) -> R<Element> {
        self.wait_for(css, true).await
    }

    /// Waits until `css` matches an element (displayed or not).
    pub async fn wait_present(&self, css: &str) -> R<Element> {
        self.wait_for(css, false).await
    }

    async fn wait_for(&self, css: &str, displayed: bool) -> R<Element> {
        let started = Instant::now();
        loop {
            for el in self.c.find_all(Locator::Css(css)).await.ctx(|| format!("find {css}"))? {
                if !displayed || el.is_displayed().await.unwrap_or(false) {
                    return Ok(el);
                }
            }
            if started.elapsed() > wait_timeout() {
                let what = if displayed { "a visible" } else { "an" };
                return Err(format!(
                    "waited {} s for {what} element matching `{css}` on {}{}",
                    wait_timeout().as_secs(),
                    self.here().await,
                    self.page_hint().await
                ));
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until nothing visible matches `css`.
    pub async fn wait_gone(&self, css: &str) -> R {
        let started = Instant::now();
        loop {
            let mut visible = false;
            for el in self.c.find_all(Locator::Css(css)).await.ctx(|| format!("find {css}"))? {
                visible |= el.is_displayed().await.unwrap_or(false);
            }
            if !visible {
                return Ok(());
            }
            if started.elapsed() > wait_timeout() {
                return Err(format!(
                    "`{css}` still visible after {} s on {}",
                    wait_timeout().as_secs(),
                    self.here().await
                ));
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the URL's fragment matches `re` (a JS regular expression); returns it.
    pub async fn wait_hash(&self, re: &str) -> R<String> {
        let started = Instant::now();
        loop {
            let hash = self.js("return location.hash", vec![]).await?;
            let hash = hash.as_str().unwrap_or_default().to_string();
            let ok =
                self.js("return new RegExp(arguments[0]).test(arguments[1])", vec![json!(re), json!(hash)]).await?;
            if ok == json!(true) {
                return Ok(hash);
            }
            if started.elapsed() > wait_timeout() {
                return Err(format!(
                    "waited {} s for the location to match /{re}/; it is {}{}",
                    wait_timeout().as_secs(),
                    self.here().await,
                    self.page_hint().await
                ));
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the page shows (heading and any alert), to make a failure message useful.
    async fn page_hint(&self) -> String {
        let script = "const h = document.querySelector('h1'); \
            const a = [...document.querySelectorAll('[role=alert], .error-summary, .notice-error')].map(e => e.textContent.trim()).filter(Boolean); \
            return (h ? ' (heading: \"' + h.textContent.trim() + '\"' : ' (no h1') + (a.length ? '; alerts: ' + a.join(' | ').slice(0, 400) : '') + ')';";
        match self.c.execute(script, vec![]).await {
            Ok(Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// Counts one page action (a click or a submit) under `label`.
    fn act(&self, label: &str) {
        self.actions.set(self.actions.get() + 1);
        self.action_log.borrow_mut().push(label.to_string());
    }

    pub fn reset_actions(&self) {
        self.actions.set(0);
        self.action_log.borrow_mut().clear();
    }

    /// Clicks the visible element matching `css` (one page action).
    pub async fn click(&self, css: &str) -> R {
        let el = self.wait(css).await?;
        let _ = self.c.execute("arguments[0].scrollIntoView({block: 'center'})", vec![json!(el)]).await;
        let url = self.here().await;
        el.click().await.ctx(|| format!("click `{css}` on {url}"))?;
        self.act(css);
        Ok(())
    }

    /// Clears the input matching `css` and types `text` into it, key by key.
    pub async fn type_in(&self, css: &str, text: &str) -> R {
        let el = self.wait(css).await?;
        // WebDriver's clear empties the field without an `input` event, so the form's state
        // still holds the old value: a re-render between the clear and the first key puts it
        // back, and the keys are appended to it (seen once in CI: two phone numbers in one
        // field). Typed again when the field does not read as typed (letters and digits
        // compared, so a field that formats what it is given, a date say, is not retyped
        // forever); after three tries the scenario goes on and its own checks decide.
        let plain = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).collect::<String>();
        for _ in 0..3 {
            el.clear().await.ctx(|| format!("clear `{css}`"))?;
            el.send_keys(text).await.ctx(|| format!("type into `{css}`"))?;
            let value = el.prop("value").await.ctx(|| format!("value of `{css}`"))?.unwrap_or_default();
            if plain(&value) == plain(text) {
                break;
            }
        }
        Ok(())
    }

    /// Chooses `value` in the select matching `css` (a field entry, like typing: not counted).
    pub async fn choose(&self, css: &str, value: &str) -> R {
        let el = self.wait(css).await?;
        let url = self.here().await;
        el.select_by_value(value).await.ctx(|| format!("choose {value:?} in `{css}` on {url}"))
    }

    /// The current value of the input matching `css`.
    pub async fn value(&self, css: &str) -> R<String> {
        let el = self.wait_present(css).await?;
        Ok(el.prop("value").await.ctx(|| format!("value of `{css}`"))?.unwrap_or_default())
    }

    pub async fn attr(&self, css: &str, name: &str) -> R<Option<String>> {
        let el = self.wait_present(css).await?;
        el.attr(name).await.ctx(|| format!("attribute {name} of `{css}`"))
    }

    pub async fn text(&self, css: &str) -> R<String> {
        let el = self.wait(css).await?;
        el.text().await.ctx(|| format!("text of `{css}`"))
    }

    /// The id (or tag) of the focused element.
    pub async fn focused(&self) -> R<String> {
        let v = self
            .js("const e = document.activeElement; return e ? (e.id || e.getAttribute('data-testid') || e.tagName) : ''", vec![])
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Sends keys to whatever has focus, through WebDriver key actions.
    pub async fn keys(&self, strokes: &[Stroke<'_>]) -> R {
        use fantoccini::key::Key;
        let mut seq = KeyActions::new("keyboard".to_string());
        let press = |seq: KeyActions, c: char| seq.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
        for s in strokes {
            seq = match s {
                Stroke::Text(t) => t.chars().fold(seq, press),
                Stroke::Key(k) => press(seq, char::from(*k)),
                Stroke::Alt(c) => seq
                    .then(KeyAction::Down { value: char::from(Key::Alt) })
                    .then(KeyAction::Down { value: *c })
                    .then(KeyAction::Up { value: *c })
                    .then(KeyAction::Up { value: char::from(Key::Alt) }),
            };
        }
        let url = self.here().await;
        self.c.perform_actions(seq).await.ctx(|| format!("key actions on {url}"))?;
        let _ = self.c.release_actions().await;
        Ok(())
    }

    fn out_path(&self, name: &str, ext: &str) -> R<PathBuf> {
        let dir = shots_dir();
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        Ok(dir.join(format!("{name}-{}.{ext}", self.lang)))
    }

    /// Waits for the web fonts, then writes `target/ui-shots/<name>-<lang>.png`.
    pub async fn shot(&self, name: &str) -> R<PathBuf> {
        self.js_async("document.fonts.ready.then(() => arguments[arguments.length - 1](true))", vec![]).await?;
        let png = self.c.screenshot().await.ctx(|| format!("screenshot {name}"))?;
        let path = self.out_path(name, "png")?;
        std::fs::write(&path, png).ctx(|| format!("write {}", path.display()))?;
        self.report.file(&path);
        Ok(path)
    }

    /// Runs axe-core (WCAG 2.0/2.1 A and AA, 2.2 AA) on the page; any violation fails, and
    /// the violations are written to `target/ui-shots/<name>-<lang>.axe.json`.
    pub async fn axe(&self, name: &str) -> R {
        let loaded = self.js("return typeof window.axe === 'object'", vec![]).await?;
        if loaded != json!(true) {
            let source =
                std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vendor/axe-core/axe.min.js"))
                    .ctx(|| "read tests/vendor/axe-core/axe.min.js")?;
            self.js(&source, vec![]).await?;
        }
        let result = self
            .js_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
                   .then(r => done({violations: r.violations, passes: r.passes.length, incomplete: r.incomplete.length}),
                         e => done({error: String(e && e.stack || e)}));",
                vec![],
            )
            .await?;
        if let Some(error) = result.get("error") {
            return Err(format!("axe on {} ({name}): {error}", self.here().await));
        }
        let violations = result["violations"].as_array().cloned().unwrap_or_default();
        if violations.is_empty() {
            return Ok(());
        }
        let path = self.out_path(name, "axe.json")?;
        let pretty = serde_json::to_string_pretty(&violations).ctx(|| "axe JSON")?;
        std::fs::write(&path, pretty).ctx(|| format!("write {}", path.display()))?;
        self.report.file(&path);
        let listed = violations
            .iter()
            .map(|v| {
                let targets = v["nodes"]
                    .as_array()
                    .map(|nodes| nodes.iter().take(3).map(|n| n["target"].to_string()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                let count = v["nodes"].as_array().map_or(0, Vec::len);
                format!(
                    "  - {} ({}): {} node(s), first: {targets}",
                    v["id"].as_str().unwrap_or("?"),
                    v["impact"].as_str().unwrap_or("?"),
                    count
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!(
            "axe: {} violation(s) on {} ({name}, {}), details in {}:\n{listed}",
            violations.len(),
            self.here().await,
            self.lang,
            path.display()
        ))
    }

    /// Prints the page to PDF (WebDriver print); writes `target/ui-shots/<name>-<lang>.pdf`.
    pub async fn print_pdf(&self, name: &str) -> R<Vec<u8>> {
        self.js_async("document.fonts.ready.then(() => arguments[arguments.length - 1](true))", vec![]).await?;
        let pdf = self.c.print(PrintConfiguration::default()).await.ctx(|| format!("print {name}"))?;
        let path = self.out_path(name, "pdf")?;
        std::fs::write(&path, &pdf).ctx(|| format!("write {}", path.display()))?;
        self.report.file(&path);
        Ok(pdf)
    }

    /// The browser's console messages since the last call (`None` when chromedriver does
    /// not offer the log).
    pub async fn console_log(&self) -> Option<Vec<(String, String)>> {
        if !self.log_supported.get() {
            return None;
        }
        match self.c.issue_cmd(BrowserLog).await {
            Ok(Value::Array(entries)) => Some(
                entries
                    .into_iter()
                    .map(|e| {
                        (e["level"].as_str().unwrap_or("").to_string(), e["message"].as_str().unwrap_or("").to_string())
                    })
                    .collect(),
            ),
            Ok(_) | Err(_) => {
                self.log_supported.set(false);
                None
            }
        }
    }

    /// Fails if the console shows an error (SEVERE) other than those matching `expected`
    /// (substrings, e.g. a 401 or 412 the scenario provoked on purpose).
    pub async fn assert_no_console_errors(&self, scenario: &str, expected: &[&str]) -> R {
        let Some(entries) = self.console_log().await else {
            return Ok(());
        };
        let errors: Vec<String> = entries
            .into_iter()
            .filter(|(level, message)| level == "SEVERE" && !expected.iter().any(|x| message.contains(x)))
            .map(|(_, message)| message)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("console errors during {scenario} ({}):\n  {}", self.lang, errors.join("\n  ")))
        }
    }

    /// Signs in through the real form and waits for the shell (the logout button).
    pub async fn sign_in(&self, username: &str, password: &str) -> R {
        if self.c.current_url().await.map(|u| u.scheme() == "data").unwrap_or(true) {
            self.open("").await?;
        }
        let signed_in = until("the login form (or the signed-in shell)", async || {
            if self.find("[data-testid=logout]").await?.is_some() {
                return Ok(Some(true));
            }
            Ok(self.find("#f-login-username").await?.map(|_| false))
        })
        .await?;
        if !signed_in {
            self.type_in("#f-login-username", username).await?;
            self.type_in("#f-login-password", password).await?;
            self.click("[data-testid=login-submit]").await?;
        }
        self.wait("[data-testid=logout]").await.map_err(|e| format!("sign-in of {username}: {e}"))?;
        self.reset_actions();
        Ok(())
    }

    /// Navigates in the app (hash) and measures, inside the browser, the time until every
    /// selector in `usable` matches a rendered element; records it with the API calls made.
    pub async fn measure(&self, page: &str, hash: Option<&str>, usable: &[&str]) -> R<Timing> {
        let timeout = wait_timeout().as_millis() as u64;
        let result = self
            .js_async(
                "const [hash, sels, timeout] = arguments; const done = arguments[arguments.length - 1];
                 const fresh = hash === null;
                 if (!fresh) performance.clearResourceTimings();
                 const t0 = fresh ? 0 : performance.now();
                 if (!fresh) location.hash = hash;
                 const tick = () => {
                   const now = performance.now();
                   const missing = sels.filter(s => { const e = document.querySelector(s); return !e || (e.tagName !== 'OPTION' && !e.getClientRects().length); });
                   if (!missing.length) {
                     const api = performance.getEntriesByType('resource')
                       .filter(e => e.name.includes('/api/') && e.startTime >= t0)
                       .map(e => ({name: e.name.replace(location.origin, ''), start: e.startTime - t0, dur: e.duration}));
                     done({ms: now - t0, api});
                   } else if (now - t0 > timeout) {
                     done({missing, url: location.href});
                   } else setTimeout(tick, 5);
                 };
                 tick();",
                vec![hash.map_or(Value::Null, |h| json!(h)), json!(usable), json!(timeout)],
            )
            .await?;
        if let Some(missing) = result.get("missing") {
            return Err(format!(
                "{page} not usable within {} s: missing {missing} on {}{}",
                wait_timeout().as_secs(),
                result["url"],
                self.page_hint().await
            ));
        }
        let api = result["api"].as_array().cloned().unwrap_or_default();
        let durs: Vec<f64> = api.iter().filter_map(|e| e["dur"].as_f64()).collect();
        let timing = Timing {
            page: page.to_string(),
            lang: self.lang,
            usable_ms: result["ms"].as_f64().unwrap_or(f64::NAN),
            api_calls: api.len(),
            api_ms_sum: durs.iter().fold(0.0, |a, b| a + b),
            api_ms_max: durs.iter().copied().fold(0.0, f64::max),
        };
        self.report.timings.borrow_mut().push(timing.clone());
        Ok(timing)
    }
}

fn first_line(script: &str) -> String {
    script.lines().next().unwrap_or_default().chars().take(80).collect()
}

/// Polls `check` until it returns `Ok(Some(_))`, for conditions that are not one selector.
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> R<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = R<Option<T>>>,
{
    let started = Instant::now();
    let mut last_err = None;
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if started.elapsed() > wait_timeout() {
            return Err(format!(
                "waited {} s for {what}{}",
                wait_timeout().as_secs(),
                last_err.map(|e| format!(" (last error: {e})")).unwrap_or_default()
            ));
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}
