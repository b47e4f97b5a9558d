//! Every role's SQL on PostgreSQL: the role files beside this one, compiled
//! with `Db` and `This` naming PostgreSQL's sqlx backend and store.

use super::bulk::postgres as bulk;
use crate::store::{Backend, Store};

/// The backend the role files are compiled for here.
type Db = sqlx::Postgres;
/// Its store.
type This = super::PostgresStore;

impl This {
    /// The backend, for the few statements that differ.
    const BACKEND: Backend = Backend::Postgres;

    /// No turn to wait for: PostgreSQL's row locks do the job.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
    }
}

#[async_trait::async_trait]
impl Store for This {
    fn backend(&self) -> Backend {
        Self::BACKEND
    }

    async fn backup_into(&self, _path: &str) -> crate::store::Result<()> {
        Err(crate::store::StoreError::Unsupported(
            "the database is PostgreSQL: back it up with its own pg_dump, online and consistent \
             (`pg_dump --format=custom --file FILE URL`; restore with pg_restore), as \
             docs/operations.md shows"
                .into(),
        ))
    }
}

#[path = "access.rs"]
mod access;
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
#[path = "live.rs"]
mod live;
#[path = "outbox.rs"]
mod outbox;
#[path = "reports.rs"]
mod reports;
#[path = "rows.rs"]
mod rows;
