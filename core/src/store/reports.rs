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

/// What the reports read: counts over a [`Window`], the licence facts, one
/// machine or one person's machines, and what is stored.
#[async_trait]
pub trait ReportStore: Send + Sync {
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
