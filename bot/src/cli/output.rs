//! Output of read commands: one shape of rows, three renderings (an aligned
//! table for people, JSON for scripts, CSV for spreadsheets).

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use winventory_core::Lifecycle;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// An aligned table.
    #[default]
    Table,
    /// JSON.
    Json,
    /// CSV with a header row.
    Csv,
}

/// How to print a summary that is not a table (`--format csv` has no table
/// to print there, so it is refused by the argument parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SummaryFormat {
    /// Lines for people.
    #[default]
    #[value(alias = "table")]
    Text,
    /// JSON.
    Json,
}

/// `println!` for command output: a write that fails (a closed pipe: `|
/// head`) returns the error from the enclosing function instead of
/// panicking, and `main` ends quietly on a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            return Err(e.into());
        }
    }};
}
pub(crate) use outln;

/// Whether an error is a write to a closed pipe (the reader went away:
/// `winventory report eol --format json | head`), which ends a command
/// quietly, as Unix tools do.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::BrokenPipe;
        }
        if let Some(j) = cause.downcast_ref::<serde_json::Error>() {
            return j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe);
        }
        if let Some(c) = cause.downcast_ref::<csv::Error>()
            && let csv::ErrorKind::Io(io) = c.kind()
        {
            return io.kind() == std::io::ErrorKind::BrokenPipe;
        }
        false
    })
}

/// A lifecycle value for people.
pub fn lc(v: Option<Lifecycle>) -> String {
    match v {
        None => "-".into(),
        Some(Lifecycle::Date(d)) => d.to_string(),
        Some(Lifecycle::Flag(true)) => "ended".into(),
        Some(Lifecycle::Flag(false)) => "not decided".into(),
    }
}

/// An optional text for people.
pub fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// Print rows as JSON, or as a table/CSV with `header` and `cells`.
pub fn rows<T: Serialize>(
    format: Format,
    data: &[T],
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, data)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(header)?;
            for d in data {
                w.write_record(cells(d))?;
            }
            w.flush()?;
        }
        Format::Table => {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic);
            t.set_header(header.iter().copied());
            for d in data {
                t.add_row(cells(d));
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(())
}

/// Print one object as JSON.
pub fn json<T: Serialize>(data: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, data)?;
    writeln!(out)?;
    Ok(())
}
