//! District reference data.

use actix_web::{HttpResponse, web};

use crate::db;
use crate::error::ApiError;
use crate::registry::districts::{self, District};
use crate::startup::AppState;

/// Every district of the province (36 rows: no pagination needed).
#[utoipa::path(get, path = "/api/v1/districts", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = Vec<District>)))]
pub async fn list_districts(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list = db::run(&state.pool, |conn| Ok(districts::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(list))
}
