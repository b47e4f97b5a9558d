//! The Matrix benchmark of issue 4, run by hand (never by CI) with
//! `scripts/bench-matrix.sh`, which starts Synapse with its rate limits
//! raised and runs `cargo bench -p winventory --bench matrix`.
//!
//! In one run, against the same homeserver, bot account and rooms:
//!
//! - **digests per second**: N digests (message and poll, encrypted) queued
//!   in the outbox and delivered by `winventory worker --once` (process
//!   start and session restore included), beside the baseline, a plain
//!   matrix-sdk loop sending the same two events per digest to the same
//!   rooms from another device of the bot;
//! - **vote to commit**: owners' clients vote in their digest's poll while
//!   `winventory serve` listens; the time from the vote's send returning
//!   (the homeserver has it) to the answer being readable in the database,
//!   median and 99th percentile.
//!
//! Sizes: BENCH_OWNERS (10), BENCH_DIGESTS per owner (20), BENCH_VOTES per
//! owner (20), BENCH_BACKEND (sqlite or postgres).
#![recursion_limit = "256"]

#[path = "../tests/e2e/common/mod.rs"]
mod common;
#[path = "../tests/e2e/matrix_peer/mod.rs"]
mod matrix_peer;

use std::time::{Duration, Instant};

use common::{Site, campaign_file, env};
use matrix_peer::{Owner, PASSWORD, register};
use matrix_sdk::Client;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::poll::unstable_response::UnstablePollResponseEventContent;
use matrix_sdk::ruma::events::poll::unstable_start::{
    NewUnstablePollStartEventContent, UnstablePollAnswer, UnstablePollAnswers,
    UnstablePollStartContentBlock,
};
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use winventory_core::store::{Backend, NewMessage};

fn size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn poll() -> NewUnstablePollStartEventContent {
    let answers: UnstablePollAnswers = ["replace", "decommission", "upgrade", "not_mine"]
        .iter()
        .map(|a| UnstablePollAnswer::new(*a, *a))
        .collect::<Vec<_>>()
        .try_into()
        .expect("answers");
    NewUnstablePollStartEventContent::plain_text(
        "For all of the machines above:",
        UnstablePollStartContentBlock::new("For all of the machines above:", answers),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let owners = size("BENCH_OWNERS", 10);
    let per_owner = size("BENCH_DIGESTS", 20);
    let votes = size("BENCH_VOTES", 20);
    let backend = match std::env::var("BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let site = Site::new(backend, "bench").await;
    let run = format!("bench-{}", std::process::id());
    let bot = format!("winv-{run}");
    register(&bot).await;
    eprintln!("registering and logging in {owners} owners...");
    let mut clients = Vec::new();
    let mut fleet = Vec::new();
    let mut users = String::from(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n",
    );
    let at = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for i in 0..owners {
        let name = format!("o{i}-{run}");
        let id = register(&name).await;
        clients.push(Owner::login(&name, site.dir.path()).await);
        fleet.push(format!(
            r#"{{"hostname": "SRV-B{i:03}", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "o{i}"}}"#
        ));
        users.push_str(&format!(
            "o{i},Owner {i},{},{id},,en,,,\n",
            site.email(&format!("o{i}"))
        ));
    }
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet.join("\n"))]);
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    let store_dir = site.dir.path().join("matrix-store");
    let with_matrix = |args: &[&str]| {
        let mut cmd = site.command(args);
        cmd.env(
            "WINVENTORY_MATRIX_HOMESERVER",
            env("WINVENTORY_TEST_SYNAPSE_URL"),
        )
        .env("WINVENTORY_MATRIX_USER", &bot)
        .env("WINVENTORY_MATRIX_PASSWORD", PASSWORD)
        .env("WINVENTORY_MATRIX_STORE", &store_dir)
        .env("WINVENTORY_DELIVERY_RATE", "100000");
        cmd
    };
    let worker = || {
        let out = with_matrix(&["worker", "--once"]).output().expect("worker");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let out = with_matrix(&["campaign", "start", "retire-2012r2"])
        .output()
        .expect("start");
    assert!(out.status.success());
    // Warm-up: the first digests open the rooms and the encryption sessions.
    let report = worker();
    assert!(report.contains(&format!("sent {owners}")), "{report}");
    for c in &clients {
        assert_eq!(
            c.messages(1).await.len(),
            1,
            "every owner got the first digest"
        );
    }
    let db = winventory_core::store::connect(&site.db.url)
        .await
        .expect("store");
    let first = db.outbox().await.expect("outbox").remove(0);

    // Fixed cost of a worker process with nothing to do.
    let started = Instant::now();
    worker();
    let idle = started.elapsed().as_secs_f64();

    // Ours: N digests through the outbox and `worker --once`.
    let n = owners * per_owner;
    let rows: Vec<NewMessage> = (0..n)
        .map(|k| {
            let i = k % owners;
            NewMessage {
                idem_key: format!("digest:bench:{run}:{k}"),
                message_id: format!("<bench.{run}.{k}@{}>", site.domain),
                channel: "matrix".into(),
                recipient: format!("o{i}"),
                address: clients[i]
                    .client
                    .user_id()
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                fallback: None,
                subject: first.subject.clone(),
                body_text: first.body_text.clone(),
                body_html: first.body_html.clone(),
                machines: Vec::new(),
                reminder: false,
                actions: first.actions.clone(),
                buttons: None,
            }
        })
        .collect();
    db.enqueue(&rows, chrono::Utc::now())
        .await
        .expect("enqueue");
    eprintln!("delivering {n} digests through the outbox...");
    let started = Instant::now();
    let report = worker();
    let ours = started.elapsed().as_secs_f64();
    assert!(report.contains(&format!("sent {n}")), "{report}");

    // Baseline: a plain matrix-sdk loop from another device of the bot.
    let plain = Client::builder()
        .homeserver_url(env("WINVENTORY_TEST_SYNAPSE_URL"))
        .sqlite_store(site.dir.path().join("plain-store"), None)
        .build()
        .await
        .expect("client");
    plain
        .matrix_auth()
        .login_username(&bot, PASSWORD)
        .send()
        .await
        .expect("log-in");
    plain
        .sync_once(SyncSettings::default())
        .await
        .expect("sync");
    let mut rooms = Vec::new();
    for c in &clients {
        let owner_room = c.client.joined_rooms().remove(0);
        rooms.push(
            plain
                .get_room(owner_room.room_id())
                .expect("the bot's room"),
        );
    }
    // Its own warm-up: encryption sessions for the new device.
    for room in &rooms {
        room.send(RoomMessageEventContent::text_plain("warm-up"))
            .await
            .expect("send");
    }
    eprintln!("sending {n} digests in a plain matrix-sdk loop...");
    let started = Instant::now();
    for k in 0..n {
        let room = &rooms[k % owners];
        let content = match &first.body_html {
            Some(html) => RoomMessageEventContent::text_html(first.body_text.clone(), html.clone()),
            None => RoomMessageEventContent::text_plain(first.body_text.clone()),
        };
        room.send(content).await.expect("send");
        room.send(poll()).await.expect("poll");
    }
    let baseline = started.elapsed().as_secs_f64();

    println!(
        "backend: {backend:?}; owners: {owners}; Synapse at {}",
        env("WINVENTORY_TEST_SYNAPSE_URL")
    );
    println!("digests (message + poll, encrypted): {n}");
    println!(
        "  baseline, plain matrix-sdk loop: {baseline:.2} s, {:.1} digests/s",
        n as f64 / baseline
    );
    println!(
        "  outbox + `worker --once`:        {ours:.2} s, {:.1} digests/s ({:.2}x the baseline's time; an idle worker process takes {idle:.2} s)",
        n as f64 / ours,
        ours / baseline
    );

    // Vote to commit, with `serve` listening (the outbox is empty by now).
    let mut serve = with_matrix(&["serve"]);
    let _server = common::Server(serve.spawn().expect("serve"));
    let campaign = db
        .campaign("retire-2012r2")
        .await
        .expect("campaign")
        .expect("campaign row")
        .id;
    let cast = |i: usize, answer: &'static str| {
        let c = &clients[i];
        let room = c.client.joined_rooms().remove(0);
        let poll = c.polls.lock().expect("polls")[0].clone();
        async move {
            room.send(UnstablePollResponseEventContent::new(
                vec![answer.to_string()],
                poll,
            ))
            .await
            .expect("vote");
        }
    };
    let committed = |i: usize, answer: &'static str| {
        let db = db.clone();
        let host = format!("srv-b{i:03}");
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let rows = db.campaign_machines(campaign).await.expect("machines");
                if rows
                    .iter()
                    .any(|m| m.host_key == host && m.answer.as_deref() == Some(answer))
                {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            false
        }
    };
    // Warm-up: one vote each, once the listener is there.
    eprintln!("warming up the listener...");
    for i in 0..owners {
        cast(i, "replace").await;
        assert!(committed(i, "replace").await, "the listener records votes");
    }
    eprintln!("measuring {} votes...", owners * votes);
    let mut latencies = Vec::new();
    for r in 0..votes {
        let answer = if r % 2 == 0 {
            "decommission"
        } else {
            "replace"
        };
        for i in 0..owners {
            cast(i, answer).await;
            let reached = Instant::now();
            assert!(committed(i, answer).await, "vote {r} of owner {i}");
            latencies.push(reached.elapsed().as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;

    println!(
        "vote to commit ({} votes): median {:.1} ms, p99 {:.1} ms, mean {mean:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
}
