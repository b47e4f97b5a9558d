//! Answers "for all" answer the machines of the message they belong to, and
//! links carry nothing personal in clear; on SQLite and PostgreSQL, through
//! the engine (no channel runs: messages are read from the outbox).
//!
//! The site: asmith owns SRV-A1 and SRV-A2, jdoe (on Matrix) SRV-J1, all
//! Windows Server 2012 R2. A first wave sends their digests; then SRV-A3 and
//! SRV-J2 appear and a second campaign starts, the same day, so none of
//! those is in any message yet.

use std::io::Cursor;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use winventory_core::store::{Backend, CampaignState, OutboxRow, Store, UserImport};
use winventory_core::testing::fresh_database;
use winventory_core::{Catalog, User, on_both_backends};
use winventory_ingest::cmf::Input;
use winventory_ingest::{IngestOptions, Pipeline};
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::engine::{ChatError, Engine, EngineConfig, LinkError};
use winventory_workflows::render::Templates;
use winventory_workflows::reply::Target;
use winventory_workflows::token::{Claims, Signer};

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
const BASE: &str = "https://winv.example.org";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T09:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn campaign(name: &str) -> String {
    format!(
        r#"
name = "{name}"
kind = "eol"
title = "Windows Server 2012 R2 retirement ({name})"
description = "No more security updates."
deadline = "2027-03-31"
fallback_group = "it-desk"

[target]
os = [{{ product = "windows-server", cycles = ["2012-r2"] }}]
"#
    )
}

fn server(host: &str, owner: &str, at: DateTime<Utc>) -> String {
    format!(
        r#"{{"hostname": "{host}", "collected_at": "{}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "{owner}"}}"#,
        at.to_rfc3339()
    )
}

async fn ingest(store: &Arc<dyn Store>, lines: &[String], now: DateTime<Utc>) {
    let text = lines.join("\n");
    let input = Input::from_reader(
        "fleet.jsonl",
        Box::new(Cursor::new(text.into_bytes())),
        None,
    )
    .map_err(|e| ("fleet.jsonl".to_string(), e));
    let summary = Pipeline::new(
        store.clone(),
        Arc::new(Catalog::builtin()),
        None,
        IngestOptions::new(now),
    )
    .run(vec![input])
    .await;
    assert_eq!(summary.exit_code(), 0, "{summary:?}");
}

fn user(login: &str, matrix: bool) -> UserImport {
    UserImport {
        user: User {
            login: login.into(),
            name: Some(login.to_uppercase()),
            email: Some(format!("{login}@corp.example")),
            matrix_id: matrix.then(|| format!("@{login}:corp.example")),
            mattermost_username: None,
            language: Some("en".into()),
            time_zone: None,
            manager: None,
        },
        groups: Vec::new(),
    }
}

async fn site(backend: Backend) -> (winventory_core::testing::TestDb, Engine) {
    let db = fresh_database(backend).await;
    let store = winventory_core::store::connect(&db.url)
        .await
        .expect("store");
    ingest(
        &store,
        &[
            server("SRV-A1", "asmith", t0() - Duration::hours(1)),
            server("SRV-A2", "asmith", t0() - Duration::hours(1)),
            server("SRV-J1", "jdoe", t0() - Duration::hours(1)),
        ],
        t0(),
    )
    .await;
    store
        .import_users(&[user("asmith", false), user("jdoe", true)], t0())
        .await
        .expect("users");
    let engine = Engine {
        store,
        catalog: Arc::new(Catalog::builtin()),
        templates: Arc::new(Templates::new(None)),
        signer: Some(Arc::new(
            Signer::from_spec(&format!("k1:{SECRET}")).expect("keys"),
        )),
        config: EngineConfig {
            base_url: BASE.into(),
            message_domain: "winv.example.org".into(),
            freshness_days: 90,
            link_grace_days: 30,
            chat_channels: vec!["matrix".into()],
        },
        licences: None,
        titles: Default::default(),
    };
    (db, engine)
}

/// Start campaign `name` and plan a wave at `now`.
async fn start(e: &Engine, name: &str, now: DateTime<Utc>) {
    e.create(&campaign(name), now).await.expect("create");
    e.set_state(name, CampaignState::Running, now)
        .await
        .expect("start");
    e.tick(now).await.expect("wave");
}

/// The first wave, then the machines and the campaign that came after it.
async fn after_the_digests(e: &Engine) {
    start(e, "retire-a", t0()).await;
    let later = t0() + Duration::hours(1);
    ingest(
        &e.store,
        &[
            server("SRV-A3", "asmith", later - Duration::minutes(5)),
            server("SRV-J2", "jdoe", later - Duration::minutes(5)),
        ],
        later,
    )
    .await;
    let wave = e.tick(later).await.expect("wave");
    assert_eq!(wave.machines_added, 2, "{wave:?}");
    assert_eq!(wave.queued, 0, "one digest a day: {wave:?}");
    start(e, "retire-b", later).await;
}

async fn digest_of(e: &Engine, login: &str) -> OutboxRow {
    e.store
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .find(|m| m.recipient == login)
        .unwrap_or_else(|| panic!("no digest for {login}"))
}

/// Every answer URL of a message.
fn urls(m: &OutboxRow) -> Vec<String> {
    m.body_text
        .split_whitespace()
        .filter(|w| w.starts_with(BASE))
        .map(str::to_string)
        .collect()
}

fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

/// The token of `m`'s link answering `kind` for all its machines.
fn all_link(e: &Engine, m: &OutboxRow, kind: AnswerKind) -> String {
    let signer = e.signer.clone().expect("signer");
    urls(m)
        .iter()
        .map(|u| token_of(u).to_string())
        .find(|t| {
            signer
                .verify(t, t0())
                .is_ok_and(|c| c.machine.is_none() && c.answer == kind)
        })
        .unwrap_or_else(|| panic!("no link for all machines in {}", m.body_text))
}

/// (campaign, host) -> answer, for every machine of both campaigns.
async fn answers(e: &Engine) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for name in ["retire-a", "retire-b"] {
        let Ok(c) = e.campaign(name).await else {
            continue;
        };
        for m in e.store.campaign_machines(c.row.id).await.expect("machines") {
            out.push((name.to_string(), m.host_key, m.answer));
        }
    }
    out
}

fn answered(rows: &[(String, String, Option<String>)]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.2.is_some())
        .map(|r| format!("{}/{}", r.0, r.1))
        .collect()
}

/// A version-2 token, as releases before version 3 signed them.
fn sign_v2(c: &Claims) -> String {
    let payload = B64.encode(format!(
        "2|{}|{}|{}|{}|{}|{}",
        c.campaign,
        c.recipient,
        c.machine.map(|m| m.to_string()).unwrap_or_default(),
        c.answer.as_str(),
        c.expires.timestamp(),
        c.person,
    ));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(b"k1.");
    mac.update(payload.as_bytes());
    format!("k1.{payload}.{}", B64.encode(mac.finalize().into_bytes()))
}

fn no_fields(kind: AnswerKind) -> Answer {
    Answer {
        kind,
        date: None,
        detail: None,
        comment: None,
    }
}

on_both_backends!(
    async fn a_link_for_all_answers_the_machines_its_message_listed_and_no_later_one(backend) {
        let (_db, e) = site(backend).await;
        after_the_digests(&e).await;
        let digest = digest_of(&e, "asmith").await;
        assert_eq!(digest.channel, "email");
        let token = all_link(&e, &digest, AnswerKind::Decommission);
        let now = t0() + Duration::hours(2);
        let view = e.open_link(&token, now).await.expect("the link opens");
        assert_eq!(view.machines, ["SRV-A1", "SRV-A2"]);
        let (_, n) = e
            .answer_link(&token, None, None, None, now)
            .await
            .expect("recorded");
        assert_eq!(n, 2);
        assert_eq!(
            answered(&answers(&e).await),
            ["retire-a/srv-a1", "retire-a/srv-a2"],
            "SRV-A3 joined after the digest; retire-b's machines are in no message"
        );
    }
);

on_both_backends!(
    async fn answer_links_carry_no_login_address_or_host_in_clear(backend) {
        let (_db, e) = site(backend).await;
        after_the_digests(&e).await;
        let digest = digest_of(&e, "asmith").await;
        let links = urls(&digest);
        assert!(links.len() >= 4, "{links:?}");
        for url in &links {
            let lower = url.to_lowercase();
            for personal in ["asmith", "corp.example", "srv-a1", "srv-a2", "digest"] {
                assert!(!lower.contains(personal), "{personal} in {url}");
            }
            // Not even once decoded: the claims are sealed.
            let sealed = token_of(url).split('.').nth(1).expect("KID.SEALED");
            let bytes = B64.decode(sealed).expect("base64");
            assert!(
                !String::from_utf8_lossy(&bytes).contains("asmith"),
                "{url}"
            );
        }
    }
);

on_both_backends!(
    async fn links_signed_as_version_2_keep_working_until_they_expire(backend) {
        let (_db, e) = site(backend).await;
        after_the_digests(&e).await;
        let a = e.campaign("retire-a").await.expect("campaign");
        let machines = e
            .store
            .campaign_machines(a.row.id)
            .await
            .expect("machines");
        let a1 = machines
            .iter()
            .find(|m| m.host_key == "srv-a1")
            .expect("SRV-A1");
        let expires = t0() + Duration::days(30);
        let one = sign_v2(&Claims {
            campaign: a.row.id,
            recipient: "asmith".into(),
            person: "asmith".into(),
            machine: Some(a1.machine_id),
            message: None,
            answer: AnswerKind::Replace,
            expires,
        });
        let now = t0() + Duration::hours(2);
        let (view, n) = e
            .answer_link(&one, None, None, None, now)
            .await
            .expect("a version-2 link still works");
        assert_eq!((view.machines.as_slice(), n), (["SRV-A1".to_string()].as_slice(), 1));
        // A version-2 link for all machines names no message: it answers
        // those already listed in one, not SRV-A3.
        let all = sign_v2(&Claims {
            campaign: a.row.id,
            recipient: "asmith".into(),
            person: "asmith".into(),
            machine: None,
            message: None,
            answer: AnswerKind::Decommission,
            expires,
        });
        let (view, _) = e
            .answer_link(&all, None, None, None, now)
            .await
            .expect("recorded");
        assert_eq!(view.machines, ["SRV-A1", "SRV-A2"]);
        // And stops at its expiry.
        assert!(matches!(
            e.open_link(&one, expires).await,
            Err(LinkError::Token(_))
        ));
    }
);

on_both_backends!(
    async fn a_poll_vote_and_a_typed_all_answer_the_machines_of_the_chat_digest(backend) {
        let (_db, e) = site(backend).await;
        after_the_digests(&e).await;
        let now = t0() + Duration::hours(2);
        let digest = digest_of(&e, "jdoe").await;
        assert_eq!(digest.channel, "matrix");
        // Nothing delivered in the chat yet: "all" names no list.
        let typed = e
            .answer_chat("jdoe", "matrix", &Target::All, no_fields(AnswerKind::Replace), now)
            .await;
        assert!(matches!(typed, Err(ChatError::NoList)), "{typed:?}");
        let claimed = e
            .store
            .claim_due(now, Duration::minutes(5), 10)
            .await
            .expect("claim");
        for m in &claimed {
            e.store.mark_sent(m.id, now).await.expect("sent");
        }
        e.store
            .set_remote_id(digest.id, "$poll-of-jdoe")
            .await
            .expect("poll id");
        // Someone else's vote in that poll answers nothing.
        let foreign = e
            .answer_poll("asmith", "matrix", "$poll-of-jdoe", no_fields(AnswerKind::Replace), now)
            .await;
        assert!(matches!(foreign, Err(ChatError::NoList)), "{foreign:?}");
        let voted = e
            .answer_poll("jdoe", "matrix", "$poll-of-jdoe", no_fields(AnswerKind::Replace), now)
            .await
            .expect("the vote is recorded");
        assert_eq!(voted.recorded, ["SRV-J1"]);
        assert_eq!(voted.still_open, ["SRV-J2"]);
        let typed = e
            .answer_chat(
                "jdoe",
                "matrix",
                &Target::All,
                no_fields(AnswerKind::Decommission),
                now,
            )
            .await
            .expect("typed all is recorded");
        assert_eq!(typed.recorded, ["SRV-J1"]);
        assert_eq!(
            answered(&answers(&e).await),
            ["retire-a/srv-j1"],
            "neither SRV-J2 nor retire-b's machines"
        );
        // Naming a machine still answers it, whatever the messages.
        let named = e
            .answer_chat(
                "jdoe",
                "matrix",
                &Target::Host("srv-j2".into()),
                no_fields(AnswerKind::Replace),
                now,
            )
            .await
            .expect("by name");
        assert_eq!(named.recorded, ["SRV-J2"]);
    }
);
