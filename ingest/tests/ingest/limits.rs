//! The format's size limits ("Bad input" in formats/cmf-snapshot.md), on
//! both backends: lines over them are rejected naming line and field, entries
//! over them dropped with a warning, and machines stored over them before the
//! limits were enforced are set aside by migration 12 and listed.

use serde_json::{Value, json};
use winventory_core::on_both_backends;
use winventory_core::testing::{execute, fresh_database, migrate_to};

use crate::helpers::*;

/// A valid report of `host`, with `patch` merged in (`os` fields merged into `os`).
fn report(host: &str, patch: Value) -> String {
    let mut v = json!({
        "hostname": host,
        "domain": "CERN",
        "collected_at": "2026-11-26T02:00:00Z",
        "os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.22631",
               "edition": "Enterprise", "product_type": 1, "architecture": "64-bit",
               "display_version": "23H2"},
        "main_user": "jdoe",
        "responsible": "asmith",
    });
    for (k, val) in patch.as_object().expect("an object") {
        if k == "os" {
            for (ok, ov) in val.as_object().expect("os object") {
                v["os"][ok] = ov.clone();
            }
        } else {
            v[k] = val.clone();
        }
    }
    v.to_string()
}

fn n(c: char, bytes: usize) -> String {
    std::iter::repeat_n(c, bytes).collect()
}

on_both_backends! {
    async fn each_size_limit_rejects_the_line_naming_its_line_and_field(backend) {
        let e = env(backend).await;
        let many: Vec<Value> = (0..20_001).map(|i| json!({"name": format!("P{i}")})).collect();
        let cases: Vec<(String, &str)> = vec![
            (report(&n('h', 254), json!({})), "`hostname`"),
            (report("d1", json!({"domain": n('d', 254)})), "`domain`"),
            (report("m1", json!({"main_user": n('m', 257)})), "`main_user`"),
            (report("r1", json!({"responsible": n('r', 257)})), "`responsible`"),
            (report("c1", json!({"os": {"caption": n('c', 513)}})), "`os.caption`"),
            (report("v1", json!({"os": {"version": n('1', 129)}})), "`os.version`"),
            (report("v2", json!({"os": {"display_version": n('2', 129)}})), "`os.display_version`"),
            (report("v3", json!({"os": {"edition": n('e', 129)}})), "`os.edition`"),
            (report("v4", json!({"os": {"architecture": n('a', 129)}})), "`os.architecture`"),
            (report("s1", json!({"software": many})), "`software`"),
            // 252 bytes as reported, 378 once lower-cased (İ becomes i and a dot).
            (report(&n('İ', 126), json!({})), "`hostname`"),
        ];
        // Every field exactly at its limit is kept.
        let at_limit = report(&n('k', 253), json!({
            "domain": n('d', 253), "main_user": n('m', 256), "responsible": n('r', 256),
            "os": {"caption": n('c', 512), "version": n('1', 128), "display_version": n('2', 128),
                   "edition": n('e', 128), "architecture": n('a', 128)},
            "software": (0..20_000).map(|i| json!({"name": format!("P{}", i % 3)})).collect::<Vec<_>>(),
        }));
        let mut lines = vec![report("GOOD1", json!({}))];
        lines.extend(cases.iter().map(|(l, _)| l.clone()));
        lines.push(at_limit);
        let f = e.file("limits.jsonl", &lines);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.lines_read, s.accepted, s.rejected), (13, 2, 11), "{:?}", s.errors);
        assert_eq!(s.exit_code(), 1);
        for (i, ((_, field), err)) in cases.iter().zip(&s.errors).enumerate() {
            assert_eq!(err.line, i as u64 + 2, "{field}: {err:?}");
            assert!(err.reason.contains(field), "line {}: {}", err.line, err.reason);
        }
        assert!(s.errors[9].reason.contains("20001 entries"), "{}", s.errors[9].reason);
        let m = e.store.machine(&n('k', 253)).await.expect("q").expect("kept at the limit");
        assert_eq!(m.os.caption.len(), 512);
        assert_eq!(m.responsible.map(|o| o.login.len()), Some(256));
        assert_eq!(e.store.machine_software(m.id).await.expect("sw").len(), 20_000);
        assert!(e.store.machine("d1").await.expect("q").is_none());
    }
}

on_both_backends! {
    async fn a_line_longer_than_16_mib_is_rejected_and_the_next_lines_are_kept(backend) {
        let e = env(backend).await;
        let big = report("BIG", json!({"padding": n('x', 16 * 1024 * 1024 + 1)}));
        let lines = [report("PC1", json!({})), big, report("PC2", json!({}))];
        let f = e.file("long.jsonl", &lines);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.lines_read, s.accepted, s.rejected), (3, 2, 1));
        assert_eq!(s.errors[0].line, 2);
        assert!(s.errors[0].reason.contains("16 MiB"), "{}", s.errors[0].reason);
        assert!(e.store.machine("pc1").await.expect("q").is_some());
        assert!(e.store.machine("pc2").await.expect("q").is_some());
        assert!(e.store.machine("big").await.expect("q").is_none());
    }
}

on_both_backends! {
    async fn a_software_entry_over_its_limits_is_dropped_with_a_warning_and_the_machine_kept(backend) {
        let e = env(backend).await;
        let f = e.file("sw.jsonl", &[report("PC1", json!({"software": [
            {"name": n('n', 1025)},
            {"name": "Long publisher", "publisher": n('p', 1025)},
            {"name": "Long version", "version": n('9', 257)},
            {"name": n('n', 1024), "publisher": n('p', 1024), "version": n('9', 256)},
            {"name": "Plain", "version": "1.0"},
        ]}))]);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.accepted, s.rejected, s.warnings), (1, 0, 3));
        let m = e.store.machine("pc1").await.expect("q").expect("kept");
        let sw = e.store.machine_software(m.id).await.expect("sw");
        let names: Vec<usize> = sw.iter().map(|s| s.name.len()).collect();
        assert_eq!(names, [1024, 5]);
    }
}

on_both_backends! {
    async fn machines_stored_over_the_limits_are_set_aside_by_the_migration_and_listed(backend) {
        let db = fresh_database(backend).await;
        migrate_to(&db.url, 11).await;
        // PostgreSQL's unique index on host_key takes no more than about 2.7 KB.
        let huge = n('h', 2000);
        let login = n('u', 300);
        execute(&db.url, &format!(
            "INSERT INTO machines (id, host_key, hostname, os_caption, os_version, first_seen, last_seen, last_report) VALUES \
             (1, '{huge}', '{}', 'Microsoft Windows 11 Pro', '10.0.22631', 0, 0, 0), \
             (2, 'pc2', 'PC2', 'Microsoft Windows 11 Pro', '10.0.22631', 0, 0, 0), \
             (3, 'pc3', 'PC3', 'Microsoft Windows 11 Pro', '10.0.22631', 0, 0, 0)",
            huge.to_uppercase()
        )).await;
        execute(&db.url, &format!(
            "INSERT INTO machine_owners (machine_id, role, login, source, updated_at) VALUES \
             (3, 'main_user', '{login}', 'snapshot', 0), (2, 'main_user', 'jdoe', 'snapshot', 0), \
             (1, 'responsible', 'asmith', 'snapshot', 0)"
        )).await;
        execute(&db.url, "INSERT INTO software_titles (id, name, version, publisher) VALUES (10, 'Zeta', '1.0', 'Z Corp')").await;
        execute(&db.url, "INSERT INTO software_lists (machine_id, programs, entries) VALUES \
            (1, 1, '[[10, null, null]]'), (2, 1, '[[10, null, null]]'), (3, 1, '[[10, null, null]]')").await;
        execute(&db.url, "INSERT INTO machine_applications (application, machine_id) VALUES ('zeta', 1), ('zeta', 2)").await;

        let store = winventory_core::store::connect(&db.url).await.expect("migrate to the current schema");
        let c = store.counts().await.expect("counts");
        assert_eq!((c.machines, c.installations), (1, 1), "only pc2 stays, with its list");
        assert!(store.machine("pc2").await.expect("q").is_some());
        assert!(store.machine("pc3").await.expect("q").is_none());
        let (list, total) = store.rejected_machines(20).await.expect("listed");
        assert_eq!(total, 2);
        let got: Vec<_> = list.iter().map(|m| (m.hostname.as_str(), m.hostname_bytes)).collect();
        assert_eq!(got, [(&huge.to_uppercase()[..64], 2000), ("PC3", 3)]);
        assert!(list[0].reason.contains("hostname is 2000 bytes (at most 253)"), "{}", list[0].reason);
        assert!(list[1].reason.contains("main_user is 300 bytes (at most 256)"), "{}", list[1].reason);

        // Every later ingest lists them, and the set-aside machine comes back
        // as a new one when it reports within the limits.
        let e = Env::on(store, db);
        let f = e.file("a.jsonl", &[report("PC3", json!({}))]);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.accepted, s.machines_new, s.set_aside_total), (1, 1, 2));
        assert_eq!(s.set_aside.len(), 2);
        assert_eq!(s.set_aside[1].hostname, "PC3");
    }
}
