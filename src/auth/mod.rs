//! Who may do what: users and roles, argon2id passwords, JWT access tokens, the policy
//! table and the request-side enforcement (`AuthUser`, `authorize`).

pub mod extractor;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod service;
pub mod throttle;
pub mod users;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use extractor::AuthUser;
pub use policy::Action;

/// A user's role. Every permission is granted to roles through [`policy::roles_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers and screens households in assigned districts.
    Clerk,
    /// Owns the rule files of assigned schemes; sees aggregates.
    SchemeAdmin,
    /// Reads referral and audit logs (pseudonymised).
    Auditor,
    /// Manages users and configuration; no beneficiary data by default.
    Admin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [Role::Clerk, Role::SchemeAdmin, Role::Auditor, Role::Admin];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::SchemeAdmin => "scheme_admin",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}; expected one of clerk, scheme_admin, auditor, admin"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("superuser".parse::<Role>().is_err());
    }
}
