//! Ingest behaviour of the CMF format, on both backends.

use winventory_core::report;
use winventory_core::{AsOf, OwnerFact, OwnerRole, OwnerSource, on_both_backends};

use crate::helpers::*;

const SW: &str = r#", "main_user": "JDoe", "responsible": "asmith", "software": [
  {"name": "Microsoft Office Professional Plus 2016", "version": "16.0.4266.1001", "publisher": "Microsoft Corporation", "install_date": "20190302"},
  {"name": "Python 3.8.10 (64-bit)", "version": "3.8.10", "publisher": "Python Software Foundation"},
  {"name": "Microsoft Visual Studio Code", "version": "1.85.1", "publisher": "Microsoft Corporation"}]"#;

fn as_of() -> AsOf {
    AsOf::at(now(), 90)
}

on_both_backends! {
    async fn a_first_ingest_stores_machines_software_and_owners(backend) {
        let e = env(backend).await;
        let f = e.file("a.jsonl", &[
            server_2012r2("SRV001", "2026-11-26T02:00:00Z", &SW.replace('\n', "")),
            line("PC002", "2026-11-26T03:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", r#", "software": []"#),
            line("PC003", "2026-11-25T03:00:00Z", "Microsoft Windows 11 Pro", "10.0.99999", ""),
        ]);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.lines_read, s.accepted, s.rejected, s.warnings), (3, 3, 0, 0));
        assert_eq!((s.machines_new, s.machines_updated, s.machines_unchanged, s.machines_stale), (3, 0, 0, 0));
        assert_eq!(s.exit_code(), 0);

        let m = report::machine_report(e.store.as_ref(), &e.catalog, "srv001", &as_of()).await.expect("q").expect("stored");
        assert_eq!(m.hostname, "SRV001");
        assert_eq!((m.product.as_deref(), m.cycle.as_deref()), (Some("windows-server"), Some("2012-r2")));
        assert_eq!(m.responsible.as_ref().map(|o| (o.login.as_str(), o.source)), Some(("asmith", "snapshot")));
        assert_eq!(m.main_user.as_ref().map(|o| o.login.as_str()), Some("jdoe"), "logins are stored lower-cased");
        let names: Vec<_> = m.software.iter().map(|s| (s.name.as_str(), s.cycle.as_deref())).collect();
        assert_eq!(names, [
            ("Microsoft Office Professional Plus 2016", Some("2016")),
            ("Python 3.8.10 (64-bit)", Some("3.8")),
            ("Microsoft Visual Studio Code", None),
        ]);
        assert!(!m.stale);

        let os = report::os_report(e.store.as_ref(), &e.catalog, &as_of()).await.expect("os");
        let got: Vec<_> = os.iter().map(|r| (r.product.as_deref(), r.cycle.as_deref(), r.machines)).collect();
        assert_eq!(got, [(Some("windows"), Some("11-23h2-e"), 1), (Some("windows-server"), Some("2012-r2"), 1), (None, None, 1)]);

        let eol = report::eol_report(e.store.as_ref(), &e.catalog, &as_of(), 0).await.expect("eol");
        let got: Vec<_> = eol.iter().map(|r| (r.kind, r.product.as_str(), r.cycle.as_str(), r.machines)).collect();
        assert_eq!(got, [
            ("os", "windows-server", "2012-r2", 1),
            ("software", "python", "3.8", 1),
            ("software", "office", "2016", 1),
            ("os", "windows", "11-23h2-e", 1),
        ]);
    }
}

on_both_backends! {
    async fn re_ingesting_a_file_changes_nothing(backend) {
        let e = env(backend).await;
        let f = e.file("a.jsonl", &[
            server_2012r2("SRV001", "2026-11-26T02:00:00Z", &SW.replace('\n', "")),
            line("PC002", "2026-11-26T03:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""),
        ]);
        e.ingest(&[&f]).await;
        let before = e.store.counts().await.expect("counts");
        let m1 = e.store.machine("srv001").await.expect("q").expect("m");
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.accepted, s.machines_new, s.machines_updated, s.machines_unchanged), (2, 0, 0, 2));
        assert_eq!(e.store.counts().await.expect("counts"), before);
        let m2 = e.store.machine("srv001").await.expect("q").expect("m");
        assert_eq!(m1, m2, "not even last_seen moves");
    }
}

on_both_backends! {
    async fn the_latest_report_wins_and_a_tie_keeps_the_stored_one(backend) {
        let e = env(backend).await;
        let a = e.file("a.jsonl", &[
            line("pc1", "2026-11-20T00:00:00Z", "Microsoft Windows 10 Enterprise", "10.0.19045", r#", "responsible": "old""#),
            line("PC1", "2026-11-22T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", r#", "responsible": "new""#),
            line("Pc1", "2026-11-21T00:00:00Z", "Microsoft Windows 10 Enterprise", "10.0.19045", r#", "responsible": "older""#),
        ]);
        let s = e.ingest(&[&a]).await;
        assert_eq!((s.accepted, s.machines_new), (3, 1), "one machine, whatever the case of its name");
        let m = e.store.machine("pc1").await.expect("q").expect("m");
        assert_eq!(m.hostname, "PC1");
        assert_eq!(m.os_match.map(|c| c.cycle).as_deref(), Some("11-23h2-e"));
        assert_eq!(m.responsible.map(|f| f.login).as_deref(), Some("new"));
        let tie = e.file("b.jsonl", &[line("PC1", "2026-11-22T00:00:00Z", "Microsoft Windows 10 Enterprise", "10.0.19045", "")]);
        let s = e.ingest(&[&tie]).await;
        assert_eq!(s.machines_unchanged, 1);
        let m = e.store.machine("pc1").await.expect("q").expect("m");
        assert_eq!(m.os_match.map(|c| c.cycle).as_deref(), Some("11-23h2-e"), "a tie keeps what is stored");
    }
}

on_both_backends! {
    async fn an_absent_software_list_keeps_the_stored_one_and_an_empty_one_clears_it(backend) {
        let e = env(backend).await;
        let a = e.file("a.jsonl", &[server_2012r2("S1", "2026-11-20T00:00:00Z", &SW.replace('\n', ""))]);
        e.ingest(&[&a]).await;
        let b = e.file("b.jsonl", &[server_2012r2("S1", "2026-11-21T00:00:00Z", r#", "software": null"#)]);
        e.ingest(&[&b]).await;
        let m = e.store.machine("s1").await.expect("q").expect("m");
        assert_eq!(e.store.machine_software(m.id).await.expect("sw").len(), 3);
        let c = e.file("c.jsonl", &[server_2012r2("S1", "2026-11-22T00:00:00Z", r#", "software": []"#)]);
        e.ingest(&[&c]).await;
        assert!(e.store.machine_software(m.id).await.expect("sw").is_empty());
        let sw = report::software_report(e.store.as_ref(), &e.catalog, &as_of()).await.expect("r");
        assert!(sw.is_empty(), "derived counts follow the list: {sw:?}");
    }
}

on_both_backends! {
    async fn bad_lines_are_rejected_by_number_while_the_rest_is_stored(backend) {
        let e = env(backend).await;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        bytes.extend_from_slice(line("GOOD1", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", "").as_bytes());
        bytes.extend_from_slice(b"\n\n   \nnot json\n");
        bytes.extend_from_slice(b"{\"hostname\": \"BAD\xff\", \"collected_at\": \"2026-11-26T00:00:00Z\"}\n");
        bytes.extend_from_slice(line("FUTURE", "2026-11-29T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", "").as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(line("GOOD2", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", r#", "software": [{"version": "1"}], "main_user": 7"#).as_bytes());
        bytes.push(b'\n');
        let f = e.bytes_file("bad.jsonl", &bytes);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.lines_read, s.accepted, s.rejected, s.warnings), (5, 2, 3, 2));
        let lines: Vec<u64> = s.errors.iter().map(|x| x.line).collect();
        assert_eq!(lines, [4, 5, 6], "blank lines count in numbering, not in lines read");
        assert!(s.errors[1].reason.contains("UTF-8"), "{:?}", s.errors[1]);
        assert!(s.errors[2].reason.contains("24 hours"), "{:?}", s.errors[2]);
        assert_eq!(s.exit_code(), 1);
        assert_eq!(e.store.counts().await.expect("c").machines, 2);
    }
}

on_both_backends! {
    async fn a_truncated_gzip_keeps_what_was_read_and_a_rerun_completes_the_rest(backend) {
        use std::io::Write;
        let e = env(backend).await;
        let lines: Vec<String> = (0..400)
            .map(|i| server_2012r2(&format!("SRV{i:04}"), "2026-11-26T02:00:00Z", &SW.replace('\n', "")))
            .collect();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for l in &lines {
            writeln!(enc, "{l}").expect("w");
        }
        let gz = enc.finish().expect("gz");
        let cut = e.bytes_file("cut.jsonl.gz", &gz[..gz.len() * 2 / 3]);
        let s = e.ingest_with(&[&cut], None, 50).await;
        assert_eq!(s.exit_code(), 2);
        assert!(s.failures[0].contains("after line"), "{:?}", s.failures);
        let stored = e.store.counts().await.expect("c").machines;
        assert!(stored > 0 && stored < 400, "{stored}");
        assert_eq!(stored as u64, s.accepted, "every line read before the break is kept");
        let full = e.file("full.jsonl", &lines);
        let s = e.ingest(&[&full]).await;
        assert_eq!(s.exit_code(), 0);
        assert_eq!(s.machines_new + s.machines_unchanged, 400);
        let c = e.store.counts().await.expect("c");
        assert_eq!((c.machines, c.installations), (400, 1200));
    }
}

on_both_backends! {
    async fn an_unreadable_file_fails_the_run_but_the_other_files_are_stored(backend) {
        let e = env(backend).await;
        let good = e.file("good.jsonl", &[line("PC1", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", "")]);
        let s = e.ingest(&["/nonexistent/snapshot.jsonl", &good]).await;
        assert_eq!(s.exit_code(), 2);
        assert!(s.failures[0].contains("/nonexistent/snapshot.jsonl"), "{:?}", s.failures);
        assert_eq!(s.machines_new, 1);
    }
}

on_both_backends! {
    async fn stale_machines_leave_the_reports_but_machine_still_shows_them(backend) {
        let e = env(backend).await;
        let f = e.file("a.jsonl", &[
            server_2012r2("OLD", "2026-06-01T00:00:00Z", ""),
            server_2012r2("NEW", "2026-11-26T00:00:00Z", ""),
        ]);
        let s = e.ingest(&[&f]).await;
        assert_eq!(s.machines_stale, 1);
        let os = report::os_report(e.store.as_ref(), &e.catalog, &as_of()).await.expect("os");
        assert_eq!(os.iter().map(|r| r.machines).sum::<i64>(), 1);
        let old = report::machine_report(e.store.as_ref(), &e.catalog, "old", &as_of()).await.expect("q").expect("m");
        assert!(old.stale);
        // As of a date when it was fresh, it counts again; NEW, first
        // reported later, is not known as of then and does not count.
        let then = AsOf::end_of(chrono::NaiveDate::from_ymd_opt(2026, 6, 2).expect("d"), 90);
        let os = report::os_report(e.store.as_ref(), &e.catalog, &then).await.expect("os");
        assert_eq!(os.iter().map(|r| r.machines).sum::<i64>(), 1);
    }
}

on_both_backends! {
    async fn an_answer_stands_until_a_later_answer(backend) {
        let e = env(backend).await;
        let a = e.file("a.jsonl", &[server_2012r2("S1", "2026-11-20T00:00:00Z", r#", "responsible": "jdoe""#)]);
        e.ingest(&[&a]).await;
        let fact = OwnerFact { login: "asmith".into(), source: OwnerSource::Answer };
        assert!(e.store.set_owner("s1", OwnerRole::Responsible, Some(&fact), now()).await.expect("set"));
        let b = e.file("b.jsonl", &[server_2012r2("S1", "2026-11-21T00:00:00Z", r#", "responsible": "jdoe""#)]);
        e.ingest(&[&b]).await;
        let m = e.store.machine("s1").await.expect("q").expect("m");
        assert_eq!(m.responsible, Some(fact));
        let mine = report::owner_report(e.store.as_ref(), &e.catalog, "ASmith", &as_of(), 0).await.expect("owner");
        assert_eq!(mine.machines.len(), 1);
        assert_eq!(mine.machines[0].roles, ["responsible"]);
        assert_eq!(mine.machines[0].ending[0].cycle, "2012-r2");
    }
}

on_both_backends! {
    async fn users_import_keeps_what_a_later_partial_row_leaves_empty(backend) {
        use winventory_core::store::UserImport;
        use winventory_core::User;
        let e = env(backend).await;
        let u = |email: Option<&str>, matrix: Option<&str>, groups: &[&str]| UserImport {
            user: User {
                login: "jdoe".into(),
                name: Some("John Doe".into()),
                email: email.map(Into::into),
                matrix_id: matrix.map(Into::into),
                ..User::default()
            },
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        e.store.import_users(&[u(Some("j@x.org"), Some("@jdoe:x.org"), &["it", "admins"])], now()).await.expect("import");
        e.store.import_users(&[u(None, None, &["it"])], now()).await.expect("import");
        let user = e.store.user("jdoe").await.expect("q").expect("u");
        assert_eq!(user.email.as_deref(), Some("j@x.org"));
        assert_eq!(user.matrix_id.as_deref(), Some("@jdoe:x.org"));
        assert_eq!(e.store.groups_of("jdoe").await.expect("g"), ["it"]);
    }
}

on_both_backends! {
    async fn a_snapshot_cannot_override_an_answer_even_when_recorded_during_the_ingest(backend) {
        use winventory_core::store::{MachineWrite, OwnerChange};
        let e = env(backend).await;
        let a = e.file("a.jsonl", &[server_2012r2("S1", "2026-11-20T00:00:00Z", r#", "responsible": "jdoe""#)]);
        e.ingest(&[&a]).await;
        let answer = OwnerFact { login: "asmith".into(), source: OwnerSource::Answer };
        e.store.set_owner("s1", OwnerRole::Responsible, Some(&answer), now()).await.expect("set");
        // A write decided before the answer was recorded (a concurrent ingest).
        let m = e.store.machine("s1").await.expect("q").expect("m");
        let stale_decision = MachineWrite {
            id: Some(m.id),
            host_key: "s1".into(),
            hostname: "S1".into(),
            domain: None,
            os: m.os.clone(),
            os_match: m.os_match.clone(),
            collected_at: now(),
            software: None,
            owners: vec![
                OwnerChange::Set(OwnerRole::Responsible, OwnerFact { login: "jdoe".into(), source: OwnerSource::Snapshot }),
            ],
        };
        e.store.apply_machines(std::slice::from_ref(&stale_decision), now()).await.expect("write");
        let clear = MachineWrite { owners: vec![OwnerChange::Clear(OwnerRole::Responsible)], ..stale_decision };
        e.store.apply_machines(&[clear], now()).await.expect("write");
        let m = e.store.machine("s1").await.expect("q").expect("m");
        assert_eq!(m.responsible, Some(answer));
    }
}

on_both_backends! {
    async fn strings_with_nul_characters_are_rejected_or_dropped_on_both_engines(backend) {
        let e = env(backend).await;
        let f = e.file("nul.jsonl", &[
            line("BAD\\u0000HOST", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""),
            line("GOOD", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631",
                 r#", "software": [{"name": "X\u0000"}, {"name": "Y", "version": "1\u0000", "install_date": "00000101"}]"#),
        ]);
        let s = e.ingest(&[&f]).await;
        assert_eq!((s.accepted, s.rejected, s.warnings), (1, 1, 3), "{:?}", s);
        assert!(s.failures.is_empty(), "{:?}", s.failures);
        let m = e.store.machine("good").await.expect("q").expect("m");
        let sw = e.store.machine_software(m.id).await.expect("sw");
        assert_eq!(sw.len(), 1);
        assert_eq!((sw[0].name.as_str(), sw[0].version.as_str(), sw[0].install_date), ("Y", "", None));
    }
}

on_both_backends! {
    async fn batches_committed_while_the_next_is_prepared_store_what_one_big_batch_stores(backend) {
        // 512 hosts report three times. The reader hands over 256 lines at a
        // time, and with small batches the order below makes some batches
        // be prepared while a batch of other hosts commits (0-255 then
        // 256-511) and others hold the very hosts of the batch in flight
        // (256-511 twice in a row). The result must equal that of a single
        // batch of everything.
        let order = [(0, 0..256), (0, 256..512), (1, 256..512), (1, 0..256), (2, 0..256), (2, 256..512)];
        let mut lines = Vec::new();
        for (round, hosts) in order {
            for h in hosts {
                let at = format!("2026-11-2{}T00:{:02}:00Z", round + 2, h % 60);
                let sw = format!(
                    r#", "responsible": "owner{}", "software": [{{"name": "Python 3.{} (64-bit)", "version": "3.{}.1", "publisher": "PSF"}}, {{"name": "Tool {round}", "version": "1"}}]"#,
                    (h + round) % 3,
                    8 + round,
                    8 + round
                );
                // Every other report carries no software list: the stored one stays.
                let extra = if (round + h) % 2 == 0 { sw } else { format!(r#", "main_user": "user{round}""#) };
                lines.push(line(&format!("PC{h}"), &at, "Microsoft Windows 11 Enterprise", "10.0.22631", &extra));
            }
        }
        let small = env(backend).await;
        let big = env(backend).await;
        let s1 = small.ingest_with(&[&small.file("f.jsonl", &lines)], None, 50).await;
        let s2 = big.ingest_with(&[&big.file("f.jsonl", &lines)], None, 100_000).await;
        assert_eq!((s1.accepted, s1.machines_new, s1.exit_code()), (1536, 512, 0));
        assert_eq!((s1.accepted, s1.machines_new, s1.machines_updated), (s2.accepted, s2.machines_new, s2.machines_updated));
        // Titles may differ: small batches also store the titles of lists a
        // later report in the same file replaced.
        let (a, b) = (small.store.counts().await.expect("c"), big.store.counts().await.expect("c"));
        assert_eq!((a.machines, a.installations), (b.machines, b.installations));
        for h in (0..512).step_by(7) {
            let key = format!("pc{h}");
            let a = report::machine_report(small.store.as_ref(), &small.catalog, &key, &as_of()).await.expect("q").expect("m");
            let b = report::machine_report(big.store.as_ref(), &big.catalog, &key, &as_of()).await.expect("q").expect("m");
            let names = |m: &report::MachineView| m.software.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
            assert_eq!(names(&a), names(&b), "{key}");
            assert_eq!(a.responsible.as_ref().map(|o| o.login.clone()), b.responsible.as_ref().map(|o| o.login.clone()), "{key}");
            assert_eq!(a.main_user.as_ref().map(|o| o.login.clone()), b.main_user.as_ref().map(|o| o.login.clone()), "{key}");
            assert_eq!((a.last_report, &a.os), (b.last_report, &b.os), "{key}");
        }
    }
}

on_both_backends! {
    async fn stored_matches_made_with_other_rules_are_made_again_once(backend) {
        use winventory_core::Catalog;
        use winventory_core::catalog::SiteCatalog;
        use winventory_ingest::rematch::bring_up_to_date;
        let e = env(backend).await;
        let f = e.file("lab.jsonl", &[line(
            "LAB1", "2026-11-26T02:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631",
            r#", "software": [{"name": "labtool12", "version": "1.0-1"}, {"name": "python3.11", "version": "3.11.2-6+deb12u4"}]"#,
        )]);
        e.ingest(&[&f]).await;
        let first = bring_up_to_date(e.store.as_ref(), &e.catalog).await.expect("rematch");
        assert_eq!(first.map(|r| (r.titles, r.machines)), Some((2, 1)), "no fingerprint stored yet");
        assert_eq!(bring_up_to_date(e.store.as_ref(), &e.catalog).await.expect("rematch"), None);

        let mut catalog = Catalog::builtin();
        let site = SiteCatalog::parse("site.toml", "[[rule]]\nname = '^labtool(\\d+)$'\npackage = true\nproduct = \"python\"\ncycle = [\"3.{1}\"]\n")
            .expect("site catalog");
        catalog.apply_site(&site);
        assert_ne!(catalog.matching_fingerprint(), e.catalog.matching_fingerprint());
        let again = bring_up_to_date(e.store.as_ref(), &catalog).await.expect("rematch");
        assert_eq!(again.map(|r| r.titles), Some(2));
        let m = e.store.machine("lab1").await.expect("q").expect("stored");
        let mut cycles: Vec<String> = e.store.machine_software(m.id).await.expect("software")
            .into_iter()
            .map(|s| s.cycle.map(|c| format!("{}/{}", c.product, c.cycle)).unwrap_or_default())
            .collect();
        cycles.sort();
        assert_eq!(cycles, ["python/3.11", "python/3.12"]);
        assert_eq!(bring_up_to_date(e.store.as_ref(), &catalog).await.expect("rematch"), None);
    }
}
