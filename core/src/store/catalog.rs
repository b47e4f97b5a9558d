//! The catalog role: the lifecycle rows a `catalog refresh` saved, and the
//! matches of titles and OS reports stored again when the catalog changes
//! (with the per-machine tables derived from them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Result, TitleRow};
use crate::catalog::CycleInfo;
use crate::domain::{CycleRef, OsInfo};

/// The lifecycle catalog's stored part: rows a refresh fetched, and the
/// matches of titles and OS reports re-stored after the catalog changed.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Rows saved by `catalog refresh`.
    async fn refreshed_catalog(&self) -> Result<Vec<CycleInfo>>;
    /// Save refreshed rows (replacing rows of the same product and cycle).
    async fn save_refreshed_catalog(&self, rows: &[CycleInfo], now: DateTime<Utc>) -> Result<()>;
    /// Re-store title matches, then rebuild the derived per-machine tables.
    async fn update_title_matches(&self, titles: &[TitleRow]) -> Result<()>;
    /// Every machine's id and OS facts.
    async fn machine_os(&self) -> Result<Vec<(i64, OsInfo)>>;
    /// Re-store OS matches.
    async fn update_os_matches(&self, matches: &[(i64, Option<CycleRef>)]) -> Result<()>;
}
