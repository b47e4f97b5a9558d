//! Every role's SQL on SQLite: the role files beside this one, compiled
//! with `Db` and `This` naming SQLite's sqlx backend and store.

use super::bulk::sqlite as bulk;
use crate::store::{Backend, Store};

/// The backend the role files are compiled for here.
type Db = sqlx::Sqlite;
/// Its store.
type This = super::SqliteStore;

impl This {
    /// The backend, for the few statements that differ.
    const BACKEND: Backend = Backend::Sqlite;

    /// Wait for this process's turn to write: SQLite has one writer at a
    /// time, and a fair queue here beats its busy handler's sleeps.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.write_gate.lock().await)
    }
}

#[async_trait::async_trait]
impl Store for This {
    fn backend(&self) -> Backend {
        Self::BACKEND
    }

    async fn backup_into(&self, path: &str) -> crate::store::Result<()> {
        // One read transaction: a snapshot of every table at one instant,
        // written compactly to the new file; writers are not blocked (WAL).
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
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
