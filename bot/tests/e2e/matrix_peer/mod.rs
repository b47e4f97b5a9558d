//! What the Matrix tests and the Matrix benchmark share: users registered
//! on the test homeserver with its shared secret, and an owner's chat client
//! (a real matrix-sdk client with its own keys) that joins what it is
//! invited to and keeps what it reads.
#![allow(dead_code)] // each user takes part of it

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::events::poll::unstable_start::OriginalSyncUnstablePollStartEvent;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use matrix_sdk::{Client, Room};

use crate::common::env;

pub const PASSWORD: &str = "correct-horse-battery-staple";

/// Register a user on the test homeserver with its shared secret (the
/// admin register API); returns the user ID.
pub async fn register(name: &str) -> String {
    register_as(name, false).await.0
}

/// Register a user (a server admin if `admin`); returns its user ID and
/// access token.
pub async fn register_as(name: &str, admin: bool) -> (String, String) {
    let url = env("WINVENTORY_TEST_SYNAPSE_URL");
    let secret = env("WINVENTORY_TEST_SYNAPSE_SECRET");
    let http = reqwest::Client::new();
    let endpoint = format!("{url}/_synapse/admin/v1/register");
    let nonce: serde_json::Value = http
        .get(&endpoint)
        .send()
        .await
        .expect("Synapse")
        .json()
        .await
        .expect("a nonce");
    let nonce = nonce["nonce"].as_str().expect("nonce").to_string();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("key");
    let kind = if admin { "admin" } else { "notadmin" };
    for (i, part) in [nonce.as_str(), name, PASSWORD, kind]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            mac.update(b"\0");
        }
        mac.update(part.as_bytes());
    }
    let mac: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = http
        .post(&endpoint)
        .json(&serde_json::json!({
            "nonce": nonce, "username": name, "password": PASSWORD, "admin": admin, "mac": mac,
        }))
        .send()
        .await
        .expect("register");
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    assert!(status.is_success(), "{body}");
    (
        format!("@{name}:localhost"),
        body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// An owner's chat client: joins what it is invited to, keeps every
/// message it can read (decrypted), syncing in the background.
pub struct Owner {
    pub client: Client,
    pub inbox: Arc<Mutex<Vec<String>>>,
    pub polls: Arc<Mutex<Vec<OwnedEventId>>>,
    pub sync: tokio::task::JoinHandle<()>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Owner {
    pub async fn login(name: &str, dir: &std::path::Path) -> Self {
        let client = Client::builder()
            .homeserver_url(env("WINVENTORY_TEST_SYNAPSE_URL"))
            .sqlite_store(dir.join(format!("owner-{name}")), None)
            .build()
            .await
            .expect("client");
        client
            .matrix_auth()
            .login_username(name, PASSWORD)
            .initial_device_display_name("Element (test)")
            .send()
            .await
            .expect("owner log-in");
        client.add_event_handler(
            |ev: StrippedRoomMemberEvent, room: Room, client: Client| async move {
                if Some(ev.state_key.as_ref()) == client.user_id() {
                    for _ in 0..20 {
                        if room.join().await.is_ok() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            },
        );
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let kept = inbox.clone();
        client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, client: Client| {
            let kept = kept.clone();
            async move {
                if Some(ev.sender.as_ref()) != client.user_id() {
                    kept.lock()
                        .expect("inbox")
                        .push(ev.content.body().to_string());
                }
            }
        });
        let polls = Arc::new(Mutex::new(Vec::new()));
        let seen = polls.clone();
        client.add_event_handler(move |ev: OriginalSyncUnstablePollStartEvent| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("polls").push(ev.event_id.clone());
            }
        });
        // The first sync uploads the device's keys, so the bot encrypts for it.
        client
            .sync_once(SyncSettings::default())
            .await
            .expect("first sync");
        let background = client.clone();
        let sync = tokio::spawn(async move {
            let _ = background
                .sync(SyncSettings::default().timeout(Duration::from_millis(300)))
                .await;
        });
        Self {
            client,
            inbox,
            polls,
            sync,
        }
    }

    /// The messages read so far, once at least `n` have arrived (30 s at most).
    pub async fn messages(&self, n: usize) -> Vec<String> {
        for _ in 0..150 {
            let got = self.inbox.lock().expect("inbox").clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.inbox.lock().expect("inbox").clone()
    }

    /// The first poll received (30 s at most): a digest is a text message
    /// and a poll, two events that may arrive in different syncs, so
    /// having its text does not mean having its poll yet.
    pub async fn first_poll(&self) -> Option<OwnedEventId> {
        for _ in 0..150 {
            if let Some(p) = self.polls.lock().expect("polls").first().cloned() {
                return Some(p);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    }
}
