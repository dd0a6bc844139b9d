//! Request-side enforcement: the `authorize` middleware that every route is wrapped in
//! (token → current principal → policy table), and the `AuthUser` extractor handlers use
//! to learn who is calling.

use std::future::{Ready, ready};

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::policy::{self, Action};
use super::service::{self, Principal};
use crate::audit::{self, AuditContext, Event};
use crate::db;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::telemetry::current_request_id;

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (login, health, API documents).
    Public,
    /// A valid token whose current role the policy table allows for this action.
    Requires(Action),
}

/// The authenticated caller of the current request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// Who the database says the caller is now.
    pub principal: Principal,
    /// The action the route was authorised for.
    pub action: Action,
}

impl AuthUser {
    /// The audit context of this caller and request.
    pub fn audit_context(&self, req: &HttpRequest) -> AuditContext {
        let p = &self.principal;
        request_context(req).with_user(&p.id, &p.username, p.role)
    }
}

/// The audit context of a request with no authenticated caller yet.
pub fn request_context(req: &HttpRequest) -> AuditContext {
    AuditContext {
        request_id: current_request_id(),
        client_addr: req.peer_addr().map(|a| a.ip().to_string()),
        ..AuditContext::default()
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<AuthUser>().cloned().ok_or(ApiError::Unauthorized("authentication required")))
    }
}

fn bearer_token(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Middleware wrapped around every route by `api::configure` with the route's [`Access`].
pub async fn authorize(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Access::Requires(action) = access else {
        return next.call(req).await;
    };
    match authenticate(&req, action).await {
        Ok(user) => {
            req.extensions_mut().insert(user);
            next.call(req).await
        }
        Err(error) => {
            let response = error.error_response();
            Ok(req.into_response(response))
        }
    }
}

async fn authenticate(req: &ServiceRequest, action: Action) -> Result<AuthUser, ApiError> {
    let state =
        req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| anyhow::anyhow!("application state missing"))?;
    let token = bearer_token(req).ok_or(ApiError::Unauthorized("a bearer token is required"))?;
    let claims = state.tokens.verify(token).ok_or(ApiError::Unauthorized("the token is invalid or expired"))?;
    let cached = state.principals.get(&claims.sub);
    let (principal, valid_after_ms) = match cached {
        Some(entry) => entry,
        None => {
            let user_id = claims.sub.clone();
            let loaded = db::run(&state.pool, move |conn| service::active_principal(conn, &user_id))
                .await?
                .ok_or(ApiError::Unauthorized("the token is no longer valid"))?;
            state.principals.put(&loaded.0, loaded.1);
            loaded
        }
    };
    // A token issued before a password change (or disabling) is revoked.
    if claims.iat_ms < valid_after_ms {
        return Err(ApiError::Unauthorized("the token is no longer valid"));
    }
    if policy::permits(principal.role, action) {
        return Ok(AuthUser { principal, action });
    }
    let ctx = request_context(req.request()).with_user(&principal.id, &principal.username, principal.role);
    let event = Event::new("authz_denied").denied().details(serde_json::json!({ "action": action.as_str() }));
    let key = state.audit_key.clone();
    db::run_write(&state.pool, move |conn| Ok(audit::record(conn, &key, &ctx, &event)?)).await?;
    Err(ApiError::Forbidden)
}
