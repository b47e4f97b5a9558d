//! Ingest as every edge runs it (the `ingest` and `demo` commands, the
//! snapshot upload of the HTTP API, the drop folder of `serve`): one set-up
//! of the pipeline (catalog, network database client, freshness window),
//! then the running campaigns re-checked against what was stored.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use winventory_ingest::cmf::{ByteCounter, Input};
use winventory_ingest::netdb::{NetDbClient, NetDbConfig};
use winventory_ingest::{IngestOptions, Pipeline, Summary};

use super::App;

/// How an ingest runs: its clock, transaction size and how long it waits
/// for outstanding owner look-ups once the input is stored.
#[derive(Debug, Clone, Copy)]
pub struct IngestRun {
    /// The ingest's "now" (reports' freshness and stored times).
    pub now: DateTime<Utc>,
    /// Machines written per transaction (`None`: the pipeline's default).
    pub batch: Option<usize>,
    /// Seconds to wait for outstanding look-ups.
    pub lookup_budget: u64,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
    /// Read the catalog again first (a long-running process: a `catalog
    /// refresh` may have changed it since start).
    pub reload_catalog: bool,
}

impl IngestRun {
    /// An ingest at `now` with the defaults (no progress bar).
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            batch: None,
            lookup_budget: 120,
            progress: false,
            reload_catalog: false,
        }
    }
}

impl App {
    /// The pipeline for one ingest run.
    async fn pipeline(&self, run: &IngestRun) -> Result<Pipeline> {
        let catalog = if run.reload_catalog {
            Arc::new(self.fresh_catalog().await?)
        } else {
            self.catalog.clone()
        };
        // Matches made with other rules (an upgrade, an edited site
        // catalog) are made again first, so reports count by today's rules.
        let again =
            winventory_ingest::rematch::bring_up_to_date(self.store.as_ref(), &catalog).await?;
        if let Some(r) = again.filter(|r| r.titles + r.machines > 0) {
            eprintln!(
                "note: the matching rules changed since the stored matches were made: {} titles and {} machines matched again",
                r.titles, r.machines
            );
        }
        let s = &self.settings;
        let netdb = match &s.network_db {
            Some(url) => {
                let mut cfg = NetDbConfig::new(url, s.network_db_token.clone());
                cfg.timeout = Duration::from_secs(s.network_db_timeout_secs);
                cfg.concurrency = s.network_db_concurrency;
                cfg.budget = Duration::from_secs(run.lookup_budget);
                Some(NetDbClient::new(cfg)?)
            }
            None => None,
        };
        let mut opts = IngestOptions::new(run.now);
        opts.freshness_days = s.freshness_days;
        if let Some(b) = run.batch {
            opts.batch_machines = b.max(1);
        }
        Ok(Pipeline::new(self.store.clone(), catalog, netdb, opts))
    }

    /// Ingest files (`-` is standard input) as `winventory ingest FILES`.
    pub async fn ingest_files(&self, files: &[String], run: IngestRun) -> Result<Summary> {
        let pipeline = self.pipeline(&run).await?;
        let inputs: Vec<_> = files
            .iter()
            .map(|f| Input::open(f).map_err(|e| (f.clone(), e)))
            .collect();
        let total: u64 = inputs
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .filter_map(|i| i.len)
            .sum();
        let counters = inputs
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|i| i.counter.clone())
            .collect();
        let bar = if run.progress && total > 0 {
            progress(total, counters)
        } else {
            None
        };
        let summary = pipeline.run(inputs).await;
        if let Some((bar, task)) = bar {
            task.abort();
            bar.finish_and_clear();
        }
        Ok(summary)
    }

    /// Ingest one uploaded snapshot file (the HTTP API): the CLI's
    /// semantics, with `name` in place of the file name in messages.
    pub async fn ingest_upload(
        &self,
        path: &std::path::Path,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Summary> {
        let run = IngestRun {
            reload_catalog: true,
            ..IngestRun::at(now)
        };
        let pipeline = self.pipeline(&run).await?;
        let input = std::fs::File::open(path)
            .and_then(|f| Input::from_reader(name, Box::new(f), None))
            .map_err(|e| (name.to_string(), e));
        Ok(pipeline.run(vec![input]).await)
    }

    /// Close the loop after an ingest that changed machines: running
    /// campaigns re-check their machines against what was just stored
    /// (resolve, reopen, escalate; messages follow from the next wave).
    pub async fn verify_campaigns(&self, now: DateTime<Utc>) -> Result<()> {
        let e = self.engine().await?;
        let users = e.directory().await?;
        for row in e.store.campaigns().await? {
            if row.state != winventory_core::store::CampaignState::Running {
                continue;
            }
            let c = e.campaign(&row.id.to_string()).await?;
            let v = e.verify(&c, &users, now).await?;
            if v.resolved + v.reopened + v.escalated + v.rerouted > 0 {
                eprintln!(
                    "campaign {}: {} machines resolved, {} reopened, {} escalated, {} handed to the owner named",
                    row.name, v.resolved, v.reopened, v.escalated, v.rerouted
                );
            }
        }
        Ok(())
    }
}

/// A progress bar over the bytes read, on a terminal only.
fn progress(
    total: u64,
    counters: Vec<ByteCounter>,
) -> Option<(ProgressBar, tokio::task::JoinHandle<()>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} ingest [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            b.set_position(counters.iter().map(|c| c.get()).sum());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Some((bar, task))
}
