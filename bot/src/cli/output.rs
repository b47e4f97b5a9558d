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
