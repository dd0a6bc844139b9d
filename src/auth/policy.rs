//! The policy table: which roles may perform each action. It is the only place permissions
//! are granted. Every route names its action in the endpoint table (`api::endpoints`), and
//! the authorisation middleware consults this table before the handler runs. The match is
//! exhaustive, so a new action cannot compile without an explicit decision; an empty
//! list denies everyone.

use super::Role;
use Role::*;

/// Everything a caller can ask the service to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read one's own account (`/auth/me`).
    AccountRead,
    /// Change one's own password.
    AccountChangePassword,
    /// List the district reference data.
    DistrictList,
    /// Add or change districts.
    DistrictManage,
    /// List user accounts.
    UserList,
    /// Create a user account.
    UserCreate,
    /// Read one user account.
    UserRead,
    /// Change a user's role assignments or active flag.
    UserUpdate,
    /// Set another user's password.
    UserResetPassword,
    /// Register a household.
    HouseholdCreate,
    /// Read a household's personal data and history.
    HouseholdRead,
    /// Search households.
    HouseholdSearch,
    /// Change a household or its members.
    HouseholdUpdate,
    /// Import households from a file.
    HouseholdImport,
    /// Query the audit trail.
    AuditRead,
    /// Verify the audit hash chain.
    AuditVerify,
    /// Read the scheme catalogue.
    SchemeList,
    /// Screen a household that is not stored (pre-screening a walk-in, simulating rules).
    ScreeningPreview,
    /// Read the state of the loaded rule set.
    RulesRead,
    /// Reload the rule files.
    RulesReload,
    /// Screen a registered household and keep the result.
    HouseholdScreen,
    /// Refer a household to schemes.
    ReferralCreate,
    /// Read one referral and its ledger.
    ReferralRead,
    /// Move a referral along its lifecycle (which step, by which role: `referrals::allowed`).
    ReferralTransition,
    /// Query and export the referral log (pseudonymised: household numbers only).
    ReferralLog,
    /// List the households eligible for one's own schemes.
    SchemeHouseholds,
    /// Start and follow re-screening jobs.
    Rescreen,
    /// Read the coverage, gaps and funnel reports (scoped to the caller's districts or schemes).
    ReportRead,
    /// Read rule proposals, impact reports, versions, pending activations and freezes.
    RuleChangeRead,
    /// Propose rule changes, compute their impact, approve, reject, withdraw, roll back (for
    /// one's own schemes; never approving one's own proposal: checked in the handler).
    RuleChangeWrite,
    /// Declare and lift freeze periods.
    RuleFreezeManage,
}

impl Action {
    /// Every action, for tests and documentation.
    pub const ALL: [Action; 31] = [
        Action::AccountRead,
        Action::AccountChangePassword,
        Action::DistrictList,
        Action::DistrictManage,
        Action::UserList,
        Action::UserCreate,
        Action::UserRead,
        Action::UserUpdate,
        Action::UserResetPassword,
        Action::HouseholdCreate,
        Action::HouseholdRead,
        Action::HouseholdSearch,
        Action::HouseholdUpdate,
        Action::HouseholdImport,
        Action::AuditRead,
        Action::AuditVerify,
        Action::SchemeList,
        Action::ScreeningPreview,
        Action::RulesRead,
        Action::RulesReload,
        Action::HouseholdScreen,
        Action::ReferralCreate,
        Action::ReferralRead,
        Action::ReferralTransition,
        Action::ReferralLog,
        Action::SchemeHouseholds,
        Action::Rescreen,
        Action::ReportRead,
        Action::RuleChangeRead,
        Action::RuleChangeWrite,
        Action::RuleFreezeManage,
    ];

    /// The name used in audit events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AccountRead => "account_read",
            Action::AccountChangePassword => "account_change_password",
            Action::DistrictList => "district_list",
            Action::DistrictManage => "district_manage",
            Action::UserList => "user_list",
            Action::UserCreate => "user_create",
            Action::UserRead => "user_read",
            Action::UserUpdate => "user_update",
            Action::UserResetPassword => "user_reset_password",
            Action::HouseholdCreate => "household_create",
            Action::HouseholdRead => "household_read",
            Action::HouseholdSearch => "household_search",
            Action::HouseholdUpdate => "household_update",
            Action::HouseholdImport => "household_import",
            Action::AuditRead => "audit_read",
            Action::AuditVerify => "audit_verify",
            Action::SchemeList => "scheme_list",
            Action::ScreeningPreview => "screening_preview",
            Action::RulesRead => "rules_read",
            Action::RulesReload => "rules_reload",
            Action::HouseholdScreen => "household_screen",
            Action::ReferralCreate => "referral_create",
            Action::ReferralRead => "referral_read",
            Action::ReferralTransition => "referral_transition",
            Action::ReferralLog => "referral_log",
            Action::SchemeHouseholds => "scheme_households",
            Action::Rescreen => "rescreen",
            Action::ReportRead => "report_read",
            Action::RuleChangeRead => "rule_change_read",
            Action::RuleChangeWrite => "rule_change_write",
            Action::RuleFreezeManage => "rule_freeze_manage",
        }
    }
}

/// The roles allowed to perform `action`.
pub fn roles_for(action: Action) -> &'static [Role] {
    match action {
        // Reports hold counts only; each role sees its own scope (districts or schemes).
        Action::AccountRead
        | Action::AccountChangePassword
        | Action::DistrictList
        | Action::SchemeList
        | Action::ReportRead => &[Clerk, SchemeAdmin, Auditor, Admin],
        Action::DistrictManage
        | Action::UserList
        | Action::UserCreate
        | Action::UserRead
        | Action::UserUpdate
        | Action::UserResetPassword => &[Admin],
        // Beneficiary data: clerks only (and only in their districts, enforced in SQL).
        Action::HouseholdCreate
        | Action::HouseholdRead
        | Action::HouseholdSearch
        | Action::HouseholdUpdate
        | Action::HouseholdImport
        | Action::HouseholdScreen
        | Action::ReferralCreate => &[Clerk],
        // Clerks see their districts' referrals, scheme administrators their schemes'.
        Action::ReferralRead | Action::ReferralTransition => &[Clerk, SchemeAdmin],
        Action::AuditRead | Action::AuditVerify => &[Auditor],
        // Scheme administrators: their own schemes only (filtered in the query).
        Action::ReferralLog => &[Auditor, SchemeAdmin],
        // Screening a posted household stores nothing but an audit record: clerks screen
        // walk-ins, scheme administrators try their rules on example households.
        Action::ScreeningPreview => &[Clerk, SchemeAdmin],
        Action::RulesRead => &[SchemeAdmin, Admin],
        // Only for the schemes assigned to them (checked in the handler).
        Action::SchemeHouseholds => &[SchemeAdmin],
        Action::RulesReload | Action::Rescreen | Action::RuleFreezeManage => &[Admin],
        // Auditors read the governance trail; writers are checked per scheme in the handler.
        Action::RuleChangeRead => &[SchemeAdmin, Admin, Auditor],
        Action::RuleChangeWrite => &[SchemeAdmin, Admin],
    }
}

/// Whether `role` may perform `action`.
pub fn permits(role: Role, action: Action) -> bool {
    roles_for(action).contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_manages_users_but_reads_no_audit_trail() {
        assert!(permits(Admin, Action::UserCreate));
        assert!(!permits(Admin, Action::AuditRead));
    }

    #[test]
    fn clerks_and_auditors_cannot_manage_users() {
        for action in [Action::UserList, Action::UserCreate, Action::UserUpdate, Action::UserResetPassword] {
            assert!(!permits(Clerk, action));
            assert!(!permits(Auditor, action));
            assert!(!permits(SchemeAdmin, action));
        }
    }

    #[test]
    fn action_names_are_unique() {
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
