//! Re-screening jobs started through the API (admin): progress and summary readable while
//! the job runs.

use std::sync::atomic::Ordering;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::schemes::parse_as_of;
use super::{no_store, ok_json};
use crate::audit::{self, AuditContext, Event};
use crate::auth::AuthUser;
use crate::db;
use crate::error::ApiError;
use crate::registry::districts;
use crate::screening::LoadedRules;
use crate::screening::rescreen::{self, RunView};
use crate::startup::AppState;

/// What to re-screen.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescreenRequest {
    /// Evaluation date, `YYYY-MM-DD` (default today in Pakistan).
    #[schema(format = Date)]
    pub as_of: Option<String>,
    /// Only this district.
    #[schema(value_type = Option<super::contract::DistrictCode>)]
    pub district: Option<String>,
}

/// Starts (or resumes) a re-screening job in the background and returns its run.
pub async fn start(
    state: &AppState,
    ctx: AuditContext,
    rules: std::sync::Arc<LoadedRules>,
    as_of: chrono::NaiveDate,
    district: Option<String>,
) -> Result<RunView, ApiError> {
    // One job at a time per service: two would race over the same decisions.
    let running = state.rescreen_running.clone();
    if running.swap(true, Ordering::SeqCst) {
        return Err(ApiError::conflict(
            "rescreen_running",
            "a re-screening job is already running; follow its progress",
        ));
    }
    let (key, rules2, district2) = (state.audit_key.clone(), rules.clone(), district.clone());
    let prepared = db::run_write(&state.pool, move |conn| {
        if let Some(d) = &district2
            && districts::find(conn, d)?.is_none()
        {
            return Err(ApiError::invalid_field("district", "unknown_district", "not a district code"));
        }
        let (id, resumed) = rescreen::prepare(conn, &rules2.set, as_of, district2.as_deref())?;
        let event = Event::new("rescreen_start").object("rescreen", &id).details(
            json!({"as_of": as_of, "district": district2, "resumed": resumed, "rules_version": rules2.set.version}),
        );
        audit::record(conn, &key, &ctx, &event)?;
        let view = rescreen::view(conn, &id)?.ok_or(ApiError::NotFound)?;
        Ok(view)
    })
    .await;
    let view = match prepared {
        Ok(v) => v,
        Err(e) => {
            running.store(false, Ordering::SeqCst);
            return Err(e);
        }
    };
    let (pool, id) = (state.pool.clone(), view.id.clone());
    std::thread::spawn(move || {
        let outcome = pool.get().map_err(anyhow::Error::from).and_then(|mut conn| {
            // Up to two more connections read ahead; the job runs without them if the pool is
            // busy serving clerks.
            let readers: Vec<_> = (0..2).filter_map(|_| pool.try_get()).collect();
            rescreen::continue_observed(&mut conn, readers, &rules.set, &id, 1000)
        });
        match outcome {
            Ok(report) => {
                tracing::info!(run = %report.id, processed = report.processed, written = report.written, "re-screening finished")
            }
            Err(error) => tracing::warn!(run = %id, %error, "re-screening stopped; start it again to resume"),
        }
        running.store(false, Ordering::SeqCst);
    });
    Ok(view)
}

/// Starts re-screening the registry (or a district) with the rules in force; resumes an
/// unfinished run with the same rules, date and district. 202 with the run to follow.
#[utoipa::path(post, path = "/api/v1/rescreens", tag = "screening", security(("bearer" = [])),
    request_body = Option<RescreenRequest>,
    responses((status = 202, body = RunView), (status = 409, description = "a job is running", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn start_rescreen(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // An empty body: the whole registry, today.
    let body: RescreenRequest = super::optional_json(&body)?;
    let as_of = match (parse_as_of(body.as_of.as_deref()), body.district.clone()) {
        (Ok(as_of), _) => as_of,
        // A bad date and an unknown district are named in one 422.
        (Err(ApiError::Validation(mut errors)), Some(district)) => {
            if db::run(&state.pool, move |conn| Ok(districts::find(conn, &district)?.is_none())).await? {
                errors.push(crate::error::FieldError::new("district", "unknown_district", "not a district code"));
            }
            return Err(ApiError::Validation(errors));
        }
        (Err(e), _) => return Err(e),
    };
    let view = start(&state, user.audit_context(&req), state.rules.current(), as_of, body.district).await?;
    Ok(no_store(HttpResponse::Accepted())
        .insert_header(("location", format!("/api/v1/rescreens/{}", view.id)))
        .json(view))
}

/// A re-screening run: status, households decided and rows written so far, and the summary
/// per scheme (newly eligible, no longer eligible, newly undetermined).
#[utoipa::path(get, path = "/api/v1/rescreens/{id}", tag = "screening", security(("bearer" = [])),
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, body = RunView), (status = 404, body = crate::error::Problem)))]
pub async fn get_rescreen(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = db::run(&state.pool, move |conn| rescreen::view(conn, &id)?.ok_or(ApiError::NotFound)).await?;
    Ok(ok_json(&view))
}
