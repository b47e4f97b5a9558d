//! Configuration: built-in defaults, then the TOML file given by `--config`
//! (or `WINVENTORY_CONFIG`), then `WINVENTORY_...` environment variables,
//! then command-line flags, each overriding the one before. Clap resolves
//! flags over environment variables; this module fills what both left unset
//! from the file, then from the defaults. Secrets live in [`Secret`] so they
//! are never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use winventory_ingest::netdb::Secret;

/// The configuration file's keys (all optional).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Database URL.
    pub database: Option<String>,
    /// Network database base URL.
    pub network_db: Option<String>,
    /// Network database bearer token.
    pub network_db_token: Option<String>,
    /// Network database request time-out, seconds.
    pub network_db_timeout_secs: Option<u64>,
    /// Network database look-ups in flight.
    pub network_db_concurrency: Option<usize>,
    /// Freshness window, days.
    pub freshness_days: Option<u32>,
    /// Site catalog file.
    pub catalog: Option<PathBuf>,
    /// endoflife.date API base URL.
    pub eol_api: Option<String>,
}

impl FileConfig {
    /// Read a configuration file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
        })
    }
}

/// The settings in force for one command. `Debug` masks the database
/// password; the token is a [`Secret`].
#[derive(Clone)]
pub struct Settings {
    /// Database URL.
    pub database: String,
    /// Network database base URL, if look-ups are on.
    pub network_db: Option<String>,
    /// Its token.
    pub network_db_token: Option<Secret>,
    /// Its request time-out.
    pub network_db_timeout_secs: u64,
    /// Look-ups in flight.
    pub network_db_concurrency: usize,
    /// Freshness window in days.
    pub freshness_days: u32,
    /// Site catalog file.
    pub catalog: Option<PathBuf>,
    /// endoflife.date API base URL.
    pub eol_api: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database",
                &winventory_core::store::redact_url(&self.database),
            )
            .field("network_db", &self.network_db)
            .field("network_db_token", &self.network_db_token)
            .field("freshness_days", &self.freshness_days)
            .field("catalog", &self.catalog)
            .field("eol_api", &self.eol_api)
            .finish_non_exhaustive()
    }
}

/// What flags and environment variables gave (clap merges those two).
#[derive(Clone, Default)]
pub struct Overrides {
    /// `--config` / `WINVENTORY_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--database` / `WINVENTORY_DATABASE_URL`.
    pub database: Option<String>,
    /// `--network-db` / `WINVENTORY_NETWORK_DB_URL`.
    pub network_db: Option<String>,
    /// `WINVENTORY_NETWORK_DB_TOKEN`.
    pub network_db_token: Option<String>,
    /// `--freshness-days` / `WINVENTORY_FRESHNESS_DAYS`.
    pub freshness_days: Option<u32>,
    /// `--catalog` / `WINVENTORY_CATALOG`.
    pub catalog: Option<PathBuf>,
    /// `--eol-api` / `WINVENTORY_EOL_API`.
    pub eol_api: Option<String>,
}

impl Settings {
    /// Resolve the layers.
    pub fn resolve(o: Overrides) -> Result<Self> {
        let file = match &o.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        Ok(Self {
            database: o
                .database
                .or(file.database)
                .unwrap_or_else(|| "sqlite://winventory.db".into()),
            network_db: o
                .network_db
                .or(file.network_db)
                .filter(|s| !s.trim().is_empty()),
            network_db_token: o
                .network_db_token
                .or(file.network_db_token)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            network_db_timeout_secs: file.network_db_timeout_secs.unwrap_or(5),
            network_db_concurrency: file.network_db_concurrency.unwrap_or(8),
            freshness_days: o
                .freshness_days
                .or(file.freshness_days)
                .unwrap_or(winventory_core::domain::DEFAULT_FRESHNESS_DAYS),
            catalog: o.catalog.or(file.catalog),
            eol_api: o
                .eol_api
                .or(file.eol_api)
                .unwrap_or_else(|| "https://endoflife.date/api/v1".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_the_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "database = \"postgres://u:pw0rd@h/db\"\nfreshness_days = 30\nnetwork_db_token = \"s3cret\"\n",
        )
            .expect("write");
        let s = Settings::resolve(Overrides {
            config: Some(path.clone()),
            database: Some("sqlite://from-flag.db".into()),
            ..Overrides::default()
        })
        .expect("resolve");
        assert_eq!(s.database, "sqlite://from-flag.db");
        assert_eq!(s.freshness_days, 30);
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "secrets are never printed"
        );
        let d = Settings::resolve(Overrides::default()).expect("defaults");
        assert_eq!(d.database, "sqlite://winventory.db");
        assert_eq!(d.freshness_days, 90);
    }

    #[test]
    fn a_bad_configuration_file_names_its_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.toml");
        std::fs::write(&path, "database = \"x\"\nfreshnes_days = 3\n").expect("write");
        let e = Settings::resolve(Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .expect_err("bad");
        assert!(e.to_string().contains("w.toml:2"), "{e}");
    }
}
