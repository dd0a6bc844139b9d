//! The console: the browser front end every role works in, served from `console/`.
//!
//! The files are plain ES modules, styles, catalogues and vendored libraries; nothing is
//! built. A release binary carries them inside (rust-embed); a debug build reads them from
//! disk, so an edit is a browser refresh. The console is one more client of `/api/v1`:
//! these handlers serve files and never touch the database.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

/// The console's files.
#[derive(RustEmbed)]
#[folder = "console/"]
#[exclude = "*.md"]
pub struct ConsoleFiles;

/// The console's policy: scripts, styles, fonts and API calls from this origin only; no
/// inline code anywhere; no page may frame it; Trusted Types with no policy at all, so the
/// browser refuses any string assigned as HTML.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// Registers `GET /` and `GET /console/{file}` (gzip-compressed like every answer: `startup.rs`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .route(web::get().to(index))
            .default_service(web::to(|| async { crate::api::method_not_allowed_get().await })),
    )
    .service(
        web::resource("/console/{file:.*}")
            .route(web::get().to(asset))
            .default_service(web::to(|| async { crate::api::method_not_allowed_get().await })),
    );
}

/// The page itself. `?lang=ur` sets the language and direction before any script runs, so
/// an Urdu page never flashes left to right.
async fn index(req: HttpRequest) -> HttpResponse {
    let Some(file) = ConsoleFiles::get("index.html") else {
        return crate::api::not_found_response();
    };
    let html = String::from_utf8_lossy(&file.data);
    let urdu = web::Query::<LangQuery>::from_query(req.query_string())
        .map(|q| q.lang.as_deref() == Some("ur"))
        .unwrap_or(false);
    let html = if urdu {
        html.replacen(r#"<html lang="en" dir="ltr">"#, r#"<html lang="ur" dir="rtl">"#, 1)
    } else {
        html.into_owned()
    };
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    console_headers(&mut response);
    response.body(html)
}

#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// One of the console's files, with a strong ETag (its SHA-256) so a browser revalidates
/// instead of downloading again.
async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let Some(file) = ConsoleFiles::get(&path) else {
        return crate::api::not_found_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let fresh = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response.insert_header((header::ETAG, etag));
    // Revalidated on every load: a new release is picked up at once, an unchanged file
    // costs a 304.
    response.insert_header((header::CACHE_CONTROL, "no-cache"));
    console_headers(&mut response);
    if fresh {
        return response.finish();
    }
    response.content_type(content_type(&path));
    response.body(file.data.into_owned())
}

fn console_headers(response: &mut actix_web::HttpResponseBuilder) {
    response.insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONSOLE_CSP)));
    response.insert_header(("cross-origin-opener-policy", "same-origin"));
    response.insert_header(("cross-origin-resource-policy", "same-origin"));
}

/// The media type of a console file; a module script must be served as JavaScript or the
/// browser refuses to run it.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("svg") => "image/svg+xml",
        Some("txt" | "LICENSE") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_scripts_are_javascript() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("vendor/preact.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("vendor/fonts/x.woff2"), "font/woff2");
        assert_eq!(content_type("i18n/ur.json"), "application/json");
    }

    #[test]
    fn the_page_is_embedded() {
        assert!(ConsoleFiles::get("index.html").is_some());
        assert!(ConsoleFiles::get("app.js").is_some());
        assert!(ConsoleFiles::get("VENDOR.md").is_none(), "documentation is not served");
    }
}
