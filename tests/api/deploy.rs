//! The deployment files against the binary: the environment template lists exactly the
//! variables the binary reads, the other files in `deploy/` name no variable it does not
//! read, and `sahulat healthcheck` (the container's HEALTHCHECK) tells a ready service from
//! anything else. The static checks of the files themselves (`nginx -t`, `systemd-analyze`,
//! hadolint) are in `deploy/check.sh`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::helpers::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A name of the binary's settings: `SAHULAT_…` or `DATABASE_…`.
fn is_setting(name: &str) -> bool {
    let rest = name.strip_prefix("SAHULAT_").or_else(|| name.strip_prefix("DATABASE_"));
    rest.is_some_and(|r| !r.is_empty())
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.ends_with('_')
}

/// The variables the binary reads: every string literal under `src/` that is a setting's
/// name (`get("SAHULAT_BIND")`, `std::env::var_os("SAHULAT_RULES_DIR")`, …).
fn read_by_the_binary() -> BTreeSet<String> {
    let mut files = Vec::new();
    files_under(&root().join("src"), &mut files);
    let mut names = BTreeSet::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|x| x == "rs")) {
        let text = std::fs::read_to_string(file).expect("source");
        for literal in text.split('"').skip(1).step_by(2) {
            if is_setting(literal) {
                names.insert(literal.to_string());
            }
        }
    }
    names
}

/// Every setting-shaped word in a text (`SAHULAT_BIND`, `${DATABASE_URL}`, …).
fn mentioned(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| is_setting(w)).map(String::from).collect()
}

#[test]
fn the_env_template_lists_every_variable_the_binary_reads_and_no_other() {
    let read = read_by_the_binary();
    // The scan itself must work: these are read today (src/config.rs, src/cli.rs).
    for known in ["DATABASE_URL", "SAHULAT_BIND", "SAHULAT_JWT_SECRET", "SAHULAT_CONFIG", "SAHULAT_RULES_DIR"] {
        assert!(read.contains(known), "the scan of src/ missed {known}: {read:?}");
    }
    let template = std::fs::read_to_string(root().join("deploy/sahulat.env.example")).expect("template");
    // Listed = an assignment line, set (`NAME=value`) or shown commented out (`# NAME=value`).
    let listed: BTreeSet<String> = template
        .lines()
        .filter_map(|line| line.trim_start_matches(['#', ' ']).split_once('='))
        .map(|(name, _)| name.to_string())
        .filter(|name| is_setting(name))
        .collect();
    let missing: Vec<_> = read.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&read).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "deploy/sahulat.env.example must list every variable the binary reads and no other.\n\
         read by src/ but not listed: {missing:?}\nlisted but read nowhere in src/: {unknown:?}"
    );
}

#[test]
fn the_deployment_files_name_only_variables_the_binary_reads() {
    let read = read_by_the_binary();
    let mut files = Vec::new();
    files_under(&root().join("deploy"), &mut files);
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for name in mentioned(&text).difference(&read) {
            problems.push(format!("{}: {name}", file.strip_prefix(root()).unwrap_or(&file).display()));
        }
    }
    assert!(problems.is_empty(), "deploy/ names variables the binary does not read:\n{}", problems.join("\n"));
}

#[actix_web::test]
async fn healthcheck_exits_0_on_a_ready_service_and_1_otherwise() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().expect("port").to_string();
    let probe = |env: Vec<(&'static str, String)>, args: Vec<String>| async move {
        let source = env.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        actix_web::rt::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cli(&source, &args, "")
        })
        .await
        .expect("the probe ran")
    };
    let ready = format!("{}/readyz", app.address);
    let out = probe(vec![], vec!["healthcheck".into(), "--url".into(), ready]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Without --url: /readyz at SAHULAT_BIND, a wildcard address probed on loopback, and no
    // secrets needed even though 0.0.0.0 would require them for `serve`.
    let out = probe(vec![("SAHULAT_BIND", format!("0.0.0.0:{port}"))], vec!["healthcheck".into()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let missing = format!("{}/no/such/path", app.address);
    let out = probe(vec![], vec!["healthcheck".into(), "--url".into(), missing]).await;
    assert_eq!(out.status.code(), Some(1), "a 404 is not healthy");
    assert!(String::from_utf8_lossy(&out.stderr).contains("answered 404"));
    // Nothing listens there: a refusal, exit 1 at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/readyz", closed.local_addr().expect("addr"));
    drop(closed);
    let out = probe(vec![], vec!["healthcheck".into(), "--url".into(), dead]).await;
    assert_eq!(out.status.code(), Some(1));
}

/// One `GET /healthz` on `stream`; the answer's head, lower-cased, or None when the
/// connection was closed instead.
fn healthz_on(stream: &mut std::net::TcpStream) -> Option<String> {
    get_on(stream, "/healthz")
}

/// One `GET path` on `stream`, as [`healthz_on`].
fn get_on(stream: &mut std::net::TcpStream, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    while got.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// SIGTERM drains before the stop (`SAHULAT_SHUTDOWN_DRAIN_SECS`, src/startup.rs), which the
/// rolling restart behind nginx relies on (deploy/README.md): the service keeps accepting and
/// answering, every answer says `Connection: close`, a kept-alive connection is closed right
/// after its next answer, readiness answers 503 (a balancer or orchestrator that probes it
/// stops sending), and the process exits 0 when the drain is over, not before.
#[test]
fn sigterm_drains_with_connection_close_then_exits_0() {
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    let db = TestDb::new();
    let rules = rules_copy();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut env = test_source(db.url(), rules.path());
    env.insert("SAHULAT_BIND".into(), format!("127.0.0.1:{port}"));
    env.insert("SAHULAT_SHUTDOWN_DRAIN_SECS".into(), "2".into());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sahulat"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn sahulat serve");
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Some(stream)
    };
    let started = Instant::now();
    let mut kept = loop {
        if let Some(mut stream) = connect()
            && healthz_on(&mut stream).is_some()
        {
            break stream;
        }
        assert!(child.try_wait().expect("poll").is_none(), "sahulat serve exited before it was ready");
        assert!(started.elapsed() < Duration::from_secs(60), "not answering after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let before = healthz_on(&mut kept).expect("an answer on the kept-alive connection");
    assert!(before.starts_with("http/1.1 200") && !before.contains("connection: close"), "{before}");

    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -TERM");
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    // The kept-alive connection still gets its answer, which closes it.
    let draining = healthz_on(&mut kept).expect("an answer during the drain");
    assert!(draining.starts_with("http/1.1 200") && draining.contains("connection: close"), "{draining}");
    assert!(healthz_on(&mut kept).is_none(), "the connection is closed after an answer that said so");
    // New connections are still accepted, and answered the same way.
    let mut fresh = connect().expect("accepting during the drain");
    let answer = healthz_on(&mut fresh).expect("an answer on a new connection during the drain");
    assert!(answer.starts_with("http/1.1 200") && answer.contains("connection: close"), "{answer}");
    let mut probe = connect().expect("accepting during the drain");
    let ready = get_on(&mut probe, "/readyz").expect("a readiness answer during the drain");
    assert!(ready.starts_with("http/1.1 503"), "not ready while draining: {ready}");
    // Still running then, unless the checks above took the whole drain.
    let during = signalled.elapsed();
    let running = child.try_wait().expect("poll").is_none();
    assert!(running || during >= Duration::from_millis(1900), "exited {during:?} after SIGTERM, within the 2 s drain");
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("poll") {
            break exit;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped = signalled.elapsed();
    assert!(exit.success(), "a drained stop exits 0: {exit}");
    assert!(stopped >= Duration::from_millis(1900), "stopped {stopped:?} after SIGTERM, before the 2 s drain");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens after the stop");
}
