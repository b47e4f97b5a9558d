//! The live pages' contract: every target added, answer, hand-over and
//! resolution is logged by the database itself in order, with increasing
//! ids a reader resumes from; a campaign's counts; its daily counts kept
//! and the days before rebuilt from the answers.

use chrono::NaiveDate;
use winventory_core::on_both_backends;
use winventory_core::store::{DayCount, MachineChange, StateCount};

use crate::answers::{answer, at, site};

fn day(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("a date")
}

on_both_backends! {
    async fn every_change_of_a_campaign_machine_is_logged_in_order_with_increasing_ids(backend) {
        let (_db, store) = site(backend).await;
        let added = store.changes_after(0, 100).await.expect("read");
        assert_eq!(added.len(), 3, "one change per target added: {added:?}");
        assert!(added.iter().all(|e| e.state == "open" && e.answer.is_none()));
        assert_eq!(
            added.iter().map(|e| e.hostname.as_str()).collect::<Vec<_>>(),
            ["PC1", "PC2", "PC3"]
        );
        let last = store.last_change().await.expect("last");
        assert_eq!(last, added[2].id);

        store.record_answer(&answer("alice", &[1, 2], "upgrade"), at(1)).await.expect("answer");
        let answered = store.changes_after(last, 100).await.expect("read");
        assert_eq!(answered.len(), 2);
        assert!(answered.iter().all(|e| e.state == "answered" && e.answer.as_deref() == Some("upgrade")));
        assert!(answered[0].id > last && answered[1].id > answered[0].id);
        assert_eq!(answered[0].recipient, "alice");

        // The same answer again is a change too (its history grew).
        store.record_answer(&answer("alice", &[1], "upgrade"), at(2)).await.expect("again");
        let again = store.changes_after(answered[1].id, 100).await.expect("read");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].machine_id, 1);

        // A hand-over names who was asked before; a resolution is logged.
        let reroute = MachineChange::Reroute { recipient: "carol".into(), from: "bob".into() };
        store.change_campaign_machines(1, &[(3, reroute)], at(3)).await.expect("reroute");
        store
            .change_campaign_machines(1, &[(2, MachineChange::Resolve("upgraded".into()))], at(4))
            .await
            .expect("resolve");
        let later = store.changes_after(again[0].id, 100).await.expect("read");
        assert_eq!(later.len(), 2, "{later:?}");
        assert_eq!((later[0].recipient.as_str(), later[0].previous_recipient.as_deref()), ("carol", Some("bob")));
        assert_eq!((later[1].machine_id, later[1].state.as_str(), later[1].previous_recipient.as_deref()), (2, "resolved", None));

        // A page with a limit reads in pages; ids missing to a reader are read again by id.
        let first_two = store.changes_after(0, 2).await.expect("page");
        assert_eq!(first_two.len(), 2);
        let among = store.changes_among(&[later[1].id, added[0].id, 999_999]).await.expect("among");
        assert_eq!(among.iter().map(|e| e.id).collect::<Vec<_>>(), [added[0].id, later[1].id]);

        // Pruning removes old changes; ids never go back.
        let total = store.changes_after(0, 100).await.expect("all").len() as u64;
        let far = chrono::Utc::now() + chrono::Duration::days(1);
        assert_eq!(store.prune_changes(far).await.expect("prune"), total);
        assert!(store.changes_after(0, 100).await.expect("read").is_empty());
        store.record_answer(&answer("alice", &[1], "retire"), at(5)).await.expect("after the prune");
        let next = store.changes_after(0, 100).await.expect("read");
        assert_eq!(next.len(), 1);
        assert!(next[0].id > later[1].id, "an id is never reused after a prune");
    }
}

on_both_backends! {
    async fn a_campaign_is_counted_by_state_and_answer_and_its_closing_days_rebuilt(backend) {
        let (_db, store) = site(backend).await;
        store.record_answer(&answer("alice", &[1], "upgrade"), at(10)).await.expect("answer");
        store.record_answer(&answer("alice", &[1], "retire"), at(60 * 24 * 3)).await.expect("later");
        store
            .change_campaign_machines(1, &[(2, MachineChange::Resolve("upgraded".into()))], at(60 * 24))
            .await
            .expect("resolve");
        let counts = store.campaign_counts(1).await.expect("counts");
        let of = |state: &str, answer: Option<&str>| StateCount {
            state: state.into(),
            answer: answer.map(Into::into),
            machines: 1,
        };
        assert_eq!(
            counts,
            [of("answered", Some("retire")), of("open", None), of("resolved", None)]
        );
        // pc1 left `open` at its first answer (2 Nov), pc2 when resolved (3 Nov).
        assert_eq!(
            store.campaign_closing_days(1).await.expect("days"),
            [(day("2026-11-02"), 1), (day("2026-11-03"), 1)]
        );

        // An ingest that finishes moves the inventory's revision.
        let before = store.inventory_revision().await.expect("revision");
        let run = store.start_run("test", at(5)).await.expect("run");
        assert_eq!(store.inventory_revision().await.expect("revision"), before, "not until it finishes");
        store.finish_run(run, "{}", at(6)).await.expect("finish");
        assert_ne!(store.inventory_revision().await.expect("revision"), before);

        let kept = |d: &str, open| DayCount { day: day(d), targets: 3, open, answered: 1, resolved: 3 - 1 - open };
        store.save_campaign_day(1, &kept("2026-11-03", 2)).await.expect("save");
        store.save_campaign_day(1, &kept("2026-11-02", 2)).await.expect("save");
        store.save_campaign_day(1, &kept("2026-11-03", 1)).await.expect("replace");
        assert_eq!(
            store.campaign_days(1).await.expect("days"),
            [kept("2026-11-02", 2), kept("2026-11-03", 1)]
        );
    }
}
