//! Matching again: every stored title and machine against the catalog in
//! force, when what matching depends on (the software rules, the catalog's
//! cycles, the Windows build map: [`Catalog::matching_fingerprint`]) has
//! changed since the stored matches were made, as after an upgrade that
//! ships new rules, an edited site catalog or a catalog refresh. Titles are
//! otherwise matched once, when first seen, and kept.

use winventory_core::store::StoreError;
use winventory_core::{Catalog, Store};

/// The `control` entry that holds the fingerprint of the stored matches.
pub const FINGERPRINT_KEY: &str = "matching_fingerprint";

/// What was matched again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rematched {
    /// Distinct titles.
    pub titles: usize,
    /// Machines (their OS).
    pub machines: usize,
}

/// Match every stored title and machine again, then record the catalog's
/// fingerprint beside the matches.
pub async fn rematch_all(store: &dyn Store, catalog: &Catalog) -> Result<Rematched, StoreError> {
    rematch_recording(store, catalog, &catalog.matching_fingerprint()).await
}

async fn rematch_recording(
    store: &dyn Store,
    catalog: &Catalog,
    fingerprint: &str,
) -> Result<Rematched, StoreError> {
    let mut titles = store.titles().await?;
    for t in &mut titles {
        let m = catalog.match_software(&t.name, &t.version, &t.publisher);
        t.cycle = m.cycle;
        t.application = m.application;
    }
    store.update_title_matches(&titles).await?;
    let os: Vec<_> = store
        .machine_os()
        .await?
        .into_iter()
        .map(|(id, os)| (id, catalog.match_os(&os)))
        .collect();
    store.update_os_matches(&os).await?;
    store
        .set_control(FINGERPRINT_KEY, Some(fingerprint))
        .await?;
    Ok(Rematched {
        titles: titles.len(),
        machines: os.len(),
    })
}

/// Match everything again if the stored matches were made with other rules;
/// `None` when they are current.
pub async fn bring_up_to_date(
    store: &dyn Store,
    catalog: &Catalog,
) -> Result<Option<Rematched>, StoreError> {
    let current = catalog.matching_fingerprint();
    if store.control(FINGERPRINT_KEY).await?.as_deref() == Some(current.as_str()) {
        return Ok(None);
    }
    rematch_recording(store, catalog, &current).await.map(Some)
}
