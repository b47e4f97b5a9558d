//! The target selectors beyond `os`: `software` (a product's cycles, or all
//! of them), `eol_within_days` (whatever has ended or ends within the
//! window, OS or software), and the `hosts` limit (named machines only, any
//! case). Stale machines are never targets.

use winventory_core::on_both_backends;

use crate::paths::helpers::*;

const NOW: &str = "2026-11-27T12:00:00Z";

/// Six machines; OLD-E last reported in July (stale on 2026-11-27).
async fn fleet(s: &Site) {
    let fresh = "2026-11-26T12:00:00Z";
    s.ingest(
        at(NOW),
        &[
            // Ended 2023-10-10; Python 3.8 ended 2024-10-07.
            snapshot(
                "SRV-A",
                fresh,
                Os::Server2012R2,
                Some("ann"),
                &[PYTHON_38, VSCODE],
            ),
            // Ended 2026-11-10.
            snapshot("WS-B", fresh, Os::Windows11, Some("bob"), &[]),
            // Ends 2029-01-09; Python 3.12 ends 2028-10-31.
            snapshot("SRV-C", fresh, Os::Server2019, Some("cid"), &[PYTHON_312]),
            // Ends 2027-01-12.
            snapshot("SRV-D", fresh, Os::Server2016, Some("dan"), &[]),
            // Stale: would match everything below.
            snapshot(
                "OLD-E",
                "2026-07-01T12:00:00Z",
                Os::Server2012R2,
                Some("eve"),
                &[PYTHON_38],
            ),
            // Ended 2025-10-14; Office 2016 ended 2025-10-14.
            snapshot("WS-F", fresh, Os::Windows10, Some("fay"), &[OFFICE_2016]),
        ],
    )
    .await;
}

/// Start campaigns with these targets at once and run one wave; their
/// machines' host keys, in the same order.
async fn targets(s: &Site, targets: &[&str]) -> Vec<Vec<String>> {
    let mut campaigns = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        campaigns.push(s.start(&campaign(&format!("c{i}"), t, ""), at(NOW)).await);
    }
    s.engine.tick(at(NOW)).await.expect("wave");
    let mut out = Vec::new();
    for c in &campaigns {
        out.push(s.hosts(c).await);
    }
    out
}

on_both_backends! {
    async fn a_software_selector_targets_the_fresh_machines_running_those_cycles(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let got = targets(&s, &[
            r#"software = [{ product = "python", cycles = ["3.8"] }]"#,
            r#"software = [{ product = "python" }]"#,
            r#"software = [{ product = "python", cycles = ["3.12"] }, { product = "office", cycles = ["2016"] }]"#,
            r#"software = [{ product = "python", cycles = ["3.9"] }]"#,
        ]).await;
        assert_eq!(got, [
            vec!["srv-a"],
            vec!["srv-a", "srv-c"],
            vec!["srv-c", "ws-f"],
            vec![],
        ]);
    }
}

on_both_backends! {
    async fn an_eol_within_days_selector_targets_what_has_ended_or_ends_within_the_window(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let got = targets(&s, &[
            "eol_within_days = 0",
            "eol_within_days = 45",
            "eol_within_days = 46",
            "eol_within_days = 1000",
        ]).await;
        assert_eq!(got, [
            // Ended: 2012 R2 (and Python 3.8), 11 23H2, 10 22H2 (and Office 2016).
            vec!["srv-a", "ws-b", "ws-f"],
            // Server 2016 ends 2027-01-12, 46 days after 2026-11-27.
            vec!["srv-a", "ws-b", "ws-f"],
            vec!["srv-a", "srv-d", "ws-b", "ws-f"],
            // Python 3.12 (2028-10-31) and Server 2019 (2029-01-09) too.
            vec!["srv-a", "srv-c", "srv-d", "ws-b", "ws-f"],
        ]);
    }
}

on_both_backends! {
    async fn a_hosts_limit_keeps_only_the_named_machines_whatever_their_case(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let got = targets(&s, &[
            "eol_within_days = 60\nhosts = [\"srv-a\", \"SRV-D\", \"Ws-F\", \"OLD-E\", \"no-such-host\"]",
            "software = [{ product = \"python\" }]\nhosts = [\"SRV-C\"]",
            "os = [{ product = \"windows-server\", cycles = [\"2012-r2\"] }]\nhosts = [\"SRV-C\", \"OLD-E\"]",
        ]).await;
        assert_eq!(got, [
            vec!["srv-a", "srv-d", "ws-f"],
            vec!["srv-c"],
            // SRV-C runs 2019; OLD-E is stale.
            vec![],
        ]);
    }
}

on_both_backends! {
    async fn an_eol_within_days_campaign_takes_in_a_machine_once_its_end_comes_within_the_window(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let c = s.start(&campaign("window", "eol_within_days = 45", ""), at(NOW)).await;
        let w = s.engine.tick(at(NOW)).await.expect("wave");
        assert_eq!(w.machines_added, 3, "{w:?}");
        assert_eq!(s.hosts(&c).await, ["srv-a", "ws-b", "ws-f"]);
        // The window is counted from each wave's day: on 2026-11-28 it
        // reaches Server 2016's end (2027-01-12).
        let w = s.engine.tick(at("2026-11-28T12:00:00Z")).await.expect("wave");
        assert_eq!(w.machines_added, 1, "{w:?}");
        assert_eq!(s.hosts(&c).await, ["srv-a", "srv-d", "ws-b", "ws-f"]);
    }
}
