//! Importing households from a file over HTTP (clerks, into their own districts).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::households::scope_of;
use super::no_store;
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::registry::import::{self, Format, ImportContext, ReportLine, Summary};
use crate::startup::AppState;

/// The outcome of an import: totals and one line per household.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// Totals.
    pub summary: Summary,
    /// One entry per household of the file, in file order.
    pub results: Vec<ReportLine>,
}

/// Imports households from the request body: `text/csv` (one row per member, grouped by
/// `household_key`) or `application/x-ndjson` (one household per line). Each household is
/// stored atomically; the report says which were accepted, rejected or already present.
#[utoipa::path(post, path = "/api/v1/imports/households", tag = "households", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv", description = "CSV or JSON Lines (application/x-ndjson), up to 16 MiB"),
    responses(
        (status = 200, body = ImportReport),
        (status = 400, description = "unknown format or CSV header", body = crate::error::Problem),
        (status = 413, body = crate::error::Problem),
    ))]
pub async fn import_households(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let format = match content_type.split(';').next().unwrap_or_default().trim() {
        "text/csv" => Format::Csv,
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => Format::JsonLines,
        _ => {
            return Err(ApiError::bad_request(
                "unsupported_media_type",
                "send the file as text/csv or application/x-ndjson",
            ));
        }
    };
    let (key, ctx, scope) = (state.audit_key.clone(), user.audit_context(&req), scope_of(&user));
    let report = db::run(&state.pool, move |conn| {
        let mut results = Vec::new();
        let ic = ImportContext { key: &key, ctx: &ctx, scope: &scope, batch: import::API_BATCH };
        let summary = import::import(conn, &ic, format, &body[..], |line| results.push(line.clone()))?;
        Ok(ImportReport { summary, results })
    })
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(report))
}
