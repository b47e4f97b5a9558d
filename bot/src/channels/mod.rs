//! The channels: email, Matrix and Mattermost, each behind the workflows'
//! [`Channel`] trait for delivery and, for the chat ones, the [`Listener`]
//! trait for what people write, vote or press; chosen once at start-up
//! from the settings ([`Channels::connect`]). The conversation the chat
//! channels share is `winventory_workflows::conversation`.

pub mod email;
pub mod matrix;
pub mod mattermost;

use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use winventory_workflows::delivery::Channel;
use winventory_workflows::engine::Engine;

use crate::app::App;
use crate::tasks::supervise::LoopHandle;
use email::EmailChannel;
use matrix::MatrixChannel;
use mattermost::MattermostChannel;

/// A chat channel that listens: messages, votes and commands people send
/// to the bot.
#[async_trait]
pub trait Listener: Send + Sync {
    /// Its loop's name in `/healthz` and `/metrics`.
    fn name(&self) -> &'static str;

    /// Listen until `stop` turns true, reporting to `health`; a server
    /// away is waited out, never the end of the loop.
    async fn listen(
        self: Arc<Self>,
        engine: Engine,
        health: LoopHandle,
        stop: tokio::sync::watch::Receiver<bool>,
    );

    /// Handle what arrived since the last time, once (`worker --once`,
    /// before it delivers). Nothing by default.
    async fn catch_up(&self, _engine: Engine) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl Listener for MatrixChannel {
    fn name(&self) -> &'static str {
        "matrix"
    }

    async fn listen(
        self: Arc<Self>,
        engine: Engine,
        health: LoopHandle,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        MatrixChannel::listen(self, engine, health, stop).await
    }

    async fn catch_up(&self, engine: Engine) -> Result<()> {
        self.listen_once(engine).await
    }
}

#[async_trait]
impl Listener for MattermostChannel {
    fn name(&self) -> &'static str {
        "mattermost"
    }

    async fn listen(
        self: Arc<Self>,
        engine: Engine,
        health: LoopHandle,
        stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let admins = self.role_mapping.clone();
        MattermostChannel::listen(self, engine, admins, health, stop).await
    }
}

/// The channels of this process, connected once.
pub struct Channels {
    /// The channels that deliver, email first (empty in a process that
    /// does not deliver).
    pub senders: Vec<Arc<dyn Channel>>,
    /// The chat channels that listen.
    pub listeners: Vec<Arc<dyn Listener>>,
    /// The Mattermost channel, which the HTTP edge shares (button
    /// callbacks, dialogs, post updates).
    pub mattermost: Option<Arc<MattermostChannel>>,
}

impl Channels {
    /// Connect the channels the settings name. A process that delivers
    /// (`deliver`) needs at least one channel, and is the one that listens
    /// on Matrix (one device per process); Mattermost's conversation
    /// belongs to the HTTP edge and listens either way.
    pub async fn connect(app: &App, deliver: bool) -> Result<Self> {
        let s = &app.settings;
        let mattermost = MattermostChannel::connect(s, app.store.clone(), app.clock)
            .await?
            .map(Arc::new);
        let mut senders: Vec<Arc<dyn Channel>> = Vec::new();
        let mut listeners: Vec<Arc<dyn Listener>> = Vec::new();
        if deliver {
            if let Some(email) = EmailChannel::from_settings(s, app.clock)? {
                senders.push(Arc::new(email));
            }
            if let Some(m) = MatrixChannel::connect(s, app.store.clone(), app.clock).await? {
                let m = Arc::new(m);
                senders.push(m.clone());
                listeners.push(m);
            }
            if let Some(m) = &mattermost {
                senders.push(m.clone());
            }
            if senders.is_empty() {
                bail!(
                    "no channel is configured: set WINVENTORY_SMTP_URL (or smtp_url in the configuration file)"
                );
            }
        }
        if let Some(m) = &mattermost {
            listeners.push(m.clone());
        }
        Ok(Self {
            senders,
            listeners,
            mattermost,
        })
    }
}
