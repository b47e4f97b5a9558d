//! `campaign test-send`: one real digest (the first recipient's) addressed
//! to the admin only, whatever the campaign's state; nothing is counted
//! against the owners' machines, the owners' own first digests still go,
//! and the sample's links answer nothing for them.

use chrono::NaiveDate;
use winventory_core::on_both_backends;
use winventory_workflows::engine::{EngineError, LinkError};

use crate::paths::helpers::*;

async fn fleet(s: &Site) -> winventory_workflows::engine::Campaign {
    let t = at("2026-11-26T00:00:00Z");
    s.people(
        t,
        &[
            Person::new("olga"),
            Person::new("omar"),
            Person::new("jadmin"),
            Person {
                email: Some(""),
                ..Person::new("nomail")
            },
        ],
    )
    .await;
    s.ingest(
        t,
        &[
            snapshot(
                "SRV-A",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("olga"),
                &[],
            ),
            snapshot(
                "SRV-B",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("olga"),
                &[],
            ),
            snapshot(
                "SRV-C",
                "2026-11-25T12:00:00Z",
                Os::Server2012R2,
                Some("omar"),
                &[],
            ),
        ],
    )
    .await;
    s.create(
        &campaign(
            "sample",
            r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            "",
        ),
        t,
    )
    .await
}

/// The first answer link of a message's text.
fn first_link(text: &str) -> String {
    let start = text.find("/answer/").expect("an answer link") + "/answer/".len();
    text[start..]
        .split_whitespace()
        .next()
        .expect("a token")
        .to_string()
}

on_both_backends! {
    async fn a_test_send_writes_one_sample_to_the_admin_and_nothing_to_the_owners(backend) {
        let s = site(backend).await;
        let c = fleet(&s).await;
        let now = at("2026-11-27T10:00:00Z");
        let address = s.engine.test_send("sample", "jadmin", now).await.expect("test-send");
        assert_eq!(address, "jadmin@example.org");

        let outbox = s.outbox().await;
        assert_eq!(outbox.len(), 1, "{outbox:?}");
        let m = &outbox[0];
        assert_eq!((m.recipient.as_str(), m.address.as_str(), m.channel.as_str(), m.state.as_str()), ("jadmin", "jadmin@example.org", "email", "pending"));
        assert!(m.subject.starts_with("[TEST] "), "{}", m.subject);
        assert!(m.idem_key.starts_with(&format!("test:{}:jadmin:", c.row.id)), "{}", m.idem_key);
        // The sample is the first recipient's digest (olga: SRV-A and SRV-B), not omar's.
        assert!(m.body_text.contains("SRV-A") && m.body_text.contains("SRV-B"), "{}", m.body_text);
        assert!(!m.body_text.contains("SRV-C"), "{}", m.body_text);
        // Nothing is recorded against the campaign: still a draft, no machines counted.
        let c = s.engine.campaign("sample").await.expect("campaign");
        assert_eq!(c.row.state.as_str(), "draft");
        assert!(s.machines(&c).await.is_empty());

        // Started, the owners get their own first digests all the same.
        s.engine.set_state("sample", winventory_core::store::CampaignState::Running, now).await.expect("start");
        let w = s.engine.tick(now).await.expect("wave");
        assert_eq!((w.machines_added, w.queued), (3, 2), "{w:?}");
        assert_eq!(s.new_messages(1).await, [
            ("olga".to_string(), "digest:olga:2026-11-27:email".to_string()),
            ("omar".to_string(), "digest:omar:2026-11-27:email".to_string()),
        ]);
        let machines = s.machines(&c).await;
        assert!(machines.iter().all(|m| m.messages == 1 && m.reminders == 0), "{machines:?}");
        let first = s.outbox().await.into_iter().find(|m| m.recipient == "olga").expect("olga's digest");
        assert!(!first.subject.contains("(reminder)"), "{}", first.subject);

        // The sample's links are signed for the admin: they answer nothing of olga's.
        let token = first_link(&m.body_text);
        let r = s.engine.answer_link(&token, NaiveDate::from_ymd_opt(2027, 3, 1), None, None, now).await;
        assert!(matches!(r, Err(LinkError::Nothing)), "{r:?}");
        assert!(s.machines(&c).await.iter().all(|m| m.state == "open" && m.answer.is_none()));
    }
}

on_both_backends! {
    async fn a_test_send_to_someone_without_an_email_address_is_refused_and_queues_nothing(backend) {
        let s = site(backend).await;
        fleet(&s).await;
        let r = s.engine.test_send("sample", "nomail", at("2026-11-27T10:00:00Z")).await;
        assert!(matches!(&r, Err(EngineError::NoAddress(l)) if l == "nomail"), "{r:?}");
        let r = s.engine.test_send("no-such-campaign", "jadmin", at("2026-11-27T10:00:00Z")).await;
        assert!(matches!(&r, Err(EngineError::NoCampaign(n)) if n == "no-such-campaign"), "{r:?}");
        assert!(s.outbox().await.is_empty());
    }
}
