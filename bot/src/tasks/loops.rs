//! The loops of a long-running process, each a task under the
//! [`Supervisor`](super::Supervisor) with its stop signal and the
//! retry-on-error discipline of [`supervise::run_loop`]: delivery (drain
//! the outbox), the scheduler (plan a wave every minute) and the drop
//! folder (ingest snapshots on a schedule).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use winventory_workflows::delivery::Worker;
use winventory_workflows::engine::Engine;

use super::supervise;
use crate::app::IngestRun;
use crate::clock::Clock;
use crate::http::AppState;

/// How long the delivery and scheduler loops may go without a successful
/// step before readiness calls them stuck (a step can take minutes: a batch
/// of slow SMTP exchanges, a wave over 100,000 machines).
const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// The delivery loop: drain the outbox, idle half a second when nothing is
/// due, wait out database outages (outcomes of sends are kept until they
/// can be recorded, see [`Worker::run_once`]).
pub fn spawn_delivery(
    health: &Arc<supervise::Health>,
    worker: Worker,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use supervise::{Pace, run_loop};
    let worker = Arc::new(tokio::sync::Mutex::new(worker));
    let handle = health.handle("delivery", Some(STUCK_AFTER));
    tokio::spawn(run_loop(handle, stop, false, move || {
        let worker = worker.clone();
        async move {
            let r = worker.lock().await.run_once().await?;
            Ok(if r.claimed == 0 || r.paused {
                Pace::Idle(std::time::Duration::from_millis(500))
            } else {
                Pace::Again
            })
        }
    }))
}

/// The scheduler: plan a wave every minute.
pub fn spawn_scheduler(
    health: &Arc<supervise::Health>,
    e: Engine,
    clock: Clock,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use supervise::{Pace, run_loop};
    let handle = health.handle("scheduler", Some(STUCK_AFTER));
    tokio::spawn(run_loop(handle, stop, true, move || {
        let e = e.clone();
        async move {
            let w = e.tick(clock.now()).await?;
            if w.queued > 0 {
                tracing::info!(queued = w.queued, "wave planned");
            }
            Ok(Pace::Idle(std::time::Duration::from_secs(60)))
        }
    }))
}

/// The snapshots waiting in a drop folder, oldest name first.
fn dropped_files(folder: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !n.starts_with('.')
                && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz") || n.ends_with(".json.gz"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Ingest the drop folder on its schedule: every waiting snapshot in one run
/// (the latest report wins across them), then move them to `done/`. A run
/// that failed (exit 2: unreadable or cut-off input) leaves them in place for
/// the next run, which completes the rest (the CLI's semantics). A run that
/// could not start (database away, folder unreadable) is retried with
/// backoff, not left to the next scheduled time.
pub fn spawn_drop_folder(
    health: &Arc<supervise::Health>,
    state: Arc<AppState>,
    folder: PathBuf,
    schedule: cron::Schedule,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use supervise::{Pace, StepError, run_loop};
    let handle = health.handle("drop-folder", None);
    let retry = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let wait_stop = stop.clone();
    tokio::spawn(run_loop(handle, stop, false, move || {
        let (state, folder, schedule, retry) = (
            state.clone(),
            folder.clone(),
            schedule.clone(),
            retry.clone(),
        );
        let mut stop = wait_stop.clone();
        async move {
            if !retry.swap(false, std::sync::atomic::Ordering::Relaxed) {
                let Some(next) = schedule.upcoming(Utc).next() else {
                    return Ok(Pace::Idle(std::time::Duration::from_secs(3600)));
                };
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return Ok(Pace::Again),
                }
            }
            let result = ingest_drop_folder(&state, &folder).await;
            if result.is_err() {
                retry.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            result.map(|()| Pace::Again).map_err(StepError::from)
        }
    }))
}

/// One run over the drop folder.
async fn ingest_drop_folder(state: &AppState, folder: &std::path::Path) -> Result<()> {
    let files = dropped_files(folder)
        .with_context(|| format!("cannot read the drop folder {}", folder.display()))?;
    if files.is_empty() {
        return Ok(());
    }
    let _guard = state.ingest_lock.lock().await;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let run = IngestRun {
        reload_catalog: true,
        ..IngestRun::at(state.app.clock.now())
    };
    let summary = state
        .app
        .ingest_files(&names, run)
        .await
        .context("the scheduled ingest could not start")?;
    tracing::info!(
        files = files.len(),
        accepted = summary.accepted,
        rejected = summary.rejected,
        new = summary.machines_new,
        updated = summary.machines_updated,
        "scheduled ingest done"
    );
    if summary.exit_code() == 2 {
        tracing::error!(failures = ?summary.failures, "the scheduled ingest failed; the files stay for the next run");
        return Ok(());
    }
    let done = folder.join("done");
    std::fs::create_dir_all(&done).with_context(|| format!("cannot create {}", done.display()))?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("snapshot");
        if let Err(e) = std::fs::rename(&f, done.join(format!("{stamp}-{name}"))) {
            tracing::error!(file = %f.display(), error = %e, "cannot move an ingested snapshot to done/");
        }
    }
    Ok(())
}
