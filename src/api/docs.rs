//! The OpenAPI document (generated from the handlers) and the Swagger UI viewer, served
//! from files compiled into the binary: nothing is fetched at build or run time.

use std::sync::{Arc, LazyLock};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::Config;

use super::contract::CrossFieldRules;
use crate::error::ApiError;

/// The API description. Every handler with a `#[utoipa::path]` is listed here; a test
/// checks that this list and the endpoint table agree.
#[derive(OpenApi)]
#[openapi(
    info(title = "sahulat", description = "Single-window beneficiary registry and eligibility service"),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::auth::login,
        super::auth::me,
        super::auth::setup_status,
        super::auth::change_password,
        super::districts::list_districts,
        super::districts::create_district,
        super::districts::update_district,
        super::users::list_users,
        super::users::create_user,
        super::users::get_user,
        super::users::update_user,
        super::users::reset_password,
        super::households::list_households,
        super::households::create_household,
        super::households::get_household,
        super::households::update_household,
        super::households::household_history,
        super::members::add_member,
        super::members::update_member,
        super::members::remove_member,
        super::members::change_head,
        super::imports::import_households,
        super::audit::list_audit_events,
        super::audit::verify_audit_chain,
        super::schemes::list_schemes,
        super::schemes::get_scheme,
        super::schemes::scheme_households,
        super::schemes::pre_screen,
        super::schemes::rules_info,
        super::schemes::reload_rules,
        super::rescreens::start_rescreen,
        super::rescreens::get_rescreen,
        super::screenings::screen_household,
        super::screenings::latest_screening,
        super::screenings::screening_history,
        super::screenings::household_decisions,
        super::referrals::refer,
        super::referrals::household_referrals,
        super::referrals::get_referral,
        super::referrals::transition_referral,
        super::referrals::referral_slip,
        super::referrals::referral_log,
        super::referrals::export_referrals,
        super::governance::create_proposal,
        super::governance::list_proposals,
        super::governance::get_proposal,
        super::governance::compute_impact,
        super::governance::approve,
        super::governance::reject,
        super::governance::withdraw,
        super::governance::get_impact_report,
        super::governance::impact_trace,
        super::governance::pending_activations,
        super::governance::list_versions,
        super::governance::get_version,
        super::governance::rollback,
        super::governance::list_freezes,
        super::governance::create_freeze,
        super::governance::lift_freeze,
        super::reports::coverage,
        super::reports::coverage_csv,
        super::reports::gaps,
        super::reports::gaps_csv,
        super::reports::funnel,
        super::reports::funnel_csv,
        openapi_json,
    ),
    modifiers(&BearerAuth, &ProblemResponses, &CrossFieldRules),
    tags(
        (name = "operations", description = "Health and API documents"),
        (name = "auth", description = "Login and one's own account"),
        (name = "users", description = "User administration (admin)"),
        (name = "reference", description = "Reference data"),
        (name = "households", description = "The household registry (clerks, in their districts)"),
        (name = "audit", description = "The audit trail (auditor)"),
        (name = "schemes", description = "The scheme catalogue, screening and the rule set"),
        (name = "referrals", description = "Referrals to schemes and their lifecycle"),
        (name = "reports", description = "Coverage, gaps and the referral funnel: counts only, small cells suppressed"),
        (name = "screening", description = "Stored screenings and decisions of registered households (clerks, in their districts)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Every operation documents the error answers any request can get, as
/// `application/problem+json` (the content type errors are really sent with): a contract
/// checker must find every status and content type it sees in the document.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        const PROBLEM: &str = "application/problem+json";
        let any = [
            ("400", "malformed query string, path or body"),
            ("404", "no such object (or not in the caller's districts)"),
            ("500", "unexpected error (reported with its request id)"),
            ("503", "the database is unavailable or saturated; retry after Retry-After"),
        ];
        let secured = [("401", "no valid token"), ("403", "the caller's role may not do this")];
        let with_body = [
            ("409", "conflicts with the stored state"),
            ("412", "If-Match does not match the stored version"),
            ("413", "body too large"),
            ("415", "unsupported media type"),
            ("422", "invalid fields, listed one by one"),
            ("428", "If-Match is required"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for (method, op) in operations.into_iter().enumerate() {
                let Some(op) = op.as_mut() else { continue };
                for (code, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else { continue };
                    // OpenAPI requires a description on every response.
                    if response.description.is_empty() {
                        response.description = default_description(code).to_string();
                    }
                    if (code.starts_with('4') || code.starts_with('5'))
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM.to_string(), content);
                    }
                }
                for parameter in op.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter
                        && parameter.name.eq_ignore_ascii_case("if-match")
                    {
                        describe_if_match(parameter);
                    }
                }
                let is_secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let writes = method > 0;
                let codes = any
                    .iter()
                    .chain(secured.iter().filter(|_| is_secured))
                    .chain(with_body.iter().filter(|_| writes))
                    .chain([("422", "invalid query parameters")].iter());
                for (code, description) in codes {
                    op.responses.responses.entry((*code).to_string()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(*description)
                            .content(PROBLEM, Content::new(Some(Ref::from_schema_name("Problem"))))
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

/// The description of a response declared without one: the status's meaning.
fn default_description(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "created",
        "202" => "accepted",
        "204" => "done; no content",
        "400" => "malformed request",
        "401" => "no valid token",
        "403" => "the caller's role may not do this",
        "404" => "no such object (or not in the caller's districts)",
        "409" => "conflicts with the stored state",
        "412" => "If-Match does not match the stored version",
        "422" => "invalid fields, listed one by one",
        "428" => "If-Match is required",
        _ => "see the status code",
    }
}

/// `If-Match` as the server reads it: the `ETag` of the version the client read (`"v3"`, a
/// weak `W/"v3"` too). Required: without it the answer is 428.
fn describe_if_match(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    parameter.required = Required::True;
    parameter.description = Some("the `ETag` of the version read, e.g. `\"v3\"` (without it: 428)".into());
    let etag = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r#"^(W/)?"v[0-9]{1,18}"$"#))
        .examples([serde_json::json!("\"v3\"")]);
    parameter.schema = Some(etag.build().into());
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());

/// The OpenAPI 3 document of the whole API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(DOCUMENT.as_str())
}

/// `/api/docs` → `/api/docs/`.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/api/docs/")).finish()
}

static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| Arc::new(Config::from("/api/openapi.json")));

/// The Swagger UI files, embedded in the binary.
pub async fn docs_file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = utoipa_swagger_ui::serve(&path.into_inner(), SWAGGER_CONFIG.clone())
        .map_err(|e| anyhow::anyhow!("swagger ui: {e}"))?
        .ok_or(ApiError::NotFound)?;
    let mut response = HttpResponse::Ok();
    response.content_type(file.content_type);
    // Everything the UI loads is served from here; the default policy would block it.
    response.insert_header((
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ));
    if file.gzpipped {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    Ok(response.body(file.bytes.to_vec()))
}
