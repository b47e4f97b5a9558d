//! The inventory role: what the ingest reads and writes. The machine index
//! (a fixed-size entry per stored machine), the distinct program titles, a
//! batch of winning reports with their software lists and owners, the
//! network database's answers, and the record of each ingest run.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::Result;
use crate::domain::{CycleRef, OsInfo, OwnerFact, OwnerRole, OwnerSource};

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
    /// `machines.id`, what every other table names the machine by.
    pub id: i64,
    /// Digest of the lower-cased hostname (the machine's identity).
    pub host: KeyDigest,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// Hash of the stored software list, `None` if never reported.
    pub software_hash: Option<i64>,
    /// The stored responsible's source and login digest (`None`: unknown).
    pub responsible: Option<OwnerMark>,
    /// The stored main user's source and login digest (`None`: unknown).
    pub main_user: Option<OwnerMark>,
}

/// A distinct program title with its match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleRow {
    /// `software_titles.id` (ignored when storing a new title).
    pub id: i64,
    /// `DisplayName`; with version and publisher, the title's identity.
    pub name: String,
    /// `DisplayVersion` (empty when absent).
    pub version: String,
    /// `Publisher` (empty when absent).
    pub publisher: String,
    /// The catalog cycle the software rules placed it in (`None`: unmatched).
    pub cycle: Option<CycleRef>,
    /// The application licences count it as (`MATLAB`), if a rule names one.
    pub application: Option<String>,
}

/// One installation to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRow {
    /// `software_titles.id`.
    pub title_id: i64,
    /// `InstallDate` as reported (a date without a time).
    pub install_date: Option<NaiveDate>,
    /// Last use, where the collector meters it.
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
    /// The Windows domain or workgroup, as reported.
    pub domain: Option<String>,
    /// The OS as reported.
    pub os: OsInfo,
    /// The catalog cycle the OS matched (`None`: unmatched).
    pub os_match: Option<CycleRef>,
    /// When the collector took the report (the latest report wins).
    pub collected_at: DateTime<Utc>,
    /// `None`: keep the stored list.
    pub software: Option<SoftwareWrite>,
    /// Owner facts to set or forget (a fact from an answer is never
    /// replaced by the ingest).
    pub owners: Vec<OwnerChange>,
}

/// A person the network database named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPerson {
    /// Login (lower-cased).
    pub login: String,
    /// Display name (`None` keeps the stored one).
    pub name: Option<String>,
    /// Email (`None` keeps the stored one).
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
    /// When it was fetched (answers are reused for a day).
    pub fetched_at: DateTime<Utc>,
}

/// What the ingest reads and writes: the machine index it decides from,
/// the titles it matches once, a batch of winning reports, network-database
/// answers, the record of each run.
#[async_trait]
pub trait InventoryStore: Send + Sync {
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
}
