//! sahulat: a single-window beneficiary registry and eligibility service.
//!
//! One binary serves the REST API (`serve`) and administers it (`migrate`, `user`,
//! `audit`). See `README.md` for the tour and `../shared/design/ARCHITECTURE.md` for the
//! module map.

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod idempotency;
pub mod referrals;
pub mod registry;
pub mod rules;
pub mod screening;
pub mod startup;
pub mod telemetry;
