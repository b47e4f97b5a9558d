//! A typed client for the part of the Mattermost REST API v4 the bot uses
//! (bot access token): the bot's own user, users by username, direct
//! channels, posts (create, update, list), and interactive dialogs. Shapes
//! follow the published API (`api/v4/source/*.yaml`) and the integration
//! payloads of `server/public/model/integration_action.go`.
//!
//! Errors never carry the token: reqwest's errors name the URL only, and
//! the server's error body is reduced to its `id` and `message`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered 429: wait this long.
    #[error("rate limited by Mattermost; retry in {0:?}")]
    RateLimited(Duration),
    /// The server answered with an error status.
    #[error("Mattermost answered {status} to {what}: {message} ({id})")]
    Status {
        /// HTTP status.
        status: u16,
        /// What was asked.
        what: &'static str,
        /// The error id (`api.post.create_post.channel.app_error`).
        id: String,
        /// The message.
        message: String,
    },
    /// The server could not be reached or answered nonsense.
    #[error("cannot reach Mattermost for {what}: {detail}")]
    Transport {
        /// What was asked.
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl ApiError {
    /// Whether trying again later may help (server down, busy, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited(_) | ApiError::Transport { .. } => true,
            // A token revoked or lacking a permission is a configuration
            // mistake the admin fixes; the message waits for it.
            ApiError::Status { status, .. } => *status >= 500 || *status == 401 || *status == 403,
        }
    }
}

/// A Mattermost user (the fields the bot reads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct User {
    /// Id (26 characters).
    pub id: String,
    /// Username.
    pub username: String,
}

/// A channel (the fields the bot reads).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Channel {
    /// Mattermost's channel id (26 characters).
    pub id: String,
    /// `D` for a direct channel (`O` open, `P` private, `G` group).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Time of its latest post, milliseconds since the epoch.
    #[serde(default)]
    pub last_post_at: i64,
}

/// A post.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Post {
    /// Id (empty when creating).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Channel.
    pub channel_id: String,
    /// Author (set by the server).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_id: String,
    /// Markdown text.
    #[serde(default)]
    pub message: String,
    /// Properties (`attachments`, and our `winventory_key`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub props: serde_json::Value,
    /// Client-side id: the server drops a repeat within about 30 s.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pending_post_id: String,
    /// Creation time, milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub create_at: i64,
    /// Empty for what a person wrote; `system_...` for the server's notices.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// An id as a URL path segment: Mattermost ids are 26 letters and digits;
/// anything else is cut to those, so no id can reach another endpoint.
fn path_id(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect()
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// A page of a channel's posts.
#[derive(Debug, Clone, Deserialize)]
pub struct PostList {
    /// Ids, newest first.
    #[serde(default)]
    pub order: Vec<String>,
    /// The posts by id.
    #[serde(default)]
    pub posts: std::collections::HashMap<String, Post>,
}

/// A message attachment (Slack-compatible).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Attachment {
    /// Plain-text summary for clients that cannot show attachments.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fallback: String,
    /// Bar colour (`#RRGGBB`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub color: String,
    /// Bold first line of the attachment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Markdown text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Buttons and drop-downs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// A button or drop-down of an attachment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Action {
    /// Id, letters and digits only, unique in the post.
    pub id: String,
    /// `button` or `select`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Label.
    pub name: String,
    /// `default`, `primary`, `success`, `good`, `warning`, `danger`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub style: String,
    /// A drop-down's options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<SelectOption>,
    /// Where the server sends the click, with what.
    pub integration: Integration,
}

/// An option of a drop-down.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SelectOption {
    /// Shown.
    pub text: String,
    /// Sent back as `context.selected_option`.
    pub value: String,
}

/// Where a click goes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Integration {
    /// Our callback URL.
    pub url: String,
    /// Sent back as is.
    pub context: serde_json::Value,
}

/// An interactive dialog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Dialog {
    /// Ours, sent back on submission.
    pub callback_id: String,
    /// Shown at the top of the dialog.
    pub title: String,
    /// Markdown above the fields.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub introduction_text: String,
    /// Fields.
    pub elements: Vec<DialogElement>,
    /// Submit button label.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub submit_label: String,
    /// Sent back on submission.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
}

/// A field of a dialog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DialogElement {
    /// Label.
    pub display_name: String,
    /// Key in the submission.
    pub name: String,
    /// `text`, `textarea`, `select`, `radio`, `bool`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Placeholder.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub placeholder: String,
    /// Help under the field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help_text: String,
    /// Whether it may be left empty.
    #[serde(default)]
    pub optional: bool,
    /// Longest text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
}

#[derive(Serialize)]
struct OpenDialog<'a> {
    trigger_id: &'a str,
    url: &'a str,
    dialog: &'a Dialog,
}

#[derive(Deserialize, Default)]
struct AppError {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: String,
}

/// How long to wait after a 429: `X-Ratelimit-Reset` is seconds to wait on
/// some servers and a Unix time on others (a value past a billion is a
/// time); `Retry-After` (seconds) otherwise; a second when neither says.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now_epoch: i64) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let secs = match number("x-ratelimit-reset") {
        Some(v) if v > 1.0e9 => (v - now_epoch as f64).max(0.0),
        Some(v) => v,
        None => number("retry-after").unwrap_or(1.0),
    };
    // Never less than a second, never more than an hour.
    Duration::from_secs_f64(secs.clamp(1.0, 3600.0))
}

/// The client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `base` (`https://chat.example.org`).
    pub fn new(base: &str, token: &str) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ApiError::Transport {
                what: "setting up the HTTP client",
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The token (for the websocket's authentication).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let transport = |e: reqwest::Error| ApiError::Transport {
            what,
            detail: e.without_url().to_string(),
        };
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.as_u16() == 429 {
            return Err(ApiError::RateLimited(retry_after(
                resp.headers(),
                chrono::Utc::now().timestamp(),
            )));
        }
        if !status.is_success() {
            let body: AppError = resp.json().await.unwrap_or_default();
            return Err(ApiError::Status {
                status: status.as_u16(),
                what,
                id: body.id.chars().take(200).collect(),
                message: body.message.chars().take(500).collect(),
            });
        }
        resp.json().await.map_err(transport)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v4{path}", self.base)
    }

    /// `GET /users/me`: the bot itself.
    pub async fn me(&self) -> Result<User, ApiError> {
        self.call("GET /users/me", self.http.get(self.url("/users/me")))
            .await
    }

    /// `POST /users/usernames`: the users of these names (unknown names are
    /// left out).
    pub async fn users_by_usernames(&self, names: &[&str]) -> Result<Vec<User>, ApiError> {
        self.call(
            "POST /users/usernames",
            self.http.post(self.url("/users/usernames")).json(names),
        )
        .await
    }

    /// `POST /channels/direct`: the direct channel of two users (made if new).
    pub async fn direct_channel(&self, a: &str, b: &str) -> Result<Channel, ApiError> {
        self.call(
            "POST /channels/direct",
            self.http.post(self.url("/channels/direct")).json(&[a, b]),
        )
        .await
    }

    /// `POST /posts`.
    pub async fn create_post(&self, post: &Post) -> Result<Post, ApiError> {
        self.call("POST /posts", self.http.post(self.url("/posts")).json(post))
            .await
    }

    /// `PUT /posts/{id}`: replace a post's message and props.
    pub async fn update_post(&self, post: &Post) -> Result<Post, ApiError> {
        self.call(
            "PUT /posts/{id}",
            self.http
                .put(self.url(&format!("/posts/{}", post.id)))
                .json(post),
        )
        .await
    }

    /// `GET /channels/{id}/posts`: the newest posts of a channel.
    pub async fn channel_posts(&self, channel: &str, per_page: u32) -> Result<PostList, ApiError> {
        self.call(
            "GET /channels/{id}/posts",
            self.http.get(self.url(&format!(
                "/channels/{channel}/posts?page=0&per_page={per_page}"
            ))),
        )
        .await
    }

    /// `GET /channels/{id}/posts?since=MS`: the posts of a channel changed
    /// after `since_ms` (milliseconds since the epoch; at most 1,000).
    pub async fn posts_since(&self, channel: &str, since_ms: i64) -> Result<PostList, ApiError> {
        self.call(
            "GET /channels/{id}/posts?since",
            self.http.get(self.url(&format!(
                "/channels/{}/posts?since={since_ms}",
                path_id(channel)
            ))),
        )
        .await
    }

    /// `GET /users/me/channels`: every channel the bot is in, direct ones
    /// included.
    pub async fn my_channels(&self) -> Result<Vec<Channel>, ApiError> {
        self.call(
            "GET /users/me/channels",
            self.http.get(self.url("/users/me/channels")),
        )
        .await
    }

    /// `GET /users/{id}`.
    pub async fn user(&self, id: &str) -> Result<User, ApiError> {
        self.call(
            "GET /users/{id}",
            self.http.get(self.url(&format!("/users/{}", path_id(id)))),
        )
        .await
    }

    /// `POST /actions/dialogs/open`, within seconds of the click that gave
    /// `trigger_id`.
    pub async fn open_dialog(
        &self,
        trigger_id: &str,
        url: &str,
        dialog: &Dialog,
    ) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .call(
                "POST /actions/dialogs/open",
                self.http
                    .post(self.url("/actions/dialogs/open"))
                    .json(&OpenDialog {
                        trigger_id,
                        url,
                        dialog,
                    }),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(name: &'static str, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(name, v);
        }
        h
    }

    #[test]
    fn a_rate_limit_reset_is_read_as_seconds_or_as_a_time() {
        let now = 1_800_000_000;
        assert_eq!(
            retry_after(&headers("x-ratelimit-reset", "3"), now),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry_after(&headers("x-ratelimit-reset", "1800000007"), now),
            Duration::from_secs(7)
        );
        // A time already past, garbage, or nothing: a second.
        assert_eq!(
            retry_after(&headers("x-ratelimit-reset", "1799999990"), now),
            Duration::from_secs(1)
        );
        assert_eq!(
            retry_after(&headers("x-ratelimit-reset", "soon"), now),
            Duration::from_secs(1)
        );
        assert_eq!(retry_after(&HeaderMap::new(), now), Duration::from_secs(1));
        assert_eq!(
            retry_after(&headers("retry-after", "12"), now),
            Duration::from_secs(12)
        );
        // Never more than an hour.
        assert_eq!(
            retry_after(&headers("x-ratelimit-reset", "999999"), now),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn a_client_never_shows_its_token() {
        let c = Client::new("http://chat.example.org/", "s3cr3t-token").expect("client");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.base(), "http://chat.example.org");
    }
}
