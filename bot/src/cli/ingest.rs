//! `winventory ingest`, `demo` and `generate`: snapshots in, a summary out.

use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use winventory_core::AsOf;
use winventory_ingest::Summary;

use crate::app::App;
use crate::cli::output::{self as render, Format};

use crate::app::IngestRun;
use crate::cli::reports::{report_eol, report_os};

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
pub async fn ingest(app: &App, args: IngestArgs) -> Result<u8> {
    let now = args.now.unwrap_or_else(Utc::now);
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
        winventory_core::store::redact_url(&app.settings.database)
    );
    let run = IngestRun {
        lookup_budget: 10,
        progress: true,
        ..IngestRun::at(now)
    };
    let s = app.ingest_files(&[path.display().to_string()], run).await?;
    print_summary(&s, Format::Table)?;
    let _ = std::fs::remove_dir_all(&dir);
    let as_of = AsOf::now(app.settings.freshness_days);
    println!("\nOperating systems of fresh machines (winventory report os):");
    report_os(app, &as_of, Format::Table).await?;
    println!(
        "\nReached end of life, or will within 180 days (winventory report eol --within 180):"
    );
    report_eol(app, &as_of, 180, Format::Table).await?;
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
