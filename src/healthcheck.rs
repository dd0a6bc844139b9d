//! `sahulat healthcheck`: the container's `HEALTHCHECK` and a probe for scripts.
//!
//! A container image built on a slim or distroless base has no curl, so the binary probes
//! itself: one HTTP/1.1 `GET` over a plain `TcpStream` with a short timeout, success only
//! on status 200. No TLS (the service listens on plain HTTP behind the proxy) and no new
//! dependency.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long each of connect, write and read may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A parsed `http://HOST:PORT/PATH` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host` or `host:port` as sent in the `Host` header.
    pub authority: String,
    /// Host and port to connect to.
    pub host: String,
    /// TCP port (80 when the URL names none).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `http://HOST[:PORT][/PATH]`; IPv6 hosts in brackets.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: only http:// URLs are probed"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("{url:?} is not a URL this probe can request"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => {
                (h, p.parse::<u16>().map_err(|_| format!("{url:?}: the port must be a number up to 65535"))?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Self { authority: authority.to_string(), host, port, path: path.to_string() })
    }

    /// The readiness URL of a service listening on `bind`: a wildcard address (`0.0.0.0`,
    /// `::`) is probed on loopback.
    pub fn for_bind(bind: SocketAddr) -> Self {
        let ip = match bind.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, bind.port());
        Self { authority: addr.to_string(), host: ip.to_string(), port: bind.port(), path: "/readyz".to_string() }
    }
}

/// Requests the target once; `Ok(status)` when an HTTP status line came back.
pub fn probe(target: &Target, timeout: Duration) -> Result<u16, String> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    let mut last = format!("{} resolves to no address", target.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return exchange(stream, target, timeout),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn exchange(mut stream: TcpStream, target: &Target, timeout: Duration) -> Result<u16, String> {
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sahulat-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send the request: {e}"))?;
    // The status line is all that matters; read until it is complete (or 1 KiB arrived).
    let mut head = Vec::with_capacity(256);
    let mut buf = [0_u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    parse_status(&head).ok_or_else(|| "the answer is not HTTP".to_string())
}

/// The status code of an HTTP/1.x status line.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    let code = parts.next()?;
    (version.starts_with("HTTP/1.") && code.len() == 3).then(|| code.parse().ok()).flatten()
}

/// Runs the probe and prints one line: `ok` to stdout on 200, the reason to stderr otherwise.
pub fn run(target: &Target) -> bool {
    let url = format!("http://{}{}", target.authority, target.path);
    match probe(target, TIMEOUT) {
        Ok(200) => {
            println!("ok: {url} answered 200");
            true
        }
        Ok(status) => {
            eprintln!("sahulat healthcheck: {url} answered {status}");
            false
        }
        Err(reason) => {
            eprintln!("sahulat healthcheck: {url}: {reason}");
            false
        }
    }
}

/// `sahulat healthcheck [--url URL]`: exit 0 on 200, 1 on anything else (a configuration
/// that cannot be read included: Docker reserves exit code 2).
pub fn command(url: Option<&str>) -> std::process::ExitCode {
    let target = match url {
        Some(url) => Target::parse(url),
        None => bind_setting().map(Target::for_bind),
    };
    match target {
        Ok(target) if run(&target) => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(message) => {
            eprintln!("sahulat healthcheck: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `SAHULAT_BIND` as the service reads it (the environment over the `SAHULAT_CONFIG` file,
/// else the default), without the rest of the settings: the probe needs no secrets.
fn bind_setting() -> Result<SocketAddr, String> {
    let from_file = || -> Result<Option<String>, String> {
        let Some(path) = std::env::var_os("SAHULAT_CONFIG") else { return Ok(None) };
        let entries = dotenvy::from_path_iter(&path)
            .map_err(|e| format!("SAHULAT_CONFIG ({}) cannot be read: {e}", path.to_string_lossy()))?;
        Ok(entries.filter_map(Result::ok).find(|(k, _)| k == "SAHULAT_BIND").map(|(_, v)| v))
    };
    let raw = match std::env::var("SAHULAT_BIND").ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => v,
        None => from_file()?.filter(|v| !v.trim().is_empty()).unwrap_or_else(|| crate::config::DEFAULT_BIND.into()),
    };
    raw.trim()
        .parse()
        .map_err(|_| format!("SAHULAT_BIND must be an address and port such as 127.0.0.1:8080 (got {raw:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_and_without_port_and_path() {
        let t = Target::parse("http://127.0.0.1:8081/readyz").expect("valid");
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("127.0.0.1", 8081, "/readyz"));
        let t = Target::parse("http://app").expect("valid");
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("app", 80, "/"));
        let t = Target::parse("http://[::1]:9000/healthz").expect("valid");
        assert_eq!((t.host.as_str(), t.port, t.authority.as_str()), ("::1", 9000, "[::1]:9000"));
        let t = Target::parse("http://[::1]/x").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        for bad in ["https://x/", "x:80/", "http://", "http://h:99999/", "http://h/a b", "http://u@h/"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wildcard_bind_is_probed_on_loopback() {
        let bind = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(Target::for_bind(bind("0.0.0.0:8080")).authority, "127.0.0.1:8080");
        assert_eq!(Target::for_bind(bind("[::]:8080")).authority, "[::1]:8080");
        assert_eq!(Target::for_bind(bind("10.0.0.5:8081")).path, "/readyz");
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable\r\nX: y"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn a_closed_port_is_a_failure_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let target = Target::parse(&format!("http://127.0.0.1:{port}/readyz")).expect("valid");
        assert!(probe(&target, Duration::from_millis(500)).is_err());
    }
}
