//! The web pages in a real browser: this test serves a site with the test
//! fleet and a running campaign on the port scripts/test.sh registered at
//! the OpenID provider, and runs bot/tests/browser/pages.mjs (headless
//! Chromium through playwright-core, axe-core on every page), which signs
//! in through the provider's own form, follows the fleet chart, answers on
//! "my machines" and by an e-mail link while an admin's campaign page
//! updates without a reload, and checks a viewer's forged POST is refused.

use std::net::SocketAddr;
use std::process::Command;

use winventory_workflows::answer::AnswerKind;
use winventory_workflows::token::Claims;

use crate::common::env;
use crate::web::{CAMPAIGN, web_site_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_people_sign_in_answer_and_watch_a_campaign_page_follow_without_a_reload() {
    let issuer = env("WINVENTORY_TEST_OIDC_ISSUER");
    let port = env("WINVENTORY_TEST_BROWSER_PORT");
    let base = format!("http://127.0.0.1:{port}");
    // With the site's licences, for the licence pages.
    let files = tempfile::tempdir().expect("temp dir");
    let book = files.path().join("licences.toml");
    std::fs::write(&book, crate::licences::licence_file()).expect("licence file");
    let site = web_site_with(
        &issuer,
        &base,
        &format!("licences = \"{}\"", book.display()),
    )
    .await;

    // The links the people got: asmith's "my machines", jdoe's answer for SRV-J1.
    let engine = site.app.engine().await.expect("engine");
    let signer = engine.signer.clone().expect("link keys");
    let now = site.app.clock.now();
    let me_link = format!(
        "{base}/me/link/{}",
        signer.sign_personal("asmith", now + chrono::Duration::days(30))
    );
    let campaign = site
        .app
        .store
        .campaign(CAMPAIGN)
        .await
        .expect("read")
        .expect("campaign");
    let j1 = site
        .app
        .store
        .machine("srv-j1")
        .await
        .expect("read")
        .expect("SRV-J1");
    let email_link = format!(
        "{base}/answer/{}",
        signer.sign(&Claims {
            campaign: campaign.id,
            recipient: "jdoe".into(),
            person: "jdoe".into(),
            machine: Some(j1.id),
            message: None,
            answer: AnswerKind::Decommission,
            expires: now + chrono::Duration::days(30),
        })
    );

    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("the browser test's port");
    let router = site.router.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });

    let out = site.dir.path().join("browser.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/pages.mjs");
    let run = tokio::task::spawn_blocking({
        let (base, out) = (base.clone(), out.clone());
        move || {
            Command::new("node")
                .arg(script)
                .arg(&base)
                .arg(&out)
                .env("CHROMIUM", env("WINVENTORY_TEST_CHROMIUM"))
                .env("MODULES", env("WINVENTORY_TEST_BROWSER_MODULES"))
                .env("ME_LINK", me_link)
                .env("EMAIL_LINK", email_link)
                .output()
                .expect("node runs")
        }
    })
    .await
    .expect("the browser run");
    server.abort();
    let report: serde_json::Value = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    assert!(
        run.status.success(),
        "the browser run failed: {}\n{}\nreport: {report:#}",
        String::from_utf8_lossy(&run.stderr),
        String::from_utf8_lossy(&run.stdout)
    );
    // What it saw: every page checked, the live update under a second.
    for page in [
        "fleet",
        "machines",
        "machine",
        "campaigns",
        "campaign",
        "me",
        "answer link",
    ] {
        assert!(
            report["pages"][page].is_object(),
            "{page} was checked: {report:#}"
        );
    }
    assert_eq!(
        report["steps"].as_array().map(Vec::len),
        Some(6),
        "{report:#}"
    );
    let live_ms = report["live_ms"].as_u64().expect("measured");
    assert!(
        live_ms < 1_000,
        "the answer reached the open page in {live_ms} ms"
    );
    // The answers were stored, by the channels that took them.
    let machines = site
        .app
        .store
        .campaign_machines(campaign.id)
        .await
        .expect("machines");
    let by: Vec<(&str, Option<&str>)> = machines
        .iter()
        .map(|m| (m.hostname.as_str(), m.answered_by.as_deref()))
        .collect();
    assert_eq!(
        by,
        [
            ("SRV-A1", Some("asmith")),
            ("SRV-A2", Some("asmith")),
            ("SRV-J1", Some("jdoe")),
            ("SRV-ORPHAN", None)
        ]
    );
    assert_eq!(
        site.app
            .store
            .campaign(CAMPAIGN)
            .await
            .expect("read")
            .expect("campaign")
            .state,
        winventory_core::store::CampaignState::Running,
        "the viewer's forged close changed nothing"
    );
}
