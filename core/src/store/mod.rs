//! Storage: the [`Store`] trait every backend implements, the row types that
//! cross it, and [`connect`], which picks the backend once from the URL
//! scheme (`sqlite://...` or `postgres://...`), creates the database where it
//! can, and applies the backend's versioned migrations.
//!
//! Both backends share one implementation written once (`sql.rs`) with
//! runtime-built queries: the SQL is the same on both (`$1` placeholders,
//! `ON CONFLICT`, `RETURNING`), only the DDL differs (`core/migrations/`).
//! Times cross this trait as [`DateTime<Utc>`] and are stored as
//! microseconds since the epoch.

mod campaign;
mod sql;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::ConnectOptions as _;

use crate::catalog::CycleInfo;
use crate::domain::{CycleRef, OsInfo, OwnerFact, OwnerRole, OwnerSource, User, Window};

pub use campaign::{
    AnswerEntry, AnswerRecord, AnswerView, AuditEntry, CampaignMachine, CampaignRow, CampaignState,
    CampaignStore, ExceptionDecision, ListedMessage, MachineChange, MessageRef, NewMessage,
    NewTarget, OutboxCounts, OutboxRow, PostedMessage,
};
pub use sql::{PostgresStore, SqliteStore};

/// A storage failure. The message never carries the database URL's password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot open the database {url}: {source}")]
    Connect {
        /// The URL with any password masked.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The URL names no supported backend.
    #[error("unsupported database URL {0}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// Stored data could not be decoded.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the failure is worth waiting out: the database is away for a
    /// moment (connection lost or refused, pool time-out, a server shutting
    /// down or starting, a locked or busy SQLite file, a full disk, a
    /// serialization conflict). Long-running loops wait these out with
    /// backoff and go on; anything else (bad SQL, corrupt rows, a failed
    /// migration) will not heal by itself.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { source, .. } => sqlx_transient(source),
            StoreError::Query(e) => sqlx_transient(e),
            StoreError::UnsupportedUrl(_) | StoreError::Migrate(_) | StoreError::Corrupt(_) => {
                false
            }
        }
    }
}

/// The sqlx errors that mean "the database is not there right now".
fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // PostgreSQL SQLSTATE: connection exceptions (08), insufficient
            // resources such as a full disk (53), operator intervention
            // (57P01-57P03: shutdown, crash, starting up), serialization
            // failure and deadlock (40001, 40P01).
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
                // SQLite primary result codes (extended ones keep them in
                // the low byte): BUSY 5, LOCKED 6, FULL 13, IOERR 10.
                || code
                    .parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
        }
        _ => false,
    }
}

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

/// A fixed-size stand-in for a stored string (its xxh3-128 digest): what the
/// ingest keeps of each stored machine's identity and owners, so that its
/// memory is a fixed amount per stored machine whatever the fields hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyDigest(pub u128);

impl KeyDigest {
    /// The digest of `s` (stable across releases and platforms).
    pub fn of(s: &str) -> Self {
        Self(xxhash_rust::xxh3::xxh3_128(s.as_bytes()))
    }
}

/// An owner fact as the machine index keeps it: where it came from and the
/// digest of its login (enough to tell whether a new fact differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerMark {
    /// Where the fact came from.
    pub source: OwnerSource,
    /// Digest of the login.
    pub login: KeyDigest,
}

impl OwnerMark {
    /// The mark of a fact.
    pub fn of(f: &OwnerFact) -> Self {
        Self {
            source: f.source,
            login: KeyDigest::of(&f.login),
        }
    }
}

/// What the ingest needs to know of every stored machine to decide, without
/// reading more, whether a report wins and what to write. Its size is fixed
/// (no stored string is kept, only digests).
#[derive(Debug, Clone, PartialEq)]
pub struct MachineIndexEntry {
    /// Row id.
    pub id: i64,
    /// Digest of the lower-cased hostname (the machine's identity).
    pub host: KeyDigest,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// Hash of the stored software list, `None` if never reported.
    pub software_hash: Option<i64>,
    /// Stored responsible.
    pub responsible: Option<OwnerMark>,
    /// Stored main user.
    pub main_user: Option<OwnerMark>,
}

/// A distinct program title with its match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleRow {
    /// Row id.
    pub id: i64,
    /// `DisplayName`.
    pub name: String,
    /// `DisplayVersion` (empty when absent).
    pub version: String,
    /// `Publisher` (empty when absent).
    pub publisher: String,
    /// Matched cycle.
    pub cycle: Option<CycleRef>,
    /// Matched application.
    pub application: Option<String>,
}

/// One installation to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRow {
    /// The title's id.
    pub title_id: i64,
    /// Install date.
    pub install_date: Option<NaiveDate>,
    /// Last use.
    pub last_used: Option<DateTime<Utc>>,
}

/// A machine's new software list, with what it derives.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftwareWrite {
    /// Hash of the list as reported.
    pub hash: i64,
    /// The installations, in report order.
    pub rows: Vec<InstallRow>,
    /// Distinct matched cycles, each with its latest use on the machine.
    pub cycles: Vec<(CycleRef, Option<DateTime<Utc>>)>,
    /// Distinct applications, each with its latest use on the machine.
    pub applications: Vec<(String, Option<DateTime<Utc>>)>,
}

/// A change to one owner fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerChange {
    /// Set the role to this fact.
    Set(OwnerRole, OwnerFact),
    /// Forget the role (unknown).
    Clear(OwnerRole),
}

/// One winning report to store.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineWrite {
    /// Stored row id, `None` for a machine not stored yet.
    pub id: Option<i64>,
    /// Lower-cased hostname.
    pub host_key: String,
    /// Hostname as reported.
    pub hostname: String,
    /// Domain.
    pub domain: Option<String>,
    /// OS facts.
    pub os: OsInfo,
    /// OS match.
    pub os_match: Option<CycleRef>,
    /// `collected_at`.
    pub collected_at: DateTime<Utc>,
    /// `None`: keep the stored list.
    pub software: Option<SoftwareWrite>,
    /// Owner changes.
    pub owners: Vec<OwnerChange>,
}

/// A person the network database named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPerson {
    /// Login (lower-cased).
    pub login: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// A network-database answer (200 or 404), to cache and apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDbAnswer {
    /// Lower-cased hostname.
    pub host_key: String,
    /// `false` for 404.
    pub found: bool,
    /// Responsible named, if any.
    pub responsible: Option<DirectoryPerson>,
    /// Main user named, if any.
    pub main_user: Option<DirectoryPerson>,
}

/// A cached network-database answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNetDb {
    /// Lower-cased hostname.
    pub host_key: String,
    /// `false` for 404.
    pub found: bool,
    /// Responsible login.
    pub responsible: Option<String>,
    /// Main user login.
    pub main_user: Option<String>,
    /// When fetched.
    pub fetched_at: DateTime<Utc>,
}

/// A user row from `users import`, with the groups it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImport {
    /// The user.
    pub user: User,
    /// Group names.
    pub groups: Vec<String>,
}

/// A stored machine, as reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineRow {
    /// Row id.
    pub id: i64,
    /// Hostname as last reported.
    pub hostname: String,
    /// Domain.
    pub domain: Option<String>,
    /// OS facts.
    pub os: OsInfo,
    /// OS match.
    pub os_match: Option<CycleRef>,
    /// First stored.
    pub first_seen: DateTime<Utc>,
    /// Last time a report won.
    pub last_seen: DateTime<Utc>,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// Responsible.
    pub responsible: Option<OwnerFact>,
    /// Main user.
    pub main_user: Option<OwnerFact>,
}

/// One installed program of one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledSoftware {
    /// Title.
    pub name: String,
    /// Version.
    pub version: String,
    /// Publisher.
    pub publisher: String,
    /// Install date.
    pub install_date: Option<NaiveDate>,
    /// Last use.
    pub last_used: Option<DateTime<Utc>>,
    /// Matched cycle.
    pub cycle: Option<CycleRef>,
    /// Application.
    pub application: Option<String>,
}

/// A machine set aside by migration 12 because a stored field was over the
/// snapshot format's limits (`rejected_machines`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedMachine {
    /// The first 64 characters of its stored hostname.
    pub hostname: String,
    /// The stored hostname's length in bytes.
    pub hostname_bytes: i64,
    /// `collected_at` of its stored report.
    pub last_report: DateTime<Utc>,
    /// Every field over its limit, by name.
    pub reason: String,
    /// When it was set aside.
    pub rejected_at: DateTime<Utc>,
}

/// Counts of what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Machines.
    pub machines: i64,
    /// Distinct titles.
    pub titles: i64,
    /// Installations.
    pub installations: i64,
    /// Users.
    pub users: i64,
}

/// The inventory store. One implementation per backend; the application
/// holds an `Arc<dyn Store>` chosen at start-up.
#[async_trait]
pub trait Store: CampaignStore + Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    // --- ingest ---

    /// Every machine, with what the ingest decides on.
    async fn machine_index(&self) -> Result<Vec<MachineIndexEntry>>;
    /// Every distinct title.
    async fn titles(&self) -> Result<Vec<TitleRow>>;
    /// Store new titles (existing ones are left as they are); returns all of
    /// them with their ids.
    async fn upsert_titles(&self, titles: &[TitleRow]) -> Result<Vec<TitleRow>>;
    /// Store winning reports in one transaction; returns `(host_key, id)` of
    /// each machine written.
    async fn apply_machines(
        &self,
        writes: &[MachineWrite],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>>;
    /// Network-database answers fetched at or after `since`.
    async fn netdb_cache(&self, since: DateTime<Utc>) -> Result<Vec<CachedNetDb>>;
    /// Cache network-database answers, create or update the people they name
    /// (keeping chat handles), and fill the owner roles that neither a
    /// snapshot nor an answer holds, in one transaction.
    async fn apply_netdb(&self, answers: &[NetDbAnswer], now: DateTime<Utc>) -> Result<()>;
    /// Record the start of an ingest run.
    async fn start_run(&self, source: &str, now: DateTime<Utc>) -> Result<i64>;
    /// Record the end of an ingest run with its summary (JSON).
    async fn finish_run(&self, id: i64, summary: &str, now: DateTime<Utc>) -> Result<()>;
    /// After an ingest that changed machines: refresh the planner's
    /// statistics (and on PostgreSQL the visibility map the reports'
    /// index-only scans need), so reports are fast at once rather than after
    /// the next autovacuum.
    async fn tidy_after_ingest(&self) -> Result<()>;

    // --- directory ---

    /// Create or update users from a site list, replacing their group
    /// memberships; empty fields keep what is stored.
    async fn import_users(&self, users: &[UserImport], now: DateTime<Utc>) -> Result<()>;
    /// One user.
    async fn user(&self, login: &str) -> Result<Option<User>>;
    /// The user whose address on a chat `channel` is `address`: on
    /// `matrix` the Matrix ID as written; on `mattermost` the username,
    /// case aside, a stored leading `@` or blanks ignored. `None` for an
    /// empty address or another channel.
    async fn user_by_chat(&self, channel: &str, address: &str) -> Result<Option<User>>;
    /// The groups a user belongs to.
    async fn groups_of(&self, login: &str) -> Result<Vec<String>>;
    /// Set an owner fact directly (campaign answers, admins).
    async fn set_owner(
        &self,
        host_key: &str,
        role: OwnerRole,
        fact: Option<&OwnerFact>,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // --- catalog ---

    /// Rows saved by `catalog refresh`.
    async fn refreshed_catalog(&self) -> Result<Vec<CycleInfo>>;
    /// Save refreshed rows (replacing rows of the same product and cycle).
    async fn save_refreshed_catalog(&self, rows: &[CycleInfo], now: DateTime<Utc>) -> Result<()>;
    /// Re-store title matches, then rebuild the derived per-machine tables.
    async fn update_title_matches(&self, titles: &[TitleRow]) -> Result<()>;
    /// Every machine's id and OS facts.
    async fn machine_os(&self) -> Result<Vec<(i64, OsInfo)>>;
    /// Re-store OS matches.
    async fn update_os_matches(&self, matches: &[(i64, Option<CycleRef>)]) -> Result<()>;

    // --- reports ---

    /// Machines the window counts, per OS match (`None` for unmatched).
    async fn os_counts(&self, window: Window) -> Result<Vec<(Option<CycleRef>, i64)>>;
    /// Machines the window counts, per matched software cycle.
    async fn software_counts(&self, window: Window) -> Result<Vec<(CycleRef, i64)>>;
    /// Machines the window counts, per application.
    async fn application_counts(&self, window: Window) -> Result<Vec<(String, i64)>>;
    /// Every machine known in the window (stale ones too: only
    /// `window.before` applies) holding what these licences cover, with its
    /// user (main user, else responsible) and the last use there.
    async fn licence_holders(
        &self,
        covers: &[crate::licence::Coverage],
        window: Window,
    ) -> Result<Vec<crate::licence::Holder>>;
    /// What the licence report counts, for these coverages: the machines
    /// the window counts (`fresh`), every machine's user and the installs,
    /// in compact form.
    async fn licence_usage(
        &self,
        covers: &[crate::licence::Coverage],
        window: Window,
    ) -> Result<crate::licence::UsageFacts>;
    /// What a dated report can know: the oldest stored report's
    /// `collected_at` (`None` when no machine is stored) and how many
    /// machines' latest report was collected at or after `instant`.
    async fn reported_since(&self, instant: DateTime<Utc>) -> Result<(Option<DateTime<Utc>>, i64)>;
    /// Every group membership: login -> groups.
    async fn group_memberships(&self) -> Result<HashMap<String, Vec<String>>>;
    /// One machine by host key.
    async fn machine(&self, host_key: &str) -> Result<Option<MachineRow>>;
    /// A machine's installed software.
    async fn machine_software(&self, machine_id: i64) -> Result<Vec<InstalledSoftware>>;
    /// Matched software cycles of machines.
    async fn software_cycles_of(&self, machine_ids: &[i64]) -> Result<Vec<(i64, CycleRef)>>;
    /// Machines a person is responsible for or mainly uses.
    async fn machines_of(&self, login: &str) -> Result<Vec<MachineRow>>;
    /// Counts of what is stored.
    async fn counts(&self) -> Result<StoreCounts>;
    /// The machines set aside for fields over the format's limits, oldest
    /// first, at most `limit` of them, and how many there are in all.
    async fn rejected_machines(&self, limit: i64) -> Result<(Vec<RejectedMachine>, i64)>;
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
    let connect_err = |source| StoreError::Connect {
        url: redact_url(url),
        source,
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
