//! Storage: the [`Store`] every backend implements, split by role, and
//! [`connect`], which picks the backend once from the URL scheme
//! (`sqlite://...` or `postgres://...`), creates the database where it can,
//! and applies the backend's versioned migrations.
//!
//! Each role is a trait in its own module with the row types that cross it:
//! [`inventory`] (what the ingest reads and writes), [`directory`] (people,
//! groups, owner facts set by hand), [`catalog`] (refreshed lifecycle rows,
//! re-matching), [`reports`] (every read a report makes), [`campaigns`]
//! (campaigns, their machines and answers, the audit log), [`outbox`] (the
//! durable message queue and the process-wide switches) and [`chat`]
//! (delivered messages as chat servers know them, chat events claimed once)
//! and [`access`] (the site's API tokens).
//! [`Store`] is all of them on one backend; callers hold one
//! `Arc<dyn Store>` and call any role's methods on it (code holding a
//! concrete store brings the roles in with `store::prelude::*`).
//!
//! Both backends share one implementation (`sql/`, one file per role) with
//! runtime-built queries: the SQL is the same on both (`$1` placeholders,
//! `ON CONFLICT`, `RETURNING`), only the DDL differs (`core/migrations/`).
//! Times cross these traits as [`DateTime<Utc>`] and are stored as
//! microseconds since the epoch.

pub mod access;
pub mod campaigns;
pub mod catalog;
pub mod chat;
pub mod directory;
mod error;
pub mod inventory;
pub mod live;
pub mod outbox;
pub mod reports;
mod sql;

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::ConnectOptions as _;

pub use access::{AccessStore, ApiToken, NewApiToken, NewSession, Session, SignInAttempt};
pub use campaigns::{
    AnswerEntry, AnswerRecord, AnswerView, AuditEntry, AuditFilter, CampaignMachine, CampaignRow,
    CampaignState, CampaignStore, ExceptionDecision, MachineChange, NewTarget,
};
pub use catalog::CatalogStore;
pub use chat::{ChatStore, ListedMessage, MessageRef, PostedMessage};
pub use directory::{DirectoryStore, UserImport};
pub use error::{DriverError, StoreError};
pub use inventory::{
    CachedNetDb, DirectoryPerson, InstallRow, InventoryStore, KeyDigest, MachineIndexEntry,
    MachineWrite, NetDbAnswer, OwnerChange, OwnerMark, SoftwareWrite, TitleRow,
};
pub use live::{ChangeEvent, DayCount, GroupStateCount, LiveStore, MachinesShown, StateCount};
pub use outbox::{NewMessage, OutboxCounts, OutboxRow, OutboxStore};
pub use reports::{
    Contact, Freshness, InstalledSoftware, MachineInFull, MachineRow, MachineSelection,
    RejectedMachine, ReportStore, StoreCounts,
};
pub use sql::{PostgresStore, SqlStore, SqliteStore};

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// For sites that outgrow one machine.
    Postgres,
}

/// The whole store: every role, on one backend. The application holds one
/// `Arc<dyn Store>` chosen at start-up by [`connect`], on which every role's
/// methods are called directly; code that holds a concrete store
/// ([`SqliteStore`], [`PostgresStore`]) or is generic over one brings the
/// roles into scope with `use winventory_core::store::prelude::*`.
#[async_trait::async_trait]
pub trait Store:
    InventoryStore
    + DirectoryStore
    + CatalogStore
    + ReportStore
    + CampaignStore
    + OutboxStore
    + ChatStore
    + AccessStore
    + LiveStore
    + Send
    + Sync
{
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Copy the whole database into a new file at `path`, online (other
    /// processes go on reading and writing) and consistent (one snapshot):
    /// SQLite's `VACUUM INTO`. PostgreSQL is backed up with its own
    /// `pg_dump` ([`StoreError::Unsupported`] says so).
    async fn backup_into(&self, path: &str) -> Result<()>;
}

/// The store's traits, to bring every role's methods into scope at once:
/// `use winventory_core::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        AccessStore, CampaignStore, CatalogStore, ChatStore, DirectoryStore, InventoryStore,
        LiveStore, OutboxStore, ReportStore, Store,
    };
}

/// Mask the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{userinfo}@{host}")
                }
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Bulk statements of large ingests and campaign waves legitimately take
/// seconds: sqlx's slow-statement log (a warning with the whole SQL by
/// default) is kept for `--log info`.
const SLOW_LEVEL: log::LevelFilter = log::LevelFilter::Info;
const SLOW_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Open the store the URL names, creating and migrating it as needed.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    let connect_err = |e: sqlx::Error| StoreError::Connect {
        url: redact_url(url),
        source: e.into(),
    };
    if url.starts_with("sqlite:") {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(connect_err)?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            .log_slow_statements(SLOW_LEVEL, SLOW_AFTER);
        // A local file needs no ping before each use (a ping per query
        // doubled the cost of a button click).
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(connect_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Arc::new(SqliteStore::new(pool)))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(connect_err)?
            .log_slow_statements(SLOW_LEVEL, SLOW_AFTER);
        // One connection first, on its own: a server that refuses or cannot
        // be reached is said at once ("connection refused"), not after the
        // pool has retried for its whole acquire time-out.
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&opts),
        )
        .await
        {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Ok(Err(e)) => return Err(connect_err(e)),
            Err(_) => {
                return Err(connect_err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the server did not answer within 5 seconds",
                ))));
            }
        }
        // No ping before each use: it is a round trip per query (a button
        // click makes ten). Only a connection that sat idle for a second
        // or more is pinged first, so after a server restart the idle ones
        // are replaced instead of each failing one statement (under load
        // connections are never idle that long, and nothing is pinged). A
        // busy connection the restart broke fails the one statement that
        // finds out, and is replaced; every caller retries (the outbox, the
        // scheduler, chat servers and browsers).
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= std::time::Duration::from_secs(1) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(std::time::Duration::from_secs(15))
            .connect_with(opts)
            .await
            .map_err(connect_err)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Arc::new(PostgresStore::new(pool)))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// Microseconds since the epoch, as stored.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant stored as microseconds.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_database_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://winventory.db"),
            "sqlite://winventory.db"
        );
    }
}
