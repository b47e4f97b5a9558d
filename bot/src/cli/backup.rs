//! `winventory backup FILE`: an online, consistent copy of a SQLite
//! database (other processes keep reading and writing while it runs), and
//! what to do instead on PostgreSQL (`pg_dump`).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use winventory_core::store::{Backend, StoreError};

use crate::app::App;
use crate::cli::output::outln;

/// Copy the database into `file` (which must not exist yet).
pub async fn backup(app: &App, file: &Path) -> Result<u8> {
    if app.store.backend() == Backend::Postgres {
        bail!(
            "the database is PostgreSQL: back it up with its own pg_dump, online and consistent: \
             `pg_dump --format=custom --file {} \"$WINVENTORY_DATABASE_URL\"`, and restore with \
             pg_restore (docs/operations.md, \"Backups and restore\")",
            file.display()
        );
    }
    if file.exists() {
        bail!(
            "{} already exists: name a new file (a backup never overwrites one)",
            file.display()
        );
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!(
            "{} is not a folder: create it first, or name a file in an existing folder",
            dir.display()
        );
    }
    let path = file
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8: name another file", file.display()))?;
    let started = std::time::Instant::now();
    match app.store.backup_into(path).await {
        Ok(()) => {}
        Err(e @ StoreError::Unsupported(_)) => bail!("{e}"),
        Err(e) => {
            // A half-written copy is no backup.
            let _ = std::fs::remove_file(file);
            return Err(anyhow::Error::from(e).context(format!(
                "cannot write the backup {}: check the folder's free space and permissions",
                file.display()
            )));
        }
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    outln!(
        "backed up the database into {} ({:.1} MB in {:.1} s), consistent as of its start; \
         to restore, stop every winventory process and copy it over the database file \
         (and delete that file's -wal and -shm beside it)",
        file.display(),
        size as f64 / 1_000_000.0,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
