//! The HTTP surface: the endpoint table, request parsing configuration and shared helpers.
//! Handlers live one file per resource and never touch diesel directly.
//!
//! Every route is registered from [`endpoints`], and each entry names its [`Access`]: the
//! route is wrapped in the authorisation middleware with that access, so a route without a
//! policy decision cannot exist. Anything not in the table is a 404 or 405 problem.

pub mod audit;
pub mod auth;
pub mod contract;
pub mod districts;
pub mod docs;
pub mod governance;
pub mod health;
pub mod households;
pub mod imports;
pub mod members;
pub mod referrals;
pub mod reports;
pub mod rescreens;
pub mod schemes;
pub mod screenings;
pub mod users;

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, Route, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Action;
use crate::auth::extractor::{Access, authorize};
use crate::error::{ApiError, FieldError, redact_values};

/// Default body limit for JSON requests.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Body limit of an import file sent over HTTP (larger files: use the CLI).
pub const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Body limit of small requests (login, password changes).
pub const SMALL_BODY_LIMIT: usize = 4 * 1024;
/// Largest rule proposal body (several rule files of up to 256 KiB each).
pub const PROPOSAL_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Largest page a list endpoint returns.
pub const MAX_PAGE: i64 = 100;

/// One route: method, path pattern, what it requires, its body limit and its handler.
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// actix path pattern, e.g. `/api/v1/users/{id}`.
    pub path: &'static str,
    /// Public, or the action the policy table must allow.
    pub access: Access,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    route: fn() -> Route,
}

fn endpoint(method: Method, path: &'static str, access: Access, route: fn() -> Route) -> Endpoint {
    Endpoint { method, path, access, body_limit: DEFAULT_BODY_LIMIT, route }
}

impl Endpoint {
    fn limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

/// The endpoint table: every route the service answers.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::{Public, Requires};
    use Method as M;
    vec![
        endpoint(M::GET, "/healthz", Public, || web::get().to(health::healthz)),
        endpoint(M::GET, "/readyz", Public, || web::get().to(health::readyz)),
        endpoint(M::GET, "/api/openapi.json", Public, || web::get().to(docs::openapi_json)),
        endpoint(M::GET, "/api/docs", Public, || web::get().to(docs::docs_redirect)),
        endpoint(M::GET, "/api/docs/{file:.*}", Public, || web::get().to(docs::docs_file)),
        endpoint(M::POST, "/api/v1/auth/login", Public, || web::post().to(auth::login)).limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/auth/setup", Public, || web::get().to(auth::setup_status)),
        endpoint(M::GET, "/api/v1/auth/me", Requires(Action::AccountRead), || web::get().to(auth::me)),
        endpoint(M::POST, "/api/v1/auth/password", Requires(Action::AccountChangePassword), || {
            web::post().to(auth::change_password)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/districts", Requires(Action::DistrictList), || {
            web::get().to(districts::list_districts)
        }),
        endpoint(M::POST, "/api/v1/districts", Requires(Action::DistrictManage), || {
            web::post().to(districts::create_district)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::PATCH, "/api/v1/districts/{code}", Requires(Action::DistrictManage), || {
            web::patch().to(districts::update_district)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/users", Requires(Action::UserList), || web::get().to(users::list_users)),
        endpoint(M::POST, "/api/v1/users", Requires(Action::UserCreate), || web::post().to(users::create_user))
            .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/users/{id}", Requires(Action::UserRead), || web::get().to(users::get_user)),
        endpoint(M::PATCH, "/api/v1/users/{id}", Requires(Action::UserUpdate), || web::patch().to(users::update_user))
            .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/users/{id}/password", Requires(Action::UserResetPassword), || {
            web::post().to(users::reset_password)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/households", Requires(Action::HouseholdSearch), || {
            web::get().to(households::list_households)
        }),
        endpoint(M::POST, "/api/v1/households", Requires(Action::HouseholdCreate), || {
            web::post().to(households::create_household)
        }),
        endpoint(M::GET, "/api/v1/households/{id}", Requires(Action::HouseholdRead), || {
            web::get().to(households::get_household)
        }),
        endpoint(M::PATCH, "/api/v1/households/{id}", Requires(Action::HouseholdUpdate), || {
            web::patch().to(households::update_household)
        }),
        endpoint(M::GET, "/api/v1/households/{id}/history", Requires(Action::HouseholdRead), || {
            web::get().to(households::household_history)
        }),
        endpoint(M::POST, "/api/v1/households/{id}/members", Requires(Action::HouseholdUpdate), || {
            web::post().to(members::add_member)
        }),
        endpoint(M::PATCH, "/api/v1/households/{id}/members/{member_id}", Requires(Action::HouseholdUpdate), || {
            web::patch().to(members::update_member)
        }),
        endpoint(
            M::POST,
            "/api/v1/households/{id}/members/{member_id}/removal",
            Requires(Action::HouseholdUpdate),
            || web::post().to(members::remove_member),
        )
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/households/{id}/screenings", Requires(Action::HouseholdScreen), || {
            web::post().to(screenings::screen_household)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/households/{id}/screenings", Requires(Action::HouseholdRead), || {
            web::get().to(screenings::screening_history)
        }),
        endpoint(M::GET, "/api/v1/households/{id}/screenings/latest", Requires(Action::HouseholdRead), || {
            web::get().to(screenings::latest_screening)
        }),
        endpoint(M::GET, "/api/v1/households/{id}/decisions", Requires(Action::HouseholdRead), || {
            web::get().to(screenings::household_decisions)
        }),
        endpoint(M::POST, "/api/v1/households/{id}/referrals", Requires(Action::ReferralCreate), || {
            web::post().to(referrals::refer)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/households/{id}/referrals", Requires(Action::HouseholdRead), || {
            web::get().to(referrals::household_referrals)
        }),
        endpoint(M::GET, "/api/v1/referrals", Requires(Action::ReferralLog), || web::get().to(referrals::referral_log)),
        // Before `/referrals/{id}`: routes match in the order they are registered.
        endpoint(M::GET, "/api/v1/referrals/export.csv", Requires(Action::ReferralLog), || {
            web::get().to(referrals::export_referrals)
        }),
        endpoint(M::GET, "/api/v1/referrals/{id}", Requires(Action::ReferralRead), || {
            web::get().to(referrals::get_referral)
        }),
        endpoint(M::GET, "/api/v1/referrals/{id}/slip", Requires(Action::ReferralRead), || {
            web::get().to(referrals::referral_slip)
        }),
        endpoint(M::POST, "/api/v1/referrals/{id}/transitions", Requires(Action::ReferralTransition), || {
            web::post().to(referrals::transition_referral)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/households/{id}/head", Requires(Action::HouseholdUpdate), || {
            web::post().to(members::change_head)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/imports/households", Requires(Action::HouseholdImport), || {
            web::post().to(imports::import_households)
        })
        .limit(IMPORT_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/audit/events", Requires(Action::AuditRead), || {
            web::get().to(audit::list_audit_events)
        }),
        endpoint(M::GET, "/api/v1/schemes", Requires(Action::SchemeList), || web::get().to(schemes::list_schemes)),
        endpoint(M::GET, "/api/v1/schemes/{id}", Requires(Action::SchemeList), || web::get().to(schemes::get_scheme)),
        endpoint(M::GET, "/api/v1/schemes/{id}/households", Requires(Action::SchemeHouseholds), || {
            web::get().to(schemes::scheme_households)
        }),
        endpoint(M::GET, "/api/v1/reports/coverage", Requires(Action::ReportRead), || web::get().to(reports::coverage)),
        endpoint(M::GET, "/api/v1/reports/coverage.csv", Requires(Action::ReportRead), || {
            web::get().to(reports::coverage_csv)
        }),
        endpoint(M::GET, "/api/v1/reports/gaps", Requires(Action::ReportRead), || web::get().to(reports::gaps)),
        endpoint(M::GET, "/api/v1/reports/gaps.csv", Requires(Action::ReportRead), || web::get().to(reports::gaps_csv)),
        endpoint(M::GET, "/api/v1/reports/funnel", Requires(Action::ReportRead), || web::get().to(reports::funnel)),
        endpoint(M::GET, "/api/v1/reports/funnel.csv", Requires(Action::ReportRead), || {
            web::get().to(reports::funnel_csv)
        }),
        endpoint(M::POST, "/api/v1/screenings", Requires(Action::ScreeningPreview), || {
            web::post().to(schemes::pre_screen)
        }),
        endpoint(M::GET, "/api/v1/rules", Requires(Action::RulesRead), || web::get().to(schemes::rules_info)),
        endpoint(M::POST, "/api/v1/rescreens", Requires(Action::Rescreen), || {
            web::post().to(rescreens::start_rescreen)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/rescreens/{id}", Requires(Action::Rescreen), || {
            web::get().to(rescreens::get_rescreen)
        }),
        endpoint(M::POST, "/api/v1/rules/reload", Requires(Action::RulesReload), || {
            web::post().to(schemes::reload_rules)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/audit/verify", Requires(Action::AuditVerify), || {
            web::get().to(audit::verify_audit_chain)
        }),
        endpoint(M::POST, "/api/v1/rule-proposals", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::create_proposal)
        })
        .limit(PROPOSAL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/rule-proposals", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::list_proposals)
        }),
        endpoint(M::GET, "/api/v1/rule-proposals/{id}", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::get_proposal)
        }),
        endpoint(M::POST, "/api/v1/rule-proposals/{id}/impact", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::compute_impact)
        }),
        endpoint(M::POST, "/api/v1/rule-proposals/{id}/approval", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::approve)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/rule-proposals/{id}/rejection", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::reject)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::POST, "/api/v1/rule-proposals/{id}/withdrawal", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::withdraw)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/impact-reports/{id}", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::get_impact_report)
        }),
        endpoint(M::GET, "/api/v1/impact-reports/{id}/households/{number}", Requires(Action::RuleChangeWrite), || {
            web::get().to(governance::impact_trace)
        }),
        endpoint(M::GET, "/api/v1/rule-activations", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::pending_activations)
        }),
        endpoint(M::GET, "/api/v1/rule-versions", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::list_versions)
        }),
        endpoint(M::GET, "/api/v1/rule-versions/{id}", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::get_version)
        }),
        endpoint(M::POST, "/api/v1/rule-versions/{id}/rollback", Requires(Action::RuleChangeWrite), || {
            web::post().to(governance::rollback)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::GET, "/api/v1/rule-freezes", Requires(Action::RuleChangeRead), || {
            web::get().to(governance::list_freezes)
        }),
        endpoint(M::POST, "/api/v1/rule-freezes", Requires(Action::RuleFreezeManage), || {
            web::post().to(governance::create_freeze)
        })
        .limit(SMALL_BODY_LIMIT),
        endpoint(M::DELETE, "/api/v1/rule-freezes/{id}", Requires(Action::RuleFreezeManage), || {
            web::delete().to(governance::lift_freeze)
        }),
    ]
}

/// Registers every endpoint, the input error handlers and the problem+json fallbacks.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config(DEFAULT_BODY_LIMIT))
        .app_data(
            web::QueryConfig::default().error_handler(|err, _| {
                ApiError::bad_request("malformed_query", redact_values(&err.to_string())).into()
            }),
        )
        .app_data(
            web::PathConfig::default().error_handler(|err, _| {
                ApiError::bad_request("malformed_path", redact_values(&err.to_string())).into()
            }),
        );
    let table = endpoints();
    let mut paths: Vec<&'static str> = Vec::new();
    for e in &table {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    for path in paths {
        let allow: Vec<&str> = table.iter().filter(|e| e.path == path).map(|e| e.method.as_str()).collect();
        let allow = allow.join(", ");
        let mut resource = web::resource(path).default_service(web::to(move || method_not_allowed(allow.clone())));
        let mut limit = 0;
        for e in table.iter().filter(|e| e.path == path) {
            let access = e.access;
            limit = limit.max(e.body_limit);
            resource = resource.route((e.route)().wrap(from_fn(move |req, next| authorize(access, req, next))));
        }
        cfg.service(resource.app_data(json_config(limit)).app_data(web::PayloadConfig::new(limit)));
    }
    cfg.default_service(web::to(not_found));
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _| {
        use actix_web::error::JsonPayloadError as E;
        match &err {
            E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
            E::ContentType => ApiError::bad_request("unsupported_media_type", "send the body as application/json"),
            E::Deserialize(e) => ApiError::bad_request("malformed_json", redact_values(&e.to_string())),
            other => ApiError::bad_request("malformed_json", redact_values(&other.to_string())),
        }
        .into()
    })
}

async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}

/// The 404 problem, for handlers outside the endpoint table (the console's files).
pub fn not_found_response() -> HttpResponse {
    ApiError::NotFound.error_response()
}

/// 405 for a resource that answers GET only (the console's files).
pub async fn method_not_allowed_get() -> HttpResponse {
    method_not_allowed("GET".to_string()).await
}

/// 405 with the `Allow` header RFC 9110 requires.
async fn method_not_allowed(allow: String) -> HttpResponse {
    let mut response = ApiError::MethodNotAllowed.error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// A JSON body that may be left out: an empty body means the request's defaults; anything
/// else must parse (a malformed body never falls back to the defaults).
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let malformed = |e: serde_json::Error| ApiError::bad_request("malformed_json", redact_values(&e.to_string()));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    // serde would also read a struct from an array of its fields in order; only an object is one.
    if !value.is_object() {
        return Err(ApiError::bad_request("malformed_json", "the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(malformed)
}

/// Keyset pagination parameters shared by list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size (default 50); more than 100 is capped at 100.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The page size to use: at least 1, capped at [`MAX_PAGE`].
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit.unwrap_or(50) {
        n if n < 1 => {
            Err(ApiError::invalid_field("limit", "range", "limit must be at least 1 (at most 100 are returned)"))
        }
        // More than a page is asked for: a page is what the client gets, never an unbounded list.
        n => Ok(n.min(MAX_PAGE)),
    }
}

/// A page of results and the cursor of the next page (absent on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The results.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page.
    pub next_cursor: Option<String>,
}

/// The `ETag` of a record version.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The version named by `If-Match` (428 when missing, 400 when unreadable).
pub fn if_match_version(headers: &HeaderMap) -> Result<i64, ApiError> {
    let raw = headers.get(header::IF_MATCH).ok_or(ApiError::PreconditionRequired)?;
    let text = raw.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.strip_prefix('v')
        .unwrap_or(text)
        .parse()
        .map_err(|_| ApiError::bad_request("malformed_if_match", "If-Match must be an ETag such as \"v3\""))
}

/// Runs `validator` checks, turning failures into a field-by-field 422.
pub fn validate<T: validator::Validate>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(ApiError::from)
}

/// A 422 listing `errors`, or Ok when empty.
pub fn field_errors(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// A JSON response with `Cache-Control: no-store` (responses carry personal or secret data).
pub fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// `200 OK` JSON with `no-store`.
pub fn ok_json<T: Serialize>(value: &T) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(value)
}
