//! What people read: machines by their hostname as last reported (the
//! lower-case key only matches), and releases as people say them, in chat
//! confirmations, chat commands and digests.

use chrono::Duration;
use winventory_core::on_both_backends;
use winventory_workflows::conversation::{conversation, plain};

use crate::paths::helpers::*;

fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
    at("2026-11-23T10:00:00Z") + Duration::days(n)
}

on_both_backends! {
    async fn a_machine_reported_as_srvapp012_is_shown_as_srvapp012_in_a_chat_confirmation(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[Person { groups: &["it-admins"], ..Person::new("ann") }]).await;
        let reported = "2026-11-21T12:00:00Z";
        s.ingest(t, &[
            snapshot("SRVAPP012", reported, Os::Server2012R2, Some("ann"), &[]),
            snapshot("Srv-Web7", reported, Os::Server2012R2, Some("ann"), &[]),
        ]).await;
        let servers = r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#;
        s.start(&campaign("names", servers, ""), day(0)).await;
        s.engine.tick(day(0)).await.expect("wave");
        let user = s.store.user("ann").await.expect("directory");

        // Typed in lower case, confirmed as reported.
        let said = plain(&conversation(&s.engine, day(0), &[(winventory_core::access::Role::Admin, vec!["it-admins".to_string()])], "matrix", "@ann:example.org", Ok(user.clone()), "srvapp012 decommission").await);
        assert_eq!(said, "Recorded for SRVAPP012: will decommission. Still waiting for your answer: Srv-Web7.");

        let said = plain(&conversation(&s.engine, day(0), &[(winventory_core::access::Role::Admin, vec!["it-admins".to_string()])], "matrix", "@ann:example.org", Ok(user.clone()), "pc9 decommission").await);
        assert!(said.contains("Srv-Web7") && !said.contains("srv-web7"), "{said}");

        // Commands name the machine as reported and its release as people say it.
        let said = plain(&conversation(&s.engine, day(0), &[(winventory_core::access::Role::Admin, vec!["it-admins".to_string()])], "matrix", "@ann:example.org", Ok(user.clone()), "machine srvapp012\nmine\neol").await);
        assert!(said.starts_with("SRVAPP012: Microsoft Windows Server 2012 R2 Standard (Windows Server 2012 R2), end of life 2023-10-10"), "{said}");
        assert!(said.contains("Srv-Web7   responsible  Windows Server 2012 R2"), "{said}");
        assert!(said.contains("os    Windows Server 2012 R2"), "{said}");
        for key in ["srvapp012", "srv-web7", "2012-r2", "windows-server"] {
            assert!(!said.contains(key), "{key} in {said}");
        }
    }
}

on_both_backends! {
    async fn a_digest_names_each_release_as_people_say_it(backend) {
        let s = site(backend).await;
        let t = at("2026-11-22T00:00:00Z");
        s.people(t, &[Person::new("ann")]).await;
        let reported = "2026-11-21T12:00:00Z";
        s.ingest(t, &[
            snapshot("PC-Old10", reported, Os::Windows10, Some("ann"), &[]),
            snapshot("PC-Ent11", reported, Os::Windows11, Some("ann"), &[]),
        ]).await;
        let desktops = r#"os = [{ product = "windows", cycles = ["10-22h2", "11-23h2-e"] }]"#;
        s.start(&campaign("desktops", desktops, ""), day(0)).await;
        let w = s.engine.tick(day(0)).await.expect("wave");
        assert_eq!(w.queued, 1, "{w:?}");
        let digest = s.outbox().await.into_iter().next().expect("a digest");
        for want in ["PC-Old10 - Windows 10 22H2", "PC-Ent11 - Windows 11 23H2 Enterprise"] {
            assert!(digest.body_text.contains(want), "{want} not in {}", digest.body_text);
        }
        assert!(!digest.body_text.contains("(E)"), "{}", digest.body_text);
    }
}
