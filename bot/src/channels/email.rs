//! The email channel: lettre over SMTP (plain, STARTTLS or TLS, with
//! authentication and pooled connections). Each message is multipart text
//! and HTML, and carries the Message-ID the outbox derived from its
//! idempotency key, so a message sent twice after a crash is recognisable.
//! Its `Date:` is the process's [`Clock`], so a rehearsal under
//! `WINVENTORY_NOW` sends mail dated at the rehearsed time.
//! SMTP 5xx replies are permanent failures (the worker falls back or gives
//! up); everything else (4xx, connection refused, time-outs) is retried.
//!
//! lettre's asynchronous transport bounds only the connect with its
//! time-out, so each whole exchange is bounded here; a send cut off by the
//! time-out leaves its pooled connection mid-dialogue, so the pool is
//! replaced (its connections closed) rather than reused.

use anyhow::{Context, Result};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;
use winventory_core::store::OutboxRow;
use winventory_workflows::delivery::{Channel, SendError};

use crate::clock::Clock;
use crate::settings::Settings;

/// The SMTP channel.
pub struct EmailChannel {
    transport: std::sync::RwLock<AsyncSmtpTransport<Tokio1Executor>>,
    build: Box<dyn Fn() -> AsyncSmtpTransport<Tokio1Executor> + Send + Sync>,
    timeout: std::time::Duration,
    from: Mailbox,
    clock: Clock,
}

/// The SMTP URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    winventory_core::store::redact_url(url)
}

impl EmailChannel {
    /// From the settings; `Ok(None)` when no SMTP server is configured.
    /// Messages are dated by `clock`.
    pub fn from_settings(s: &Settings, clock: Clock) -> Result<Option<Self>> {
        let Some(url) = &s.smtp_url else {
            return Ok(None);
        };
        let url = url.expose_secret();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| {
            anyhow::anyhow!(
                "the SMTP URL {} is not valid ({e}); write smtp://HOST:PORT, smtp://HOST:587?tls=required or smtps://HOST:465",
                redact(url)
            )
        })?;
        if let (Some(user), Some(password)) = (&s.smtp_user, &s.smtp_password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        let timeout = std::time::Duration::from_secs(s.smtp_timeout_secs);
        let builder = builder.timeout(Some(timeout));
        let build = Box::new(move || builder.clone().build());
        let transport = std::sync::RwLock::new(build());
        let from: Mailbox = s.mail_from.parse().with_context(|| {
            format!(
                "mail_from {:?} is not an email address; write e.g. \"IT <it@example.org>\"",
                s.mail_from
            )
        })?;
        Ok(Some(Self {
            transport,
            build,
            timeout,
            from,
            clock,
        }))
    }

    /// The domain of the From address (for Message-IDs).
    pub fn from_domain(s: &Settings) -> String {
        s.mail_from
            .parse::<Mailbox>()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "winventory.invalid".into())
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &'static str {
        "email"
    }

    async fn send(&self, m: &OutboxRow) -> Result<(), SendError> {
        let to: Mailbox = m.address.parse().map_err(|e| {
            SendError::Permanent(format!("{:?} is not an email address: {e}", m.address))
        })?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .date(self.clock.now().into())
            .message_id(Some(m.message_id.clone()))
            .header(header::UserAgent::from("winventory".to_string()));
        let message = match &m.body_html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                m.body_text.clone(),
                html.clone(),
            )),
            None => builder
                .header(header::ContentType::TEXT_PLAIN)
                .body(m.body_text.clone()),
        }
        .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        let transport = match self.transport.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
            Err(_) => {
                // The cut-off connection must not be reused: a new pool.
                let fresh = (self.build)();
                match self.transport.write() {
                    Ok(mut t) => *t = fresh,
                    Err(poisoned) => *poisoned.into_inner() = fresh,
                }
                Err(SendError::Transient(format!(
                    "the SMTP server did not finish within {} s (smtp_timeout_secs)",
                    self.timeout.as_secs()
                )))
            }
        }
    }
}
