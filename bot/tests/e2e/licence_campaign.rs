//! A licence campaign end to end, on SQLite and on PostgreSQL: MATLAB
//! installs unused for 90 days are asked about; one owner answers through
//! the links of an email (maildev), two through Matrix (Synapse: a typed
//! reply and a poll vote). A later snapshot shows one install gone and one
//! still there after its promised date; the report's figures, the export for
//! the remote-uninstall team and the what-if are checked exactly.
// matrix-sdk's sync future is deep; proving it `Send` needs more steps.

use crate::common::{Site, env};
use crate::matrix_peer::{Owner, PASSWORD, register};
use chrono::Utc;
use matrix_sdk::ruma::events::poll::unstable_response::UnstablePollResponseEventContent;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use winventory_core::store::Backend;

/// The fleet at `hours_ago`; `gone` lists hosts whose MATLAB is uninstalled.
fn fleet(hours_ago: i64, gone: &[&str]) -> String {
    let now = Utc::now();
    let at = (now - chrono::Duration::hours(hours_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let os = r#""os": {"caption": "Microsoft Windows 11 Enterprise", "version": "10.0.26100", "edition": "Enterprise", "product_type": 1}"#;
    let pc = |host: &str, owner: &str, used_days: Option<i64>| {
        let matlab = match used_days {
            Some(d) => format!(
                r#"{{"name": "MATLAB R2024a", "version": "24.1", "publisher": "MathWorks", "last_used": "{}"}}"#,
                (now - chrono::Duration::days(d))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            None => {
                r#"{"name": "MATLAB R2024a", "version": "24.1", "publisher": "MathWorks"}"#.into()
            }
        };
        let zoom = r#"{"name": "Zoom Workplace", "version": "6.2", "publisher": "Zoom"}"#;
        let software = if gone.contains(&host) {
            zoom.to_string()
        } else {
            format!("{matlab}, {zoom}")
        };
        format!(
            r#"{{"hostname": "{host}", "collected_at": "{at}", {os}, "main_user": "{owner}", "software": [{software}]}}"#
        )
    };
    [
        pc("PC1", "ann", Some(5)),   // used lately: not asked
        pc("PC2", "ann", Some(200)), // ann uninstalls it by the date (done)
        pc("PC7", "ann", Some(150)), // ann promises, and does not
        pc("PC3", "bob", Some(120)), // bob: please remove (Matrix reply)
        pc("PC4", "cid", None),      // use not metered: not asked
        pc("PC5", "dan", Some(100)), // dan: still needed (Matrix poll)
    ]
    .join("\n")
}

const CAMPAIGN: &str = r#"
name = "matlab-seats"
kind = "licence"
title = "Do you still need MATLAB?"
description = "We pay for every MATLAB install; tell us which ones can go."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
applications = ["MATLAB"]
unused_days = 90
"#;

const LICENCES: &str = r#"
[[licence]]
name = "matlab"
application = "MATLAB"
model = "per_device"
seats = 6
price = "100"
currency = "CHF"
start = 2026-01-01
"#;

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

async fn licence_campaign(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let run = format!("{tag}-{}", std::process::id());
    let bot = format!("winv-{run}");
    register(&bot).await;
    let bob_id = register(&format!("bob-{run}")).await;
    let dan_id = register(&format!("dan-{run}")).await;
    let bob = Owner::login(&format!("bob-{run}"), site.dir.path()).await;
    let dan = Owner::login(&format!("dan-{run}"), site.dir.path()).await;

    site.run(&["ingest", &site.write("fleet.jsonl", &fleet(3, &[]))]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         ann,Ann,{},,,en,,,\nbob,Bob,{},{bob_id},,en,,,\ncid,Cid,{},,,en,,,\n\
         dan,Dan,{},{dan_id},,en,,,\ndesk1,Desk,{},,,en,,,it-desk\n",
        site.email("ann"),
        site.email("bob"),
        site.email("cid"),
        site.email("dan"),
        site.email("desk1"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    let licences = site.write("licences.toml", LICENCES);
    site.run(&["campaign", "create", &site.write("c.toml", CAMPAIGN)]);
    let store = site.dir.path().join("matrix-store");
    let with_matrix = |args: &[&str], now: Option<&str>| {
        let mut cmd = site.command(args);
        cmd.env(
            "WINVENTORY_MATRIX_HOMESERVER",
            env("WINVENTORY_TEST_SYNAPSE_URL"),
        )
        .env("WINVENTORY_MATRIX_USER", &bot)
        .env("WINVENTORY_MATRIX_PASSWORD", PASSWORD)
        .env("WINVENTORY_MATRIX_STORE", &store)
        .env("WINVENTORY_LICENCES", &licences);
        if let Some(now) = now {
            cmd.env("WINVENTORY_NOW", now);
        }
        let out = cmd.output().expect("winventory");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    with_matrix(&["campaign", "start", "matlab-seats"], None);
    let report = with_matrix(&["worker", "--once"], None);
    assert!(report.contains("sent 3"), "{report}");

    // The campaign asks about the installs unused for 90 days: ann by email
    // (PC2, PC7), bob and dan in Matrix; PC1 (used lately) and PC4 (use not
    // metered) are not asked about.
    let shown = site.json(&["campaign", "show", "matlab-seats", "--format", "json"]);
    let mut hosts: Vec<&str> = shown
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|m| m["host_key"].as_str())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["pc2", "pc3", "pc5", "pc7"], "{shown}");
    let mail = site.mailbox().await;
    assert_eq!(
        mail.keys().cloned().collect::<Vec<_>>(),
        [site.email("ann")],
        "only ann has no chat address"
    );
    let text = mail[&site.email("ann")][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("whether you still need MATLAB on each of these machines")
            && text.contains("* PC2 - MATLAB (last used ")
            && !text.contains("PC1"),
        "{text}"
    );

    // ann promises both uninstalls through the email's links.
    let server = site.serve(None).await;
    let by = (Utc::now() + chrono::Duration::days(7)).date_naive();
    let http = reqwest::Client::new();
    for host in ["PC2", "PC7"] {
        let link = link_for(&text, host, "No longer needed: I will uninstall it");
        let r = http
            .post(&link)
            .form(&[("date", by.to_string())])
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    drop(server);

    // bob types a reply, dan votes in the poll; `serve` listens.
    let mut serve = site.command(&["serve"]);
    serve
        .env(
            "WINVENTORY_MATRIX_HOMESERVER",
            env("WINVENTORY_TEST_SYNAPSE_URL"),
        )
        .env("WINVENTORY_MATRIX_USER", &bot)
        .env("WINVENTORY_MATRIX_STORE", &store);
    let server = crate::common::Server(serve.spawn().expect("serve"));
    let got = bob.messages(1).await;
    assert!(
        got.first()
            .is_some_and(|m| m.contains("do you still need MATLAB") && m.contains("PC3")),
        "{got:?}"
    );
    let bob_room = bob.client.joined_rooms()[0].clone();
    bob_room
        .send(RoomMessageEventContent::text_plain("PC3 remove"))
        .await
        .expect("send");
    let got = bob.messages(2).await;
    assert!(
        got.get(1)
            .is_some_and(|m| m.contains("Recorded for PC3: no longer needed: please remove it")),
        "{got:?}"
    );
    dan.messages(1).await;
    let poll = dan.first_poll().await.expect("the digest's poll");
    let dan_room = dan.client.joined_rooms()[0].clone();
    dan_room
        .send(UnstablePollResponseEventContent::new(
            vec!["keep".into()],
            poll,
        ))
        .await
        .expect("vote");
    let got = dan.messages(2).await;
    assert!(
        got.get(1)
            .is_some_and(|m| m.contains("Recorded for PC5: still needed")),
        "{got:?}"
    );
    drop(server);

    let answers: Vec<(String, String, String)> = site
        .json(&["campaign", "show", "matlab-seats", "--format", "json"])
        .as_array()
        .expect("rows")
        .iter()
        .map(|m| {
            (
                m["host_key"].as_str().unwrap_or_default().to_string(),
                m["answer"].as_str().unwrap_or_default().to_string(),
                m["answered_by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("pc2", "uninstall", "ann"),
        ("pc3", "remove", "bob"),
        ("pc5", "keep", "dan"),
        ("pc7", "uninstall", "ann"),
    ]
    .iter()
    .map(|(h, a, b)| (h.to_string(), a.to_string(), b.to_string()))
    .collect();
    assert_eq!(answers, expected);

    // A later snapshot: PC2 no longer has MATLAB, PC7 still does.
    site.run(&["ingest", &site.write("later.jsonl", &fleet(1, &["PC2"]))]);
    with_matrix(&["worker", "--once"], None);
    // Past ann's promised date, PC7 is asked about again, and she is told.
    let later = (Utc::now() + chrono::Duration::days(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    with_matrix(&["worker", "--once"], Some(&later));
    let mail = site.mailbox().await;
    let ann = &mail[&site.email("ann")];
    assert_eq!(ann.len(), 2, "the first digest and the one asking again");
    let again = ann[1]["text"].as_str().unwrap_or_default();
    assert!(
        again.contains(&format!(
            "You answered \"uninstall by {by}\", but the latest inventory still lists it there."
        )) && again.contains("* PC7 - MATLAB")
            && !again.contains("PC2"),
        "{again}"
    );

    // The report: PC1, PC3, PC4, PC5, PC7 hold it now; PC2's seat is saved;
    // PC3 (remove) and PC7 (overdue) are not.
    let report = site.json(&[
        "report",
        "licences",
        "--licences",
        &licences,
        "--format",
        "json",
    ]);
    let m = &report[0];
    assert_eq!(
        (
            m["machines"].as_i64(),
            m["users"].as_i64(),
            m["in_use"].as_i64(),
            m["compliance"].clone(),
        ),
        (
            Some(5),
            Some(4),
            Some(5),
            serde_json::json!({"status": "under", "by": 1})
        ),
        "{report}"
    );
    assert_eq!(
        (
            m["removals_confirmed"].as_i64(),
            m["removals_pending"].as_i64(),
            m["seats_freed"].as_i64(),
            m["yearly_savings"].as_str(),
            m["yearly_cost"].as_str(),
        ),
        (Some(1), Some(2), Some(1), Some("100.00"), Some("600.00")),
        "{report}"
    );

    // The export for the team that uninstalls remotely (CSV), and what was saved.
    let csv =
        String::from_utf8_lossy(&site.run(&["licence", "removals", "--format", "csv"]).stdout)
            .to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("host,application,status,answer"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("PC3,MATLAB,pending,remove,bob,,"),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("PC7,MATLAB,overdue,uninstall,ann,{by},")),
        "{csv}"
    );
    let confirmed = site.json(&[
        "licence",
        "removals",
        "--status",
        "confirmed",
        "--format",
        "json",
    ]);
    let confirmed = confirmed.as_array().expect("rows");
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        (
            confirmed[0]["host_key"].as_str(),
            confirmed[0]["status"].as_str()
        ),
        (Some("pc2"), Some("confirmed"))
    );
    assert!(confirmed[0]["confirmed_at"].is_string());

    // What-if: without the installs answered "no longer needed" (PC3, PC7),
    // 3 seats at 100 CHF instead of the 6 owned.
    let w = site.json(&[
        "licence",
        "whatif",
        "matlab",
        "--drop-answered",
        "--licences",
        &licences,
        "--format",
        "json",
    ]);
    assert_eq!(
        (
            w["in_use_today"].as_i64(),
            w["seats_simulated"].as_i64(),
            w["cost_simulated"].as_str(),
            w["difference"].as_str()
        ),
        (Some(5), Some(3), Some("300.00"), Some("-300.00")),
        "{w}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_campaign_collects_answers_by_email_and_matrix_and_a_later_snapshot_confirms_the_savings_on_sqlite()
 {
    licence_campaign(Backend::Sqlite, "lic-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_campaign_collects_answers_by_email_and_matrix_and_a_later_snapshot_confirms_the_savings_on_postgres()
 {
    licence_campaign(Backend::Postgres, "lic-postgres").await;
}
