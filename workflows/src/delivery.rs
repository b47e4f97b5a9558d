//! The delivery worker: takes due messages from the outbox, sends each
//! through its channel, and records the result. Transient failures are
//! retried with exponential backoff and full jitter; a per-channel circuit
//! breaker stops hammering a server that is down and probes it again after
//! a pause; a per-channel rate limit paces sending. A claimed message is
//! leased, so if the process dies mid-send the lease runs out and the
//! message goes again, with the same Message-ID (at least once).

use std::collections::{HashMap, VecDeque};
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
    /// Outcomes not recorded yet, oldest first.
    unrecorded: VecDeque<(OutboxRow, Outcome)>,
    /// Claimed messages not sent yet (an outage cut their batch short),
    /// with when they were claimed.
    claimed: VecDeque<(OutboxRow, DateTime<Utc>)>,
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
            unrecorded: VecDeque::new(),
            claimed: VecDeque::new(),
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
    ///
    /// Outcomes of sends that could not be recorded (the database went away
    /// between the send and its record) are recorded first, then the rest
    /// of the batch that outage interrupted is sent, before anything new is
    /// claimed: a message that went out is never sent again by this worker,
    /// and none waits for its lease to run out. Only when the process dies with such an outcome unrecorded
    /// does the lease run out and the message go again, with the same
    /// Message-ID.
    pub async fn run_once(&mut self) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        self.record_pending(&mut report).await?;
        if self.store.control(PAUSE_ALL).await?.is_some() {
            report.paused = true;
            return Ok(report);
        }
        if self.claimed.is_empty() {
            let now = self.now();
            let due = self
                .store
                .claim_due(now, self.cfg.lease, self.cfg.batch)
                .await?;
            report.claimed = due.len() as u64;
            self.claimed.extend(due.into_iter().map(|m| (m, now)));
        }
        // The rest of a batch an outage interrupted goes first, while its
        // lease holds (past most of it, another worker may have it now).
        while let Some((m, claimed_at)) = self.claimed.pop_front() {
            if self.now() >= claimed_at + self.cfg.lease * 4 / 5 {
                continue;
            }
            let outcome = self.deliver(&m).await;
            self.unrecorded.push_back((m, outcome));
            self.record_pending(&mut report).await?;
        }
        Ok(report)
    }

    /// How many outcomes wait to be recorded (the database was away).
    pub fn unrecorded(&self) -> usize {
        self.unrecorded.len()
    }

    /// Record the outcomes kept in memory, oldest first; on a store error
    /// the rest stay for the next call.
    async fn record_pending(&mut self, report: &mut DeliveryReport) -> Result<(), StoreError> {
        while let Some((m, outcome)) = self.unrecorded.front() {
            self.record(m, outcome, report).await?;
            self.unrecorded.pop_front();
        }
        Ok(())
    }

    async fn record(
        &self,
        m: &OutboxRow,
        outcome: &Outcome,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        match outcome {
            Outcome::Sent { at } => {
                self.store.mark_sent(m.id, *at).await?;
                report.sent += 1;
                tracing::info!(id = m.id, channel = %m.channel, recipient = %m.recipient, "message sent");
            }
            Outcome::Held { until, why } => {
                self.store.mark_retry(m.id, *until, why).await?;
                report.held += 1;
            }
            Outcome::Retry { at, why } => {
                self.store.mark_retry(m.id, *at, why).await?;
                report.retried += 1;
                tracing::warn!(id = m.id, channel = %m.channel, error = %why, "delivery failed; will retry");
            }
            Outcome::Wait { until, why } => {
                self.store.mark_wait(m.id, *until, why).await?;
                report.retried += 1;
            }
            Outcome::Failed { at, why } => match self.store.mark_failed(m.id, why, *at).await? {
                Some(fallback) => {
                    report.fell_back += 1;
                    tracing::warn!(id = m.id, channel = %m.channel, recipient = %m.recipient, error = %why, %fallback, "message refused for good; sending it by the fallback channel");
                }
                None => {
                    report.failed += 1;
                    tracing::warn!(id = m.id, channel = %m.channel, recipient = %m.recipient, error = %why, "message refused for good");
                }
            },
        }
        Ok(())
    }

    /// Send one message (or decide not to now); no store access, so what
    /// happened is never lost to a database outage.
    async fn deliver(&mut self, m: &OutboxRow) -> Outcome {
        let now = self.now();
        let Some(channel) = self.channels.get(m.channel.as_str()).cloned() else {
            // A channel not configured in this process: leave it to one that has it.
            return Outcome::Held {
                until: now + self.cfg.lease,
                why: format!("channel {} is not configured here", m.channel),
            };
        };
        let breaker = self.breakers.entry(m.channel.clone()).or_default();
        if let Some(until) = breaker.open_until {
            if now < until {
                return Outcome::Held {
                    until,
                    why: format!("{} is unavailable; waiting before trying again", m.channel),
                };
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
                Outcome::Sent { at: after }
            }
            Err(SendError::Permanent(e)) => Outcome::Failed { at: after, why: e },
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
                tracing::info!(id = m.id, channel = %m.channel, wait_ms = wait.num_milliseconds(), "rate limited by the server; waiting as asked");
                Outcome::Wait { until, why: detail }
            }
            Err(SendError::Transient(e)) => {
                breaker.failures += 1;
                if breaker.failures >= self.cfg.breaker_threshold {
                    breaker.open_until = Some(after + self.cfg.breaker_cooldown);
                    breaker.failures = 0;
                    tracing::warn!(channel = %m.channel, "circuit open after repeated failures; probing again later");
                }
                if m.attempts >= self.cfg.max_attempts {
                    Outcome::Failed {
                        at: after,
                        why: format!("gave up after {} attempts: {e}", m.attempts),
                    }
                } else {
                    Outcome::Retry {
                        at: after + self.backoff(m.attempts),
                        why: e,
                    }
                }
            }
        }
    }
}

/// What became of one claimed message, kept until it is recorded.
#[derive(Debug, Clone)]
enum Outcome {
    /// Accepted by its channel.
    Sent { at: DateTime<Utc> },
    /// Not tried now (no such channel here, breaker open).
    Held { until: DateTime<Utc>, why: String },
    /// Failed for now; try again at `at`.
    Retry { at: DateTime<Utc>, why: String },
    /// The server asked to wait; not an attempt.
    Wait { until: DateTime<Utc>, why: String },
    /// Refused for good (or given up): fall back or fail.
    Failed { at: DateTime<Utc>, why: String },
}

#[cfg(test)]
mod tests {
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

    /// A channel that sends, then makes the database refuse every
    /// connection (as if it went away between the send and its record).
    struct CutsTheDatabase {
        admin: String,
        database: String,
        sent: Mutex<Vec<String>>,
    }

    async fn allow_connections(admin: &str, database: &str, allow: bool) {
        let pool = sqlx::PgPool::connect(admin)
            .await
            .expect("admin connection");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS {allow}"
        )))
        .execute(&pool)
        .await
        .expect("alter database");
        if !allow {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(database)
            .execute(&pool)
            .await
            .expect("terminate connections");
        }
        pool.close().await;
    }

    #[async_trait]
    impl Channel for CutsTheDatabase {
        fn name(&self) -> &'static str {
            "chat"
        }
        async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
            let first = {
                let mut sent = self.sent.lock().expect("sent");
                sent.push(m.idem_key.clone());
                sent.len() == 1
            };
            if first {
                allow_connections(&self.admin, &self.database, false).await;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_send_whose_record_failed_is_recorded_when_the_database_returns_and_never_sent_again()
    {
        let db = fresh_database(Backend::Postgres).await;
        let admin = std::env::var(winventory_core::testing::POSTGRES_ENV).expect("admin URL");
        let database = db.url.rsplit('/').next().expect("name").to_string();
        let store = connect(&db.url).await.expect("store");
        let t0 = Utc::now();
        store
            .enqueue(&[message("a"), message("b")], t0)
            .await
            .expect("enqueue");
        let channel = Arc::new(CutsTheDatabase {
            admin: admin.clone(),
            database: database.clone(),
            sent: Mutex::new(Vec::new()),
        });
        let mut worker = Worker::new(
            store.clone(),
            vec![channel.clone()],
            DeliveryConfig::default(),
        )
        .at(Some(t0));
        // "a" sent, but its record fails: the outcome is kept, "b" waits.
        assert!(
            worker.run_once().await.is_err(),
            "the record cannot succeed"
        );
        assert_eq!(worker.unrecorded(), 1);
        // Still away: nothing is claimed or sent again.
        assert!(worker.run_once().await.is_err());
        allow_connections(&admin, &database, true).await;
        // A pooled connection the cut broke may fail one statement (a
        // transient error, which the delivery loop retries) before a new
        // one is opened.
        let mut done = false;
        for _ in 0..3 {
            match worker.run_once().await {
                Ok(r) => {
                    assert_eq!(r.claimed, 0, "nothing is claimed again: {r:?}");
                    done = true;
                    break;
                }
                Err(e) => assert!(e.is_transient(), "{e}"),
            }
        }
        assert!(done, "the worker went on once the database was back");
        // The recorded send, then the rest of the cut batch, without
        // waiting for its lease, each sent once.
        assert_eq!(worker.unrecorded(), 0);
        assert_eq!(*channel.sent.lock().expect("sent"), ["a", "b"]);
        let rows = store.outbox().await.expect("outbox");
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|m| m.state == "sent"), "{rows:?}");
    }
}
