//! Owner look-ups against an HTTP server (wiremock) standing in for the
//! network database: answers, 404s, outages, slowness and garbage, on both backends.

use std::time::Duration;

use serde_json::json;
use winventory_core::{OwnerSource, on_both_backends};
use winventory_ingest::netdb::{NetDbClient, NetDbConfig, Secret};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

fn client(server: &MockServer, timeout_ms: u64) -> NetDbClient {
    // A path prefix and a trailing slash on the base URL, as sites configure it.
    let mut cfg = NetDbConfig::new(
        &format!("{}/netdb/v1/", server.uri()),
        Some(Secret::from("tok3n")),
    );
    cfg.timeout = Duration::from_millis(timeout_ms);
    cfg.breaker_threshold = 5;
    cfg.budget = Duration::from_secs(10);
    NetDbClient::new(cfg).expect("client")
}

fn device(host: &str) -> serde_json::Value {
    json!({"hostname": host,
           "responsible": {"login": "ASmith", "name": "Anna Smith", "email": "anna.smith@example.org"},
           "main_user": {"login": "bob", "name": "Bob", "email": "bob@example.org"},
           "extra": 1})
}

on_both_backends! {
    async fn the_network_database_fills_only_what_the_snapshot_left_empty(backend) {
        let e = env(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/netdb/v1/devices/PC%20042"))
            .and(header("authorization", "Bearer tok3n"))
            .and(header("accept", "application/json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(device("PC 042")))
            .expect(1)
            .mount(&server)
            .await;
        let f = e.file("a.jsonl", &[line("PC 042", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", r#", "main_user": "jdoe""#)]);
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!((s.lookups_done, s.lookups_cached, s.lookups_failed), (1, 0, 0));
        let m = e.store.machine("pc 042").await.expect("q").expect("m");
        let r = m.responsible.expect("filled");
        assert_eq!((r.login.as_str(), r.source), ("asmith", OwnerSource::NetworkDb));
        let u = m.main_user.expect("kept");
        assert_eq!((u.login.as_str(), u.source), ("jdoe", OwnerSource::Snapshot));
        let anna = e.store.user("asmith").await.expect("q").expect("created");
        assert_eq!(anna.email.as_deref(), Some("anna.smith@example.org"));
        // Re-ingesting the same file asks nobody: the answer is cached for a day.
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!((s.lookups_done, s.lookups_cached, s.lookups_failed), (0, 1, 0));
    }
}

on_both_backends! {
    async fn an_unknown_device_stays_without_owner_and_is_not_asked_again(backend) {
        let e = env(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_string("<html>no</html>"))
            .expect(1)
            .mount(&server)
            .await;
        let f = e.file("a.jsonl", &[line("PC9", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", "")]);
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!((s.lookups_done, s.lookups_failed), (1, 0));
        let m = e.store.machine("pc9").await.expect("q").expect("m");
        assert!(m.responsible.is_none() && m.main_user.is_none());
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!(s.lookups_cached, 1);
    }
}

on_both_backends! {
    async fn an_outage_never_fails_the_ingest_and_the_look_up_is_retried_next_run(backend) {
        let e = env(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/netdb/v1/devices/PC1"))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/netdb/v1/devices/PC2"))
            .respond_with(ResponseTemplate::new(200).set_body_string("this is not json"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/netdb/v1/devices/PC3"))
            .respond_with(ResponseTemplate::new(200).set_body_json(device("PC3")).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let f = e.file("a.jsonl", &[
            line("PC1", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""),
            line("PC2", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""),
            line("PC3", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""),
        ]);
        let started = std::time::Instant::now();
        let s = e.ingest_with(&[&f], Some(client(&server, 300)), 500).await;
        assert!(started.elapsed() < Duration::from_secs(4), "a slow service does not stall the ingest");
        assert_eq!(s.exit_code(), 0);
        assert_eq!((s.machines_new, s.lookups_done, s.lookups_failed), (3, 0, 3));
        assert_eq!(e.store.counts().await.expect("c").machines, 3);

        // The service recovers; re-ingesting the same file retries the look-ups.
        server.reset().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(device("x")))
            .expect(3)
            .mount(&server)
            .await;
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!((s.machines_unchanged, s.lookups_done, s.lookups_failed), (3, 3, 0));
        let m = e.store.machine("pc2").await.expect("q").expect("m");
        assert_eq!(m.responsible.map(|r| r.login).as_deref(), Some("asmith"));
    }
}

on_both_backends! {
    async fn a_dead_service_trips_the_breaker_instead_of_waiting_on_every_machine(backend) {
        let e = env(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(50)))
            .mount(&server)
            .await;
        let lines: Vec<String> = (0..200)
            .map(|i| line(&format!("PC{i}"), "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", ""))
            .collect();
        let f = e.file("a.jsonl", &lines);
        let s = e.ingest_with(&[&f], Some(client(&server, 1000)), 50).await;
        assert_eq!(s.machines_new, 200);
        assert_eq!(s.lookups_failed, 200);
        let asked = server.received_requests().await.map(|r| r.len()).unwrap_or_default();
        assert!(asked < 60, "the breaker stopped the asking after a few failures, asked {asked}");
    }
}

on_both_backends! {
    async fn hostnames_go_out_as_the_snapshot_spelled_them_with_only_unsafe_characters_encoded(backend) {
        let e = env(backend).await;
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/netdb/v1/devices/Pc-01.cern.ch"))
            .respond_with(ResponseTemplate::new(200).set_body_json(device("Pc-01.cern.ch")))
            .expect(1)
            .mount(&server)
            .await;
        let f = e.file("a.jsonl", &[line("Pc-01.cern.ch", "2026-11-26T00:00:00Z", "Microsoft Windows 11 Enterprise", "10.0.22631", "")]);
        let s = e.ingest_with(&[&f], Some(client(&server, 2000)), 500).await;
        assert_eq!((s.lookups_done, s.lookups_failed), (1, 0));
        let m = e.store.machine("pc-01.cern.ch").await.expect("q").expect("m");
        assert_eq!(m.responsible.map(|r| r.login).as_deref(), Some("asmith"));
    }
}
