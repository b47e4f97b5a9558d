//! The report commands: `report os|eol|software`, `machine`, `owner`:
//! read through the store and the catalog, printed as a table, CSV or JSON.

use anyhow::{Result, bail};
use clap::ValueEnum;
use winventory_core::fleet::{self, CycleFilter, MachineFilter};
use winventory_core::report::{self, CycleRow};
use winventory_core::store::Freshness;
use winventory_core::{AsOf, Store};

use crate::app::App;
use crate::cli::output::outln;
use crate::cli::output::{self as render, Format, lc, opt};

/// The filters of `winventory machines`.
#[derive(Debug, clap::Args)]
pub struct MachinesArgs {
    /// OS product, or product and cycle (windows-server, windows-server:2012-r2).
    #[arg(long, value_name = "PRODUCT[:CYCLE]")]
    os: Option<CycleFilter>,
    /// A matched program's product, or product and cycle (python:3.8).
    #[arg(long, value_name = "PRODUCT[:CYCLE]")]
    software: Option<CycleFilter>,
    /// A program counted as this application (the licence report's names).
    #[arg(long, value_name = "NAME")]
    application: Option<String>,
    /// Ends within DAYS of as-of (0: has ended): the OS of `--os`, the
    /// programs of `--software`, or with neither the OS or any program.
    #[arg(long, value_name = "DAYS", alias = "eol-in", alias = "eol")]
    eol_within: Option<u32>,
    /// The OS matched no catalog cycle.
    #[arg(long)]
    unmatched: bool,
    /// Only machines whose latest report is older than the freshness window.
    #[arg(long, conflicts_with = "all")]
    stale: bool,
    /// Fresh and stale machines.
    #[arg(long)]
    all: bool,
    /// Machines this person is responsible for or mainly uses (login).
    #[arg(long, value_name = "LOGIN")]
    owner: Option<String>,
    /// Machines whose responsible or main user is in this directory group.
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    #[command(flatten)]
    pub when: crate::cli::AsOfArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Grouping of `report software`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SoftwareBy {
    /// By catalog product and cycle.
    Cycle,
    /// By application.
    Application,
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
    // One index look-up: the oldest report, none when nothing is stored.
    let (oldest, _) = store
        .reported_since(chrono::DateTime::<chrono::Utc>::MAX_UTC)
        .await?;
    if oldest.is_none() {
        eprintln!(
            "note: nothing ingested yet in this database: `winventory ingest SNAPSHOT.jsonl` stores a snapshot (docs/input-format.md), `winventory demo` shows the reports on a demo fleet"
        );
        return Ok(());
    }
    let known = report::known_as_of(store, as_of).await?;
    if let Some(note) = known.note(as_of) {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// Columns of the cycle reports for people: the release as people name it
/// (CSV and JSON keep the catalog's ids beside the label).
const PEOPLE_EOL_COLUMNS: &[&str] = &["kind", "release", "eol", "extended_support_end", "machines"];
const PEOPLE_CYCLE_COLUMNS: &[&str] = PEOPLE_EOL_COLUMNS.split_at(1).1;

fn people_cells(r: &CycleRow, with_kind: bool) -> Vec<String> {
    let mut v = Vec::new();
    if with_kind {
        v.push(r.kind.to_string());
    }
    v.extend([
        r.label
            .clone()
            .unwrap_or_else(|| format!("{} {}", r.product, r.cycle)),
        lc(r.eol),
        lc(r.extended_support_end),
        r.machines.to_string(),
    ]);
    v
}

/// Print cycle rows: for people by label, for tools with the ids.
fn cycle_rows(format: Format, rows: &[CycleRow], with_kind: bool) -> Result<()> {
    if format == Format::Table {
        let header = if with_kind {
            PEOPLE_EOL_COLUMNS
        } else {
            PEOPLE_CYCLE_COLUMNS
        };
        render::rows(format, rows, header, |r| people_cells(r, with_kind))
    } else {
        let header = if with_kind {
            EOL_COLUMNS
        } else {
            CYCLE_COLUMNS
        };
        render::rows(format, rows, header, |r| cycle_cells(r, with_kind))
    }
}

/// `winventory report os`.
pub async fn report_os(app: &App, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
    let rows = report::os_report(store.as_ref(), &catalog, as_of).await?;
    if format == Format::Table {
        render::rows(format, &rows, PEOPLE_CYCLE_COLUMNS, |r| {
            vec![
                r.label
                    .clone()
                    .unwrap_or_else(|| "(not in the catalog)".into()),
                lc(r.eol),
                lc(r.extended_support_end),
                r.machines.to_string(),
            ]
        })?;
        if rows.iter().any(|r| r.product.is_none()) {
            eprintln!(
                "the machines whose OS is not in the catalog: winventory machines --unmatched"
            );
        }
        return Ok(0);
    }
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
    app: &App,
    as_of: &AsOf,
    within: u32,
    by: EolBy,
    format: Format,
) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
    let rows = report::eol_report(store.as_ref(), &catalog, as_of, within).await?;
    if by == EolBy::Cycle {
        cycle_rows(format, &rows, true)?;
        return Ok(0);
    }
    let products = fleet::eol_by_product(store.as_ref(), &catalog, as_of, &rows).await?;
    let for_people = format == Format::Table;
    let header: &[&str] = if for_people {
        &["kind", "product", "machines", "cycles", "earliest_eol"]
    } else {
        &[
            "kind",
            "product",
            "label",
            "machines",
            "cycles",
            "earliest_eol",
        ]
    };
    render::rows(format, &products, header, |p| {
        let mut row = vec![p.kind.to_string()];
        if for_people {
            row.push(p.label.clone());
        } else {
            row.extend([p.product.clone(), p.label.clone()]);
        }
        row.extend([
            p.machines.to_string(),
            p.cycles
                .iter()
                .map(|c| {
                    let short = c
                        .label
                        .strip_prefix(&p.label)
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .unwrap_or(&c.label);
                    format!("{short} ({})", c.machines)
                })
                .collect::<Vec<_>>()
                .join(", "),
            lc(p.eol),
        ]);
        row
    })?;
    if format == Format::Table && !products.is_empty() {
        let first = &products[0];
        eprintln!(
            "the machines behind a row: winventory machines --{} {} --eol-within {within}; one cycle's: --{} {}:{}; every cycle on its own row: --by cycle",
            first.kind,
            first.product,
            first.kind,
            first.product,
            first.cycles.first().map(|c| c.cycle.as_str()).unwrap_or(""),
        );
    }
    Ok(0)
}

/// Rows of `report eol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EolBy {
    /// One row per product, its ended cycles listed in it.
    Product,
    /// One row per product and cycle.
    Cycle,
}

/// `winventory report software`.
pub async fn report_software(
    app: &App,
    as_of: &AsOf,
    by: SoftwareBy,
    format: Format,
) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    match by {
        SoftwareBy::Cycle => {
            let catalog = app.catalog.clone();
            let rows = report::software_report(store.as_ref(), &catalog, as_of).await?;
            cycle_rows(format, &rows, false)?;
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

/// `winventory machines`.
pub async fn machines(app: &App, as_of: &AsOf, args: &MachinesArgs) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let filter = MachineFilter {
        os: args.os.clone(),
        software: args.software.clone(),
        application: args.application.clone(),
        eol_within: args.eol_within,
        unmatched: args.unmatched,
        freshness: if args.stale {
            Freshness::Stale
        } else if args.all {
            Freshness::Any
        } else {
            Freshness::Fresh
        },
        owner: args.owner.clone(),
        group: args.group.clone(),
    };
    let list = fleet::list_machines(store.as_ref(), &app.catalog, as_of, &filter).await?;
    let with_matched = args.software.is_some() || args.eol_within.is_some();
    let mut header = vec![
        "hostname",
        "os",
        "eol",
        "responsible",
        "main_user",
        "last_report",
    ];
    if with_matched {
        header.push("matched");
    }
    render::rows(args.format, &list, &header, |m| {
        let mut v = vec![
            m.hostname.clone(),
            m.label
                .clone()
                .unwrap_or_else(|| format!("{} (unmatched)", m.os)),
            lc(m.eol),
            opt(&m.responsible),
            opt(&m.main_user),
            format!(
                "{}{}",
                m.last_report.format("%Y-%m-%d"),
                if m.stale { " (stale)" } else { "" }
            ),
        ];
        if with_matched {
            v.push(
                m.matched
                    .iter()
                    .map(|c| format!("{} ({})", c.label, lc(c.eol)))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        v
    })?;
    if args.format == Format::Table {
        eprintln!("{} machine(s)", list.len());
    }
    Ok(0)
}

/// `winventory machine HOST`.
pub async fn machine(app: &App, host: &str, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = app.store.clone();
    let catalog = app.catalog.clone();
    let Some(m) = report::machine_report(store.as_ref(), &catalog, host, as_of).await? else {
        eprintln!(
            "error: no machine named {host:?} is stored (hostnames compare case-insensitively); `winventory machines --all` lists the machines there are"
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
    if format == Format::Csv {
        // One table: the programs, each row naming its machine.
        render::rows(
            format,
            &m.software,
            &[
                "hostname",
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
                    m.hostname.clone(),
                    s.name.clone(),
                    s.version.clone(),
                    s.publisher.clone(),
                    s.install_date.map(|d| d.to_string()).unwrap_or_default(),
                    s.product.clone().unwrap_or_default(),
                    s.cycle.clone().unwrap_or_default(),
                    lc(s.eol),
                ]
            },
        )?;
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
    outln!(
        "{}{}",
        m.hostname,
        m.domain
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    outln!("  os           {} {}", m.os.caption, m.os.version);
    outln!(
        "  release      {} (eol {}, extended support {})",
        m.label
            .clone()
            .unwrap_or_else(|| "not in the catalog".into()),
        lc(m.eol),
        lc(m.extended_support_end)
    );
    outln!(
        "  last report  {}{}",
        m.last_report.to_rfc3339(),
        if m.stale { " (stale)" } else { "" }
    );
    outln!("  responsible  {}", owner(&m.responsible));
    outln!("  main user    {}", owner(&m.main_user));
    render::rows(
        format,
        &m.software,
        &[
            "name",
            "version",
            "publisher",
            "install_date",
            "release",
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
                opt(&s.label),
                lc(s.eol),
            ]
        },
    )?;
    Ok(0)
}

/// `winventory owner LOGIN`.
pub async fn owner(
    app: &App,
    login: &str,
    as_of: &AsOf,
    within: u32,
    format: Format,
) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
    let r = report::owner_report(store.as_ref(), &catalog, login, as_of, within).await?;
    if format == Format::Json {
        render::json(&r)?;
        return Ok(0);
    }
    if format == Format::Table {
        outln!(
            "{}{}: {} fresh machine(s)",
            r.login,
            r.name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            r.machines.len()
        );
    }
    render::rows(
        format,
        &r.machines,
        &["hostname", "roles", "os", "eol", "ending within window"],
        |m| {
            vec![
                m.hostname.clone(),
                m.roles.join("+"),
                opt(&m.label),
                lc(m.eol),
                m.ending
                    .iter()
                    .map(|e| format!("{} ({})", opt(&e.label), lc(e.eol)))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        },
    )?;
    Ok(0)
}
