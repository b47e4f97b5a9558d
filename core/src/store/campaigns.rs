//! The campaigns role: the campaign rows, the machines each one asks about
//! with their answers, the engine's decisions and the audit log. The rules
//! (who is asked, what a digest holds, when to remind) live in the
//! workflows crate; this is only what they read and write, each state
//! change and the messages it causes in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{MachineRow, NewMessage, Result};
use crate::domain::{CycleRef, User};

/// A campaign's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Created; nothing sent. Preview and test-send work.
    Draft,
    /// Sending and reminding.
    Running,
    /// Nothing new is sent until resumed (queued messages wait).
    Paused,
    /// Over: links stop working, nothing more is sent.
    Closed,
}

impl CampaignState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Closed => "closed",
        }
    }

    /// From [`CampaignState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Running, Self::Paused, Self::Closed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignRow {
    /// `campaigns.id`: answer tokens and the outbox name the campaign by it.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `eol`, `custom` or `licence`.
    pub kind: String,
    /// Where it is in its life.
    pub state: CampaignState,
    /// The TOML it was created from.
    pub spec: String,
    /// When it was stored (as a draft).
    pub created_at: DateTime<Utc>,
    /// When it first ran (a resume after a pause keeps it).
    pub started_at: Option<DateTime<Utc>>,
    /// When it was closed (`None` until then).
    pub closed_at: Option<DateTime<Utc>>,
}

/// A machine a campaign asks about, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTarget {
    /// `machines.id`.
    pub machine_id: i64,
    /// The machine's host key (lower-cased hostname), kept with the row so
    /// listings need no join.
    pub host_key: String,
    /// The machine's hostname as last reported (what people are shown).
    pub hostname: String,
    /// Who is asked: a login, or `group:NAME`.
    pub recipient: String,
}

/// A machine of a campaign, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignMachine {
    /// `campaigns.id`.
    pub campaign_id: i64,
    /// `machines.id`.
    pub machine_id: i64,
    /// The machine's host key (lower-cased hostname), kept with the row so
    /// listings need no join: for matching and sorting, never to show.
    pub host_key: String,
    /// The machine's hostname as last reported: what people are shown
    /// (a later report under another spelling updates it).
    pub hostname: String,
    /// Who is asked now.
    pub recipient: String,
    /// `open`, `answered` or `resolved`.
    pub state: String,
    /// The latest answer's kind.
    pub answer: Option<String>,
    /// The date the answer names.
    pub answer_date: Option<NaiveDate>,
    /// Justification or named owner.
    pub answer_detail: Option<String>,
    /// Who gave the latest answer (a login).
    pub answered_by: Option<String>,
    /// When the latest answer was given.
    pub answered_at: Option<DateTime<Utc>>,
    /// Why it is resolved.
    pub resolution: Option<String>,
    /// Digests that listed it.
    pub messages: i64,
    /// Reminders since the last answer.
    pub reminders: i64,
    /// Escalation steps taken.
    pub escalation: i64,
    /// When last listed in a digest.
    pub last_messaged: Option<DateTime<Utc>>,
    /// Exception request: `requested`, `approved` or `declined`.
    pub exception_state: Option<String>,
    /// The admin who decided it.
    pub exception_decided_by: Option<String>,
    /// The admin's note (the reason for a decline).
    pub exception_note: Option<String>,
    /// Who passed the machine on with "not mine" to the current recipient
    /// (cleared when the recipient confirms by answering).
    pub transfer_from: Option<String>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// An answer to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// `campaigns.id`.
    pub campaign_id: i64,
    /// The machines it covers.
    pub machine_ids: Vec<i64>,
    /// Kind (`upgrade`, ...).
    pub answer: String,
    /// Date it names.
    pub date: Option<NaiveDate>,
    /// Justification / named owner.
    pub detail: Option<String>,
    /// A free comment the person added.
    pub comment: Option<String>,
    /// Who answered.
    pub by: String,
    /// Through which channel (`email`, `cli`, ...).
    pub via: String,
}

/// What [`CampaignStore::answer_view`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerView {
    /// The campaign's name.
    pub campaign_name: String,
    /// Its state.
    pub state: CampaignState,
    /// The recipient's machines in it, by host.
    pub machines: Vec<CampaignMachine>,
    /// The person answering, when the directory knows them.
    pub person: Option<User>,
}

/// A change to one campaign machine decided by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineChange {
    /// The data shows it dealt with (`upgraded`, `decommissioned`, `fixed`).
    Resolve(String),
    /// An answer the data contradicts after its date: ask again.
    Reopen,
    /// "Not mine": ask `recipient` instead, remembering who passed it on
    /// (`from`); the machine is open again with a fresh reminder count.
    Reroute {
        /// The named person (a login) or the fallback group.
        recipient: String,
        /// Who said "not mine".
        from: String,
    },
    /// Ask someone further up the chain (`recipient`), as step `step`.
    Escalate {
        /// New recipient key.
        recipient: String,
        /// Escalation steps taken so far, this one included.
        step: i64,
    },
}

/// An admin's decision on an exception request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionDecision {
    /// `campaigns.id`.
    pub campaign_id: i64,
    /// `machines.id`.
    pub machine_id: i64,
    /// `approved` or `declined`.
    pub decision: String,
    /// The admin.
    pub by: String,
    /// The admin's note.
    pub note: Option<String>,
}

/// One line of the audit log: one admin action (or attempt), whatever the
/// edge it came through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The edge: `cli`, `matrix`, `mattermost` or `http`.
    pub channel: String,
    /// Who (a login, the operating-system user of a command line, or the
    /// chat ID of a stranger).
    pub actor: String,
    /// In which role they acted: `admin` (an admin group in chat),
    /// `owner`, `stranger`, `operator` (the command line: whoever can run
    /// it against the database).
    pub role: String,
    /// The action, such as `campaign pause` or `exception approve`.
    pub action: String,
    /// What it acted on (a campaign, a host, `all`); empty when nothing.
    pub target: String,
    /// The command as typed (chat) or as given (command line, without its
    /// settings).
    pub command: String,
    /// `done: ...`, `refused: ...` or `error: ...`.
    pub outcome: String,
    /// From where: the chat ID, the command line's `user@host`, the HTTP
    /// peer's address.
    pub origin: String,
}

/// One answer given for a machine of a campaign (the history keeps every
/// one; the machine keeps the latest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who answered (a login).
    pub by: String,
    /// Through which channel (`email`, `matrix`, `mattermost`, `cli`).
    pub via: String,
    /// Kind (`upgrade`, ...).
    pub answer: String,
    /// Date it names.
    pub date: Option<NaiveDate>,
    /// Justification / named owner.
    pub detail: Option<String>,
    /// A free comment the person added.
    pub comment: Option<String>,
}

/// Campaigns: their rows and states, the machines they select and ask
/// about, the answers and the engine's decisions, the audit log.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Store a new draft campaign; `Ok(None)` when the name is taken.
    async fn create_campaign(
        &self,
        name: &str,
        kind: &str,
        spec: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>>;
    /// Replace a draft campaign's kind and definition; `false` (and
    /// nothing changed) when it is not a draft.
    async fn replace_draft(&self, id: i64, kind: &str, spec: &str) -> Result<bool>;
    /// Delete a draft campaign with what hangs on it; `false` (and nothing
    /// deleted) when it is not a draft.
    async fn delete_draft(&self, id: i64) -> Result<bool>;
    /// Every campaign, oldest first.
    async fn campaigns(&self) -> Result<Vec<CampaignRow>>;
    /// One campaign by id or name.
    async fn campaign(&self, id_or_name: &str) -> Result<Option<CampaignRow>>;
    /// Change a campaign's state (and its start or close time).
    async fn set_campaign_state(
        &self,
        id: i64,
        state: CampaignState,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Fresh machines running one of the OS cycles or software cycles.
    async fn machines_with_cycles(
        &self,
        os: &[CycleRef],
        software: &[CycleRef],
        fresh_since: DateTime<Utc>,
    ) -> Result<Vec<MachineRow>>;
    /// Machines by id (any age).
    async fn machines_by_id(&self, ids: &[i64]) -> Result<Vec<MachineRow>>;
    /// Ids of machines running one of these applications.
    async fn machines_with_applications(&self, applications: &[String]) -> Result<Vec<i64>>;
    /// Installs of these applications (any machine age): (machine id,
    /// application, last use where metered).
    async fn application_installs(
        &self,
        applications: &[String],
    ) -> Result<Vec<(i64, String, Option<DateTime<Utc>>)>>;
    /// Add machines to a campaign (those already in it are left as they are).
    async fn add_campaign_machines(
        &self,
        campaign_id: i64,
        targets: &[NewTarget],
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// A campaign's machines, by host.
    async fn campaign_machines(&self, campaign_id: i64) -> Result<Vec<CampaignMachine>>;
    /// The machines of a campaign one recipient (login or `group:NAME`) is
    /// asked about, by host (an index look-up: what one click needs).
    async fn campaign_machines_of(
        &self,
        campaign_id: i64,
        recipient: &str,
    ) -> Result<Vec<CampaignMachine>>;
    /// What checking an answer needs, in one read (one round trip on the
    /// hot path of a click): the campaign's name and state, the machines of
    /// it `recipient` is asked about (by host), and the directory entry of
    /// `person`, the one answering. `None` when there is no such campaign.
    async fn answer_view(
        &self,
        campaign_id: i64,
        recipient: &str,
        person: &str,
    ) -> Result<Option<AnswerView>>;
    /// When each member of a group was last written to about each open
    /// machine of a campaign the group is asked about: (machine id, login,
    /// when).
    /// Machines asked of one person have none (theirs is the machine's
    /// `last_messaged`).
    async fn member_messages(&self, campaign_id: i64) -> Result<Vec<(i64, String, DateTime<Utc>)>>;
    /// Apply engine decisions to campaign machines, in one transaction.
    async fn change_campaign_machines(
        &self,
        campaign_id: i64,
        changes: &[(i64, MachineChange)],
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Decide a requested exception (`approved` or `declined`) and queue the
    /// owner's notice, in one transaction. `Ok(false)` when the machine has no
    /// pending request.
    async fn decide_exception(
        &self,
        d: &ExceptionDecision,
        notice: Option<&NewMessage>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Record an answer for machines of a campaign: the machines' latest
    /// answer and the history, in one transaction. A machine handed over
    /// with "not mine" whose new recipient answers anything but "not mine"
    /// gets that person as its responsible owner (source `answer`) in the
    /// same transaction (one statement on PostgreSQL). Returns the machines
    /// updated, as they are now, by host.
    async fn record_answer(
        &self,
        a: &AnswerRecord,
        now: DateTime<Utc>,
    ) -> Result<Vec<CampaignMachine>>;
    /// Every answer given for machine `host_key` of a campaign, oldest
    /// first.
    async fn answer_history(&self, campaign_id: i64, host_key: &str) -> Result<Vec<AnswerEntry>>;
    /// People a message of this campaign could not reach: recipients
    /// (logins) of its email messages that failed for good.
    async fn unreachable(&self, campaign_id: i64) -> Result<Vec<String>>;
    /// Make every open, already messaged machine of a campaign due for a
    /// reminder in the next wave (its schedule then counts from the epoch).
    /// Returns how many.
    async fn remind_open(&self, campaign_id: i64) -> Result<u64>;
    /// Write one line of the audit log (admin actions of every edge, chat
    /// commands).
    async fn audit(&self, e: &AuditEntry) -> Result<()>;
    /// The audit log, newest first, at most `limit` lines.
    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(self
            .audit_page(&AuditFilter::default(), limit)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }
    /// A page of the audit log the filter selects, newest first, at most
    /// `limit` lines, each with its id (the next page is `before` the last).
    async fn audit_page(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<(i64, AuditEntry)>>;
}

/// Which lines of the audit log a page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Lines with an id below this one (the page after one ending there).
    pub before: Option<i64>,
    /// Only this actor's lines.
    pub actor: Option<String>,
    /// Only lines about this target (a campaign, a host).
    pub target: Option<String>,
}
