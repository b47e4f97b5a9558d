//! The long-running loops of `worker` and `serve` (delivery, scheduler,
//! drop folder, chat listeners) and the truth about them.
//!
//! [`run_loop`] is the one discipline every loop follows: run a step, and
//! when it fails wait with exponential backoff and full jitter (1 s doubling
//! to a minute) and go on; never return before the stop signal. A database
//! outage, a locked SQLite file or a full disk is waited out, not fatal.
//! Each loop reports through its [`LoopHandle`] to the shared [`Health`],
//! which logs an outage once when it starts and once when it ends (never
//! once a minute or per message), and answers readiness (`/healthz`) and
//! the per-loop gauges of `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng as _;
use winventory_core::store::StoreError;
use winventory_workflows::engine::EngineError;

/// Why a step failed, and whether waiting will help.
#[derive(Debug, Clone)]
pub struct StepError {
    /// The database (or a peer) is away for a moment.
    pub transient: bool,
    /// What failed; never carries a secret (store errors mask URLs).
    pub message: String,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        Self {
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }
}

impl From<EngineError> for StepError {
    fn from(e: EngineError) -> Self {
        let transient = matches!(&e, EngineError::Store(s) if s.is_transient());
        Self {
            transient,
            message: e.to_string(),
        }
    }
}

impl From<anyhow::Error> for StepError {
    fn from(e: anyhow::Error) -> Self {
        let transient = e
            .chain()
            .find_map(|c| c.downcast_ref::<StoreError>())
            .is_some_and(StoreError::is_transient);
        Self {
            transient,
            message: format!("{e:#}"),
        }
    }
}

/// What a successful step wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// More work is waiting: step again at once.
    Again,
    /// Nothing to do: step again after this long (or at the stop signal).
    Idle(Duration),
}

#[derive(Debug, Clone)]
struct Failure {
    since: Instant,
    attempts: u64,
    transient: bool,
    message: String,
}

#[derive(Debug, Clone)]
struct LoopState {
    name: &'static str,
    started: Instant,
    /// A loop that succeeds less often than this is stuck (`None`: loops
    /// that wait for outside events, such as a chat connection).
    stuck_after: Option<Duration>,
    last_ok: Option<Instant>,
    last_ok_wall: Option<DateTime<Utc>>,
    failing: Option<Failure>,
    failures_total: u64,
    stopped: bool,
    /// Whether the process is unready while this loop fails (delivery,
    /// scheduler, drop folder); a chat listener whose server is away only
    /// degrades it (answer pages and callbacks still work).
    critical: bool,
}

/// The state of every loop of this process.
#[derive(Debug, Default)]
pub struct Health {
    loops: Mutex<Vec<LoopState>>,
    stopping: std::sync::atomic::AtomicBool,
}

/// One loop's line in `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopGauge {
    /// The loop's name.
    pub name: &'static str,
    /// Whether it is running and not failing or stuck.
    pub up: bool,
    /// Unix time of its last successful step, if any.
    pub last_ok_unix: Option<i64>,
    /// Failed steps since start.
    pub failures_total: u64,
}

impl Health {
    /// A new, empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Register a loop the process is not ready without; `stuck_after` is
    /// how long without a successful step means it is stuck.
    pub fn handle(
        self: &Arc<Self>,
        name: &'static str,
        stuck_after: Option<Duration>,
    ) -> LoopHandle {
        self.register(name, stuck_after, true)
    }

    /// Register a loop whose failure only degrades the process (a chat
    /// listener: its server being away stops no HTTP request).
    pub fn optional(self: &Arc<Self>, name: &'static str) -> LoopHandle {
        self.register(name, None, false)
    }

    fn register(
        self: &Arc<Self>,
        name: &'static str,
        stuck_after: Option<Duration>,
        critical: bool,
    ) -> LoopHandle {
        let mut loops = self.lock();
        loops.retain(|l| l.name != name);
        loops.push(LoopState {
            name,
            started: Instant::now(),
            stuck_after,
            last_ok: None,
            last_ok_wall: None,
            failing: None,
            failures_total: 0,
            stopped: false,
            critical,
        });
        LoopHandle {
            health: self.clone(),
            name,
        }
    }

    /// The process is shutting down: loops that end now are not a problem.
    pub fn stopping(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LoopState>> {
        // A poisoned lock only means a panic elsewhere; the data is plain.
        self.loops.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<R>(&self, name: &str, f: impl FnOnce(&mut LoopState) -> R) -> Option<R> {
        self.lock().iter_mut().find(|l| l.name == name).map(f)
    }

    /// What is wrong with the loops the process is not ready without, one
    /// line per loop (empty: every one is fine).
    pub fn problems(&self) -> Vec<String> {
        self.lines(true)
    }

    /// What is wrong with the loops that only degrade the process.
    pub fn degraded(&self) -> Vec<String> {
        self.lines(false)
    }

    fn lines(&self, critical: bool) -> Vec<String> {
        let now = Instant::now();
        let stopping = self.stopping.load(std::sync::atomic::Ordering::Relaxed);
        self.lock()
            .iter()
            .filter(|l| l.critical == critical)
            .filter_map(|l| problem(l, now, stopping))
            .collect()
    }

    /// Every loop's gauge.
    pub fn gauges(&self) -> Vec<LoopGauge> {
        let now = Instant::now();
        let stopping = self.stopping.load(std::sync::atomic::Ordering::Relaxed);
        self.lock()
            .iter()
            .map(|l| LoopGauge {
                name: l.name,
                up: problem(l, now, stopping).is_none(),
                last_ok_unix: l.last_ok_wall.map(|t| t.timestamp()),
                failures_total: l.failures_total,
            })
            .collect()
    }
}

fn problem(l: &LoopState, now: Instant, stopping: bool) -> Option<String> {
    if l.stopped {
        return (!stopping).then(|| format!("{}: stopped", l.name));
    }
    if let Some(f) = &l.failing {
        return Some(format!(
            "{}: failing for {} s ({} attempts): {}",
            l.name,
            now.duration_since(f.since).as_secs(),
            f.attempts,
            f.message
        ));
    }
    let since = l.last_ok.unwrap_or(l.started);
    match l.stuck_after {
        Some(limit) if now.duration_since(since) > limit => Some(format!(
            "{}: stuck, no progress for {} s",
            l.name,
            now.duration_since(since).as_secs()
        )),
        _ => None,
    }
}

/// How one loop reports to [`Health`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LoopHandle {
    health: Arc<Health>,
    name: &'static str,
}

impl LoopHandle {
    /// A step succeeded; an outage in progress is over (logged once).
    pub fn ok(&self) {
        let ended = self
            .health
            .with(self.name, |l| {
                l.last_ok = Some(Instant::now());
                l.last_ok_wall = Some(Utc::now());
                l.failing.take()
            })
            .flatten();
        if let Some(f) = ended {
            tracing::warn!(
                task = self.name,
                after_secs = f.since.elapsed().as_secs(),
                attempts = f.attempts,
                "recovered; going on"
            );
        }
    }

    /// A step failed. The first failure of an outage is logged (and a
    /// change from transient to permanent); the repeats are only counted.
    pub fn failed(&self, e: &StepError) {
        let first = self
            .health
            .with(self.name, |l| {
                l.failures_total += 1;
                match &mut l.failing {
                    Some(f) => {
                        f.attempts += 1;
                        let changed = f.transient != e.transient;
                        f.transient = e.transient;
                        f.message.clone_from(&e.message);
                        changed
                    }
                    None => {
                        l.failing = Some(Failure {
                            since: Instant::now(),
                            attempts: 1,
                            transient: e.transient,
                            message: e.message.clone(),
                        });
                        true
                    }
                }
            })
            .unwrap_or(true);
        if first {
            if e.transient {
                tracing::warn!(task = self.name, error = %e, "unavailable; waiting it out and going on (logged once until it recovers)");
            } else {
                tracing::error!(task = self.name, error = %e, "failed; retrying with backoff (logged once until it recovers)");
            }
        }
    }

    /// The loop ended.
    pub fn stopped(&self) {
        self.health.with(self.name, |l| l.stopped = true);
    }
}

/// The backoff before retry `n` (1-based): a random wait between half and
/// all of a ceiling of 1 s doubling to 60 s. Every retry loop of the binary
/// waits by it (the loops here, Mattermost's reconnects).
pub fn backoff(n: u64) -> Duration {
    let exp = u32::try_from(n.saturating_sub(1).min(6)).unwrap_or(6);
    let ceiling = Duration::from_secs(1u64 << exp).min(Duration::from_secs(60));
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(60_000);
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

/// Run `step` until `stop` turns true: after a success as the step asks
/// ([`Pace`]), after a failure with backoff. Never returns early. With
/// `interruptible` false a step in progress is finished before stopping
/// (delivery: a send and its record are not cut in two).
pub async fn run_loop<F, Fut>(
    handle: LoopHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
    interruptible: bool,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Pace, StepError>>,
{
    let mut failures = 0u64;
    while !*stop.borrow() {
        let result = if interruptible {
            tokio::select! {
                r = step() => r,
                _ = stop.changed() => break,
            }
        } else {
            step().await
        };
        let wait = match result {
            Ok(pace) => {
                failures = 0;
                handle.ok();
                match pace {
                    Pace::Again => {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    Pace::Idle(d) => d,
                }
            }
            Err(e) => {
                failures += 1;
                handle.failed(&e);
                backoff(failures)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    handle.stopped();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_loop_is_a_problem_until_it_recovers_and_a_silent_one_is_stuck() {
        let health = Health::new();
        let h = health.handle("delivery", Some(Duration::from_secs(3600)));
        assert!(health.problems().is_empty());
        h.failed(&StepError {
            transient: true,
            message: "database error: connection refused".into(),
        });
        h.failed(&StepError {
            transient: true,
            message: "database error: connection refused".into(),
        });
        let p = health.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("delivery: failing") && p[0].contains("2 attempts"),
            "{p:?}"
        );
        assert!(!health.gauges()[0].up);
        h.ok();
        assert!(health.problems().is_empty());
        let g = &health.gauges()[0];
        assert!(
            g.up && g.last_ok_unix.is_some() && g.failures_total == 2,
            "{g:?}"
        );

        let s = health.handle("scheduler", Some(Duration::ZERO));
        std::thread::sleep(Duration::from_millis(5));
        assert!(health.problems()[0].starts_with("scheduler: stuck"));
        s.ok();
        s.stopped();
        assert_eq!(health.problems(), ["scheduler: stopped"]);
        health.stopping();
        assert!(health.problems().is_empty());

        let chat = health.optional("mattermost");
        chat.failed(&StepError {
            transient: true,
            message: "Mattermost websocket closed".into(),
        });
        assert!(
            health.problems().is_empty(),
            "a chat server away is no readiness problem"
        );
        assert_eq!(health.degraded().len(), 1);
        assert!(
            !health
                .gauges()
                .iter()
                .any(|g| g.name == "mattermost" && g.up)
        );
    }

    #[test]
    fn backoff_grows_to_a_minute_and_never_beyond() {
        assert!(backoff(1) <= Duration::from_secs(1));
        assert!(backoff(1) >= Duration::from_millis(500));
        assert!(backoff(100) <= Duration::from_secs(60));
        assert!(backoff(100) >= Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_loop_goes_on_after_failures_and_stops_only_when_told() {
        let health = Health::new();
        let h = health.handle("t", None);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = calls.clone();
        let task = tokio::spawn(run_loop(h, rx, true, move || {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n < 2 {
                    Err(StepError {
                        transient: true,
                        message: "away".into(),
                    })
                } else {
                    Ok(Pace::Idle(Duration::from_millis(10)))
                }
            }
        }));
        // Two failures (backoff 0.5-1 s, then 1-2 s), then successes.
        tokio::time::timeout(Duration::from_secs(10), async {
            while calls.load(std::sync::atomic::Ordering::SeqCst) < 5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the loop went on after its failures");
        assert!(health.problems().is_empty(), "{:?}", health.problems());
        assert!(!task.is_finished());
        tx.send(true).expect("stop");
        task.await.expect("the loop ends at the stop signal");
        assert_eq!(health.problems(), ["t: stopped"]);
    }
}
