//! A campaign end to end against real peers: the real binary, a real SMTP
//! server (maildev, read back through its HTTP API) and, for the PostgreSQL
//! run, a real PostgreSQL. A fleet is ingested, a campaign created,
//! previewed, started and delivered; each owner must get exactly one digest
//! listing exactly their machines; the signed links are followed through
//! the HTTP server (GET shows, POST records); tampered links and links of a
//! closed campaign record nothing.
//!
//! `scripts/test.sh` starts maildev and PostgreSQL and sets
//! WINVENTORY_TEST_SMTP_URL, WINVENTORY_TEST_MAILDEV_API and
//! WINVENTORY_TEST_POSTGRES_URL.

use std::collections::BTreeMap;

use crate::common::{Server, Site, campaign_file, env, fleet, free_port};
use winventory_core::store::Backend;

/// The link a text digest offers for one machine and answer label.
fn link_for(text: &str, host: &str, label: &str) -> String {
    let mut in_host = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("* ") {
            in_host = rest.starts_with(&format!("{host} "));
        } else if let Some(url) = line.trim().strip_prefix(&format!("{label}: "))
            && in_host
        {
            return url.to_string();
        }
    }
    panic!("no {label:?} link for {host} in:\n{text}")
}

fn links(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.contains("/answer/"))
        .map(|w| w.trim_end_matches(['.', ',', ')']).to_string())
        .collect()
}

async fn end_to_end(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Alice Smith,{},,,en,Europe/Zurich,boss,\n\
         jdoe,Jean Doe,{},,,fr,Europe/Paris,boss,\n\
         desk1,Desk One,{},,,en,,,it-desk\n\
         admin,Admin,{},,,en,,,\n",
        site.email("asmith"),
        site.email("jdoe"),
        site.email("desk1"),
        site.email("admin"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);

    // A draft sends nothing; preview renders what would go out.
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    let out = site.dir.path().join("preview");
    let p = site.json(&[
        "campaign",
        "preview",
        "retire-2012r2",
        "--out",
        out.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(
        (
            p["machines"].as_u64(),
            p["machines_without_owner"].as_u64(),
            p["messages"].as_u64()
        ),
        (Some(4), Some(1), Some(3))
    );
    let asmith_preview = std::fs::read_to_string(out.join("asmith.txt")).expect("asmith's preview");
    assert!(
        asmith_preview.contains("SRV-A1")
            && asmith_preview.contains("SRV-A2")
            && !asmith_preview.contains("SRV-J1")
    );
    site.run(&["worker", "--once"]);
    assert!(site.mailbox().await.is_empty(), "a draft sends nothing");

    // Start: one digest per person, listing exactly their machines.
    site.run(&["campaign", "start", "retire-2012r2"]);
    site.run(&["worker", "--once"]);
    let mail = site.mailbox().await;
    let got: Vec<&str> = mail.keys().map(String::as_str).collect();
    let want = [
        site.email("asmith"),
        site.email("desk1"),
        site.email("jdoe"),
    ];
    assert_eq!(
        got,
        want.iter().map(String::as_str).collect::<Vec<_>>(),
        "exactly the owners and the fallback group"
    );
    for (addr, msgs) in &mail {
        assert_eq!(msgs.len(), 1, "{addr} got one digest");
    }
    let text = |login: &str| {
        mail[&site.email(login)][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let hosts = |t: &str| {
        ["SRV-A1", "SRV-A2", "SRV-J1", "SRV-ORPHAN", "PC-NEW"]
            .into_iter()
            .filter(|h| t.contains(&format!("* {h} ")))
            .collect::<Vec<_>>()
    };
    assert_eq!(hosts(&text("asmith")), ["SRV-A1", "SRV-A2"]);
    assert_eq!(hosts(&text("jdoe")), ["SRV-J1"]);
    assert_eq!(hosts(&text("desk1")), ["SRV-ORPHAN"]);
    assert!(
        text("jdoe").starts_with("Bonjour Jean Doe"),
        "jdoe reads French: {}",
        text("jdoe")
    );
    let asmith = &mail[&site.email("asmith")][0];
    assert!(
        asmith["html"]
            .as_str()
            .unwrap_or_default()
            .contains("<table"),
        "multipart with HTML"
    );
    let message_id = asmith["headers"]["message-id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message_id.contains(&site.domain),
        "Message-ID derived from the key, in the site's domain: {message_id}"
    );

    // Running the worker again the same day sends nothing new.
    site.run(&["worker", "--once"]);
    assert_eq!(
        site.mailbox().await.values().map(Vec::len).sum::<usize>(),
        3
    );

    // Follow asmith's "Will upgrade" link for SRV-A1 through the server.
    let server = Server(
        site.command(&["serve", "--no-worker"])
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("{}/healthz", site.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server answers /healthz");
    let all = links(&text("asmith"));
    // Five answers per machine (extended support for 2012 R2 ended on
    // 2026-10-13, so it is not offered), and five for both at once.
    assert_eq!(all.len(), 2 * 5 + 5, "{all:?}");
    let upgrade = all
        .iter()
        .find(|l| l.contains("/answer/"))
        .expect("a link")
        .clone();
    let page = http.get(&upgrade).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("body");
    assert!(body.contains("SRV-A1") || body.contains("srv-a1"), "{body}");
    assert!(body.contains("<form method=\"post\">"));
    let status = site.json(&["campaign", "status", "retire-2012r2", "--format", "json"]);
    assert_eq!(status["open"].as_u64(), Some(4), "a GET records nothing");

    // The digest's personal link opens "my machines", for asmith's own only.
    let me_link = text("asmith")
        .split_whitespace()
        .find(|w| w.contains("/me/link/"))
        .expect("the digest links to my machines")
        .to_string();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_redirects
        .get(&me_link)
        .send()
        .await
        .expect("GET the link");
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("value")
        .to_string();
    let me = no_redirects
        .get(format!("{}/me", site.base_url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(me.status(), 200);
    let me = me.text().await.expect("body");
    assert!(
        me.contains("SRV-A1") && me.contains("SRV-A2") && !me.contains("SRV-J1"),
        "{me}"
    );
    assert_eq!(
        (status["targets"].as_u64(), status["messaged"].as_u64()),
        (Some(4), Some(4))
    );

    // A POST without the date the answer needs is refused with the reason.
    let r = http
        .post(&upgrade)
        .form(&[("comment", "soon")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    assert!(r.text().await.expect("body").contains("needs a date"));
    let r = http
        .post(&upgrade)
        .form(&[("date", "2027-01-15"), ("comment", "new VM ready")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").contains("Recorded"));
    let status = site.json(&["campaign", "status", "retire-2012r2", "--format", "json"]);
    assert_eq!(
        (
            status["open"].as_u64(),
            status["answered"]["upgrade"].as_u64()
        ),
        (Some(3), Some(1))
    );

    // A tampered token records nothing.
    let (head, tag) = upgrade.rsplit_once('.').expect("token");
    let forged = format!("{head}.{}", tag.chars().rev().collect::<String>());
    let r = http
        .post(&forged)
        .form(&[("date", "2027-01-15")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    // Closing the campaign ends every link.
    site.run(&["campaign", "close", "retire-2012r2"]);
    let other = all.iter().find(|l| **l != upgrade).expect("another link");
    let r = http.get(other).send().await.expect("GET");
    assert_eq!(r.status(), 410);
    let status = site.json(&["campaign", "status", "retire-2012r2", "--format", "json"]);
    assert_eq!(
        (
            status["state"].as_str(),
            status["answered"]["upgrade"].as_u64()
        ),
        (Some("closed"), Some(1))
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_reaches_each_owner_once_and_records_answers_from_signed_links_on_sqlite() {
    end_to_end(Backend::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_reaches_each_owner_once_and_records_answers_from_signed_links_on_postgres() {
    end_to_end(Backend::Postgres, "postgres").await;
}

/// Kill the delivery worker (a real child process, SIGKILL) at random points
/// while it sends, start it again, and repeat until the outbox is empty.
/// What maildev received must be exactly what should have been sent:
/// nothing missing, and every duplicate a second copy with the same
/// Message-ID (the window between the server's acceptance and the outbox
/// recording it).
async fn kill_the_worker_at_random_points(backend: Backend, tag: &str) {
    use rand::{Rng as _, SeedableRng as _};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    const OWNERS: usize = 60;
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let fleet: Vec<String> = (0..OWNERS)
        .map(|i| format!(
            r#"{{"hostname": "SRV{i:03}", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "user{i:03}"}}"#
        ))
        .collect();
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet.join("\n"))]);
    let mut users = String::from(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n",
    );
    for i in 0..OWNERS {
        users.push_str(&format!(
            "user{i:03},User {i},{},,,en,,,\n",
            site.email(&format!("user{i:03}"))
        ));
    }
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    site.run(&["campaign", "start", "retire-2012r2"]);
    assert_eq!(
        site.json(&["outbox", "--format", "json"])["pending"].as_u64(),
        Some(OWNERS as u64)
    );

    let seed: u64 = rand::random();
    eprintln!("kill test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    for round in 0..200 {
        let mut child = site
            .command(&["worker"])
            .env("WINVENTORY_DELIVERY_LEASE_SECS", "1")
            .env("WINVENTORY_DELIVERY_RATE", "400")
            .spawn()
            .expect("worker");
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(30..600))).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        kills += 1;
        let pending = site.json(&["outbox", "--format", "json"])["pending"].as_u64();
        if pending == Some(0) {
            break;
        }
        assert!(round < 199, "the outbox never drained");
        // Let leases of messages cut off mid-send run out now and then.
        if round % 3 == 2 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
    }
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["sent"].as_u64(), outbox["failed"].as_u64()),
        (Some(OWNERS as u64), Some(0))
    );

    let mail = site.mailbox().await;
    let mut duplicates = 0;
    for i in 0..OWNERS {
        let addr = site.email(&format!("user{i:03}"));
        let msgs = mail
            .get(&addr)
            .unwrap_or_else(|| panic!("{addr} got nothing (seed {seed})"));
        let ids: std::collections::BTreeSet<&str> = msgs
            .iter()
            .map(|m| m["headers"]["message-id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{addr}: every copy carries the same Message-ID (seed {seed}): {ids:?}"
        );
        assert!(
            msgs[0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("SRV{i:03}"))
        );
        duplicates += msgs.len() - 1;
    }
    assert_eq!(mail.len(), OWNERS, "nobody else got mail");
    // One message is in flight at a time: a kill can duplicate at most one.
    assert!(
        duplicates <= kills,
        "{duplicates} duplicates from {kills} kills (seed {seed})"
    );
    eprintln!("{kills} kills, {duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_at_random_points_loses_no_message_and_duplicates_share_their_message_id_on_sqlite()
 {
    kill_the_worker_at_random_points(Backend::Sqlite, "kill-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_at_random_points_loses_no_message_and_duplicates_share_their_message_id_on_postgres()
 {
    kill_the_worker_at_random_points(Backend::Postgres, "kill-postgres").await;
}

/// Reminders, quiet hours, escalation and closing the loop, on a simulated
/// clock (`WINVENTORY_NOW`): the silent are reminded on the schedule and then
/// escalated to their manager; an upgrade the next snapshot shows is
/// resolved; a promise the data contradicts after its date is asked again.
async fn reminders_escalation_and_verification(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let t0 = "2026-12-01T10:00:00Z"; // a Tuesday
    let snapshot = |at: &str, host: &str, owner: &str, server: &str, version: &str| {
        format!(
            r#"{{"hostname": "{host}", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server {server} Standard", "version": "{version}", "edition": "ServerStandard", "product_type": 3}}, "responsible": "{owner}"}}"#
        )
    };
    let old = |host: &str, owner: &str| {
        snapshot("2026-12-01T08:00:00Z", host, owner, "2012 R2", "6.3.9600")
    };
    site.run(&[
        "ingest",
        &site.write(
            "f0.jsonl",
            &[
                old("SRV-A", "asmith"),
                old("SRV-B", "bsilent"),
                old("SRV-C", "csmith"),
            ]
            .join("\n"),
        ),
        "--now",
        t0,
    ]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,UTC,,\nbsilent,B,{},,,en,UTC,boss,\ncsmith,C,{},,,en,UTC,,\nboss,Boss,{},,,en,UTC,,\n",
        site.email("asmith"),
        site.email("bsilent"),
        site.email("csmith"),
        site.email("boss"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    let spec = campaign_file().replace(
        "[target]",
        "[schedule]\nreminders = \"0 9 * * Mon\"\nquiet_hours = \"20:00-07:00\"\nescalate_after = 1\nescalation = [\"manager\", \"fallback\"]\n\n[target]",
    );
    site.run(&["campaign", "create", &site.write("c.toml", &spec)]);
    let at = |now: &str, args: &[&str]| {
        let out = site
            .command(args)
            .env("WINVENTORY_NOW", now)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?} at {now}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    at(t0, &["campaign", "start", "retire-2012r2"]);
    at(t0, &["worker", "--once"]);
    let count = |mail: &BTreeMap<String, Vec<serde_json::Value>>, login: &str| {
        mail.get(&site.email(login)).map_or(0, Vec::len)
    };
    let mail = site.mailbox().await;
    assert_eq!(
        [
            count(&mail, "asmith"),
            count(&mail, "bsilent"),
            count(&mail, "csmith"),
            count(&mail, "boss")
        ],
        [1, 1, 1, 0]
    );

    // asmith and csmith answer "will upgrade", through the server at t0.
    let server = Server(
        site.command(&["serve", "--no-worker"])
            .env("WINVENTORY_NOW", t0)
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{}/healthz", site.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (login, date) in [("asmith", "2026-12-20"), ("csmith", "2026-12-10")] {
        let text = mail[&site.email(login)][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let link = links(&text)
            .into_iter()
            .next()
            .expect("the first link: will upgrade");
        let r = http
            .post(&link)
            .form(&[("date", date)])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    drop(server);

    // Monday 09:30: the schedule fired, only the silent one is reminded.
    // Monday 21:00 falls in quiet hours: nothing, even the next week.
    at("2026-12-07T21:00:00Z", &["worker", "--once"]);
    assert_eq!(
        site.mailbox().await.values().map(Vec::len).sum::<usize>(),
        3,
        "quiet hours"
    );
    at("2026-12-08T09:30:00Z", &["worker", "--once"]);
    let mail = site.mailbox().await;
    assert_eq!(
        [
            count(&mail, "asmith"),
            count(&mail, "bsilent"),
            count(&mail, "csmith")
        ],
        [1, 2, 1]
    );
    let reminder = &mail[&site.email("bsilent")][1];
    assert!(
        reminder["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("(reminder)"),
        "{reminder}"
    );
    assert!(
        reminder["text"]
            .as_str()
            .unwrap_or_default()
            .contains("This is a reminder")
    );

    // SRV-A now runs Windows Server 2022; SRV-C is still on 2012 R2 after
    // its promised date: SRV-A is resolved, SRV-C asked again.
    let new = |at: &str| {
        [
            snapshot(at, "SRV-A", "asmith", "2022", "10.0.20348"),
            snapshot(at, "SRV-B", "bsilent", "2012 R2", "6.3.9600"),
            snapshot(at, "SRV-C", "csmith", "2012 R2", "6.3.9600"),
        ]
        .join("\n")
    };
    site.run(&[
        "ingest",
        &site.write("f1.jsonl", &new("2026-12-14T08:00:00Z")),
        "--now",
        "2026-12-14T09:00:00Z",
    ]);
    // The next Monday: bsilent was reminded once without answering, so the
    // machine goes to the manager (a first message for the boss); csmith is
    // asked again.
    at("2026-12-15T09:30:00Z", &["worker", "--once"]);
    let mail = site.mailbox().await;
    assert_eq!(
        [
            count(&mail, "asmith"),
            count(&mail, "bsilent"),
            count(&mail, "csmith"),
            count(&mail, "boss")
        ],
        [1, 2, 2, 1]
    );
    assert!(
        mail[&site.email("boss")][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("* SRV-B ")
    );
    let status = at(
        "2026-12-15T09:31:00Z",
        &["campaign", "status", "retire-2012r2", "--format", "json"],
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(
        (
            status["resolved"].as_u64(),
            status["open"].as_u64(),
            status["escalated"].as_u64(),
            status["answered"].as_object().map(|o| o.len())
        ),
        (Some(1), Some(2), Some(1), Some(0)),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_silent_are_reminded_then_escalated_and_later_snapshots_resolve_or_reopen_on_sqlite() {
    reminders_escalation_and_verification(Backend::Sqlite, "loop-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_silent_are_reminded_then_escalated_and_later_snapshots_resolve_or_reopen_on_postgres()
{
    reminders_escalation_and_verification(Backend::Postgres, "loop-postgres").await;
}

/// The SMTP server is down: messages wait (retried with backoff, nothing
/// lost, nothing failed) and go out once it is back.
async fn messages_wait_for_the_smtp_server(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,,,\njdoe,J,{},,,en,,,\n",
        site.email("asmith"),
        site.email("jdoe"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    site.run(&["campaign", "start", "retire-2012r2"]);
    // Nothing listens on this port.
    let down = format!("smtp://127.0.0.1:{}", free_port());
    let out = site
        .command(&["worker", "--once"])
        .env("WINVENTORY_SMTP_URL", &down)
        .env("WINVENTORY_RETRY_BASE_SECS", "1")
        .output()
        .expect("worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("retrying 2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (
            outbox["pending"].as_u64(),
            outbox["sent"].as_u64(),
            outbox["failed"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );
    assert!(site.mailbox().await.is_empty());
    // Before the retry is due nothing is attempted; after it, both go out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    site.run(&["worker", "--once"]);
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["pending"].as_u64(), outbox["sent"].as_u64()),
        (Some(0), Some(2))
    );
    let mail = site.mailbox().await;
    assert_eq!(mail.values().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wait_while_the_smtp_server_is_down_and_go_out_when_it_returns_on_sqlite() {
    messages_wait_for_the_smtp_server(Backend::Sqlite, "down-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wait_while_the_smtp_server_is_down_and_go_out_when_it_returns_on_postgres() {
    messages_wait_for_the_smtp_server(Backend::Postgres, "down-postgres").await;
}

/// Exceptions are requests: the owner asks through the link page, admins
/// decide from the CLI, the owner is told, a declined one is asked again at
/// once and an approved one two weeks before it ends; the register lists all.
async fn exceptions_are_decided_by_admins(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let t0 = "2026-12-01T10:00:00Z";
    let server2012 = |host: &str, owner: &str| {
        format!(
            r#"{{"hostname": "{host}", "collected_at": "2026-12-01T08:00:00Z", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "{owner}"}}"#
        )
    };
    site.run(&[
        "ingest",
        &site.write(
            "f.jsonl",
            &[server2012("LAB-1", "asmith"), server2012("LAB-2", "jdoe")].join("\n"),
        ),
        "--now",
        t0,
    ]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\nasmith,A,{},,,en,UTC,,\njdoe,J,{},,,fr,UTC,,\n",
        site.email("asmith"),
        site.email("jdoe"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    let at = |now: &str, args: &[&str]| {
        let out = site
            .command(args)
            .env("WINVENTORY_NOW", now)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?} at {now}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    at(t0, &["campaign", "start", "retire-2012r2"]);
    at(t0, &["worker", "--once"]);
    let server = Server(
        site.command(&["serve", "--no-worker"])
            .env("WINVENTORY_NOW", t0)
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{}/healthz", site.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mail = site.mailbox().await;
    for (login, until) in [("asmith", "2027-06-30"), ("jdoe", "2027-06-30")] {
        let text = mail[&site.email(login)][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let link = links(&text)
            .into_iter()
            .find(|l| {
                // The exception link is the fourth of the machine's five (no ESU).
                links(&text).iter().position(|x| x == l) == Some(3)
            })
            .expect("exception link");
        let page = http
            .get(&link)
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("page");
        assert!(
            page.contains("name=\"detail\""),
            "the page asks for a justification"
        );
        let r = http
            .post(&link)
            .form(&[("date", until)])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 422, "a justification is required");
        let r = http
            .post(&link)
            .form(&[("date", until), ("detail", "drives a lab instrument")])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 200);
    }
    drop(server);
    let pending: serde_json::Value =
        serde_json::from_slice(&at(t0, &["campaign", "exceptions", "--format", "json"]))
            .expect("json");
    assert_eq!(pending.as_array().map(Vec::len), Some(2), "{pending}");
    assert_eq!(pending[0]["justification"], "drives a lab instrument");

    at(
        "2026-12-02T10:00:00Z",
        &[
            "campaign",
            "approve",
            "retire-2012r2",
            "LAB-1",
            "--note",
            "until the new instrument PC arrives",
            "--by",
            "itadmin",
        ],
    );
    at(
        "2026-12-02T10:00:00Z",
        &[
            "campaign",
            "decline",
            "retire-2012r2",
            "lab-2",
            "--note",
            "isolate it instead",
            "--by",
            "itadmin",
        ],
    );
    let again = site
        .command(&["campaign", "approve", "retire-2012r2", "LAB-1"])
        .env("WINVENTORY_NOW", t0)
        .output()
        .expect("run");
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("no exception request awaiting")
    );
    at("2026-12-02T10:05:00Z", &["worker", "--once"]);
    let mail = site.mailbox().await;
    let notice = |login: &str| {
        mail[&site.email(login)]
            .iter()
            .find(|m| {
                m["subject"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("xception")
            })
            .cloned()
            .unwrap_or_else(|| panic!("{login} was told the decision"))
    };
    assert!(
        notice("asmith")["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("approved until 2027-06-30"),
        "{}",
        notice("asmith")
    );
    let declined = notice("jdoe");
    assert!(
        declined["subject"]
            .as_str()
            .unwrap_or_default()
            .contains("refusée"),
        "jdoe reads French: {declined}"
    );
    assert!(
        declined["text"]
            .as_str()
            .unwrap_or_default()
            .contains("isolate it instead")
    );
    // The declined machine is asked again in the same wave (the notice
    // answers the owner's own request and is not a digest); the approved one
    // is not. The next day brings nothing new to either.
    assert_eq!(
        (
            mail[&site.email("asmith")].len(),
            mail[&site.email("jdoe")].len()
        ),
        (2, 3)
    );
    at("2026-12-03T10:00:00Z", &["worker", "--once"]);
    let mail = site.mailbox().await;
    assert_eq!(
        (
            mail[&site.email("asmith")].len(),
            mail[&site.email("jdoe")].len()
        ),
        (2, 3)
    );
    // Two weeks before the approved exception ends (the machines still
    // reporting 2012 R2), asmith is asked again.
    let fresh = [server2012("LAB-1", "asmith"), server2012("LAB-2", "jdoe")]
        .join("\n")
        .replace("2026-12-01T08:00:00Z", "2027-06-15T08:00:00Z");
    site.run(&[
        "ingest",
        &site.write("f2.jsonl", &fresh),
        "--now",
        "2027-06-15T09:00:00Z",
    ]);
    at("2027-06-15T10:00:00Z", &["worker", "--once"]);
    assert_eq!(
        site.mailbox().await[&site.email("asmith")].len(),
        2,
        "not yet"
    );
    at("2027-06-16T10:00:00Z", &["worker", "--once"]);
    assert_eq!(site.mailbox().await[&site.email("asmith")].len(), 3);
    let register: serde_json::Value = serde_json::from_slice(&at(
        "2027-06-16T10:01:00Z",
        &["report", "exceptions", "--format", "json"],
    ))
    .expect("json");
    let states: Vec<&str> = register
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["state"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(states, ["approved", "declined"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_are_requested_by_owners_decided_by_admins_and_asked_again_on_sqlite() {
    exceptions_are_decided_by_admins(Backend::Sqlite, "exc-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_are_requested_by_owners_decided_by_admins_and_asked_again_on_postgres() {
    exceptions_are_decided_by_admins(Backend::Postgres, "exc-postgres").await;
}

/// Two running campaigns ask one person about different machines: they get
/// one message that day with both campaigns' sections, never two.
async fn digests_of_running_campaigns_merge(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\nasmith,A,{},,,en,,,\n",
        site.email("asmith")
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("a.toml", campaign_file())]);
    let win11 = campaign_file()
        .replace("retire-2012r2", "win11-check")
        .replace("Windows Server 2012 R2 retirement", "Windows 11 check")
        .replace(
            r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            r#"os = [{ product = "windows" }]"#,
        );
    site.run(&["campaign", "create", &site.write("b.toml", &win11)]);
    // Started together: their first digests merge.
    site.run(&["campaign", "start", "retire-2012r2", "win11-check"]);
    site.run(&["worker", "--once"]);
    let mail = site.mailbox().await;
    let msgs = &mail[&site.email("asmith")];
    assert_eq!(msgs.len(), 1, "one message a day across campaigns");
    let text = msgs[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("== Windows Server 2012 R2 retirement ==")
            && text.contains("== Windows 11 check =="),
        "{text}"
    );
    assert!(
        text.contains("* SRV-A1 ") && text.contains("* PC-NEW "),
        "{text}"
    );
    // Both campaigns count the machines as messaged.
    for c in ["retire-2012r2", "win11-check"] {
        let s = site.json(&["campaign", "status", c, "--format", "json"]);
        assert!(s["messaged"].as_u64().unwrap_or(0) >= 1, "{c}: {s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_in_two_running_campaigns_gets_one_merged_digest_on_sqlite() {
    digests_of_running_campaigns_merge(Backend::Sqlite, "merge-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_in_two_running_campaigns_gets_one_merged_digest_on_postgres() {
    digests_of_running_campaigns_merge(Backend::Postgres, "merge-postgres").await;
}

/// Collectors push snapshots over HTTP: bearer token, gzip accepted, the
/// CLI's semantics and the same JSON summary as `ingest --format json`.
async fn snapshots_can_be_pushed(backend: Backend, tag: &str) {
    use std::io::Write as _;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let server = Server(
        site.command(&["serve", "--no-worker"])
            .env("WINVENTORY_API_TOKEN", "collector-token-0123456789")
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{}/healthz", site.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = format!("{}/api/v1/snapshots", site.base_url);
    let body = format!("{}\nnot json\n", fleet());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");

    let r = http.post(&url).body(gz.clone()).send().await.expect("POST");
    assert_eq!(r.status(), 401, "no token");
    let r = http
        .post(&url)
        .bearer_auth("wrong")
        .body(gz.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 401, "wrong token");

    let r = http
        .post(&url)
        .bearer_auth("collector-token-0123456789")
        .body(gz.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-winventory-exit-code"],
        "1",
        "one line rejected, like the CLI's exit code 1"
    );
    let api: serde_json::Value = r.json().await.expect("JSON summary");
    // The same summary the CLI gives for the same input, key for key.
    let other = Site::new(backend, &format!("{tag}-cli")).await;
    let cli = other
        .command(&["ingest", &other.write("f.jsonl", &body), "--format", "json"])
        .output()
        .expect("cli");
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).expect("cli JSON");
    let keys = |v: &serde_json::Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(&api), keys(&cli));
    for k in ["lines_read", "accepted", "rejected", "machines_new"] {
        assert_eq!(api[k], cli[k], "{k}");
    }
    assert_eq!(api["errors"][0]["line"], 6);
    assert_eq!(api["errors"][0]["file"], "POST /api/v1/snapshots");
    // Stored: the CLI sees the machines.
    let m = site.json(&["machine", "srv-a1", "--format", "json"]);
    assert_eq!(m["hostname"], "SRV-A1");

    // A cut-off gzip stream: the lines before the cut are kept, status 422.
    let r = http
        .post(&url)
        .bearer_auth("collector-token-0123456789")
        .body(gz[..gz.len() / 2].to_vec())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["x-winventory-exit-code"], "2");
    let s: serde_json::Value = r.json().await.expect("JSON");
    assert!(
        s["failures"][0]
            .as_str()
            .unwrap_or_default()
            .contains("read error"),
        "{s}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectors_push_snapshots_with_a_bearer_token_and_get_the_ingest_summary_on_sqlite() {
    snapshots_can_be_pushed(Backend::Sqlite, "api-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectors_push_snapshots_with_a_bearer_token_and_get_the_ingest_summary_on_postgres() {
    snapshots_can_be_pushed(Backend::Postgres, "api-postgres").await;
}

/// `serve` ingests a drop folder on its schedule and moves what it ingested
/// to `done/`, so the daily export needs nobody to run a command.
async fn the_drop_folder_is_ingested_on_schedule(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let drop = site.dir.path().join("drop");
    std::fs::create_dir_all(&drop).expect("mkdir");
    let _server = Server(
        site.command(&["serve", "--no-worker"])
            .env("WINVENTORY_DROP_FOLDER", &drop)
            .env("WINVENTORY_INGEST_SCHEDULE", "* * * * * *") // every second
            .spawn()
            .expect("serve"),
    );
    std::fs::write(drop.join("cmf-1.jsonl.part"), fleet()).expect("write");
    // Renamed into place when complete, as a collector should.
    std::fs::rename(drop.join("cmf-1.jsonl.part"), drop.join("cmf-1.jsonl")).expect("rename");
    let mut moved = false;
    for _ in 0..100 {
        let done: Vec<_> = std::fs::read_dir(drop.join("done"))
            .map(|d| d.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if done
            .iter()
            .any(|e| e.file_name().to_string_lossy().ends_with("-cmf-1.jsonl"))
        {
            moved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(moved, "the snapshot was ingested and moved to done/");
    assert!(!drop.join("cmf-1.jsonl").exists());
    let m = site.json(&["machine", "srv-j1", "--format", "json"]);
    assert_eq!(m["hostname"], "SRV-J1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ingests_the_drop_folder_on_its_schedule_on_sqlite() {
    the_drop_folder_is_ingested_on_schedule(Backend::Sqlite, "drop-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ingests_the_drop_folder_on_its_schedule_on_postgres() {
    the_drop_folder_is_ingested_on_schedule(Backend::Postgres, "drop-postgres").await;
}

/// "Not my machine" hands a machine over: a name nobody knows is refused on
/// the page; a known one is asked next (told who passed it on), and once
/// they answer they own it (source `answer`, kept over later snapshots).
/// Members of a fallback group answer as themselves. With `limited`, the
/// campaign is limited to the owners of group `lab`, which the person named
/// is not in: the machine is still handed over, not taken as dealt with.
async fn hand_overs(backend: Backend, tag: &str, limited: bool) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,,,lab\njdoe,J,{},,,en,,,\ndesk1,D1,{},,,en,,,it-desk\ndesk2,D2,{},,,en,,,it-desk\n",
        site.email("asmith"),
        site.email("jdoe"),
        site.email("desk1"),
        site.email("desk2"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    // Reminders only in 2099: the next-day wave below may fall on any
    // weekday, and a Monday reminder would blur what it is checking.
    let spec = campaign_file().replace(
        "[target]",
        "[schedule]\nreminders = \"0 0 9 1 1 * 2099\"\n\n[target]",
    );
    let spec = if limited {
        spec.replace("[target]", "[target]\ngroups = [\"lab\"]")
    } else {
        spec
    };
    site.run(&["campaign", "create", &site.write("c.toml", &spec)]);
    site.run(&["campaign", "start", "retire-2012r2"]);
    site.run(&["worker", "--once"]);
    let mail = site.mailbox().await;
    let text = |mail: &BTreeMap<String, Vec<serde_json::Value>>, login: &str, i: usize| {
        mail[&site.email(login)][i]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let _server = site.serve(None).await;
    let http = reqwest::Client::new();
    let post = |url: String, form: Vec<(&'static str, String)>| {
        let http = http.clone();
        async move {
            let r = http.post(url).form(&form).send().await.expect("POST");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };

    // asmith: SRV-A1 is not mine. An unknown login is refused, a known one taken.
    let not_mine = link_for(&text(&mail, "asmith", 0), "SRV-A1", "Not my machine");
    let (status, page) = post(not_mine.clone(), vec![("detail", "nobody".into())]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("nobody"), "{page}");
    let (status, page) = post(not_mine, vec![("detail", " JDoe ".into())]).await;
    assert_eq!(status, 200, "{page}");
    // desk2, of the fallback group, answers for the orphan as themselves.
    if !limited {
        let decommission = link_for(&text(&mail, "desk2", 0), "SRV-ORPHAN", "Will decommission");
        assert_eq!(post(decommission, vec![]).await.0, 200);
    }

    // The next day's wave asks jdoe about SRV-A1, saying who passed it on.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let out = site
        .command(&["worker", "--once"])
        .env("WINVENTORY_NOW", &tomorrow)
        .output()
        .expect("worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mail = site.mailbox().await;
    // Unlimited, jdoe had a digest for SRV-J1 the first day.
    let first = usize::from(!limited);
    assert_eq!(mail[&site.email("jdoe")].len(), first + 1);
    assert_eq!(
        mail[&site.email("asmith")].len(),
        1,
        "asmith is not asked again"
    );
    let handed = text(&mail, "jdoe", first);
    assert!(
        handed.contains("* SRV-A1 ") && handed.contains("asmith says this machine is yours"),
        "{handed}"
    );
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let row = |host: &str| {
        shown
            .as_array()
            .and_then(|a| a.iter().find(|m| m["host_key"] == host.to_lowercase()))
            .cloned()
            .unwrap_or_else(|| panic!("{host} in {shown}"))
    };
    assert_eq!(
        (
            row("SRV-A1")["recipient"].clone(),
            row("SRV-A1")["state"].clone(),
            row("SRV-A1")["transfer_from"].clone()
        ),
        ("jdoe".into(), "open".into(), "asmith".into())
    );
    if !limited {
        assert_eq!(
            (
                row("SRV-ORPHAN")["answer"].clone(),
                row("SRV-ORPHAN")["answered_by"].clone()
            ),
            ("decommission".into(), "desk2".into())
        );
    }

    // jdoe answers: the machine is theirs now.
    let date = (chrono::Utc::now() + chrono::Duration::days(30))
        .date_naive()
        .to_string();
    let upgrade = link_for(&handed, "SRV-A1", "Will upgrade");
    let (status, page) = post(upgrade, vec![("date", date)]).await;
    assert_eq!(status, 200, "{page}");
    let owner = |site: &Site| {
        let m = site.json(&["machine", "SRV-A1", "--format", "json"]);
        (
            m["responsible"]["login"].clone(),
            m["responsible"]["source"].clone(),
        )
    };
    assert_eq!(owner(&site), ("jdoe".into(), "answer".into()));
    // A later snapshot still naming asmith does not undo the answer.
    site.run(&["ingest", &site.write("again.jsonl", &fleet())]);
    assert_eq!(owner(&site), ("jdoe".into(), "answer".into()));
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let a1 = shown
        .as_array()
        .and_then(|a| a.iter().find(|m| m["host_key"] == "srv-a1"))
        .cloned()
        .expect("srv-a1");
    assert_eq!(
        (
            a1["state"].clone(),
            a1["answer"].clone(),
            a1["answered_by"].clone(),
            a1["transfer_from"].clone()
        ),
        (
            "answered".into(),
            "upgrade".into(),
            "jdoe".into(),
            serde_json::Value::Null
        ),
        "still on 2012 R2: answered, not resolved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_my_machine_hands_it_to_the_person_named_who_owns_it_once_they_answer_on_sqlite() {
    hand_overs(Backend::Sqlite, "handover-sqlite", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_my_machine_hands_it_to_the_person_named_who_owns_it_once_they_answer_on_postgres() {
    hand_overs(Backend::Postgres, "handover-postgres", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_handed_outside_a_campaigns_groups_is_still_asked_not_taken_as_fixed_on_sqlite() {
    hand_overs(Backend::Sqlite, "handover-limited-sqlite", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_handed_outside_a_campaigns_groups_is_still_asked_not_taken_as_fixed_on_postgres()
{
    hand_overs(Backend::Postgres, "handover-limited-postgres", true).await;
}

/// What the picky SMTP server (aiosmtpd, see scripts/lib/picky_smtp.py)
/// accepted for this site: (recipient, Message-ID) per stored message.
fn picky_mailbox(site: &Site) -> Vec<(String, String)> {
    let dir = std::path::PathBuf::from(env("WINVENTORY_TEST_PICKY_MAILDIR")).join("new");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the Maildir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("a message");
        let header = |name: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let to = header("X-RcptTo");
        if to.ends_with(&format!("@{}", site.domain)) {
            out.push((to, header("Message-ID")));
        }
    }
    out.sort();
    out
}

/// A permanent refusal (550 for an unknown mailbox) is recorded with the
/// server's words, never retried, and the person's machines go to the
/// campaign's fallback group in the next wave.
async fn refusals(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,,,\njdoe,J,{},,,en,,,\ndesk1,D1,{},,,en,,,it-desk\n",
        site.email("nobody-asmith"),
        site.email("jdoe"),
        site.email("desk1"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    let picky = env("WINVENTORY_TEST_PICKY_SMTP_URL");
    let worker = |now: Option<String>| {
        let mut cmd = site.command(&["worker", "--once"]);
        cmd.env("WINVENTORY_SMTP_URL", &picky);
        if let Some(now) = now {
            cmd.env("WINVENTORY_NOW", now);
        }
        let out = cmd.output().expect("worker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    site.run(&["campaign", "start", "retire-2012r2"]);
    let report = worker(None);
    assert!(
        report.contains("sent 2") && report.contains("failed 1"),
        "{report}"
    );
    let outbox = String::from_utf8_lossy(&site.run(&["outbox"]).stdout).to_string();
    assert!(
        outbox.contains("nobody-asmith") && outbox.contains("550"),
        "the refusal is recorded with the server's reply: {outbox}"
    );
    // Again at once: the refused message is not retried.
    let report = worker(None);
    assert!(
        report.contains("sent 0") && report.contains("failed 0"),
        "{report}"
    );
    // The next day's wave hands asmith's machines to the fallback group.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    worker(Some(tomorrow));
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let asked: BTreeMap<String, String> = shown
        .as_array()
        .expect("rows")
        .iter()
        .map(|m| {
            (
                m["host_key"].as_str().unwrap_or_default().to_string(),
                m["recipient"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(asked["srv-a1"], "group:it-desk", "{shown}");
    assert_eq!(asked["srv-a2"], "group:it-desk", "{shown}");
    assert_eq!(asked["srv-j1"], "jdoe", "{shown}");
    let got = picky_mailbox(&site);
    let to_desk: Vec<&(String, String)> = got
        .iter()
        .filter(|(to, _)| *to == site.email("desk1"))
        .collect();
    assert_eq!(
        to_desk.len(),
        2,
        "the orphan's digest, then asmith's machines: {got:?}"
    );
    assert!(got.iter().all(|(to, _)| !to.starts_with("nobody")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_recorded_and_their_machines_go_to_the_fallback_group_on_sqlite() {
    refusals(Backend::Sqlite, "refused-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_recorded_and_their_machines_go_to_the_fallback_group_on_postgres() {
    refusals(Backend::Postgres, "refused-postgres").await;
}

/// A server slower than the time-out: the attempt fails as temporary, the
/// message waits and goes out on the retry; if the slow server accepted the
/// first attempt after all, both copies carry the same Message-ID.
async fn slow_server(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,,,\njdoe,J,{},,,en,,,\n",
        site.email("slow-asmith"),
        site.email("jdoe"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    site.run(&["campaign", "start", "retire-2012r2"]);
    let worker = || {
        let out = site
            .command(&["worker", "--once"])
            .env("WINVENTORY_SMTP_URL", env("WINVENTORY_TEST_PICKY_SMTP_URL"))
            .env("WINVENTORY_SMTP_TIMEOUT_SECS", "1")
            .env("WINVENTORY_RETRY_BASE_SECS", "1")
            .output()
            .expect("worker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let report = worker();
    assert!(
        report.contains("sent 1") && report.contains("retrying 1"),
        "{report}"
    );
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["pending"].as_u64(), outbox["failed"].as_u64()),
        (Some(1), Some(0))
    );
    // The server's delay (3 s) and the retry's (1 s) pass; the retry goes out.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let report = worker();
    assert!(report.contains("sent 1"), "{report}");
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["pending"].as_u64(), outbox["sent"].as_u64()),
        (Some(0), Some(2))
    );
    let got = picky_mailbox(&site);
    let slow: Vec<&String> = got
        .iter()
        .filter(|(to, _)| *to == site.email("slow-asmith"))
        .map(|(_, id)| id)
        .collect();
    assert!(!slow.is_empty(), "{got:?}");
    assert!(
        slow.iter().all(|id| *id == slow[0]),
        "copies share a Message-ID: {got:?}"
    );
    assert_eq!(
        got.iter()
            .filter(|(to, _)| *to == site.email("jdoe"))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_smtp_server_times_out_and_the_message_goes_out_on_the_retry_on_sqlite() {
    slow_server(Backend::Sqlite, "slow-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_smtp_server_times_out_and_the_message_goes_out_on_the_retry_on_postgres() {
    slow_server(Backend::Postgres, "slow-postgres").await;
}

/// `serve` on a PostgreSQL of its own, stopped in the middle of a wave and
/// started again: the delivery loop waits the outage out and goes on, every
/// digest is delivered exactly once, and readiness says the truth before
/// (200), during (503, naming the database) and after (200); liveness
/// answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_wave_is_waited_out_and_every_message_is_delivered_once() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pg = crate::common::PrivatePostgres::start();
    let db = pg.url();
    let mut site = Site::new(Backend::Sqlite, "pg-outage").await;
    site.db.url = db.clone();
    // 24 owners, one retiring server each: 24 digests, paced at 4 a second.
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let owners: Vec<String> = (0..24).map(|i| format!("owner{i:02}")).collect();
    let fleet: Vec<String> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            format!(
                r#"{{"hostname": "SRV-{i:02}", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "{o}"}}"#
            )
        })
        .collect();
    let mut users = String::from(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n",
    );
    for o in &owners {
        users.push_str(&format!("{o},{o},{},,,en,,,\n", site.email(o)));
    }
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet.join("\n"))]);
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    site.run(&["campaign", "start", "retire-2012r2"]);

    let mut cmd = site.command(&["serve"]);
    let log = std::fs::File::create(site.dir.path().join("serve.log")).expect("log");
    cmd.env("WINVENTORY_DELIVERY_RATE", "4")
        .env("WINVENTORY_LOG", "info")
        .stderr(log);
    let _server = Server(cmd.spawn().expect("serve"));
    let serve_log =
        || std::fs::read_to_string(site.dir.path().join("serve.log")).unwrap_or_default();
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let health = |path: &'static str| {
        let (http, base) = (http.clone(), site.base_url.clone());
        async move {
            match http.get(format!("{base}{path}")).send().await {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(_) => (0, String::new()),
            }
        }
    };
    // Before: ready.
    let mut ready = false;
    for _ in 0..100 {
        if health("/healthz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "serve never became ready");
    // Mid-wave (a few sent, most not): the database goes away for 8 s.
    let mut sent_before = 0;
    for _ in 0..100 {
        sent_before = site.mailbox().await.len();
        if sent_before >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        (2..24).contains(&sent_before),
        "not mid-wave: {sent_before} sent"
    );
    pg.down();
    let mut during = (0, String::new());
    for _ in 0..40 {
        during = health("/healthz").await;
        if during.0 == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        during.0, 503,
        "readiness while the database is down: {during:?}"
    );
    assert!(during.1.contains("database"), "{during:?}");
    assert_eq!(health("/livez").await.0, 200, "the process is alive");
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    pg.up();
    // After: every digest delivered, once each, and ready again.
    let mut mail = BTreeMap::new();
    for _ in 0..120 {
        mail = site.mailbox().await;
        if mail.len() == owners.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        mail.len(),
        owners.len(),
        "every owner got their digest; serve said:\n{}",
        serve_log()
    );
    for (to, messages) in &mail {
        assert_eq!(messages.len(), 1, "{to} got {} digests", messages.len());
    }
    let mut after = (0, String::new());
    for _ in 0..60 {
        after = health("/healthz").await;
        if after.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(after.0, 200, "ready again after the outage: {after:?}");
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["pending"].as_u64(), outbox["sent"].as_u64()),
        (Some(0), Some(24)),
        "{outbox}"
    );
    let metrics = health("/metrics").await.1;
    assert!(
        metrics.contains("winventory_loop_up{loop=\"delivery\"} 1")
            && metrics.contains("winventory_database_up 1")
            && metrics.contains("winventory_loop_failures_total{loop=\"delivery\"}"),
        "{metrics}"
    );
}

/// Waits until `serve` answers `/livez`.
async fn wait_live(base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .get(format!("{base}/livez"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("serve did not answer /livez at {base}");
}

/// Whether the server closed `socket` within `within` (read gives EOF or
/// an error).
async fn closed_within(socket: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue, // a response; keep reading
        }
    }
}

/// The listener's limits: more slow sockets than the server's open-file
/// limit allows (`prlimit`) do not keep `/healthz` from answering at once;
/// a request head sent too slowly and an idle keep-alive connection are
/// closed after their time-outs; `/metrics` asks for its bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_shed_and_health_keeps_answering() {
    use tokio::io::AsyncWriteExt as _;
    let site = Site::new(Backend::Sqlite, "edge-limits").await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);

    // 1. A flood of slow sockets under a limit of 200 open files.
    let mut cmd = site.command_via(
        &["prlimit", "--nofile=200:200", "--"],
        &["serve", "--no-worker"],
    );
    cmd.env("WINVENTORY_HEADER_READ_TIMEOUT_SECS", "60")
        .env("WINVENTORY_IDLE_TIMEOUT_SECS", "60")
        .env("WINVENTORY_METRICS_TOKEN", "metrics-s3cret-token");
    let server = Server(cmd.spawn().expect("serve under prlimit"));
    wait_live(&site.base_url).await;
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(&site.listen).await {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
            slow.push(s);
        }
    }
    assert!(slow.len() > 200, "opened {} slow sockets", slow.len());
    // A fresh connection per probe, as a health checker makes (a kept one
    // may be the oldest, closed to make room).
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for round in 0..5 {
        // More slow sockets keep arriving between probes.
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(&site.listen).await {
                let _ = s.write_all(b"GET / HTTP/1.1\r\nX: ").await;
                slow.push(s);
            }
        }
        let r = http
            .get(format!("{}/healthz", site.base_url))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("round {round}: /healthz did not answer during the flood: {e}")
            });
        assert_eq!(r.status(), 200, "round {round}");
    }
    // /metrics asks for its token, and never echoes it.
    let r = http
        .get(format!("{}/metrics", site.base_url))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 401);
    assert!(
        !r.text()
            .await
            .unwrap_or_default()
            .contains("metrics-s3cret-token")
    );
    let r = http
        .get(format!("{}/metrics", site.base_url))
        .bearer_auth("metrics-s3cret-token")
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap_or_default()
            .contains("winventory_database_up 1")
    );
    drop(slow);
    drop(server);

    // 2. A request head sent slower than the header time-out: cut, even
    //    though bytes keep arriving.
    let mut cmd = site.command(&["serve", "--no-worker"]);
    cmd.env("WINVENTORY_HEADER_READ_TIMEOUT_SECS", "1")
        .env("WINVENTORY_IDLE_TIMEOUT_SECS", "60");
    let server = Server(cmd.spawn().expect("serve"));
    wait_live(&site.base_url).await;
    let mut s = tokio::net::TcpStream::connect(&site.listen)
        .await
        .expect("connect");
    s.write_all(b"GET /livez HTTP/1.1\r\n")
        .await
        .expect("write");
    let mut cut = false;
    for i in 0..20 {
        if s.write_all(format!("X-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
        if closed_within(&mut s, std::time::Duration::from_millis(300)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "a 6 s request head outlived a 1 s header time-out");
    drop(server);

    // 3. An idle keep-alive connection: closed after the idle time-out.
    let mut cmd = site.command(&["serve", "--no-worker"]);
    cmd.env("WINVENTORY_HEADER_READ_TIMEOUT_SECS", "60")
        .env("WINVENTORY_IDLE_TIMEOUT_SECS", "1");
    let _server = Server(cmd.spawn().expect("serve"));
    wait_live(&site.base_url).await;
    let mut s = tokio::net::TcpStream::connect(&site.listen)
        .await
        .expect("connect");
    s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(
        closed_within(&mut s, std::time::Duration::from_secs(5)).await,
        "an idle keep-alive connection outlived a 1 s idle time-out"
    );
}

/// Every admin action of the command line lands in the audit log with who,
/// role, action, target, outcome, edge and from where, failed ones too.
async fn cli_admin_actions_are_audited(backend: Backend, tag: &str) {
    let site = Site::new(backend, tag).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    for args in [
        &["campaign", "start", "retire-2012r2"][..],
        &["campaign", "pause", "retire-2012r2"],
        &["campaign", "resume", "retire-2012r2"],
        &["pause", "--all"],
        &["resume", "--all"],
        &["campaign", "close", "retire-2012r2"],
    ] {
        site.run(args);
    }
    // A refused action is audited with its error.
    let out = site
        .command(&[
            "campaign",
            "approve",
            "retire-2012r2",
            "SRV-A1",
            "--by",
            "boss",
        ])
        .env("USER", "opsadmin")
        .output()
        .expect("approve");
    assert_eq!(out.status.code(), Some(2));
    let log = site.json(&["audit", "--format", "json"]);
    let log = log.as_array().expect("array");
    let lines: Vec<(String, String, String, String)> = log
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            assert_eq!(s("channel"), "cli", "{a}");
            assert_eq!(s("role"), "operator", "{a}");
            assert!(s("origin").contains('@'), "from where: {a}");
            assert!(!s("actor").is_empty(), "{a}");
            (s("action"), s("target"), s("outcome"), s("actor"))
        })
        .collect();
    let actions: Vec<(&str, &str)> = lines
        .iter()
        .rev()
        .map(|(a, t, _, _)| (a.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "campaign create",
                site.dir
                    .path()
                    .join("c.toml")
                    .display()
                    .to_string()
                    .as_str()
            ),
            ("campaign start", "retire-2012r2"),
            ("campaign pause", "retire-2012r2"),
            ("campaign resume", "retire-2012r2"),
            ("pause --all", "all"),
            ("resume --all", "all"),
            ("campaign close", "retire-2012r2"),
            ("exception approve", "retire-2012r2 SRV-A1"),
        ]
    );
    let (_, _, outcome, actor) = &lines[0];
    assert!(outcome.starts_with("error: "), "{outcome}");
    assert_eq!(actor, "opsadmin");
    assert!(lines[1..].iter().all(|l| l.2 == "done"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_of_the_command_line_is_audited_on_sqlite() {
    cli_admin_actions_are_audited(Backend::Sqlite, "audit-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_of_the_command_line_is_audited_on_postgres() {
    cli_admin_actions_are_audited(Backend::Postgres, "audit-postgres").await;
}

/// A rehearsal under `WINVENTORY_NOW`: a draft's status says it has not
/// started (not "progress 100%"); a start within the campaign's quiet hours
/// says why nothing was queued and when it will be (their end, in the
/// campaign's time zone); the digest the worker sends after them carries
/// the rehearsed time in its `Date:` header, not the system's.
async fn a_rehearsal_in_the_quiet_hours(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let at = |now: &str, args: &[&str]| {
        let out = site
            .command(args)
            .env("WINVENTORY_NOW", now)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{args:?} at {now}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t0 = "2027-02-01T12:00:00Z";
    let server = |host: &str, owner: &str| {
        format!(
            r#"{{"hostname": "{host}", "collected_at": "2027-02-01T08:00:00Z", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "{owner}"}}"#
        )
    };
    site.run(&[
        "ingest",
        &site.write(
            "f.jsonl",
            &[server("SRV-Q1", "asmith"), server("SRV-Q2", "jdoe")].join("\n"),
        ),
        "--now",
        t0,
    ]);
    // No time zone of their own: the campaign's is theirs.
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,,en,,,\njdoe,J,{},,,fr,,,\n",
        site.email("asmith"),
        site.email("jdoe"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    let spec = campaign_file().replace(
        "[target]",
        "time_zone = \"Europe/Zurich\"\n\n[schedule]\nquiet_hours = \"19:00-08:00\"\n\n[target]",
    );
    site.run(&["campaign", "create", &site.write("c.toml", &spec)]);

    let status = at(t0, &["campaign", "status", "retire-2012r2"]);
    assert!(
        status.starts_with("retire-2012r2 (draft, not started), deadline 2027-03-31"),
        "{status}"
    );
    assert!(!status.contains("progress"), "{status}");
    let json: serde_json::Value = serde_json::from_str(&at(
        t0,
        &["campaign", "status", "retire-2012r2", "--format", "json"],
    ))
    .expect("JSON");
    assert_eq!(json["state"], "draft");
    assert!(json["progress_percent"].is_null(), "{json}");

    // 20:30 in Zurich.
    let evening = "2027-02-01T19:30:00Z";
    let started = at(evening, &["campaign", "start", "retire-2012r2"]);
    assert!(started.contains("0 messages queued"), "{started}");
    assert!(
        started.contains(
            "nothing was queued: retire-2012r2 is in its quiet hours (19:00-08:00, Europe/Zurich) until 2027-02-02 08:00 CET"
        ),
        "{started}"
    );
    at(evening, &["worker", "--once"]);
    assert!(
        site.mailbox().await.is_empty(),
        "nothing goes out in quiet hours"
    );
    let status = at(evening, &["campaign", "status", "retire-2012r2"]);
    assert!(
        status.contains("(running)") && status.contains("progress 0%"),
        "{status}"
    );

    // 08:30 in Zurich: the worker's wave queues the digests and sends them,
    // dated by the rehearsal's clock.
    let morning = "2027-02-02T07:30:00Z";
    at(morning, &["worker", "--once"]);
    let mail = site.mailbox().await;
    assert_eq!(mail.len(), 2, "{:?}", mail.keys());
    for messages in mail.values() {
        // maildev parses the Date header into `time` (the time of receipt
        // only when there is none) and leaves it out of `headers`.
        let m = &messages[0];
        let date = chrono::DateTime::parse_from_rfc3339(m["time"].as_str().expect("a time"))
            .expect("maildev's parsed Date");
        assert_eq!(date.to_rfc3339(), "2027-02-02T07:30:00+00:00", "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_not_started_a_quiet_start_says_until_when_and_mail_is_dated_by_the_rehearsal_on_sqlite()
 {
    a_rehearsal_in_the_quiet_hours(Backend::Sqlite, "quiet-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_not_started_a_quiet_start_says_until_when_and_mail_is_dated_by_the_rehearsal_on_postgres()
 {
    a_rehearsal_in_the_quiet_hours(Backend::Postgres, "quiet-postgres").await;
}
