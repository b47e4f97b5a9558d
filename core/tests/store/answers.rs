//! Recording answers: the machines' latest answer, the history of every
//! answer, hand-overs confirmed, and the one read a click makes, the same
//! on both backends (SQLite writes the history with triggers, PostgreSQL
//! in one statement of CTEs).

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Utc};
use winventory_core::OwnerSource;
use winventory_core::on_both_backends;
use winventory_core::store::{
    AnswerRecord, Backend, CampaignState, MachineChange, NewTarget, Store,
};
use winventory_core::testing::{TestDb, execute, fresh_database};

pub(crate) fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("a time")
        + Duration::minutes(minute)
}

pub(crate) fn answer(by: &str, machines: &[i64], kind: &str) -> AnswerRecord {
    AnswerRecord {
        campaign_id: 1,
        machine_ids: machines.to_vec(),
        answer: kind.into(),
        date: None,
        detail: None,
        comment: None,
        by: by.into(),
        via: "mattermost".into(),
    }
}

/// Three machines (ids 1 to 3) in campaign 1: pc1 and pc2 asked of alice,
/// pc3 of bob, who passes it on to carol.
pub(crate) async fn site(backend: Backend) -> (TestDb, std::sync::Arc<dyn Store>) {
    let db = fresh_database(backend).await;
    let store = winventory_core::store::connect(&db.url)
        .await
        .expect("a migrated store");
    execute(
        &db.url,
        "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, first_seen, last_seen, last_report) \
         VALUES (1, 'pc1', 'PC1', 'Microsoft Windows Server 2012 R2 Standard', '6.3.9600', 0, 0, 0), \
         (2, 'pc2', 'PC2', 'Microsoft Windows Server 2012 R2 Standard', '6.3.9600', 0, 0, 0), \
         (3, 'pc3', 'PC3', 'Microsoft Windows Server 2012 R2 Standard', '6.3.9600', 0, 0, 0)",
    )
    .await;
    execute(
        &db.url,
        "INSERT INTO users (login, name, email, mattermost_username, language, updated_at) \
         VALUES ('alice', 'Alice', 'alice@example.org', 'alice.m', 'de', 0)",
    )
    .await;
    let id = store
        .create_campaign("retire", "eol", "name = \"retire\"", at(0))
        .await
        .expect("create")
        .expect("a new campaign");
    assert_eq!(id, 1);
    let target = |id: i64, recipient: &str| NewTarget {
        machine_id: id,
        host_key: format!("pc{id}"),
        hostname: format!("PC{id}"),
        recipient: recipient.into(),
    };
    store
        .add_campaign_machines(
            1,
            &[target(1, "alice"), target(2, "alice"), target(3, "bob")],
            at(0),
        )
        .await
        .expect("targets");
    (db, store)
}

on_both_backends! {
    async fn each_answer_updates_its_machines_and_adds_one_history_row_each(backend) {
        let (_db, store) = site(backend).await;
        let mut first = answer("alice", &[1, 2], "replace");
        first.comment = Some("new ones are ordered".into());
        let done = store.record_answer(&first, at(1)).await.expect("record");
        let got: Vec<_> = done.iter().map(|m| (m.host_key.as_str(), m.state.as_str(), m.answer.as_deref())).collect();
        assert_eq!(got, [("pc1", "answered", Some("replace")), ("pc2", "answered", Some("replace"))]);

        // pc2 is dealt with; a later answer for both updates pc1 alone.
        store
            .change_campaign_machines(1, &[(2, MachineChange::Resolve("decommissioned".into()))], at(2))
            .await
            .expect("resolve");
        let mut second = answer("alice", &[1, 2], "upgrade");
        second.date = NaiveDate::from_ymd_opt(2027, 3, 31);
        let done = store.record_answer(&second, at(3)).await.expect("record again");
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].host_key.as_str(), done[0].answer_date), ("pc1", second.date));

        let history = store.answer_history(1, "pc1").await.expect("pc1's history");
        let got: Vec<_> = history
            .iter()
            .map(|h| (h.at, h.by.as_str(), h.via.as_str(), h.answer.as_str(), h.date, h.comment.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (at(1), "alice", "mattermost", "replace", None, Some("new ones are ordered")),
                (at(3), "alice", "mattermost", "upgrade", second.date, None),
            ]
        );
        assert_eq!(store.answer_history(1, "pc2").await.expect("pc2").len(), 1);
        assert!(store.answer_history(1, "pc3").await.expect("pc3").is_empty());
        assert!(store.record_answer(&answer("alice", &[], "replace"), at(4)).await.expect("none").is_empty());
    }
}

on_both_backends! {
    async fn an_answer_by_the_person_a_machine_was_handed_to_makes_them_its_owner(backend) {
        let (_db, store) = site(backend).await;
        let reroute = MachineChange::Reroute { recipient: "carol".into(), from: "bob".into() };
        store.change_campaign_machines(1, &[(3, reroute)], at(1)).await.expect("hand over");

        // "Not mine" again does not confirm it.
        let mut passed = answer("carol", &[3], "not_mine");
        passed.detail = Some("dave".into());
        let done = store.record_answer(&passed, at(2)).await.expect("not mine");
        assert_eq!(done[0].transfer_from.as_deref(), Some("bob"));
        let owner = store.machine("pc3").await.expect("read").expect("pc3").responsible;
        assert!(owner.as_ref().is_none_or(|o| o.source != OwnerSource::Answer), "{owner:?}");

        let done = store.record_answer(&answer("carol", &[3], "decommission"), at(3)).await.expect("answer");
        assert_eq!(done[0].transfer_from, None);
        let owner = store.machine("pc3").await.expect("read").expect("pc3").responsible.expect("an owner");
        assert_eq!((owner.login.as_str(), owner.source), ("carol", OwnerSource::Answer));
        let history: Vec<_> = store
            .answer_history(1, "pc3")
            .await
            .expect("history")
            .into_iter()
            .map(|h| (h.answer, h.detail))
            .collect();
        assert_eq!(history, [("not_mine".to_string(), Some("dave".to_string())), ("decommission".to_string(), None)]);

        // Someone else answering for a handed-over machine confirms nothing.
        store
            .change_campaign_machines(1, &[(1, MachineChange::Reroute { recipient: "erin".into(), from: "alice".into() })], at(4))
            .await
            .expect("hand over pc1");
        let done = store.record_answer(&answer("alice", &[1], "replace"), at(5)).await.expect("answer");
        assert_eq!(done[0].transfer_from.as_deref(), Some("alice"));
        assert!(store.machine("pc1").await.expect("read").expect("pc1").responsible.is_none());
    }
}

on_both_backends! {
    async fn the_answer_view_reads_the_campaign_the_recipients_machines_and_the_person_at_once(backend) {
        let (_db, store) = site(backend).await;
        let view = store.answer_view(1, "alice", "alice").await.expect("read").expect("campaign 1");
        assert_eq!((view.campaign_name.as_str(), view.state), ("retire", CampaignState::Draft));
        let hosts: Vec<_> = view.machines.iter().map(|m| m.host_key.as_str()).collect();
        assert_eq!(hosts, ["pc1", "pc2"]);
        let person = view.person.expect("alice is in the directory");
        assert_eq!((person.mattermost_username.as_deref(), person.language.as_deref()), (Some("alice.m"), Some("de")));

        // Someone the directory does not know, asked about nothing.
        let view = store.answer_view(1, "nobody", "nobody").await.expect("read").expect("campaign 1");
        assert!(view.machines.is_empty() && view.person.is_none());
        assert!(store.answer_view(2, "alice", "alice").await.expect("read").is_none());
    }
}

on_both_backends! {
    async fn a_person_is_found_by_their_chat_address(backend) {
        let (db, store) = site(backend).await;
        execute(
            &db.url,
            "INSERT INTO users (login, name, matrix_id, mattermost_username, updated_at) \
             VALUES ('bob', 'Bob', '@bob:example.org', ' @Bob ', 0)",
        )
        .await;
        let login = |u: Option<winventory_core::User>| u.map(|u| u.login);
        let found = |channel: &'static str, address: &'static str| {
            let store = store.clone();
            async move { login(store.user_by_chat(channel, address).await.expect("read")) }
        };
        // Mattermost usernames: case aside, a stored `@` or blanks ignored.
        assert_eq!(found("mattermost", "ALICE.M").await.as_deref(), Some("alice"));
        assert_eq!(found("mattermost", "bob").await.as_deref(), Some("bob"));
        // Matrix IDs as written.
        assert_eq!(found("matrix", "@bob:example.org").await.as_deref(), Some("bob"));
        assert_eq!(found("matrix", "@BOB:example.org").await, None);
        assert_eq!(found("mattermost", "").await, None);
        assert_eq!(found("mattermost", "carol").await, None);
        assert_eq!(found("email", "alice@example.org").await, None);
    }
}
