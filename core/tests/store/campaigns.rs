//! The campaigns role's contract: campaign rows and their states, the
//! machines they select and ask about, engine decisions, the audit log and
//! the process-wide switches.

use winventory_core::on_both_backends;
use winventory_core::store::{
    AuditEntry, AuditFilter, CampaignState, MachineChange, NewTarget, SoftwareWrite,
};

use crate::helpers::{at, cycle, machine, store};

fn target(machine_id: i64, host: &str, recipient: &str) -> NewTarget {
    NewTarget {
        machine_id,
        host_key: host.to_lowercase(),
        hostname: host.into(),
        recipient: recipient.into(),
    }
}

on_both_backends! {
    async fn a_campaign_is_created_once_by_name_and_moves_through_its_states(backend) {
        let (_db, store) = store(backend).await;
        let id = store.create_campaign("retire", "eol", "name = \"retire\"", at(0)).await.expect("create").expect("new");
        assert_eq!(store.create_campaign("retire", "custom", "", at(1)).await.expect("create again"), None);
        let by_name = store.campaign("retire").await.expect("read").expect("by name");
        assert_eq!(store.campaign(&id.to_string()).await.expect("read"), Some(by_name.clone()));
        assert_eq!(
            (by_name.kind.as_str(), by_name.state, by_name.spec.as_str(), by_name.created_at, by_name.started_at),
            ("eol", CampaignState::Draft, "name = \"retire\"", at(0), None)
        );
        assert_eq!(store.campaign("nothing").await.expect("read"), None);

        store.set_campaign_state(id, CampaignState::Running, at(2)).await.expect("start");
        store.set_campaign_state(id, CampaignState::Paused, at(3)).await.expect("pause");
        store.set_campaign_state(id, CampaignState::Running, at(4)).await.expect("resume");
        let row = store.campaign("retire").await.expect("read").expect("retire");
        assert_eq!((row.state, row.started_at, row.closed_at), (CampaignState::Running, Some(at(2)), None));
        store.set_campaign_state(id, CampaignState::Closed, at(5)).await.expect("close");
        let row = store.campaign("retire").await.expect("read").expect("retire");
        assert_eq!((row.state, row.closed_at), (CampaignState::Closed, Some(at(5))));

        store.create_campaign("licences", "licence", "", at(6)).await.expect("create").expect("new");
        let names: Vec<_> = store.campaigns().await.expect("all").into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["retire", "licences"]);
    }
}

on_both_backends! {
    async fn targets_are_selected_by_cycle_application_and_freshness(backend) {
        let (_db, store) = store(backend).await;
        let mut with_python = machine("PC2", at(0), None);
        with_python.os_match = Some(cycle("windows", "11-24h2"));
        with_python.software = Some(SoftwareWrite {
            hash: 1,
            rows: Vec::new(),
            cycles: vec![(cycle("python", "3.8"), None)],
            applications: vec![("Python".into(), Some(at(-3)))],
        });
        let written = store
            .apply_machines(&[machine("PC1", at(0), Some("jdoe")), with_python, machine("OLD", at(-100), None)], at(0))
            .await
            .expect("write");
        let id = |host: &str| written.iter().find(|(k, _)| k == host).expect("written").1;

        let hosts = |rows: Vec<winventory_core::store::MachineRow>| rows.into_iter().map(|m| m.hostname).collect::<Vec<_>>();
        let server = [cycle("windows-server", "2012-r2")];
        let python = [cycle("python", "3.8")];
        assert_eq!(hosts(store.machines_with_cycles(&server, &[], at(-50)).await.expect("os")), ["PC1"]);
        assert_eq!(hosts(store.machines_with_cycles(&server, &python, at(-200)).await.expect("both")), ["OLD", "PC1", "PC2"]);
        assert!(store.machines_with_cycles(&[], &[], at(-200)).await.expect("none").is_empty());
        let mut by_id = hosts(store.machines_by_id(&[id("old"), id("pc2")]).await.expect("by id"));
        by_id.sort();
        assert_eq!(by_id, ["OLD", "PC2"]);
        assert_eq!(store.machines_with_applications(&["Python".into(), "Nothing".into()]).await.expect("apps"), [id("pc2")]);
        assert_eq!(
            store.application_installs(&["Python".into()]).await.expect("installs"),
            [(id("pc2"), "Python".to_string(), Some(at(-3)))]
        );
    }
}

on_both_backends! {
    async fn engine_decisions_change_the_machines_they_name(backend) {
        let (_db, store) = store(backend).await;
        let written = store
            .apply_machines(&[machine("PC1", at(0), None), machine("PC2", at(0), None), machine("PC3", at(0), None)], at(0))
            .await
            .expect("write");
        let id = |host: &str| written.iter().find(|(k, _)| k == host).expect("written").1;
        let c = store.create_campaign("retire", "eol", "", at(0)).await.expect("create").expect("new");
        let targets = [target(id("pc1"), "pc1", "alice"), target(id("pc2"), "pc2", "alice"), target(id("pc3"), "pc3", "group:it")];
        assert_eq!(store.add_campaign_machines(c, &targets, at(0)).await.expect("add"), 3);
        // Those already in it are left as they are.
        assert_eq!(store.add_campaign_machines(c, &[target(id("pc1"), "pc1", "bob")], at(1)).await.expect("add again"), 0);
        let mine: Vec<_> = store.campaign_machines_of(c, "alice").await.expect("alice's").into_iter().map(|m| m.host_key).collect();
        assert_eq!(mine, ["pc1", "pc2"]);

        let changes = [
            (id("pc1"), MachineChange::Resolve("upgraded".into())),
            (id("pc2"), MachineChange::Escalate { recipient: "manager".into(), step: 1 }),
            (id("pc3"), MachineChange::Reroute { recipient: "carol".into(), from: "dave".into() }),
        ];
        store.change_campaign_machines(c, &changes, at(2)).await.expect("decide");
        let got: Vec<_> = store
            .campaign_machines(c)
            .await
            .expect("machines")
            .into_iter()
            .map(|m| (m.host_key, m.recipient, m.state, m.resolution, m.escalation, m.transfer_from, m.resolved_at))
            .collect();
        assert_eq!(
            got,
            [
                ("pc1".into(), "alice".into(), "resolved".into(), Some("upgraded".into()), 0, None, Some(at(2))),
                ("pc2".into(), "manager".into(), "open".into(), None, 1, None, None),
                ("pc3".into(), "carol".into(), "open".into(), None, 0, Some("dave".into()), None),
            ]
        );
        // Nothing was messaged yet: nothing to remind.
        assert_eq!(store.remind_open(c).await.expect("remind"), 0);
        assert!(store.unreachable(c).await.expect("unreachable").is_empty());
    }
}

on_both_backends! {
    async fn the_audit_log_reads_newest_first_and_switches_set_and_clear(backend) {
        let (_db, store) = store(backend).await;
        let entry = |minute: i64, action: &str| AuditEntry {
            at: at(minute),
            channel: "matrix".into(),
            actor: "alice".into(),
            role: "admin".into(),
            action: action.into(),
            target: "retire".into(),
            command: format!("{action} retire"),
            outcome: "done: ok".into(),
            origin: "@alice:example.org".into(),
        };
        for (minute, action) in [(0, "campaign start"), (1, "campaign pause"), (2, "campaign resume")] {
            store.audit(&entry(minute, action)).await.expect("audit");
        }
        assert_eq!(store.audit_log(2).await.expect("log"), [entry(2, "campaign resume"), entry(1, "campaign pause")]);

        // Pages: the next one starts before the last id shown; filters by actor and target.
        let mut other = entry(3, "token create");
        other.actor = "bob".into();
        other.target = "ci".into();
        store.audit(&other).await.expect("audit");
        let first = store.audit_page(&AuditFilter::default(), 2).await.expect("page");
        assert_eq!(first.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), [other.clone(), entry(2, "campaign resume")]);
        let before = AuditFilter { before: Some(first[1].0), ..Default::default() };
        let second = store.audit_page(&before, 2).await.expect("page");
        assert_eq!(second.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), [entry(1, "campaign pause"), entry(0, "campaign start")]);
        let alice_on_retire = AuditFilter { actor: Some("alice".into()), target: Some("retire".into()), ..Default::default() };
        assert_eq!(store.audit_page(&alice_on_retire, 10).await.expect("page").len(), 3);
        let bobs = AuditFilter { actor: Some("bob".into()), ..Default::default() };
        assert_eq!(store.audit_page(&bobs, 10).await.expect("page").into_iter().map(|(_, e)| e).collect::<Vec<_>>(), [other]);

        assert_eq!(store.control("pause_all").await.expect("read"), None);
        store.set_control("pause_all", Some("alice")).await.expect("set");
        store.set_control("pause_all", Some("bob")).await.expect("set again");
        assert_eq!(store.control("pause_all").await.expect("read").as_deref(), Some("bob"));
        store.set_control("pause_all", None).await.expect("clear");
        assert_eq!(store.control("pause_all").await.expect("read"), None);
    }
}

/// A message to `login` by email listing machines of a campaign.
fn digest(key: &str, login: &str, machines: &[(i64, i64)]) -> winventory_core::store::NewMessage {
    winventory_core::store::NewMessage {
        idem_key: key.into(),
        message_id: format!("<{key}@example.org>"),
        channel: "email".into(),
        recipient: login.into(),
        address: format!("{login}@example.org"),
        fallback: None,
        subject: "Machines to upgrade".into(),
        body_text: "PC1".into(),
        body_html: None,
        machines: machines.to_vec(),
        reminder: false,
        actions: Vec::new(),
        buttons: None,
    }
}

on_both_backends! {
    async fn an_exception_is_decided_once_with_its_notice_queued_in_the_same_step(backend) {
        let (_db, store) = store(backend).await;
        let written = store.apply_machines(&[machine("PC1", at(0), None), machine("PC2", at(0), None)], at(0)).await.expect("write");
        let id = |host: &str| written.iter().find(|(k, _)| k == host).expect("written").1;
        let c = store.create_campaign("retire", "eol", "", at(0)).await.expect("create").expect("new");
        store.add_campaign_machines(c, &[target(id("pc1"), "pc1", "alice"), target(id("pc2"), "pc2", "alice")], at(0)).await.expect("add");
        let request = winventory_core::store::AnswerRecord {
            campaign_id: c,
            machine_ids: vec![id("pc1")],
            answer: "exception".into(),
            date: None,
            detail: Some("lab instrument".into()),
            comment: None,
            by: "alice".into(),
            via: "email".into(),
        };
        let done = store.record_answer(&request, at(1)).await.expect("request an exception");
        assert_eq!(done[0].exception_state.as_deref(), Some("requested"));

        let decision = winventory_core::store::ExceptionDecision {
            campaign_id: c,
            machine_id: id("pc1"),
            decision: "approved".into(),
            by: "admin".into(),
            note: Some("until the lab moves".into()),
        };
        let notice = digest("notice-1", "alice", &[]);
        assert!(store.decide_exception(&decision, Some(&notice), at(2)).await.expect("decide"));
        // Decided already, and pc2 asked for nothing: no change, no notice.
        assert!(!store.decide_exception(&decision, Some(&digest("notice-2", "alice", &[])), at(3)).await.expect("again"));
        let other = winventory_core::store::ExceptionDecision { machine_id: id("pc2"), ..decision };
        assert!(!store.decide_exception(&other, None, at(3)).await.expect("nothing asked"));
        let pc1 = store.campaign_machines(c).await.expect("machines").into_iter().find(|m| m.host_key == "pc1").expect("pc1");
        assert_eq!(
            (pc1.exception_state.as_deref(), pc1.exception_decided_by.as_deref(), pc1.exception_note.as_deref()),
            (Some("approved"), Some("admin"), Some("until the lab moves"))
        );
        let keys: Vec<_> = store.outbox().await.expect("outbox").into_iter().map(|m| m.idem_key).collect();
        assert_eq!(keys, ["notice-1"]);
    }
}

on_both_backends! {
    async fn messaged_open_machines_are_reminded_and_failed_email_names_who_cannot_be_reached(backend) {
        let (_db, store) = store(backend).await;
        let written = store.apply_machines(&[machine("PC1", at(0), None), machine("PC2", at(0), None)], at(0)).await.expect("write");
        let id = |host: &str| written.iter().find(|(k, _)| k == host).expect("written").1;
        let c = store.create_campaign("retire", "eol", "", at(0)).await.expect("create").expect("new");
        store.add_campaign_machines(c, &[target(id("pc1"), "pc1", "alice"), target(id("pc2"), "pc2", "bob")], at(0)).await.expect("add");
        store.set_campaign_state(c, CampaignState::Running, at(0)).await.expect("start");
        store
            .enqueue(&[digest("a", "alice", &[(c, id("pc1"))]), digest("b", "bob", &[(c, id("pc2"))])], at(1))
            .await
            .expect("enqueue");
        // pc2 is dealt with: only pc1 is open and messaged.
        store.change_campaign_machines(c, &[(id("pc2"), MachineChange::Resolve("upgraded".into()))], at(2)).await.expect("resolve");
        assert_eq!(store.remind_open(c).await.expect("remind"), 1);
        let pc1 = store.campaign_machines(c).await.expect("machines").into_iter().find(|m| m.host_key == "pc1").expect("pc1");
        assert_eq!(pc1.last_messaged, Some(chrono::DateTime::UNIX_EPOCH));

        let claimed = store.claim_due(at(3), chrono::Duration::minutes(5), 10).await.expect("claim");
        let bob = claimed.iter().find(|m| m.recipient == "bob").expect("bob's message");
        store.mark_failed(bob.id, "550 no such user", at(4)).await.expect("refused");
        assert_eq!(store.unreachable(c).await.expect("unreachable"), ["bob"]);
    }
}

on_both_backends! {
    async fn a_campaign_machine_is_shown_by_its_hostname_as_last_reported(backend) {
        let (_db, store) = store(backend).await;
        let written = store.apply_machines(&[machine("SRVAPP012", at(0), None)], at(0)).await.expect("write");
        let id = written[0].1;
        let c = store.create_campaign("retire", "eol", "", at(0)).await.expect("create").expect("new");
        store.add_campaign_machines(c, &[target(id, "SRVAPP012", "alice")], at(0)).await.expect("add");
        let shown = |rows: Vec<winventory_core::store::CampaignMachine>| {
            rows.into_iter().map(|m| (m.host_key, m.hostname)).collect::<Vec<_>>()
        };
        assert_eq!(shown(store.campaign_machines(c).await.expect("machines")), [("srvapp012".to_string(), "SRVAPP012".to_string())]);

        // Reported again under another spelling: its campaigns show the new one.
        store.apply_machines(&[machine("SrvApp012", at(10), None)], at(10)).await.expect("write again");
        assert_eq!(shown(store.campaign_machines(c).await.expect("machines")), [("srvapp012".to_string(), "SrvApp012".to_string())]);
        assert_eq!(shown(store.campaign_machines_of(c, "alice").await.expect("alice's")), [("srvapp012".to_string(), "SrvApp012".to_string())]);
        let view = store.answer_view(c, "alice", "alice").await.expect("view").expect("the campaign");
        assert_eq!(shown(view.machines), [("srvapp012".to_string(), "SrvApp012".to_string())]);
    }
}

on_both_backends! {
    /// A machine a group is asked about keeps each member's own last
    /// message and reminders; the machine counts the most any member had
    /// (not one per member's digest); `campaign remind` makes every member
    /// due; escalation starts them all afresh. A person's machine has none.
    async fn a_groups_members_keep_their_own_messages_and_the_machine_the_most_reminders(backend) {
        let (_db, store) = store(backend).await;
        let written = store.apply_machines(&[machine("PC1", at(0), None), machine("PC2", at(0), None)], at(0)).await.expect("write");
        let id = |host: &str| written.iter().find(|(k, _)| k == host).expect("written").1;
        let c = store.create_campaign("orphans", "eol", "", at(0)).await.expect("create").expect("new");
        store.set_campaign_state(c, CampaignState::Running, at(0)).await.expect("start");
        store.add_campaign_machines(c, &[target(id("pc1"), "pc1", "group:it-desk"), target(id("pc2"), "pc2", "alice")], at(0)).await.expect("add");
        let (pc1, pc2) = (id("pc1"), id("pc2"));
        let row = |store: std::sync::Arc<dyn winventory_core::store::Store>, host: &'static str| async move {
            store.campaign_machines(c).await.expect("machines").into_iter().find(|m| m.host_key == host).expect("machine")
        };
        // Kiri first, Lena later the same day (her first message), then Kiri reminded.
        store.enqueue(&[digest("d1", "kiri", &[(c, pc1), (c, pc2)])], at(1)).await.expect("queue");
        store.enqueue(&[digest("d2", "lena", &[(c, pc1)])], at(2)).await.expect("queue");
        assert_eq!(row(store.clone(), "pc1").await.reminders, 0, "two first messages");
        store.enqueue(&[digest("d3", "kiri", &[(c, pc1)])], at(3)).await.expect("queue");
        store.enqueue(&[digest("d4", "alice", &[(c, pc2)])], at(3)).await.expect("queue");
        let mut members = store.member_messages(c).await.expect("members");
        members.sort();
        assert_eq!(members, [(pc1, "kiri".to_string(), at(3)), (pc1, "lena".to_string(), at(2))], "none for a person's machine");
        assert_eq!(row(store.clone(), "pc1").await.reminders, 1, "Kiri's one reminder");
        assert_eq!(row(store.clone(), "pc2").await.reminders, 1, "a person's machine as before");

        assert_eq!(store.remind_open(c).await.expect("remind"), 2);
        let due: Vec<_> = store.member_messages(c).await.expect("members").into_iter().map(|(_, _, at)| at.timestamp()).collect();
        assert_eq!(due, [0, 0], "every member due");

        store.change_campaign_machines(c, &[(pc1, MachineChange::Escalate { recipient: "group:admins".into(), step: 1 })], at(4)).await.expect("escalate");
        assert!(store.member_messages(c).await.expect("members").is_empty(), "afresh after escalation");
    }
}
