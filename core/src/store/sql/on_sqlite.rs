//! Every role's SQL on SQLite: the role files beside this one, compiled
//! with `Db` and `This` naming SQLite's sqlx backend and store.

/// The backend the role files are compiled for here.
type Db = sqlx::Sqlite;
/// Its store.
type This = super::SqliteStore;
use super::bulk::sqlite as bulk;

#[path = "campaigns.rs"]
mod campaigns;
#[path = "catalog.rs"]
mod catalog;
#[path = "chat.rs"]
mod chat;
#[path = "directory.rs"]
mod directory;
#[path = "inventory.rs"]
mod inventory;
#[path = "outbox.rs"]
mod outbox;
#[path = "reports.rs"]
mod reports;
#[path = "rows.rs"]
mod rows;
