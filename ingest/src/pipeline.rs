//! The daily ingest pipeline: snapshot lines in, winning reports stored in
//! batched transactions, missing owners looked up, a [`Summary`] out.
//!
//! Two stages run at once. A reader thread reads and validates lines and
//! decides which reports win (latest `collected_at` per case-insensitive
//! hostname, the stored report included), parsing a software list only when
//! its report wins. The writer (async) turns winning reports into
//! [`MachineWrite`]s: it matches OS and new titles against the catalog,
//! decides every owner fact by the format's rules, and commits a batch of
//! machines per transaction, so a crash loses at most the batch in flight and
//! a rerun completes the rest. Owner look-ups run beside it with bounded
//! concurrency, a circuit breaker and a time budget, so the network database
//! can be slow or down without failing or stalling the ingest.

use std::collections::{BTreeMap, HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use winventory_core::store::{
    CachedNetDb, InstallRow, KeyDigest, MachineIndexEntry, MachineWrite, NetDbAnswer, OwnerChange,
    OwnerMark, RejectedMachine, SoftwareWrite, TitleRow, to_micros,
};
use winventory_core::{
    AsOf, Catalog, HostKey, OwnerFact, OwnerRole, OwnerSource, SoftwareEntry, Store, StoreError,
};
use xxhash_rust::xxh3::Xxh3;

use crate::cmf::{Header, Input, MAX_LINE_BYTES, ReadLine, parse_line, parse_software};
use crate::netdb::{Lookup, NetDbClient};

/// Settings of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The ingest's clock.
    pub now: DateTime<Utc>,
    /// Freshness window in days (for the stale count).
    pub freshness_days: u32,
    /// Machines per transaction.
    pub batch_machines: usize,
    /// How many line errors the summary keeps.
    pub max_errors: usize,
}

impl IngestOptions {
    /// Defaults at `now`: 90-day window, 500 machines a transaction, 1,000 errors kept.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            freshness_days: winventory_core::domain::DEFAULT_FRESHNESS_DAYS,
            batch_machines: 500,
            max_errors: 1000,
        }
    }
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineError {
    /// The input it came from.
    pub file: String,
    /// 1-based physical line number.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
}

/// What an ingest did. Its JSON form is the `--format json` contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Non-blank lines read.
    pub lines_read: u64,
    /// Lines accepted.
    pub accepted: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Fields or entries ignored.
    pub warnings: u64,
    /// Machines stored for the first time.
    pub machines_new: u64,
    /// Machines whose stored report was replaced by a newer one.
    pub machines_updated: u64,
    /// Machines whose reports were no newer than what was stored.
    pub machines_unchanged: u64,
    /// Machines seen whose latest report is outside the freshness window.
    pub machines_stale: u64,
    /// Look-ups answered by the network database (200 or 404).
    pub lookups_done: u64,
    /// Look-ups answered from the cache.
    pub lookups_cached: u64,
    /// Look-ups that failed (retried next run).
    pub lookups_failed: u64,
    /// The first rejected lines.
    pub errors: Vec<LineError>,
    /// Failures of the run itself (unreadable file, truncated input, database).
    pub failures: Vec<String>,
    /// Machines set aside because fields stored before the format's limits
    /// were enforced are over them (migration 12; the first 20, oldest
    /// first). Listed on every run until an admin clears `rejected_machines`.
    pub set_aside: Vec<RejectedMachine>,
    /// How many machines are set aside in all.
    pub set_aside_total: u64,
}

impl Summary {
    /// The documented exit code: 0 all accepted, 1 some rejected, 2 the run failed.
    pub fn exit_code(&self) -> i32 {
        if !self.failures.is_empty() {
            2
        } else if self.rejected > 0 {
            1
        } else {
            0
        }
    }
}

/// A winning report, ready for the writer.
#[derive(Debug)]
struct Winning {
    key: String,
    host: KeyDigest,
    header: Header,
    software: Option<Vec<SoftwareEntry>>,
    software_hash: Option<i64>,
}

#[derive(Debug)]
enum Item {
    Rejected {
        file: usize,
        line: u64,
        reason: String,
    },
    Accepted {
        key: String,
        host: KeyDigest,
        hostname: String,
        warnings: u32,
        winning: Option<Box<Winning>>,
    },
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Unchanged,
    Updated,
    New,
}

fn software_hash(list: &[SoftwareEntry]) -> i64 {
    let mut h = Xxh3::new();
    for e in list {
        for part in [e.name.as_str(), e.version.as_str(), e.publisher.as_str()] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        if let Some(d) = e.install_date {
            h.update(&chrono::Datelike::num_days_from_ce(&d).to_le_bytes());
        }
        h.update(&[0]);
        if let Some(t) = e.last_used {
            h.update(&t.timestamp_micros().to_le_bytes());
        }
        h.update(b"\n");
    }
    h.digest() as i64
}

fn title_key(buf: &mut String, name: &str, version: &str, publisher: &str) {
    buf.clear();
    buf.push_str(name);
    buf.push('\u{1f}');
    buf.push_str(version);
    buf.push('\u{1f}');
    buf.push_str(publisher);
}

/// Physical lines parsed in parallel at a time.
const CHUNK_LINES: usize = 256;

/// Bytes of lines parsed in parallel at a time, at most (plus one line): a
/// chunk of 256 long lines (up to 16 MiB each) would otherwise hold gigabytes.
/// An ordinary chunk (256 lines of about 20 KB) is far below it.
const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// A line after the parallel phase, before the in-order decision.
enum Pre {
    Blank,
    Rejected {
        line: u64,
        reason: String,
    },
    Parsed {
        key: String,
        host: KeyDigest,
        at: i64,
        header: Box<Header>,
        warnings: u32,
        software: SoftwarePre,
    },
}

/// The software list as the parallel phase left it.
enum SoftwarePre {
    /// Absent or `null`: keep what is stored.
    Absent,
    /// Built (the report may win): the list and its hash.
    Built(Vec<SoftwareEntry>, i64),
    /// Not read: the report cannot win (no newer than what is stored).
    Unread,
}

/// Validate one line. `stored` is the stored report times, read-only: a
/// report no newer than its stored one cannot win, so its software list is
/// not read at all.
fn pre_parse(line: u64, bytes: &[u8], now: DateTime<Utc>, stored: &HashMap<KeyDigest, i64>) -> Pre {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Pre::Blank;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Pre::Rejected {
                line,
                reason: format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
            };
        }
    };
    let p = match parse_line(text, now) {
        Ok(p) => p,
        Err(reason) => return Pre::Rejected { line, reason },
    };
    let key = HostKey::new(&p.header.hostname).as_str().to_string();
    let host = KeyDigest::of(&key);
    let at = to_micros(p.header.collected_at);
    // A report no newer than the stored one cannot win: its software list
    // is never read (JSON syntax was checked with the line).
    let may_win = stored.get(&host).is_none_or(|&s| at > s);
    let mut warnings = p.warnings;
    let software = match p.software {
        None => SoftwarePre::Absent,
        Some(_) if !may_win => SoftwarePre::Unread,
        Some(raw) => {
            let (list, w) = parse_software(raw);
            warnings += w;
            let h = software_hash(&list);
            SoftwarePre::Built(list, h)
        }
    };
    Pre::Parsed {
        key,
        host,
        at,
        header: Box::new(p.header),
        warnings,
        software,
    }
}

/// The reader stage, on a blocking thread: reads chunks of lines, parses
/// each chunk in parallel (rayon), then decides winners in file order with
/// the running latest-report map.
fn read_inputs(
    inputs: Vec<Result<Input, (String, std::io::Error)>>,
    mut latest: HashMap<KeyDigest, i64>,
    now: DateTime<Utc>,
    tx: mpsc::Sender<Vec<Item>>,
) {
    use rayon::prelude::*;
    let stored = latest.clone();
    let mut lines: Vec<(u64, Option<Vec<u8>>)> = Vec::with_capacity(CHUNK_LINES);
    let mut buf = Vec::with_capacity(64 * 1024);
    for (file_idx, input) in inputs.into_iter().enumerate() {
        let mut input = match input {
            Ok(i) => i,
            Err((name, e)) => {
                if tx
                    .blocking_send(vec![Item::Failed(format!("cannot read {name}: {e}"))])
                    .is_err()
                {
                    return;
                }
                continue;
            }
        };
        let mut line_no: u64 = 0;
        let mut done = false;
        while !done {
            // The reader of the items is gone (an upload's client hung up,
            // the run failed): stop reading at once, whatever the input
            // still holds (a gzip of blank lines yields no item to fail to
            // send, and could keep a core busy for minutes).
            if tx.is_closed() {
                return;
            }
            let mut failure = None;
            lines.clear();
            let mut chunk_bytes = 0;
            while lines.len() < CHUNK_LINES && chunk_bytes < CHUNK_BYTES {
                match input.next_line(&mut buf) {
                    Ok(ReadLine::End) => {
                        done = true;
                        break;
                    }
                    Ok(ReadLine::TooLong) => {
                        line_no += 1;
                        lines.push((line_no, None));
                    }
                    Ok(ReadLine::Line) => {
                        line_no += 1;
                        // Blank lines are skipped here, without a copy or a
                        // parse (the format allows them; a flood of them is
                        // the cheapest input to compress).
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            // Counted, so a chunk of them ends and the
                            // check above runs.
                            chunk_bytes += buf.len().max(1);
                            continue;
                        }
                        let bytes = if line_no == 1 {
                            buf.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&buf)
                        } else {
                            &buf
                        };
                        chunk_bytes += bytes.len();
                        lines.push((line_no, Some(bytes.to_vec())));
                    }
                    Err(e) => {
                        failure = Some(Item::Failed(format!(
                            "{}: read error after line {line_no} (the last good line; the lines before it are kept): {e}",
                            input.name
                        )));
                        done = true;
                        break;
                    }
                }
            }
            let pre: Vec<Pre> = lines
                .par_iter()
                .map(|(no, bytes)| match bytes {
                    Some(b) => pre_parse(*no, b, now, &stored),
                    None => Pre::Rejected {
                        line: *no,
                        reason: format!(
                            "line longer than {} MiB (skipped without being read whole)",
                            MAX_LINE_BYTES / (1024 * 1024)
                        ),
                    },
                })
                .collect();
            let mut items = Vec::with_capacity(pre.len() + 1);
            for p in pre {
                match p {
                    Pre::Blank => {}
                    Pre::Rejected { line, reason } => items.push(Item::Rejected {
                        file: file_idx,
                        line,
                        reason,
                    }),
                    Pre::Parsed {
                        key,
                        host,
                        at,
                        header,
                        warnings,
                        software,
                    } => {
                        let wins = latest.get(&host).is_none_or(|&s| at > s);
                        let hostname = header.hostname.clone();
                        let winning = wins.then(|| {
                            latest.insert(host, at);
                            let (software, software_hash) = match software {
                                SoftwarePre::Built(list, h) => (Some(list), Some(h)),
                                SoftwarePre::Absent | SoftwarePre::Unread => (None, None),
                            };
                            Box::new(Winning {
                                key: key.clone(),
                                host,
                                header: *header,
                                software,
                                software_hash,
                            })
                        });
                        items.push(Item::Accepted {
                            key,
                            host,
                            hostname,
                            warnings,
                            winning,
                        });
                    }
                }
            }
            items.extend(failure);
            if !items.is_empty() && tx.blocking_send(items).is_err() {
                return;
            }
        }
    }
}

/// The decision for one owner role of a winning report.
#[derive(Debug, PartialEq, Eq)]
struct RoleDecision {
    change: Option<OwnerChange>,
    needs_lookup: bool,
    used_cache: bool,
}

/// The format's owner rules for one role: an `answer` stands; otherwise the
/// report's own value; where it has none, the network database's (cached
/// answer, or a look-up to do, keeping a network-db fact meanwhile).
fn decide_role(
    role: OwnerRole,
    stored: Option<&OwnerMark>,
    snapshot: Option<&str>,
    cached: Option<Option<&str>>,
) -> RoleDecision {
    let set = |login: &str, source: OwnerSource| {
        let fact = OwnerFact {
            login: login.to_string(),
            source,
        };
        (stored != Some(&OwnerMark::of(&fact))).then_some(OwnerChange::Set(role, fact))
    };
    if stored.is_some_and(|f| f.source == OwnerSource::Answer) {
        return RoleDecision {
            change: None,
            needs_lookup: false,
            used_cache: false,
        };
    }
    if let Some(login) = snapshot {
        return RoleDecision {
            change: set(login, OwnerSource::Snapshot),
            needs_lookup: false,
            used_cache: false,
        };
    }
    match cached {
        Some(Some(login)) => RoleDecision {
            change: set(login, OwnerSource::NetworkDb),
            needs_lookup: false,
            used_cache: true,
        },
        Some(None) => RoleDecision {
            change: stored.is_some().then_some(OwnerChange::Clear(role)),
            needs_lookup: false,
            used_cache: true,
        },
        None => RoleDecision {
            change: stored
                .is_some_and(|f| f.source == OwnerSource::Snapshot)
                .then_some(OwnerChange::Clear(role)),
            needs_lookup: true,
            used_cache: false,
        },
    }
}

fn cached_role(c: &CachedNetDb, role: OwnerRole) -> Option<&str> {
    match role {
        OwnerRole::Responsible => c.responsible.as_deref(),
        OwnerRole::MainUser => c.main_user.as_deref(),
    }
}

fn settled(f: Option<&OwnerMark>) -> bool {
    f.is_some_and(|f| matches!(f.source, OwnerSource::Snapshot | OwnerSource::Answer))
}

struct LookupResult {
    key: String,
    answer: Result<Lookup, String>,
}

/// The look-up stage: bounded concurrency and a circuit breaker.
fn spawn_lookups(
    client: NetDbClient,
) -> (
    mpsc::UnboundedSender<(String, String)>,
    mpsc::UnboundedReceiver<LookupResult>,
    tokio::task::JoinHandle<()>,
) {
    let (req_tx, mut req_rx) = mpsc::unbounded_channel::<(String, String)>();
    let (res_tx, res_rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(async move {
        let sem = Arc::new(Semaphore::new(client.config().concurrency.max(1)));
        let failures = Arc::new(AtomicU32::new(0));
        let threshold = client.config().breaker_threshold.max(1);
        let mut tasks = tokio::task::JoinSet::new();
        while let Some((key, hostname)) = req_rx.recv().await {
            if failures.load(Ordering::Relaxed) >= threshold {
                let _ = res_tx.send(LookupResult {
                    key,
                    answer: Err(
                        "skipped: the network database failed repeatedly in this run".into(),
                    ),
                });
                continue;
            }
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            let (client, res_tx, failures) = (client.clone(), res_tx.clone(), failures.clone());
            tasks.spawn(async move {
                let answer = client.lookup(&hostname).await.map_err(|e| e.to_string());
                if answer.is_ok() {
                    failures.store(0, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(host = %hostname, "owner look-up failed");
                }
                drop(permit);
                let _ = res_tx.send(LookupResult { key, answer });
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    });
    (req_tx, res_rx, handle)
}

/// The ingest pipeline.
pub struct Pipeline {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    netdb: Option<NetDbClient>,
    options: IngestOptions,
}

struct Writer<'a> {
    p: &'a Pipeline,
    summary: Summary,
    index: HashMap<KeyDigest, MachineIndexEntry>,
    titles: FxHashMap<String, TitleRow>,
    cache: HashMap<String, CachedNetDb>,
    run: HashMap<KeyDigest, Outcome>,
    batch: Vec<Winning>,
    batch_pos: HashMap<String, usize>,
    lookup_tx: Option<mpsc::UnboundedSender<(String, String)>>,
    lookup_rx: Option<mpsc::UnboundedReceiver<LookupResult>>,
    requested: HashSet<String>,
    lookups_pending: u64,
    answers: Vec<NetDbAnswer>,
    key_buf: String,
    /// The batch being committed while the next one is prepared.
    in_flight: Option<InFlight>,
}

/// A batch whose transaction runs on its own task, so that preparing the
/// next batch (title look-ups, matching, owner decisions) overlaps the
/// database's work on this one. At most one is in flight, and batches commit
/// in file order.
struct InFlight {
    keys: HashSet<String>,
    task: tokio::task::JoinHandle<CommitResult>,
}

/// What a batch's task gives back: its writes (to update the index from),
/// the look-ups to request once it is stored, and the ids the store returned.
type CommitResult = (
    Vec<MachineWrite>,
    Vec<(String, String)>,
    Result<Vec<(String, i64)>, StoreError>,
);

impl Pipeline {
    /// A pipeline over a store and catalog; `netdb` enables owner look-ups.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        netdb: Option<NetDbClient>,
        options: IngestOptions,
    ) -> Self {
        Self {
            store,
            catalog,
            netdb,
            options,
        }
    }

    /// Ingest the inputs (each opened already, or the error opening it).
    pub async fn run(&self, inputs: Vec<Result<Input, (String, std::io::Error)>>) -> Summary {
        let names: Vec<String> = inputs
            .iter()
            .map(|i| match i {
                Ok(i) => i.name.clone(),
                Err((n, _)) => n.clone(),
            })
            .collect();
        let now = self.options.now;
        let run_id = self.store.start_run(&names.join(" "), now).await.ok();
        let summary = match self.run_inner(inputs, &names).await {
            Ok(s) => s,
            Err((mut s, e)) => {
                s.failures.push(format!("database error: {e}"));
                s
            }
        };
        if summary.machines_new + summary.machines_updated > 0
            && let Err(e) = self.store.tidy_after_ingest().await
        {
            tracing::warn!(error = %e, "refreshing statistics after the ingest failed (reports may be slower until autovacuum)");
        }
        if let Some(id) = run_id {
            let json = serde_json::to_string(&summary).unwrap_or_default();
            let _ = self.store.finish_run(id, &json, Utc::now()).await;
        }
        summary
    }

    async fn run_inner(
        &self,
        inputs: Vec<Result<Input, (String, std::io::Error)>>,
        names: &[String],
    ) -> Result<Summary, (Summary, StoreError)> {
        let fail = |e| (Summary::default(), e);
        let (set_aside, set_aside_total) = self.store.rejected_machines(20).await.map_err(fail)?;
        let index: HashMap<KeyDigest, MachineIndexEntry> = self
            .store
            .machine_index()
            .await
            .map_err(fail)?
            .into_iter()
            .map(|e| (e.host, e))
            .collect();
        let mut key_buf = String::new();
        let titles = self
            .store
            .titles()
            .await
            .map_err(fail)?
            .into_iter()
            .map(|t| {
                title_key(&mut key_buf, &t.name, &t.version, &t.publisher);
                (key_buf.clone(), t)
            })
            .collect();
        let cache = match &self.netdb {
            Some(_) => self
                .store
                .netdb_cache(self.options.now - Duration::days(1))
                .await
                .map_err(fail)?
                .into_iter()
                .map(|c| (c.host_key.clone(), c))
                .collect(),
            None => HashMap::new(),
        };
        let latest: HashMap<KeyDigest, i64> = index
            .iter()
            .map(|(k, e)| (*k, to_micros(e.last_report)))
            .collect();

        let (lookup_tx, lookup_rx, lookup_task) = match &self.netdb {
            Some(c) => {
                let (t, r, h) = spawn_lookups(c.clone());
                (Some(t), Some(r), Some(h))
            }
            None => (None, None, None),
        };
        let mut w = Writer {
            p: self,
            summary: Summary {
                set_aside,
                set_aside_total: u64::try_from(set_aside_total).unwrap_or_default(),
                ..Summary::default()
            },
            index,
            titles,
            cache,
            run: HashMap::new(),
            batch: Vec::new(),
            batch_pos: HashMap::new(),
            lookup_tx,
            lookup_rx,
            requested: HashSet::new(),
            lookups_pending: 0,
            answers: Vec::new(),
            key_buf,
            in_flight: None,
        };

        // Room for about two batches of parsed lines, so the reader parses the
        // next batch while the database commits this one (memory stays bounded
        // by this, whatever the file size).
        let ahead = (2 * self.options.batch_machines)
            .div_ceil(CHUNK_LINES)
            .max(2);
        let (tx, mut rx) = mpsc::channel::<Vec<Item>>(ahead);
        let now = self.options.now;
        let reader = tokio::task::spawn_blocking(move || read_inputs(inputs, latest, now, tx));
        let mut result = Ok(());
        while let Some(items) = rx.recv().await {
            for item in items {
                w.take(item, names);
            }
            if w.batch.len() >= self.options.batch_machines
                && let Err(e) = w.flush().await
            {
                result = Err(e);
                break;
            }
            if let Err(e) = w.drain_lookups().await {
                result = Err(e);
                break;
            }
        }
        drop(rx);
        if let Err(e) = reader.await {
            w.summary.failures.push(format!(
                "the snapshot reader stopped unexpectedly ({e}); the lines before it are kept"
            ));
        }
        if result.is_ok() {
            result = w.flush().await;
        }
        // Wait for the last batch even after an error: it may have committed.
        let settled = w.settle().await;
        if result.is_ok() {
            result = settled;
        }
        if result.is_ok() {
            result = w.finish_lookups(lookup_task).await;
        } else if let Some(t) = lookup_task {
            t.abort();
        }
        w.count_machines();
        match result {
            Ok(()) => Ok(w.summary),
            Err(e) => Err((w.summary, e)),
        }
    }
}

impl Writer<'_> {
    fn take(&mut self, item: Item, names: &[String]) {
        match item {
            Item::Failed(msg) => self.summary.failures.push(msg),
            Item::Rejected { file, line, reason } => {
                self.summary.lines_read += 1;
                self.summary.rejected += 1;
                if self.summary.errors.len() < self.p.options.max_errors {
                    self.summary.errors.push(LineError {
                        file: names.get(file).cloned().unwrap_or_default(),
                        line,
                        reason,
                    });
                }
            }
            Item::Accepted {
                key,
                host,
                hostname,
                warnings,
                winning,
            } => {
                self.summary.lines_read += 1;
                self.summary.accepted += 1;
                self.summary.warnings += u64::from(warnings);
                let outcome = match (&winning, self.index.contains_key(&host)) {
                    (None, _) => Outcome::Unchanged,
                    (Some(_), true) => Outcome::Updated,
                    (Some(_), false) => Outcome::New,
                };
                let o = self.run.entry(host).or_insert(outcome);
                *o = (*o).max(outcome);
                match winning {
                    Some(win) => self.push(*win),
                    None => self.check_unchanged(&key, host, &hostname),
                }
            }
        }
    }

    /// A report that did not win may still need its owners looked up
    /// (a failed look-up is retried on every run until it succeeds).
    fn check_unchanged(&mut self, key: &str, host: KeyDigest, hostname: &str) {
        if self.lookup_tx.is_none()
            || self.requested.contains(key)
            || self.batch_pos.contains_key(key)
        {
            return;
        }
        let Some(e) = self.index.get(&host) else {
            return;
        };
        if settled(e.responsible.as_ref()) && settled(e.main_user.as_ref()) {
            return;
        }
        if self.cache.contains_key(key) {
            self.summary.lookups_cached += 1;
            self.requested.insert(key.to_string());
        } else {
            self.request_lookup(key, hostname);
        }
    }

    fn request_lookup(&mut self, key: &str, hostname: &str) {
        if !self.requested.insert(key.to_string()) {
            return;
        }
        if let Some(tx) = &self.lookup_tx {
            if tx.send((key.to_string(), hostname.to_string())).is_ok() {
                self.lookups_pending += 1;
            } else {
                self.summary.lookups_failed += 1;
            }
        }
    }

    fn push(&mut self, win: Winning) {
        if let Some(&i) = self.batch_pos.get(&win.key) {
            // The same machine twice in one batch: the later report won; a
            // list it did not carry keeps the earlier one.
            let earlier = std::mem::replace(&mut self.batch[i], win);
            if self.batch[i].software.is_none() {
                self.batch[i].software = earlier.software;
                self.batch[i].software_hash = earlier.software_hash;
            }
        } else {
            self.batch_pos.insert(win.key.clone(), self.batch.len());
            self.batch.push(win);
        }
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // A machine in the batch being committed must be stored (its id and
        // hash known) before this batch is decided.
        if self
            .in_flight
            .as_ref()
            .is_some_and(|f| self.batch.iter().any(|w| f.keys.contains(&w.key)))
        {
            self.settle().await?;
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_pos.clear();
        let catalog = &self.p.catalog;

        // New titles, matched once each.
        let mut new_titles: FxHashMap<String, TitleRow> = FxHashMap::default();
        for win in &batch {
            let Some(list) = &win.software else { continue };
            if self.index.get(&win.host).and_then(|e| e.software_hash) == win.software_hash {
                continue;
            }
            for e in list {
                title_key(&mut self.key_buf, &e.name, &e.version, &e.publisher);
                if !self.titles.contains_key(&self.key_buf)
                    && !new_titles.contains_key(&self.key_buf)
                {
                    let m = catalog.match_software(&e.name, &e.version, &e.publisher);
                    new_titles.insert(
                        self.key_buf.clone(),
                        TitleRow {
                            id: 0,
                            name: e.name.clone(),
                            version: e.version.clone(),
                            publisher: e.publisher.clone(),
                            cycle: m.cycle,
                            application: m.application,
                        },
                    );
                }
            }
        }
        if !new_titles.is_empty() {
            let rows: Vec<TitleRow> = new_titles.into_values().collect();
            for t in self.p.store.upsert_titles(&rows).await? {
                title_key(&mut self.key_buf, &t.name, &t.version, &t.publisher);
                self.titles.insert(self.key_buf.clone(), t);
            }
        }

        let mut writes = Vec::with_capacity(batch.len());
        let mut lookups = Vec::new();
        for win in batch {
            let stored = self.index.get(&win.host);
            let software = match (&win.software, stored.and_then(|e| e.software_hash)) {
                (Some(_), Some(h)) if Some(h) == win.software_hash => None,
                (Some(list), _) => {
                    let mut rows = Vec::with_capacity(list.len());
                    // Each with its latest use (None when no title is metered).
                    let mut cycles: BTreeMap<&winventory_core::CycleRef, Option<DateTime<Utc>>> =
                        BTreeMap::new();
                    let mut apps: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
                    for e in list {
                        title_key(&mut self.key_buf, &e.name, &e.version, &e.publisher);
                        let Some(t) = self.titles.get(&self.key_buf) else {
                            return Err(StoreError::Corrupt(format!(
                                "title {:?} was not stored",
                                e.name
                            )));
                        };
                        rows.push(InstallRow {
                            title_id: t.id,
                            install_date: e.install_date,
                            last_used: e.last_used,
                        });
                        if let Some(c) = &t.cycle {
                            let u = cycles.entry(c).or_default();
                            *u = (*u).max(e.last_used);
                        }
                        if let Some(a) = &t.application {
                            let u = apps.entry(a.as_str()).or_default();
                            *u = (*u).max(e.last_used);
                        }
                    }
                    Some(SoftwareWrite {
                        hash: win.software_hash.unwrap_or_default(),
                        rows,
                        cycles: cycles.into_iter().map(|(c, u)| (c.clone(), u)).collect(),
                        applications: apps.into_iter().map(|(a, u)| (a.to_string(), u)).collect(),
                    })
                }
                (None, _) => None,
            };
            let cached = self.cache.get(&win.key);
            let mut owners = Vec::new();
            let mut needs_lookup = false;
            let mut used_cache = false;
            for (role, snap) in [
                (OwnerRole::Responsible, win.header.responsible.as_deref()),
                (OwnerRole::MainUser, win.header.main_user.as_deref()),
            ] {
                let stored_fact = stored.and_then(|e| match role {
                    OwnerRole::Responsible => e.responsible.as_ref(),
                    OwnerRole::MainUser => e.main_user.as_ref(),
                });
                let d = decide_role(
                    role,
                    stored_fact,
                    snap,
                    cached.map(|c| cached_role(c, role)),
                );
                owners.extend(d.change);
                needs_lookup |= d.needs_lookup && self.lookup_tx.is_some();
                used_cache |= d.used_cache;
            }
            if used_cache && self.requested.insert(win.key.clone()) {
                self.summary.lookups_cached += 1;
            }
            if needs_lookup {
                lookups.push((win.key.clone(), win.header.hostname.clone()));
            }
            writes.push(MachineWrite {
                id: stored.map(|e| e.id),
                host_key: win.key,
                hostname: win.header.hostname,
                domain: win.header.domain,
                os_match: catalog.match_os(&win.header.os),
                os: win.header.os,
                collected_at: win.header.collected_at,
                software,
                owners,
            });
        }
        self.settle().await?;
        let store = Arc::clone(&self.p.store);
        let now = self.p.options.now;
        let keys = writes.iter().map(|w| w.host_key.clone()).collect();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let ids = store.apply_machines(&writes, now).await;
            tracing::debug!(
                machines = writes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "batch committed"
            );
            (writes, lookups, ids)
        });
        self.in_flight = Some(InFlight { keys, task });
        Ok(())
    }

    /// Wait for the batch in flight, if any, and record what it stored.
    async fn settle(&mut self) -> Result<(), StoreError> {
        let Some(f) = self.in_flight.take() else {
            return Ok(());
        };
        let (writes, lookups, ids) = f
            .task
            .await
            .map_err(|e| StoreError::Corrupt(format!("the batch writer stopped: {e}")))?;
        let ids: HashMap<String, i64> = ids?.into_iter().collect();
        for w in writes {
            let Some(&id) = ids.get(&w.host_key) else {
                continue;
            };
            let host = KeyDigest::of(&w.host_key);
            let e = self.index.entry(host).or_insert_with(|| MachineIndexEntry {
                id,
                host,
                last_report: w.collected_at,
                software_hash: None,
                responsible: None,
                main_user: None,
            });
            e.id = id;
            e.last_report = w.collected_at;
            if let Some(s) = &w.software {
                e.software_hash = Some(s.hash);
            }
            for change in w.owners {
                match change {
                    OwnerChange::Set(OwnerRole::Responsible, f) => {
                        e.responsible = Some(OwnerMark::of(&f));
                    }
                    OwnerChange::Set(OwnerRole::MainUser, f) => {
                        e.main_user = Some(OwnerMark::of(&f))
                    }
                    OwnerChange::Clear(OwnerRole::Responsible) => e.responsible = None,
                    OwnerChange::Clear(OwnerRole::MainUser) => e.main_user = None,
                }
            }
        }
        for (key, hostname) in lookups {
            self.request_lookup(&key, &hostname);
        }
        Ok(())
    }

    fn record(&mut self, r: LookupResult) {
        self.lookups_pending = self.lookups_pending.saturating_sub(1);
        let answer = match r.answer {
            Ok(Lookup::Found {
                responsible,
                main_user,
            }) => NetDbAnswer {
                host_key: r.key,
                found: true,
                responsible,
                main_user,
            },
            Ok(Lookup::NotFound) => NetDbAnswer {
                host_key: r.key,
                found: false,
                responsible: None,
                main_user: None,
            },
            Err(reason) => {
                tracing::debug!(host = %r.key, %reason, "owner look-up failed");
                self.summary.lookups_failed += 1;
                return;
            }
        };
        self.summary.lookups_done += 1;
        self.cache.insert(
            answer.host_key.clone(),
            CachedNetDb {
                host_key: answer.host_key.clone(),
                found: answer.found,
                responsible: answer.responsible.as_ref().map(|p| p.login.clone()),
                main_user: answer.main_user.as_ref().map(|p| p.login.clone()),
                fetched_at: self.p.options.now,
            },
        );
        self.answers.push(answer);
    }

    /// Record the look-up results that have arrived, without waiting.
    async fn drain_lookups(&mut self) -> Result<(), StoreError> {
        if let Some(rx) = &mut self.lookup_rx {
            let mut got = Vec::new();
            while let Ok(r) = rx.try_recv() {
                got.push(r);
            }
            for r in got {
                self.record(r);
            }
        }
        self.store_answers(false).await
    }

    /// Store the answers gathered so far once there are 500 of them, or
    /// whatever there is when `all`.
    async fn store_answers(&mut self, all: bool) -> Result<(), StoreError> {
        if self.answers.len() >= 500 || (all && !self.answers.is_empty()) {
            // The answers update owner rows a batch in flight may be writing.
            self.settle().await?;
            let answers = std::mem::take(&mut self.answers);
            self.p
                .store
                .apply_netdb(&answers, self.p.options.now)
                .await?;
        }
        Ok(())
    }

    async fn finish_lookups(
        &mut self,
        task: Option<tokio::task::JoinHandle<()>>,
    ) -> Result<(), StoreError> {
        self.lookup_tx = None;
        let Some(mut rx) = self.lookup_rx.take() else {
            return Ok(());
        };
        let budget = self
            .p
            .netdb
            .as_ref()
            .map(|c| c.config().budget)
            .unwrap_or_default();
        let deadline = tokio::time::Instant::now() + budget;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => {
                    self.record(r);
                    self.store_answers(false).await?;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        pending = self.lookups_pending,
                        "owner look-ups still pending after the budget; they are retried next run"
                    );
                    self.summary.lookups_failed += self.lookups_pending;
                    self.lookups_pending = 0;
                    if let Some(t) = &task {
                        t.abort();
                    }
                    break;
                }
            }
        }
        self.store_answers(true).await
    }

    fn count_machines(&mut self) {
        let as_of = AsOf::at(self.p.options.now, self.p.options.freshness_days);
        for (key, outcome) in &self.run {
            match outcome {
                Outcome::New => self.summary.machines_new += 1,
                Outcome::Updated => self.summary.machines_updated += 1,
                Outcome::Unchanged => self.summary.machines_unchanged += 1,
            }
            if self
                .index
                .get(key)
                .is_some_and(|e| !as_of.is_fresh(e.last_report))
            {
                self.summary.machines_stale += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload whose client hung up (the items' reader is gone) stops
    /// being read, even when it holds nothing but blank lines, which yield
    /// no item whose sending would fail: here an endless stream of them
    /// (a gzip of 1 MB is a gigabyte of these). Without the check the call
    /// never returns (nextest kills it after 5 minutes).
    #[test]
    fn reading_stops_when_the_reader_of_the_items_is_gone_even_on_blank_lines() {
        let endless =
            Input::from_reader("upload", Box::new(std::io::repeat(b'\n')), None).expect("an input");
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        read_inputs(vec![Ok(endless)], HashMap::new(), Utc::now(), tx);
    }

    fn fact(login: &str, source: OwnerSource) -> OwnerFact {
        OwnerFact {
            login: login.into(),
            source,
        }
    }

    #[test]
    fn an_answer_stands_against_snapshots_and_the_network_database() {
        let stored = fact("asmith", OwnerSource::Answer);
        let d = decide_role(
            OwnerRole::Responsible,
            Some(&OwnerMark::of(&stored)),
            Some("jdoe"),
            Some(Some("bob")),
        );
        assert_eq!(
            d,
            RoleDecision {
                change: None,
                needs_lookup: false,
                used_cache: false
            }
        );
    }

    #[test]
    fn the_snapshot_value_wins_over_a_network_database_fact() {
        let stored = fact("bob", OwnerSource::NetworkDb);
        let d = decide_role(
            OwnerRole::MainUser,
            Some(&OwnerMark::of(&stored)),
            Some("jdoe"),
            None,
        );
        assert_eq!(
            d.change,
            Some(OwnerChange::Set(
                OwnerRole::MainUser,
                fact("jdoe", OwnerSource::Snapshot)
            ))
        );
        assert!(!d.needs_lookup);
    }

    #[test]
    fn an_empty_field_uses_a_cached_answer_or_asks_for_a_look_up() {
        let cached = decide_role(OwnerRole::Responsible, None, None, Some(Some("bob")));
        assert_eq!(
            cached.change,
            Some(OwnerChange::Set(
                OwnerRole::Responsible,
                fact("bob", OwnerSource::NetworkDb)
            ))
        );
        assert!(cached.used_cache && !cached.needs_lookup);
        let gone = decide_role(
            OwnerRole::Responsible,
            Some(&OwnerMark::of(&fact("bob", OwnerSource::NetworkDb))),
            None,
            Some(None),
        );
        assert_eq!(
            gone.change,
            Some(OwnerChange::Clear(OwnerRole::Responsible))
        );
        let ask = decide_role(
            OwnerRole::Responsible,
            Some(&OwnerMark::of(&fact("jdoe", OwnerSource::Snapshot))),
            None,
            None,
        );
        assert_eq!(ask.change, Some(OwnerChange::Clear(OwnerRole::Responsible)));
        assert!(ask.needs_lookup);
        let keep = decide_role(
            OwnerRole::Responsible,
            Some(&OwnerMark::of(&fact("bob", OwnerSource::NetworkDb))),
            None,
            None,
        );
        assert_eq!(
            keep.change, None,
            "a network-db fact is kept while the look-up is redone"
        );
        assert!(keep.needs_lookup);
    }

    #[test]
    fn the_software_hash_changes_with_any_field() {
        let a = SoftwareEntry {
            name: "A".into(),
            version: "1".into(),
            ..SoftwareEntry::default()
        };
        let mut b = a.clone();
        b.version = "2".into();
        assert_ne!(software_hash(std::slice::from_ref(&a)), software_hash(&[b]));
        assert_eq!(software_hash(std::slice::from_ref(&a)), software_hash(&[a]));
        assert_ne!(
            software_hash(&[]),
            software_hash(&[SoftwareEntry::default()])
        );
    }
}
