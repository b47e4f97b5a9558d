//! The live feed of one serving process: a reader of the database's change
//! log (migration 0019) that every open page's stream subscribes to, and
//! the campaigns' figures it keeps up to date.
//!
//! One task polls the log (every [`POLL`]) and hands each change to the
//! streams through a broadcast channel; for each campaign a batch touched
//! it counts the campaign again once (one grouped query), keeps the day's
//! count for the burn-down, and broadcasts the figures. Pages read the
//! figures from here, never recounting per view. Ids a reader finds
//! missing (a PostgreSQL transaction that took its id earlier but committed
//! later) are read again for [`HOLE_TTL`], so no change is skipped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use winventory_core::store::{CampaignState, ChangeEvent};
use winventory_workflows::engine::{Engine, Figures, GroupProgress};

use crate::clock::Clock;

/// How often the change log is read.
pub const POLL: Duration = Duration::from_millis(200);
/// How long an id found missing is looked for again.
pub const HOLE_TTL: Duration = Duration::from_secs(10);
/// Changes read per query.
const BATCH: i64 = 2_000;
/// Changes kept in the log (a page away longer reloads).
pub const KEEP_CHANGES: chrono::TimeDelta = chrono::TimeDelta::days(2);
/// How long a campaign's progress per group is kept when no change
/// touched it (directory groups change without a change in the log).
const GROUPS_KEPT: Duration = Duration::from_secs(300);
/// Updates a slow stream may fall behind before it is told to reload.
const CHANNEL: usize = 4_096;

/// One update for the streams.
#[derive(Debug, Clone)]
pub enum Live {
    /// A machine of a campaign changed.
    Change {
        /// The change.
        event: ChangeEvent,
        /// The campaign's name.
        campaign: String,
    },
    /// A campaign's figures after the changes up to `id`.
    Figures {
        /// The last change counted.
        id: i64,
        /// The figures.
        figures: Arc<Figures>,
    },
}

impl Live {
    /// The change-log id this update follows.
    pub fn id(&self) -> i64 {
        match self {
            Live::Change { event, .. } => event.id,
            Live::Figures { id, .. } => *id,
        }
    }
}

/// A campaign's progress per group as last counted.
#[derive(Clone)]
struct KeptGroups {
    counted: i64,
    at: Instant,
    progress: Arc<Vec<GroupProgress>>,
}

/// The feed of one process.
pub struct Feed {
    tx: broadcast::Sender<Arc<Live>>,
    figures: std::sync::RwLock<HashMap<i64, Arc<Figures>>>,
    /// Per campaign: how many changes read touched it (a generation).
    touched: std::sync::RwLock<HashMap<i64, i64>>,
    /// Per campaign: progress per group, the generation it counted, when.
    groups: std::sync::RwLock<HashMap<i64, KeptGroups>>,
    names: std::sync::RwLock<HashMap<i64, String>>,
    last: AtomicI64,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

impl Feed {
    /// A feed that has read nothing yet.
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(CHANNEL).0,
            figures: std::sync::RwLock::default(),
            touched: std::sync::RwLock::default(),
            groups: std::sync::RwLock::default(),
            names: std::sync::RwLock::default(),
            last: AtomicI64::new(0),
        }
    }

    /// Updates from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Live>> {
        self.tx.subscribe()
    }

    /// Open streams.
    pub fn streams(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The last change read.
    pub fn last(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    /// A campaign's figures: kept ones, or counted now and kept.
    pub async fn figures(
        &self,
        engine: &Engine,
        c: &winventory_workflows::engine::Campaign,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Arc<Figures>, winventory_workflows::engine::EngineError> {
        let kept = self
            .figures
            .read()
            .ok()
            .and_then(|m| m.get(&c.row.id).cloned());
        // A state change (pause, close) moves no machine: compare it too,
        // and the day (days left).
        if let Some(f) = kept.filter(|f| f.state == c.row.state.as_str() && f.today == c.today(now))
        {
            return Ok(f);
        }
        let f = Arc::new(engine.figures(c, now).await?);
        if let Ok(mut m) = self.figures.write() {
            m.insert(c.row.id, f.clone());
        }
        Ok(f)
    }

    /// A campaign's progress per group: kept until a change touches the
    /// campaign (or [`GROUPS_KEPT`] passes), then counted again once.
    pub async fn group_progress(
        &self,
        engine: &Engine,
        c: &winventory_workflows::engine::Campaign,
    ) -> Result<Arc<Vec<GroupProgress>>, winventory_workflows::engine::EngineError> {
        let touched = self
            .touched
            .read()
            .ok()
            .and_then(|m| m.get(&c.row.id).copied())
            .unwrap_or(0);
        let kept = self
            .groups
            .read()
            .ok()
            .and_then(|m| m.get(&c.row.id).cloned());
        if let Some(k) = kept
            && k.counted >= touched
            && k.at.elapsed() < GROUPS_KEPT
        {
            return Ok(k.progress);
        }
        // The generation before counting: a change read meanwhile counts again.
        let counted = touched;
        let progress = Arc::new(engine.group_progress(c).await?);
        if let Ok(mut m) = self.groups.write() {
            m.insert(
                c.row.id,
                KeptGroups {
                    counted,
                    at: Instant::now(),
                    progress: progress.clone(),
                },
            );
        }
        Ok(progress)
    }

    async fn campaign_name(&self, engine: &Engine, id: i64) -> Option<String> {
        if let Some(n) = self.names.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Some(n);
        }
        let row = engine.store.campaign(&id.to_string()).await.ok()??;
        if let Ok(mut m) = self.names.write() {
            m.insert(id, row.name.clone());
        }
        Some(row.name)
    }

    /// Read what changed since the last call and tell the streams.
    /// `holes`: ids found missing, with when.
    async fn step(
        &self,
        engine: &Engine,
        clock: &Clock,
        holes: &mut BTreeMap<i64, Instant>,
    ) -> Result<usize, winventory_core::store::StoreError> {
        let mut events = Vec::new();
        if !holes.is_empty() {
            let ids: Vec<i64> = holes.keys().copied().collect();
            let found = engine.store.changes_among(&ids).await?;
            for e in &found {
                holes.remove(&e.id);
            }
            events.extend(found);
            holes.retain(|_, since| since.elapsed() < HOLE_TTL);
        }
        loop {
            let after = self.last();
            let batch = engine.store.changes_after(after, BATCH).await?;
            let full = batch.len() as i64 == BATCH;
            let mut expected = after + 1;
            for e in &batch {
                if after > 0 {
                    for missing in expected..e.id {
                        holes.insert(missing, Instant::now());
                    }
                }
                expected = e.id + 1;
            }
            if let Some(e) = batch.last() {
                self.last.store(e.id, Ordering::Release);
            }
            events.extend(batch);
            if !full {
                break;
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len();
        let mut touched: HashSet<i64> = HashSet::new();
        let mut last_id = 0;
        for event in events {
            touched.insert(event.campaign_id);
            last_id = last_id.max(event.id);
            if let Ok(mut m) = self.touched.write() {
                *m.entry(event.campaign_id).or_default() += 1;
            }
            let campaign = self
                .campaign_name(engine, event.campaign_id)
                .await
                .unwrap_or_default();
            // No stream open: nothing to send (an error only says so).
            let _ = self.tx.send(Arc::new(Live::Change { event, campaign }));
        }
        let now = clock.now();
        for id in touched {
            let Ok(c) = engine.campaign(&id.to_string()).await else {
                continue;
            };
            let f = match engine.figures(&c, now).await {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    tracing::warn!(campaign = %c.row.name, error = %e, "live figures not counted");
                    continue;
                }
            };
            if c.row.state != CampaignState::Draft
                && let Err(e) = engine.keep_day(&c, &f, now).await
            {
                tracing::warn!(campaign = %c.row.name, error = %e, "daily count not kept");
            }
            if let Ok(mut m) = self.figures.write() {
                m.insert(id, f.clone());
            }
            let _ = self.tx.send(Arc::new(Live::Figures {
                id: last_id,
                figures: f,
            }));
        }
        Ok(n)
    }

    /// Keep every running campaign's count for today and prune the log
    /// (hourly: a day without changes still gets its count).
    async fn housekeeping(&self, engine: &Engine, clock: &Clock) {
        let now = clock.now();
        if let Ok(rows) = engine.store.campaigns().await {
            for row in rows.iter().filter(|r| r.state == CampaignState::Running) {
                if let Ok(c) = engine.campaign(&row.id.to_string()).await
                    && let Ok(f) = self.figures(engine, &c, now).await
                    && let Err(e) = engine.keep_day(&c, &f, now).await
                {
                    tracing::warn!(campaign = %row.name, error = %e, "daily count not kept");
                }
            }
        }
        if let Err(e) = engine.store.prune_changes(now - KEEP_CHANGES).await {
            tracing::warn!(error = %e, "change log not pruned");
        }
    }

    /// Follow the change log until `stop`: from its end as it is now (a
    /// page asks for what it missed itself, with `Last-Event-ID`).
    pub async fn run(
        self: Arc<Self>,
        engine: Engine,
        clock: Clock,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        match engine.store.last_change().await {
            Ok(id) => self.last.store(id, Ordering::Release),
            Err(e) => {
                tracing::warn!(error = %e, "change log not read; live pages start from its beginning")
            }
        }
        let mut holes = BTreeMap::new();
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hourly = tokio::time::interval(Duration::from_secs(3600));
        hourly.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    if let Err(e) = self.step(&engine, &clock, &mut holes).await {
                        tracing::warn!(error = %e, "change log not read; trying again");
                    }
                }
                _ = hourly.tick() => self.housekeeping(&engine, &clock).await,
            }
        }
    }
}
