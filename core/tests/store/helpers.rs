//! What the role tests share: a fresh migrated store, fixed instants, and
//! machines written the way the ingest writes them.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use winventory_core::store::{Backend, MachineWrite, OwnerChange, Store};
use winventory_core::testing::{TestDb, fresh_database};
use winventory_core::{CycleRef, OsInfo, OwnerFact, OwnerRole, OwnerSource};

/// A fresh, migrated store; keep the [`TestDb`] alive while it is used.
pub async fn store(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = fresh_database(backend).await;
    let store = winventory_core::store::connect(&db.url)
        .await
        .expect("a migrated store");
    (db, store)
}

/// 2026-11-02 09:00 UTC plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("a time")
        + Duration::minutes(minutes)
}

/// A cycle reference.
pub fn cycle(product: &str, cycle: &str) -> CycleRef {
    CycleRef {
        product: product.into(),
        cycle: cycle.into(),
    }
}

/// A Windows Server 2012 R2 report of `host` collected at `collected`, its
/// responsible `owner` (from the snapshot), no software list.
pub fn machine(host: &str, collected: DateTime<Utc>, owner: Option<&str>) -> MachineWrite {
    MachineWrite {
        id: None,
        host_key: host.to_lowercase(),
        hostname: host.into(),
        domain: Some("EXAMPLE".into()),
        os: OsInfo {
            caption: "Microsoft Windows Server 2012 R2 Standard".into(),
            version: "6.3.9600".into(),
            display_version: None,
            edition: Some("ServerStandard".into()),
            product_type: Some(3),
            architecture: Some("64-bit".into()),
        },
        os_match: Some(cycle("windows-server", "2012-r2")),
        collected_at: collected,
        software: None,
        owners: owner
            .map(|login| {
                OwnerChange::Set(
                    OwnerRole::Responsible,
                    OwnerFact {
                        login: login.into(),
                        source: OwnerSource::Snapshot,
                    },
                )
            })
            .into_iter()
            .collect(),
    }
}
