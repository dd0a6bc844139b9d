//! Password hashing with argon2id (OWASP parameters: m = 19 MiB, t = 2, p = 1), the dummy
//! hash that makes "unknown user" cost the same as "wrong password", the password rules,
//! and the limiter that keeps a login storm from starving other requests.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;

/// Memory cost in KiB (19 MiB).
pub const M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;
/// Shortest acceptable password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest acceptable password, in characters (bounds hashing work per request).
pub const MAX_PASSWORD_CHARS: usize = 256;

fn hasher() -> Argon2<'static> {
    // The parameters are constants inside argon2's accepted ranges.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random string, verified against when the user does not exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random = uuid::Uuid::new_v4().to_string();
    hash_password(&random).unwrap_or_default()
});

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Checks `password` against a stored hash, or against the dummy hash when there is no
/// user, so both paths take the same time. Returns true only for a real match.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(phc) => hasher().verify_password(password.as_bytes(), phc).is_ok(),
        None => {
            let _ = hasher().verify_password(password.as_bytes(), DUMMY_HASH.as_str());
            false
        }
    }
}

/// Warms the dummy hash so the first login for an unknown user is not slower than others.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Checks a new password against the rules; the message is shown to the user.
pub fn check_new_password(password: &str, username: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("the password must be at least 12 characters long");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("the password must be at most 256 characters long");
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err("the password must not repeat a single character");
    }
    if password.to_lowercase().contains(&username.to_lowercase()) && !username.is_empty() {
        return Err("the password must not contain the user name");
    }
    Ok(())
}

/// Caps how many hashes run at once (one per core). A caller that cannot get a slot within
/// two seconds gets 503 instead of queueing without bound.
#[derive(Clone)]
pub struct HashLimiter {
    slots: Arc<Semaphore>,
}

impl HashLimiter {
    /// A limiter with one slot per available core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self { slots: Arc::new(Semaphore::new(cores)) }
    }

    /// Waits for a slot (at most two seconds).
    async fn acquire(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(Duration::from_secs(2), self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::Unavailable("password hashing is saturated".into())),
        }
    }

    /// Runs hashing work `f` on the blocking pool once a slot is free.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _slot = self.acquire().await?;
        actix_web::web::block(f).await.map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing task failed: {e}")))
    }
}

impl Default for HashLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let phc = hash_password("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery", Some(&phc)));
        assert!(!verify_password("wrong horse battery", Some(&phc)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn password_rules() {
        assert!(check_new_password("short", "amina").is_err());
        assert!(check_new_password("aaaaaaaaaaaaaaaa", "amina").is_err());
        assert!(check_new_password("amina-password-1", "amina").is_err());
        assert!(check_new_password("a long enough phrase", "amina").is_ok());
    }
}
