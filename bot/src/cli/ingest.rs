//! `winventory ingest`, `demo` and `generate`: snapshots in, a summary out.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use winventory_core::AsOf;
use winventory_ingest::Summary;

use crate::app::App;
use crate::cli::output::{self as render, Format, SummaryFormat};

use crate::app::IngestRun;
use crate::cli::output::outln;
use crate::cli::reports::{EolBy, report_eol, report_os};

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
    format: SummaryFormat,
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

fn print_summary(s: &Summary, format: SummaryFormat) -> Result<()> {
    if format == SummaryFormat::Json {
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
pub async fn ingest(app: &App, args: IngestArgs) -> Result<u8> {
    let now = args.now.unwrap_or_else(|| app.clock.now());
    let run = IngestRun {
        now,
        batch: Some(args.batch),
        lookup_budget: args.lookup_budget,
        progress: true,
        reload_catalog: false,
    };
    let s = app.ingest_files(&args.files, run).await?;
    print_summary(&s, args.format)?;
    if s.machines_new + s.machines_updated > 0 {
        app.verify_campaigns(now).await?;
    }
    Ok(s.exit_code() as u8)
}

/// `winventory demo`.
pub async fn demo(app: &App, machines: usize, programs: usize) -> Result<u8> {
    let now = app.clock.now();
    let dir = std::env::temp_dir().join(format!("winventory-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("demo-fleet.jsonl");
    let mut spec = winventory_ingest::generate::FleetSpec::demo(now);
    spec.machines = machines;
    spec.programs_per_machine = programs;
    let file = std::fs::File::create(&path)?;
    let stats = winventory_ingest::generate::write_fleet(&spec, std::io::BufWriter::new(file))?;
    outln!(
        "Demo fleet: {} machines, {} software rows ({}), into {}\n",
        stats.machines,
        stats.software_rows,
        path.display(),
        winventory_core::store::redact_url(&app.settings.database)
    );
    let run = IngestRun {
        lookup_budget: 10,
        progress: true,
        ..IngestRun::at(now)
    };
    let s = app.ingest_files(&[path.display().to_string()], run).await?;
    print_summary(&s, SummaryFormat::Text)?;
    let _ = std::fs::remove_dir_all(&dir);
    let as_of = AsOf::at(now, app.settings.freshness_days);
    outln!("\nOperating systems of fresh machines (winventory report os):");
    report_os(app, &as_of, Format::Table).await?;
    outln!("\nReached end of life, or will within 180 days (winventory report eol --within 180):");
    report_eol(app, &as_of, 180, EolBy::Product, Format::Table).await?;
    demo_next_steps(app, &as_of).await?;
    Ok(0)
}

/// The demo's last words: commands to type next, with real names from the
/// fleet just ingested.
async fn demo_next_steps(app: &App, as_of: &AsOf) -> Result<()> {
    let store = app.store.as_ref();
    let ended = winventory_core::fleet::MachineFilter {
        eol_within: Some(0),
        ..Default::default()
    };
    let list = winventory_core::fleet::list_machines(store, &app.catalog, as_of, &ended).await?;
    let os_ended = list
        .iter()
        .find(|m| m.matched.iter().any(|c| c.kind == "os"));
    let mut owners: std::collections::BTreeMap<&str, usize> = Default::default();
    for m in &list {
        if let Some(r) = &m.responsible {
            *owners.entry(r).or_default() += 1;
        }
    }
    let owner = owners.iter().max_by_key(|(_, n)| **n).map(|(l, _)| *l);
    let db = &app.settings.database;
    outln!("\nThe demo's database is {db}. To explore it, point the commands at it:");
    outln!("  export WINVENTORY_DATABASE_URL={db}");
    if let Some(m) = os_ended.or(list.first()) {
        outln!(
            "  winventory machine {:<28} # one machine, everything known",
            m.hostname
        );
        if let (Some(p), Some(c)) = (&m.product, &m.cycle) {
            outln!(
                "  winventory machines --os {:<22} # the machines behind a report row",
                format!("{p}:{c}")
            );
        }
    }
    if let Some(o) = owner {
        outln!("  winventory owner {o:<30} # a person's machines and what ends on them");
    }
    outln!(
        "  winventory machines --eol-within 0 --format csv   # every machine concerned, for a spreadsheet"
    );
    outln!(
        "  winventory machines --unmatched                   # machines whose OS is not in the catalog"
    );
    outln!("  winventory report software --by application      # what licences count");
    outln!("  winventory --help                                 # every command");
    Ok(())
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
