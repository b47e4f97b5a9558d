//! Campaigns in Mattermost, end to end against the fake Mattermost server
//! (no real one can run here; the fake checks every request against the
//! published API): digests as posts with buttons, clicks recorded and the
//! post updated in place, dialogs for answers that need fields (with
//! per-field errors), plain-text answers over the websocket, the `/winv`
//! slash command, rate limits and outages, a resend after a crash, and the
//! webhook edge's refusals. On SQLite and PostgreSQL.

use std::time::Duration;

use crate::common::fake_mattermost::{FakeMattermost, ResetStyle};
use crate::common::{Site, campaign_file, fleet};
use serde_json::{Value, json};
use winventory_core::store::Backend;

const BOT_TOKEN: &str = "bot-token-0123456789";
const COMMAND_TOKEN: &str = "slash-token-0123456789";

fn mm_env(fake: &FakeMattermost) -> Vec<(&'static str, String)> {
    vec![
        ("WINVENTORY_MATTERMOST_URL", fake.url()),
        ("WINVENTORY_MATTERMOST_TOKEN", BOT_TOKEN.into()),
        ("WINVENTORY_MATTERMOST_COMMAND_TOKEN", COMMAND_TOKEN.into()),
    ]
}

/// A site whose asmith and jdoe are on Mattermost (desk1 by email only),
/// with the retirement campaign started.
async fn mattermost_site(backend: Backend, tag: &str) -> (Site, FakeMattermost) {
    site_knowing(backend, tag, &["asmith", "jdoe"]).await
}

/// The same, with only `known` having an account on the Mattermost server.
async fn site_knowing(backend: Backend, tag: &str, known: &[&str]) -> (Site, FakeMattermost) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let site = Site::new(backend, tag).await;
    let fake = FakeMattermost::start("winventory", BOT_TOKEN).await;
    for user in known {
        fake.add_user(user).await;
    }
    site.run(&["ingest", &site.write("fleet.jsonl", &fleet())]);
    let users = format!(
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
         asmith,A,{},,asmith,en,,,\njdoe,J,{},,JDoe,en,,,\ndesk1,D1,{},,,en,,,it-desk\n",
        site.email("asmith"),
        site.email("jdoe"),
        site.email("desk1"),
    );
    site.run(&["users", "import", &site.write("users.csv", &users)]);
    site.run(&["campaign", "create", &site.write("c.toml", campaign_file())]);
    // Starting queues the first wave: routed by the site's chat settings.
    let mut start = site.command(&["campaign", "start", "retire-2012r2"]);
    for (k, v) in mm_env(&fake) {
        start.env(k, v);
    }
    let out = start.output().expect("start");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (site, fake)
}

fn worker(site: &Site, fake: &FakeMattermost) -> String {
    worker_at(site, fake, None)
}

/// `worker --once` with the site's Mattermost settings, at `at` if given.
fn worker_at(site: &Site, fake: &FakeMattermost, at: Option<String>) -> String {
    let mut cmd = site.command(&["worker", "--once"]);
    for (k, v) in mm_env(fake) {
        cmd.env(k, v);
    }
    if let Some(at) = at {
        cmd.env("WINVENTORY_NOW", at);
    }
    let out = cmd.output().expect("worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The id of the action labelled `label` on the attachment titled `title`.
fn action_id(post: &Value, title: &str, label: &str) -> String {
    post["props"]["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["title"].as_str().is_some_and(|t| t.starts_with(title)))
        .flat_map(|a| a["actions"].as_array().cloned().unwrap_or_default())
        .find(|a| a["name"] == label)
        .and_then(|a| a["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {label:?} on {title:?} in {post:#}"))
}

fn token_of(post: &Value, id: &str) -> String {
    post["props"]["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["actions"].as_array().cloned().unwrap_or_default())
        .find(|a| a["id"] == id)
        .and_then(|a| {
            a["integration"]["context"]["token"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no action {id} in {post:#}"))
}

fn answers(site: &Site) -> Vec<(String, String, String, String)> {
    let shown = site.json(&["campaign", "show", "retire-2012r2", "--format", "json"]);
    shown
        .as_array()
        .expect("rows")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
            (
                s("host_key"),
                s("answer"),
                s("answer_date"),
                s("answered_by"),
            )
        })
        .collect()
}

/// Wait until the bot has opened `n` websocket connections so far.
async fn wait_for_connects(fake: &FakeMattermost, n: usize) {
    for _ in 0..100 {
        if fake.websocket_connects().await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bot did not open websocket connection {n}");
}

async fn wait_for_reply(fake: &FakeMattermost, user: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let posts = fake.posts_to(user).await;
        if posts.len() >= n {
            return posts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no reply to {user}: {:#?}", fake.posts_to(user).await)
}

async fn owners_answer_by_button_dialog_message_and_command(backend: Backend, tag: &str) {
    let (site, fake) = mattermost_site(backend, tag).await;
    let report = worker(&site, &fake);
    assert!(
        report.contains("sent 3"),
        "two posts and one email: {report}"
    );
    let posts = fake.posts_to("asmith").await;
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let digest = posts[0].clone();
    let message = digest["message"].as_str().unwrap_or_default();
    assert!(message.contains("SRV-A1"), "{message}");
    assert!(message.contains("Or use the buttons below."), "{message}");
    assert!(digest["props"]["winventory_key"].as_str().is_some());
    assert_eq!(fake.posts_to("jdoe").await.len(), 1);
    let _server = site.serve_with(None, &mm_env(&fake)).await;

    // A button: recorded, and the post shows it in place of the buttons.
    let decommission = action_id(&digest, "SRV-A1", "Will decommission");
    let out = fake
        .click(
            digest["id"].as_str().unwrap_or_default(),
            &decommission,
            "asmith",
            None,
        )
        .await
        .expect("click");
    assert_eq!(out.status, 200, "{out:?}");
    assert!(out.updated, "{out:?}");
    assert!(
        out.ephemeral_text
            .as_deref()
            .unwrap_or_default()
            .contains("Recorded for SRV-A1"),
        "{out:?}"
    );
    let after = fake.posts_to("asmith").await[0].clone();
    let a1 = after["props"]["attachments"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["title"] == "SRV-A1"))
        .cloned()
        .expect("SRV-A1 still listed");
    assert!(
        a1["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Answered: Will decommission"),
        "{a1:#}"
    );
    assert!(a1["actions"].as_array().is_none_or(Vec::is_empty), "{a1:#}");

    // An answer that needs a date opens a dialog; mistakes come back per field.
    let upgrade = action_id(&after, "SRV-A2", "Will upgrade");
    let out = fake
        .click(
            after["id"].as_str().unwrap_or_default(),
            &upgrade,
            "asmith",
            None,
        )
        .await
        .expect("click");
    assert_eq!(out.status, 200, "{out:?}");
    let dialog = out.dialog.expect("a dialog opened");
    assert!(
        dialog["elements"].to_string().contains("\"date\""),
        "{dialog:#}"
    );
    let (status, body) = fake
        .submit_dialog("asmith", json!({"date": "next spring"}))
        .await
        .expect("submit");
    assert_eq!(status, 200);
    assert!(
        body["errors"]["date"]
            .as_str()
            .unwrap_or_default()
            .contains("YYYY-MM-DD"),
        "{body}"
    );
    let (_, body) = fake
        .submit_dialog("asmith", json!({"date": "2001-01-01"}))
        .await
        .expect("submit");
    assert!(
        body["errors"]["date"]
            .as_str()
            .unwrap_or_default()
            .contains("past"),
        "{body}"
    );
    let by = (chrono::Utc::now() + chrono::Duration::days(60))
        .date_naive()
        .to_string();
    // Someone else submitting asmith's open dialog (its signed state) is
    // refused and records nothing (the history below holds one answer).
    let open = fake
        .open_dialog("asmith")
        .await
        .expect("asmith's dialog is open");
    let jdoe_id = fake.add_user("jdoe").await;
    let forged = json!({
        "type": "dialog_submission",
        "callback_id": open["dialog"]["callback_id"],
        "state": open["dialog"]["state"],
        "user_id": jdoe_id,
        "channel_id": "",
        "team_id": "",
        "submission": {"date": by},
        "cancelled": false,
    });
    let r = reqwest::Client::new()
        .post(open["url"].as_str().unwrap_or_default())
        .json(&forged)
        .send()
        .await
        .expect("POST the dialog as jdoe");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap_or_default();
    assert!(text.contains("sent to someone else"), "{text}");
    let (status, body) = fake
        .submit_dialog(
            "asmith",
            json!({"date": by, "comment": "new hardware ordered"}),
        )
        .await
        .expect("submit");
    assert_eq!((status, body.get("errors")), (200, None), "{body}");
    let after = fake.posts_to("asmith").await[0].clone();
    assert!(
        after.to_string().contains("Answered: Will upgrade"),
        "the post is updated after the dialog: {after:#}"
    );

    // Plain text over the websocket, with the chat reply grammar.
    wait_for_connects(&fake, 1).await;
    fake.say("jdoe", "SRV-J1 replace").await;
    let replies = wait_for_reply(&fake, "jdoe", 3).await;
    let reply = replies[2]["message"].as_str().unwrap_or_default();
    assert!(
        reply.to_lowercase().contains("recorded for srv-j1"),
        "{reply}"
    );

    // After a reconnect the bot still answers, and only new posts.
    fake.drop_websockets().await;
    wait_for_connects(&fake, 2).await;
    fake.say("jdoe", "mine").await;
    let replies = wait_for_reply(&fake, "jdoe", 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.posts_to("jdoe").await.len(),
        5,
        "each post answered once"
    );
    assert!(
        replies[4]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SRV-J1"),
        "{replies:#?}"
    );

    // /winv answers the caller alone, tables in Markdown.
    let url = format!("{}/mattermost/command", site.base_url);
    let (status, body) = fake.send_slash(&url, COMMAND_TOKEN, "asmith", "mine").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["response_type"], "ephemeral");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.contains("| ") && text.contains("SRV-A1"), "{text}");
    let (status, _) = fake.send_slash(&url, "wrong", "asmith", "mine").await;
    assert_eq!(status, 401);

    // The database holds exactly their answers.
    let got = answers(&site);
    let expected = [
        (
            "pc-new".to_string(),
            String::new(),
            String::new(),
            String::new(),
        ),
        (
            "srv-a1".into(),
            "decommission".into(),
            String::new(),
            "asmith".into(),
        ),
        (
            "srv-a2".into(),
            "upgrade".into(),
            by.clone(),
            "asmith".into(),
        ),
        (
            "srv-j1".into(),
            "replace".into(),
            String::new(),
            "jdoe".into(),
        ),
        (
            "srv-orphan".into(),
            String::new(),
            String::new(),
            String::new(),
        ),
    ];
    let got: Vec<_> = got.into_iter().filter(|r| r.0 != "pc-new").collect();
    assert_eq!(got, expected[1..].to_vec());
    // The dialog's refused dates left no trace in the history: one answer.
    let history = site.json(&[
        "campaign",
        "history",
        "retire-2012r2",
        "SRV-A2",
        "--format",
        "json",
    ]);
    let history: Vec<_> = history
        .as_array()
        .expect("rows")
        .iter()
        .map(|h| {
            (
                h["by"].clone(),
                h["via"].clone(),
                h["answer"].clone(),
                h["date"].clone(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [(
            json!("asmith"),
            json!("mattermost"),
            json!("upgrade"),
            json!(by)
        )]
    );
    assert!(
        fake.violations().await.is_empty(),
        "{:#?}",
        fake.violations().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_answer_in_mattermost_by_button_dialog_message_and_command_on_sqlite() {
    owners_answer_by_button_dialog_message_and_command(Backend::Sqlite, "mm-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_answer_in_mattermost_by_button_dialog_message_and_command_on_postgres() {
    owners_answer_by_button_dialog_message_and_command(Backend::Postgres, "mm-postgres").await;
}

async fn limits_outages_and_crashes(backend: Backend, tag: &str) {
    let (site, fake) = mattermost_site(backend, tag).await;
    let worker_at = |at: Option<String>| worker_at(&site, &fake, at);
    let outbox = || String::from_utf8_lossy(&site.run(&["outbox"]).stdout).to_string();
    // Rate limited (reset as a Unix time): the start-up check and the first
    // message are refused; the channel waits, email goes on, nothing fails.
    fake.fail_next(2, 429, Some(ResetStyle::Epoch(30))).await;
    let report = worker_at(None);
    assert!(
        report.contains("sent 1") && report.contains("failed 0"),
        "{report}"
    );
    assert!(outbox().contains("pending 2"), "{}", outbox());
    assert!(fake.posts_to("asmith").await.is_empty());
    // A server that is down a minute later: retried later, not given up.
    fake.fail_next(3, 503, None).await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let report = worker_at(Some(soon));
    assert!(
        report.contains("failed 0") && report.contains("fell back to email 0"),
        "{report}"
    );
    assert!(outbox().contains("pending 2"), "{}", outbox());
    // Later, everything goes, once per person.
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let report = worker_at(Some(later.clone()));
    assert!(report.contains("sent 2"), "{report}");
    assert_eq!(fake.posts_to("asmith").await.len(), 1);
    assert_eq!(fake.posts_to("jdoe").await.len(), 1);

    // A crash after the post was made: the message is due again. Past the
    // server's 30 s memory of pending_post_id, the bot finds its own post.
    fake.set_pending_window(Duration::ZERO).await;
    winventory_core::testing::execute(
        &site.db.url,
        "UPDATE outbox SET state = 'pending', next_attempt_at = 0 WHERE channel = 'mattermost'",
    )
    .await;
    worker_at(Some(later));
    assert_eq!(fake.posts_to("asmith").await.len(), 1, "not posted twice");
    assert_eq!(fake.posts_to("jdoe").await.len(), 1, "not posted twice");

    assert!(
        fake.violations().await.is_empty(),
        "{:#?}",
        fake.violations().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_outages_and_a_resend_after_a_crash_post_each_digest_once_on_sqlite() {
    limits_outages_and_crashes(Backend::Sqlite, "mmlim-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_outages_and_a_resend_after_a_crash_post_each_digest_once_on_postgres() {
    limits_outages_and_crashes(Backend::Postgres, "mmlim-postgres").await;
}

/// Someone the directory gives a Mattermost username the server does not
/// know gets the digest by email, with its links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_mattermost_does_not_know_gets_the_digest_by_email() {
    let (site, fake) = site_knowing(Backend::Sqlite, "mmghost", &["jdoe"]).await;
    let report = worker(&site, &fake);
    assert!(report.contains("fell back to email 1"), "{report}");
    // The fallback goes out (in the same pass or the next).
    worker(&site, &fake);
    assert!(fake.posts_to("asmith").await.is_empty());
    assert_eq!(fake.posts_to("jdoe").await.len(), 1);
    let mail = site.mailbox().await;
    let got = mail.get(&site.email("asmith")).cloned().unwrap_or_default();
    assert_eq!(got.len(), 1, "{mail:#?}");
    assert!(
        got[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("SRV-A1")
    );
}

/// Mattermost does not replay what was posted while the bot was not
/// listening: what a person wrote then is read back when the websocket
/// returns, and answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_while_the_websocket_was_down_is_answered_once_it_is_back() {
    let (site, fake) = mattermost_site(Backend::Sqlite, "mmaway").await;
    worker(&site, &fake);
    let _server = site.serve_with(None, &mm_env(&fake)).await;
    wait_for_connects(&fake, 1).await;
    fake.say("jdoe", "help").await;
    wait_for_reply(&fake, "jdoe", 3).await;

    fake.set_websocket_down(true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.say("jdoe", "mine").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.posts_to("jdoe").await.len(), 4, "no answer while away");

    fake.set_websocket_down(false).await;
    let mut posts = Vec::new();
    for _ in 0..300 {
        posts = fake.posts_to("jdoe").await;
        if posts.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(posts.len(), 5, "{posts:#?}");
    let reply = posts[4]["message"].as_str().unwrap_or_default();
    assert!(reply.to_lowercase().contains("srv-j1"), "{reply}");
    // Reconnecting again answers nothing twice.
    fake.drop_websockets().await;
    wait_for_connects(&fake, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.posts_to("jdoe").await.len(),
        5,
        "each post answered once"
    );
    assert!(
        fake.violations().await.is_empty(),
        "{:#?}",
        fake.violations().await
    );
}

/// A client that never finishes its body holds nothing for long: past the
/// request time-out it gets 503, and the server answers others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_gets_503_after_the_time_out() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (site, fake) = mattermost_site(Backend::Sqlite, "mmslow").await;
    let mut env = mm_env(&fake);
    env.push(("WINVENTORY_REQUEST_TIMEOUT_SECS", "1".into()));
    let _server = site.serve_with(None, &env).await;
    let addr = site.base_url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(
        b"POST /mattermost/actions HTTP/1.1\r\nHost: winventory\r\nContent-Type: application/json\r\n\
          Content-Length: 400\r\n\r\n{\"context\": {\"token\": \"",
    )
    .await
    .expect("send the start");
    // Someone else is served while the slow body hangs.
    let health = reqwest::get(format!("{}/healthz", site.base_url))
        .await
        .expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200);
    // Read the status line and headers (the connection may stay open).
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut chunk = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match slow.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "no answer within 20 s: {answer}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(fake.violations().await.is_empty());
}

/// Every refusal of the webhook edge: 401 without a valid signature, 200
/// and nothing changed for a closed campaign or someone else's buttons,
/// 401 for a wrong slash token, 413 for a huge body; no answer carries a
/// trace or a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_edge_refuses_forged_expired_foreign_and_oversized_requests() {
    let (site, fake) = mattermost_site(Backend::Sqlite, "mmsec").await;
    worker(&site, &fake);
    let digest = fake.posts_to("asmith").await[0].clone();
    let id = action_id(&digest, "SRV-A1", "Will decommission");
    let token = token_of(&digest, &id);
    let server = site.serve_with(None, &mm_env(&fake)).await;
    let http = reqwest::Client::new();
    let url = format!("{}/mattermost/actions", site.base_url);
    let click = |context: Value, user: &str| {
        json!({
            "user_id": "u", "user_name": user, "channel_id": "c", "post_id": digest["id"],
            "trigger_id": "t", "type": "button", "context": context,
        })
    };
    let post = |body: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("POST");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let mut forged = token.clone();
    let last = forged
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    forged.push(last);
    let cases = [
        ("no context", click(Value::Null, "asmith").to_string(), 401),
        ("no token", click(json!({}), "asmith").to_string(), 401),
        (
            "forged",
            click(json!({"token": forged}), "asmith").to_string(),
            401,
        ),
        (
            "not a token",
            click(json!({"token": "a b c"}), "asmith").to_string(),
            401,
        ),
        ("not JSON", "{\"context\": ".to_string(), 401),
        (
            "someone else",
            click(json!({"token": token}), "jdoe").to_string(),
            200,
        ),
        (
            "a drop-down naming another's machine",
            click(
                json!({"token": token, "selected_option": "999999"}),
                "asmith",
            )
            .to_string(),
            200,
        ),
    ];
    for (what, body, status) in cases {
        let (got, text) = post(body).await;
        assert_eq!(got, status, "{what}: {text}");
        assert!(
            !text.contains("panicked") && !text.contains(BOT_TOKEN) && !text.contains(&token),
            "{what}: {text}"
        );
    }
    assert!(
        answers(&site).iter().all(|r| r.1.is_empty()),
        "nothing recorded"
    );
    let (status, _) = post(format!("{{\"pad\": \"{}\"}}", "x".repeat(100_000))).await;
    assert_eq!(status, 413, "a body over the limit");
    // Slash command: a wrong or missing token is 401 and says nothing more.
    let slash = format!("{}/mattermost/command", site.base_url);
    let (status, body) = fake.send_slash(&slash, "nope", "asmith", "stats").await;
    assert_eq!(status, 401);
    assert!(!body.contains(COMMAND_TOKEN));
    let r = http
        .post(&slash)
        .form(&[("text", "stats")])
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 401);
    // A body over the limit is 413, even with the right token (it was
    // refused for its size, not for a token it lost on the way).
    let (status, body) = fake
        .send_slash(&slash, COMMAND_TOKEN, "asmith", &"x".repeat(100_000))
        .await;
    assert_eq!(status, 413, "{body}");
    // A dialog submitted by a user id Mattermost does not know (or cannot
    // be one) is anyone else's: the same polite 200, nothing recorded.
    for user_id in ["zzzzzzzzzzzzzzzzzzzzzzzzzz", "not an id"] {
        let r = http
            .post(format!("{}/mattermost/dialog", site.base_url))
            .json(&json!({
                "type": "dialog_submission", "callback_id": "answer",
                "state": format!("{token};;"), "user_id": user_id,
                "channel_id": "", "team_id": "", "submission": {}, "cancelled": false,
            }))
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{user_id}: {text}");
        assert!(text.contains("sent to someone else"), "{user_id}: {text}");
    }
    assert!(
        answers(&site).iter().all(|r| r.1.is_empty()),
        "nothing recorded"
    );
    // Expired: the same token, a year later.
    drop(server);
    let later = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    let server = site.serve_with(Some(&later), &mm_env(&fake)).await;
    let (status, text) = post(click(json!({"token": token}), "asmith").to_string()).await;
    assert_eq!(status, 401, "{text}");
    drop(server);
    // Closed: a polite 200, nothing recorded.
    site.run(&["campaign", "close", "retire-2012r2"]);
    let _server = site.serve_with(None, &mm_env(&fake)).await;
    let (status, text) = post(click(json!({"token": token}), "asmith").to_string()).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("closed"), "{text}");
    assert!(
        answers(&site).iter().all(|r| r.1.is_empty()),
        "nothing recorded"
    );
}

/// The "all" button of a digest answers the machines that digest listed:
/// not a machine of the same person added to the campaign after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_button_answers_the_machines_its_post_listed_and_no_later_one() {
    let (site, fake) = mattermost_site(Backend::Sqlite, "mmall").await;
    worker(&site, &fake);
    let digest = fake.posts_to("asmith").await[0].clone();
    // SRV-A3 appears the same day: added to the campaign, in no digest yet.
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let a3 = format!(
        r#"{{"hostname": "SRV-A3", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}, "responsible": "asmith"}}"#
    );
    site.run(&["ingest", &site.write("a3.jsonl", &a3)]);
    worker(&site, &fake);
    assert_eq!(fake.posts_to("asmith").await.len(), 1, "one digest a day");
    assert!(
        answers(&site).iter().any(|r| r.0 == "srv-a3"),
        "{:?}",
        answers(&site)
    );
    let _server = site.serve_with(None, &mm_env(&fake)).await;
    let all = action_id(&digest, "All", "Will decommission");
    let out = fake
        .click(
            digest["id"].as_str().unwrap_or_default(),
            &all,
            "asmith",
            None,
        )
        .await
        .expect("click");
    assert_eq!(out.status, 200, "{out:?}");
    let text = out.ephemeral_text.unwrap_or_default();
    assert!(text.contains("Recorded for SRV-A1, SRV-A2:"), "{text}");
    let answered: Vec<String> = answers(&site)
        .into_iter()
        .filter(|r| !r.1.is_empty())
        .map(|r| r.0)
        .collect();
    assert_eq!(answered, ["srv-a1", "srv-a2"]);
    // Its token names no one, no address and no machine in clear.
    let token = token_of(&digest, &all);
    for clear in ["asmith", "srv-a", &site.domain] {
        assert!(!token.to_lowercase().contains(clear), "{clear} in {token}");
    }
}
