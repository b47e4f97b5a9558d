//! Preview and test-send: what a campaign's first wave would send, written
//! to files or sent once to an admin, without touching the campaign.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use winventory_core::store::NewMessage;

use crate::plan::{Addressee, DigestMachine, load_holdings, recipient_key};

use super::digest::Part;
use super::states::{ChannelKind, RecipientKey};
use super::{Engine, EngineError};

/// What `campaign preview` produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewSummary {
    /// Target machines.
    pub machines: usize,
    /// Machines asked of a fallback group (no owner known).
    pub machines_without_owner: usize,
    /// People who would get a digest.
    pub recipients: usize,
    /// Digests written.
    pub messages: usize,
    /// People who could not be reached (no email address).
    pub unreachable: Vec<String>,
}

impl Engine {
    /// Render every digest the campaign's first wave would send into `dir`
    /// (`LOGIN.txt`, `LOGIN.html`, `LOGIN.subject`), without storing or
    /// sending anything.
    pub async fn preview(
        &self,
        id_or_name: &str,
        now: DateTime<Utc>,
        dir: &Path,
    ) -> Result<PreviewSummary, EngineError> {
        let c = self.campaign(id_or_name).await?;
        let machines = self.targets(&c.spec, now).await?;
        let holdings = load_holdings(self.store.as_ref(), &c.spec).await?;
        let users = self.directory().await?;
        let mut by: BTreeMap<String, Vec<DigestMachine>> = BTreeMap::new();
        let mut summary = PreviewSummary {
            machines: machines.len(),
            ..Default::default()
        };
        for m in &machines {
            let r = recipient_key(m, &c.spec.fallback_group);
            if RecipientKey::parse(&r).group().is_some() {
                summary.machines_without_owner += 1;
            }
            by.entry(r)
                .or_default()
                .push(self.machine_view(&c, m, now, &holdings));
        }
        let groups = self
            .group_members(
                by.keys()
                    .filter_map(|k| RecipientKey::parse(k).group().map(str::to_string))
                    .collect(),
            )
            .await?;
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Write {
            path: dir.display().to_string(),
            source,
        })?;
        for (recipient, list) in &by {
            let people = Self::people(recipient, &groups);
            if people.is_empty() {
                summary.unreachable.push(recipient.clone());
            }
            for login in people {
                let person = Addressee::of(login, users.get(login));
                summary.recipients += 1;
                if person.email.is_none() {
                    summary.unreachable.push(login.to_string());
                }
                // Never queued: its answers for all machines name a message
                // that lists none, so they answer nothing.
                let r = self.render_digest(
                    &person,
                    &[Part {
                        campaign: &c,
                        recipient,
                        machines: list,
                    }],
                    false,
                    ChannelKind::Email.as_str(),
                    &format!("preview:{}:{login}", c.row.id),
                )?;
                let safe: String = login
                    .chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.' {
                            ch
                        } else {
                            '_'
                        }
                    })
                    .collect();
                for (ext, body) in [("subject", &r.subject), ("txt", &r.text), ("html", &r.html)] {
                    let path = dir.join(format!("{safe}.{ext}"));
                    std::fs::write(&path, body).map_err(|source| EngineError::Write {
                        path: path.display().to_string(),
                        source,
                    })?;
                }
                summary.messages += 1;
            }
        }
        summary.unreachable.sort();
        summary.unreachable.dedup();
        Ok(summary)
    }

    /// Send one real digest of the campaign to an admin (the digest of its
    /// first recipient, addressed to the admin), whatever the campaign's state.
    pub async fn test_send(
        &self,
        id_or_name: &str,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let c = self.campaign(id_or_name).await?;
        let users = self.directory().await?;
        let admin = Addressee::of(login, users.get(login));
        let email = admin
            .email
            .clone()
            .ok_or_else(|| EngineError::NoAddress(login.to_string()))?;
        let machines = self.targets(&c.spec, now).await?;
        let holdings = load_holdings(self.store.as_ref(), &c.spec).await?;
        let first = machines
            .first()
            .map(|m| recipient_key(m, &c.spec.fallback_group));
        let list: Vec<DigestMachine> = machines
            .iter()
            .filter(|m| Some(recipient_key(m, &c.spec.fallback_group)) == first)
            .map(|m| self.machine_view(&c, m, now, &holdings))
            .collect();
        // Links in a test message are signed for the admin, so following
        // them cannot answer for the real owner.
        // Nor can its answers for all machines: its message lists none.
        let key = format!("test:{}:{}:{}", c.row.id, login, now.timestamp_micros());
        let email_channel = ChannelKind::Email.as_str();
        let part = Part {
            campaign: &c,
            recipient: login,
            machines: &list,
        };
        let r = self.render_digest(&admin, &[part], false, email_channel, &key)?;
        let msg = NewMessage {
            message_id: self.message_id(&key),
            idem_key: key,
            channel: email_channel.into(),
            recipient: login.to_string(),
            address: email.clone(),
            fallback: None,
            subject: format!("[TEST] {}", r.subject),
            body_text: r.text,
            body_html: Some(r.html),
            machines: Vec::new(),
            reminder: false,
            actions: Vec::new(),
            buttons: None,
        };
        self.store.enqueue(&[msg], now).await?;
        Ok(email)
    }
}
