//! Answers from signed tokens (links, buttons, drop-downs, dialogs):
//! checking a token, what it would record, and recording it through the
//! checks every channel shares.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::store::{
    AnswerRecord, CampaignMachine, CampaignState, MachineRow, MessageRef, StoreError,
};

use crate::answer::{Answer, AnswerError, AnswerKind};
use crate::spec::CampaignSpec;
use crate::token::{Claims, TokenError};

use super::Engine;
use super::states::{ChannelKind, MachineState};

/// A checked token: what it would record, on which machines.
#[derive(Debug, Clone)]
pub struct Picked {
    /// What the pages and buttons show.
    pub view: LinkView,
    /// The machines the answer covers (open or answered, in the token's and
    /// the drop-down's scope).
    pub machines: Vec<CampaignMachine>,
    /// All the machines of the campaign the recipient is asked about, as
    /// read (what a chat post shows).
    pub all: Vec<CampaignMachine>,
}

/// What recording a checked token did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The machines updated, as they are now.
    pub updated: Vec<CampaignMachine>,
    /// All the recipient's machines of the campaign, as they are now (those
    /// read before, with the updated ones replaced).
    pub all: Vec<CampaignMachine>,
}

/// The pages' view of a link, for the HTTP edge.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// The claims.
    #[serde(skip)]
    pub claims: Claims,
    /// The campaign's title, in the recipient's language.
    pub campaign: String,
    /// Hostnames the answer covers, as last reported.
    pub machines: Vec<String>,
    /// The recipient's language.
    pub language: String,
    /// The Mattermost username of the person the token was sent to, if any
    /// (a click is recorded only when it is theirs).
    #[serde(skip)]
    pub mattermost_username: Option<String>,
}

/// Why an answer from a link was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The token itself.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The campaign is closed (or gone).
    #[error("this campaign is closed; answers are no longer collected")]
    Closed,
    /// Nothing left to answer.
    #[error(
        "there is nothing left to answer with this link (the machines are resolved or were handed to someone else)"
    )]
    Nothing,
    /// The answer is incomplete or invalid.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The database failed (the click may be tried again).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an answer on an owner's behalf was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum OnBehalfError {
    /// The campaign (or the store).
    #[error(transparent)]
    Engine(#[from] super::EngineError),
    /// The campaign does not ask about that machine.
    #[error("campaign {1} does not ask about a machine named {0:?}")]
    NoMachine(String, String),
    /// The campaign's state, the answer or the machine's state does not fit.
    #[error("{0}")]
    NotAnswerable(String),
    /// The answer's fields, or the store.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// The date extended support covers every one of the machines until (their
/// OS cycles' ends): the earliest, or `None` when one has none (or there are
/// no machines).
pub(crate) fn common_esu_end(
    ends: impl IntoIterator<Item = Option<NaiveDate>>,
) -> Option<NaiveDate> {
    ends.into_iter()
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .min()
}

impl Engine {
    /// Check a link and say what it would record (for the confirmation page).
    pub async fn open_link(&self, token: &str, now: DateTime<Utc>) -> Result<LinkView, LinkError> {
        Ok(self.open_pick(token, None, now).await?.view)
    }

    /// The title of campaign `id` in `language` (its translation, else
    /// its own; cached, see [`Engine::titles`]).
    pub(super) async fn title(
        &self,
        id: i64,
        name: &str,
        language: &str,
    ) -> Result<String, LinkError> {
        let language = crate::render::language(language);
        if let Some(t) = self.titles.get(id, language) {
            return Ok(t);
        }
        let title = match self.store.campaign(&id.to_string()).await? {
            Some(row) => CampaignSpec::parse(&row.spec)
                .map_or(row.name, |s| s.title_in(language).to_string()),
            None => name.to_string(),
        };
        self.titles.put(id, language, &title);
        Ok(title)
    }

    /// Check a token (narrowed to one machine when a drop-down chose one)
    /// and say what it would record, on which machines. One read (the
    /// campaign's state, the recipient's machines through an index, the
    /// person), so a click costs the same in a campaign of 10 or 100,000
    /// machines; a token for all machines also reads, at the same time, the
    /// machines its message listed, and answers those alone (not the
    /// machines added to the campaign since). A token signed before tokens
    /// named their message (version 1 or 2) answers the machines already
    /// listed in some message.
    pub async fn open_pick(
        &self,
        token: &str,
        narrow: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Picked, LinkError> {
        let signer = self
            .signer
            .as_ref()
            .ok_or(LinkError::Token(TokenError::UnknownKey))?;
        let claims = signer.verify(token, now)?;
        let view = self
            .store
            .answer_view(claims.campaign, &claims.recipient, &claims.person);
        let (found, listed) = match (claims.machine, claims.message.as_deref()) {
            (None, Some(key)) => {
                let (found, listed) =
                    tokio::join!(view, self.store.listed_message(MessageRef::Key(key)));
                (
                    found?,
                    Some(listed?.map(|l| l.machines).unwrap_or_default()),
                )
            }
            _ => (view.await?, None),
        };
        let found = match found {
            Some(v) if v.state != CampaignState::Closed => v,
            _ => return Err(LinkError::Closed),
        };
        let in_scope = |m: &CampaignMachine| match (claims.machine, &listed) {
            (Some(id), _) => id == m.machine_id,
            (None, Some(listed)) => listed
                .binary_search(&(claims.campaign, m.machine_id))
                .is_ok(),
            (None, None) => m.messages > 0,
        };
        let machines: Vec<CampaignMachine> = found
            .machines
            .iter()
            .filter(|m| MachineState::of(m) != MachineState::Resolved)
            .filter(|m| in_scope(m))
            .filter(|m| narrow.is_none_or(|id| id == m.machine_id))
            .cloned()
            .collect();
        if machines.is_empty() {
            return Err(LinkError::Nothing);
        }
        let person = found.person;
        let language = person
            .as_ref()
            .and_then(|u| u.language.clone())
            .unwrap_or_else(|| "en".into());
        let campaign = self
            .title(claims.campaign, &found.campaign_name, &language)
            .await?;
        Ok(Picked {
            view: LinkView {
                campaign,
                machines: machines.iter().map(|m| m.hostname.clone()).collect(),
                language,
                mattermost_username: person.and_then(|u| u.mattermost_username),
                claims,
            },
            machines,
            all: found.machines,
        })
    }

    /// Record the answer a link proposes, with the fields its page collected.
    /// A later answer replaces an earlier one. Returns how many machines it
    /// updated.
    pub async fn answer_link(
        &self,
        token: &str,
        date: Option<NaiveDate>,
        detail: Option<String>,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(LinkView, u64), LinkError> {
        let fields = Answer {
            kind: AnswerKind::Keep,
            date,
            detail,
            comment,
        };
        let (view, done) = self
            .answer_pick(token, None, fields, ChannelKind::Email.as_str(), now)
            .await?;
        Ok((view, done.updated.len() as u64))
    }

    /// Record the answer a token proposes (narrowed to one machine when a
    /// drop-down chose one), with `fields`' date, detail and comment (its
    /// kind is the token's), as given through `via`.
    pub async fn answer_pick(
        &self,
        token: &str,
        narrow: Option<i64>,
        fields: Answer,
        via: &str,
        now: DateTime<Utc>,
    ) -> Result<(LinkView, Recorded), LinkError> {
        let picked = self.open_pick(token, narrow, now).await?;
        let done = self.record_picked(&picked, fields, via, now).await?;
        Ok((picked.view, done))
    }

    /// Record the answer of a token already checked with [`Engine::open_pick`]
    /// for the machines it returned.
    pub async fn record_picked(
        &self,
        picked: &Picked,
        fields: Answer,
        via: &str,
        now: DateTime<Utc>,
    ) -> Result<Recorded, LinkError> {
        let c = &picked.view.claims;
        let answer = Answer {
            kind: c.answer,
            ..fields
        };
        let updated = self
            .record(c.campaign, &picked.machines, answer, &c.person, via, now)
            .await?;
        let all = picked
            .all
            .iter()
            .map(|m| {
                updated
                    .iter()
                    .find(|u| u.machine_id == m.machine_id)
                    .unwrap_or(m)
                    .clone()
            })
            .collect();
        Ok(Recorded { updated, all })
    }

    /// Record an answer for one machine of a campaign on its owner's behalf
    /// (an admin or a campaign manager, through the API), with the checks
    /// every channel shares; `by` is who gave it (the history says so).
    /// The campaign must be running or paused, the answer one the campaign
    /// offers, the machine one it asks about and not resolved.
    pub async fn answer_on_behalf(
        &self,
        campaign: &str,
        host: &str,
        answer: Answer,
        by: &str,
        via: &str,
        now: DateTime<Utc>,
    ) -> Result<CampaignMachine, OnBehalfError> {
        let c = self.campaign(campaign).await?;
        if !matches!(c.row.state, CampaignState::Running | CampaignState::Paused) {
            return Err(OnBehalfError::NotAnswerable(format!(
                "campaign {} is {}: answers are recorded while it runs or is paused",
                c.row.name,
                c.row.state.as_str()
            )));
        }
        if !c.spec.answers().contains(&answer.kind) {
            return Err(OnBehalfError::NotAnswerable(format!(
                "campaign {} does not offer the answer {:?} (it offers {})",
                c.row.name,
                answer.kind.as_str(),
                c.spec
                    .answers()
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let key = winventory_core::HostKey::new(host);
        let machine = self
            .store
            .campaign_machines(c.row.id)
            .await
            .map_err(super::EngineError::from)?
            .into_iter()
            .find(|m| m.host_key == key.as_str())
            .ok_or_else(|| OnBehalfError::NoMachine(host.to_string(), c.row.name.clone()))?;
        if MachineState::of(&machine) == MachineState::Resolved {
            return Err(OnBehalfError::NotAnswerable(format!(
                "{} is resolved in campaign {}: nothing is asked of it any more",
                machine.hostname, c.row.name
            )));
        }
        let mut updated = self
            .record(
                c.row.id,
                std::slice::from_ref(&machine),
                answer,
                by,
                via,
                now,
            )
            .await?;
        updated.pop().ok_or(OnBehalfError::Link(LinkError::Nothing))
    }

    /// Check an answer for machines of one campaign and record it: the
    /// fields it needs, extended support where it is sold, and for "not
    /// mine" a person the directory knows. Shared by every channel.
    pub(super) async fn record(
        &self,
        campaign: i64,
        machines: &[CampaignMachine],
        answer: Answer,
        by: &str,
        via: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CampaignMachine>, LinkError> {
        let answer = Answer {
            detail: answer
                .detail
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty()),
            comment: answer
                .comment
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty()),
            ..answer
        };
        // Extended support: the earliest end among the machines' OS cycles,
        // their rows read at once.
        let esu = if answer.kind == AnswerKind::Esu {
            let ids: Vec<i64> = machines.iter().map(|m| m.machine_id).collect();
            let rows: HashMap<i64, MachineRow> = self
                .store
                .machines_by_id(&ids)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
            common_esu_end(machines.iter().map(|m| {
                rows.get(&m.machine_id)
                    .and_then(|row| row.os_match.as_ref())
                    .and_then(|cy| self.catalog.get(&cy.product, &cy.cycle))
                    .and_then(|i| match i.extended_support_end {
                        Some(winventory_core::Lifecycle::Date(d)) => Some(d),
                        _ => None,
                    })
            }))
        } else {
            None
        };
        answer.check(by, now.date_naive(), esu)?;
        let detail = match (answer.kind, &answer.detail) {
            (AnswerKind::NotMine, Some(d)) => {
                let login = winventory_core::normalize_login(d);
                // Only someone the directory knows can be asked instead.
                match &login {
                    Some(l) if self.store.user(l).await?.is_some() => login,
                    _ => return Err(AnswerError::UnknownOwner(d.trim().to_string()).into()),
                }
            }
            (_, d) => d.clone(),
        };
        Ok(self
            .store
            .record_answer(
                &AnswerRecord {
                    campaign_id: campaign,
                    machine_ids: machines.iter().map(|m| m.machine_id).collect(),
                    answer: answer.kind.as_str().into(),
                    date: answer.date,
                    detail,
                    comment: answer.comment.clone(),
                    by: by.to_string(),
                    via: via.into(),
                },
                now,
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        Some(s.parse().expect("date"))
    }

    #[test]
    fn extended_support_covers_machines_until_the_earliest_end_and_not_at_all_when_one_has_none() {
        assert_eq!(
            common_esu_end([d("2028-10-10"), d("2026-10-13")]),
            d("2026-10-13")
        );
        assert_eq!(common_esu_end([d("2028-10-10"), None]), None);
        assert_eq!(common_esu_end([None, d("2028-10-10")]), None);
        assert_eq!(common_esu_end([]), None);
    }
}
