//! The household registry: households and members, validated on the way in, stored with
//! their history, found by ID number, household number or name, and always read through a
//! district scope. Also the district reference data.

pub mod demo;
pub mod districts;
pub mod import;
pub mod members;
pub mod model;
pub mod packed;
pub mod parse;
pub mod repo;
pub mod service;
pub mod warnings;
