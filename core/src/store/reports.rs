//! The reports role: every read a report makes, each applying the
//! [`Window`] of its as-of (fresh machines, and for a dated as-of only
//! those known then), and the rows they return.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::Result;
use crate::domain::{CycleRef, OsInfo, OwnerFact, Window};

/// A stored machine, as reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineRow {
    /// `machines.id`, what every other table names the machine by.
    pub id: i64,
    /// Hostname as last reported.
    pub hostname: String,
    /// The Windows domain or workgroup, as reported.
    pub domain: Option<String>,
    /// The OS as last reported.
    pub os: OsInfo,
    /// The catalog cycle the OS matched (`None`: unmatched).
    pub os_match: Option<CycleRef>,
    /// When it was first stored (the ingest's clock, not the collector's).
    pub first_seen: DateTime<Utc>,
    /// Last time a report won.
    pub last_seen: DateTime<Utc>,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// The responsible, with where the fact came from (`None`: unknown).
    pub responsible: Option<OwnerFact>,
    /// The main user, with where the fact came from (`None`: unknown).
    pub main_user: Option<OwnerFact>,
}

/// A directory person's name and e-mail address, as a machine's page shows
/// its owners (both `None` for a login the directory does not know).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Display name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

/// One machine as its page shows it: the stored row, its owners'
/// contacts, and its installed software in report order.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineInFull {
    /// The stored row.
    pub machine: MachineRow,
    /// The responsible's name and address.
    pub responsible: Contact,
    /// The main user's name and address.
    pub main_user: Contact,
    /// What it has installed.
    pub software: Vec<InstalledSoftware>,
}

/// One installed program of one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledSoftware {
    /// `DisplayName` as reported.
    pub name: String,
    /// `DisplayVersion` (empty when absent).
    pub version: String,
    /// `Publisher` (empty when absent).
    pub publisher: String,
    /// `InstallDate` as reported (a date without a time).
    pub install_date: Option<NaiveDate>,
    /// Last use, where the collector meters it.
    pub last_used: Option<DateTime<Utc>>,
    /// The catalog cycle its title matched (`None`: unmatched).
    pub cycle: Option<CycleRef>,
    /// The application licences count it as, if a rule names one.
    pub application: Option<String>,
}

/// A machine set aside by migration 12 because a stored field was over the
/// snapshot format's limits (`rejected_machines`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Stored machines, stale ones included.
    pub machines: i64,
    /// Distinct titles.
    pub titles: i64,
    /// Programs over every machine's software list.
    pub installations: i64,
    /// People in the directory.
    pub users: i64,
}

/// Which machines `winventory machines` starts from, by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Freshness {
    /// Those the window counts (what every report counts).
    #[default]
    Fresh,
    /// Those whose latest report is older than the freshness window.
    Stale,
    /// Both.
    Any,
}

/// The part of a machine listing the database selects: age, and whose
/// they are. Cycles and end-of-life dates are the catalog's, so they are
/// filtered by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineSelection {
    /// Fresh, stale or both, for this window (a dated as-of also leaves
    /// out the machines reported after it).
    pub freshness: Freshness,
    /// Only machines this login (lower-cased) is responsible for or mainly
    /// uses.
    pub owner: Option<String>,
    /// Only machines whose responsible or main user is in this group.
    pub group: Option<String>,
    /// Only machines whose key (lower-cased host name) sorts after this
    /// one (a page's cursor).
    pub after: Option<String>,
    /// At most this many machines (a page).
    pub limit: Option<i64>,
}

/// What the reports read: counts over a [`Window`], the licence facts, one
/// machine or one person's machines, and what is stored.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Machines the window counts, per OS match (`None` for unmatched).
    async fn os_counts(&self, window: Window) -> Result<Vec<(Option<CycleRef>, i64)>>;
    /// Machines the window counts, per matched software cycle.
    async fn software_counts(&self, window: Window) -> Result<Vec<(CycleRef, i64)>>;
    /// [`os_counts`](Self::os_counts) of the machines whose responsible or
    /// main user is in a directory group.
    async fn os_counts_in_group(
        &self,
        window: Window,
        group: &str,
    ) -> Result<Vec<(Option<CycleRef>, i64)>>;
    /// [`software_counts`](Self::software_counts) of the machines whose
    /// responsible or main user is in a directory group.
    async fn software_counts_in_group(
        &self,
        window: Window,
        group: &str,
    ) -> Result<Vec<(CycleRef, i64)>>;
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
    /// One machine by host key.
    async fn machine(&self, host_key: &str) -> Result<Option<MachineRow>>;
    /// One machine by host key with its responsible's and main user's
    /// contacts and its installed software, in one round trip once its
    /// titles are kept (what a machine's page and the API's machine read
    /// show).
    async fn machine_in_full(&self, host_key: &str) -> Result<Option<MachineInFull>>;
    /// A machine's installed software.
    async fn machine_software(&self, machine_id: i64) -> Result<Vec<InstalledSoftware>>;
    /// Matched software cycles of machines.
    async fn software_cycles_of(&self, machine_ids: &[i64]) -> Result<Vec<(i64, CycleRef)>>;
    /// Machines a person is responsible for or mainly uses.
    async fn machines_of(&self, login: &str) -> Result<Vec<MachineRow>>;
    /// The machines a selection names, in the window (ordered by host key).
    async fn select_machines(
        &self,
        selection: &MachineSelection,
        window: Window,
    ) -> Result<Vec<MachineRow>>;
    /// For each (product, cycles) asked, the distinct machines the window
    /// counts that have one of those cycles of the product installed (a
    /// machine with two ended Java cycles is one machine), in the order
    /// asked.
    async fn machines_with_software(
        &self,
        wanted: &[(String, Vec<String>)],
        window: Window,
    ) -> Result<Vec<i64>>;
    /// Counts of what is stored.
    async fn counts(&self) -> Result<StoreCounts>;
    /// The machines set aside for fields over the format's limits, oldest
    /// first, at most `limit` of them, and how many there are in all.
    async fn rejected_machines(&self, limit: i64) -> Result<(Vec<RejectedMachine>, i64)>;
}
