//! The Matrix channel: the bot's matrix-sdk client and the delivery of
//! outbox messages into one direct room per person.
//!
//! The client keeps its session (`session.json`, access token inside, mode
//! 0600) and its SQLite state and crypto stores in one folder, so a restart
//! is the same device with the same keys and the same sync position. The
//! first log-in uses the configured password (or an access token made for
//! the bot, whose device `whoami` names) and cross-signs the device (so
//! clients that insist on cross-signed devices decrypt its messages).
//!
//! Direct rooms are end-to-end encrypted (what Element creates) and reused:
//! kept in `rooms.json` beside the session (and found through the `m.direct`
//! account data otherwise), created when the person has none or has left,
//! after a profile look-up so an ID nobody has is refused. Each message is
//! sent with a transaction ID derived from the outbox key, so a prompt
//! resend after a crash is a no-op on the homeserver; a later attempt first
//! looks for the outbox key (carried inside the encrypted content) among
//! the bot's recent events in the room. Rate limits are honoured by
//! matrix-sdk's own retries (`Retry-After` or `retry_after_ms`), and what is
//! still limited holds the channel as long as the server asks
//! ([`SendError::RateLimited`]); a homeserver that is down, or a 5xx, is a
//! temporary failure for the outbox to retry; any other refusal (an unknown
//! user, a forbidden invite) is permanent and the message falls back to
//! email.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::ruma::api::client::uiaa;
use matrix_sdk::ruma::events::poll::response::OriginalSyncPollResponseEvent;
use matrix_sdk::ruma::events::poll::unstable_response::OriginalSyncUnstablePollResponseEvent;
use matrix_sdk::ruma::events::poll::unstable_start::{
    NewUnstablePollStartEventContent, UnstablePollAnswer, UnstablePollAnswers,
    UnstablePollStartContentBlock,
};
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedRoomId, OwnedTransactionId, OwnedUserId, UserId};
use matrix_sdk::{Client, Room};
use secrecy::ExposeSecret as _;
use winventory_core::User;
use winventory_core::store::{OutboxRow, Store};
use winventory_workflows::answer::{Answer, AnswerKind};
use winventory_workflows::delivery::{Channel, SendError};
use winventory_workflows::engine::{Engine, EngineError};
use winventory_workflows::render::answer_label;

use crate::clock::Clock;
use crate::settings::Settings;

/// The Matrix channel.
pub struct MatrixChannel {
    client: Client,
    /// Each person's direct room, kept in `rooms.json` (the client learns
    /// of a new one through `m.direct` only at its next sync, and a process
    /// that only delivers does not sync).
    rooms: tokio::sync::Mutex<HashMap<OwnedUserId, OwnedRoomId>>,
    /// The store folder.
    folder: PathBuf,
    /// The inventory (each person's language, for polls).
    db: Arc<dyn Store>,
    /// Members of these groups are admins in chat.
    role_mapping: crate::settings::RoleMapping,
    /// The process clock (answers are recorded at its time).
    clock: Clock,
    /// Milliseconds since the epoch of the first log-in: older events are
    /// never acted on.
    since: i64,
}

fn session_path(store: &Path) -> PathBuf {
    store.join("session.json")
}

/// A user ID from a configured user name (`bot` or `@bot:example.org`).
fn localpart(user: &str) -> &str {
    user.trim_start_matches('@')
        .split(':')
        .next()
        .unwrap_or(user)
}

impl MatrixChannel {
    /// Log in (or restore the kept session) and sync once; `Ok(None)` when
    /// no homeserver is configured.
    pub async fn connect(s: &Settings, db: Arc<dyn Store>, clock: Clock) -> Result<Option<Self>> {
        let Some(homeserver) = &s.matrix_homeserver else {
            return Ok(None);
        };
        let store = &s.matrix_store;
        std::fs::create_dir_all(store).with_context(|| {
            format!(
                "cannot create the Matrix store folder {}; set matrix_store (WINVENTORY_MATRIX_STORE) to a writable folder",
                store.display()
            )
        })?;
        let client = Client::builder()
            .homeserver_url(homeserver)
            .sqlite_store(store, None)
            .request_config(
                RequestConfig::new()
                    .retry_limit(3)
                    .timeout(Duration::from_secs(30)),
            )
            .build()
            .await
            .with_context(|| format!("cannot set up the Matrix client for {homeserver}"))?;
        let session_file = session_path(store);
        if session_file.exists() {
            let text = std::fs::read_to_string(&session_file)
                .with_context(|| format!("cannot read {}", session_file.display()))?;
            let session: MatrixSession = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a Matrix session; delete it to log in again with the password",
                    session_file.display()
                )
            })?;
            client
                .restore_session(session)
                .await
                .context("cannot restore the kept Matrix session")?;
        } else if let Some(token) = &s.matrix_access_token {
            // A token the admin made for the bot: its device is the token's.
            let who = whoami(homeserver, token.expose_secret()).await?;
            let session = MatrixSession {
                meta: matrix_sdk::SessionMeta {
                    user_id: who.0,
                    device_id: who.1,
                },
                tokens: matrix_sdk::SessionTokens {
                    access_token: token.expose_secret().to_string(),
                    refresh_token: None,
                },
            };
            client
                .restore_session(session.clone())
                .await
                .context("the homeserver refused the Matrix access token")?;
            keep_new_session(store, &session)?;
            // Homeservers let a new identity upload its cross-signing keys
            // without a password; one that insists gets it from the password.
            if let Err(e) = client
                .encryption()
                .bootstrap_cross_signing_if_needed(None)
                .await
            {
                match (&s.matrix_password, s.matrix_user.as_deref()) {
                    (Some(p), Some(u)) => cross_sign(&client, u, p.expose_secret()).await?,
                    _ => tracing::warn!(
                        error = %e,
                        "cannot cross-sign the bot's device without its password; set WINVENTORY_MATRIX_PASSWORD once so clients that insist on cross-signing trust it"
                    ),
                }
            }
        } else {
            let user = s.matrix_user.as_deref().context(
                "matrix_homeserver is set but neither matrix_access_token nor matrix_user is; set WINVENTORY_MATRIX_ACCESS_TOKEN, or WINVENTORY_MATRIX_USER and WINVENTORY_MATRIX_PASSWORD",
            )?;
            let password = s.matrix_password.as_ref().context(
                "no Matrix session is kept yet and matrix_password is not set; set WINVENTORY_MATRIX_PASSWORD (or WINVENTORY_MATRIX_ACCESS_TOKEN) for the first log-in",
            )?;
            client
                .matrix_auth()
                .login_username(user, password.expose_secret())
                .initial_device_display_name("Winventory")
                .send()
                .await
                .with_context(|| {
                    format!("the Matrix log-in of {user} at {homeserver} failed; check the user and password")
                })?;
            let session = client
                .matrix_auth()
                .session()
                .context("the homeserver accepted the log-in but returned no session")?;
            keep_new_session(store, &session)?;
            cross_sign(&client, user, password.expose_secret()).await?;
        }
        // No sync here: only the listener syncs, so a process that only
        // delivers never consumes events the listener has to answer.
        let rooms: HashMap<OwnedUserId, OwnedRoomId> =
            std::fs::read_to_string(store.join("rooms.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
        let since = std::fs::read_to_string(store.join("since"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        Ok(Some(Self {
            client,
            rooms: tokio::sync::Mutex::new(rooms),
            folder: store.clone(),
            db,
            role_mapping: s.role_mapping(),
            clock,
            since,
        }))
    }

    /// The person's direct room: the kept one while they are in it (joined
    /// or invited), else a new encrypted one.
    async fn direct_room(&self, user: &UserId) -> Result<Room, matrix_sdk::Error> {
        let mut rooms = self.rooms.lock().await;
        let known = rooms
            .get(user)
            .and_then(|id| self.client.get_room(id))
            .or_else(|| self.client.get_dm_room(user));
        if let Some(room) = known {
            // Unknown membership (not synced yet) counts as present; a
            // person who left or was banned gets a new room.
            let gone = room.get_member_no_sync(user).await?.is_some_and(|m| {
                !matches!(
                    m.membership(),
                    MembershipState::Join | MembershipState::Invite
                )
            });
            if !gone {
                return Ok(room);
            }
        }
        // Homeservers accept invitations to IDs nobody has: ask for the
        // profile first, so a wrong ID is refused (404) instead of waiting
        // for ever in a room nobody joins.
        self.client.account().fetch_user_profile_of(user).await?;
        let room = self.client.create_dm(user).await?;
        rooms.insert(user.to_owned(), room.room_id().to_owned());
        if let Err(err) = serde_json::to_string(&*rooms)
            .map_err(std::io::Error::other)
            .and_then(|t| std::fs::write(self.folder.join("rooms.json"), t))
        {
            tracing::warn!(error = %err, "cannot keep the direct rooms in rooms.json");
        }
        Ok(room)
    }
}

impl MatrixChannel {
    /// Listen until `stop`: accept invitations from people in the user
    /// directory (and leave the rest), and answer what people write in their
    /// direct room with the bot: answers in the reply grammar, `help`. The
    /// sync position is kept in the store, so a restart replays nothing and
    /// what arrived while it was down is handled once; events older than the
    /// first log-in are never acted on.
    pub async fn listen(
        self: Arc<Self>,
        engine: Engine,
        health: crate::tasks::supervise::LoopHandle,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use crate::tasks::supervise::{Pace, StepError};
        self.handle_events(engine);
        let client = self.client.clone();
        let settings = SyncSettings::default().timeout(Duration::from_secs(10));
        // A failed sync (homeserver away) is retried with backoff and
        // logged once until it works again.
        crate::tasks::supervise::run_loop(health, stop, true, move || {
            let (client, settings) = (client.clone(), settings.clone());
            async move {
                client.sync_once(settings).await.map_err(|e| StepError {
                    transient: true,
                    message: format!("Matrix sync failed: {e}"),
                })?;
                Ok(Pace::Again)
            }
        })
        .await;
    }

    /// One sync, handling what arrived since the last one (as `listen`
    /// does): `worker --once` answers what people wrote before it delivers.
    /// The sync also brings the bot's own device list up to date, without
    /// which matrix-sdk waits 5 s before each encrypted message for a key
    /// query about the bot itself.
    pub async fn listen_once(&self, engine: Engine) -> Result<()> {
        self.handle_events(engine);
        self.client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .context("the Matrix sync failed; is the homeserver reachable?")?;
        // matrix-sdk awaits the handlers within the sync: answers are
        // recorded and confirmed by now.
        Ok(())
    }

    /// Install the handlers of invitations, messages and votes.
    fn handle_events(&self, engine: Engine) {
        let client = self.client.clone();
        let e = engine.clone();
        client.add_event_handler(
            move |ev: StrippedRoomMemberEvent, room: Room, client: Client| {
                let e = e.clone();
                async move {
                    if Some(ev.state_key.as_ref()) != client.user_id() {
                        return;
                    }
                    let known = match login_of(&e, ev.sender.as_str()).await {
                        Ok(l) => l.is_some(),
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot read the user directory");
                            false
                        }
                    };
                    let result = if known {
                        room.join().await
                    } else {
                        room.leave().await
                    };
                    if let Err(err) = result {
                        tracing::warn!(room = %room.room_id(), error = %err, "cannot answer an invitation");
                    }
                }
            },
        );
        let e = engine.clone();
        let since = self.since;
        let clock = self.clock;
        let role_mapping = self.role_mapping.clone();
        client.add_event_handler(
            move |ev: OriginalSyncRoomMessageEvent, room: Room, client: Client| {
                let e = e.clone();
                let admins = role_mapping.clone();
                async move {
                    if Some(ev.sender.as_ref()) == client.user_id()
                        || i64::from(ev.origin_server_ts.get()) < since
                    {
                        return;
                    }
                    let MessageType::Text(text) = &ev.content.msgtype else {
                        return;
                    };
                    let body = text.body.trim();
                    // In a shared room only what is addressed to the bot.
                    let direct = room.is_direct().await.unwrap_or(false);
                    let body = match body.strip_prefix("!winv") {
                        Some(rest) => rest.trim(),
                        None if direct => body,
                        None => return,
                    };
                    let (plain, html) = conversation(&e, clock.now(), &admins, ev.sender.as_str(), body).await;
                    if let Err(err) = room.send(RoomMessageEventContent::text_html(plain, html)).await {
                        tracing::warn!(room = %room.room_id(), error = %err, "cannot answer in Matrix");
                    }
                }
            },
        );
        // Votes, in the unstable form Element sends today and the stable one.
        let e = engine.clone();
        client.add_event_handler(
            move |ev: OriginalSyncUnstablePollResponseEvent, room: Room| {
                let e = e.clone();
                async move {
                    if i64::from(ev.origin_server_ts.get()) < since {
                        return;
                    }
                    let choice = ev.content.poll_response.answers.first().cloned();
                    let poll = ev.content.relates_to.event_id.as_str();
                    if let Some(said) =
                        vote(&e, clock.now(), ev.sender.as_str(), poll, choice.as_deref()).await
                    {
                        let _ = room.send(RoomMessageEventContent::text_plain(said)).await;
                    }
                }
            },
        );
        let e = engine.clone();
        client.add_event_handler(move |ev: OriginalSyncPollResponseEvent, room: Room| {
            let e = e.clone();
            async move {
                if i64::from(ev.origin_server_ts.get()) < since {
                    return;
                }
                let choice = ev.content.selections.first().cloned();
                let poll = ev.content.relates_to.event_id.as_str();
                if let Some(said) =
                    vote(&e, clock.now(), ev.sender.as_str(), poll, choice.as_deref()).await
                {
                    let _ = room.send(RoomMessageEventContent::text_plain(said)).await;
                }
            }
        });
    }
}

/// The login of a Matrix ID in the user directory.
async fn login_of(e: &Engine, matrix_id: &str) -> Result<Option<User>, EngineError> {
    Ok(e.store.user_by_chat("matrix", matrix_id).await?)
}

/// What the bot says to `sender` about `body` (answers recorded and
/// commands run on the way): plain text and HTML.
async fn conversation(
    e: &Engine,
    now: chrono::DateTime<chrono::Utc>,
    role_mapping: &[(winventory_core::access::Role, Vec<String>)],
    sender: &str,
    body: &str,
) -> (String, String) {
    let user = login_of(e, sender).await;
    let parts = winventory_workflows::conversation::conversation(
        e,
        now,
        role_mapping,
        "matrix",
        sender,
        user,
        body,
    )
    .await;
    (
        winventory_workflows::conversation::plain(&parts),
        winventory_workflows::conversation::html(&parts),
    )
}

/// What the bot says to a vote in a digest's poll (`poll`: the poll's
/// event id). A vote answers the machines of the digest the poll follows,
/// and no other: not those of other campaigns, nor those added since.
async fn vote(
    e: &Engine,
    now: chrono::DateTime<chrono::Utc>,
    sender: &str,
    poll: &str,
    choice: Option<&str>,
) -> Option<String> {
    let kind = choice.and_then(AnswerKind::parse)?;
    let user = match login_of(e, sender).await {
        Ok(Some(u)) => u,
        _ => return None,
    };
    let ask = match kind {
        AnswerKind::Upgrade => Some("By when? Reply for example: all upgrade by 2027-03-01"),
        AnswerKind::Uninstall => Some("By when? Reply for example: all uninstall by 2026-12-31"),
        AnswerKind::NotMine => Some("Whose are they? Reply for example: all not mine asmith"),
        AnswerKind::Esu | AnswerKind::Exception => {
            Some("This answer needs a date; reply in a message (type help for examples).")
        }
        _ => None,
    };
    if let Some(ask) = ask {
        return Some(ask.to_string());
    }
    let answer = Answer {
        kind,
        date: None,
        detail: None,
        comment: None,
    };
    let done = e
        .answer_poll(&user.login, "matrix", poll, answer, now)
        .await;
    Some(winventory_workflows::conversation::said(
        &user,
        kind,
        None,
        kind.as_str(),
        done,
    ))
}

/// Who an access token belongs to: user and device
/// (`GET /_matrix/client/v3/account/whoami`).
async fn whoami(
    homeserver: &str,
    token: &str,
) -> Result<(OwnedUserId, matrix_sdk::ruma::OwnedDeviceId)> {
    #[derive(serde::Deserialize)]
    struct WhoAmI {
        user_id: OwnedUserId,
        device_id: Option<matrix_sdk::ruma::OwnedDeviceId>,
    }
    let url = format!(
        "{}/_matrix/client/v3/account/whoami",
        homeserver.trim_end_matches('/')
    );
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("cannot reach the Matrix homeserver at {homeserver}"))?;
    if !r.status().is_success() {
        anyhow::bail!(
            "the homeserver at {homeserver} refused the Matrix access token ({}); check WINVENTORY_MATRIX_ACCESS_TOKEN",
            r.status()
        );
    }
    let who: WhoAmI = r
        .json()
        .await
        .context("the homeserver's whoami answer is not what the Matrix spec describes")?;
    let device = who.device_id.context(
        "this access token has no device (an appservice token?); use a token made by logging the bot in",
    )?;
    Ok((who.user_id, device))
}

/// Cross-sign the bot's new device, answering the password challenge.
async fn cross_sign(client: &Client, user: &str, password: &str) -> Result<()> {
    let encryption = client.encryption();
    if let Err(e) = encryption.bootstrap_cross_signing_if_needed(None).await {
        let Some(response) = e.as_uiaa_response() else {
            return Err(anyhow::anyhow!("cannot cross-sign the bot's device: {e}"));
        };
        let mut auth = uiaa::Password::new(
            uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(
                localpart(user).to_string(),
            )),
            password.to_string(),
        );
        auth.session = response.session.clone();
        encryption
            .bootstrap_cross_signing(Some(uiaa::AuthData::Password(auth)))
            .await
            .context("cannot cross-sign the bot's device")?;
    }
    Ok(())
}

/// Keep a new session (`session.json`, owner-only) and the time of the
/// first log-in (`since`): events from before it are history, not requests.
fn keep_new_session(store: &Path, session: &MatrixSession) -> Result<()> {
    write_private(&session_path(store), &serde_json::to_string(session)?)?;
    let since = store.join("since");
    std::fs::write(&since, chrono::Utc::now().timestamp_millis().to_string())
        .with_context(|| format!("cannot write {}", since.display()))
}

/// Write a file only its owner can read (it holds an access token).
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The poll that follows a digest (`org.matrix.msc3381.poll.start`, with a
/// text fallback for clients without polls), offering `actions` (the
/// message's answers for all of its machines at once).
fn digest_poll(
    lang: &str,
    actions: &[AnswerKind],
) -> Result<NewUnstablePollStartEventContent, String> {
    let fr = lang == "fr";
    let question = if fr {
        "Pour toutes les machines ci-dessus :"
    } else {
        "For all of the machines above:"
    };
    let label = |k: AnswerKind| {
        let l = answer_label(k, lang);
        match (k, fr) {
            (AnswerKind::Upgrade | AnswerKind::Uninstall, false) => {
                format!("{l} (I will give the date)")
            }
            (AnswerKind::Upgrade | AnswerKind::Uninstall, true) => {
                format!("{l} (je donnerai la date)")
            }
            (AnswerKind::NotMine, false) => format!("{l} (I will say whose)"),
            (AnswerKind::NotMine, true) => format!("{l} (je dirai à qui)"),
            _ => l.to_string(),
        }
    };
    let answers: Vec<UnstablePollAnswer> = actions
        .iter()
        .map(|k| UnstablePollAnswer::new(k.as_str(), label(*k)))
        .collect();
    let fallback = std::iter::once(question.to_string())
        .chain(
            actions
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{}. {}", i + 1, label(*k))),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let answers: UnstablePollAnswers = answers
        .try_into()
        .map_err(|e| format!("the poll's answers are refused: {e}"))?;
    Ok(NewUnstablePollStartEventContent::plain_text(
        fallback,
        UnstablePollStartContentBlock::new(question, answers),
    ))
}

/// The content with the outbox key beside it (inside the encryption), so
/// a later resend can recognise what was already sent.
fn with_key(content: &impl serde::Serialize, key: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(content).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = v.as_object_mut() {
        map.insert(OUTBOX_KEY.into(), key.into());
    }
    v
}

/// The content field that carries the outbox key.
const OUTBOX_KEY: &str = "org.winventory.outbox_key";

/// How far back a resend looks for what it may have sent already: the bot
/// writes little in a direct room, and a resend comes within days.
const HISTORY_LOOKBACK: u32 = 100;

/// The outbox keys (of `key` and its poll) among the bot's recent events in
/// the room, with their event ids, read back (and decrypted) from the
/// homeserver.
async fn sent_in_room(room: &Room, key: &str) -> Result<Vec<(String, String)>, matrix_sdk::Error> {
    let mut options = matrix_sdk::room::MessagesOptions::backward();
    options.limit = HISTORY_LOOKBACK.into();
    let page = room.messages(options).await?;
    let me = room.own_user_id().as_str();
    let mut found = Vec::new();
    for ev in page.chunk {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(ev.raw().json().get()) else {
            continue;
        };
        if v["sender"].as_str() != Some(me) {
            continue;
        }
        if let Some(k) = v["content"][OUTBOX_KEY].as_str()
            && k.starts_with(key)
        {
            let id = v["event_id"].as_str().unwrap_or_default();
            found.push((k.to_string(), id.to_string()));
        }
    }
    Ok(found)
}

/// Temporary (retry later) or permanent (fall back), from a matrix-sdk error.
fn classify(e: &matrix_sdk::Error, what: &str) -> SendError {
    use matrix_sdk::ruma::api::error::{ErrorKind, LimitExceededErrorData, RetryAfter};
    // Still limited after matrix-sdk's own retries: wait as the server says
    // (`Retry-After`, or the older `retry_after_ms` in the body).
    if let Some(ErrorKind::LimitExceeded(LimitExceededErrorData { retry_after, .. })) =
        e.client_api_error_kind()
    {
        let wait = match retry_after {
            Some(RetryAfter::Delay(d)) => *d,
            Some(RetryAfter::DateTime(t)) => t
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default(),
            None => Duration::from_secs(5),
        };
        return SendError::RateLimited {
            retry_after: wait,
            detail: format!("{what}: {e}"),
        };
    }
    match e.as_client_api_error() {
        Some(api) if api.status_code.as_u16() == 429 || api.status_code.is_server_error() => {
            SendError::Transient(format!("{what}: {e}"))
        }
        Some(_) => SendError::Permanent(format!("{what}: {e}")),
        None => SendError::Transient(format!("{what}: {e}")),
    }
}

#[async_trait]
impl Channel for MatrixChannel {
    fn name(&self) -> &'static str {
        "matrix"
    }

    async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
        let user = UserId::parse(m.address.as_str()).map_err(|e| {
            SendError::Permanent(format!("{:?} is not a Matrix ID: {e}", m.address))
        })?;
        let room = self
            .direct_room(&user)
            .await
            .map_err(|e| classify(&e, &format!("cannot open a direct room with {user}")))?;
        let content = match &m.body_html {
            Some(html) => RoomMessageEventContent::text_html(m.body_text.clone(), html.clone()),
            None => RoomMessageEventContent::text_plain(m.body_text.clone()),
        };
        // The transaction ID is the outbox key's Message-ID: a resend of
        // the same message from the same device is a no-op on the server.
        let txn = OwnedTransactionId::from(
            m.message_id
                .trim_matches(['<', '>'])
                .replace(['@', '/'], "."),
        );
        // The homeserver remembers transaction IDs only for a while (Synapse:
        // about 30 minutes), so a later attempt first looks for what an
        // earlier one may have sent.
        let sent_before = if m.attempts > 1 {
            sent_in_room(&room, &m.idem_key)
                .await
                .map_err(|e| classify(&e, &format!("cannot read the room with {user}")))?
        } else {
            Vec::new()
        };
        let sent = |k: &str| sent_before.iter().find(|(key, _)| key == k);
        if sent(&m.idem_key).is_none() {
            room.send_raw("m.room.message", with_key(&content, &m.idem_key))
                .with_transaction_id(&txn)
                .await
                .map_err(|e| classify(&e, &format!("cannot send to {user}")))?;
        }
        // A digest is followed by a poll answering for all its machines at
        // once (the answers that need no field, and two that ask for it).
        // If it fails, the retry skips the digest and sends the poll.
        let poll_key = format!("{}#poll", m.idem_key);
        let actions: Vec<AnswerKind> = m
            .actions
            .iter()
            .filter_map(|a| AnswerKind::parse(a))
            .collect();
        let poll_sent = sent(&poll_key).map(|(_, id)| id.clone());
        if let Some(id) = poll_sent.filter(|id| !id.is_empty()) {
            // Sent by an earlier attempt that may have stopped before
            // remembering it.
            self.db.set_remote_id(m.id, &id).await.map_err(|e| {
                SendError::Transient(format!("cannot remember the poll sent to {user}: {e}"))
            })?;
        } else if !actions.is_empty() && sent(&poll_key).is_none() {
            let lang = match self.db.user(&m.recipient).await {
                Ok(u) => u.and_then(|u| u.language).unwrap_or_default(),
                Err(_) => String::new(),
            };
            let poll = digest_poll(winventory_workflows::render::language(&lang), &actions)
                .map_err(SendError::Permanent)?;
            let sent = room
                .send_raw("org.matrix.msc3381.poll.start", with_key(&poll, &poll_key))
                .with_transaction_id(&OwnedTransactionId::from(format!("{txn}.poll")))
                .await
                .map_err(|e| classify(&e, &format!("cannot send the poll to {user}")))?;
            // A vote names the poll's event: it finds this message, and
            // answers the machines it lists.
            self.db
                .set_remote_id(m.id, sent.response.event_id.as_str())
                .await
                .map_err(|e| {
                    SendError::Transient(format!("cannot remember the poll sent to {user}: {e}"))
                })?;
        }
        Ok(())
    }
}
