//! Schema migrations keep what is stored, on both backends.

use winventory_core::on_both_backends;
use winventory_core::testing::{execute, fresh_database, migrate_to};

on_both_backends! {
    async fn software_stored_one_row_per_program_survives_the_move_to_one_list_per_machine(backend) {
        let db = fresh_database(backend).await;
        migrate_to(&db.url, 1).await;
        execute(&db.url, "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, \
            first_seen, last_seen, last_report) VALUES (1, 'pc1', 'PC1', 'Microsoft Windows 11 Pro', '10.0.22631', 0, 0, 0), \
            (2, 'pc2', 'PC2', 'Microsoft Windows 11 Pro', '10.0.22631', 0, 0, 0)").await;
        execute(&db.url, "INSERT INTO software_titles (id, name, version, publisher) VALUES \
            (10, 'Zeta', '1.0', 'Z Corp'), (11, 'Alpha', '2.0', 'A Corp')").await;
        // Inserted out of order: the list must come back in report (seq) order.
        execute(&db.url, "INSERT INTO installations (machine_id, seq, title_id, install_date, last_used) VALUES \
            (1, 1, 11, NULL, 1700000000000000), (1, 0, 10, '2024-03-01', NULL), (2, 0, 11, NULL, NULL)").await;

        let store = winventory_core::store::connect(&db.url).await.expect("migrate to the current schema");
        let c = store.counts().await.expect("counts");
        assert_eq!((c.machines, c.titles, c.installations), (2, 2, 3));
        let sw = store.machine_software(1).await.expect("pc1's software");
        let got: Vec<_> = sw.iter().map(|s| (s.name.as_str(), s.install_date.map(|d| d.to_string()), s.last_used.map(|t| t.timestamp()))).collect();
        assert_eq!(got, [("Zeta", Some("2024-03-01".to_string()), None), ("Alpha", None, Some(1_700_000_000))]);
        assert_eq!(store.machine_software(2).await.expect("pc2").len(), 1);
    }
}

on_both_backends! {
    async fn campaign_machines_stored_before_hostnames_were_kept_get_their_machines_hostname(backend) {
        let db = fresh_database(backend).await;
        migrate_to(&db.url, 14).await;
        execute(&db.url, "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, \
            first_seen, last_seen, last_report) VALUES (1, 'srvapp012', 'SRVAPP012', 'Microsoft Windows Server 2016', '10.0.14393', 0, 0, 0)").await;
        execute(&db.url, "INSERT INTO campaigns (id, name, kind, state, spec, created_at) VALUES (1, 'retire', 'eol', 'running', '', 0)").await;
        // Machine 2 is no longer stored: its key stands in.
        execute(&db.url, "INSERT INTO campaign_machines (campaign_id, machine_id, host_key, recipient, state, added_at) VALUES \
            (1, 1, 'srvapp012', 'alice', 'open', 0), (1, 2, 'pc2', 'alice', 'open', 0)").await;

        let store = winventory_core::store::connect(&db.url).await.expect("migrate to the current schema");
        let got: Vec<_> = store.campaign_machines(1).await.expect("machines").into_iter().map(|m| (m.host_key, m.hostname)).collect();
        assert_eq!(got, [("pc2".to_string(), "pc2".to_string()), ("srvapp012".to_string(), "SRVAPP012".to_string())]);
    }
}
