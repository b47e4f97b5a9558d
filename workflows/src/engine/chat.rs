//! Chat answers: what a person typed or voted in a chat, recorded for one
//! of their machines by name or for all the machines a message listed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignMachine, CampaignState, MessageRef};

use crate::answer::{Answer, AnswerKind};

use super::states::{MachineState, RecipientKey};
use super::{Campaign, Engine, EngineError, LinkError};

/// What a chat answer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatAnswer {
    /// Machines the answer was recorded for.
    pub recorded: Vec<String>,
    /// The person's machines still waiting for an answer.
    pub still_open: Vec<String>,
    /// The answer as recorded ("remove" is a machine's decommissioning or a
    /// program's removal, by campaign).
    pub kind: Option<AnswerKind>,
}

/// Why a chat answer was not recorded, in words for the person.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The answer is not one the machine's campaign offers.
    #[error("{answer:?} is not an answer to {what}; answer with one of: {offered}")]
    NotOffered {
        /// The answer given.
        answer: String,
        /// The machines it was meant for.
        what: String,
        /// What their campaigns offer.
        offered: String,
    },
    /// The machine is not among the person's open ones.
    #[error("{host} is not among the machines I asked you about{}", if open.is_empty() { String::from(" (you have none open)") } else { format!(": {}", open.join(", ")) })]
    NotYours {
        /// What was typed.
        host: String,
        /// The person's open machines.
        open: Vec<String>,
    },
    /// "All" names no list: no message listing machines was sent to the
    /// person in this chat (or the poll's message is not known).
    #[error(
        "I have not sent you a list of machines here that \"all\" could answer for; answer each machine by name (for example: PC042 upgrade by 2027-03-01), or type mine to see them"
    )]
    NoList,
    /// Nothing of the list "all" answers for is left to answer.
    #[error("nothing is left to answer among the machines of my latest message{}", if open.is_empty() { String::new() } else { format!("; still waiting for an answer, by name: {}", open.join(", ")) })]
    NothingListed {
        /// The person's machines still open (not in that message).
        open: Vec<String>,
    },
    /// The answer is incomplete or invalid, or storage failed.
    #[error(transparent)]
    Answer(#[from] LinkError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Engine {
    /// The machines of running campaigns a person is asked about now (as
    /// themselves or as a member of the group asked), not yet resolved.
    pub async fn open_machines_of(
        &self,
        login: &str,
    ) -> Result<Vec<(Campaign, Vec<CampaignMachine>)>, EngineError> {
        let groups: Vec<String> = self
            .store
            .groups_of(login)
            .await?
            .into_iter()
            .map(|g| RecipientKey::Group(&g).to_string())
            .collect();
        let mut out = Vec::new();
        for row in self.store.campaigns().await? {
            if row.state != CampaignState::Running {
                continue;
            }
            let c = self.campaign(&row.id.to_string()).await?;
            let mine: Vec<CampaignMachine> = self
                .store
                .campaign_machines(row.id)
                .await?
                .into_iter()
                .filter(|m| MachineState::of(m) != MachineState::Resolved)
                .filter(|m| m.recipient == login || groups.contains(&m.recipient))
                .collect();
            if !mine.is_empty() {
                out.push((c, mine));
            }
        }
        Ok(out)
    }

    /// Record an answer a person typed in chat (see [`crate::reply`]) for
    /// one of their machines, across their running campaigns, or for all
    /// the machines of the latest digest sent to them in that chat (`via`):
    /// "all" never covers a machine they have not been shown there. Returns
    /// what was recorded and what is still open.
    pub async fn answer_chat(
        &self,
        login: &str,
        via: &str,
        target: &crate::reply::Target,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let listed = match target {
            crate::reply::Target::All => Some(
                self.store
                    .listed_message(MessageRef::LatestSent {
                        recipient: login,
                        channel: via,
                    })
                    .await
                    .map_err(EngineError::from)?,
            ),
            crate::reply::Target::Host(_) => None,
        };
        self.answer_among(login, via, target, listed, answer, now)
            .await
    }

    /// Record a vote in a chat's poll (`poll`: the id the chat server gave
    /// it) for all the machines of the message the poll follows, when that
    /// message was sent to `login`.
    pub async fn answer_poll(
        &self,
        login: &str,
        via: &str,
        poll: &str,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let listed = self
            .store
            .listed_message(MessageRef::Remote {
                channel: via,
                id: poll,
            })
            .await
            .map_err(EngineError::from)?
            .filter(|m| m.recipient == login);
        self.answer_among(
            login,
            via,
            &crate::reply::Target::All,
            Some(listed),
            answer,
            now,
        )
        .await
    }

    /// Record a chat answer for one machine by name, or (`listed` is
    /// `Some`) all the machines a message listed that are still the
    /// person's to answer.
    pub(super) async fn answer_among(
        &self,
        login: &str,
        via: &str,
        target: &crate::reply::Target,
        listed: Option<Option<winventory_core::store::ListedMessage>>,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let listed = match listed {
            None => None,
            Some(Some(l)) if !l.machines.is_empty() => Some(l.machines),
            Some(_) => return Err(ChatError::NoList),
        };
        let campaigns = self.open_machines_of(login).await?;
        let wanted = match target {
            crate::reply::Target::All => None,
            crate::reply::Target::Host(h) => {
                Some(winventory_core::HostKey::new(h).as_str().to_string())
            }
        };
        let mut out = ChatAnswer::default();
        let mut any = false;
        let mut refused: Vec<&Campaign> = Vec::new();
        for (c, machines) in &campaigns {
            let chosen: Vec<CampaignMachine> = machines
                .iter()
                .filter(|m| wanted.as_ref().is_none_or(|w| *w == m.host_key))
                .filter(|m| {
                    listed
                        .as_ref()
                        .is_none_or(|l| l.binary_search(&(m.campaign_id, m.machine_id)).is_ok())
                })
                .cloned()
                .collect();
            if chosen.is_empty() {
                continue;
            }
            // "remove" means the machine in one campaign, the program in
            // another; an answer no campaign of these machines offers is
            // not recorded ("all keep" leaves end-of-life machines alone).
            let offered = c.spec.answers();
            let kind = answer.kind.among(offered);
            if !offered.contains(&kind) {
                refused.push(c);
                continue;
            }
            any = true;
            out.kind = Some(kind);
            let answer = Answer {
                kind,
                ..answer.clone()
            };
            self.record(c.row.id, &chosen, answer, login, via, now)
                .await?;
            out.recorded
                .extend(chosen.iter().map(|m| m.host_key.clone()));
        }
        if !any && !refused.is_empty() {
            let mut offered: Vec<&str> = refused
                .iter()
                .flat_map(|c| c.spec.answers().iter().map(|k| k.as_str()))
                .collect();
            offered.sort_unstable();
            offered.dedup();
            return Err(ChatError::NotOffered {
                answer: answer.kind.as_str().into(),
                what: match target {
                    crate::reply::Target::All => "your machines".into(),
                    crate::reply::Target::Host(h) => h.clone(),
                },
                offered: offered.join(", "),
            });
        }
        if !any {
            let mut open: Vec<String> = campaigns
                .iter()
                .flat_map(|(_, ms)| ms.iter().map(|m| m.host_key.clone()))
                .collect();
            open.sort();
            open.dedup();
            if listed.is_some() {
                return Err(ChatError::NothingListed { open });
            }
            return Err(ChatError::NotYours {
                host: match target {
                    crate::reply::Target::All => "all".into(),
                    crate::reply::Target::Host(h) => h.clone(),
                },
                open,
            });
        }
        // Open before this answer, and not answered by it.
        out.still_open = campaigns
            .iter()
            .flat_map(|(_, ms)| ms.iter())
            .filter(|m| {
                MachineState::of(m) == MachineState::Open && !out.recorded.contains(&m.host_key)
            })
            .map(|m| m.host_key.clone())
            .collect();
        // A machine asked about in two campaigns is named once.
        out.recorded.sort();
        out.recorded.dedup();
        out.still_open.sort();
        out.still_open.dedup();
        Ok(out)
    }
}
