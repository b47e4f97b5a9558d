//! The store's conformance suite: every role of [`winventory_core::Store`]
//! (inventory, directory, catalog, reports, campaigns, outbox, chat, access) held to
//! one contract on SQLite and on PostgreSQL (`on_both_backends!`), the
//! migrations that keep stored data, and a check that both schemas hold the
//! same tables and columns. One test binary for the crate.

mod access;
mod answers;
mod as_of;
mod campaigns;
mod catalog;
mod chat;
mod directory;
mod helpers;
mod inventory;
mod live;
mod migrations;
mod outbox;
mod reports;
mod schema;
