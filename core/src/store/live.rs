//! What live pages follow: the change log of campaign machines (written by
//! the database's own triggers, so every process and channel appears in
//! it), a campaign's counts by state and answer, and its daily counts for
//! the burn-down, with the days before they were kept rebuilt from the
//! answers.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Result;

/// One change of a campaign machine: added, answered (again), resolved or
/// reopened, handed to someone else, its exception decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEvent {
    /// Increasing id (the SSE event id; never reused).
    pub id: i64,
    /// When the database wrote it.
    pub at: DateTime<Utc>,
    /// The campaign.
    pub campaign_id: i64,
    /// The machine.
    pub machine_id: i64,
    /// Its hostname as last reported (empty when the machine left the
    /// campaign since).
    pub hostname: String,
    /// Who is asked about it now (a login or `group:NAME`).
    pub recipient: String,
    /// Who was asked before, when this change handed it over.
    pub previous_recipient: Option<String>,
    /// `open`, `answered` or `resolved`.
    pub state: String,
    /// The latest answer's word.
    pub answer: Option<String>,
}

/// How many machines of a campaign are in one state with one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCount {
    /// `open`, `answered` or `resolved`.
    pub state: String,
    /// The latest answer's word (`None`: never answered).
    pub answer: Option<String>,
    /// Machines.
    pub machines: i64,
}

/// A campaign's counts at the end of one day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The day.
    pub day: NaiveDate,
    /// Target machines.
    pub targets: i64,
    /// Not answered yet.
    pub open: i64,
    /// Answered, not resolved.
    pub answered: i64,
    /// Resolved.
    pub resolved: i64,
}

/// A campaign's machines in one directory group and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStateCount {
    /// The directory group.
    pub group: String,
    /// `open`, `answered` or `resolved`.
    pub state: String,
    /// Machines.
    pub machines: i64,
}

/// Which of a campaign's machines a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MachinesShown {
    /// Every one.
    #[default]
    All,
    /// Not answered yet.
    Open,
    /// Answered, not resolved.
    Answered,
    /// Resolved.
    Resolved,
    /// Answered with a date (upgrade by, ESU until...) that has passed.
    PromisePassed(NaiveDate),
    /// With an exception requested or decided.
    Exceptions,
}

/// The live pages' reads.
#[async_trait]
pub trait LiveStore: Send + Sync {
    /// Changes with an id above `after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<ChangeEvent>>;
    /// Changes among these ids (ids a reader saw missing: written by a
    /// transaction that had not committed yet).
    async fn changes_among(&self, ids: &[i64]) -> Result<Vec<ChangeEvent>>;
    /// The latest change's id (0 when there is none).
    async fn last_change(&self) -> Result<i64>;
    /// Forget changes written before `before`; returns how many.
    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64>;
    /// A campaign's machines counted by state and latest answer.
    async fn campaign_counts(&self, campaign_id: i64) -> Result<Vec<StateCount>>;
    /// How many of a campaign's machines left `open` (positive) or went
    /// back to it (negative) in each quarter of an hour, by the quarter's
    /// start, oldest first: what the burn-down is rebuilt from for days no
    /// count was kept, cut into days in the campaign's time zone (every
    /// zone's offset is a multiple of 15 minutes).
    async fn campaign_closure_changes(&self, campaign_id: i64)
    -> Result<Vec<(DateTime<Utc>, i64)>>;
    /// Machines of a campaign by the directory groups of their responsible
    /// or main user, and state (a machine counts once in each of its
    /// owners' groups).
    async fn campaign_group_counts(&self, campaign_id: i64) -> Result<Vec<GroupStateCount>>;
    /// Keep a campaign's counts for a day (replacing that day's).
    async fn save_campaign_day(&self, campaign_id: i64, count: &DayCount) -> Result<()>;
    /// One page of a campaign's machines by host key, after `after`.
    async fn campaign_machines_page(
        &self,
        campaign_id: i64,
        shown: MachinesShown,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<super::CampaignMachine>>;
    /// What changes when an ingest finishes (finished runs, and the last
    /// one's time): pages that show fleet figures recount only then.
    async fn inventory_revision(&self) -> Result<(i64, i64)>;
    /// A campaign's kept daily counts, oldest first.
    async fn campaign_days(&self, campaign_id: i64) -> Result<Vec<DayCount>>;
}
