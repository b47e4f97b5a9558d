//! The inventory role's contract: titles stored once, a batch of winning
//! reports written in one go (machines, software lists and what they derive,
//! owners), and the machine index the next ingest decides from.

use chrono::NaiveDate;
use winventory_core::on_both_backends;
use winventory_core::store::{
    InstallRow, KeyDigest, OwnerChange, OwnerMark, SoftwareWrite, TitleRow,
};
use winventory_core::{OwnerRole, OwnerSource};

use crate::helpers::{at, cycle, machine, store};

fn title(name: &str, matched: Option<(&str, &str)>, application: Option<&str>) -> TitleRow {
    TitleRow {
        id: 0,
        name: name.into(),
        version: "1.0".into(),
        publisher: "Example".into(),
        cycle: matched.map(|(p, c)| cycle(p, c)),
        application: application.map(Into::into),
    }
}

on_both_backends! {
    async fn titles_are_stored_once_and_come_back_with_their_ids(backend) {
        let (_db, store) = store(backend).await;
        let first = store
            .upsert_titles(&[title("Python 3.8", Some(("python", "3.8")), Some("Python")), title("Notepad", None, None)])
            .await
            .expect("store titles");
        assert_eq!(first.len(), 2);
        // Stored again beside a new one: the stored ones keep their ids and match.
        let again = store
            .upsert_titles(&[title("Python 3.8", None, None), title("7-Zip", None, Some("7-Zip"))])
            .await
            .expect("store again");
        let python = first.iter().find(|t| t.name == "Python 3.8").expect("python");
        let stored = again.iter().find(|t| t.name == "Python 3.8").expect("python again");
        assert_eq!(stored, python);
        let mut all = store.titles().await.expect("titles");
        all.sort_by_key(|t| t.id);
        let names: Vec<_> = all.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Python 3.8", "Notepad", "7-Zip"]);
        assert_eq!(store.counts().await.expect("counts").titles, 3);
    }
}

on_both_backends! {
    async fn a_batch_of_reports_writes_machines_software_and_owners_and_the_index_reflects_it(backend) {
        let (_db, store) = store(backend).await;
        let titles = store
            .upsert_titles(&[title("Python 3.8", Some(("python", "3.8")), Some("Python")), title("Notepad", None, None)])
            .await
            .expect("titles");
        let id_of = |name: &str| titles.iter().find(|t| t.name == name).expect("a title").id;
        let mut pc1 = machine("PC1", at(0), Some("jdoe"));
        pc1.owners.push(OwnerChange::Set(
            OwnerRole::MainUser,
            winventory_core::OwnerFact { login: "asmith".into(), source: OwnerSource::Snapshot },
        ));
        pc1.software = Some(SoftwareWrite {
            hash: 42,
            rows: vec![
                InstallRow { title_id: id_of("Notepad"), install_date: NaiveDate::from_ymd_opt(2024, 3, 1), last_used: None },
                InstallRow { title_id: id_of("Python 3.8"), install_date: None, last_used: Some(at(-60)) },
            ],
            cycles: vec![(cycle("python", "3.8"), Some(at(-60)))],
            applications: vec![("Python".into(), Some(at(-60)))],
        });
        let written = store
            .apply_machines(&[pc1.clone(), machine("PC2", at(1), None)], at(2))
            .await
            .expect("write the batch");
        let keys: Vec<_> = written.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["pc1", "pc2"]);
        let pc1_id = written[0].1;

        let row = store.machine("pc1").await.expect("read").expect("pc1");
        assert_eq!((row.id, row.hostname.as_str(), row.domain.as_deref()), (pc1_id, "PC1", Some("EXAMPLE")));
        assert_eq!(row.os, pc1.os);
        assert_eq!(row.os_match, Some(cycle("windows-server", "2012-r2")));
        assert_eq!((row.first_seen, row.last_seen, row.last_report), (at(2), at(2), at(0)));
        assert_eq!(row.main_user.map(|o| o.login), Some("asmith".into()));
        let software: Vec<_> = store
            .machine_software(pc1_id)
            .await
            .expect("software")
            .into_iter()
            .map(|s| (s.name, s.install_date, s.last_used, s.cycle, s.application))
            .collect();
        assert_eq!(
            software,
            [
                ("Notepad".into(), NaiveDate::from_ymd_opt(2024, 3, 1), None, None, None),
                ("Python 3.8".into(), None, Some(at(-60)), Some(cycle("python", "3.8")), Some("Python".into())),
            ]
        );
        assert_eq!(store.software_cycles_of(&[pc1_id, written[1].1, 999]).await.expect("cycles"), [(pc1_id, cycle("python", "3.8"))]);
        let c = store.counts().await.expect("counts");
        assert_eq!((c.machines, c.titles, c.installations, c.users), (2, 2, 2, 0));

        let index = store.machine_index().await.expect("index");
        assert_eq!(index.len(), 2);
        let first = index.iter().find(|e| e.id == pc1_id).expect("pc1");
        let second = index.iter().find(|e| e.id != pc1_id).expect("pc2");
        assert_eq!((first.id, first.host, first.last_report, first.software_hash), (pc1_id, KeyDigest::of("pc1"), at(0), Some(42)));
        assert_eq!(first.responsible, Some(OwnerMark { source: OwnerSource::Snapshot, login: KeyDigest::of("jdoe") }));
        assert_eq!((second.host, second.software_hash, second.responsible, second.main_user), (KeyDigest::of("pc2"), None, None, None));

        // A later report without a list keeps the stored one; one that
        // clears an owner clears it; one with a list replaces it.
        let mut later = machine("PC1", at(10), None);
        later.id = Some(pc1_id);
        later.owners = vec![OwnerChange::Clear(OwnerRole::MainUser)];
        store.apply_machines(&[later.clone()], at(11)).await.expect("write again");
        let index = store.machine_index().await.expect("index");
        let entry = index.iter().find(|e| e.id == pc1_id).expect("pc1");
        assert_eq!((entry.last_report, entry.software_hash, entry.main_user), (at(10), Some(42), None));
        assert_eq!(store.machine_software(pc1_id).await.expect("software").len(), 2);
        later.software = Some(SoftwareWrite { hash: 7, rows: Vec::new(), cycles: Vec::new(), applications: Vec::new() });
        store.apply_machines(&[later], at(12)).await.expect("write a new list");
        assert!(store.machine_software(pc1_id).await.expect("software").is_empty());
        assert!(store.software_cycles_of(&[pc1_id]).await.expect("cycles").is_empty());
        let row = store.machine("pc1").await.expect("read").expect("pc1");
        assert_eq!((row.first_seen, row.last_seen), (at(2), at(12)));
    }
}

on_both_backends! {
    async fn an_ingest_run_is_recorded_and_nothing_is_set_aside_on_a_fresh_store(backend) {
        let (_db, store) = store(backend).await;
        let id = store.start_run("snapshots.jsonl.gz", at(0)).await.expect("start");
        store.finish_run(id, "{\"machines\": 0}", at(1)).await.expect("finish");
        assert!(store.start_run("again", at(2)).await.expect("start") > id);
        store.tidy_after_ingest().await.expect("tidy");
        let (list, total) = store.rejected_machines(10).await.expect("rejected");
        assert!(list.is_empty());
        assert_eq!(total, 0);
    }
}
