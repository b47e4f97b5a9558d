//! `winventory users import`: the directory from a CSV file.

use anyhow::{Context, Result};
use chrono::Utc;

use crate::app::App;
use crate::cli::output::{self as render, Format};

/// `winventory users import`.
pub async fn users_import(app: &App, file: &str, format: Format) -> Result<u8> {
    let parsed = if file == "-" {
        winventory_ingest::users::read_users(file, std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("cannot read {file}"))?;
        winventory_ingest::users::read_users(file, f)
    }
    .map_err(anyhow::Error::msg)?;
    let store = app.store.clone();
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
