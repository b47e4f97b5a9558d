//! The outbox role: every message goes through this durable queue. A
//! message is queued once per key, claimed by one sender at a time for a
//! lease, and ends sent, failed or cancelled; a chat message refused for
//! good becomes its email fallback. Also the process-wide switches
//! (`control`) the delivery worker reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Result;

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Unique key: (campaigns, wave, person, channel).
    pub idem_key: String,
    /// Message-ID (email) or transaction id (chat), derived from the key.
    pub message_id: String,
    /// `email`, `matrix` or `mattermost`.
    pub channel: String,
    /// Login or `group:NAME`.
    pub recipient: String,
    /// Address on the channel.
    pub address: String,
    /// Where it goes instead if the channel refuses it for good: (channel,
    /// address), e.g. `("email", "jdoe@example.org")` for a chat message.
    pub fallback: Option<(String, String)>,
    /// Subject line (email) or first line (chat), rendered.
    pub subject: String,
    /// Plain text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// The campaign machines the message lists: (campaign id, machine id).
    pub machines: Vec<(i64, i64)>,
    /// Whether it is a reminder (for display; each machine listed again
    /// counts as reminded, one listed for the first time does not).
    pub reminder: bool,
    /// The answers offered for every machine it lists at once (answer
    /// kinds as stored), which chat channels show as a poll or buttons.
    pub actions: Vec<String>,
    /// Per-machine buttons with their signed answer tokens (JSON, see
    /// `winventory_workflows::buttons`), for chats that have buttons.
    pub buttons: Option<String>,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    /// Outbox row id (the delivery key is built from it).
    pub id: i64,
    /// Idempotency key.
    pub idem_key: String,
    /// Message-ID.
    pub message_id: String,
    /// Channel.
    pub channel: String,
    /// Recipient.
    pub recipient: String,
    /// Address.
    pub address: String,
    /// The fallback (channel, address), if the message has one left.
    pub fallback: Option<(String, String)>,
    /// Subject line (email) or first line (chat), rendered.
    pub subject: String,
    /// Text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// The answers offered for every machine at once (see [`NewMessage::actions`]).
    pub actions: Vec<String>,
    /// Per-machine buttons (see [`NewMessage::buttons`]).
    pub buttons: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Attempts so far (including the one a claim starts).
    pub attempts: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the channel accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

/// Counts of a campaign's messages by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be sent (or being sent).
    pub pending: i64,
    /// Accepted by the channel.
    pub sent: i64,
    /// Given up (permanent rejection or too many attempts).
    pub failed: i64,
    /// Dropped unsent because their campaigns closed.
    pub cancelled: i64,
}

/// The durable outbox every message goes through: queued once by key,
/// claimed for a lease, its outcome recorded, switched to its fallback
/// channel when refused for good; and the process-wide switches
/// (`pause_all`) the delivery worker obeys.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queue messages, and count each newly queued one against the machines
    /// it lists, in one transaction. A message whose key is already queued
    /// is skipped (planning twice sends once). Returns how many were new.
    async fn enqueue(&self, messages: &[NewMessage], now: DateTime<Utc>) -> Result<u64>;
    /// Claim up to `limit` due messages for `lease` (a crashed sender's
    /// claim runs out and the message is sent again).
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>>;
    /// The channel accepted the message.
    async fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()>;
    /// Try again at `at`.
    async fn mark_retry(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<()>;
    /// The server asked to wait: try again at `at`, and do not count the
    /// attempt the claim started.
    async fn mark_wait(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<()>;
    /// The channel refused the message for good: it becomes its fallback
    /// (channel and address swapped in, attempts reset, due at `now`) when it
    /// has one, and is given up otherwise. Returns the fallback channel used.
    async fn mark_failed(&self, id: i64, error: &str, now: DateTime<Utc>)
    -> Result<Option<String>>;
    /// Every message, oldest first.
    async fn outbox(&self) -> Result<Vec<OutboxRow>>;
    /// Messages by state.
    async fn outbox_counts(&self) -> Result<OutboxCounts>;
    /// A process-wide switch (`pause_all`).
    async fn control(&self, name: &str) -> Result<Option<String>>;
    /// Set (or with `None` clear) a switch.
    async fn set_control(&self, name: &str, value: Option<&str>) -> Result<()>;
}
