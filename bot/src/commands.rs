//! The commands: each opens what it needs (store, catalog, clients) from the
//! [`Settings`], does its work through the libraries, and prints through
//! [`crate::render`]. Returns the process exit code.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use winventory_core::report::{self, CycleRow};
use winventory_core::{AsOf, Catalog, Store, catalog::SiteCatalog};
use winventory_ingest::cmf::Input;
use winventory_ingest::netdb::{NetDbClient, NetDbConfig};
use winventory_ingest::{IngestOptions, Pipeline, Summary};

use crate::render::{self, Format, lc, opt};
use crate::settings::Settings;

/// `winventory ingest` arguments.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Snapshot files (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Network database base URL for owner look-ups (none: no look-ups).
    /// Its bearer token comes from WINVENTORY_NETWORK_DB_TOKEN or the
    /// configuration file, never from the command line.
    #[arg(
        long,
        value_name = "URL",
        env = "WINVENTORY_NETWORK_DB_URL",
        hide_env_values = true
    )]
    pub network_db: Option<String>,
    /// Summary format (`json` prints one object).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Machines written per transaction.
    #[arg(long, default_value_t = 500, value_name = "N")]
    batch: usize,
    /// Seconds to wait for outstanding owner look-ups once the file is stored.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    lookup_budget: u64,
    /// The ingest's clock (RFC 3339), for replaying old snapshots and tests.
    #[arg(long, hide = true)]
    now: Option<DateTime<Utc>>,
}

/// Grouping of `report software`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SoftwareBy {
    /// By catalog product and cycle.
    Cycle,
    /// By application.
    Application,
}

pub(crate) async fn open(settings: &Settings) -> Result<Arc<dyn Store>> {
    winventory_core::connect(&settings.database).await.context(
        "check --database / WINVENTORY_DATABASE_URL (sqlite://PATH or postgres://USER@HOST/DB) and that the server is running",
    )
}

pub(crate) async fn load_catalog(settings: &Settings, store: &dyn Store) -> Result<Catalog> {
    let mut catalog = Catalog::builtin();
    catalog.upsert_rows(store.refreshed_catalog().await?);
    if let Some(path) = &settings.catalog {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the site catalog {}", path.display()))?;
        let site = SiteCatalog::parse(&path.display().to_string(), &text)?;
        catalog.apply_site(&site);
    }
    Ok(catalog)
}

fn progress(
    total: u64,
    counters: Vec<winventory_ingest::cmf::ByteCounter>,
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

/// Ingest one uploaded snapshot file (the HTTP API): the CLI's semantics,
/// with `name` in place of the file name in messages.
pub(crate) async fn ingest_upload(
    settings: &Settings,
    store: Arc<dyn Store>,
    path: &std::path::Path,
    name: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Summary> {
    let catalog = Arc::new(load_catalog(settings, store.as_ref()).await?);
    let mut opts = IngestOptions::new(now);
    opts.freshness_days = settings.freshness_days;
    let netdb = match &settings.network_db {
        Some(url) => {
            let mut cfg = NetDbConfig::new(url, settings.network_db_token.clone());
            cfg.timeout = Duration::from_secs(settings.network_db_timeout_secs);
            cfg.concurrency = settings.network_db_concurrency;
            Some(NetDbClient::new(cfg)?)
        }
        None => None,
    };
    let input = std::fs::File::open(path)
        .and_then(|f| Input::from_reader(name, Box::new(f), None))
        .map_err(|e| (name.to_string(), e));
    Ok(Pipeline::new(store, catalog, netdb, opts)
        .run(vec![input])
        .await)
}

/// Ingest files as `winventory ingest FILES` does, without a progress bar
/// (the scheduled drop-folder ingest of `serve`).
pub(crate) async fn ingest_files(
    settings: &Settings,
    store: Arc<dyn Store>,
    files: &[String],
    now: chrono::DateTime<Utc>,
) -> Result<Summary> {
    let catalog = Arc::new(load_catalog(settings, store.as_ref()).await?);
    let mut opts = IngestOptions::new(now);
    opts.freshness_days = settings.freshness_days;
    run_ingest(settings, store, catalog, files, opts, 120).await
}

/// Run an ingest and return its summary (shared by `ingest` and `demo`).
async fn run_ingest(
    settings: &Settings,
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    files: &[String],
    opts: IngestOptions,
    lookup_budget: u64,
) -> Result<Summary> {
    let netdb = match &settings.network_db {
        Some(url) => {
            let mut cfg = NetDbConfig::new(url, settings.network_db_token.clone());
            cfg.timeout = Duration::from_secs(settings.network_db_timeout_secs);
            cfg.concurrency = settings.network_db_concurrency;
            cfg.budget = Duration::from_secs(lookup_budget);
            Some(NetDbClient::new(cfg)?)
        }
        None => None,
    };
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
    let bar = if total > 0 {
        progress(total, counters)
    } else {
        None
    };
    let summary = Pipeline::new(store, catalog, netdb, opts).run(inputs).await;
    if let Some((bar, task)) = bar {
        task.abort();
        bar.finish_and_clear();
    }
    Ok(summary)
}

fn print_summary(s: &Summary, format: Format) -> Result<()> {
    if format == Format::Json {
        return render::json(s);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "lines read {}, accepted {}, rejected {}, warnings {}",
        s.lines_read, s.accepted, s.rejected, s.warnings
    )?;
    writeln!(
        out,
        "machines new {}, updated {}, unchanged {}, stale {}",
        s.machines_new, s.machines_updated, s.machines_unchanged, s.machines_stale
    )?;
    writeln!(
        out,
        "owner look-ups done {}, cached {}, failed {}",
        s.lookups_done, s.lookups_cached, s.lookups_failed
    )?;
    for e in s.errors.iter().take(20) {
        writeln!(out, "  {}:{}: {}", e.file, e.line, e.reason)?;
    }
    if s.errors.len() > 20 {
        writeln!(
            out,
            "  ... {} more rejected lines (use --format json to see the first 1,000)",
            s.rejected - 20
        )?;
    }
    if s.set_aside_total > 0 {
        writeln!(
            out,
            "{} stored machines were set aside because fields stored before the format's size limits were enforced are over them (table rejected_machines; see docs/cli.md):",
            s.set_aside_total
        )?;
        for m in &s.set_aside {
            writeln!(
                out,
                "  {} ({} bytes): {}",
                m.hostname.escape_debug(),
                m.hostname_bytes,
                m.reason
            )?;
        }
    }
    for f in &s.failures {
        writeln!(out, "failed: {f}")?;
    }
    if !s.failures.is_empty() {
        writeln!(
            out,
            "Fix the input or the database and run the same command again: stored lines are kept and nothing is stored twice."
        )?;
    }
    Ok(())
}

/// `winventory ingest`.
pub async fn ingest(settings: &Settings, args: IngestArgs) -> Result<u8> {
    let store = open(settings).await?;
    let catalog = Arc::new(load_catalog(settings, store.as_ref()).await?);
    let now = args.now.unwrap_or_else(Utc::now);
    let mut opts = IngestOptions::new(now);
    opts.freshness_days = settings.freshness_days;
    opts.batch_machines = args.batch.max(1);
    let s = run_ingest(
        settings,
        store.clone(),
        catalog,
        &args.files,
        opts,
        args.lookup_budget,
    )
    .await?;
    print_summary(&s, args.format)?;
    // Close the loop: running campaigns re-check their machines against
    // what was just stored (resolve, reopen, escalate; messages follow from
    // the worker's next wave).
    if s.machines_new + s.machines_updated > 0 {
        verify_campaigns(settings, now).await?;
    }
    Ok(s.exit_code() as u8)
}

async fn verify_campaigns(settings: &Settings, now: chrono::DateTime<Utc>) -> Result<()> {
    let e = crate::campaigns::engine(settings).await?;
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

fn cycle_cells(r: &CycleRow, with_kind: bool) -> Vec<String> {
    let mut v = Vec::new();
    if with_kind {
        v.push(r.kind.to_string());
    }
    v.extend([
        r.product.clone(),
        r.cycle.clone(),
        opt(&r.label),
        lc(r.eol),
        lc(r.extended_support_end),
        r.machines.to_string(),
    ]);
    v
}

/// Columns of `report eol`; `report os` and `report software` have all but `kind`.
const EOL_COLUMNS: &[&str] = &[
    "kind",
    "product",
    "cycle",
    "label",
    "eol",
    "extended_support_end",
    "machines",
];
const CYCLE_COLUMNS: &[&str] = EOL_COLUMNS.split_at(1).1;

/// The one check every command taking `--as-of` makes before it reads
/// (`report::known_as_of`): a date before every stored report is refused
/// (exit 2, naming the earliest date that can be answered); for a date
/// before the latest reports, how many machines were reported since and so
/// are not counted is said on stderr (stdout keeps its JSON or CSV shape).
pub async fn check_as_of(store: &dyn Store, as_of: &AsOf) -> Result<()> {
    let known = report::known_as_of(store, as_of).await?;
    if let Some(note) = known.note(as_of) {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// `winventory report os`.
pub async fn report_os(settings: &Settings, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = open(settings).await?;
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let rows = report::os_report(store.as_ref(), &catalog, as_of).await?;
    render::rows(format, &rows, CYCLE_COLUMNS, |r| {
        vec![
            r.product.clone().unwrap_or_else(|| "(unmatched)".into()),
            opt(&r.cycle),
            opt(&r.label),
            lc(r.eol),
            lc(r.extended_support_end),
            r.machines.to_string(),
        ]
    })?;
    Ok(0)
}

/// `winventory report eol`.
pub async fn report_eol(
    settings: &Settings,
    as_of: &AsOf,
    within: u32,
    format: Format,
) -> Result<u8> {
    let store = open(settings).await?;
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let rows = report::eol_report(store.as_ref(), &catalog, as_of, within).await?;
    render::rows(format, &rows, EOL_COLUMNS, |r| cycle_cells(r, true))?;
    Ok(0)
}

/// `winventory report software`.
pub async fn report_software(
    settings: &Settings,
    as_of: &AsOf,
    by: SoftwareBy,
    format: Format,
) -> Result<u8> {
    let store = open(settings).await?;
    check_as_of(store.as_ref(), as_of).await?;
    match by {
        SoftwareBy::Cycle => {
            let catalog = load_catalog(settings, store.as_ref()).await?;
            let rows = report::software_report(store.as_ref(), &catalog, as_of).await?;
            render::rows(format, &rows, CYCLE_COLUMNS, |r| cycle_cells(r, false))?;
        }
        SoftwareBy::Application => {
            let rows = report::application_report(store.as_ref(), as_of).await?;
            render::rows(format, &rows, &["application", "machines"], |r| {
                vec![r.application.clone(), r.machines.to_string()]
            })?;
        }
    }
    Ok(0)
}

/// `winventory machine HOST`.
pub async fn machine(settings: &Settings, host: &str, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = open(settings).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let Some(m) = report::machine_report(store.as_ref(), &catalog, host, as_of).await? else {
        eprintln!(
            "error: no machine named {host:?} is stored (hostnames compare case-insensitively); `winventory report os` lists what is"
        );
        return Ok(1);
    };
    if !as_of.is_known(m.last_report) {
        bail!(
            "{}'s state on {} is unknown: only each machine's latest report is kept, and its report was collected on {}, after that date; the earliest date it can be shown for is {}",
            m.hostname,
            as_of.date,
            m.last_report.format("%Y-%m-%d %H:%M UTC"),
            m.last_report.date_naive()
        );
    }
    if format == Format::Json {
        render::json(&m)?;
        return Ok(0);
    }
    let owner = |o: &Option<report::OwnerView>| match o {
        Some(o) => format!(
            "{} ({}){}",
            o.login,
            o.source,
            o.name
                .as_ref()
                .map(|n| format!(", {n}"))
                .unwrap_or_default()
        ),
        None => "unknown".into(),
    };
    println!(
        "{}{}",
        m.hostname,
        m.domain
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    println!("  os           {} {}", m.os.caption, m.os.version);
    println!(
        "  cycle        {} {} (eol {}, extended support {})",
        opt(&m.product),
        opt(&m.cycle),
        lc(m.eol),
        lc(m.extended_support_end)
    );
    println!(
        "  last report  {}{}",
        m.last_report.to_rfc3339(),
        if m.stale { " (stale)" } else { "" }
    );
    println!("  responsible  {}", owner(&m.responsible));
    println!("  main user    {}", owner(&m.main_user));
    render::rows(
        format,
        &m.software,
        &[
            "name",
            "version",
            "publisher",
            "install_date",
            "product",
            "cycle",
            "eol",
        ],
        |s| {
            vec![
                s.name.clone(),
                s.version.clone(),
                s.publisher.clone(),
                s.install_date
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                opt(&s.product),
                opt(&s.cycle),
                lc(s.eol),
            ]
        },
    )?;
    Ok(0)
}

/// `winventory owner LOGIN`.
pub async fn owner(
    settings: &Settings,
    login: &str,
    as_of: &AsOf,
    within: u32,
    format: Format,
) -> Result<u8> {
    let store = open(settings).await?;
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let r = report::owner_report(store.as_ref(), &catalog, login, as_of, within).await?;
    if format == Format::Json {
        render::json(&r)?;
        return Ok(0);
    }
    println!(
        "{}{}: {} fresh machine(s)",
        r.login,
        r.name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        r.machines.len()
    );
    render::rows(
        format,
        &r.machines,
        &["hostname", "roles", "os", "eol", "ending within window"],
        |m| {
            vec![
                m.hostname.clone(),
                m.roles.join("+"),
                format!("{} {}", opt(&m.product), opt(&m.cycle)),
                lc(m.eol),
                m.ending
                    .iter()
                    .map(|e| format!("{} {} ({})", e.product, e.cycle, lc(e.eol)))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        },
    )?;
    Ok(0)
}

/// `winventory users import`.
pub async fn users_import(settings: &Settings, file: &str, format: Format) -> Result<u8> {
    let parsed = if file == "-" {
        winventory_ingest::users::read_users(file, std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot read {file}"))?;
        winventory_ingest::users::read_users(file, f)
    }
    .map_err(anyhow::Error::msg)?;
    let store = open(settings).await?;
    store.import_users(&parsed.users, Utc::now()).await?;
    let summary = serde_json::json!({
        "imported": parsed.users.len(),
        "rejected": parsed.errors.len(),
        "errors": parsed.errors,
    });
    if format == Format::Json {
        render::json(&summary)?;
    } else {
        println!(
            "users imported {}, rejected {}",
            parsed.users.len(),
            parsed.errors.len()
        );
        for e in &parsed.errors {
            println!("  {}:{}: {}", e.file, e.line, e.reason);
        }
    }
    Ok(if parsed.errors.is_empty() { 0 } else { 1 })
}

/// `winventory catalog show`.
pub async fn catalog_show(
    settings: &Settings,
    product: Option<&str>,
    format: Format,
) -> Result<u8> {
    let store = open(settings).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    match product {
        Some(p) => {
            if !catalog.has_product(p) {
                bail!("the catalog has no product {p:?}; `winventory catalog show` lists them");
            }
            let rows: Vec<_> = catalog
                .cycles()
                .filter(|c| c.product == p)
                .cloned()
                .collect();
            render::rows(
                format,
                &rows,
                &[
                    "cycle",
                    "label",
                    "release_date",
                    "support_end",
                    "eol",
                    "extended_support_end",
                    "source",
                ],
                |c| {
                    vec![
                        c.cycle.clone(),
                        opt(&c.label),
                        c.release_date
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into()),
                        lc(c.support_end),
                        lc(c.eol),
                        lc(c.extended_support_end),
                        c.source.clone(),
                    ]
                },
            )?;
        }
        None => {
            let rows: Vec<serde_json::Value> = catalog
                .products()
                .into_iter()
                .map(|p| {
                    let cycles: Vec<_> = catalog.cycles().filter(|c| c.product == p).collect();
                    serde_json::json!({
                        "product": p,
                        "title": cycles.first().map(|c| c.product_title.clone()),
                        "category": cycles.first().map(|c| c.category.clone()),
                        "cycles": cycles.len(),
                    })
                })
                .collect();
            render::rows(
                format,
                &rows,
                &["product", "title", "category", "cycles"],
                |v| {
                    ["product", "title", "category", "cycles"]
                        .iter()
                        .map(|k| match &v[*k] {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                },
            )?;
        }
    }
    Ok(0)
}

/// `winventory catalog refresh`: fetch, save, re-match.
pub async fn catalog_refresh(settings: &Settings, products: &[String]) -> Result<u8> {
    use winventory_ingest::eol_api::{DEFAULT_TIMEOUT, EolApi, refresh};
    let store = open(settings).await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let wanted: Vec<String> = if products.is_empty() {
        catalog.products().into_iter().map(str::to_string).collect()
    } else {
        products.to_vec()
    };
    let api = EolApi::new(&settings.eol_api, DEFAULT_TIMEOUT)?;
    let outcome = refresh(&api, &wanted, &catalog).await;
    store
        .save_refreshed_catalog(&outcome.rows, Utc::now())
        .await?;
    let catalog = load_catalog(settings, store.as_ref()).await?;
    let (titles, machines) = rematch(store.as_ref(), &catalog).await?;
    println!(
        "refreshed {} cycles of {} products; re-matched {} titles and {} machines",
        outcome.rows.len(),
        wanted.len() - outcome.errors.len(),
        titles,
        machines
    );
    for (old, new) in &outcome.renamed {
        println!("  note: {old} is now called {new} by endoflife.date");
    }
    for (p, e) in &outcome.errors {
        println!("  failed: {p}: {e}");
    }
    if outcome.errors.is_empty() {
        Ok(0)
    } else {
        println!(
            "The products that failed keep their previous dates; run the command again later."
        );
        Ok(1)
    }
}

/// Re-match every title and machine against the catalog in force.
async fn rematch(store: &dyn Store, catalog: &Catalog) -> Result<(usize, usize)> {
    let mut titles = store.titles().await?;
    for t in &mut titles {
        let m = catalog.match_software(&t.name, &t.version, &t.publisher);
        t.cycle = m.cycle;
        t.application = m.application;
    }
    store.update_title_matches(&titles).await?;
    let os: Vec<_> = store
        .machine_os()
        .await?
        .into_iter()
        .map(|(id, os)| (id, catalog.match_os(&os)))
        .collect();
    store.update_os_matches(&os).await?;
    Ok((titles.len(), os.len()))
}

/// `winventory demo`.
pub async fn demo(settings: &Settings, machines: usize, programs: usize) -> Result<u8> {
    let now = Utc::now();
    let dir = std::env::temp_dir().join(format!("winventory-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("demo-fleet.jsonl");
    let mut spec = winventory_ingest::generate::FleetSpec::demo(now);
    spec.machines = machines;
    spec.programs_per_machine = programs;
    let file = std::fs::File::create(&path)?;
    let stats = winventory_ingest::generate::write_fleet(&spec, std::io::BufWriter::new(file))?;
    println!(
        "Demo fleet: {} machines, {} software rows ({}), into {}\n",
        stats.machines,
        stats.software_rows,
        path.display(),
        winventory_core::store::redact_url(&settings.database)
    );
    let store = open(settings).await?;
    let catalog = Arc::new(load_catalog(settings, store.as_ref()).await?);
    let mut opts = IngestOptions::new(now);
    opts.freshness_days = settings.freshness_days;
    let s = run_ingest(
        settings,
        store.clone(),
        catalog.clone(),
        &[path.display().to_string()],
        opts,
        10,
    )
    .await?;
    print_summary(&s, Format::Table)?;
    let _ = std::fs::remove_dir_all(&dir);
    let as_of = AsOf::now(settings.freshness_days);
    println!("\nOperating systems of fresh machines (winventory report os):");
    report_os(settings, &as_of, Format::Table).await?;
    println!(
        "\nReached end of life, or will within 180 days (winventory report eol --within 180):"
    );
    report_eol(settings, &as_of, 180, Format::Table).await?;
    println!(
        "\nNext: `winventory machine HOST`, `winventory owner LOGIN`, `winventory report software --by application`, `winventory --help`."
    );
    Ok(0)
}

/// `winventory generate`.
pub fn generate(
    machines: usize,
    programs: usize,
    seed: u64,
    stale: f64,
    at: DateTime<Utc>,
    out: &str,
) -> Result<u8> {
    let spec = winventory_ingest::generate::FleetSpec {
        machines,
        programs_per_machine: programs,
        seed,
        collected_at: at,
        stale_fraction: stale.clamp(0.0, 1.0),
        ..winventory_ingest::generate::FleetSpec::demo(at)
    };
    let stats = if out == "-" {
        winventory_ingest::generate::write_fleet(
            &spec,
            std::io::BufWriter::new(std::io::stdout().lock()),
        )?
    } else {
        let f = std::fs::File::create(out).with_context(|| format!("cannot create {out}"))?;
        let w = std::io::BufWriter::with_capacity(1 << 20, f);
        if out.ends_with(".gz") {
            let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
            let s = winventory_ingest::generate::write_fleet(&spec, &mut enc)?;
            enc.finish()?.flush()?;
            s
        } else {
            winventory_ingest::generate::write_fleet(&spec, w)?
        }
    };
    eprintln!(
        "wrote {} machines, {} software rows",
        stats.machines, stats.software_rows
    );
    Ok(0)
}
