//! Logging and request correlation: the tracing subscriber, the request id every response
//! carries, and the access log.
//!
//! The access log records method, route pattern (never the raw path or query string, which
//! may hold an ID number), status and latency. Headers are never logged, so neither are
//! tokens.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The header that carries the request id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the global subscriber. `filter` uses `EnvFilter` syntax (e.g. `info,sahulat=debug`).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // Ignore the error of a second init (tests build several applications in one process).
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Accepts a caller's request id only if it is short and plain; otherwise makes one.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Middleware: assigns the request id, runs the request inside a span that carries it,
/// adds it to the response and writes one access-log line.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = request_id_from(&req);
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let span = tracing::info_span!("request", request_id = %request_id, %method, %route);
    let started = Instant::now();
    // PostgreSQL text cannot hold U+0000, and no field has a use for it: refuse it in the
    // path and query string here, the same way on both databases.
    let raw = req.uri().path_and_query().map(|pq| pq.as_str().to_ascii_lowercase()).unwrap_or_default();
    let mut response = if raw.contains("%00") {
        let problem = crate::error::ApiError::bad_request("malformed_query", "the URL may not contain %00");
        let answer = REQUEST_ID.sync_scope(request_id.clone(), || actix_web::ResponseError::error_response(&problem));
        req.into_response(answer)
    } else {
        let handled = tracing::Instrument::instrument(next.call(req), span.clone());
        // Handlers' and extractors' errors arrive here as responses; middleware inside this
        // one answers errors as responses too, so every answer gets the headers below.
        REQUEST_ID.scope(request_id.clone(), handled).await?.map_into_boxed_body()
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request handled"));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    secure_headers(headers);
    Ok(response)
}

/// Headers every response carries, whatever its status: nothing is cached (responses hold
/// personal data), content is never sniffed, no page may frame ours, no referrer leaks. A
/// handler's own `Content-Security-Policy` (the referral slip, the API docs, the console) is kept.
fn secure_headers(headers: &mut HeaderMap) {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // The console's own files are revalidated (`no-cache` with an ETag) instead; they hold
    // no personal data. Everything else is never stored.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
}
