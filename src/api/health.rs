//! Liveness and readiness probes (no token needed).

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;

/// Probe result.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// The read replica's state, when one is configured (readiness only). A replica that is
    /// down or behind never makes the instance unready: reads go to the primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<crate::db::replica::ReplicaReport>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthStatus)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok", database: None, replica: None })
}

/// The database answers and the rules directory is readable; 503 otherwise, and 503 from
/// SIGTERM on (the drain before the stop: the service still answers, but a balancer or an
/// orchestrator that probes readiness stops sending it new work).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = HealthStatus),
    (status = 503, description = "not ready", body = crate::error::Problem)
))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Unavailable("stopping: draining before the stop".into()));
    }
    let backend = db::run(&state.pool, |conn| {
        conn.batch_execute("SELECT 1").map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
        Ok(db::backend_name(conn))
    })
    .await?;
    std::fs::read_dir(&state.rules_dir)
        .map_err(|e| ApiError::Unavailable(format!("rules directory unreadable: {e}")))?;
    let replica = state.replica.as_ref().map(|r| r.report());
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ready", database: Some(backend), replica }))
}
