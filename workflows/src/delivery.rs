//! The delivery worker: takes due messages from the outbox, sends each
//! through its channel, and records the result. Transient failures are
//! retried with exponential backoff and full jitter; a per-channel circuit
//! breaker stops hammering a server that is down and probes it again after
//! a pause; a per-channel rate limit paces sending. A claimed message is
//! leased, so if the process dies mid-send the lease runs out and the
//! message goes again, with the same Message-ID (at least once).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rand::Rng as _;
use winventory_core::store::{OutboxRow, Store, StoreError};

/// Why a channel could not deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (server down, busy, timed out).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Will never work (address rejected, message refused).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The server asks to wait this long before sending anything more
    /// (Matrix `M_LIMIT_EXCEEDED`, HTTP 429 with `Retry-After`): the
    /// channel is held that long, and the attempt does not count towards
    /// giving up.
    #[error("rate limited for {retry_after:?}: {detail}")]
    RateLimited {
        /// How long the server asked to wait.
        retry_after: std::time::Duration,
        /// What was refused.
        detail: String,
    },
}

/// A way of reaching people (email, Matrix, Mattermost).
#[async_trait]
pub trait Channel: Send + Sync {
    /// The channel's name, as in `outbox.channel`.
    fn name(&self) -> &'static str;
    /// Deliver one message. Must not log the message body or secrets.
    async fn send(&self, message: &OutboxRow) -> Result<(), SendError>;
}

/// Tuning of the worker.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Messages claimed at a time.
    pub batch: i64,
    /// How long a claim holds before another worker may send the message.
    pub lease: Duration,
    /// Attempts before a message is given up.
    pub max_attempts: i64,
    /// First retry delay (doubles each attempt, with full jitter).
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Consecutive transient failures that open a channel's breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker waits before one probe.
    pub breaker_cooldown: Duration,
    /// Messages per second per channel.
    pub rate_per_second: NonZeroU32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch: 10,
            lease: Duration::minutes(5),
            max_attempts: 12,
            backoff_base: Duration::seconds(30),
            backoff_max: Duration::hours(1),
            breaker_threshold: 5,
            breaker_cooldown: Duration::seconds(60),
            rate_per_second: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Messages claimed.
    pub claimed: u64,
    /// Accepted by their channel.
    pub sent: u64,
    /// To be retried.
    pub retried: u64,
    /// Given up.
    pub failed: u64,
    /// Refused for good by their channel and queued again on their fallback
    /// channel (a chat message going out by email).
    pub fell_back: u64,
    /// Held back by an open breaker (rescheduled, no attempt counted... but
    /// the claim's attempt is: a breaker delay is short).
    pub held: u64,
    /// Whether a global pause held everything.
    pub paused: bool,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<DateTime<Utc>>,
}

type Limiter = governor::DefaultDirectRateLimiter;

/// The worker.
pub struct Worker {
    store: Arc<dyn Store>,
    channels: HashMap<&'static str, Arc<dyn Channel>>,
    cfg: DeliveryConfig,
    breakers: HashMap<String, Breaker>,
    limiters: HashMap<String, Limiter>,
    clock: Option<DateTime<Utc>>,
}

/// The name of the global pause switch in the `control` table.
pub const PAUSE_ALL: &str = "pause_all";

impl Worker {
    /// A worker over these channels.
    pub fn new(
        store: Arc<dyn Store>,
        channels: Vec<Arc<dyn Channel>>,
        cfg: DeliveryConfig,
    ) -> Self {
        Self {
            store,
            channels: channels.into_iter().map(|c| (c.name(), c)).collect(),
            cfg,
            breakers: HashMap::new(),
            limiters: HashMap::new(),
            clock: None,
        }
    }

    /// Run at a fixed time instead of the system clock (rehearsals, tests).
    pub fn at(mut self, now: Option<DateTime<Utc>>) -> Self {
        self.clock = now;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    fn backoff(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let ceiling = self
            .cfg
            .backoff_base
            .checked_mul(1 << exp)
            .unwrap_or(self.cfg.backoff_max)
            .min(self.cfg.backoff_max);
        let ms = ceiling.num_milliseconds().max(1);
        // Full jitter: anywhere up to the ceiling, at least a second.
        Duration::milliseconds(rand::rng().random_range(1000.min(ms)..=ms))
    }

    /// Claim and send what is due now; returns what happened.
    pub async fn run_once(&mut self) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        if self.store.control(PAUSE_ALL).await?.is_some() {
            report.paused = true;
            return Ok(report);
        }
        let now = self.now();
        let due = self
            .store
            .claim_due(now, self.cfg.lease, self.cfg.batch)
            .await?;
        report.claimed = due.len() as u64;
        for m in due {
            self.deliver(&m, &mut report).await?;
        }
        Ok(report)
    }

    async fn deliver(
        &mut self,
        m: &OutboxRow,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let Some(channel) = self.channels.get(m.channel.as_str()).cloned() else {
            // A channel not configured in this process: leave it to one that has it.
            self.store
                .mark_retry(
                    m.id,
                    now + self.cfg.lease,
                    &format!("channel {} is not configured here", m.channel),
                )
                .await?;
            report.held += 1;
            return Ok(());
        };
        let breaker = self.breakers.entry(m.channel.clone()).or_default();
        if let Some(until) = breaker.open_until {
            if now < until {
                self.store
                    .mark_retry(
                        m.id,
                        until,
                        &format!("{} is unavailable; waiting before trying again", m.channel),
                    )
                    .await?;
                report.held += 1;
                return Ok(());
            }
            // Cool-down over: this message is the probe.
            breaker.open_until = None;
        }
        let rate = self.cfg.rate_per_second;
        self.limiters
            .entry(m.channel.clone())
            .or_insert_with(|| governor::RateLimiter::direct(governor::Quota::per_second(rate)))
            .until_ready()
            .await;
        let result = channel.send(m).await;
        let after = self.now();
        let breaker = self.breakers.entry(m.channel.clone()).or_default();
        match result {
            Ok(()) => {
                breaker.failures = 0;
                self.store.mark_sent(m.id, self.now()).await?;
                report.sent += 1;
                tracing::info!(id = m.id, channel = %m.channel, recipient = %m.recipient, "message sent");
            }
            Err(SendError::Permanent(e)) => match self.store.mark_failed(m.id, &e, after).await? {
                Some(fallback) => {
                    report.fell_back += 1;
                    tracing::warn!(id = m.id, channel = %m.channel, recipient = %m.recipient, error = %e, %fallback, "message refused for good; sending it by the fallback channel");
                }
                None => {
                    report.failed += 1;
                    tracing::warn!(id = m.id, channel = %m.channel, recipient = %m.recipient, error = %e, "message refused for good");
                }
            },
            Err(SendError::RateLimited {
                retry_after,
                detail,
            }) => {
                // The server said when: hold the channel until then (every
                // message on it would be refused too) and retry this one
                // first; being asked to wait is not a failure.
                let wait = chrono::Duration::from_std(retry_after)
                    .unwrap_or(chrono::Duration::MAX)
                    .min(chrono::Duration::hours(1));
                let until = after + wait;
                breaker.open_until = Some(breaker.open_until.map_or(until, |u| u.max(until)));
                self.store.mark_wait(m.id, until, &detail).await?;
                report.retried += 1;
                tracing::info!(id = m.id, channel = %m.channel, wait_ms = wait.num_milliseconds(), "rate limited by the server; waiting as asked");
            }
            Err(SendError::Transient(e)) => {
                breaker.failures += 1;
                if breaker.failures >= self.cfg.breaker_threshold {
                    breaker.open_until = Some(after + self.cfg.breaker_cooldown);
                    breaker.failures = 0;
                    tracing::warn!(channel = %m.channel, "circuit open after repeated failures; probing again later");
                }
                if m.attempts >= self.cfg.max_attempts {
                    let why = format!("gave up after {} attempts: {e}", m.attempts);
                    match self.store.mark_failed(m.id, &why, after).await? {
                        Some(_) => report.fell_back += 1,
                        None => report.failed += 1,
                    }
                } else {
                    let at = self.now() + self.backoff(m.attempts);
                    self.store.mark_retry(m.id, at, &e).await?;
                    report.retried += 1;
                }
                tracing::warn!(id = m.id, channel = %m.channel, error = %e, "delivery failed; will retry");
            }
        }
        Ok(())
    }

    /// Deliver until `stop` turns true, pausing `idle` when nothing is due.
    pub async fn run(
        &mut self,
        mut stop: tokio::sync::watch::Receiver<bool>,
        idle: std::time::Duration,
    ) -> Result<(), StoreError> {
        while !*stop.borrow() {
            let r = self.run_once().await?;
            if r.claimed == 0 || r.paused {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use winventory_core::store::{Backend, NewMessage, connect};
    use winventory_core::testing::fresh_database;

    use super::*;

    /// A channel that answers from a script, then accepts everything.
    struct Scripted {
        script: Mutex<VecDeque<SendError>>,
        sent: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Channel for Scripted {
        fn name(&self) -> &'static str {
            "chat"
        }
        async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
            if let Some(e) = self.script.lock().expect("script").pop_front() {
                return Err(e);
            }
            self.sent.lock().expect("sent").push(m.idem_key.clone());
            Ok(())
        }
    }

    fn message(key: &str) -> NewMessage {
        NewMessage {
            idem_key: key.into(),
            message_id: format!("<{key}@test>"),
            channel: "chat".into(),
            recipient: "asmith".into(),
            address: "@asmith:example.org".into(),
            fallback: None,
            subject: "s".into(),
            body_text: "t".into(),
            body_html: None,
            machines: Vec::new(),
            reminder: false,
            actions: Vec::new(),
            buttons: None,
        }
    }

    #[tokio::test]
    async fn a_rate_limited_channel_is_held_as_long_as_the_server_asks_and_the_attempt_is_not_counted()
     {
        let db = fresh_database(Backend::Sqlite).await;
        let store = connect(&db.url).await.expect("store");
        let t0 = Utc::now();
        store
            .enqueue(&[message("a"), message("b")], t0)
            .await
            .expect("enqueue");
        let channel = Arc::new(Scripted {
            script: Mutex::new(VecDeque::from([SendError::RateLimited {
                retry_after: std::time::Duration::from_secs(30),
                detail: "M_LIMIT_EXCEEDED".into(),
            }])),
            sent: Mutex::new(Vec::new()),
        });
        let cfg = DeliveryConfig {
            max_attempts: 1,
            ..DeliveryConfig::default()
        };
        let mut worker = Worker::new(store.clone(), vec![channel.clone()], cfg).at(Some(t0));
        let r = worker.run_once().await.expect("run");
        // The first is refused for now, and the second is not even tried.
        assert_eq!((r.claimed, r.sent, r.retried, r.held), (2, 0, 1, 1));
        // Before the wait is over, nothing is due.
        let mut worker = worker.at(Some(t0 + Duration::seconds(29)));
        assert_eq!(worker.run_once().await.expect("run").claimed, 0);
        // After it, both go, although max_attempts is 1: waiting was no attempt.
        let mut worker = worker.at(Some(t0 + Duration::seconds(31)));
        let r = worker.run_once().await.expect("run");
        assert_eq!((r.sent, r.failed), (2, 0), "{r:?}");
        let mut sent = channel.sent.lock().expect("sent").clone();
        sent.sort();
        assert_eq!(sent, ["a", "b"]);
        let rows = store.outbox().await.expect("outbox");
        assert!(rows.iter().all(|m| m.state == "sent"), "{rows:?}");
    }
}
