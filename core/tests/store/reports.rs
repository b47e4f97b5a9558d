//! The reports role's contract: every count applies the window (fresh since
//! its cut-off, and for a dated as-of known before its instant), and the
//! licence reads see the same machines.

use chrono::Duration;
use winventory_core::licence::Coverage;
use winventory_core::on_both_backends;
use winventory_core::store::{OwnerChange, SoftwareWrite, Store};
use winventory_core::{OwnerFact, OwnerRole, OwnerSource, Window};

use crate::helpers::{at, cycle, machine, store};

/// Three machines with Python 3.8: `stale` (reported 100 days before
/// `at(0)`), `fresh` (at `at(0)`) and `late` (at `at(60)`); `fresh` is
/// mainly used by asmith, the others have jdoe as responsible.
async fn fleet(store: &dyn Store) -> [i64; 3] {
    let python = |mut w: winventory_core::store::MachineWrite| {
        w.software = Some(SoftwareWrite {
            hash: 1,
            rows: Vec::new(),
            cycles: vec![(cycle("python", "3.8"), Some(w.collected_at))],
            applications: vec![("Python".into(), Some(w.collected_at))],
        });
        w
    };
    let mut fresh = python(machine("fresh", at(0), Some("jdoe")));
    fresh.owners.push(OwnerChange::Set(
        OwnerRole::MainUser,
        OwnerFact {
            login: "asmith".into(),
            source: OwnerSource::Snapshot,
        },
    ));
    let written = store
        .apply_machines(
            &[
                python(machine("stale", at(0) - Duration::days(100), Some("jdoe"))),
                fresh,
                python(machine("late", at(60), Some("jdoe"))),
            ],
            at(61),
        )
        .await
        .expect("write");
    [written[0].1, written[1].1, written[2].1]
}

on_both_backends! {
    async fn counts_in_a_group_keep_the_machines_whose_responsible_or_main_user_is_in_it(backend) {
        let (db, store) = store(backend).await;
        fleet(store.as_ref()).await;
        winventory_core::testing::execute(&db.url, "INSERT INTO groups (name) VALUES ('physics'), ('chemistry')").await;
        winventory_core::testing::execute(
            &db.url,
            "INSERT INTO group_members (group_name, login) VALUES ('physics', 'asmith'), ('chemistry', 'jdoe')",
        )
        .await;
        let os = Some(cycle("windows-server", "2012-r2"));
        let now = Window { since: at(-90 * 24 * 60), before: None };
        // asmith uses `fresh` only; jdoe is responsible for all three (`stale` is not counted).
        assert_eq!(store.os_counts_in_group(now, "physics").await.expect("os"), [(os.clone(), 1)]);
        assert_eq!(store.os_counts_in_group(now, "chemistry").await.expect("os"), [(os.clone(), 2)]);
        assert_eq!(
            store.software_counts_in_group(now, "physics").await.expect("software"),
            [(cycle("python", "3.8"), 1)]
        );
        let dated = Window { since: now.since, before: Some(at(30)) };
        assert_eq!(
            store.software_counts_in_group(dated, "chemistry").await.expect("software"),
            [(cycle("python", "3.8"), 1)]
        );
        assert!(store.os_counts_in_group(now, "nobody").await.expect("os").is_empty());
        assert!(store.software_counts_in_group(now, "nobody").await.expect("software").is_empty());
    }
}

on_both_backends! {
    async fn counts_leave_out_stale_machines_and_those_reported_after_a_dated_window(backend) {
        let (_db, store) = store(backend).await;
        fleet(store.as_ref()).await;
        let os = Some(cycle("windows-server", "2012-r2"));
        let now = Window { since: at(-90 * 24 * 60), before: None };
        assert_eq!(store.os_counts(now).await.expect("os"), [(os.clone(), 2)]);
        assert_eq!(store.software_counts(now).await.expect("software"), [(cycle("python", "3.8"), 2)]);
        assert_eq!(store.application_counts(now).await.expect("applications"), [("Python".to_string(), 2)]);

        // Dated just after `fresh`'s report: `late` is not known yet.
        let dated = Window { since: now.since, before: Some(at(30)) };
        assert_eq!(store.os_counts(dated).await.expect("os"), [(os, 1)]);
        assert_eq!(store.software_counts(dated).await.expect("software"), [(cycle("python", "3.8"), 1)]);
        assert_eq!(store.application_counts(dated).await.expect("applications"), [("Python".to_string(), 1)]);

        // Nothing counted: no row rather than a zero.
        let none = Window { since: at(1000), before: None };
        assert!(store.os_counts(none).await.expect("os").is_empty());
        assert!(store.software_counts(none).await.expect("software").is_empty());
        assert!(store.application_counts(none).await.expect("applications").is_empty());

        assert_eq!(store.reported_since(at(1)).await.expect("since"), (Some(at(0) - Duration::days(100)), 1));
        assert_eq!(store.reported_since(at(-1)).await.expect("since").1, 2);
    }
}

on_both_backends! {
    async fn licence_reads_see_every_known_holder_with_its_user(backend) {
        let (_db, store) = store(backend).await;
        let [stale, fresh, late] = fleet(store.as_ref()).await;
        let dated = Window { since: at(-90 * 24 * 60), before: Some(at(30)) };
        let covers = [Coverage::Application("Python".into()), Coverage::Product("python".into())];

        // Holders: stale ones too, but not those unknown at the date.
        let mut holders: Vec<_> = store
            .licence_holders(&covers, dated)
            .await
            .expect("holders")
            .into_iter()
            .map(|h| (h.covers.to_string(), h.host_key, h.user))
            .collect();
        holders.sort();
        assert_eq!(
            holders,
            [
                ("Python".into(), "fresh".into(), Some("asmith".into())),
                ("Python".into(), "stale".into(), Some("jdoe".into())),
                ("product python".into(), "fresh".into(), Some("asmith".into())),
                ("product python".into(), "stale".into(), Some("jdoe".into())),
            ]
        );

        let usage = store.licence_usage(&covers, dated).await.expect("usage");
        assert!(usage.fresh.contains(&fresh) && !usage.fresh.contains(&stale) && !usage.fresh.contains(&late));
        let user = |id: i64| usage.user_of.get(&id).map(|&i| usage.users[i as usize].as_str());
        assert_eq!((user(stale), user(fresh), user(late)), (Some("jdoe"), Some("asmith"), Some("jdoe")));
        let mut installs: Vec<_> = usage.installs[&covers[0]].iter().map(|(id, _)| *id).collect();
        installs.sort();
        let mut all = vec![stale, fresh, late];
        all.sort();
        assert_eq!(installs, all);
        assert_eq!(usage.installs[&covers[1]].len(), 3);
        assert!(store.licence_holders(&[], dated).await.expect("none").is_empty());
    }
}

on_both_backends! {
    async fn a_machine_selection_applies_the_window_its_age_and_whose_machines_they_are(backend) {
        use winventory_core::store::{Freshness, MachineSelection, UserImport};
        let (_db, store) = store(backend).await;
        fleet(store.as_ref()).await;
        store
            .import_users(
                &[UserImport {
                    user: winventory_core::User { login: "asmith".into(), ..Default::default() },
                    groups: vec!["lab".into()],
                }],
                at(0),
            )
            .await
            .expect("users");
        let now = Window { since: at(-90 * 24 * 60), before: None };
        let hosts = |sel: MachineSelection, w: Window| {
            let store = store.clone();
            async move {
                store
                    .select_machines(&sel, w)
                    .await
                    .expect("select")
                    .into_iter()
                    .map(|m| m.hostname)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(hosts(MachineSelection::default(), now).await, ["fresh", "late"]);
        let stale = MachineSelection { freshness: Freshness::Stale, ..Default::default() };
        assert_eq!(hosts(stale, now).await, ["stale"]);
        let any = MachineSelection { freshness: Freshness::Any, ..Default::default() };
        assert_eq!(hosts(any.clone(), now).await, ["fresh", "late", "stale"]);
        let dated = Window { since: now.since, before: Some(at(30)) };
        assert_eq!(hosts(any, dated).await, ["fresh", "stale"], "late is not known yet");
        let jdoe = MachineSelection { owner: Some("jdoe".into()), ..Default::default() };
        assert_eq!(hosts(jdoe, now).await, ["fresh", "late"]);
        let lab = MachineSelection { group: Some("lab".into()), ..Default::default() };
        assert_eq!(hosts(lab, now).await, ["fresh"], "asmith mainly uses it");
        let nobody = MachineSelection { group: Some("none".into()), ..Default::default() };
        assert!(hosts(nobody, now).await.is_empty());
        // A page: after a key, at most so many, in key order.
        let page = |after: Option<&str>, limit| MachineSelection {
            freshness: Freshness::Any,
            after: after.map(str::to_string),
            limit: Some(limit),
            ..Default::default()
        };
        assert_eq!(hosts(page(None, 2), now).await, ["fresh", "late"]);
        assert_eq!(hosts(page(Some("late"), 2), now).await, ["stale"]);
        assert_eq!(hosts(page(Some("fresh"), 1), now).await, ["late"]);
        assert!(hosts(page(Some("stale"), 5), now).await.is_empty());
    }
}

on_both_backends! {
    async fn machines_with_a_products_cycles_are_counted_once_each(backend) {
        let (_db, store) = store(backend).await;
        let two = |host: &str| {
            let mut w = machine(host, at(0), None);
            w.software = Some(SoftwareWrite {
                hash: 2,
                rows: Vec::new(),
                cycles: vec![
                    (cycle("oracle-jdk", "8"), Some(at(0))),
                    (cycle("oracle-jdk", "11"), Some(at(0))),
                ],
                applications: Vec::new(),
            });
            w
        };
        store
            .apply_machines(&[two("a"), two("b"), machine("c", at(0), None)], at(1))
            .await
            .expect("write");
        let now = Window { since: at(-90 * 24 * 60), before: None };
        let cycles = vec!["8".to_string(), "11".to_string()];
        let wanted = vec![
            ("oracle-jdk".to_string(), cycles.clone()),
            ("oracle-jdk".to_string(), cycles[..1].to_vec()),
            ("python".to_string(), cycles.clone()),
            ("oracle-jdk".to_string(), Vec::new()),
        ];
        assert_eq!(store.machines_with_software(&wanted, now).await.expect("count"), [2, 2, 0, 0]);
        let gone = Window { since: at(10), before: None };
        assert_eq!(store.machines_with_software(&wanted, gone).await.expect("count"), [0, 0, 0, 0]);
        // A machine the window leaves out (reported after a dated as-of) is
        // taken off each product it has, once.
        let mut d = two("d");
        d.collected_at = at(20);
        store.apply_machines(&[d], at(21)).await.expect("write");
        assert_eq!(store.machines_with_software(&wanted, now).await.expect("count"), [3, 3, 0, 0]);
        let dated = Window { since: now.since, before: Some(at(10)) };
        assert_eq!(store.machines_with_software(&wanted, dated).await.expect("count"), [2, 2, 0, 0]);
    }
}

on_both_backends! {
    async fn the_pages_of_a_filtered_machine_list_join_up_to_the_whole_list(backend) {
        use winventory_core::fleet::{CycleFilter, MachineFilter, list_machines, list_machines_page};
        let (_db, store) = store(backend).await;
        // 250 machines, every third on Windows Server 2016 (the filter keeps
        // those), so a page of 60 needs several reads of 100.
        let writes: Vec<_> = (0..250)
            .map(|i| {
                let mut w = machine(&format!("PC-{i:04}"), at(0), None);
                if i % 3 == 0 {
                    w.os_match = Some(cycle("windows-server", "2016"));
                }
                w
            })
            .collect();
        store.apply_machines(&writes, at(0)).await.expect("write");
        let catalog = winventory_core::Catalog::builtin();
        let as_of = winventory_core::AsOf::at(at(1), 90);
        let filter = MachineFilter {
            os: Some("windows-server:2016".parse::<CycleFilter>().expect("filter")),
            ..MachineFilter::default()
        };
        let whole = list_machines(store.as_ref(), &catalog, &as_of, &filter).await.expect("list");
        assert_eq!(whole.len(), 84);
        for limit in [1, 7, 60, 84, 500] {
            let mut joined = Vec::new();
            let mut after: Option<String> = None;
            let mut pages = 0;
            loop {
                let page = list_machines_page(store.as_ref(), &catalog, &as_of, &filter, after.as_deref(), limit)
                    .await
                    .expect("page");
                pages += 1;
                assert!(page.machines.len() <= limit);
                joined.extend(page.machines);
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(joined, whole, "limit {limit}");
            assert_eq!(pages, 84_usize.div_ceil(limit), "limit {limit}: no empty last page");
        }
    }
}
