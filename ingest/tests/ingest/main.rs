//! The ingest suite, run on SQLite and on PostgreSQL: it is also the store's
//! conformance suite, since every store operation the ingest and the reports
//! use is exercised through it on both engines with the same expectations.

mod eol_api;
mod helpers;
mod input_format_doc;
mod limits;
mod netdb;
mod pipeline;
mod users;
