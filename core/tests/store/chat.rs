//! The chat role's contract: each chat event is acted on once, even across
//! restarts and by several listeners at once; a listener knows where to
//! catch up from; a delivered message is found again by the id the chat
//! server gave it.

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_core::store::{MessageRef, NewMessage};

use crate::helpers::{at, store};

on_both_backends! {
    async fn a_chat_event_is_claimed_once_even_across_restarts(backend) {
        let (db, store) = store(backend).await;
        assert_eq!(store.last_event_at("mattermost").await.expect("read"), None);
        assert!(store.claim_event("mattermost", "post-1", at(0)).await.expect("claim"));
        assert!(!store.claim_event("mattermost", "post-1", at(1)).await.expect("claim again"));
        // The same id on another channel is another event.
        assert!(store.claim_event("matrix", "post-1", at(2)).await.expect("claim on matrix"));
        assert!(store.claim_event("mattermost", "post-2", at(3)).await.expect("claim the next"));
        assert_eq!(store.last_event_at("mattermost").await.expect("read"), Some(at(3)));
        assert_eq!(store.last_event_at("matrix").await.expect("read"), Some(at(2)));

        // A restarted process (a new pool on the same database) remembers.
        drop(store);
        let store = winventory_core::store::connect(&db.url).await.expect("reopen");
        assert!(!store.claim_event("mattermost", "post-2", at(4)).await.expect("claim after a restart"));
        assert_eq!(store.last_event_at("mattermost").await.expect("read"), Some(at(3)));
    }
}

on_both_backends! {
    async fn listeners_claiming_one_event_at_once_act_on_it_once(backend) {
        let (_db, store) = store(backend).await;
        let claims = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_event("mattermost", "post-9", at(i)).await.expect("claim") })
        });
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.expect("a listener"));
        }
        assert_eq!(won, 1);
    }
}

on_both_backends! {
    async fn a_delivered_message_is_found_again_by_its_chat_id(backend) {
        let (_db, store) = store(backend).await;
        let message = NewMessage {
            idem_key: "k1".into(),
            message_id: "k1-tx".into(),
            channel: "mattermost".into(),
            recipient: "alice".into(),
            address: "alice.m".into(),
            fallback: None,
            subject: "Machines to upgrade".into(),
            body_text: "PC1 runs Windows Server 2012 R2".into(),
            body_html: None,
            machines: Vec::new(),
            reminder: false,
            actions: Vec::new(),
            buttons: Some("[]".into()),
        };
        store.enqueue(&[message], at(0)).await.expect("enqueue");
        let id = store.claim_due(at(0), Duration::minutes(5), 1).await.expect("claim")[0].id;
        assert_eq!(store.posted_message("mattermost", "post-abc").await.expect("read"), None);
        store.set_remote_id(id, "post-abc").await.expect("remember the post id");
        store.mark_sent(id, at(1)).await.expect("sent");

        let posted = store.posted_message("mattermost", "post-abc").await.expect("read").expect("found");
        assert_eq!(
            (posted.idem_key.as_str(), posted.recipient.as_str(), posted.body_text.as_str(), posted.buttons.as_deref()),
            ("k1", "alice", "PC1 runs Windows Server 2012 R2", Some("[]"))
        );
        // Another channel's post of that id is another message.
        assert_eq!(store.posted_message("matrix", "post-abc").await.expect("read"), None);
        let listed = store
            .listed_message(MessageRef::Remote { channel: "mattermost", id: "post-abc" })
            .await
            .expect("read")
            .expect("found");
        assert_eq!((listed.id, listed.idem_key.as_str(), listed.machines.len()), (id, "k1", 0));
        assert!(store.listed_message(MessageRef::Key("nope")).await.expect("read").is_none());
    }
}
