//! The one error type at the HTTP edge, rendered as RFC 9457 problem details.
//!
//! Policy (as crates.io's): library code returns its own small error types or
//! `diesel::QueryResult`; handlers turn them into [`ApiError`]. Every variant has a stable
//! snake_case `code` clients can match on. Internal errors are logged with their cause and
//! answered with a generic body; no SQL, stack trace or user-supplied value ever reaches a
//! response or a log line from here.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::DbErrorKind;
use crate::telemetry::current_request_id;

/// One invalid input field: a front end marks the input named by `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `username` or `members[0].id_number`.
    pub field: String,
    /// Stable machine-readable reason, e.g. `length`, `required`, `invalid_format`.
    pub code: String,
    /// A sentence for the clerk.
    pub message: String,
}

impl FieldError {
    /// A field error from its parts.
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// The problem+json body every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:sahulat:problem:<code>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: String,
    /// The request id (also in the `x-request-id` header), for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field-by-field errors (validation failures only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extra members specific to the problem (e.g. the existing record on a conflict).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Every error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, query string or path; a header that does not parse.
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 422: well-formed input that breaks field rules.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: missing, invalid or expired credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: authenticated, but the role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// 403 with a stable code and a reason the user can act on (e.g. the author of a rule
    /// proposal approving it).
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    /// 404: no such resource, or one the caller may not know exists.
    #[error("not found")]
    NotFound,
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with stored state.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String, extra: Option<serde_json::Map<String, serde_json::Value>> },
    /// 412: `If-Match` names a version that is no longer current.
    #[error("the record has changed since it was read")]
    PreconditionFailed,
    /// 428: an update without `If-Match`.
    #[error("If-Match is required")]
    PreconditionRequired,
    /// 413: body over the route's limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 429: slow down; `Retry-After` tells when.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: the database (or another dependency) is unavailable or saturated.
    #[error("service unavailable")]
    Unavailable(String),
    /// 500: a bug or an unexpected infrastructure failure. Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 with a stable code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest { code, detail: detail.into() }
    }

    /// A 422 for a single field.
    pub fn invalid_field(field: &str, code: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// A 409 with a stable code and no extra members.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { code, detail: detail.into(), extra: None }
    }

    /// A 403 with a stable code and the reason.
    pub fn refused(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused { code, detail: detail.into() }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Conflict { code, .. } | Self::Refused { code, .. } => code,
            Self::Validation(_) => "validation_failed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PreconditionFailed => "version_mismatch",
            Self::PreconditionRequired => "if_match_required",
            Self::PayloadTooLarge => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Bad request",
            Self::Validation(_) => "Invalid input",
            Self::Unauthorized(_) => "Authentication required",
            Self::Forbidden | Self::Refused { .. } => "Not permitted",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::PreconditionFailed => "Precondition failed",
            Self::PreconditionRequired => "Precondition required",
            Self::PayloadTooLarge => "Payload too large",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Unavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Validation(errors) => format!("{} field(s) are invalid", errors.len()),
            Self::Forbidden => "your role does not allow this action".into(),
            Self::NotFound => "the requested resource does not exist".into(),
            Self::MethodNotAllowed => "this path does not accept that method".into(),
            Self::PreconditionFailed => {
                "the record has changed since you read it; reload it and apply your change again".into()
            }
            Self::PreconditionRequired => {
                "send If-Match with the version (ETag) you read, so changes are not lost".into()
            }
            Self::PayloadTooLarge => "the request body is larger than this endpoint accepts".into(),
            Self::TooManyRequests { .. } => "too many requests; retry after the given delay".into(),
            Self::Unavailable(_) => "the service cannot reach its database; retry shortly".into(),
            Self::Internal(_) => "an internal error occurred; quote the request id to support".into(),
            other => other.to_string(),
        }
    }

    /// The problem+json body of this error.
    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            problem_type: format!("urn:sahulat:problem:{code}"),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            code: code.into(),
            request_id: current_request_id(),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            extra: match self {
                Self::Conflict { extra, .. } => extra.clone(),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::Refused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error = format!("{cause:#}"), "internal error"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "dependency unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("2")));
            }
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        crate::metrics::db_error(DbErrorKind::PoolTimeout);
        Self::Unavailable(format!("no database connection: {e}"))
    }
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        if let Some(kind) = db_error_kind(&e) {
            crate::metrics::db_error(kind);
        }
        match e {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    Self::conflict("conflict", "the record conflicts with an existing one")
                }
                DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction => Self::Unavailable(format!("database: {}", info.message())),
                // SQLite reports a writer that waited out busy_timeout as an unknown error.
                _ if is_transient_message(info.message()) => Self::Unavailable(format!("database: {}", info.message())),
                // PostgreSQL text cannot hold U+0000; the input is at fault, not the service.
                _ if info.message().contains("0x00") => {
                    Self::bad_request("malformed_text", "text may not contain the NUL character (U+0000)")
                }
                _ => Self::Internal(anyhow::anyhow!("database error: {}", info.message())),
            },
            // The connection died inside a transaction (the database crashed or restarted):
            // the transaction did not commit, or its outcome is unknown. Either way the
            // client should retry (with its Idempotency-Key), not report a bug.
            DieselError::BrokenTransactionManager | DieselError::RollbackErrorOnCommit { .. } => {
                Self::Unavailable(format!("database: {e}"))
            }
            other if is_transient_message(&other.to_string()) => Self::Unavailable(format!("database: {other}")),
            other => Self::Internal(anyhow::anyhow!("database error: {other}")),
        }
    }
}

/// The kind a database error is counted as (`sahulat_db_errors_total{kind}`); `None` for
/// "no such row", which is an answer, not an error.
fn db_error_kind(e: &DieselError) -> Option<DbErrorKind> {
    let by_message = |message: &str| {
        let m = message.to_ascii_lowercase();
        if ["database is locked", "database is busy", "statement timeout", "lock timeout"].iter().any(|t| m.contains(t))
        {
            DbErrorKind::Timeout
        } else if is_transient_message(&m) {
            DbErrorKind::Unavailable
        } else if m.contains("0x00") {
            DbErrorKind::InvalidInput
        } else {
            DbErrorKind::Other
        }
    };
    Some(match e {
        DieselError::NotFound => return None,
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::UniqueViolation => DbErrorKind::UniqueViolation,
            DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::CheckViolation => DbErrorKind::Constraint,
            DatabaseErrorKind::SerializationFailure => DbErrorKind::Serialization,
            DatabaseErrorKind::ReadOnlyTransaction => DbErrorKind::ReadOnly,
            DatabaseErrorKind::ClosedConnection => DbErrorKind::Unavailable,
            _ => by_message(info.message()),
        },
        DieselError::BrokenTransactionManager | DieselError::RollbackErrorOnCommit { .. } => DbErrorKind::Unavailable,
        other => by_message(&other.to_string()),
    })
}

/// Messages that mean "try again", not "bug": lock contention and lost connections.
fn is_transient_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "database is locked",
        "database is busy",
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "could not connect",
        // libpq on a connection it already knows is dead (PostgreSQL restarted under it).
        "no connection to the server",
        "could not send data to server",
        "could not receive data from server",
        "lost synchronization with server",
        "the database system is",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        Self::Validation(flatten_validation_errors(&errors))
    }
}

/// Flattens validator's nested errors into one list, keeping only the code and our own
/// message. validator's `params` carry the offending value (a CNIC, a password) and are
/// deliberately dropped.
pub fn flatten_validation_errors(errors: &validator::ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    flatten_into(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn flatten_into(errors: &validator::ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind as Kind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            Kind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e
                    .message
                    .as_deref()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{path} is invalid ({})", e.code));
                FieldError::new(path.clone(), e.code.to_string(), message)
            })),
            Kind::Struct(inner) => flatten_into(inner, &path, out),
            Kind::List(items) => {
                for (index, inner) in items {
                    flatten_into(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// Replaces the offending *values* in a parser message with `…`: serde double-quotes string
/// values (which may be a CNIC or a password) and back-ticks numbers after their type name,
/// while field names stay readable.
pub fn redact_values(message: &str) -> String {
    let mut message = message.to_string();
    for kind in ["integer `", "floating point `"] {
        while let Some(start) = message.find(kind).map(|i| i + kind.len()) {
            let Some(len) = message[start..].find('`') else { break };
            if &message[start..start + len] == "…" {
                break;
            }
            message.replace_range(start..start + len, "…");
        }
    }
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for ch in message.chars() {
        if ch == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_are_stable() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::bad_request("malformed_json", "x"), 400, "malformed_json"),
            (ApiError::invalid_field("a", "length", "m"), 422, "validation_failed"),
            (ApiError::Unauthorized("x"), 401, "unauthorized"),
            (ApiError::Forbidden, 403, "forbidden"),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::PreconditionFailed, 412, "version_mismatch"),
            (ApiError::PreconditionRequired, 428, "if_match_required"),
            (ApiError::Unavailable("db".into()), 503, "service_unavailable"),
            (ApiError::Internal(anyhow::anyhow!("boom")), 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status_code().as_u16(), status);
            assert_eq!(error.code(), code);
            assert_eq!(error.problem().code, code);
        }
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let problem = ApiError::Internal(anyhow::anyhow!("SELECT secret FROM users")).problem();
        let body = serde_json::to_string(&problem).expect("serialises");
        assert!(!body.contains("SELECT"), "{body}");
    }

    #[test]
    fn diesel_errors_map_to_http_meaning() {
        assert!(matches!(ApiError::from(DieselError::NotFound), ApiError::NotFound));
        assert!(matches!(ApiError::from(DieselError::RollbackTransaction), ApiError::Internal(_)));
        assert!(is_transient_message("database is locked"));
        assert!(is_transient_message("no connection to the server\n"));
        assert!(!is_transient_message("syntax error"));
    }

    #[test]
    fn database_errors_are_counted_by_kind() {
        use diesel::result::DatabaseErrorInformation;
        struct Info(&'static str);
        impl DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                self.0
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                None
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let db = |kind, message| DieselError::DatabaseError(kind, Box::new(Info(message)));
        let cases = [
            (db(DatabaseErrorKind::UniqueViolation, "duplicate key"), Some(DbErrorKind::UniqueViolation)),
            (db(DatabaseErrorKind::SerializationFailure, "could not serialize"), Some(DbErrorKind::Serialization)),
            (db(DatabaseErrorKind::ReadOnlyTransaction, "read-only"), Some(DbErrorKind::ReadOnly)),
            (db(DatabaseErrorKind::ForeignKeyViolation, "fk"), Some(DbErrorKind::Constraint)),
            (db(DatabaseErrorKind::Unknown, "database is locked"), Some(DbErrorKind::Timeout)),
            (
                db(DatabaseErrorKind::Unknown, "canceling statement due to statement timeout"),
                Some(DbErrorKind::Timeout),
            ),
            (
                db(DatabaseErrorKind::Unknown, "terminating connection due to administrator command"),
                Some(DbErrorKind::Unavailable),
            ),
            (
                db(DatabaseErrorKind::Unknown, "invalid byte sequence for encoding \"UTF8\": 0x00"),
                Some(DbErrorKind::InvalidInput),
            ),
            (db(DatabaseErrorKind::Unknown, "syntax error"), Some(DbErrorKind::Other)),
            (DieselError::BrokenTransactionManager, Some(DbErrorKind::Unavailable)),
            (DieselError::NotFound, None),
        ];
        for (error, kind) in cases {
            assert_eq!(db_error_kind(&error), kind, "{error}");
        }
    }

    #[test]
    fn parser_messages_lose_their_values() {
        let msg = r#"invalid type: string "35202-1234567-1", expected u32 at line 1 column 30"#;
        assert_eq!(redact_values(msg), r#"invalid type: string "…", expected u32 at line 1 column 30"#);
        assert_eq!(redact_values("unknown field `foo`"), "unknown field `foo`");
        assert_eq!(
            redact_values("invalid type: integer `3520212345671`, expected a string"),
            "invalid type: integer `…`, expected a string"
        );
    }
}
