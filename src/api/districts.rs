//! District reference data: everyone reads it; administrators add and change districts
//! without a code change (new codes become usable for households and assignments at once).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Event};
use crate::auth::AuthUser;
use crate::db;
use crate::error::{ApiError, FieldError};
use crate::registry::districts::{self, District};
use crate::startup::AppState;

/// Every district of the province (a few dozen rows: no pagination needed).
#[utoipa::path(get, path = "/api/v1/districts", tag = "reference", security(("bearer" = [])),
    responses((status = 200, body = Vec<District>)))]
pub async fn list_districts(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list = db::run(&state.pool, |conn| Ok(districts::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A new district.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDistrictRequest {
    /// Stable code: 2–40 of `a-z 0-9 -`, starting with a letter.
    #[schema(value_type = crate::api::contract::DistrictCode)]
    pub code: String,
    /// Display name (1–100 characters after trimming).
    #[schema(max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub name: String,
    /// Administrative division (1–100 characters after trimming).
    #[schema(max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub division: String,
}

fn check_text(field: &str, value: &str, errors: &mut Vec<FieldError>) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        errors.push(FieldError::new(field, "length", "must be 1–100 characters"));
    } else if trimmed.contains('\0') {
        // PostgreSQL text cannot hold U+0000: refused the same way on either database.
        errors.push(FieldError::new(field, "invalid_character", "must not contain the NUL character (U+0000)"));
    }
    trimmed.to_string()
}

/// Adds a district.
#[utoipa::path(post, path = "/api/v1/districts", tag = "reference", security(("bearer" = [])),
    request_body = CreateDistrictRequest, responses(
    (status = 201, body = District),
    (status = 409, description = "the code exists", body = crate::error::Problem),
    (status = 422, body = crate::error::Problem),
))]
pub async fn create_district(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateDistrictRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    if !districts::check_code(&body.code) {
        errors.push(FieldError::new("code", "invalid_format", "2–40 of a-z 0-9 -, starting with a letter"));
    }
    let district = District {
        name: check_text("name", &body.name, &mut errors),
        division: check_text("division", &body.division, &mut errors),
        code: body.code,
        active: true,
    };
    super::field_errors(errors)?;
    let (key, ctx) = (state.audit_key.clone(), user.audit_context(&req));
    let created = db::run_write(&state.pool, move |conn| {
        if districts::find(conn, &district.code)?.is_some() {
            return Err(ApiError::conflict("district_exists", "a district with this code exists"));
        }
        districts::insert(conn, &district)?;
        audit::record(conn, &key, &ctx, &Event::new("district_create").object("district", &district.code))?;
        Ok(district)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/districts/{}", created.code)))
        .json(created))
}

/// Changes to a district; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDistrictRequest {
    /// Display name (1–100 characters after trimming).
    #[schema(max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub name: Option<String>,
    /// Administrative division (1–100 characters after trimming).
    #[schema(max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub division: Option<String>,
    /// Whether new households and assignments may use it.
    pub active: Option<bool>,
}

/// Renames a district, moves it to another division, or (de)activates it.
#[utoipa::path(patch, path = "/api/v1/districts/{code}", tag = "reference", security(("bearer" = [])),
    params(("code" = String, Path, description = "district code")), request_body = UpdateDistrictRequest, responses(
    (status = 200, body = District),
    (status = 404, body = crate::error::Problem),
    (status = 422, body = crate::error::Problem),
))]
pub async fn update_district(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    code: web::Path<String>,
    body: web::Json<UpdateDistrictRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let name = body.name.as_deref().map(|n| check_text("name", n, &mut errors));
    let division = body.division.as_deref().map(|d| check_text("division", d, &mut errors));
    super::field_errors(errors)?;
    let (key, ctx, code) = (state.audit_key.clone(), user.audit_context(&req), code.into_inner());
    let updated = db::run_write(&state.pool, move |conn| {
        let mut district = districts::find(conn, &code)?.ok_or(ApiError::NotFound)?;
        let mut changed = Vec::new();
        if let Some(name) = name.filter(|n| *n != district.name) {
            district.name = name;
            changed.push("name");
        }
        if let Some(division) = division.filter(|d| *d != district.division) {
            district.division = division;
            changed.push("division");
        }
        if let Some(active) = body.active.filter(|a| *a != district.active) {
            district.active = active;
            changed.push("active");
        }
        if !changed.is_empty() {
            districts::update(conn, &district)?;
            let event = Event::new("district_update").object("district", &code).details(json!({"changed": changed}));
            audit::record(conn, &key, &ctx, &event)?;
        }
        Ok(district)
    })
    .await?;
    Ok(HttpResponse::Ok().json(updated))
}
