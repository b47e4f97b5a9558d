//! Paths of the campaign engine that no other test walks, run in-process
//! with a fixed clock on SQLite and on PostgreSQL: reminders in the owners'
//! own time zones and quiet hours, the escalation ladder, verification
//! against later snapshots (resolutions, "not mine", an owner whose email
//! bounces), `campaign test-send`, `pause --all` / `resume --all`, an ESU answer reopened after
//! its date, the `software`, `eol_within_days` and `hosts` selectors,
//! `report software`, the numbers `/metrics` renders, the names people
//! read (hostnames as reported, releases as people say them), campaign
//! titles in each reader's language, and the status of a draft. Fleets go in
//! through the real ingest pipeline; messages come out of the real outbox,
//! delivered by the real worker to a channel that records them and
//! refuses by address as a test scripts it.

mod burndown;
mod draft;
mod escalation;
mod esu;
mod helpers;
mod languages;
mod metrics;
mod names;
mod pause;
mod reminders;
mod reports;
mod roles;
mod selectors;
mod test_send;
mod verification;
