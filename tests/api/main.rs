//! The integration suite: the real application over HTTP, on SQLite by default or on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

#![expect(clippy::expect_used, reason = "a test that cannot set up must fail loudly")]

mod audit;
mod auth;
mod backup;
mod console;
mod contract;
mod deciding_facts;
mod deploy;
mod field_errors;
mod governance;
mod hardening;
mod helpers;
mod households;
mod impact_scan;
mod imports;
mod isolation;
mod metrics;
mod platform;
mod referrals;
mod replica;
mod reports;
mod rescreen;
mod schema;
mod schemes;
mod screenings;
mod timestamps;
mod urdu_names;
mod users;
