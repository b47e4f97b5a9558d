//! The email channel: lettre over SMTP (plain, STARTTLS or TLS, with
//! authentication and pooled connections). Each message is multipart text
//! and HTML, and carries the Message-ID the outbox derived from its
//! idempotency key, so a message sent twice after a crash is recognisable.
//! SMTP 5xx replies are permanent failures (the worker falls back or gives
//! up); everything else (4xx, connection refused, time-outs) is retried.

use anyhow::{Context, Result};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use winventory_core::store::OutboxRow;
use winventory_workflows::delivery::{Channel, SendError};

use crate::settings::Settings;

/// The SMTP channel.
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The SMTP URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    winventory_core::store::redact_url(url)
}

impl EmailChannel {
    /// From the settings; `Ok(None)` when no SMTP server is configured.
    pub fn from_settings(s: &Settings) -> Result<Option<Self>> {
        let Some(url) = &s.smtp_url else {
            return Ok(None);
        };
        let url = url.expose();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| {
            anyhow::anyhow!(
                "the SMTP URL {} is not valid ({e}); write smtp://HOST:PORT, smtp://HOST:587?tls=required or smtps://HOST:465",
                redact(url)
            )
        })?;
        if let (Some(user), Some(password)) = (&s.smtp_user, &s.smtp_password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let transport = builder
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from: Mailbox = s.mail_from.parse().with_context(|| {
            format!(
                "mail_from {:?} is not an email address; write e.g. \"IT <it@example.org>\"",
                s.mail_from
            )
        })?;
        Ok(Some(Self { transport, from }))
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
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}
