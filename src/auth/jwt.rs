//! Short-lived HS256 access tokens.
//!
//! A token proves identity only: role, districts and active state are read from the
//! database on every request, so a disabled user or changed assignment takes effect at
//! once, and a password change revokes older tokens (`iat` before `tokens_valid_after`).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::config::Secret;

/// The `iss` claim of every token.
pub const ISSUER: &str = "sahulat";
/// The `aud` claim of every token.
pub const AUDIENCE: &str = "sahulat-api";
/// The JOSE `typ` header of an access token (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user's id.
    pub sub: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Issued at, in milliseconds since the epoch (revocation needs sub-second precision).
    pub iat_ms: i64,
    /// Unique token id.
    pub jti: String,
    /// The role at issue time (informational; authorisation reads the database).
    pub role: Role,
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    /// Keys for `secret`, issuing tokens that live `ttl`.
    pub fn new(secret: &Secret, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            ttl,
        }
    }

    /// The lifetime of issued tokens.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user_id`.
    pub fn issue(&self, user_id: &str, role: Role) -> anyhow::Result<String> {
        let now_ms = Utc::now().timestamp_millis();
        let now = now_ms.div_euclid(1000);
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.into(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            iat_ms: now_ms,
            jti: uuid::Uuid::new_v4().to_string(),
            role,
        };
        let header = Header { typ: Some(TOKEN_TYPE.into()), ..Header::new(Algorithm::HS256) };
        encode(&header, &claims, &self.encoding).map_err(|e| anyhow::anyhow!("token signing failed: {e}"))
    }

    /// Checks signature, algorithm, type, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        // iat in the future beyond the leeway means a forged or mis-clocked token.
        let not_from_future = data.claims.iat <= Utc::now().timestamp() + LEEWAY_SECS as i64
            && data.claims.iat_ms.div_euclid(1000) == data.claims.iat;
        (data.header.typ.as_deref() == Some(TOKEN_TYPE) && not_from_future).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Secret::new(vec![7u8; 32]), Duration::from_secs(900))
    }

    #[test]
    fn signs_and_verifies() {
        let token = keys().issue("user-1", Role::Clerk).expect("sign");
        let claims = keys().verify(&token).expect("valid");
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn rejects_another_key_and_tampering() {
        let token = keys().issue("user-1", Role::Clerk).expect("sign");
        let other = TokenKeys::new(&Secret::new(vec![8u8; 32]), Duration::from_secs(900));
        assert!(other.verify(&token).is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(keys().verify(&tampered).is_none());
    }
}
