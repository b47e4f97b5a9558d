//! # winventory-ingest
//!
//! The ingest worker: it reads CMF snapshots ([`cmf`]), looks up missing
//! owners in the network database ([`netdb`]), runs the daily pipeline that
//! stores winning reports in batched transactions ([`pipeline`]), imports a
//! site's user list ([`users`]), refreshes the lifecycle catalog from the
//! endoflife.date API ([`eol_api`]), matches stored titles and machines
//! again when the rules change ([`rematch`]) and generates synthetic fleets
//! for the demo and benchmarks ([`generate`]).

pub mod cmf;
pub mod eol_api;
pub mod generate;
pub mod netdb;
pub mod pipeline;
pub mod rematch;
pub mod users;

pub use pipeline::{IngestOptions, Pipeline, Summary};
