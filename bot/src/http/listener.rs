//! The HTTP listener: accepts connections and serves the router on each,
//! with the limits `axum::serve` does not expose.
//!
//! - A header read time-out: a client that has not sent a whole request
//!   head this long after connecting, or after its previous response, is
//!   disconnected (hyper's HTTP/1 timer; slow-header attacks end here).
//! - An idle time-out: a connection with no request in flight and no byte
//!   read or written this long is closed (HTTP/1 keep-alive and HTTP/2 alike).
//! - A cap on open connections, never above what the open-file limit
//!   leaves room for: when it is reached the oldest connection with no
//!   request in flight (a slow request head, an idle keep-alive) is closed
//!   to make room, so a flood of slow sockets cannot keep a new request
//!   (a health probe) out. Running out of file descriptors anyway
//!   (`EMFILE`) closes the oldest too, instead of spinning on accept.
//!
//! At start the process raises its soft limit of open files to the hard
//! limit. Each request carries the peer's address (`ConnectInfo`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt as _;

/// File descriptors kept out of the connection cap: the database pool,
/// the log, SQLite's files, chat clients, upload spools.
const RESERVED_FDS: u64 = 64;

/// The listener's limits (settings `header_read_timeout_secs`,
/// `idle_timeout_secs`, `max_connections`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time allowed for a request head, from connecting or from the last
    /// response.
    pub header_read_timeout: Duration,
    /// Time a connection may sit with nothing in flight and no traffic.
    pub idle_timeout: Duration,
    /// Connections open at once (lowered to what the open-file limit allows).
    pub max_connections: usize,
}

/// Raise the soft limit of open files to the hard limit; returns the soft
/// limit in force.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the limit of open files");
            rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
        }
    }
}

/// The cap in force now: the setting, or less when the open-file limit
/// (read again each time: an operator may lower it on a running process)
/// leaves less room.
fn effective_cap(limits: &Limits) -> usize {
    let by_files = rlimit::Resource::NOFILE
        .get()
        .map(|(soft, _)| soft.saturating_sub(RESERVED_FDS).max(1))
        .unwrap_or(u64::MAX);
    limits
        .max_connections
        .min(usize::try_from(by_files).unwrap_or(usize::MAX))
        .max(1)
}

/// The open connections, oldest first, each with its closer and its count
/// of requests in flight.
#[derive(Default)]
struct Connections {
    next: u64,
    open: BTreeMap<u64, (tokio::sync::oneshot::Sender<()>, Arc<AtomicUsize>)>,
}

impl Connections {
    /// Close the oldest connection with no request in flight (a slow
    /// request head or an idle keep-alive), else the oldest of all;
    /// whether there was one.
    fn evict_oldest(&mut self) -> bool {
        let victim = self
            .open
            .iter()
            .find(|(_, (_, flight))| flight.load(Ordering::Relaxed) == 0)
            .map(|(id, _)| *id)
            .or_else(|| self.open.keys().next().copied());
        match victim.and_then(|id| self.open.remove(&id)) {
            Some((close, _)) => {
                let _ = close.send(());
                true
            }
            None => false,
        }
    }
}

/// Serve `router` on `listener` under `limits` until `stop` resolves, then
/// let requests in flight finish (up to 10 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let conns: Arc<Mutex<Connections>> = Arc::default();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut emfile_logged = false;
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut stop => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors (or another passing failure): make room
                // and go on; never return, never spin.
                if !emfile_logged {
                    tracing::warn!(error = %e, "cannot accept a connection; closing the oldest to make room");
                    emfile_logged = true;
                }
                lock(&conns).evict_oldest();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        emfile_logged = false;
        // Reap finished tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        let (close_tx, close_rx) = tokio::sync::oneshot::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let id = {
            let mut c = lock(&conns);
            let cap = effective_cap(&limits);
            while c.open.len() >= cap && c.evict_oldest() {}
            let id = c.next;
            c.next += 1;
            c.open.insert(id, (close_tx, in_flight.clone()));
            id
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            builder: builder.clone(),
            router: router.clone(),
            limits,
            conns: conns.clone(),
            id,
            peer,
            in_flight,
        };
        tasks.spawn(conn.run(stream, close_rx, shutdown_rx.clone()));
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

fn lock(c: &Mutex<Connections>) -> std::sync::MutexGuard<'_, Connections> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

struct Conn {
    builder: Arc<hyper_util::server::conn::auto::Builder<TokioExecutor>>,
    router: Router,
    limits: Limits,
    conns: Arc<Mutex<Connections>>,
    id: u64,
    peer: SocketAddr,
    in_flight: Arc<AtomicUsize>,
}

impl Conn {
    async fn run(
        self,
        stream: TcpStream,
        mut close: tokio::sync::oneshot::Receiver<()>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let started = Instant::now();
        let activity = Arc::new(AtomicU64::new(0));
        let in_flight = self.in_flight.clone();
        let io = TokioIo::new(Tracked {
            inner: stream,
            started,
            last: activity.clone(),
        });
        let (router, peer, flight) = (self.router.clone(), self.peer, in_flight.clone());
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let guard = InFlight::new(flight.clone());
                let router = router.clone();
                async move {
                    let response = router.oneshot(req.map(axum::body::Body::new)).await;
                    drop(guard);
                    response
                }
            });
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(conn);
        let tick = (self.limits.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut draining = false;
        loop {
            tokio::select! {
                _ = conn.as_mut() => break,
                _ = &mut close => break, // evicted: drop the socket now
                _ = shutdown.changed(), if !draining => {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = ticker.tick() => {
                    let idle_for = started.elapsed().saturating_sub(Duration::from_millis(activity.load(Ordering::Relaxed)));
                    if in_flight.load(Ordering::Relaxed) == 0 && idle_for >= self.limits.idle_timeout {
                        break;
                    }
                }
            }
        }
        lock(&self.conns).open.remove(&self.id);
    }
}

/// Counts a request in flight on its connection while it lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(n: Arc<AtomicUsize>) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes when it last moved a byte (milliseconds since the
/// connection opened).
struct Tracked {
    inner: TcpStream,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
