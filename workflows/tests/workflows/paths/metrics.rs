//! The numbers `/metrics` renders, read from the database at scrape time:
//! outbox messages by state (`CampaignStore::outbox_counts`: pending, being
//! sent, sent, failed, cancelled by a closed campaign) and campaigns by
//! state (`CampaignStore::campaigns`), after a real wave and a real
//! delivery pass.

use std::sync::Arc;

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_core::store::{CampaignState, OutboxCounts};
use winventory_workflows::delivery::{DeliveryConfig, SendError, Worker};

use crate::paths::helpers::*;

/// Campaigns by state, as `/metrics` counts them.
async fn campaigns_by_state(s: &Site) -> Vec<(&'static str, usize)> {
    let rows = s.store.campaigns().await.expect("campaigns");
    ["draft", "running", "paused", "closed"]
        .into_iter()
        .map(|state| {
            (
                state,
                rows.iter().filter(|c| c.state.as_str() == state).count(),
            )
        })
        .collect()
}

on_both_backends! {
    async fn the_metrics_numbers_count_the_outbox_by_state_and_the_campaigns_by_state(backend) {
        let s = site(backend).await;
        let t = at("2026-11-26T00:00:00Z");
        s.people(t, &[
            Person::new("ann"),
            Person::new("nemo"),
            Person::new("bob"),
            Person::new("cid"),
            Person::new("jadmin"),
        ]).await;
        let fresh = "2026-11-25T12:00:00Z";
        s.ingest(t, &[
            snapshot("A1", fresh, Os::Server2012R2, Some("ann"), &[]),
            snapshot("A2", fresh, Os::Server2012R2, Some("nemo"), &[]),
            snapshot("B1", fresh, Os::Server2016, Some("bob"), &[]),
            snapshot("C1", fresh, Os::Server2019, Some("cid"), &[]),
        ]).await;
        assert_eq!(s.store.outbox_counts().await.expect("counts"), OutboxCounts::default());
        assert_eq!(campaigns_by_state(&s).await, [("draft", 0), ("running", 0), ("paused", 0), ("closed", 0)]);

        let now = at("2026-11-27T10:00:00Z");
        let os = |cycle: &str| format!(r#"os = [{{ product = "windows-server", cycles = ["{cycle}"] }}]"#);
        s.start(&campaign("alpha", &os("2012-r2"), ""), now).await;
        s.start(&campaign("beta", &os("2016"), ""), now).await;
        s.start(&campaign("gamma", &os("2019"), ""), now).await;
        s.create(&campaign("delta", &os("2022"), ""), now).await;
        s.start(&campaign("epsilon", r#"os = [{ product = "windows", cycles = ["10-22h2"] }]"#, ""), now).await;
        s.engine.set_state("epsilon", CampaignState::Paused, now).await.expect("pause");
        let w = s.engine.tick(now).await.expect("wave");
        assert_eq!(w.queued, 4, "{w:?}");
        assert_eq!(
            s.store.outbox_counts().await.expect("counts"),
            OutboxCounts { pending: 4, sent: 0, failed: 0, cancelled: 0 }
        );

        // Closing beta drops bob's unsent digest.
        s.engine.set_state("beta", CampaignState::Closed, now).await.expect("close");
        // One delivery pass: ann's is accepted, nemo's refused for good
        // (no fallback), cid's server is down (retried later).
        let channel = Arc::new(Recorder {
            refuse: [
                (email("nemo"), SendError::Permanent("550 no such mailbox".into())),
                (email("cid"), SendError::Transient("421 try later".into())),
            ]
            .into_iter()
            .collect(),
            ..Recorder::default()
        });
        let mut worker = Worker::new(s.store.clone(), vec![channel.clone()], DeliveryConfig::default()).at(Some(now));
        let r = worker.run_once().await.expect("run");
        assert_eq!((r.claimed, r.sent, r.failed, r.retried), (3, 1, 1, 1), "{r:?}");
        assert_eq!(
            s.store.outbox_counts().await.expect("counts"),
            OutboxCounts { pending: 1, sent: 1, failed: 1, cancelled: 1 }
        );

        // A message claimed by a worker and not yet settled counts as pending.
        s.engine.test_send("alpha", "jadmin", now).await.expect("test-send");
        let claimed = s.store.claim_due(now, Duration::minutes(5), 10).await.expect("claim");
        assert_eq!(claimed.iter().map(|m| m.recipient.as_str()).collect::<Vec<_>>(), ["jadmin"]);
        assert_eq!(
            s.store.outbox_counts().await.expect("counts"),
            OutboxCounts { pending: 2, sent: 1, failed: 1, cancelled: 1 }
        );
        assert_eq!(campaigns_by_state(&s).await, [("draft", 1), ("running", 2), ("paused", 1), ("closed", 1)]);

        // Each message in exactly one state.
        let outbox = s.outbox().await;
        let mut states: Vec<(String, String)> = outbox.iter().map(|m| (m.recipient.clone(), m.state.clone())).collect();
        states.sort();
        assert_eq!(states, [
            ("ann".to_string(), "sent".to_string()),
            ("bob".to_string(), "cancelled".to_string()),
            ("cid".to_string(), "pending".to_string()),
            ("jadmin".to_string(), "pending".to_string()),
            ("nemo".to_string(), "failed".to_string()),
        ]);
    }
}
