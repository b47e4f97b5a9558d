//! The Mattermost channel: digests as posts in the bot's direct channel
//! with each person, with buttons (and, for many machines, drop-downs)
//! whose clicks come back to the HTTP edge (`crate::http::mattermost`); plain-text
//! conversation over the websocket ([`listen`]); the REST client
//! ([`client`]).
//!
//! Delivery is at least once and shows each message once: the post carries
//! the outbox key in its `props` and a `pending_post_id` derived from it
//! (Mattermost drops a repeat with the same one for about 30 seconds), and
//! a later attempt first looks for the key among the bot's recent posts in
//! the channel. A 429 holds the channel as long as `X-Ratelimit-Reset`
//! says; a server that is down or answers 5xx is a temporary failure for
//! the outbox to retry; a person Mattermost does not know is a permanent
//! one, and the message falls back to email.

pub mod client;
pub mod listen;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use secrecy::ExposeSecret as _;
use sha2::Digest as _;
use winventory_core::store::{OutboxRow, Store};
use winventory_workflows::buttons::{Buttons, MAX_MACHINE_ROWS};
use winventory_workflows::delivery::{Channel, SendError};

use client::{Action, ApiError, Attachment, Client, Integration, Post, SelectOption};

use crate::clock::Clock;
use crate::settings::Settings;

/// The key of the outbox message a post carries in its `props`.
pub const KEY_PROP: &str = "winventory_key";

/// Path of the button callback on the HTTP edge.
pub const ACTIONS_PATH: &str = "/mattermost/actions";
/// Path of the dialog submissions.
pub const DIALOG_PATH: &str = "/mattermost/dialog";
/// Path of the `/winv` slash command.
pub const COMMAND_PATH: &str = "/mattermost/command";

/// The Mattermost channel.
pub struct MattermostChannel {
    /// The REST client.
    pub client: Client,
    /// The bot's user id, learnt at start-up or, when Mattermost was
    /// unreachable then, at the first use.
    bot_id: tokio::sync::OnceCell<String>,
    /// Direct channel ids by username (lower case).
    directs: tokio::sync::Mutex<HashMap<String, String>>,
    db: Arc<dyn Store>,
    /// Public base URL of our HTTP edge (where clicks are sent).
    pub base_url: String,
    /// The process clock (posts are handled at its time).
    clock: Clock,
    /// The directory groups whose members may run admin commands.
    pub(crate) role_mapping: crate::settings::RoleMapping,
}

impl MattermostChannel {
    /// Connect (`GET /users/me` checks the token); `Ok(None)` when no
    /// server is configured.
    pub async fn connect(s: &Settings, db: Arc<dyn Store>, clock: Clock) -> Result<Option<Self>> {
        let Some(url) = &s.mattermost_url else {
            return Ok(None);
        };
        let token = s.mattermost_token.as_ref().context(
            "mattermost_url is set but mattermost_token is not; set WINVENTORY_MATTERMOST_TOKEN to the bot account's access token",
        )?;
        let client = Client::new(url, token.expose_secret())?;
        let bot_id = tokio::sync::OnceCell::new();
        match client.me().await {
            Ok(me) => {
                let _ = bot_id.set(me.id);
            }
            // A token refused is a mistake to fix now; a server that is
            // down or busy must not stop email and the rest.
            Err(
                e @ ApiError::Status {
                    status: 401 | 403, ..
                },
            ) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "Mattermost at {url} refused the bot's token; check WINVENTORY_MATTERMOST_TOKEN"
                )));
            }
            Err(e) => {
                tracing::warn!(error = %e, "Mattermost is not reachable now; trying again when a message is due");
            }
        }
        Ok(Some(Self {
            client,
            bot_id,
            directs: tokio::sync::Mutex::new(HashMap::new()),
            db,
            base_url: s.base_url.trim_end_matches('/').to_string(),
            clock,
            role_mapping: s.role_mapping(),
        }))
    }

    /// The bot's user id (`GET /users/me` once).
    pub async fn bot_id(&self) -> Result<&str, ApiError> {
        self.bot_id
            .get_or_try_init(|| async { self.client.me().await.map(|u| u.id) })
            .await
            .map(String::as_str)
    }

    /// The direct channel with `username`; `Ok(None)` when Mattermost has
    /// nobody of that name.
    pub async fn direct(&self, username: &str) -> Result<Option<String>, ApiError> {
        let name = self::username(username).to_lowercase();
        if let Some(id) = self.directs.lock().await.get(&name) {
            return Ok(Some(id.clone()));
        }
        let users = self.client.users_by_usernames(&[name.as_str()]).await?;
        let Some(user) = users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(&name))
        else {
            return Ok(None);
        };
        let channel = self
            .client
            .direct_channel(self.bot_id().await?, &user.id)
            .await?;
        self.directs.lock().await.insert(name, channel.id.clone());
        Ok(Some(channel.id))
    }

    /// A post of the bot's in `channel` that carries `key`, among its
    /// recent ones.
    async fn sent_before(&self, channel: &str, key: &str) -> Result<Option<String>, ApiError> {
        let list = self.client.channel_posts(channel, 100).await?;
        let bot_id = self.bot_id().await?;
        Ok(list
            .order
            .iter()
            .filter_map(|id| list.posts.get(id))
            .find(|p| {
                p.user_id == bot_id && p.props.get(KEY_PROP).and_then(|v| v.as_str()) == Some(key)
            })
            .map(|p| p.id.clone()))
    }
}

/// A Mattermost username as the directory or the server writes it, without
/// blanks or a leading `@`.
pub fn username(name: &str) -> &str {
    name.trim().trim_start_matches('@').trim()
}

/// Whether two usernames name the same account (Mattermost usernames are
/// case-insensitive); an empty name is nobody's.
pub fn same_username(a: &str, b: &str) -> bool {
    let (a, b) = (username(a), username(b));
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// The person of the directory with the Mattermost username `name` (a
/// query in the store, not a read of the whole directory).
pub async fn directory_user(
    e: &winventory_workflows::engine::Engine,
    name: &str,
) -> Result<Option<winventory_core::User>, winventory_workflows::engine::EngineError> {
    Ok(e.store.user_by_chat("mattermost", username(name)).await?)
}

/// The `props` of a digest post: its outbox key, and its buttons as
/// attachments, machines in `answered` showing their answer instead.
pub fn digest_props(
    key: &str,
    buttons: &Buttons,
    base_url: &str,
    answered: &HashMap<(i64, i64), Answered>,
) -> serde_json::Value {
    serde_json::json!({
        KEY_PROP: key,
        "attachments": attachments(buttons, base_url, answered),
    })
}

/// `pending_post_id` of a message: derived from its outbox key, so a
/// prompt resend is the same post to Mattermost.
pub fn pending_post_id(bot_id: &str, key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(13).map(|b| format!("{b:02x}")).collect();
    format!("{bot_id}:{hex}")
}

fn style(answer: &str) -> &'static str {
    match answer {
        "upgrade" | "replace" | "keep" => "primary",
        "decommission" | "remove" | "uninstall" => "danger",
        _ => "default",
    }
}

fn action_id(section: usize, machine: Option<i64>, answer: &str) -> String {
    let answer: String = answer.chars().filter(char::is_ascii_alphanumeric).collect();
    match machine {
        Some(m) => format!("s{section}m{m}{answer}"),
        None => format!("s{section}all{answer}"),
    }
}

/// What a machine shows once answered, in place of its buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The answer's label.
    pub label: String,
    /// Its date, if any.
    pub date: Option<String>,
}

/// The attachments of a digest post: per campaign, a row of buttons per
/// machine (or a drop-down per answer when there are many), and the answers
/// for all at once; machines in `answered` show their answer instead.
pub fn attachments(
    buttons: &Buttons,
    base_url: &str,
    answered: &HashMap<(i64, i64), Answered>,
) -> Vec<Attachment> {
    let url = format!("{base_url}{ACTIONS_PATH}");
    let action = |id: String, kind: &str, b: &winventory_workflows::buttons::Button| Action {
        id,
        kind: kind.into(),
        name: b.label.clone(),
        style: style(&b.answer).into(),
        options: Vec::new(),
        integration: Integration {
            url: url.clone(),
            context: serde_json::json!({ "token": b.token }),
        },
    };
    let mut out = Vec::new();
    for (si, s) in buttons.sections.iter().enumerate() {
        let open: Vec<_> = s
            .machines
            .iter()
            .filter(|m| !answered.contains_key(&(s.campaign, m.machine_id)))
            .collect();
        let done_text = |m: &winventory_workflows::buttons::MachineButtons| {
            answered.get(&(s.campaign, m.machine_id)).map(|a| {
                format!(
                    "{}\n**Answered: {}{}**",
                    m.summary,
                    a.label,
                    a.date
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )
            })
        };
        if s.machines.len() <= MAX_MACHINE_ROWS {
            for m in &s.machines {
                let (text, actions, color) = match done_text(m) {
                    Some(t) => (t, Vec::new(), "#2e7d32"),
                    None => (
                        m.summary.clone(),
                        m.buttons
                            .iter()
                            .map(|b| {
                                action(action_id(si, Some(m.machine_id), &b.answer), "button", b)
                            })
                            .collect(),
                        "#f0ad4e",
                    ),
                };
                out.push(Attachment {
                    fallback: format!("{}: {}", m.host, m.summary),
                    color: color.into(),
                    title: m.host.clone(),
                    text,
                    actions,
                });
            }
        } else {
            // Many machines: a list of what is answered, and one drop-down
            // per answer to give it for one open machine.
            let answered_lines: Vec<String> = s
                .machines
                .iter()
                .filter_map(|m| {
                    done_text(m).map(|t| format!("{}: {}", m.host, t.replace('\n', " ")))
                })
                .collect();
            let options: Vec<SelectOption> = open
                .iter()
                .map(|m| SelectOption {
                    text: format!("{} ({})", m.host, m.summary),
                    value: m.machine_id.to_string(),
                })
                .collect();
            let mut text = format!(
                "{} machines, {} waiting for an answer. Pick a machine under an answer to give it for that one machine.",
                s.machines.len(),
                open.len()
            );
            if !answered_lines.is_empty() {
                text.push('\n');
                text.push_str(&answered_lines.join("\n"));
            }
            out.push(Attachment {
                fallback: format!("{}: {} machines", s.title, s.machines.len()),
                color: "#f0ad4e".into(),
                title: s.title.clone(),
                text,
                actions: if options.is_empty() {
                    Vec::new()
                } else {
                    s.all
                        .iter()
                        .map(|b| Action {
                            options: options.clone(),
                            ..action(action_id(si, None, &b.answer), "select", b)
                        })
                        .map(|mut a| {
                            a.id.push_str("one");
                            a
                        })
                        .collect()
                },
            });
        }
        if !s.all.is_empty() && open.len() > 1 {
            out.push(Attachment {
                fallback: format!("{}: answer for all", s.title),
                color: "#1565c0".into(),
                title: format!("All {} machines still open", open.len()),
                text: String::new(),
                actions: s
                    .all
                    .iter()
                    .map(|b| action(action_id(si, None, &b.answer), "button", b))
                    .collect(),
            });
        }
    }
    out
}

/// The post of an outbox message: its text, its buttons as attachments,
/// its key in `props`.
pub fn post_of(m: &OutboxRow, channel_id: &str, bot_id: &str, base_url: &str) -> Post {
    let buttons = m
        .buttons
        .as_deref()
        .and_then(|b| Buttons::from_json(b).ok())
        .unwrap_or_default();
    Post {
        channel_id: channel_id.to_string(),
        message: m.body_text.clone(),
        props: digest_props(&m.idem_key, &buttons, base_url, &HashMap::new()),
        pending_post_id: pending_post_id(bot_id, &m.idem_key),
        ..Post::default()
    }
}

fn classify(e: ApiError) -> SendError {
    match e {
        ApiError::RateLimited(wait) => SendError::RateLimited {
            retry_after: wait,
            detail: "Mattermost asked to slow down (429)".into(),
        },
        e if e.is_transient() => SendError::Transient(e.to_string()),
        e => SendError::Permanent(e.to_string()),
    }
}

#[async_trait]
impl Channel for MattermostChannel {
    fn name(&self) -> &'static str {
        "mattermost"
    }

    async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
        let channel = match self.direct(&m.address).await.map_err(classify)? {
            Some(c) => c,
            None => {
                return Err(SendError::Permanent(format!(
                    "Mattermost has no user named {:?}",
                    m.address
                )));
            }
        };
        // An attempt after the first may follow a crash after the post
        // was made: look for it first.
        if m.attempts > 1
            && let Some(id) = self
                .sent_before(&channel, &m.idem_key)
                .await
                .map_err(classify)?
        {
            tracing::info!(
                id = m.id,
                "already posted before a restart; not posting again"
            );
            if let Err(e) = self.db.set_remote_id(m.id, &id).await {
                tracing::warn!(error = %e, "cannot remember the post id");
            }
            return Ok(());
        }
        let post = self
            .client
            .create_post(&post_of(
                m,
                &channel,
                self.bot_id().await.map_err(classify)?,
                &self.base_url,
            ))
            .await
            .map_err(classify)?;
        if let Err(e) = self.db.set_remote_id(m.id, &post.id).await {
            // The post is made; only in-place updates after clicks suffer.
            tracing::warn!(error = %e, "cannot remember the post id");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winventory_workflows::buttons::{Button, MachineButtons, Section};

    fn section(n: usize) -> Buttons {
        let b = |a: &str, t: &str| Button {
            answer: a.into(),
            label: a.to_uppercase(),
            token: t.into(),
            fields: a == "upgrade",
        };
        Buttons {
            sections: vec![Section {
                campaign: 1,
                recipient: "asmith".into(),
                title: "Retire".into(),
                machines: (0..n as i64)
                    .map(|i| MachineButtons {
                        machine_id: i,
                        host: format!("PC{i}"),
                        summary: "2012-r2".into(),
                        buttons: vec![
                            b("upgrade", &format!("u{i}")),
                            b("decommission", &format!("d{i}")),
                        ],
                    })
                    .collect(),
                all: vec![b("decommission", "dall")],
            }],
        }
    }

    #[test]
    fn a_few_machines_get_a_row_of_buttons_each_and_one_for_all() {
        let a = attachments(&section(2), "https://w.example.org", &HashMap::new());
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].title, "PC0");
        assert_eq!(a[0].actions[1].integration.context["token"], "d0");
        assert_eq!(
            a[0].actions[1].integration.url,
            "https://w.example.org/mattermost/actions"
        );
        assert!(
            a.iter()
                .flat_map(|x| &x.actions)
                .all(|x| x.id.chars().all(|c| c.is_ascii_alphanumeric()))
        );
        let ids: std::collections::HashSet<_> =
            a.iter().flat_map(|x| &x.actions).map(|x| &x.id).collect();
        assert_eq!(ids.len(), 5, "action ids are unique in a post");
        assert_eq!(a[2].actions[0].integration.context["token"], "dall");
    }

    #[test]
    fn an_answered_machine_shows_its_answer_instead_of_buttons() {
        let mut done = HashMap::new();
        done.insert(
            (1, 0),
            Answered {
                label: "Will decommission".into(),
                date: None,
            },
        );
        let a = attachments(&section(2), "https://w", &done);
        assert!(a[0].actions.is_empty());
        assert!(a[0].text.contains("Answered: Will decommission"));
        assert_eq!(a[1].actions.len(), 2);
        assert_eq!(a.len(), 2, "no 'all' row for a single open machine");
    }

    #[test]
    fn many_machines_are_offered_in_one_drop_down_per_answer() {
        let a = attachments(&section(MAX_MACHINE_ROWS + 5), "https://w", &HashMap::new());
        assert_eq!(a.len(), 2);
        let select = &a[0].actions[0];
        assert_eq!(select.kind, "select");
        assert_eq!(select.options.len(), MAX_MACHINE_ROWS + 5);
        assert_eq!(select.options[3].value, "3");
        assert_eq!(select.integration.context["token"], "dall");
        assert_ne!(select.id, a[1].actions[0].id);
    }

    #[test]
    fn the_pending_post_id_follows_the_outbox_key() {
        assert_eq!(pending_post_id("bot", "k1"), pending_post_id("bot", "k1"));
        assert_ne!(pending_post_id("bot", "k1"), pending_post_id("bot", "k2"));
        assert!(pending_post_id("bot", "k1").starts_with("bot:"));
    }
}
