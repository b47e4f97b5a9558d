//! A fake Mattermost server (REST API v4 and websocket) that integration
//! tests run in-process, because no real Mattermost can run on this machine.
//!
//! It keeps to the published API in `shared/specs/mattermost-api/`:
//! `INTEGRATION_SHAPES.md` (message attachments, actions, the integration
//! request and response, dialogs, slash commands, websocket), the
//! `api-reference-2023/` files `posts.yaml`, `users.yaml`, `channels.yaml`,
//! `introduction.yaml` (authentication, errors, rate limiting, websocket) and
//! `definitions.yaml` (`User`, `Channel`, `Post`, `PostList`, `AppError`), and
//! `monorepo-current/actions.yaml` (opening a dialog). Where those are silent
//! it does what the Mattermost server does (`DoPostActionWithCookie`,
//! `OpenInteractiveDialog`, `SubmitInteractiveDialog`, `UpdatePost`,
//! `deduplicateCreatePost`, `Post.StripActionIntegrations`).
//!
//! Served: `GET /api/v4/users/me`, `POST /api/v4/users/usernames`,
//! `POST /api/v4/channels/direct`, `POST /api/v4/posts`,
//! `PUT|GET /api/v4/posts/{post_id}`, `GET /api/v4/channels/{channel_id}/posts`,
//! `POST /api/v4/actions/dialogs/open` and `GET /api/v4/websocket`; anything
//! else is a 404 `AppError`.
//!
//! Each request is checked against those shapes (the bearer token, required
//! fields, JSON types). A malformed one gets the 400 `AppError` Mattermost
//! would send and is recorded in [`FakeMattermost::violations`], which tests
//! assert is empty. What the real server accepts but logs a warning about
//! (its `IsValid` checks on attachments and dialogs, "a future version will
//! reject") is accepted here too, and also recorded as a violation. So are
//! malformed replies from the bot's own integration endpoints.
#![allow(dead_code)] // not every helper is used by every test

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// What `hello` reports, in Mattermost's `version.build.hash.enterprise` form.
const SERVER_VERSION: &str = "9.11.0.9.11.0.4f9c1e7d2b8a6f3e5d0c9b1a7e2f4d6c.false";
/// The alphabet of Mattermost's `model.NewId` (26 characters, base32).
const ID_ALPHABET: &[u8] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
/// Mattermost's `PendingPostIDsCacheTTL`.
const DEFAULT_PENDING_WINDOW: Duration = Duration::from_secs(30);
/// How long a trigger id can open a dialog (Mattermost's
/// `InteractiveDialogTriggerTimeoutMilliseconds`).
const DEFAULT_TRIGGER_TTL: Duration = Duration::from_secs(3);
/// Mattermost's default `OutgoingIntegrationRequestsTimeout`.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// `model.PostMessageMaxRunesV2`.
const MAX_MESSAGE_RUNES: usize = 16383;
const PER_PAGE_DEFAULT: usize = 60;
const PER_PAGE_MAX: usize = 200;
/// `model.PostActionRetainPropKeys`: kept from the original post when an
/// integration's `update` replaces the props.
const RETAIN_PROP_KEYS: [&str; 3] = ["from_webhook", "override_username", "override_icon_url"];
/// The trigger of the custom slash command [`FakeMattermost::send_slash`] runs.
const SLASH_COMMAND: &str = "/winv";
/// The team a slash command runs in (DM channels have none of their own).
const TEAM_NAME: &str = "fake-team";
const RATE_LIMIT_PER_SECOND: &str = "10";

/// How a 429 from [`FakeMattermost::fail_next`] says when the limit resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetStyle {
    /// `X-Ratelimit-Reset` is the number of seconds to wait (what the
    /// server's throttled middleware sends).
    Seconds(u64),
    /// `X-Ratelimit-Reset` is a Unix time in seconds, this many seconds from
    /// now (what the API documentation describes).
    Epoch(u64),
}

/// What came of a test "clicking" a button or choosing a menu option.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickOutcome {
    /// The HTTP status the integration answered with.
    pub status: u16,
    /// Its body: JSON, a JSON string for a non-JSON body, or `Null` if empty.
    pub body: Value,
    /// The ephemeral message the clicking user would see (Slack-style links
    /// turned to Markdown unless `skip_slack_parsing`).
    pub ephemeral_text: Option<String>,
    /// Whether the reply's `update` replaced the post's message and props.
    pub updated: bool,
    /// The `dialog` object of a dialog the integration opened with this
    /// click's trigger id while the request was in flight.
    pub dialog: Option<Value>,
}

/// A running fake Mattermost server; stopped when dropped.
pub struct FakeMattermost {
    state: Shared,
    url: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Debug, Clone)]
struct UserRec {
    id: String,
    username: String,
    create_at: i64,
    is_bot: bool,
}

#[derive(Debug, Clone)]
struct ChannelRec {
    id: String,
    name: String,
    create_at: i64,
    last_post_at: i64,
    total_msg_count: i64,
    creator_id: String,
    members: Vec<String>,
}

struct PendingRec {
    post_id: String,
    at: Instant,
}

struct TriggerRec {
    user_id: String,
    channel_id: String,
    issued: Instant,
}

#[derive(Debug, Clone)]
struct DialogRec {
    seq: u64,
    trigger_id: String,
    user_id: String,
    channel_id: String,
    url: String,
    dialog: Value,
}

struct FailPlan {
    remaining: usize,
    status: u16,
    reset: Option<ResetStyle>,
}

enum WsCmd {
    Event(Value),
    Close,
}

struct Inner {
    bot_id: String,
    bot_token: String,
    team_id: String,
    users: Vec<UserRec>,
    channels: Vec<ChannelRec>,
    /// Every post as stored, oldest first, integrations included.
    posts: Vec<Value>,
    pending: HashMap<String, PendingRec>,
    pending_window: Duration,
    trigger_ttl: Duration,
    triggers: HashMap<String, TriggerRec>,
    dialogs: Vec<DialogRec>,
    dialog_seq: u64,
    fail: Option<FailPlan>,
    requests: Vec<(String, String)>,
    violations: Vec<String>,
    sockets: HashMap<u64, mpsc::UnboundedSender<WsCmd>>,
    next_socket: u64,
    ws_connects: usize,
    /// While set, websocket connections are refused (503), as when the
    /// server is restarting.
    ws_down: bool,
    last_ts: i64,
}

impl FakeMattermost {
    /// Starts the server on 127.0.0.1 with a bot user `bot_username` whose
    /// access token is `bot_token`.
    pub async fn start(bot_username: &str, bot_token: &str) -> FakeMattermost {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Mattermost: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake Mattermost: no local address");
        let state: Shared = Arc::new(Mutex::new(Inner::new(bot_username, bot_token)));
        let app = Router::new()
            .route("/api/v4/websocket", any(ws_route))
            .fallback(dispatch)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(INTEGRATION_TIMEOUT)
            .build()
            .expect("fake Mattermost: cannot build its HTTP client");
        FakeMattermost {
            state,
            url: format!("http://{addr}"),
            http,
            server,
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (the API is under `/api/v4`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bot's user id.
    pub async fn bot_user_id(&self) -> String {
        lock(&self.state).bot_id.clone()
    }

    /// Adds a user and returns its id. Usernames are stored lowercased and
    /// matched case-insensitively, as in Mattermost; adding an existing name
    /// returns the existing id.
    pub async fn add_user(&self, username: &str) -> String {
        let mut g = lock(&self.state);
        if let Some(u) = g.user_by_name(username) {
            return u.id.clone();
        }
        let user = UserRec {
            id: new_id(),
            username: username.to_lowercase(),
            create_at: g.next_ts(),
            is_bot: false,
        };
        let id = user.id.clone();
        g.users.push(user);
        id
    }

    /// The posts of the DM channel between the bot and `username`, oldest
    /// first, as stored (action `integration`s included, which the API strips).
    pub async fn posts_to(&self, username: &str) -> Vec<Value> {
        let g = lock(&self.state);
        let Some(user) = g.user_by_name(username) else {
            return Vec::new();
        };
        let name = dm_name(&g.bot_id, &user.id);
        let Some(channel) = g.channels.iter().find(|c| c.name == name) else {
            return Vec::new();
        };
        g.posts
            .iter()
            .filter(|p| p["channel_id"] == channel.id.as_str())
            .cloned()
            .collect()
    }

    /// Every post, oldest first, as stored.
    pub async fn all_posts(&self) -> Vec<Value> {
        lock(&self.state).posts.clone()
    }

    /// Clicks the action named `action_name` (or with that id) of post
    /// `post_id` as `as_username`, doing what Mattermost's `DoPostAction`
    /// does: issues a trigger id, POSTs the `PostActionIntegrationRequest` to
    /// the action's integration URL and applies the reply. For a select,
    /// `selected_option` must be one of the action's option values and is
    /// sent as `context.selected_option`. A non-200 reply is returned in the
    /// outcome; `Err` is for what the user could not click at all, or a
    /// failed connection.
    pub async fn click(
        &self,
        post_id: &str,
        action_name: &str,
        as_username: &str,
        selected_option: Option<&str>,
    ) -> Result<ClickOutcome, String> {
        let (url, request, trigger_id) = {
            let mut g = lock(&self.state);
            g.prepare_click(post_id, action_name, as_username, selected_option)?
        };
        let resp = self
            .http
            .post(&url)
            .header(header::ACCEPT, "application/json")
            .json(&request)
            .send()
            .await
            .map_err(|e| format!("integration request to {url} failed: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the integration's reply from {url}: {e}"))?;
        let body = body_value(&bytes);
        let mut outcome = ClickOutcome {
            status,
            body,
            ephemeral_text: None,
            updated: false,
            dialog: None,
        };
        let mut g = lock(&self.state);
        if status == 200 && !bytes.iter().all(u8::is_ascii_whitespace) {
            g.apply_action_reply(post_id, &url, &bytes, &mut outcome);
        }
        outcome.dialog = g
            .dialogs
            .iter()
            .rev()
            .find(|d| d.trigger_id == trigger_id)
            .map(|d| d.dialog.clone());
        Ok(outcome)
    }

    /// The dialog most recently opened for `as_username` and not yet closed,
    /// as the `OpenDialogRequest` `{trigger_id, url, dialog}`.
    pub async fn open_dialog(&self, as_username: &str) -> Option<Value> {
        let g = lock(&self.state);
        let user = g.user_by_name(as_username)?;
        g.dialogs
            .iter()
            .rev()
            .find(|d| d.user_id == user.id)
            .map(|d| json!({"trigger_id": d.trigger_id, "url": d.url, "dialog": d.dialog}))
    }

    /// Submits the dialog most recently opened for `as_username` as
    /// Mattermost does: POSTs a `SubmitDialogRequest` to the dialog's URL
    /// (the server blanks `url`, which is `omitempty`, so it is not sent).
    /// Returns the integration's status and body (`{}` when empty). The
    /// dialog stays open when the reply has `error`/`errors` or is not a
    /// 200, is replaced by `form` for a `"type":"form"` reply, and is closed
    /// otherwise.
    pub async fn submit_dialog(
        &self,
        as_username: &str,
        submission: Value,
    ) -> Result<(u16, Value), String> {
        if !submission.is_object() {
            return Err(format!(
                "submission must be a JSON object {{element name: value}}, got {}",
                kind(&submission)
            ));
        }
        let (dialog, user_id) = self.current_dialog(as_username)?;
        let request = json!({
            "type": "dialog_submission",
            "callback_id": dialog.dialog["callback_id"].as_str().unwrap_or(""),
            "state": dialog.dialog["state"].as_str().unwrap_or(""),
            "user_id": user_id,
            "channel_id": dialog.channel_id,
            "team_id": "",
            "submission": submission,
            "cancelled": false,
        });
        let (status, bytes) = self.post_json(&dialog.url, &request).await?;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            body_value(&bytes)
        };
        let mut g = lock(&self.state);
        if status != 200 {
            return Ok((status, body));
        }
        let mut c = Check::default();
        let reply = check_submit_dialog_response(&mut c, &bytes);
        let ctx = format!("dialog submission reply from {}", dialog.url);
        g.record(&ctx, &c);
        let Some(reply) = reply else {
            return Ok((status, body));
        };
        let has_errors = !reply["error"].as_str().unwrap_or("").is_empty()
            || reply["errors"].as_object().is_some_and(|e| !e.is_empty());
        if !has_errors {
            let form = (reply["type"] == "form").then(|| reply["form"].clone());
            let pos = g.dialogs.iter().position(|d| d.seq == dialog.seq);
            match (pos, form) {
                (Some(i), Some(form)) if form.is_object() => g.dialogs[i].dialog = form,
                (Some(i), _) => {
                    g.dialogs.remove(i);
                }
                (None, _) => {}
            }
        }
        Ok((status, body))
    }

    /// Cancels the dialog most recently opened for `as_username`. If it was
    /// opened with `notify_on_cancel`, POSTs the `SubmitDialogRequest` with
    /// `cancelled: true` and a null submission, as the web app and server
    /// do, and returns the status and body.
    pub async fn cancel_dialog(&self, as_username: &str) -> Result<Option<(u16, Value)>, String> {
        let (dialog, user_id) = self.current_dialog(as_username)?;
        lock(&self.state).dialogs.retain(|d| d.seq != dialog.seq);
        if dialog.dialog["notify_on_cancel"] != true {
            return Ok(None);
        }
        let request = json!({
            "type": "dialog_submission",
            "callback_id": dialog.dialog["callback_id"].as_str().unwrap_or(""),
            "state": dialog.dialog["state"].as_str().unwrap_or(""),
            "user_id": user_id,
            "channel_id": dialog.channel_id,
            "team_id": "",
            "submission": null,
            "cancelled": true,
        });
        let (status, bytes) = self.post_json(&dialog.url, &request).await?;
        Ok(Some((status, body_value(&bytes))))
    }

    /// Posts `text` as `as_username` in their DM with the bot (creating the
    /// channel if needed) and emits `posted` to every connected websocket.
    /// Returns the stored post.
    pub async fn say(&self, as_username: &str, text: &str) -> Value {
        let mut g = lock(&self.state);
        let user = g.user_by_name(as_username).cloned().unwrap_or_else(|| {
            panic!("fake Mattermost: say(): no user {as_username:?}; add_user it first")
        });
        let bot_id = g.bot_id.clone();
        let channel_id = g.dm_channel(&user.id, &bot_id, &user.id);
        g.insert_post(&user.id, &channel_id, "", text, Map::new(), Vec::new())
    }

    /// The next `n` API requests (not websocket ones) fail with `status`.
    /// A 429 carries `X-Ratelimit-Limit`, `X-Ratelimit-Remaining: 0` and
    /// `X-Ratelimit-Reset` (per `reset`, 1 second if `None`) and the body
    /// `limit exceeded`, like Mattermost's throttled middleware; any other
    /// status gets an `AppError` body.
    pub async fn fail_next(&self, n: usize, status: u16, reset: Option<ResetStyle>) {
        lock(&self.state).fail = (n > 0).then_some(FailPlan {
            remaining: n,
            status,
            reset,
        });
    }

    /// Sets how long a `pending_post_id` deduplicates creates (default 30 s).
    pub async fn set_pending_window(&self, window: Duration) {
        lock(&self.state).pending_window = window;
    }

    /// Sets how long a trigger id can open a dialog (default 3 s).
    pub async fn set_trigger_ttl(&self, ttl: Duration) {
        lock(&self.state).trigger_ttl = ttl;
    }

    /// Every HTTP request received (websocket upgrades included), as
    /// (method, path without the query), in order.
    pub async fn requests(&self) -> Vec<(String, String)> {
        lock(&self.state).requests.clone()
    }

    /// Every departure from the API seen so far, one line each.
    pub async fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }

    /// Closes every websocket connection (close code 1001, going away).
    pub async fn drop_websockets(&self) {
        for (_, tx) in lock(&self.state).sockets.drain() {
            let _ = tx.send(WsCmd::Close);
        }
    }

    /// Refuses websocket connections (503) while `down`, and closes the open
    /// ones when it goes down: the bot cannot listen, and what people write
    /// meanwhile reaches it only through the REST API.
    pub async fn set_websocket_down(&self, down: bool) {
        let mut g = lock(&self.state);
        g.ws_down = down;
        if down {
            for (_, tx) in g.sockets.drain() {
                let _ = tx.send(WsCmd::Close);
            }
        }
    }

    /// How many websocket connections have been authenticated so far.
    pub async fn websocket_connects(&self) -> usize {
        lock(&self.state).ws_connects
    }

    /// Runs the custom slash command `/winv text` as `as_username` from their
    /// DM with the bot: POSTs the form Mattermost sends to a command URL
    /// (`Authorization: Token <token>`, form fields `channel_id`,
    /// `channel_name`, `command`, `response_url`, `team_domain`, `team_id`,
    /// `text`, `token`, `trigger_id`, `user_id`, `user_name`). Returns the
    /// status and body; status 0 and the error if the request failed.
    pub async fn send_slash(
        &self,
        url: &str,
        token: &str,
        as_username: &str,
        text: &str,
    ) -> (u16, String) {
        let form = {
            let mut g = lock(&self.state);
            let user = g.user_by_name(as_username).cloned().unwrap_or_else(|| {
                panic!("fake Mattermost: send_slash(): no user {as_username:?}; add_user it first")
            });
            let bot_id = g.bot_id.clone();
            let channel_id = g.dm_channel(&user.id, &bot_id, &user.id);
            let channel_name = g
                .channel(&channel_id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            let trigger_id = g.issue_trigger(&user.id, &channel_id);
            vec![
                ("channel_id", channel_id),
                ("channel_name", channel_name),
                ("command", SLASH_COMMAND.to_string()),
                (
                    "response_url",
                    format!("{}/hooks/commands/{}", self.url, new_id()),
                ),
                ("team_domain", TEAM_NAME.to_string()),
                ("team_id", g.team_id.clone()),
                ("text", text.to_string()),
                ("token", token.to_string()),
                ("trigger_id", trigger_id),
                ("user_id", user.id.clone()),
                ("user_name", user.username.clone()),
            ]
        };
        let sent = self
            .http
            .post(url)
            .header(header::AUTHORIZATION, format!("Token {token}"))
            .header(header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return (0, format!("slash command request to {url} failed: {e}")),
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => {
                return (
                    0,
                    format!("reading the slash command reply from {url}: {e}"),
                );
            }
        };
        if status == 200 {
            let mut c = Check::default();
            check_command_response(&mut c, &content_type, &body);
            lock(&self.state).record(&format!("slash command reply from {url}"), &c);
        }
        (status, body)
    }

    fn current_dialog(&self, as_username: &str) -> Result<(DialogRec, String), String> {
        let g = lock(&self.state);
        let user = g
            .user_by_name(as_username)
            .ok_or_else(|| format!("no user {as_username:?}"))?;
        let dialog = g
            .dialogs
            .iter()
            .rev()
            .find(|d| d.user_id == user.id)
            .cloned()
            .ok_or_else(|| format!("no dialog is open for {as_username:?}"))?;
        Ok((dialog, user.id.clone()))
    }

    async fn post_json(&self, url: &str, body: &Value) -> Result<(u16, Bytes), String> {
        let resp = self
            .http
            .post(url)
            .header(header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(|e| format!("integration request to {url} failed: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the integration's reply from {url}: {e}"))?;
        Ok((status, bytes))
    }
}

impl Drop for FakeMattermost {
    fn drop(&mut self) {
        for (_, tx) in lock(&self.state).sockets.drain() {
            let _ = tx.send(WsCmd::Close);
        }
        self.server.abort();
    }
}

// ---------------------------------------------------------------------------
// State

impl Inner {
    fn new(bot_username: &str, bot_token: &str) -> Self {
        let now = now_ms();
        let bot = UserRec {
            id: new_id(),
            username: bot_username.to_lowercase(),
            create_at: now,
            is_bot: true,
        };
        Inner {
            bot_id: bot.id.clone(),
            bot_token: bot_token.to_string(),
            team_id: new_id(),
            users: vec![bot],
            channels: Vec::new(),
            posts: Vec::new(),
            pending: HashMap::new(),
            pending_window: DEFAULT_PENDING_WINDOW,
            trigger_ttl: DEFAULT_TRIGGER_TTL,
            triggers: HashMap::new(),
            dialogs: Vec::new(),
            dialog_seq: 0,
            fail: None,
            requests: Vec::new(),
            violations: Vec::new(),
            sockets: HashMap::new(),
            next_socket: 0,
            ws_down: false,
            ws_connects: 0,
            last_ts: now,
        }
    }

    /// Milliseconds now, strictly increasing so creation order is total.
    fn next_ts(&mut self) -> i64 {
        let t = now_ms().max(self.last_ts + 1);
        self.last_ts = t;
        t
    }

    fn user_by_name(&self, name: &str) -> Option<&UserRec> {
        let name = name.trim_start_matches('@').to_lowercase();
        self.users.iter().find(|u| u.username == name)
    }

    fn user(&self, id: &str) -> Option<&UserRec> {
        self.users.iter().find(|u| u.id == id)
    }

    fn channel(&self, id: &str) -> Option<&ChannelRec> {
        self.channels.iter().find(|c| c.id == id)
    }

    fn post_index(&self, id: &str) -> Option<usize> {
        self.posts.iter().position(|p| p["id"] == id)
    }

    fn is_member(&self, channel_id: &str, user_id: &str) -> bool {
        self.channel(channel_id)
            .is_some_and(|c| c.members.iter().any(|m| m == user_id))
    }

    /// The DM channel of two users, created (with a `direct_added` event) if
    /// new. Returns its id.
    fn dm_channel(&mut self, a: &str, b: &str, creator: &str) -> String {
        let name = dm_name(a, b);
        if let Some(c) = self.channels.iter().find(|c| c.name == name) {
            return c.id.clone();
        }
        let now = self.next_ts();
        let mut members = vec![a.to_string(), b.to_string()];
        members.sort();
        members.dedup();
        let channel = ChannelRec {
            id: new_id(),
            name,
            create_at: now,
            last_post_at: now,
            total_msg_count: 0,
            creator_id: creator.to_string(),
            members,
        };
        let id = channel.id.clone();
        self.channels.push(channel);
        let teammate = if creator == a { b } else { a };
        let event = ws_event(
            "direct_added",
            json!({"creator_id": creator, "teammate_id": teammate}),
            &id,
            "",
        );
        self.broadcast(&event);
        id
    }

    fn issue_trigger(&mut self, user_id: &str, channel_id: &str) -> String {
        let mut rng = rand::rng();
        let signature: Vec<u8> = (0..71).map(|_| rng.random::<u8>()).collect();
        let data = format!(
            "{}:{}:{}:{}",
            new_id(),
            user_id,
            now_ms(),
            base64(&signature)
        );
        let trigger_id = base64(data.as_bytes());
        self.triggers.insert(
            trigger_id.clone(),
            TriggerRec {
                user_id: user_id.to_string(),
                channel_id: channel_id.to_string(),
                issued: Instant::now(),
            },
        );
        trigger_id
    }

    fn take_failure(&mut self) -> Option<(u16, Option<ResetStyle>)> {
        let plan = self.fail.as_mut()?;
        plan.remaining = plan.remaining.saturating_sub(1);
        let out = (plan.status, plan.reset);
        if plan.remaining == 0 {
            self.fail = None;
        }
        Some(out)
    }

    fn violation(&mut self, line: String) {
        self.violations.push(line);
    }

    /// Records what a [`Check`] found: hard errors as they are, warnings
    /// marked as what the real server only logs.
    fn record(&mut self, ctx: &str, c: &Check) {
        for e in &c.hard {
            self.violations.push(format!("{ctx}: {e}"));
        }
        for w in &c.soft {
            self.violations.push(format!(
                "{ctx}: {w} (Mattermost accepts this today but logs that a future version will reject it)"
            ));
        }
    }

    fn broadcast(&mut self, event: &Value) {
        self.sockets
            .retain(|_, tx| tx.send(WsCmd::Event(event.clone())).is_ok());
    }

    /// Stores a new post, updates the channel (and the thread root) and
    /// emits `posted`. Returns the stored post.
    fn insert_post(
        &mut self,
        user_id: &str,
        channel_id: &str,
        root_id: &str,
        message: &str,
        props: Map<String, Value>,
        file_ids: Vec<String>,
    ) -> Value {
        let now = self.next_ts();
        let has_attachments = props
            .get("attachments")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let mut post = Map::new();
        post.insert("id".into(), json!(new_id()));
        post.insert("create_at".into(), json!(now));
        post.insert("update_at".into(), json!(now));
        post.insert("edit_at".into(), json!(0));
        post.insert("delete_at".into(), json!(0));
        post.insert("is_pinned".into(), json!(false));
        post.insert("user_id".into(), json!(user_id));
        post.insert("channel_id".into(), json!(channel_id));
        post.insert("root_id".into(), json!(root_id));
        post.insert("original_id".into(), json!(""));
        post.insert("message".into(), json!(message));
        post.insert("type".into(), json!(""));
        post.insert("props".into(), Value::Object(props));
        post.insert("hashtags".into(), json!(""));
        if !file_ids.is_empty() {
            post.insert("file_ids".into(), json!(file_ids));
        }
        post.insert("pending_post_id".into(), json!(""));
        post.insert("reply_count".into(), json!(0));
        post.insert("last_reply_at".into(), json!(0));
        post.insert("participants".into(), Value::Null);
        post.insert("metadata".into(), metadata(has_attachments));
        let post = Value::Object(post);
        self.posts.push(post.clone());
        if let Some(c) = self.channels.iter_mut().find(|c| c.id == channel_id) {
            c.last_post_at = now;
            c.total_msg_count += 1;
        }
        if !root_id.is_empty()
            && let Some(root) = self.posts.iter_mut().find(|p| p["id"] == root_id)
            && let Some(r) = root.as_object_mut()
        {
            let count = r.get("reply_count").and_then(Value::as_i64).unwrap_or(0);
            r.insert("reply_count".into(), json!(count + 1));
            r.insert("last_reply_at".into(), json!(now));
        }
        self.emit_posted(&post);
        post
    }

    fn emit_posted(&mut self, post: &Value) {
        let channel_id = post["channel_id"].as_str().unwrap_or("").to_string();
        let user_id = post["user_id"].as_str().unwrap_or("").to_string();
        let Some(channel) = self.channel(&channel_id) else {
            return;
        };
        let channel_name = channel.name.clone();
        let mentions: Vec<String> = channel
            .members
            .iter()
            .filter(|m| **m != user_id)
            .cloned()
            .collect();
        let sender = self
            .user(&user_id)
            .map(|u| format!("@{}", u.username))
            .unwrap_or_default();
        let mut data = json!({
            "channel_display_name": sender,
            "channel_name": channel_name,
            "channel_type": "D",
            "post": client_view(post).to_string(),
            "sender_name": sender,
            "set_online": true,
            "team_id": "",
        });
        if !mentions.is_empty()
            && let Some(d) = data.as_object_mut()
        {
            d.insert("mentions".into(), json!(json!(mentions).to_string()));
        }
        let event = ws_event("posted", data, &channel_id, "");
        self.broadcast(&event);
    }

    /// Replaces a stored post's message and props the way `UpdatePost` does
    /// (`edit_at` set when the message or the attachments change) and emits
    /// `post_edited`. Returns the stored post.
    fn update_post(
        &mut self,
        index: usize,
        message: &str,
        props: Map<String, Value>,
        is_pinned: Option<bool>,
    ) -> Value {
        let now = self.next_ts();
        let post = &mut self.posts[index];
        let attachments_changed = post["props"]["attachments"]
            != props.get("attachments").cloned().unwrap_or(Value::Null);
        let has_attachments = props
            .get("attachments")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if let Some(p) = post.as_object_mut() {
            if p.get("message").and_then(Value::as_str) != Some(message) || attachments_changed {
                p.insert("edit_at".into(), json!(now));
            }
            p.insert("message".into(), json!(message));
            p.insert("props".into(), Value::Object(props));
            p.insert("update_at".into(), json!(now));
            if let Some(pinned) = is_pinned {
                p.insert("is_pinned".into(), json!(pinned));
            }
            p.insert("metadata".into(), metadata(has_attachments));
        }
        let post = post.clone();
        let channel_id = post["channel_id"].as_str().unwrap_or("").to_string();
        let event = ws_event(
            "post_edited",
            json!({"post": client_view(&post).to_string()}),
            &channel_id,
            "",
        );
        self.broadcast(&event);
        post
    }

    fn user_json(&self, user: &UserRec, own: bool) -> Value {
        let mut u = Map::new();
        u.insert("id".into(), json!(user.id));
        u.insert("create_at".into(), json!(user.create_at));
        u.insert("update_at".into(), json!(user.create_at));
        u.insert("delete_at".into(), json!(0));
        u.insert("username".into(), json!(user.username));
        u.insert("auth_data".into(), json!(""));
        u.insert("auth_service".into(), json!(""));
        let email = if user.is_bot {
            format!("{}@localhost", user.username)
        } else {
            format!("{}@example.com", user.username)
        };
        u.insert("email".into(), json!(email));
        u.insert("nickname".into(), json!(""));
        let first_name = if user.is_bot {
            String::new()
        } else {
            capitalized(&user.username)
        };
        u.insert("first_name".into(), json!(first_name));
        u.insert("last_name".into(), json!(""));
        u.insert("position".into(), json!(""));
        u.insert("roles".into(), json!("system_user"));
        u.insert("locale".into(), json!("en"));
        u.insert(
            "timezone".into(),
            json!({"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}),
        );
        u.insert("disable_welcome_email".into(), json!(false));
        if own {
            u.insert("email_verified".into(), json!(true));
            u.insert(
                "notify_props".into(),
                json!({
                    "channel": "true", "comments": "never", "desktop": "mention",
                    "desktop_sound": "true", "email": "true", "first_name": "false",
                    "mention_keys": "", "push": "mention", "push_status": "away",
                }),
            );
            u.insert("props".into(), json!({}));
            u.insert("last_password_update".into(), json!(user.create_at));
            u.insert("last_picture_update".into(), json!(0));
            u.insert("failed_attempts".into(), json!(0));
            u.insert("mfa_active".into(), json!(false));
        }
        if user.is_bot {
            u.insert("is_bot".into(), json!(true));
            u.insert("bot_description".into(), json!(""));
            u.insert("bot_last_icon_update".into(), json!(0));
        }
        Value::Object(u)
    }

    // -- clicks ---------------------------------------------------------

    fn prepare_click(
        &mut self,
        post_id: &str,
        action_key: &str,
        as_username: &str,
        selected_option: Option<&str>,
    ) -> Result<(String, Value, String), String> {
        let user = self
            .user_by_name(as_username)
            .cloned()
            .ok_or_else(|| format!("no user {as_username:?}"))?;
        let index = self
            .post_index(post_id)
            .ok_or_else(|| format!("no post {post_id:?}"))?;
        let post = self.posts[index].clone();
        let channel_id = post["channel_id"].as_str().unwrap_or("").to_string();
        let channel = self
            .channel(&channel_id)
            .cloned()
            .ok_or_else(|| format!("post {post_id} is in no known channel"))?;
        if !channel.members.contains(&user.id) {
            return Err(format!(
                "{as_username} is not a member of channel {} and cannot see post {post_id}",
                channel.name
            ));
        }
        let action = find_action(&post, action_key).ok_or_else(|| {
            format!("post {post_id} has no action named (or with id) {action_key:?}")
        })?;
        let action_id = action["id"].as_str().unwrap_or("");
        if action_id.is_empty() || !action_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "action {action_key:?} has id {action_id:?}; Mattermost routes clicks by [A-Za-z0-9]+ ids"
            ));
        }
        if action["disabled"] == true {
            return Err(format!("action {action_key:?} is disabled"));
        }
        let integration = action
            .get("integration")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("action {action_key:?} has no integration"))?;
        let url = integration
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut context = integration
            .get("context")
            .and_then(Value::as_object)
            .filter(|c| !c.is_empty())
            .cloned();
        let action_type = action["type"].as_str().unwrap_or("").to_string();
        let mut data_source = String::new();
        match (action_type.as_str(), selected_option) {
            ("select", Some(option)) => {
                let source = action["data_source"].as_str().unwrap_or("");
                if source.is_empty() {
                    let values: Vec<&str> = action["options"]
                        .as_array()
                        .map(|o| o.iter().filter_map(|o| o["value"].as_str()).collect())
                        .unwrap_or_default();
                    if !values.contains(&option) {
                        return Err(format!(
                            "{option:?} is not an option of {action_key:?} (options: {values:?})"
                        ));
                    }
                }
                data_source = source.to_string();
                context
                    .get_or_insert_with(Map::new)
                    .insert("selected_option".into(), json!(option));
            }
            ("select", None) => {
                return Err(format!(
                    "action {action_key:?} is a select: choose an option"
                ));
            }
            (_, Some(_)) => {
                return Err(format!(
                    "action {action_key:?} is a {action_type:?} action, not a select: it takes no option"
                ));
            }
            (_, None) => {}
        }
        let trigger_id = self.issue_trigger(&user.id, &channel_id);
        let mut request = json!({
            "user_id": user.id,
            "user_name": user.username,
            "channel_id": channel_id,
            "channel_name": channel.name,
            "team_id": "",
            "team_domain": "",
            "post_id": post_id,
            "trigger_id": trigger_id,
            "type": action_type,
            "data_source": data_source,
        });
        if let (Some(ctx), Some(r)) = (context, request.as_object_mut()) {
            r.insert("context".into(), Value::Object(ctx));
        }
        Ok((url, request, trigger_id))
    }

    /// Applies a 200 `PostActionIntegrationResponse` as `DoPostAction` does.
    fn apply_action_reply(
        &mut self,
        post_id: &str,
        url: &str,
        bytes: &[u8],
        outcome: &mut ClickOutcome,
    ) {
        let ctx = format!("action reply from {url}");
        let mut c = Check::default();
        let reply: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                c.hard.push(format!(
                    "not a JSON PostActionIntegrationResponse ({e}); Mattermost answers the click with a 400"
                ));
                self.record(&ctx, &c);
                return;
            }
        };
        let Some(obj) = reply.as_object() else {
            if !reply.is_null() {
                c.hard
                    .push(format!("must be a JSON object, got {}", kind(&reply)));
                self.record(&ctx, &c);
            }
            return;
        };
        let at = "reply";
        let update = c.obj(obj, "update", at, false);
        let ephemeral = c.str(obj, "ephemeral_text", at, false).unwrap_or("");
        let skip_parsing = c
            .bool(obj, "skip_slack_parsing", at, false)
            .unwrap_or(false);
        let mut new_message = String::new();
        let mut new_props: Option<Map<String, Value>> = None;
        if let Some(update) = update {
            new_message = c
                .str(update, "message", "reply.update", false)
                .unwrap_or("")
                .to_string();
            if let Some(props) = c.obj(update, "props", "reply.update", false) {
                new_props = Some(normalize_props(&mut c, props, "reply.update.props"));
            }
        }
        if !c.hard.is_empty() {
            c.hard
                .push("Mattermost answers the click with a 400 and applies nothing".into());
            self.record(&ctx, &c);
            return;
        }
        self.record(&ctx, &c);
        if update.is_some()
            && let Some(index) = self.post_index(post_id)
        {
            let original = self.posts[index]["props"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let props = match new_props {
                None => original,
                Some(mut props) => {
                    for key in RETAIN_PROP_KEYS {
                        match original.get(key) {
                            Some(v) => {
                                props.insert(key.into(), v.clone());
                            }
                            None => {
                                props.remove(key);
                            }
                        }
                    }
                    props
                }
            };
            self.update_post(index, &new_message, props, None);
            outcome.updated = true;
        }
        if !ephemeral.is_empty() {
            outcome.ephemeral_text = Some(if skip_parsing {
                ephemeral.to_string()
            } else {
                slack_links_to_markdown(ephemeral)
            });
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP

#[derive(Debug)]
struct ApiError {
    status: u16,
    id: String,
    message: String,
    detailed: String,
    violation: bool,
}

impl ApiError {
    fn new(status: u16, id: &str, message: &str, detailed: impl Into<String>) -> Self {
        ApiError {
            status,
            id: id.to_string(),
            message: message.to_string(),
            detailed: detailed.into(),
            violation: false,
        }
    }

    fn recorded(mut self) -> Self {
        self.violation = true;
        self
    }

    fn bad_body(what: &str, detailed: impl Into<String>) -> Self {
        ApiError::new(
            400,
            "api.context.invalid_body_param.app_error",
            &format!("Invalid or missing {what} in request body."),
            detailed,
        )
        .recorded()
    }

    fn bad_url(param: &str, detailed: impl Into<String>) -> Self {
        ApiError::new(
            400,
            "api.context.invalid_url_param.app_error",
            &format!("Invalid or missing {param} parameter in request URL."),
            detailed,
        )
        .recorded()
    }

    fn forbidden(detailed: impl Into<String>) -> Self {
        ApiError::new(
            403,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
            detailed,
        )
    }
}

type ApiResult = Result<(u16, Value), ApiError>;

enum Endpoint {
    Me,
    Usernames,
    Direct,
    CreatePost,
    UpdatePost(String),
    GetPost(String),
    ChannelPosts(String),
    OpenDialog,
    UserChannels(String),
    GetUser(String),
}

async fn dispatch(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = new_id();
    let path = uri.path().to_string();
    let mut g = lock(&state);
    g.requests.push((method.as_str().to_string(), path.clone()));
    if let Some((status, reset)) = g.take_failure() {
        return injected_failure(status, reset, &request_id);
    }
    match route(&mut g, &method, &path, uri.query(), &headers, &body) {
        Ok((status, value)) => json_response(status, &value, &request_id),
        Err(e) => {
            if e.violation {
                let line = format!("{method} {path}: {} {}", e.message, e.detailed);
                g.violation(line);
            }
            error_response(&e, &request_id)
        }
    }
}

fn route(
    g: &mut Inner,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let endpoint = match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v4", "users", "me"]) => Endpoint::Me,
        ("POST", ["api", "v4", "users", "usernames"]) => Endpoint::Usernames,
        ("POST", ["api", "v4", "channels", "direct"]) => Endpoint::Direct,
        ("POST", ["api", "v4", "posts"]) => Endpoint::CreatePost,
        ("PUT", ["api", "v4", "posts", id]) => Endpoint::UpdatePost((*id).to_string()),
        ("GET", ["api", "v4", "posts", id]) => Endpoint::GetPost((*id).to_string()),
        ("GET", ["api", "v4", "channels", id, "posts"]) => {
            Endpoint::ChannelPosts((*id).to_string())
        }
        ("POST", ["api", "v4", "actions", "dialogs", "open"]) => Endpoint::OpenDialog,
        ("GET", ["api", "v4", "users", id, "channels"]) => {
            Endpoint::UserChannels((*id).to_string())
        }
        ("GET", ["api", "v4", "users", id]) => Endpoint::GetUser((*id).to_string()),
        _ => {
            return Err(ApiError::new(
                404,
                "api.context.404.app_error",
                "Sorry, we could not find the page.",
                format!(
                    "There doesn't appear to be an api call for the url='{path}'. \
                     (The fake Mattermost does not implement {method} {path}.)"
                ),
            )
            .recorded());
        }
    };
    check_auth(g, headers)?;
    let ctx = format!("{method} {path}");
    match endpoint {
        Endpoint::Me => {
            let bot_id = g.bot_id.clone();
            let bot = g.user(&bot_id).cloned().ok_or_else(|| {
                ApiError::new(500, "app.user.get.app_error", "Unable to get the user.", "")
            })?;
            Ok((200, g.user_json(&bot, true)))
        }
        Endpoint::Usernames => {
            let body = parse_body(g, &ctx, headers, body, "usernames")?;
            users_by_usernames(g, &body)
        }
        Endpoint::Direct => {
            let body = parse_body(g, &ctx, headers, body, "user_ids")?;
            create_direct(g, &body)
        }
        Endpoint::CreatePost => {
            let body = parse_body(g, &ctx, headers, body, "post")?;
            create_post(g, &ctx, &body)
        }
        Endpoint::UpdatePost(id) => {
            let body = parse_body(g, &ctx, headers, body, "post")?;
            put_post(g, &ctx, &id, &body)
        }
        Endpoint::GetPost(id) => get_post(g, &id),
        Endpoint::ChannelPosts(id) => channel_posts(g, &ctx, &id, query),
        Endpoint::OpenDialog => {
            let body = parse_body(g, &ctx, headers, body, "dialog")?;
            open_dialog(g, &ctx, &body)
        }
        Endpoint::UserChannels(id) => user_channels(g, &id),
        Endpoint::GetUser(id) => get_user(g, &id),
    }
}

/// `GET /api/v4/users/{user_id}/channels`: every channel of the user
/// ("me" is the session's user); only the session's own are readable.
fn user_channels(g: &mut Inner, id: &str) -> ApiResult {
    let id = if id == "me" {
        g.bot_id.clone()
    } else {
        id.to_string()
    };
    if !is_valid_id(&id) {
        return Err(ApiError::bad_url(
            "user_id",
            format!("{id:?} is not a Mattermost id"),
        ));
    }
    if id != g.bot_id {
        return Err(ApiError::forbidden(
            "only the session's own channels (edit_other_users is a system admin's permission)",
        ));
    }
    let list: Vec<Value> = g
        .channels
        .iter()
        .filter(|c| c.members.contains(&id))
        .map(channel_json)
        .collect();
    Ok((200, Value::Array(list)))
}

/// `GET /api/v4/users/{user_id}`.
fn get_user(g: &mut Inner, id: &str) -> ApiResult {
    if id == "me" {
        let bot_id = g.bot_id.clone();
        return get_user(g, &bot_id);
    }
    if !is_valid_id(id) {
        return Err(ApiError::bad_url(
            "user_id",
            format!("{id:?} is not a Mattermost id"),
        ));
    }
    match g.user(id).cloned() {
        Some(u) => {
            let own = u.id == g.bot_id;
            Ok((200, g.user_json(&u, own)))
        }
        None => Err(ApiError::new(
            404,
            "app.user.missing_account.const",
            "Unable to find the user.",
            format!("user_id={id}"),
        )),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<Result<String, String>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(text) = value.to_str() else {
        return Some(Err("the Authorization header is not ASCII".into()));
    };
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Some(Ok(token.trim().to_string()))
        }
        _ => Some(Err(format!(
            "the Authorization header must be \"Bearer <token>\", got {text:?}"
        ))),
    }
}

fn check_auth(g: &Inner, headers: &HeaderMap) -> Result<(), ApiError> {
    let expired = |detail: String| {
        ApiError::new(
            401,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
            detail,
        )
    };
    match bearer_token(headers) {
        None => {
            Err(expired("no Authorization header (want \"Bearer <bot token>\")".into()).recorded())
        }
        Some(Err(e)) => Err(expired(e).recorded()),
        Some(Ok(token)) if token == g.bot_token => Ok(()),
        Some(Ok(_)) => Err(expired("token=unknown".into())),
    }
}

fn parse_body(
    g: &mut Inner,
    ctx: &str,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        g.violation(format!(
            "{ctx}: Content-Type is {content_type:?}; all Mattermost API request bodies are application/json"
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_body(what, "empty request body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_body(what, format!("not JSON: {e}")))
}

fn json_response(status: u16, body: &Value, request_id: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (code, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    standard_headers(h, request_id);
    resp
}

fn error_response(e: &ApiError, request_id: &str) -> Response {
    let body = json!({
        "id": e.id,
        "message": e.message,
        "detailed_error": e.detailed,
        "request_id": request_id,
        "status_code": e.status,
    });
    json_response(e.status, &body, request_id)
}

fn standard_headers(h: &mut HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    h.insert("x-version-id", HeaderValue::from_static(SERVER_VERSION));
}

fn injected_failure(status: u16, reset: Option<ResetStyle>, request_id: &str) -> Response {
    if status == 429 {
        let reset_value = match reset.unwrap_or(ResetStyle::Seconds(1)) {
            ResetStyle::Seconds(s) => s,
            ResetStyle::Epoch(s) => u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0) + s,
        };
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, "limit exceeded\n").into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "x-ratelimit-limit",
            HeaderValue::from_static(RATE_LIMIT_PER_SECOND),
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset_value));
        return resp;
    }
    let e = ApiError::new(
        status,
        "app.fake_mattermost.injected_failure.app_error",
        "The server failed to handle the request.",
        format!("injected by FakeMattermost::fail_next (status {status})"),
    );
    error_response(&e, request_id)
}

// -- endpoints ---------------------------------------------------------------

fn users_by_usernames(g: &mut Inner, body: &Value) -> ApiResult {
    let Some(list) = body.as_array() else {
        return Err(ApiError::bad_body(
            "usernames",
            format!("want a JSON array of usernames, got {}", kind(body)),
        ));
    };
    let mut names = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            Some(s) => names.push(s.to_lowercase()),
            None => {
                return Err(ApiError::bad_body(
                    "usernames",
                    format!("usernames[{i}] must be a string, got {}", kind(item)),
                ));
            }
        }
    }
    if names.is_empty() {
        return Err(ApiError::bad_body("usernames", "the array is empty"));
    }
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        if let Some(u) = g.user_by_name(&name).cloned() {
            let own = u.id == g.bot_id;
            out.push(g.user_json(&u, own));
        }
        seen.push(name);
    }
    Ok((200, Value::Array(out)))
}

fn create_direct(g: &mut Inner, body: &Value) -> ApiResult {
    let ids: Vec<&str> = match body.as_array() {
        Some(list) if list.len() == 2 && list.iter().all(Value::is_string) => {
            list.iter().filter_map(Value::as_str).collect()
        }
        _ => {
            return Err(ApiError::bad_body(
                "user_ids",
                format!("want a JSON array of exactly two user ids, got {body}"),
            ));
        }
    };
    if let Some(bad) = ids.iter().find(|id| !is_valid_id(id)) {
        return Err(ApiError::bad_body(
            "user_id",
            format!("{bad:?} is not a 26-character Mattermost id"),
        ));
    }
    if !ids.contains(&g.bot_id.as_str()) {
        return Err(ApiError::forbidden(
            "the session user must be one of the two users of a direct channel",
        ));
    }
    if let Some(missing) = ids.iter().find(|id| g.user(id).is_none()) {
        return Err(ApiError::new(
            400,
            "api.channel.create_direct_channel.invalid_user.app_error",
            "Invalid user ID for direct channel creation.",
            format!("no user {missing}"),
        ));
    }
    let bot_id = g.bot_id.clone();
    let id = g.dm_channel(ids[0], ids[1], &bot_id);
    let channel = g.channel(&id).map(channel_json).unwrap_or(Value::Null);
    Ok((201, channel))
}

fn create_post(g: &mut Inner, ctx: &str, body: &Value) -> ApiResult {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_body(
            "post",
            format!("want a Post object, got {}", kind(body)),
        ));
    };
    let mut c = Check::default();
    let at = "post";
    let channel_id = c.str(obj, "channel_id", at, true).unwrap_or("").to_string();
    let message = c.str(obj, "message", at, true).unwrap_or("").to_string();
    let root_id = c.str(obj, "root_id", at, false).unwrap_or("").to_string();
    let file_ids = c.str_array(obj, "file_ids", at, false).unwrap_or_default();
    let props = c.obj(obj, "props", at, false).cloned();
    let pending_post_id = c
        .str(obj, "pending_post_id", at, false)
        .unwrap_or("")
        .to_string();
    c.obj(obj, "metadata", at, false);
    let props = props
        .map(|p| normalize_props(&mut c, &p, "post.props"))
        .unwrap_or_default();
    let has_attachments = props
        .get("attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if obj.contains_key("message") && message.is_empty() && !has_attachments && file_ids.is_empty()
    {
        c.hard
            .push("post.message is empty and the post has no props.attachments or file_ids".into());
    }
    if message.chars().count() > MAX_MESSAGE_RUNES {
        c.hard.push(format!(
            "post.message has {} characters; Mattermost's limit is {MAX_MESSAGE_RUNES}",
            message.chars().count()
        ));
    }
    if file_ids.len() > 5 {
        c.hard.push(format!(
            "post.file_ids has {} ids; at most 5",
            file_ids.len()
        ));
    }
    if !root_id.is_empty() && !is_valid_id(&root_id) {
        c.hard
            .push(format!("post.root_id {root_id:?} is not a Mattermost id"));
    }
    if !c.hard.is_empty() {
        c.hard.append(&mut c.soft);
        return Err(ApiError::bad_body("post", c.hard.join("; ")));
    }
    g.record(ctx, &c);
    let bot_id = g.bot_id.clone();
    if !g.is_member(&channel_id, &bot_id) {
        return Err(ApiError::forbidden(format!(
            "channel {channel_id:?} does not exist or the bot is not a member"
        )));
    }
    if !root_id.is_empty() {
        let root_ok = g
            .post_index(&root_id)
            .is_some_and(|i| g.posts[i]["channel_id"] == channel_id.as_str());
        if !root_ok {
            return Err(ApiError::new(
                400,
                "api.post.create_post.root_id.app_error",
                "Invalid RootId parameter.",
                format!("no post {root_id} in channel {channel_id}"),
            ));
        }
    }
    if !pending_post_id.is_empty() {
        let window = g.pending_window;
        g.pending.retain(|_, p| p.at.elapsed() < window);
        if let Some(seen) = g.pending.get(&pending_post_id)
            && let Some(i) = g.post_index(&seen.post_id)
        {
            if g.posts[i]["user_id"] != bot_id.as_str() {
                return Err(ApiError::new(
                    500,
                    "api.post.deduplicate_create_post.failed_to_get",
                    "Failed to fetch original post after deduplicating a client repeating the same request.",
                    "",
                ));
            }
            return Ok((201, client_view(&g.posts[i])));
        }
    }
    let mut props = props;
    props.insert("from_bot".into(), json!("true"));
    let post = g.insert_post(&bot_id, &channel_id, &root_id, &message, props, file_ids);
    let post_id = post["id"].as_str().unwrap_or("").to_string();
    if !pending_post_id.is_empty() {
        g.pending.insert(
            pending_post_id.clone(),
            PendingRec {
                post_id,
                at: Instant::now(),
            },
        );
    }
    let mut view = client_view(&post);
    if let Some(v) = view.as_object_mut() {
        v.insert("pending_post_id".into(), json!(pending_post_id));
    }
    Ok((201, view))
}

fn put_post(g: &mut Inner, ctx: &str, path_id: &str, body: &Value) -> ApiResult {
    if !is_valid_id(path_id) {
        return Err(ApiError::bad_url(
            "post_id",
            format!("{path_id:?} is not a Mattermost id"),
        ));
    }
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_body(
            "post",
            format!("want a Post object, got {}", kind(body)),
        ));
    };
    let mut c = Check::default();
    let at = "post";
    let id = c.str(obj, "id", at, true).unwrap_or("").to_string();
    let message = c.str(obj, "message", at, false).unwrap_or("").to_string();
    let props = c.obj(obj, "props", at, false).cloned();
    let is_pinned = c.bool(obj, "is_pinned", at, false);
    c.bool(obj, "has_reactions", at, false);
    c.str_array(obj, "file_ids", at, false);
    let props = props
        .map(|p| normalize_props(&mut c, &p, "post.props"))
        .unwrap_or_default();
    if !id.is_empty() && id != path_id {
        c.hard.push(format!(
            "post.id {id:?} differs from the URL's post_id {path_id:?}"
        ));
    }
    if message.chars().count() > MAX_MESSAGE_RUNES {
        c.hard.push(format!(
            "post.message is longer than {MAX_MESSAGE_RUNES} characters"
        ));
    }
    if !c.hard.is_empty() {
        c.hard.append(&mut c.soft);
        return Err(ApiError::bad_body("post", c.hard.join("; ")));
    }
    g.record(ctx, &c);
    let Some(index) = g.post_index(path_id) else {
        return Err(ApiError::forbidden(format!("no post {path_id}")));
    };
    if g.posts[index]["user_id"] != g.bot_id.as_str() {
        return Err(ApiError::forbidden(
            "editing another user's post needs edit_others_posts, which a system_user bot lacks",
        ));
    }
    let post = g.update_post(index, &message, props, Some(is_pinned.unwrap_or(false)));
    Ok((200, client_view(&post)))
}

fn get_post(g: &mut Inner, id: &str) -> ApiResult {
    if !is_valid_id(id) {
        return Err(ApiError::bad_url(
            "post_id",
            format!("{id:?} is not a Mattermost id"),
        ));
    }
    let Some(index) = g.post_index(id) else {
        return Err(ApiError::new(
            404,
            "app.post.get.app_error",
            "Unable to get the post.",
            "",
        ));
    };
    let post = &g.posts[index];
    let channel_id = post["channel_id"].as_str().unwrap_or("");
    if !g.is_member(channel_id, &g.bot_id) {
        return Err(ApiError::forbidden(
            "the bot is not a member of the post's channel",
        ));
    }
    Ok((200, client_view(post)))
}

fn channel_posts(g: &mut Inner, ctx: &str, channel_id: &str, query: Option<&str>) -> ApiResult {
    if !is_valid_id(channel_id) {
        return Err(ApiError::bad_url(
            "channel_id",
            format!("{channel_id:?} is not a Mattermost id"),
        ));
    }
    let mut page = 0usize;
    let mut per_page = PER_PAGE_DEFAULT;
    let mut since: Option<i64> = None;
    let mut paged = false;
    for (key, value) in query_pairs(query) {
        match key.as_str() {
            "since" => match value.parse::<i64>() {
                Ok(v) if v > 0 => since = Some(v),
                _ => g.violation(format!(
                    "{ctx}: since={value:?} is not a positive Unix time in milliseconds"
                )),
            },
            "page" => match value.parse::<usize>() {
                Ok(v) => {
                    paged = true;
                    page = v
                }
                Err(_) => g.violation(format!(
                    "{ctx}: page={value:?} is not a non-negative integer (Mattermost silently uses 0)"
                )),
            },
            "per_page" => match value.parse::<usize>() {
                Ok(v) => {
                    paged = true;
                    per_page = v.min(PER_PAGE_MAX)
                }
                Err(_) => g.violation(format!(
                    "{ctx}: per_page={value:?} is not a non-negative integer (Mattermost silently uses 60)"
                )),
            },
            "before" | "after" | "include_deleted" | "collapsedThreads"
            | "collapsedThreadsExtended" => g.violation(format!(
                "{ctx}: query parameter {key:?} is not implemented by the fake Mattermost"
            )),
            _ => {}
        }
    }
    if !g.is_member(channel_id, &g.bot_id) {
        return Err(ApiError::forbidden(format!(
            "channel {channel_id:?} does not exist or the bot is not a member"
        )));
    }
    if let Some(since) = since {
        if paged {
            g.violation(format!(
                "{ctx}: since must not be used with page or per_page (Mattermost ignores them)"
            ));
        }
        // Every post modified after `since`, by create time, at most 1,000.
        let mut posts = Map::new();
        let mut order = Vec::new();
        for p in g
            .posts
            .iter()
            .filter(|p| {
                p["channel_id"] == channel_id && p["update_at"].as_i64().unwrap_or(0) > since
            })
            .rev()
            .take(1000)
        {
            let id = p["id"].as_str().unwrap_or("").to_string();
            posts.insert(id.clone(), client_view(p));
            order.push(json!(id));
        }
        return Ok((
            200,
            json!({
                "order": order,
                "posts": posts,
                "next_post_id": "",
                "prev_post_id": "",
                "has_next": false,
                "first_inaccessible_post_time": 0,
            }),
        ));
    }
    let newest_first: Vec<&Value> = g
        .posts
        .iter()
        .filter(|p| p["channel_id"] == channel_id)
        .rev()
        .collect();
    let start = page.saturating_mul(per_page).min(newest_first.len());
    let end = start.saturating_add(per_page).min(newest_first.len());
    let slice = &newest_first[start..end];
    let mut posts = Map::new();
    let mut order = Vec::new();
    for p in slice {
        let id = p["id"].as_str().unwrap_or("").to_string();
        posts.insert(id.clone(), client_view(p));
        order.push(json!(id));
        let root = p["root_id"].as_str().unwrap_or("");
        if !root.is_empty()
            && !posts.contains_key(root)
            && let Some(i) = g.post_index(root)
        {
            posts.insert(root.to_string(), client_view(&g.posts[i]));
        }
    }
    let id_at = |i: usize| {
        newest_first
            .get(i)
            .and_then(|p| p["id"].as_str())
            .unwrap_or("")
    };
    let next_post_id = if start > 0 && !slice.is_empty() {
        id_at(start - 1)
    } else {
        ""
    };
    let prev_post_id = if slice.is_empty() { "" } else { id_at(end) };
    Ok((
        200,
        json!({
            "order": order,
            "posts": posts,
            "next_post_id": next_post_id,
            "prev_post_id": prev_post_id,
            "has_next": false,
            "first_inaccessible_post_time": 0,
        }),
    ))
}

fn open_dialog(g: &mut Inner, ctx: &str, body: &Value) -> ApiResult {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_body(
            "dialog",
            format!("want an OpenDialogRequest object, got {}", kind(body)),
        ));
    };
    let mut c = Check::default();
    let at = "request";
    let trigger_id = c.str(obj, "trigger_id", at, true).unwrap_or("").to_string();
    let url = c.str(obj, "url", at, true).unwrap_or("").to_string();
    let dialog = c.obj(obj, "dialog", at, true).cloned();
    if let Some(d) = &dialog {
        check_dialog(&mut c, d, "request.dialog");
    }
    if !url.is_empty() && !is_http_url(&url) {
        c.soft.push(format!(
            "request.url {url:?} is not an http(s) URL, so the submission cannot be delivered"
        ));
    }
    if !c.hard.is_empty() {
        c.hard.append(&mut c.soft);
        return Err(ApiError::bad_body("dialog", c.hard.join("; ")));
    }
    g.record(ctx, &c);
    let Some(trigger) = g.triggers.get(&trigger_id) else {
        return Err(ApiError::new(
            400,
            "interactive_message.decode_trigger_id.verify_signature_failed",
            "Signature verification failed for interactive dialog trigger ID.",
            format!("trigger_id {trigger_id:?} was never issued by this server"),
        )
        .recorded());
    };
    if trigger.issued.elapsed() > g.trigger_ttl {
        return Err(ApiError::new(
            400,
            "interactive_message.decode_trigger_id.expired",
            &format!(
                "Trigger ID for interactive dialog is expired. Trigger IDs live for a maximum of {:?}.",
                g.trigger_ttl
            ),
            format!("trigger issued {:?} ago", trigger.issued.elapsed()),
        ));
    }
    let (user_id, channel_id) = (trigger.user_id.clone(), trigger.channel_id.clone());
    g.dialog_seq += 1;
    let rec = DialogRec {
        seq: g.dialog_seq,
        trigger_id,
        user_id,
        channel_id,
        url,
        dialog: dialog.map(Value::Object).unwrap_or(Value::Null),
    };
    g.dialogs.push(rec);
    Ok((200, json!({"status": "OK"})))
}

// ---------------------------------------------------------------------------
// Websocket

async fn ws_route(
    State(state): State<Shared>,
    method: Method,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request_id = new_id();
    let pre_authenticated = {
        let mut g = lock(&state);
        g.requests
            .push((method.as_str().to_string(), "/api/v4/websocket".to_string()));
        if g.ws_down {
            let e = ApiError::new(
                503,
                "api.web_socket.connect.app_error",
                "The server is not available.",
                "websocket refused by set_websocket_down(true)",
            );
            return error_response(&e, &request_id);
        }
        match bearer_token(&headers) {
            None => false,
            Some(Ok(token)) if token == g.bot_token => true,
            Some(other) => {
                let detail = match other {
                    Err(e) => {
                        g.violation(format!("GET /api/v4/websocket: {e}"));
                        e
                    }
                    Ok(_) => "token=unknown".to_string(),
                };
                let e = ApiError::new(
                    401,
                    "api.context.session_expired.app_error",
                    "Invalid or expired session, please login again.",
                    detail,
                );
                return error_response(&e, &request_id);
            }
        }
    };
    match upgrade {
        Ok(upgrade) => {
            upgrade.on_upgrade(move |socket| run_socket(state, socket, pre_authenticated))
        }
        Err(rejection) => {
            let e = ApiError::new(
                400,
                "api.web_socket.connect.upgrade.app_error",
                "Failed to upgrade websocket connection.",
                rejection.to_string(),
            );
            lock(&state).violation(format!(
                "{method} /api/v4/websocket: not a websocket upgrade: {rejection}"
            ));
            error_response(&e, &request_id)
        }
    }
}

type WsSink = SplitSink<WebSocket, Message>;

async fn send_json(tx: &mut WsSink, value: &Value) -> bool {
    tx.send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn run_socket(state: Shared, socket: WebSocket, pre_authenticated: bool) {
    let (mut tx, mut rx) = socket.split();
    if !pre_authenticated {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), rx.next()).await;
            let text = match next {
                Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
                Ok(Some(Ok(Message::Binary(b)))) => String::from_utf8_lossy(&b).into_owned(),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return,
            };
            let request: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    lock(&state)
                        .violation(format!("websocket: a message is not JSON ({e}): {text}"));
                    continue;
                }
            };
            let seq = request.get("seq").cloned().unwrap_or(Value::Null);
            if request["action"] == "authentication_challenge" {
                let Some(token) = request["data"]["token"].as_str() else {
                    lock(&state).violation(format!(
                        "websocket: authentication_challenge without data.token: {text}"
                    ));
                    let reply = ws_error(
                        &seq,
                        "api.web_socket_router.missing_data.app_error",
                        "Missing data for token.",
                    );
                    let _ = send_json(&mut tx, &reply).await;
                    continue;
                };
                let valid = token == lock(&state).bot_token;
                if !valid {
                    // Mattermost closes a connection whose challenge token is bad.
                    let _ = tx.send(Message::Close(None)).await;
                    return;
                }
                if !send_json(&mut tx, &json!({"status": "OK", "seq_reply": seq})).await {
                    return;
                }
                break;
            }
            let reply = ws_error(
                &seq,
                "api.web_socket_router.not_authenticated.app_error",
                "Not authenticated. Please authenticate with the authentication_challenge action.",
            );
            if !send_json(&mut tx, &reply).await {
                return;
            }
        }
    }
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
    let (socket_id, bot_id) = {
        let mut g = lock(&state);
        g.next_socket += 1;
        let id = g.next_socket;
        g.sockets.insert(id, cmd_tx);
        g.ws_connects += 1;
        (id, g.bot_id.clone())
    };
    let hello = json!({
        "event": "hello",
        "data": {"connection_id": new_id(), "server_version": SERVER_VERSION},
        "broadcast": {
            "omit_users": null, "user_id": bot_id, "channel_id": "", "team_id": "",
            "connection_id": "", "omit_connection_id": "",
        },
        "seq": 0,
    });
    if send_json(&mut tx, &hello).await {
        let mut seq: u64 = 1;
        loop {
            tokio::select! {
                cmd = cmd_rx.recv() => match cmd {
                    Some(WsCmd::Event(mut event)) => {
                        if let Some(e) = event.as_object_mut() {
                            e.insert("seq".into(), json!(seq));
                        }
                        seq += 1;
                        if !send_json(&mut tx, &event).await {
                            break;
                        }
                    }
                    Some(WsCmd::Close) | None => {
                        let frame = CloseFrame { code: 1001, reason: "".into() };
                        let _ = tx.send(Message::Close(Some(frame))).await;
                        break;
                    }
                },
                msg = rx.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if !ws_client_action(&state, &mut tx, t.as_str()).await {
                            break;
                        }
                    }
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    lock(&state).sockets.remove(&socket_id);
}

/// Answers a request an authenticated client sends over the websocket.
async fn ws_client_action(state: &Shared, tx: &mut WsSink, text: &str) -> bool {
    let request: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            lock(state).violation(format!("websocket: a message is not JSON ({e}): {text}"));
            return true;
        }
    };
    let seq = request.get("seq").cloned().unwrap_or(Value::Null);
    let reply = match request["action"].as_str().unwrap_or("") {
        "authentication_challenge" | "user_typing" => json!({"status": "OK", "seq_reply": seq}),
        "get_statuses" | "get_statuses_by_ids" => {
            json!({"status": "OK", "seq_reply": seq, "data": {}})
        }
        other => {
            lock(state).violation(format!("websocket: unknown action {other:?}: {text}"));
            ws_error(
                &seq,
                "api.web_socket_router.bad_action.app_error",
                "Unknown WebSocket action.",
            )
        }
    };
    send_json(tx, &reply).await
}

fn ws_error(seq: &Value, id: &str, message: &str) -> Value {
    json!({
        "status": "FAIL",
        "seq_reply": seq,
        "error": {"id": id, "message": message, "detailed_error": "", "status_code": 401},
    })
}

fn ws_event(event: &str, data: Value, channel_id: &str, user_id: &str) -> Value {
    json!({
        "event": event,
        "data": data,
        "broadcast": {
            "omit_users": null,
            "user_id": user_id,
            "channel_id": channel_id,
            "team_id": "",
            "connection_id": "",
            "omit_connection_id": "",
        },
    })
}

// ---------------------------------------------------------------------------
// Shape checks

/// Problems found in a payload: `hard` ones make Mattermost reject it (or
/// are outside what the fake supports); `soft` ones it only logs.
#[derive(Default)]
struct Check {
    hard: Vec<String>,
    soft: Vec<String>,
}

#[derive(Clone, Copy)]
enum Want {
    Str,
    Bool,
    Int,
    Obj,
    Arr,
}

impl Want {
    fn matches(self, v: &Value) -> bool {
        match self {
            Want::Str => v.is_string(),
            Want::Bool => v.is_boolean(),
            Want::Int => v.is_i64() || v.is_u64(),
            Want::Obj => v.is_object(),
            Want::Arr => v.is_array(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Want::Str => "a string",
            Want::Bool => "a boolean",
            Want::Int => "an integer",
            Want::Obj => "an object",
            Want::Arr => "an array",
        }
    }
}

impl Check {
    /// `obj[key]` if it has the wanted JSON type. Null counts as absent
    /// (Go leaves the zero value), which is an error only when `required`.
    fn get<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        at: &str,
        want: Want,
        required: bool,
    ) -> Option<&'a Value> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.hard.push(format!("{at}.{key} is required"));
                }
                None
            }
            Some(v) if want.matches(v) => Some(v),
            Some(v) => {
                self.hard.push(format!(
                    "{at}.{key} must be {}, got {}",
                    want.name(),
                    kind(v)
                ));
                None
            }
        }
    }

    fn str<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<&'a str> {
        self.get(obj, key, at, Want::Str, required)
            .and_then(Value::as_str)
    }

    fn bool(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<bool> {
        self.get(obj, key, at, Want::Bool, required)
            .and_then(Value::as_bool)
    }

    fn int(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<i64> {
        self.get(obj, key, at, Want::Int, required)
            .and_then(Value::as_i64)
    }

    fn obj<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        self.get(obj, key, at, Want::Obj, required)
            .and_then(Value::as_object)
    }

    fn arr<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<&'a Vec<Value>> {
        self.get(obj, key, at, Want::Arr, required)
            .and_then(Value::as_array)
    }

    fn str_array(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        required: bool,
    ) -> Option<Vec<String>> {
        let list = self.arr(obj, key, at, required)?;
        let mut out = Vec::new();
        for (i, v) in list.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self
                    .hard
                    .push(format!("{at}.{key}[{i}] must be a string, got {}", kind(v))),
            }
        }
        Some(out)
    }
}

/// Post props with `attachments` checked and normalised as Mattermost
/// stores them (`GenerateActionIds` gives every action an id).
fn normalize_props(c: &mut Check, props: &Map<String, Value>, at: &str) -> Map<String, Value> {
    let mut out = props.clone();
    for key in [
        "from_webhook",
        "from_bot",
        "override_username",
        "override_icon_url",
    ] {
        if let Some(v) = props.get(key).filter(|v| !v.is_null() && !v.is_string()) {
            c.soft
                .push(format!("{at}.{key} must be a string, got {}", kind(v)));
        }
    }
    if let Some(raw) = props.get("attachments").filter(|v| !v.is_null()) {
        out.insert(
            "attachments".into(),
            normalize_attachments(c, raw, &format!("{at}.attachments")),
        );
    }
    out
}

const ATTACHMENT_STRINGS: [&str; 13] = [
    "fallback",
    "color",
    "pretext",
    "author_name",
    "author_link",
    "author_icon",
    "title",
    "title_link",
    "text",
    "image_url",
    "thumb_url",
    "footer",
    "footer_icon",
];

/// Checks a `props.attachments` array (MessageAttachment, Go's
/// `SlackAttachment`) and returns it as Mattermost stores it.
fn normalize_attachments(c: &mut Check, raw: &Value, at: &str) -> Value {
    let Some(list) = raw.as_array() else {
        c.hard.push(format!(
            "{at} must be an array of MessageAttachment, got {}",
            kind(raw)
        ));
        return Value::Null;
    };
    let mut out = Vec::new();
    let mut action_ids = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(obj) = item.as_object() else {
            c.hard.push(format!(
                "{at} must be a MessageAttachment object, got {}",
                kind(item)
            ));
            continue;
        };
        let mut n = Map::new();
        n.insert(
            "id".into(),
            json!(c.int(obj, "id", &at, false).unwrap_or(0)),
        );
        for key in ATTACHMENT_STRINGS {
            let value = c.str(obj, key, &at, false).unwrap_or("");
            n.insert(key.into(), json!(value));
        }
        let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (color, author_name, author_link, title, title_link) = (
            s("color"),
            s("author_name"),
            s("author_link"),
            s("title"),
            s("title_link"),
        );
        if !color.is_empty()
            && !["good", "warning", "danger"].contains(&color.as_str())
            && !is_hex_color(&color)
        {
            c.soft.push(format!(
                "{at}.color {color:?} is not good, warning, danger or #rrggbb"
            ));
        }
        if !author_link.is_empty() && author_name.is_empty() {
            c.soft
                .push(format!("{at}.author_link is set without author_name"));
        }
        if !title_link.is_empty() && title.is_empty() {
            c.soft.push(format!("{at}.title_link is set without title"));
        }
        for key in [
            "author_link",
            "author_icon",
            "title_link",
            "image_url",
            "thumb_url",
            "footer_icon",
        ] {
            let v = s(key);
            if !v.is_empty() && !is_http_url(&v) {
                c.soft
                    .push(format!("{at}.{key} {v:?} is not an http(s) URL"));
            }
        }
        let fields = match c.arr(obj, "fields", &at, false) {
            None => Value::Null,
            Some(list) => {
                let mut fields = Vec::new();
                for (j, f) in list.iter().enumerate() {
                    let at = format!("{at}.fields[{j}]");
                    let Some(fo) = f.as_object() else {
                        if !f.is_null() {
                            c.hard.push(format!(
                                "{at} must be an object {{title, value, short}}, got {}",
                                kind(f)
                            ));
                        }
                        continue;
                    };
                    let title = c.str(fo, "title", &at, false).unwrap_or("");
                    let value = fo.get("value").cloned().unwrap_or(Value::Null);
                    if !(value.is_null() || value.is_string() || value.is_i64() || value.is_u64()) {
                        c.soft.push(format!(
                            "{at}.value must be a string or an integer, got {}",
                            kind(&value)
                        ));
                    }
                    let short = match fo.get("short") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        Some(Value::String(s)) => s == "true",
                        Some(v) => {
                            c.hard
                                .push(format!("{at}.short must be a boolean, got {}", kind(v)));
                            false
                        }
                    };
                    fields.push(json!({"title": title, "value": value, "short": short}));
                }
                Value::Array(fields)
            }
        };
        n.insert("fields".into(), fields);
        let ts = obj.get("ts").cloned().unwrap_or(Value::Null);
        if !(ts.is_null() || ts.is_string() || ts.is_i64() || ts.is_u64()) {
            c.soft.push(format!(
                "{at}.ts must be a string or an integer, got {}",
                kind(&ts)
            ));
        }
        n.insert("ts".into(), ts);
        if let Some(actions) = c.arr(obj, "actions", &at, false) {
            let mut normalized = Vec::new();
            for (j, a) in actions.iter().enumerate() {
                if let Some(a) =
                    normalize_action(c, a, &format!("{at}.actions[{j}]"), &mut action_ids)
                {
                    normalized.push(a);
                }
            }
            if !normalized.is_empty() {
                n.insert("actions".into(), Value::Array(normalized));
            }
        }
        out.push(Value::Object(n));
    }
    Value::Array(out)
}

/// Checks one PostAction and returns it as stored (`omitempty` fields
/// left out, an id generated if it had none, `cookie` dropped).
fn normalize_action(c: &mut Check, raw: &Value, at: &str, ids: &mut Vec<String>) -> Option<Value> {
    let Some(obj) = raw.as_object() else {
        c.hard.push(format!(
            "{at} must be a PostAction object, got {}",
            kind(raw)
        ));
        return None;
    };
    let mut n = Map::new();
    let id = c.str(obj, "id", at, false).unwrap_or("");
    if !id.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        c.hard.push(format!(
            "{at}.id {id:?} must be alphanumeric only: Mattermost routes clicks by /posts/{{post_id}}/actions/{{action_id:[A-Za-z0-9]+}}"
        ));
    }
    let id = if id.is_empty() {
        new_id()
    } else {
        id.to_string()
    };
    if ids.contains(&id) {
        c.soft.push(format!(
            "{at}.id {id:?} is used by another action of the post; clicks reach only the first"
        ));
    }
    ids.push(id.clone());
    n.insert("id".into(), json!(id));
    let action_type = c.str(obj, "type", at, false).unwrap_or("");
    match action_type {
        "" => c.soft.push(format!(
            "{at}.type is missing: PostAction.IsValid requires \"button\" or \"select\""
        )),
        "button" | "select" => {
            n.insert("type".into(), json!(action_type));
        }
        other => c.hard.push(format!(
            "{at}.type {other:?} must be \"button\" or \"select\""
        )),
    }
    match c.str(obj, "name", at, true) {
        Some("") => c.hard.push(format!("{at}.name must not be empty")),
        Some(name) => {
            n.insert("name".into(), json!(name));
        }
        None => {}
    }
    if c.bool(obj, "disabled", at, false) == Some(true) {
        n.insert("disabled".into(), json!(true));
    }
    let style = c.str(obj, "style", at, false).unwrap_or("");
    if !style.is_empty() {
        let known = ["default", "primary", "success", "good", "warning", "danger"];
        if !known.contains(&style) && !is_hex_color(style) {
            c.soft.push(format!(
                "{at}.style {style:?} is not one of {known:?} or #rrggbb"
            ));
        }
        n.insert("style".into(), json!(style));
    }
    let data_source = c.str(obj, "data_source", at, false).unwrap_or("");
    if !data_source.is_empty() {
        if action_type != "select" {
            c.soft
                .push(format!("{at}.data_source is only for select actions"));
        } else if !["users", "channels"].contains(&data_source) {
            c.soft.push(format!(
                "{at}.data_source {data_source:?} is not \"users\" or \"channels\""
            ));
        }
        n.insert("data_source".into(), json!(data_source));
    }
    let options = normalize_options(c, obj, at).unwrap_or_default();
    match action_type {
        "button" if !options.is_empty() => {
            c.soft.push(format!("{at}: a button must not have options"))
        }
        "select" if options.is_empty() && data_source.is_empty() => {
            c.soft
                .push(format!("{at}: a select needs options or a data_source"));
        }
        "select" if !options.is_empty() && !data_source.is_empty() => {
            c.soft.push(format!(
                "{at}: a select cannot have both options and a data_source"
            ));
        }
        _ => {}
    }
    if !options.is_empty() {
        n.insert("options".into(), Value::Array(options));
    }
    let default_option = c.str(obj, "default_option", at, false).unwrap_or("");
    if !default_option.is_empty() {
        n.insert("default_option".into(), json!(default_option));
    }
    c.str(obj, "cookie", at, false);
    let integration_at = format!("{at}.integration");
    if let Some(integration) = c.obj(obj, "integration", at, true) {
        let url = c
            .str(integration, "url", &integration_at, true)
            .unwrap_or("");
        if !url.is_empty() && !is_http_url(url) {
            c.hard.push(format!(
                "{integration_at}.url {url:?} must be an http:// or https:// URL (plugin paths are not served by the fake)"
            ));
        }
        let mut i = Map::new();
        i.insert("url".into(), json!(url));
        if let Some(context) = c.obj(integration, "context", &integration_at, false)
            && !context.is_empty()
        {
            i.insert("context".into(), Value::Object(context.clone()));
        }
        n.insert("integration".into(), Value::Object(i));
    }
    Some(Value::Object(n))
}

/// `options: [{text, value}]` of an action or a dialog element.
fn normalize_options(c: &mut Check, obj: &Map<String, Value>, at: &str) -> Option<Vec<Value>> {
    let list = c.arr(obj, "options", at, false)?;
    let mut out = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let at = format!("{at}.options[{i}]");
        let Some(oo) = o.as_object() else {
            c.hard.push(format!(
                "{at} must be an object {{text, value}}, got {}",
                kind(o)
            ));
            continue;
        };
        let text = c.str(oo, "text", &at, false).unwrap_or("");
        let value = c.str(oo, "value", &at, false).unwrap_or("");
        if text.is_empty() {
            c.soft.push(format!("{at}.text is required"));
        }
        if value.is_empty() {
            c.soft.push(format!("{at}.value is required"));
        }
        out.push(json!({"text": text, "value": value}));
    }
    Some(out)
}

const ELEMENT_TYPES: [&str; 5] = ["text", "textarea", "select", "radio", "bool"];
const TEXT_SUBTYPES: [&str; 7] = ["", "text", "email", "number", "tel", "url", "password"];

/// Checks a Dialog: JSON types (hard: Mattermost cannot decode it) and
/// `Dialog.IsValid` (soft: `OpenInteractiveDialog` only logs it).
fn check_dialog(c: &mut Check, d: &Map<String, Value>, at: &str) {
    for key in [
        "callback_id",
        "introduction_text",
        "submit_label",
        "state",
        "source_url",
    ] {
        c.str(d, key, at, false);
    }
    let title = c.str(d, "title", at, true).unwrap_or("");
    if title.is_empty() || title.len() > 24 {
        c.soft
            .push(format!("{at}.title {title:?} must be 1 to 24 bytes"));
    }
    if let Some(icon) = c.str(d, "icon_url", at, false)
        && !icon.is_empty()
        && !is_http_url(icon)
    {
        c.soft
            .push(format!("{at}.icon_url {icon:?} is not an http(s) URL"));
    }
    c.bool(d, "notify_on_cancel", at, false);
    let Some(elements) = c.arr(d, "elements", at, true) else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        let at = format!("{at}.elements[{i}]");
        let Some(eo) = e.as_object() else {
            c.hard.push(format!(
                "{at} must be a DialogElement object, got {}",
                kind(e)
            ));
            continue;
        };
        let display_name = c.str(eo, "display_name", &at, true).unwrap_or("");
        let name = c.str(eo, "name", &at, true).unwrap_or("");
        let element_type = c.str(eo, "type", &at, true).unwrap_or("");
        let subtype = c.str(eo, "subtype", &at, false).unwrap_or("");
        let default = c.str(eo, "default", &at, false).unwrap_or("");
        let placeholder = c.str(eo, "placeholder", &at, false).unwrap_or("");
        let help_text = c.str(eo, "help_text", &at, false).unwrap_or("");
        let data_source = c.str(eo, "data_source", &at, false).unwrap_or("");
        c.str(eo, "data_source_url", &at, false);
        c.bool(eo, "optional", &at, false);
        let multiselect = c.bool(eo, "multiselect", &at, false).unwrap_or(false);
        c.bool(eo, "refresh", &at, false);
        let min_length = c.int(eo, "min_length", &at, false).unwrap_or(0);
        let max_length = c.int(eo, "max_length", &at, false).unwrap_or(0);
        let options = normalize_options(c, eo, &at).unwrap_or_default();
        if !element_type.is_empty() && !ELEMENT_TYPES.contains(&element_type) {
            c.hard.push(format!(
                "{at}.type {element_type:?} is not one of {ELEMENT_TYPES:?}"
            ));
        }
        if names.iter().any(|n| n == name) {
            c.soft
                .push(format!("{at}: duplicate element name {name:?}"));
        }
        names.push(name.to_string());
        if display_name.is_empty() || display_name.len() > 24 {
            c.soft.push(format!(
                "{at}.display_name {display_name:?} must be 1 to 24 bytes"
            ));
        }
        if name.is_empty() || name.len() > 300 {
            c.soft.push(format!("{at}.name must be 1 to 300 bytes"));
        }
        if help_text.len() > 150 {
            c.soft
                .push(format!("{at}.help_text is longer than 150 bytes"));
        }
        if min_length < 0 {
            c.soft.push(format!("{at}.min_length is negative"));
        }
        if min_length > max_length {
            c.soft.push(format!(
                "{at}: min_length {min_length} > max_length {max_length} (set max_length when setting min_length)"
            ));
        }
        if multiselect && element_type != "select" {
            c.soft
                .push(format!("{at}.multiselect is only for select elements"));
        }
        let in_options = |v: &str| v.is_empty() || options.iter().any(|o| o["value"] == v);
        let (limit, kind_name) = match element_type {
            "text" => (150, "text"),
            "textarea" => (3000, "textarea"),
            "select" => (3000, "select"),
            "bool" => (150, "bool"),
            _ => (usize::MAX, ""),
        };
        if default.len() > limit && element_type != "bool" {
            c.soft.push(format!(
                "{at}.default is longer than {limit} bytes for a {kind_name}"
            ));
        }
        if placeholder.len() > limit {
            c.soft.push(format!(
                "{at}.placeholder is longer than {limit} bytes for a {kind_name}"
            ));
        }
        match element_type {
            "text" | "textarea" if !TEXT_SUBTYPES.contains(&subtype) => {
                c.soft.push(format!(
                    "{at}.subtype {subtype:?} is not one of {TEXT_SUBTYPES:?}"
                ));
            }
            "select" => {
                if !["", "users", "channels", "dynamic"].contains(&data_source) {
                    c.soft.push(format!(
                        "{at}.data_source {data_source:?} is not users, channels or dynamic"
                    ));
                }
                if data_source.is_empty() {
                    let all_in = if multiselect {
                        default.split(',').map(str::trim).all(in_options)
                    } else {
                        in_options(default)
                    };
                    if !all_in {
                        c.soft
                            .push(format!("{at}.default {default:?} is not among the options"));
                    }
                }
            }
            "radio" if !in_options(default) => {
                c.soft
                    .push(format!("{at}.default {default:?} is not among the options"));
            }
            "bool" if !["", "true", "false"].contains(&default) => {
                c.soft.push(format!(
                    "{at}.default {default:?} of a bool must be \"true\" or \"false\""
                ));
            }
            _ => {}
        }
    }
}

/// Checks a 200 reply to a dialog submission (`SubmitDialogResponse`).
/// Mattermost ignores a reply it cannot decode, so the user would see no
/// error at all.
fn check_submit_dialog_response(c: &mut Check, bytes: &[u8]) -> Option<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(json!({}));
    }
    let reply: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            c.hard.push(format!(
                "not a JSON SubmitDialogResponse ({e}); Mattermost ignores it and closes the dialog"
            ));
            return None;
        }
    };
    let Some(obj) = reply.as_object() else {
        c.hard
            .push(format!("must be a JSON object, got {}", kind(&reply)));
        return None;
    };
    let at = "reply";
    c.str(obj, "error", at, false);
    if let Some(errors) = c.obj(obj, "errors", at, false) {
        for (k, v) in errors {
            if !v.is_string() {
                c.hard.push(format!(
                    "reply.errors.{k} must be a string, got {}",
                    kind(v)
                ));
            }
        }
    }
    let reply_type = c.str(obj, "type", at, false).unwrap_or("");
    if !["", "ok", "form", "navigate"].contains(&reply_type) {
        c.soft.push(format!(
            "reply.type {reply_type:?} is not \"\", ok, form or navigate"
        ));
    }
    match c.obj(obj, "form", at, false) {
        Some(form) => {
            if reply_type != "form" {
                c.soft.push("reply.form is only for type \"form\"".into());
            }
            check_dialog(c, form, "reply.form");
        }
        None if reply_type == "form" => c.soft.push("reply.type \"form\" needs a form".into()),
        None => {}
    }
    Some(reply)
}

/// Checks a 200 reply to a slash command the way Mattermost reads it:
/// JSON `CommandResponse` when the Content-Type is application/json, plain
/// text otherwise.
fn check_command_response(c: &mut Check, content_type: &str, body: &str) {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        if serde_json::from_str::<Value>(body).is_ok_and(|v| v.is_object()) {
            c.hard.push(format!(
                "the body is a JSON object but Content-Type is {content_type:?}: Mattermost shows it to the user as text"
            ));
        }
        return;
    }
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            c.hard.push(format!("not a JSON CommandResponse ({e})"));
            return;
        }
    };
    check_command_object(c, &value, "reply");
}

fn check_command_object(c: &mut Check, value: &Value, at: &str) {
    let Some(obj) = value.as_object() else {
        c.hard.push(format!(
            "{at} must be a CommandResponse object, got {}",
            kind(value)
        ));
        return;
    };
    let response_type = c.str(obj, "response_type", at, false).unwrap_or("");
    if !["", "in_channel", "ephemeral"].contains(&response_type) {
        c.hard.push(format!(
            "{at}.response_type {response_type:?} is not in_channel or ephemeral"
        ));
    }
    for key in [
        "text",
        "username",
        "channel_id",
        "icon_url",
        "type",
        "goto_location",
        "trigger_id",
    ] {
        c.str(obj, key, at, false);
    }
    c.bool(obj, "skip_slack_parsing", at, false);
    if let Some(props) = c.obj(obj, "props", at, false) {
        normalize_props(c, props, &format!("{at}.props"));
    }
    if let Some(attachments) = obj.get("attachments").filter(|v| !v.is_null()) {
        normalize_attachments(c, attachments, &format!("{at}.attachments"));
    }
    if let Some(extra) = c.arr(obj, "extra_responses", at, false) {
        for (i, e) in extra.iter().enumerate() {
            check_command_object(c, e, &format!("{at}.extra_responses[{i}]"));
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

fn lock(state: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A 26-character id like Mattermost's `model.NewId`.
fn new_id() -> String {
    let mut rng = rand::rng();
    (0..26)
        .map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())]))
        .collect()
}

fn is_valid_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn dm_name(a: &str, b: &str) -> String {
    if a <= b {
        format!("{a}__{b}")
    } else {
        format!("{b}__{a}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.len() > scheme.len()
            && url
                .get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    })
}

fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s.bytes().skip(1).all(|b| b.is_ascii_hexdigit())
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn metadata(has_attachments: bool) -> Value {
    if has_attachments {
        json!({"embeds": [{"type": "message_attachment"}]})
    } else {
        json!({})
    }
}

fn channel_json(c: &ChannelRec) -> Value {
    json!({
        "id": c.id,
        "create_at": c.create_at,
        "update_at": c.create_at,
        "delete_at": 0,
        "team_id": "",
        "type": "D",
        "display_name": "",
        "name": c.name,
        "header": "",
        "purpose": "",
        "last_post_at": c.last_post_at,
        "total_msg_count": c.total_msg_count,
        "extra_update_at": 0,
        "creator_id": c.creator_id,
        "scheme_id": null,
        "props": null,
        "group_constrained": null,
        "shared": null,
        "total_msg_count_root": c.total_msg_count,
        "policy_id": null,
        "last_root_post_at": c.last_post_at,
    })
}

/// A post as the API sends it to clients: action `integration`s stripped
/// (`Post.StripActionIntegrations`).
fn client_view(post: &Value) -> Value {
    let mut p = post.clone();
    if let Some(attachments) = p
        .pointer_mut("/props/attachments")
        .and_then(Value::as_array_mut)
    {
        for a in attachments {
            if let Some(actions) = a.get_mut("actions").and_then(Value::as_array_mut) {
                for action in actions {
                    if let Some(o) = action.as_object_mut() {
                        o.remove("integration");
                    }
                }
            }
        }
    }
    p
}

/// The action of a stored post with that name (first match), else with that id.
fn find_action(post: &Value, key: &str) -> Option<Value> {
    let actions: Vec<&Value> = post["props"]["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["actions"].as_array())
        .flatten()
        .collect();
    actions
        .iter()
        .find(|a| a["name"] == key)
        .or_else(|| actions.iter().find(|a| a["id"] == key))
        .map(|a| (*a).clone())
}

fn body_value(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect()
}

/// `model.ParseSlackLinksToMarkdown`: `<url|text>` becomes `[text](url)`.
fn slack_links_to_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let inner = &rest[start + 1..];
        let link = inner.find(['|', '<']).and_then(|bar| {
            let (url, after) = inner.split_at(bar);
            let after = after.strip_prefix('|')?;
            let end = after.find('>')?;
            (!url.is_empty() && end > 0).then(|| (url, &after[..end], bar + 1 + end + 1))
        });
        match link {
            Some((url, label, used)) => {
                out.push_str(&format!("[{label}]({url})"));
                rest = &inner[used..];
            }
            None => {
                out.push('<');
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let at = |shift: u32| char::from(TABLE[((n >> shift) & 63) as usize]);
        out.push(at(18));
        out.push(at(12));
        out.push(if chunk.len() > 1 { at(6) } else { '=' });
        out.push(if chunk.len() > 2 { at(0) } else { '=' });
    }
    out
}
