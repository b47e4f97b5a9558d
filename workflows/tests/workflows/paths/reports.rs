//! `report software`: what the CLI prints, computed by
//! `report::application_report` (`--by application`) and
//! `report::software_report` (by catalog cycle, the default), on a small
//! fleet with exact numbers: fresh machines only, each machine counted once
//! per application however many versions it holds.

use winventory_core::report::{self, ApplicationRow};
use winventory_core::{AsOf, on_both_backends};

use crate::paths::helpers::*;

on_both_backends! {
    async fn report_software_counts_fresh_machines_by_application_and_by_cycle(backend) {
        let s = site(backend).await;
        let now = at("2026-11-27T12:00:00Z");
        let fresh = "2026-11-26T12:00:00Z";
        s.ingest(now, &[
            // Two Pythons and Office.
            snapshot("R1", fresh, Os::Windows11, Some("ann"), &[PYTHON_38, PYTHON_312, OFFICE_2016]),
            snapshot("R2", fresh, Os::Server2019, None, &[PYTHON_312]),
            snapshot("R3", fresh, Os::Server2016, Some("cid"), &[OFFICE_2016, VSCODE]),
            snapshot("R4", fresh, Os::Server2016, Some("cid"), &[]),
            // Stale: counted nowhere.
            snapshot("R5", "2026-07-01T12:00:00Z", Os::Server2019, None, &[PYTHON_38, OFFICE_2016]),
        ]).await;
        let as_of = AsOf::at(now, 90);

        let apps = report::application_report(s.store.as_ref(), &as_of).await.expect("by application");
        let row = |a: &str, n: i64| ApplicationRow { application: a.into(), machines: n };
        assert_eq!(apps, [row("Microsoft Office", 2), row("Python", 2)]);

        let cycles = report::software_report(s.store.as_ref(), &s.engine.catalog, &as_of).await.expect("by cycle");
        let got: Vec<(&str, &str, &str, i64)> = cycles.iter().map(|r| (r.kind, r.product.as_str(), r.cycle.as_str(), r.machines)).collect();
        assert_eq!(got, [
            ("software", "office", "2016", 2),
            ("software", "python", "3.12", 2),
            ("software", "python", "3.8", 1),
        ]);
        assert!(cycles.iter().all(|r| r.eol.is_some()), "{cycles:?}");

        // As of a day when R5 was fresh, it counts again.
        let july = AsOf::at(at("2026-07-02T12:00:00Z"), 90);
        let apps = report::application_report(s.store.as_ref(), &july).await.expect("by application");
        assert_eq!(apps, [row("Microsoft Office", 3), row("Python", 3)]);

        // Re-ingesting the same fleet changes nothing.
        s.ingest(now, &[snapshot("R2", fresh, Os::Server2019, None, &[PYTHON_312])]).await;
        let apps = report::application_report(s.store.as_ref(), &as_of).await.expect("by application");
        assert_eq!(apps, [row("Microsoft Office", 2), row("Python", 2)]);
    }
}
