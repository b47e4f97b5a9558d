//! The integration tests of `winventory-workflows`, one binary (one link
//! step in CI): the engine's paths run in-process with a fixed clock
//! ([`paths`], where a new engine test goes), answers "for all" and what
//! links carry ([`answers_for_all`]), and licence campaigns' findings
//! ([`licence`]); each on SQLite and on PostgreSQL.

mod answers_for_all;
mod licence;
mod paths;
