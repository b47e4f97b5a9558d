//! Conversation in the bot's direct channels over Mattermost's websocket
//! (`/api/v4/websocket`, `posted` events): what a person writes there gets
//! the same answers and commands as on Matrix ([`crate::chat`]). The
//! connection authenticates with the bot's token (header and challenge),
//! reconnects with exponential backoff and jitter, and each post is claimed
//! in the database before it is acted on, so none is processed twice, even
//! after a reconnect or a restart. Mattermost does not replay what was
//! posted while no connection was open: each new connection first reads,
//! through the REST API, the direct posts written since the last one
//! handled (ten minutes' margin, a day at most), and answers those nobody
//! has yet.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use winventory_workflows::engine::Engine;

use super::MattermostChannel;
use super::client::Post;

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    event: String,
    #[serde(default)]
    data: serde_json::Value,
}

/// The websocket URL of a server's base URL.
pub fn websocket_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    format!("{ws}/api/v4/websocket")
}

/// A `posted` event's post and its author's username, when it is a post by
/// someone else in a direct channel.
fn direct_post(ev: &Event, bot_id: &str) -> Option<(Post, String)> {
    if ev.event != "posted" || ev.data.get("channel_type")?.as_str()? != "D" {
        return None;
    }
    let post: Post = serde_json::from_str(ev.data.get("post")?.as_str()?).ok()?;
    if post.user_id == bot_id || post.id.is_empty() || post.message.trim().is_empty() {
        return None;
    }
    let sender = super::username(ev.data.get("sender_name")?.as_str()?).to_string();
    Some((post, sender))
}

impl MattermostChannel {
    /// Listen until `stop` turns true, reconnecting as needed.
    pub async fn listen(
        self: Arc<Self>,
        engine: Engine,
        role_mapping: crate::settings::RoleMapping,
        health: crate::tasks::supervise::LoopHandle,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        // Reconnects since the last connection that lasted a minute.
        let mut failures: u64 = 0;
        while !*stop.borrow() {
            let started = std::time::Instant::now();
            let result = tokio::select! {
                r = self.session(&engine, &role_mapping, &health) => r,
                _ = stop.changed() => break,
            };
            // Logged once per outage (the handle counts the repeats).
            health.failed(&crate::tasks::supervise::StepError {
                transient: true,
                message: match result {
                    Err(e) => format!("Mattermost websocket closed: {e:#}"),
                    Ok(()) => "Mattermost closed the websocket".into(),
                },
            });
            if started.elapsed() > Duration::from_secs(60) {
                failures = 0;
            }
            failures += 1;
            // The same backoff as every other loop (1 s doubling to 60 s).
            let wait = crate::tasks::supervise::backoff(failures);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
        }
        health.stopped();
    }

    /// One connection: authenticate, then answer posts until it closes.
    async fn session(
        &self,
        engine: &Engine,
        role_mapping: &[(winventory_core::access::Role, Vec<String>)],
        health: &crate::tasks::supervise::LoopHandle,
    ) -> anyhow::Result<()> {
        let mut req = websocket_url(self.client.base()).into_client_request()?;
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.client.token()).parse()?,
        );
        let bot_id = self.bot_id().await?.to_string();
        let (mut ws, _) = tokio::time::timeout(
            Duration::from_secs(20),
            tokio_tungstenite::connect_async(req),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting"))?
        .map_err(|e| anyhow::anyhow!("cannot connect: {e}"))?;
        let challenge = serde_json::json!({
            "seq": 1,
            "action": "authentication_challenge",
            "data": { "token": self.client.token() },
        });
        ws.send(Message::text(challenge.to_string())).await?;
        tracing::info!("listening to Mattermost");
        health.ok();
        // What was written while nobody listened (the socket keeps what
        // arrives meanwhile; claims keep anything from being answered twice).
        match self.catch_up(engine, role_mapping, &bot_id).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(answered = n, "answered Mattermost posts written while away"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the Mattermost posts written while away")
            }
        }
        while let Some(msg) = ws.next().await {
            let text = match msg? {
                Message::Text(t) => t,
                Message::Close(_) => break,
                _ => continue,
            };
            let Ok(ev) = serde_json::from_str::<Event>(text.as_str()) else {
                continue;
            };
            let Some((post, sender)) = direct_post(&ev, &bot_id) else {
                continue;
            };
            self.answer_post(engine, role_mapping, &post, &sender).await;
        }
        Ok(())
    }

    /// Answer one direct post by `sender`, unless it was answered already
    /// (claimed in the database first). Whether it was answered now.
    async fn answer_post(
        &self,
        engine: &Engine,
        role_mapping: &[(winventory_core::access::Role, Vec<String>)],
        post: &Post,
        sender: &str,
    ) -> bool {
        match engine
            .store
            .claim_event("mattermost", &post.id, self.clock.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::error!(error = %e, "cannot record a Mattermost post as handled; not acting on it");
                return false;
            }
        }
        let user = super::directory_user(engine, sender).await;
        let parts = winventory_workflows::conversation::conversation(
            engine,
            self.clock.now(),
            role_mapping,
            "mattermost",
            sender,
            user,
            &post.message,
        )
        .await;
        let answer = Post {
            channel_id: post.channel_id.clone(),
            message: winventory_workflows::conversation::markdown(&parts),
            ..Post::default()
        };
        if let Err(e) = self.client.create_post(&answer).await {
            tracing::warn!(error = %e, "cannot answer in Mattermost");
        }
        true
    }

    /// Answer the direct posts written since the last one handled (less
    /// [`CATCH_UP_MARGIN`], at most [`CATCH_UP_LIMIT`] ago) that nobody
    /// answered: those written while no connection was open. Nothing when
    /// no post was ever handled (a new site does not answer old chatter).
    async fn catch_up(
        &self,
        engine: &Engine,
        role_mapping: &[(winventory_core::access::Role, Vec<String>)],
        bot_id: &str,
    ) -> anyhow::Result<usize> {
        let Some(last) = engine.store.last_event_at("mattermost").await? else {
            return Ok(0);
        };
        let now = self.clock.now();
        let since = (last - CATCH_UP_MARGIN)
            .max(now - CATCH_UP_LIMIT)
            .timestamp_millis();
        let mut names: std::collections::HashMap<String, String> = Default::default();
        let mut answered = 0;
        // The bot's own digests make channels recent too: after a wave
        // thousands may be; read the most recently active ones, where
        // what people wrote while away is.
        let mut recent: Vec<_> = self
            .client
            .my_channels()
            .await?
            .into_iter()
            .filter(|c| c.kind == "D" && c.last_post_at > since)
            .collect();
        recent.sort_by_key(|c| std::cmp::Reverse(c.last_post_at));
        if recent.len() > CATCH_UP_CHANNELS {
            tracing::info!(
                channels = recent.len(),
                read = CATCH_UP_CHANNELS,
                "many direct channels were active while away; reading the most recent"
            );
            recent.truncate(CATCH_UP_CHANNELS);
        }
        for channel in recent {
            let list = self.client.posts_since(&channel.id, since).await?;
            let mut posts: Vec<&Post> = list
                .posts
                .values()
                .filter(|p| {
                    p.channel_id == channel.id
                        && p.user_id != bot_id
                        && p.kind.is_empty()
                        && p.create_at > since
                        && !p.id.is_empty()
                        && !p.message.trim().is_empty()
                })
                .collect();
            posts.sort_by_key(|p| p.create_at);
            for post in posts {
                let sender = match names.get(&post.user_id) {
                    Some(name) => name.clone(),
                    None => {
                        let name = self.client.user(&post.user_id).await?.username;
                        names.insert(post.user_id.clone(), name.clone());
                        name
                    }
                };
                if self.answer_post(engine, role_mapping, post, &sender).await {
                    answered += 1;
                }
            }
        }
        Ok(answered)
    }
}

/// How far before the last handled post a catch-up starts (posts' times are
/// the Mattermost server's clock, the claims ours).
const CATCH_UP_MARGIN: chrono::Duration = chrono::Duration::minutes(10);
/// How far back a catch-up goes at most.
const CATCH_UP_LIMIT: chrono::Duration = chrono::Duration::hours(24);
/// How many direct channels a catch-up reads at most (one request each).
const CATCH_UP_CHANNELS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_url_follows_the_server_url() {
        assert_eq!(
            websocket_url("https://chat.example.org/"),
            "wss://chat.example.org/api/v4/websocket"
        );
        assert_eq!(
            websocket_url("http://127.0.0.1:8065"),
            "ws://127.0.0.1:8065/api/v4/websocket"
        );
    }

    #[test]
    fn only_other_peoples_direct_posts_are_answered() {
        let ev = |channel_type: &str, user: &str| Event {
            event: "posted".into(),
            data: serde_json::json!({
                "channel_type": channel_type,
                "sender_name": "@asmith",
                "post": serde_json::json!({"id": "p1", "channel_id": "c1", "user_id": user, "message": "mine"}).to_string(),
            }),
        };
        let (post, sender) = direct_post(&ev("D", "u1"), "bot").expect("a direct post");
        assert_eq!((post.id.as_str(), sender.as_str()), ("p1", "asmith"));
        assert!(direct_post(&ev("O", "u1"), "bot").is_none());
        assert!(direct_post(&ev("D", "bot"), "bot").is_none());
        let garbage = Event {
            event: "posted".into(),
            data: serde_json::json!({"channel_type": "D", "post": "{not json"}),
        };
        assert!(direct_post(&garbage, "bot").is_none());
    }
}
