//! The outbox's contract: a due message is claimed by one sender at a time
//! for a lease, a lease that runs out lets the message be claimed again, an
//! outcome (sent, retry, wait, refused) is recorded, a message refused for
//! good switches to its fallback channel, and messages of campaigns that are
//! not running wait.

use std::collections::HashSet;

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_core::store::{CampaignState, NewMessage, NewTarget};
use winventory_core::testing::execute;

use crate::helpers::{at, store};

/// A message to `login` on `channel`, listing `machines`.
fn message(key: &str, channel: &str, login: &str, machines: &[(i64, i64)]) -> NewMessage {
    NewMessage {
        idem_key: key.into(),
        message_id: format!("<{key}@example.org>"),
        channel: channel.into(),
        recipient: login.into(),
        address: format!("{login}@example.org"),
        fallback: None,
        subject: "Machines to upgrade".into(),
        body_text: format!("Hello {login}"),
        body_html: None,
        machines: machines.to_vec(),
        reminder: false,
        actions: vec!["upgrade".into(), "decommission".into()],
        buttons: None,
    }
}

on_both_backends! {
    async fn a_due_message_is_claimed_once_until_its_lease_runs_out(backend) {
        let (_db, store) = store(backend).await;
        let queued = store
            .enqueue(&[message("k1", "email", "alice", &[]), message("k2", "email", "bob", &[])], at(0))
            .await
            .expect("enqueue");
        assert_eq!(queued, 2);
        let lease = Duration::minutes(5);

        let first = store.claim_due(at(0), lease, 10).await.expect("claim");
        let got: Vec<_> = first.iter().map(|m| (m.idem_key.as_str(), m.attempts, m.state.as_str())).collect();
        assert_eq!(got, [("k1", 1, "pending"), ("k2", 1, "pending")]);
        assert_eq!(first[0].actions, ["upgrade", "decommission"]);
        // Within the lease nobody else gets them.
        assert!(store.claim_due(at(4), lease, 10).await.expect("claim").is_empty());

        // The sender crashed: once the lease runs out they are claimed again.
        let again = store.claim_due(at(6), lease, 10).await.expect("claim after the lease");
        let got: Vec<_> = again.iter().map(|m| (m.idem_key.as_str(), m.attempts)).collect();
        assert_eq!(got, [("k1", 2), ("k2", 2)]);

        // Outcomes: k1 sent, k2 to be tried again later.
        store.mark_sent(again[0].id, at(7)).await.expect("sent");
        store.mark_retry(again[1].id, at(20), "connection reset").await.expect("retry");
        assert!(store.claim_due(at(12), lease, 10).await.expect("claim").is_empty());
        let retried = store.claim_due(at(20), lease, 10).await.expect("claim the retry");
        let got: Vec<_> = retried.iter().map(|m| (m.idem_key.as_str(), m.attempts, m.last_error.as_deref())).collect();
        assert_eq!(got, [("k2", 3, Some("connection reset"))]);

        let outbox = store.outbox().await.expect("outbox");
        let got: Vec<_> = outbox.iter().map(|m| (m.idem_key.as_str(), m.state.as_str(), m.sent_at)).collect();
        assert_eq!(got, [("k1", "sent", Some(at(7))), ("k2", "pending", None)]);
        assert_eq!(outbox[0].last_error, None);
        let counts = store.outbox_counts().await.expect("counts");
        assert_eq!((counts.pending, counts.sent, counts.failed, counts.cancelled), (1, 1, 0, 0));
    }
}

on_both_backends! {
    async fn a_message_queued_twice_under_one_key_is_queued_once(backend) {
        let (_db, store) = store(backend).await;
        assert_eq!(store.enqueue(&[message("k1", "email", "alice", &[])], at(0)).await.expect("enqueue"), 1);
        let twice = [message("k1", "email", "alice", &[]), message("k2", "email", "bob", &[])];
        assert_eq!(store.enqueue(&twice, at(1)).await.expect("enqueue again"), 1);
        let keys: Vec<_> = store.outbox().await.expect("outbox").into_iter().map(|m| m.idem_key).collect();
        assert_eq!(keys, ["k1", "k2"]);
    }
}

on_both_backends! {
    async fn senders_claiming_at_once_never_claim_the_same_message(backend) {
        let (_db, store) = store(backend).await;
        let messages: Vec<_> = (0..40).map(|i| message(&format!("k{i:02}"), "email", "alice", &[])).collect();
        store.enqueue(&messages, at(0)).await.expect("enqueue");
        let claims = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_due(at(1), Duration::minutes(5), 7).await.expect("claim") })
        });
        let mut seen = HashSet::new();
        for claim in claims {
            for m in claim.await.expect("a sender") {
                assert!(seen.insert(m.id), "message {} claimed twice", m.idem_key);
                assert_eq!(m.attempts, 1);
            }
        }
        // Whatever a sender lost in a race is claimed afterwards, once.
        loop {
            let rest = store.claim_due(at(1), Duration::minutes(5), 7).await.expect("claim the rest");
            if rest.is_empty() {
                break;
            }
            for m in rest {
                assert!(seen.insert(m.id), "message {} claimed twice", m.idem_key);
            }
        }
        assert_eq!(seen.len(), 40);
    }
}

on_both_backends! {
    async fn a_wait_the_server_asked_for_does_not_count_as_an_attempt(backend) {
        let (_db, store) = store(backend).await;
        store.enqueue(&[message("k1", "matrix", "alice", &[])], at(0)).await.expect("enqueue");
        let claimed = store.claim_due(at(0), Duration::minutes(5), 1).await.expect("claim");
        assert_eq!(claimed[0].attempts, 1);
        store.mark_wait(claimed[0].id, at(3), "429: retry after 3 minutes").await.expect("wait");
        assert!(store.claim_due(at(2), Duration::zero(), 1).await.expect("claim").is_empty());
        let claimed = store.claim_due(at(3), Duration::minutes(5), 1).await.expect("claim");
        assert_eq!((claimed[0].attempts, claimed[0].last_error.as_deref()), (1, Some("429: retry after 3 minutes")));
    }
}

on_both_backends! {
    async fn a_message_refused_for_good_switches_to_its_fallback_once_then_fails(backend) {
        let (_db, store) = store(backend).await;
        let mut chat = message("k1", "matrix", "alice", &[]);
        chat.address = "@alice:example.org".into();
        chat.fallback = Some(("email".into(), "alice@example.org".into()));
        store.enqueue(&[chat, message("k2", "email", "bob", &[])], at(0)).await.expect("enqueue");
        let claimed = store.claim_due(at(0), Duration::minutes(5), 10).await.expect("claim");
        assert_eq!(claimed[0].fallback, Some(("email".into(), "alice@example.org".into())));

        let switched = store.mark_failed(claimed[0].id, "M_FORBIDDEN", at(1)).await.expect("refused");
        assert_eq!(switched.as_deref(), Some("email"));
        let row = store.outbox().await.expect("outbox").remove(0);
        assert_eq!(
            (row.channel.as_str(), row.address.as_str(), row.fallback.as_ref(), row.attempts, row.state.as_str()),
            ("email", "alice@example.org", None, 0, "pending")
        );
        let error = row.last_error.expect("the refusal is kept");
        assert!(error.contains("matrix refused it (M_FORBIDDEN)") && error.contains("sent by email instead"), "{error}");

        // Due at once on its fallback channel.
        let claimed = store.claim_due(at(1), Duration::minutes(5), 10).await.expect("claim the fallback");
        let got: Vec<_> = claimed.iter().map(|m| (m.idem_key.as_str(), m.channel.as_str(), m.attempts)).collect();
        assert_eq!(got, [("k1", "email", 1)]);
        // Refused again with no fallback left, and k2 with none at all: failed.
        assert_eq!(store.mark_failed(claimed[0].id, "550 no such user", at(2)).await.expect("refused"), None);
        let k2 = store.outbox().await.expect("outbox")[1].id;
        assert_eq!(store.mark_failed(k2, "550 no such user", at(2)).await.expect("refused"), None);
        let got: Vec<_> = store
            .outbox()
            .await
            .expect("outbox")
            .into_iter()
            .map(|m| (m.idem_key, m.state, m.last_error))
            .collect();
        assert_eq!(
            got,
            [
                ("k1".to_string(), "failed".to_string(), Some("550 no such user".to_string())),
                ("k2".to_string(), "failed".to_string(), Some("550 no such user".to_string())),
            ]
        );
        let counts = store.outbox_counts().await.expect("counts");
        assert_eq!((counts.pending, counts.failed), (0, 2));
        assert!(store.claim_due(at(10), Duration::minutes(5), 10).await.expect("claim").is_empty());
    }
}

on_both_backends! {
    async fn messages_of_a_campaign_wait_while_it_is_not_running_and_count_against_its_machines(backend) {
        let (db, store) = store(backend).await;
        execute(
            &db.url,
            "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, first_seen, last_seen, last_report) \
             VALUES (1, 'pc1', 'PC1', 'Microsoft Windows 10 Pro', '10.0.19045', 0, 0, 0)",
        )
        .await;
        let id = store.create_campaign("retire", "eol", "name = \"retire\"", at(0)).await.expect("create").expect("new");
        let target = NewTarget { machine_id: 1, host_key: "pc1".into(), hostname: "PC1".into(), recipient: "alice".into() };
        store.add_campaign_machines(id, &[target], at(0)).await.expect("targets");
        store.enqueue(&[message("k1", "email", "alice", &[(id, 1)])], at(0)).await.expect("enqueue");
        let pc1 = &store.campaign_machines(id).await.expect("machines")[0];
        assert_eq!((pc1.messages, pc1.reminders, pc1.last_messaged), (1, 0, Some(at(0))));

        assert!(store.claim_due(at(1), Duration::minutes(5), 10).await.expect("claim").is_empty());
        store.set_campaign_state(id, CampaignState::Running, at(2)).await.expect("start");
        let claimed = store.claim_due(at(3), Duration::minutes(5), 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        store.mark_retry(claimed[0].id, at(3), "try again").await.expect("retry");
        store.set_campaign_state(id, CampaignState::Paused, at(4)).await.expect("pause");
        assert!(store.claim_due(at(5), Duration::minutes(5), 10).await.expect("claim").is_empty());

        // Listed a second time: a reminder.
        store.enqueue(&[message("k2", "email", "alice", &[(id, 1)])], at(6)).await.expect("enqueue");
        let pc1 = &store.campaign_machines(id).await.expect("machines")[0];
        assert_eq!((pc1.messages, pc1.reminders, pc1.last_messaged), (2, 1, Some(at(6))));
    }
}
