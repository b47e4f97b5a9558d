//! Verification as a wave runs it, against the latest snapshots: an answer
//! the data bears out resolves its machine (an upgrade, a machine silent
//! after "decommission"), "not mine" hands the machine to the person named,
//! and an owner whose email was refused for good has their open machines
//! asked of the fallback group at the next wave. Messages go out through a
//! scripted channel (the real worker, a channel that refuses by address).

use std::sync::Arc;

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::delivery::{DeliveryConfig, SendError, Worker};
use winventory_workflows::reply::Target;

use crate::paths::helpers::*;

const SERVERS: &str = r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#;

fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
    at("2026-11-23T10:00:00Z") + Duration::days(n)
}

on_both_backends! {
    async fn an_answer_the_later_snapshots_bear_out_resolves_its_machine_and_not_mine_hands_it_on(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[Person::new("ann"), Person::new("bob")]).await;
        let reported = "2026-11-21T12:00:00Z";
        s.ingest(t, &[
            snapshot("A1", reported, Os::Server2012R2, Some("ann"), &[]),
            snapshot("A2", reported, Os::Server2012R2, Some("ann"), &[]),
            snapshot("A3", reported, Os::Server2012R2, Some("ann"), &[]),
        ]).await;
        let c = s.start(&campaign("verify", SERVERS, ""), day(0)).await;
        let w = s.engine.tick(day(0)).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");

        let chat = |host: &str, a: Answer| {
            let engine = s.engine.clone();
            let host = host.to_string();
            async move {
                engine.answer_chat("ann", "email", &Target::Host(host), a, day(0)).await.expect("answer")
            }
        };
        chat("A1", answer(AnswerKind::Upgrade, Some("2026-12-31"), None)).await;
        chat("A2", answer(AnswerKind::NotMine, None, Some("bob"))).await;
        chat("A3", answer(AnswerKind::Decommission, None, None)).await;

        // The next wave hands A2 to bob, who is written to about it at once.
        let w = s.engine.tick(day(1)).await.expect("wave");
        assert_eq!((w.rerouted, w.resolved, w.reopened, w.escalated), (1, 0, 0, 0), "{w:?}");
        let a2 = s.machine(&c, "A2").await;
        assert_eq!((a2.recipient.as_str(), a2.transfer_from.as_deref(), a2.state.as_str()), ("bob", Some("ann"), "open"));
        assert_eq!(s.new_messages(1).await, [("bob".to_string(), format!("digest:bob:{}:email", day(1).date_naive()))]);

        // A1 reports a supported OS now: resolved as upgraded.
        s.ingest(day(1), &[snapshot("A1", "2026-11-24T12:00:00Z", Os::Server2019, Some("ann"), &[])]).await;
        let w = s.engine.tick(day(2)).await.expect("wave");
        assert_eq!(w.resolved, 1, "{w:?}");
        let a1 = s.machine(&c, "A1").await;
        assert_eq!((a1.state.as_str(), a1.resolution.as_deref()), ("resolved", Some("upgraded")));
        // A3 still reports: its promise stands until the deadline.
        let a3 = s.machine(&c, "A3").await;
        assert_eq!((a3.state.as_str(), a3.resolution.as_deref()), ("answered", None));

        // A3 stops reporting: once its last report is stale, it is gone.
        let later = day(100);
        let w = s.engine.tick(later).await.expect("wave");
        assert!(w.resolved >= 1, "{w:?}");
        let a3 = s.machine(&c, "A3").await;
        assert_eq!((a3.state.as_str(), a3.resolution.as_deref()), ("resolved", Some("decommissioned")));
    }
}

on_both_backends! {
    async fn an_owner_whose_email_is_refused_for_good_has_their_machines_asked_of_the_fallback_group(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[
            Person::new("ann"),
            Person { groups: &["it-desk"], ..Person::new("dora") },
        ]).await;
        s.ingest(t, &[snapshot("A1", "2026-11-21T12:00:00Z", Os::Server2012R2, Some("ann"), &[])]).await;
        let c = s.start(&campaign("bounce", SERVERS, ""), day(0)).await;
        let w = s.engine.tick(day(0)).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");

        let channel = Arc::new(Recorder {
            refuse: [(email("ann"), SendError::Permanent("550 no such mailbox".into()))]
                .into_iter()
                .collect(),
            ..Recorder::default()
        });
        let mut worker = Worker::new(s.store.clone(), vec![channel.clone()], DeliveryConfig::default()).at(Some(day(0)));
        let r = worker.run_once().await.expect("delivery");
        assert_eq!((r.sent, r.failed), (0, 1), "{r:?}");

        // The next wave: straight to the fallback group (the ladder's last
        // step), whose member is written to at once.
        let w = s.engine.tick(day(1)).await.expect("wave");
        assert_eq!((w.escalated, w.queued), (1, 1), "{w:?}");
        let m = s.machine(&c, "A1").await;
        assert_eq!((m.recipient.as_str(), m.escalation, m.state.as_str()), ("group:it-desk", 3, "open"));
        assert_eq!(s.new_messages(1).await, [("dora".to_string(), format!("digest:dora:{}:email", day(1).date_naive()))]);
    }
}
