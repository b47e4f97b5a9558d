//! Every role's SQL on PostgreSQL: the role files beside this one, compiled
//! with `Db` and `This` naming PostgreSQL's sqlx backend and store.

/// The backend the role files are compiled for here.
type Db = sqlx::Postgres;
/// Its store.
type This = super::PostgresStore;
use super::bulk::postgres as bulk;

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
