//! The catalog role's contract: refreshed lifecycle rows kept per product
//! and cycle, and the matches of titles and OS reports re-stored, with the
//! per-machine tables derived from them rebuilt.

use winventory_core::catalog::CycleInfo;
use winventory_core::on_both_backends;
use winventory_core::store::{InstallRow, SoftwareWrite, TitleRow};

use crate::helpers::{at, cycle, machine, store};

fn refreshed(product: &str, cycle: &str, label: &str) -> CycleInfo {
    CycleInfo {
        product: product.into(),
        product_title: product.into(),
        category: "os".into(),
        cycle: cycle.into(),
        label: Some(label.into()),
        release_date: None,
        support_end: None,
        eol: None,
        extended_support_end: None,
        lts: false,
        latest: None,
        source: "endoflife.date".into(),
    }
}

on_both_backends! {
    async fn refreshed_catalog_rows_replace_those_of_the_same_product_and_cycle(backend) {
        let (_db, store) = store(backend).await;
        assert!(store.refreshed_catalog().await.expect("read").is_empty());
        store
            .save_refreshed_catalog(&[refreshed("windows", "11-24h2", "old label"), refreshed("debian", "12", "Bookworm")], at(0))
            .await
            .expect("save");
        store.save_refreshed_catalog(&[refreshed("windows", "11-24h2", "Windows 11 24H2")], at(1)).await.expect("save again");
        let rows: Vec<_> = store
            .refreshed_catalog()
            .await
            .expect("read")
            .into_iter()
            .map(|r| (r.product, r.cycle, r.label))
            .collect();
        assert_eq!(
            rows,
            [
                ("debian".into(), "12".into(), Some("Bookworm".into())),
                ("windows".into(), "11-24h2".into(), Some("Windows 11 24H2".into())),
            ]
        );
    }
}

on_both_backends! {
    async fn new_matches_are_stored_and_the_derived_tables_follow_them(backend) {
        let (_db, store) = store(backend).await;
        let titles = store
            .upsert_titles(&[TitleRow {
                id: 0,
                name: "Python".into(),
                version: "3.8.10".into(),
                publisher: "Python Software Foundation".into(),
                cycle: None,
                application: None,
            }])
            .await
            .expect("titles");
        let mut pc1 = machine("PC1", at(0), None);
        pc1.os_match = None;
        pc1.software = Some(SoftwareWrite {
            hash: 1,
            rows: vec![InstallRow { title_id: titles[0].id, install_date: None, last_used: Some(at(-5)) }],
            cycles: Vec::new(),
            applications: Vec::new(),
        });
        let id = store.apply_machines(&[pc1.clone()], at(0)).await.expect("write")[0].1;
        assert!(store.software_cycles_of(&[id]).await.expect("cycles").is_empty());

        let mut matched = titles[0].clone();
        matched.cycle = Some(cycle("python", "3.8"));
        matched.application = Some("Python".into());
        store.update_title_matches(&[matched]).await.expect("re-match titles");
        assert_eq!(store.titles().await.expect("titles")[0].cycle, Some(cycle("python", "3.8")));
        assert_eq!(store.software_cycles_of(&[id]).await.expect("cycles"), [(id, cycle("python", "3.8"))]);
        let everyone = winventory_core::AsOf::at(at(10), 90).window();
        assert_eq!(store.application_counts(everyone).await.expect("applications"), [("Python".to_string(), 1)]);

        let os = store.machine_os().await.expect("machine OS");
        assert_eq!(os, [(id, pc1.os.clone())]);
        store.update_os_matches(&[(id, Some(cycle("windows-server", "2012-r2")))]).await.expect("re-match OS");
        assert_eq!(store.os_counts(everyone).await.expect("os"), [(Some(cycle("windows-server", "2012-r2")), 1)]);
    }
}

on_both_backends! {
    /// A process keeps the titles it has read (the API's machine reads
    /// would otherwise look up 150 of them in the database each time); a
    /// rematch or a new title written by another process must still show
    /// at its next read.
    async fn a_machines_software_shows_rematches_and_new_titles_written_by_another_process(backend) {
        let (db, reader) = store(backend).await;
        let writer = winventory_core::store::connect(&db.url).await.expect("a second process");
        let title = |name: &str| TitleRow {
            id: 0,
            name: name.into(),
            version: "1.0".into(),
            publisher: "Example".into(),
            cycle: None,
            application: None,
        };
        let titles = writer.upsert_titles(&[title("Alpha"), title("Beta")]).await.expect("titles");
        let list = |ids: &[i64]| SoftwareWrite {
            hash: ids.iter().sum(),
            rows: ids.iter().map(|&title_id| InstallRow { title_id, install_date: None, last_used: None }).collect(),
            cycles: Vec::new(),
            applications: Vec::new(),
        };
        let mut pc1 = machine("PC1", at(0), None);
        pc1.software = Some(list(&[titles[1].id, titles[0].id]));
        let id = writer.apply_machines(&[pc1.clone()], at(0)).await.expect("write")[0].1;
        let shown = |sw: Vec<winventory_core::store::InstalledSoftware>| -> Vec<(String, Option<String>)> {
            sw.into_iter().map(|s| (s.name, s.cycle.map(|c| c.cycle))).collect()
        };
        let before = shown(reader.machine_software(id).await.expect("read"));
        assert_eq!(before, [("Beta".into(), None), ("Alpha".into(), None)], "report order");

        let mut alpha = titles[0].clone();
        alpha.cycle = Some(cycle("alpha", "1"));
        writer.update_title_matches(&[alpha]).await.expect("rematch");
        let after = shown(reader.machine_software(id).await.expect("read again"));
        assert_eq!(after, [("Beta".into(), None), ("Alpha".into(), Some("1".into()))]);

        let gamma = writer.upsert_titles(&[title("Gamma")]).await.expect("a new title");
        pc1.id = Some(id);
        pc1.collected_at = at(5);
        pc1.software = Some(list(&[titles[1].id, gamma[0].id]));
        writer.apply_machines(&[pc1], at(5)).await.expect("write again");
        let newer = shown(reader.machine_software(id).await.expect("read the new list"));
        assert_eq!(newer, [("Beta".into(), None), ("Gamma".into(), None)]);
    }
}
