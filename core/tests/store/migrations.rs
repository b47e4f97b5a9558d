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
