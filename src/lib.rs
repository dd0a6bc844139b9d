//! sahulat: a single-window beneficiary registry and eligibility service.
//!
//! One binary serves the REST API (`serve`) and administers it (`migrate`, `user`,
//! `audit`). See `README.md` for the tour and its module map (*Layout*), and `docs/` for the
//! data dictionary (`DATA.md`), the rule files' semantics (`RULES.md`) and the API guide
//! (`API.md`).

pub mod api;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod domain;
pub mod error;
pub mod governance;
pub mod healthcheck;
pub mod idempotency;
pub mod metrics;
pub mod referrals;
pub mod registry;
pub mod reports;
pub mod rules;
pub mod screening;
pub mod startup;
pub mod telemetry;
