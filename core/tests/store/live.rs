//! The live pages' contract: every target added, answer, hand-over and
//! resolution is logged by the database itself in order, with increasing
//! ids a reader resumes from; a campaign's counts; its daily counts kept
//! and the days before rebuilt from the answers.

use chrono::NaiveDate;
use winventory_core::on_both_backends;
use winventory_core::store::{DayCount, MachineChange, StateCount};

use crate::answers::{answer, at, site};
use winventory_core::testing::execute;

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
        // pc1 left `open` at its first answer (2 Nov, 09:10: the quarter
        // from 09:00), pc2 when resolved (3 Nov); answering again is no change.
        assert_eq!(
            store.campaign_closure_changes(1).await.expect("changes"),
            [(at(0), 1), (at(60 * 24), 1)]
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

on_both_backends! {
    async fn a_machine_reopened_or_handed_over_counts_as_open_again_from_then(backend) {
        let (_db, store) = site(backend).await;
        // pc1: answered, its answer contradicted two days later, answered again.
        store.record_answer(&answer("alice", &[1], "upgrade"), at(10)).await.expect("answer");
        store
            .change_campaign_machines(1, &[(1, MachineChange::Reopen)], at(60 * 24 * 2))
            .await
            .expect("reopen");
        store.record_answer(&answer("alice", &[1], "retire"), at(60 * 24 * 3 + 30)).await.expect("again");
        // pc3: bob says it is not his (answered), then it goes to carol (open).
        store.record_answer(&answer("bob", &[3], "not-mine"), at(20)).await.expect("not mine");
        let reroute = MachineChange::Reroute { recipient: "carol".into(), from: "bob".into() };
        store.change_campaign_machines(1, &[(3, reroute)], at(60)).await.expect("reroute");
        // pc2 handed over while still open: nothing closed, nothing reopened.
        let reroute = MachineChange::Reroute { recipient: "dave".into(), from: "alice".into() };
        store.change_campaign_machines(1, &[(2, reroute)], at(90)).await.expect("reroute open");
        assert_eq!(
            store.campaign_closure_changes(1).await.expect("changes"),
            [
                (at(0), 1),                  // pc1 answered at 09:10
                (at(15), 1),                 // pc3 answered at 09:20
                (at(60), -1),                // pc3 handed over at 10:00
                (at(60 * 24 * 2), -1),       // pc1 reopened on 4 Nov
                (at(60 * 24 * 3 + 30), 1),   // pc1 answered again on 5 Nov
            ]
        );
    }
}

on_both_backends! {
    async fn a_campaign_is_counted_per_directory_group_of_its_machines_owners(backend) {
        let (db, store) = site(backend).await;
        execute(&db.url, "INSERT INTO groups (name) VALUES ('ops'), ('devs'), ('empty')").await;
        execute(
            &db.url,
            "INSERT INTO group_members (group_name, login) VALUES \
             ('ops', 'alice'), ('ops', 'bob'), ('devs', 'bob'), ('devs', 'carol')",
        )
        .await;
        execute(
            &db.url,
            "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) VALUES \
             (1, 'responsible', 'alice', 'snapshot', 0), (1, 'main_user', 'bob', 'snapshot', 0), \
             (2, 'responsible', 'alice', 'snapshot', 0), \
             (3, 'responsible', 'carol', 'snapshot', 0)",
        )
        .await;
        store.record_answer(&answer("alice", &[1], "upgrade"), at(10)).await.expect("answer");
        let got: Vec<_> = store
            .campaign_group_counts(1)
            .await
            .expect("counts")
            .into_iter()
            .map(|g| (g.group, g.state, g.machines))
            .collect();
        // pc1 counts once in ops (alice and bob are both in it), and in devs through bob.
        let row = |g: &str, s: &str, n| (g.to_string(), s.to_string(), n);
        assert_eq!(
            got,
            [row("devs", "answered", 1), row("devs", "open", 1), row("ops", "answered", 1), row("ops", "open", 1)]
        );
        assert_eq!(store.group_names().await.expect("groups"), ["devs", "ops"], "groups with members only");
    }
}
