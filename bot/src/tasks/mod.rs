//! The long-running processes, `winventory worker` and `winventory serve`,
//! and the [`Supervisor`] that starts their tasks (delivery, scheduler,
//! drop folder, chat listeners, the HTTP server), gives each the same stop
//! signal and discipline ([`supervise`]), can stop one or start another
//! later, and stops them all on SIGTERM or Ctrl-C.

mod loops;
pub mod supervise;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use winventory_workflows::delivery::{DeliveryConfig, DeliveryReport, Worker};
use winventory_workflows::engine::EngineError;

use crate::app::App;
use crate::channels::Channels;
use supervise::Health;

/// The tasks of a process: each has a name, its own stop signal and its
/// join handle; all report to one [`Health`].
pub struct Supervisor {
    health: Arc<Health>,
    tasks: Vec<Task>,
}

struct Task {
    name: String,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// No task yet.
    pub fn new() -> Self {
        Self {
            health: Health::new(),
            tasks: Vec::new(),
        }
    }

    /// The loops' registry, for readiness and metrics.
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Start a task: `spawn` gets the task's stop signal and returns its
    /// join handle.
    pub fn start(
        &mut self,
        name: &str,
        spawn: impl FnOnce(watch::Receiver<bool>) -> JoinHandle<()>,
    ) {
        let (stop, rx) = watch::channel(false);
        self.tasks.push(Task {
            name: name.to_string(),
            stop,
            handle: spawn(rx),
        });
    }

    /// Stop the tasks named `name` and wait for them to finish.
    pub async fn stop(&mut self, name: &str) {
        let (stopping, kept): (Vec<Task>, Vec<Task>) =
            self.tasks.drain(..).partition(|t| t.name == name);
        self.tasks = kept;
        for t in stopping {
            let _ = t.stop.send(true);
            let _ = t.handle.await;
        }
    }

    /// Stop every task (readiness says so at once) and wait for them.
    pub async fn shutdown(self) {
        self.health.stopping();
        for t in &self.tasks {
            let _ = t.stop.send(true);
        }
        for t in self.tasks {
            let _ = t.handle.await;
        }
    }

    /// Start the chat listeners of `channels`.
    fn start_listeners(
        &mut self,
        channels: &Channels,
        engine: &winventory_workflows::engine::Engine,
    ) {
        for l in &channels.listeners {
            let (l, e, h) = (l.clone(), engine.clone(), self.health.optional(l.name()));
            self.start(l.name(), move |stop| tokio::spawn(l.listen(e, h, stop)));
        }
    }
}

/// The outbox worker over the channels that deliver, on the app's clock.
fn delivery_worker(app: &App, channels: &Channels) -> Worker {
    Worker::new(
        app.store.clone(),
        channels.senders.clone(),
        delivery_config(app),
    )
    .at(app.clock.fixed())
}

/// The delivery worker's settings.
fn delivery_config(app: &App) -> DeliveryConfig {
    let s = &app.settings;
    DeliveryConfig {
        rate_per_second: std::num::NonZeroU32::new(s.delivery_rate)
            .unwrap_or(std::num::NonZeroU32::MIN),
        lease: chrono::Duration::seconds(s.delivery_lease_secs as i64),
        backoff_base: chrono::Duration::seconds(s.retry_base_secs as i64),
        ..DeliveryConfig::default()
    }
}

/// `winventory worker`: plan waves and deliver.
pub async fn worker(app: &App, once: bool, listen: Option<&str>) -> Result<u8> {
    // The probes' address first: a port taken is said before anything starts.
    let probes = match listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for the probes: is another process using it?")
        })?),
        None => None,
    };
    let e = app.engine().await?;
    let channels = Channels::connect(app, true).await?;
    let mut w = delivery_worker(app, &channels);
    if once {
        // What people wrote since the last run is answered first (and the
        // Matrix sync readies the bot's encryption for sending).
        for l in &channels.listeners {
            if let Err(err) = l.catch_up(e.clone()).await {
                tracing::warn!(channel = l.name(), error = %err, "cannot read the chat server; delivering anyway");
            }
        }
        let wave = e.tick(app.clock.now()).await?;
        let mut total = DeliveryReport::default();
        loop {
            let r = w.run_once().await?;
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.failed += r.failed;
            total.fell_back += r.fell_back;
            total.held += r.held;
            total.paused |= r.paused;
            if r.claimed == 0 || r.paused || r.sent + r.fell_back == 0 {
                break;
            }
        }
        println!(
            "queued {} new messages; sent {}, retrying {}, failed {}, fell back to email {}, held {}{}",
            wave.queued,
            total.sent,
            total.retried,
            total.failed,
            total.fell_back,
            total.held,
            if total.paused {
                " (every delivery is paused: `winventory resume --all`)"
            } else {
                ""
            }
        );
        return Ok(0);
    }
    let mut sup = Supervisor::new();
    let health = sup.health();
    let (sched_e, clock) = (e.clone(), app.clock);
    sup.start("scheduler", |stop| {
        loops::spawn_scheduler(&health, sched_e, clock, stop)
    });
    sup.start_listeners(&channels, &e);
    sup.start("delivery", |stop| loops::spawn_delivery(&health, w, stop));
    if let Some(listener) = probes {
        let router = crate::http::probes(
            app.store.clone(),
            health.clone(),
            app.settings.metrics_token.clone(),
        );
        eprintln!("probes on http://{}", listener.local_addr()?);
        sup.start("probes", move |mut stop| {
            tokio::spawn(async move {
                let done = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(done)
                    .await
                {
                    tracing::error!(error = %e, "the probes' listener stopped");
                }
            })
        });
    }
    shutdown_signal().await;
    sup.shutdown().await;
    Ok(0)
}

/// `winventory serve`: HTTP server, scheduler and delivery worker in one
/// process (`--no-worker`: the HTTP edge and Mattermost's conversation).
pub async fn serve(app: Arc<App>, no_worker: bool) -> Result<u8> {
    let e = app.engine().await?;
    if e.signer.is_none() {
        bail!(EngineError::NoKeys);
    }
    let settings = &app.settings;
    // Every connection is a file descriptor: take what the system allows.
    crate::http::listener::raise_open_files_limit();
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; set WINVENTORY_LISTEN or listen",
                settings.listen
            )
        })?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    let mut sup = Supervisor::new();
    let health = sup.health();
    let channels = Channels::connect(&app, !no_worker).await?;
    if !no_worker {
        let w = delivery_worker(&app, &channels);
        sup.start("delivery", |stop| loops::spawn_delivery(&health, w, stop));
        let (sched_e, clock) = (e.clone(), app.clock);
        sup.start("scheduler", |stop| {
            loops::spawn_scheduler(&health, sched_e, clock, stop)
        });
    }
    sup.start_listeners(&channels, &e);
    if let Some(w) = crate::http::access::legacy_warning(settings) {
        eprintln!("{w}");
    }
    let state = Arc::new(crate::http::AppState::new(
        app.clone(),
        e,
        channels.mattermost.clone(),
        health.clone(),
    )?);
    if let Some(folder) = settings.drop_folder.clone() {
        let schedule = winventory_workflows::spec::parse_cron(&settings.ingest_schedule)
            .map_err(|m| anyhow::anyhow!("ingest_schedule: {m}"))?;
        eprintln!(
            "ingesting {} on \"{}\" (UTC)",
            folder.display(),
            settings.ingest_schedule
        );
        let st = state.clone();
        sup.start("drop-folder", |stop| {
            loops::spawn_drop_folder(&health, st, folder, schedule, stop)
        });
    }
    {
        let (feed, fe, clock) = (state.web.feed.clone(), state.engine.clone(), app.clock);
        sup.start("live-feed", |stop| tokio::spawn(feed.run(fe, clock, stop)));
    }
    let (server_stop, mut server_rx) = watch::channel(false);
    let server = tokio::spawn(crate::http::run(listener, state, async move {
        let _ = server_rx.changed().await;
    }));
    shutdown_signal().await;
    // Readiness turns 503 first, then the server drains, then the loops.
    health.stopping();
    let _ = server_stop.send(true);
    server.await??;
    sup.shutdown().await;
    Ok(0)
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that runs until its stop signal, then says it stopped.
    fn until_stopped(
        done: Arc<std::sync::atomic::AtomicUsize>,
    ) -> impl FnOnce(watch::Receiver<bool>) -> JoinHandle<()> {
        move |mut stop| {
            tokio::spawn(async move {
                while !*stop.borrow() {
                    if stop.changed().await.is_err() {
                        break;
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        }
    }

    #[tokio::test]
    async fn one_task_stops_by_name_while_the_others_run_until_shutdown() {
        let (a, b) = (Arc::default(), Arc::default());
        let mut sup = Supervisor::new();
        sup.start("scheduler", until_stopped(Arc::clone(&a)));
        sup.start("delivery", until_stopped(Arc::clone(&b)));
        sup.stop("scheduler").await;
        assert_eq!(a.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(b.load(std::sync::atomic::Ordering::SeqCst), 0);
        // A task started later is stopped with the rest.
        sup.start("scheduler", until_stopped(Arc::clone(&a)));
        sup.shutdown().await;
        assert_eq!(a.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(b.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
