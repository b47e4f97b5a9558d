//! The chat role: what chat edges need of the messages they delivered (the
//! id a chat server gave one, the machines it lists) and of the events
//! they receive (each claimed once, even across restarts).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;

/// What [`ChatStore::posted_message`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    /// Idempotency key.
    pub idem_key: String,
    /// Recipient (login or `group:NAME`).
    pub recipient: String,
    /// The text.
    pub body_text: String,
    /// Its buttons (JSON), if any.
    pub buttons: Option<String>,
}

/// Which message [`ChatStore::listed_message`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// By its idempotency key (what an answer token names).
    Key(&'a str),
    /// By the id a chat server gave it on `channel` (a Matrix poll's event id).
    Remote {
        /// The channel.
        channel: &'a str,
        /// The chat server's id.
        id: &'a str,
    },
    /// The latest message sent to `recipient` on `channel` that lists
    /// machines (what a typed "all" answers).
    LatestSent {
        /// The person's login.
        recipient: &'a str,
        /// The channel.
        channel: &'a str,
    },
}

/// A message and the machines it lists (what an answer "for all" covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    /// Outbox id.
    pub id: i64,
    /// Idempotency key.
    pub idem_key: String,
    /// The person it was sent to (login).
    pub recipient: String,
    /// The channel it went through (last).
    pub channel: String,
    /// The machines it lists: (campaign id, machine id), sorted.
    pub machines: Vec<(i64, i64)>,
}

/// What chat edges need of delivered messages: the id a chat server gave
/// one, the machines it lists (what an answer "for all" covers), and each
/// chat event claimed once.
#[async_trait]
pub trait ChatStore: Send + Sync {
    /// Remember the id the chat server gave a delivered message (a
    /// Mattermost post id), so a click on it finds the message again.
    async fn set_remote_id(&self, id: i64, remote_id: &str) -> Result<()>;
    /// The message a chat server knows by `remote_id` on `channel`: what a
    /// click needs to rebuild the post (not the HTML, not the delivery state).
    async fn posted_message(&self, channel: &str, remote_id: &str)
    -> Result<Option<PostedMessage>>;
    /// A message with the machines it lists (none for messages queued
    /// before schema version 15), if there is one.
    async fn listed_message(&self, which: MessageRef<'_>) -> Result<Option<ListedMessage>>;
    /// Mark a chat event (a websocket post) as handled; `false` when it was
    /// already, so no event is acted on twice, even across restarts.
    async fn claim_event(&self, channel: &str, event_id: &str, now: DateTime<Utc>) -> Result<bool>;
    /// When the latest chat event of `channel` was claimed (where a
    /// listener that was away catches up from), if any ever was.
    async fn last_event_at(&self, channel: &str) -> Result<Option<DateTime<Utc>>>;
}
