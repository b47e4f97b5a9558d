//! Exceptions: the register of exception answers and an admin's decision,
//! with the notice to the owner.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::store::NewMessage;

use crate::plan::Addressee;
use crate::render::ExceptionNotice;

use super::states::ExceptionState;
use super::{Engine, EngineError};

/// Days before an approved exception ends that its owner is asked again.
pub const EXCEPTION_NOTICE_DAYS: i64 = 14;

/// One line of the exception register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExceptionRow {
    /// Campaign name.
    pub campaign: String,
    /// The machine's hostname as last reported.
    pub host: String,
    /// Who asked.
    pub owner: String,
    /// Until when.
    pub until: Option<NaiveDate>,
    /// Why.
    pub justification: String,
    /// `requested`, `approved` or `declined`.
    pub state: String,
    /// The admin who decided.
    pub decided_by: Option<String>,
    /// The admin's note.
    pub note: Option<String>,
}

impl Engine {
    /// The exception register: every exception answer of every campaign (or
    /// one), with its state. `pending_only` keeps the requests awaiting a decision.
    pub async fn exceptions(
        &self,
        campaign: Option<&str>,
        pending_only: bool,
    ) -> Result<Vec<ExceptionRow>, EngineError> {
        let rows = match campaign {
            Some(c) => vec![self.campaign(c).await?.row],
            None => self.store.campaigns().await?,
        };
        let mut out = Vec::new();
        for row in rows {
            // Only the machines with an exception (not every machine of a
            // campaign of 85,000).
            let machines = self
                .campaign_machines_shown(row.id, winventory_core::store::MachinesShown::Exceptions)
                .await?;
            for m in machines {
                let Some(state) = m.exception_state.clone() else {
                    continue;
                };
                if pending_only && ExceptionState::parse(&state) != Some(ExceptionState::Requested)
                {
                    continue;
                }
                out.push(ExceptionRow {
                    campaign: row.name.clone(),
                    host: m.hostname.clone(),
                    owner: m.answered_by.clone().unwrap_or_default(),
                    until: m.answer_date,
                    justification: m.answer_detail.clone().unwrap_or_default(),
                    state,
                    decided_by: m.exception_decided_by.clone(),
                    note: m.exception_note.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Approve or decline a requested exception and tell the owner (the
    /// notice is queued with the decision).
    pub async fn decide_exception(
        &self,
        campaign: &str,
        host: &str,
        approve: bool,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let c = self.campaign(campaign).await?;
        let key = winventory_core::HostKey::new(host).as_str().to_string();
        let m = self
            .store
            .campaign_machines(c.row.id)
            .await?
            .into_iter()
            .find(|m| m.host_key == key)
            .ok_or_else(|| Self::state_error(&c, &format!("it has no machine {host}")))?;
        if ExceptionState::of(&m) != Some(ExceptionState::Requested) {
            return Err(Self::state_error(
                &c,
                &format!(
                    "{host} has no exception request awaiting a decision; `winventory campaign exceptions` lists them"
                ),
            ));
        }
        let owner = m.answered_by.clone().unwrap_or_default();
        let users = self.directory().await?;
        let person = Addressee::of(&owner, users.get(&owner));
        let decision = ExceptionState::decision(approve).as_str();
        let notice = match self.route(&person) {
            Some(route) => {
                let ctx = ExceptionNotice {
                    person: person.clone(),
                    host: m.hostname.clone(),
                    campaign: c.spec.title_in(&person.language).to_string(),
                    approved: approve,
                    until: m.answer_date.map(|d| d.to_string()),
                    note: note.map(str::to_string),
                    decided_by: by.to_string(),
                };
                let r = self.templates.exception_notice(&person.language, &ctx)?;
                let key = format!(
                    "exception:{}:{}:{}:{}",
                    c.row.id,
                    m.machine_id,
                    decision,
                    now.timestamp()
                );
                Some(NewMessage {
                    message_id: self.message_id(&key),
                    idem_key: key,
                    channel: route.channel,
                    recipient: owner.clone(),
                    address: route.address,
                    fallback: route.fallback,
                    subject: r.subject,
                    body_text: r.text,
                    body_html: Some(r.html),
                    machines: Vec::new(),
                    reminder: false,
                    actions: Vec::new(),
                    buttons: None,
                })
            }
            None => None,
        };
        let done = self
            .store
            .decide_exception(
                &winventory_core::store::ExceptionDecision {
                    campaign_id: c.row.id,
                    machine_id: m.machine_id,
                    decision: decision.into(),
                    by: by.into(),
                    note: note.map(str::to_string),
                },
                notice.as_ref(),
                now,
            )
            .await?;
        if !done {
            return Err(Self::state_error(
                &c,
                &format!("the request for {host} was decided meanwhile"),
            ));
        }
        Ok(())
    }
}
