//! Campaign digests over Matrix against a real Synapse (started by
//! `scripts/test.sh`, which sets WINVENTORY_TEST_SYNAPSE_URL and
//! WINVENTORY_TEST_SYNAPSE_SECRET). The bot and the owners are registered
//! with the shared secret; each owner is a real matrix-sdk client with its
//! own encryption keys, which accepts the bot's invitation and reads the
//! digest from the encrypted direct room. Owners without a Matrix ID, and
//! those whose Matrix delivery is refused for good, get email (maildev).
// matrix-sdk's sync future is deep; proving it `Send` needs more steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Site, campaign_file, env, fleet};
use crate::matrix_peer::{Owner, PASSWORD, register, register_as};
use matrix_sdk::ruma::events::poll::unstable_response::UnstablePollResponseEventContent;
use matrix_sdk::ruma::events::room::member::MembershipState;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use winventory_core::store::Backend;

async fn digests_over_matrix(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let run = format!("{tag}-{}", std::process::id());
    let bot = format!("winv-{run}");
    register(&bot).await;
    let asmith = register(&format!("asmith-{run}")).await;
    // jdoe's Matrix ID names nobody: delivery is refused, email takes over.
    let ghost = format!("@ghost-{run}:localhost");
    let owner = Owner::login(&format!("asmith-{run}"), site.dir.path()).await;
    let boss = register(&format!("boss-{run}")).await;
    let stranger = register(&format!("stranger-{run}")).await;

    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Alice Smith,{},{asmith},,en,,,\njdoe,Jean Doe,{},{ghost},,en,,,\ndesk1,Desk,{},,,en,,,it-desk\n\
         boss,Boss,{},{boss},,en,,,it-admins\n",
        site.email("asmith"),
        site.email("jdoe"),
        site.email("desk1"),
        site.email("boss"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    // The site's configuration names the homeserver for every command.
    let store = site.dir.path().join("matrix-store");
    let with_matrix = |args: &[&str]| {
        let out = site
            .command(args)
            .env(
                "WINVENTORY_MATRIX_HOMESERVER",
                env("WINVENTORY_TEST_SYNAPSE_URL"),
            )
            .env("WINVENTORY_MATRIX_USER", &bot)
            .env("WINVENTORY_MATRIX_PASSWORD", PASSWORD)
            .env("WINVENTORY_MATRIX_STORE", &store)
            .output()
            .expect("winventory");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains(PASSWORD), "the password is never printed");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    with_matrix(&["campaign", "start", "retire-2012r2"]);
    let worker = || with_matrix(&["worker", "--once"]);
    let report = worker();
    assert!(
        report.contains("sent 3") && report.contains("fell back to email 1"),
        "{report}"
    );

    // asmith reads the digest in an encrypted direct room with the bot.
    let got = owner.messages(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("SRV-A1") && got[0].contains("SRV-A2") && !got[0].contains("SRV-J1"),
        "{}",
        got[0]
    );
    let rooms = owner.client.joined_rooms();
    assert_eq!(rooms.len(), 1);
    assert!(
        rooms[0]
            .latest_encryption_state()
            .await
            .expect("state")
            .is_encrypted()
    );

    // Email: jdoe by fallback, desk1 (no Matrix ID) directly; asmith none.
    let mail = site.mailbox().await;
    assert_eq!(
        mail.keys().cloned().collect::<Vec<_>>(),
        [site.email("desk1"), site.email("jdoe")]
    );
    let outbox = String::from_utf8_lossy(&site.run(&["outbox"]).stdout).to_string();
    assert!(outbox.contains("sent 3"), "{outbox}");

    // A restart keeps the session (same device) and sends nothing again.
    assert!(store.join("session.json").exists());
    let report = worker();
    assert!(report.contains("sent 0"), "{report}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(owner.inbox.lock().expect("inbox").len(), 1);

    // A resend long after the first attempt, when the homeserver has
    // forgotten the transaction ID (here: a new one), finds the digest and
    // its poll in the room and sends neither again.
    winventory_core::testing::execute(
        &site.db.url,
        "UPDATE outbox SET state = 'pending', attempts = 1, sent_at = NULL, \
         next_attempt_at = 0, message_id = message_id || '.late' \
         WHERE channel = 'matrix' AND recipient = 'asmith'",
    )
    .await;
    let report = worker();
    assert!(report.contains("sent 1"), "{report}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(owner.inbox.lock().expect("inbox").len(), 1);
    assert_eq!(owner.polls.lock().expect("polls").len(), 1);

    // The bot's device is cross-signed by the bot, as the owner's client sees it.
    let bot_id = matrix_sdk::ruma::UserId::parse(format!("@{bot}:localhost")).expect("bot id");
    let devices = owner
        .client
        .encryption()
        .get_user_devices(&bot_id)
        .await
        .expect("the bot's devices");
    let signed: Vec<bool> = devices
        .devices()
        .map(|d| d.is_cross_signed_by_owner())
        .collect();
    assert!(
        !signed.is_empty() && signed.iter().all(|s| *s),
        "every device of the bot is cross-signed: {signed:?}"
    );

    // asmith answers in the room; `serve` listens, records, confirms.
    let licences = site.write(
        "licences.toml",
        "[[licence]]\nname = \"zoom-campus\"\napplication = \"Zoom\"\nmodel = \"per_user\"\n\
         seats = 10\nprice = \"120\"\ncurrency = \"CHF\"\nstart = 2026-01-01\n",
    );
    let mut serve = site.command(&["serve"]);
    serve
        .env("WINVENTORY_LICENCES", &licences)
        .env("WINVENTORY_ADMIN_GROUPS", "it-admins")
        .env(
            "WINVENTORY_MATRIX_HOMESERVER",
            env("WINVENTORY_TEST_SYNAPSE_URL"),
        )
        .env("WINVENTORY_MATRIX_USER", &bot)
        .env("WINVENTORY_MATRIX_STORE", &store);
    let server = crate::common::Server(serve.spawn().expect("serve"));
    let room = &rooms[0];
    let say = |text: String| {
        let room = room.clone();
        async move {
            room.send(RoomMessageEventContent::text_plain(text))
                .await
                .expect("send");
        }
    };
    let by = (chrono::Utc::now() + chrono::Duration::days(40)).date_naive();
    say(format!("SRV-A1 upgrade by {by}")).await;
    let got = owner.messages(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[1].contains("Recorded for SRV-A1") && got[1].contains("SRV-A2"),
        "the bot confirms and says what is still open: {}",
        got[1]
    );
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let a1 = shown
        .as_array()
        .and_then(|a| a.iter().find(|m| m["host_key"] == "srv-a1"))
        .cloned()
        .expect("srv-a1");
    assert_eq!(
        (
            a1["answer"].clone(),
            a1["answered_by"].clone(),
            a1["answer_date"].clone()
        ),
        ("upgrade".into(), "asmith".into(), by.to_string().into())
    );
    // Help, a line it cannot read, and a machine that is not theirs.
    say("help".into()).await;
    say("SRV-A2 maybe later".into()).await;
    say("SRV-J1 decommission".into()).await;
    let got = owner.messages(5).await;
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got[2].contains("Answer one line per machine"), "{}", got[2]);
    assert!(got[3].contains("did not find an answer"), "{}", got[3]);
    assert!(
        got[4].contains("srv-j1 is not among the machines I asked you about")
            || got[4].contains("SRV-J1 is not among"),
        "{}",
        got[4]
    );
    // An owner may look at their own machines, not at others', and may not
    // run admin commands.
    say("mine".into()).await;
    say("machine SRV-J1".into()).await;
    // Every admin command at once (one line each): each one refused.
    let admin_only = [
        "campaign pause retire-2012r2",
        "eol",
        "eol within 365 windows-server",
        "campaign list",
        "campaign status retire-2012r2",
        "campaign remind retire-2012r2",
        "campaign resume retire-2012r2",
        "stats",
        "owner jdoe",
        "licence Zoom",
    ];
    say(admin_only.join("\n")).await;
    let got = owner.messages(8).await;
    assert_eq!(got.len(), 8, "{got:?}");
    assert!(
        got[5].contains("3 machines of asmith; 1 waiting"),
        "{}",
        got[5]
    );
    assert!(
        got[5].contains("srv-a2") || got[5].contains("SRV-A2"),
        "{}",
        got[5]
    );
    assert!(got[6].contains("only the IT team's admins"), "{}", got[6]);
    assert_eq!(
        got[7].matches("only the IT team's admins").count(),
        admin_only.len(),
        "{}",
        got[7]
    );
    let listed = site.json(&["campaign", "list", "--format", "json"]);
    assert_eq!(listed[0]["state"], "running", "{listed}");

    // An admin (group it-admins) opens a room with the bot and runs them.
    let admin = Owner::login(&format!("boss-{run}"), site.dir.path()).await;
    let admin_room = admin
        .client
        .create_dm(&bot_id)
        .await
        .expect("a room with the bot");
    for _ in 0..100 {
        let joined = admin_room
            .get_member(&bot_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| *m.membership() == MembershipState::Join);
        if joined {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    admin_room
        .send(RoomMessageEventContent::text_plain(
            "machine SRV-J1\ncampaign pause retire-2012r2\nlicence Zoom\neol\ncampaign list\n\
             campaign status retire-2012r2\ncampaign remind retire-2012r2\nstats\nowner jdoe",
        ))
        .await
        .expect("send");
    let got = admin.messages(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]
            .contains("SRV-J1: Microsoft Windows Server 2012 R2 Standard (Windows Server 2012 R2)"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("is paused now"), "{}", got[0]);
    assert!(!got[0].contains("only the IT team's admins"), "{}", got[0]);
    assert!(
        got[0].contains("Licence zoom-campus (Zoom)")
            && got[0].contains("under by 10")
            && got[0].contains("1200.00 CHF"),
        "{}",
        got[0]
    );
    let listed = site.json(&["campaign", "list", "--format", "json"]);
    assert_eq!(listed[0]["state"], "paused", "{listed}");
    // SRV-A3 appears after the digest: resuming adds it to the campaign
    // (and asks about it in a message of its own), not to the digest's poll.
    let at = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let a3 = format!(
        r#"{{"hostname": "SRV-A3", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "asmith"}}"#
    );
    site.run(&["ingest", &site.write("a3.jsonl", &a3)]);
    site.run(&["campaign", "resume", "retire-2012r2"]);

    // A stranger's invitation is declined, and nothing they try is done.
    let outsider = Owner::login(&format!("stranger-{run}"), site.dir.path()).await;
    let outsider_room = outsider.client.create_dm(&bot_id).await.expect("room");
    let mut declined = false;
    for _ in 0..100 {
        declined = outsider_room
            .get_member(&bot_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|m| *m.membership() == MembershipState::Leave);
        if declined {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        declined,
        "the bot declines a stranger's invitation ({stranger})"
    );
    let audit = site.json(&["audit", "--format", "json"]);
    let lines: Vec<(String, String, String)> = audit
        .as_array()
        .expect("lines")
        .iter()
        .map(|a| {
            (
                a["actor"].as_str().unwrap_or_default().to_string(),
                a["command"].as_str().unwrap_or_default().to_string(),
                a["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let outcome = |who: &str, what: &str| {
        lines
            .iter()
            .find(|(a, c, _)| a == who && c == what)
            .map(|(_, _, o)| o.split(':').next().unwrap_or_default().to_string())
    };
    assert_eq!(
        outcome("asmith", "campaign pause retire-2012r2").as_deref(),
        Some("refused"),
        "{audit}"
    );
    for cmd in admin_only {
        assert_eq!(
            outcome("asmith", cmd).as_deref(),
            Some("refused"),
            "{cmd}: {audit}"
        );
    }
    for cmd in ["stats", "campaign list", "owner jdoe", "licence Zoom"] {
        assert_eq!(
            outcome("boss", cmd).as_deref(),
            Some("done"),
            "{cmd}: {audit}"
        );
    }
    assert_eq!(
        outcome("asmith", "mine").as_deref(),
        Some("done"),
        "{audit}"
    );
    assert_eq!(
        outcome("boss", "campaign pause retire-2012r2").as_deref(),
        Some("done"),
        "{audit}"
    );

    // Nothing else was recorded.
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let answered = shown
        .as_array()
        .expect("rows")
        .iter()
        .filter(|m| !m["answer"].is_null())
        .count();
    assert_eq!(answered, 1, "{shown}");

    // The digest came with a poll; a vote answers for all the machines of
    // that digest: not SRV-A3, which joined the campaign after it.
    let poll = owner.first_poll().await.expect("the digest's poll");
    room.send(UnstablePollResponseEventContent::new(
        vec!["replace".into()],
        poll,
    ))
    .await
    .expect("vote");
    let got = owner.messages(9).await;
    assert_eq!(got.len(), 9, "{got:?}");
    assert!(
        got[8].contains("Recorded for SRV-A1, SRV-A2: will replace"),
        "{}",
        got[8]
    );
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    let replace: Vec<&str> = shown
        .as_array()
        .expect("rows")
        .iter()
        .filter(|m| m["answer"] == "replace" && m["answered_by"] == "asmith")
        .filter_map(|m| m["host_key"].as_str())
        .collect();
    assert_eq!(replace, ["srv-a1", "srv-a2"], "{shown}");
    assert!(
        shown
            .as_array()
            .expect("rows")
            .iter()
            .any(|m| m["host_key"] == "srv-a3" && m["answer"].is_null()),
        "srv-a3 is in the campaign, unanswered: {shown}"
    );

    // Restart: an answer typed while the bot is down is handled once, after
    // it is back; nothing said before is handled again.
    drop(server);
    say("SRV-A2 decommission".into()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _again = crate::common::Server(serve.spawn().expect("serve again"));
    let got = owner.messages(10).await;
    assert_eq!(got.len(), 10, "{got:?}");
    assert!(
        got[9].contains("Recorded for SRV-A2: will decommission"),
        "{}",
        got[9]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        owner.inbox.lock().expect("inbox").len(),
        10,
        "nothing replayed"
    );
    let audit = site.json(&["audit", "--format", "json"]);
    let mine = audit
        .as_array()
        .expect("lines")
        .iter()
        .filter(|a| a["actor"] == "asmith" && a["command"] == "mine")
        .count();
    assert_eq!(mine, 1, "{audit}");

    // asmith leaves the direct room: the next message opens a new one.
    room.leave().await.expect("leave");
    let store = winventory_core::store::connect(&site.db.url)
        .await
        .expect("store");
    store
        .enqueue(
            &[winventory_core::store::NewMessage {
                idem_key: format!("note:{run}"),
                message_id: format!("<note.{run}@{}>", site.domain),
                channel: "matrix".into(),
                recipient: "asmith".into(),
                address: asmith.clone(),
                fallback: Some(("email".into(), site.email("asmith"))),
                subject: "A note".into(),
                body_text: "A note from the IT team".into(),
                body_html: None,
                machines: Vec::new(),
                reminder: false,
                actions: Vec::new(),
                buttons: None,
            }],
            chrono::Utc::now(),
        )
        .await
        .expect("enqueue");
    let got = owner.messages(11).await;
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(got[10], "A note from the IT team");
    let now_in: Vec<_> = owner
        .client
        .joined_rooms()
        .iter()
        .map(|r| r.room_id().to_owned())
        .collect();
    assert_eq!(now_in.len(), 1, "{now_in:?}");
    assert_ne!(now_in[0], room.room_id(), "a new direct room");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_owners_get_an_encrypted_digest_answer_by_reply_or_poll_and_the_rest_get_email_on_sqlite()
 {
    digests_over_matrix(Backend::Sqlite, "mx-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_owners_get_an_encrypted_digest_answer_by_reply_or_poll_and_the_rest_get_email_on_postgres()
 {
    digests_over_matrix(Backend::Postgres, "mx-postgres").await;
}

/// A TCP proxy in front of Synapse that a test can cut (every connection
/// dropped, new ones refused) and restore: a homeserver outage without
/// stopping the homeserver other tests share.
struct Proxy {
    url: String,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (u, l) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().expect("links").push(link);
            }
        });
        Self {
            url,
            up,
            links,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn homeserver_outage(backend: Backend, tag: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let run = format!("{tag}-{}", std::process::id());
    let bot = format!("winv-{run}");
    register(&bot).await;
    let asmith = register(&format!("asmith-{run}")).await;
    let owner = Owner::login(&format!("asmith-{run}"), site.dir.path()).await;
    let proxy = Proxy::start(&env("WINVENTORY_TEST_SYNAPSE_URL")).await;
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Alice Smith,{},{asmith},,en,,,\njdoe,Jean Doe,{},,,en,,,\ndesk1,Desk,{},,,en,,,it-desk\n",
        site.email("asmith"),
        site.email("jdoe"),
        site.email("desk1"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    let store = site.dir.path().join("matrix-store");
    let with_matrix = |args: &[&str]| {
        let out = site
            .command(args)
            .env("WINVENTORY_MATRIX_HOMESERVER", &proxy.url)
            .env("WINVENTORY_MATRIX_USER", &bot)
            .env("WINVENTORY_MATRIX_PASSWORD", PASSWORD)
            .env("WINVENTORY_MATRIX_STORE", &store)
            .env("WINVENTORY_RETRY_BASE_SECS", "1")
            .output()
            .expect("winventory");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // The bot's first log-in, with nothing to send yet.
    assert!(with_matrix(&["worker", "--once"]).contains("sent 0"));
    with_matrix(&["campaign", "start", "retire-2012r2"]);
    // The homeserver goes away: email goes out, the Matrix digest waits.
    proxy.cut();
    let report = with_matrix(&["worker", "--once"]);
    assert!(
        report.contains("sent 2")
            && report.contains("retrying 1")
            && report.contains("fell back to email 0"),
        "{report}"
    );
    let outbox = site.json(&["outbox", "--format", "json"]);
    assert_eq!(
        (outbox["pending"].as_u64(), outbox["failed"].as_u64()),
        (Some(1), Some(0))
    );
    // It is back: the digest goes out, once.
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let report = with_matrix(&["worker", "--once"]);
    assert!(report.contains("sent 1"), "{report}");
    let got = owner.messages(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("SRV-A1"), "{}", got[0]);
    assert!(!site.mailbox().await.contains_key(&site.email("asmith")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_outage_holds_matrix_digests_until_it_returns_and_email_goes_on_on_sqlite() {
    homeserver_outage(Backend::Sqlite, "mxdown-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_outage_holds_matrix_digests_until_it_returns_and_email_goes_on_on_postgres() {
    homeserver_outage(Backend::Postgres, "mxdown-postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_with_an_access_token_waits_out_rate_limits_and_delivers_everything_once() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(Backend::Sqlite, "mxlimit").await;
    let run = format!("mxlimit-{}", std::process::id());
    let (_, admin_token) = register_as(&format!("admin-{run}"), true).await;
    let bot = format!("winv-{run}");
    // This bot logs in with an access token (no password anywhere).
    let (bot_id, bot_token) = register_as(&bot, false).await;
    let asmith = register(&format!("asmith-{run}")).await;
    let owner = Owner::login(&format!("asmith-{run}"), site.dir.path()).await;
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,Alice Smith,{},{asmith},,en,,,\n",
        site.email("asmith"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    let store = site.dir.path().join("matrix-store");
    let worker = || {
        let out = site
            .command(&["worker", "--once"])
            .env(
                "WINVENTORY_MATRIX_HOMESERVER",
                env("WINVENTORY_TEST_SYNAPSE_URL"),
            )
            .env("WINVENTORY_MATRIX_ACCESS_TOKEN", &bot_token)
            .env("WINVENTORY_MATRIX_STORE", &store)
            .env("WINVENTORY_DELIVERY_RATE", "1000")
            .output()
            .expect("winventory");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains(&bot_token), "the token is never printed");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let db = winventory_core::store::connect(&site.db.url)
        .await
        .expect("store");
    let note = |i: usize| winventory_core::store::NewMessage {
        idem_key: format!("note:{run}:{i}"),
        message_id: format!("<note.{run}.{i}@{}>", site.domain),
        channel: "matrix".into(),
        recipient: "asmith".into(),
        address: asmith.clone(),
        fallback: Some(("email".into(), site.email("asmith"))),
        subject: "A note".into(),
        body_text: format!("note {i}"),
        body_html: None,
        machines: Vec::new(),
        reminder: false,
        actions: Vec::new(),
        buttons: None,
    };
    // The first note opens the room (and logs the bot in).
    db.enqueue(&[note(0)], chrono::Utc::now())
        .await
        .expect("enqueue");
    assert!(worker().contains("sent 1"));
    assert_eq!(owner.messages(1).await.len(), 1);

    // The homeserver now allows the bot one message a second.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_synapse/admin/v1/users/{bot_id}/override_ratelimit",
            env("WINVENTORY_TEST_SYNAPSE_URL")
        ))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"messages_per_second": 1, "burst_count": 1}))
        .send()
        .await
        .expect("override_ratelimit");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
    // `serve` delivers (its client syncs, so each send is quick; see
    // docs/matrix.md on delivery-only processes).
    let mut serve = site.command(&["serve"]);
    serve
        .env(
            "WINVENTORY_MATRIX_HOMESERVER",
            env("WINVENTORY_TEST_SYNAPSE_URL"),
        )
        .env("WINVENTORY_MATRIX_STORE", &store)
        .env("WINVENTORY_DELIVERY_RATE", "1000");
    let _server = crate::common::Server(serve.spawn().expect("serve"));
    db.enqueue(&(1..=6).map(note).collect::<Vec<_>>(), chrono::Utc::now())
        .await
        .expect("enqueue");
    let started = std::time::Instant::now();
    loop {
        let counts = db.outbox_counts().await.expect("counts");
        if counts.pending == 0 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    let counts = db.outbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.failed, counts.sent), (0, 0, 7));
    // Six messages at one a second: the homeserver refused the extra ones
    // with M_LIMIT_EXCEEDED, and the bot waited as told each time.
    assert!(took >= Duration::from_secs(4), "{took:?}");
    let got = owner.messages(7).await;
    let mut notes = got.clone();
    notes.sort();
    assert_eq!(
        notes,
        (0..=6).map(|i| format!("note {i}")).collect::<Vec<_>>(),
        "each note once"
    );
    assert!(!site.mailbox().await.contains_key(&site.email("asmith")));
}
