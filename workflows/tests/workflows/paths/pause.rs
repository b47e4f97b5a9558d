//! `pause --all` / `resume --all`: the `pause_all` switch in the `control`
//! table holds every delivery of every worker (planning goes on), survives
//! as long as it is set, and lifting it sends what waited, each message once.

use std::sync::Arc;

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_workflows::delivery::{DeliveryConfig, PAUSE_ALL, Worker};

use crate::paths::helpers::*;

on_both_backends! {
    async fn pause_all_holds_every_delivery_and_resume_all_sends_each_message_once(backend) {
        let s = site(backend).await;
        let t = at("2026-11-26T00:00:00Z");
        s.people(t, &[Person::new("olga"), Person::new("omar"), Person::new("uma")]).await;
        s.ingest(t, &[
            snapshot("SRV-A", "2026-11-25T12:00:00Z", Os::Server2012R2, Some("olga"), &[]),
            snapshot("SRV-C", "2026-11-25T12:00:00Z", Os::Server2012R2, Some("omar"), &[]),
            snapshot("PY-1", "2026-11-25T12:00:00Z", Os::Server2019, Some("uma"), &[PYTHON_38]),
        ]).await;
        let now = at("2026-11-27T10:00:00Z");
        s.start(&campaign("one", r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#, ""), now).await;

        // Paused before anything is sent.
        s.store.set_control(PAUSE_ALL, Some(&now.to_rfc3339())).await.expect("pause");
        let w = s.engine.tick(now).await.expect("wave");
        assert_eq!(w.queued, 2, "planning goes on while paused: {w:?}");

        let channel = Arc::new(Recorder::default());
        let mut worker = Worker::new(s.store.clone(), vec![channel.clone()], DeliveryConfig::default()).at(Some(now));
        let r = worker.run_once().await.expect("run");
        assert!(r.paused, "{r:?}");
        assert_eq!((r.claimed, r.sent), (0, 0));
        // A second worker (another process) is held too, later on as well;
        // so is a campaign started meanwhile.
        s.start(&campaign("two", r#"software = [{ product = "python", cycles = ["3.8"] }]"#, ""), now + Duration::minutes(5)).await;
        assert_eq!(s.engine.tick(now + Duration::minutes(5)).await.expect("wave").queued, 1);
        let mut other = Worker::new(s.store.clone(), vec![channel.clone()], DeliveryConfig::default()).at(Some(now + Duration::hours(2)));
        let r = other.run_once().await.expect("run");
        assert!(r.paused && r.claimed == 0, "{r:?}");
        assert!(channel.sent().is_empty());
        let outbox = s.outbox().await;
        assert_eq!(outbox.len(), 3);
        assert!(outbox.iter().all(|m| m.state == "pending" && m.attempts == 0), "{outbox:?}");
        assert!(s.store.control(PAUSE_ALL).await.expect("control").is_some());

        // Resumed: everything that waited goes, once.
        s.store.set_control(PAUSE_ALL, None).await.expect("resume");
        assert_eq!(s.store.control(PAUSE_ALL).await.expect("control"), None);
        let r = other.run_once().await.expect("run");
        assert!(!r.paused);
        assert_eq!((r.claimed, r.sent, r.failed, r.retried), (3, 3, 0, 0), "{r:?}");
        for _ in 0..2 {
            let r = other.run_once().await.expect("run");
            assert_eq!(r.claimed, 0, "{r:?}");
        }
        let r = worker.run_once().await.expect("run");
        assert_eq!((r.paused, r.claimed), (false, 0), "{r:?}");
        let mut sent = channel.sent();
        sent.sort();
        assert_eq!(sent, [
            ("digest:olga:2026-11-27:email".to_string(), email("olga")),
            ("digest:omar:2026-11-27:email".to_string(), email("omar")),
            ("digest:uma:2026-11-27:email".to_string(), email("uma")),
        ]);
        let outbox = s.outbox().await;
        assert!(outbox.iter().all(|m| m.state == "sent" && m.attempts == 1), "{outbox:?}");
        let counts = s.store.outbox_counts().await.expect("counts");
        assert_eq!((counts.pending, counts.sent), (0, 3));

        // Paused again, every worker is held again.
        s.store.set_control(PAUSE_ALL, Some("again")).await.expect("pause");
        let r = other.run_once().await.expect("run");
        assert!(r.paused);
    }
}
