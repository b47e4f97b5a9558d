//! # winventory-workflows
//!
//! The campaign engine, starting with the rule every campaign relies on:
//! who a machine's question goes to. The engine proper (polls, per-owner
//! digests, reminders and escalation, the durable outbox, verification of
//! answers against later snapshots) is built on this crate by the campaigns
//! work; it stays free of I/O and reaches storage and channels through
//! traits defined beside the domain.

pub mod recipients;

pub use recipients::{Recipient, group_by_recipient, recipient_for};
