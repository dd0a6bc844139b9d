//! The household registry and its reference data.
//!
//! So far this holds the district reference list (seeded from `kp-districts.csv` by the
//! first migration and kept in the database so an administrator can change it without a
//! code change); households and members follow.

pub mod districts;
