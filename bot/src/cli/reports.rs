//! The report commands: `report os|eol|software`, `machine`, `owner`:
//! read through the store and the catalog, printed as a table, CSV or JSON.

use anyhow::{Result, bail};
use clap::ValueEnum;
use winventory_core::report::{self, CycleRow};
use winventory_core::{AsOf, Store};

use crate::app::App;
use crate::cli::output::{self as render, Format, lc, opt};

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
    let known = report::known_as_of(store, as_of).await?;
    if let Some(note) = known.note(as_of) {
        eprintln!("note: {note}");
    }
    Ok(())
}

/// `winventory report os`.
pub async fn report_os(app: &App, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
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
pub async fn report_eol(app: &App, as_of: &AsOf, within: u32, format: Format) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
    let rows = report::eol_report(store.as_ref(), &catalog, as_of, within).await?;
    render::rows(format, &rows, EOL_COLUMNS, |r| cycle_cells(r, true))?;
    Ok(0)
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
pub async fn machine(app: &App, host: &str, as_of: &AsOf, format: Format) -> Result<u8> {
    let store = app.store.clone();
    let catalog = app.catalog.clone();
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
