//! Chat answers: what a person typed or voted in a chat, recorded for one
//! of their machines by name or for all the machines a message listed.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignMachine, CampaignState, MessageRef};

use crate::answer::{Answer, AnswerKind};
use crate::reply::Target;

use super::states::{MachineState, RecipientKey};
use super::{Campaign, Engine, EngineError, LinkError};

/// What a chat answer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatAnswer {
    /// Machines the answer was recorded for (hostnames as last reported).
    pub recorded: Vec<String>,
    /// The person's machines still waiting for an answer (hostnames as
    /// last reported).
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

/// What a chat answer records in one campaign.
#[derive(Debug, Clone)]
pub(crate) struct ChatRecord<'a> {
    /// The campaign.
    pub campaign: &'a Campaign,
    /// The answer, as this campaign offers it ("remove" is a machine's
    /// decommissioning or a program's removal).
    pub kind: AnswerKind,
    /// The machines it covers.
    pub machines: Vec<CampaignMachine>,
}

/// Which of a person's open machines (`campaigns`, from
/// [`Engine::open_machines_of`]) a chat answer of `kind` covers, and as
/// what: the machine named, or (`listed`) those a message listed. An answer
/// no campaign of those machines offers is not recorded ("all keep" leaves
/// end-of-life machines alone). The error says why nothing would be.
pub(crate) fn choose<'a>(
    campaigns: &'a [(Campaign, Vec<CampaignMachine>)],
    target: &Target,
    listed: Option<&[(i64, i64)]>,
    kind: AnswerKind,
) -> Result<Vec<ChatRecord<'a>>, ChatError> {
    let wanted = match target {
        Target::All => None,
        Target::Host(h) => Some(winventory_core::HostKey::new(h).as_str().to_string()),
    };
    let mut records = Vec::new();
    let mut refused: Vec<&Campaign> = Vec::new();
    for (c, machines) in campaigns {
        let chosen: Vec<CampaignMachine> = machines
            .iter()
            .filter(|m| wanted.as_ref().is_none_or(|w| *w == m.host_key))
            .filter(|m| {
                listed.is_none_or(|l| l.binary_search(&(m.campaign_id, m.machine_id)).is_ok())
            })
            .cloned()
            .collect();
        if chosen.is_empty() {
            continue;
        }
        let offered = c.spec.answers();
        let kind = kind.among(offered);
        if !offered.contains(&kind) {
            refused.push(c);
            continue;
        }
        records.push(ChatRecord {
            campaign: c,
            kind,
            machines: chosen,
        });
    }
    if !records.is_empty() {
        return Ok(records);
    }
    if !refused.is_empty() {
        let mut offered: Vec<&str> = refused
            .iter()
            .flat_map(|c| c.spec.answers().iter().map(|k| k.as_str()))
            .collect();
        offered.sort_unstable();
        offered.dedup();
        return Err(ChatError::NotOffered {
            answer: kind.as_str().into(),
            what: match target {
                Target::All => "your machines".into(),
                Target::Host(h) => h.clone(),
            },
            offered: offered.join(", "),
        });
    }
    let open = names(campaigns.iter().flat_map(|(_, ms)| ms));
    if listed.is_some() {
        return Err(ChatError::NothingListed { open });
    }
    Err(ChatError::NotYours {
        host: match target {
            Target::All => "all".into(),
            Target::Host(h) => h.clone(),
        },
        open,
    })
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
            // By recipient (an index look-up each), not every machine of
            // the campaign filtered here.
            let mut mine: Vec<CampaignMachine> = Vec::new();
            for recipient in std::iter::once(login).chain(groups.iter().map(String::as_str)) {
                mine.extend(
                    self.store
                        .campaign_machines_of(row.id, recipient)
                        .await?
                        .into_iter()
                        .filter(|m| MachineState::of(m) != MachineState::Resolved),
                );
            }
            mine.sort_by(|a, b| a.host_key.cmp(&b.host_key));
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
        target: &Target,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let listed = match target {
            Target::All => Some(
                self.store
                    .listed_message(MessageRef::LatestSent {
                        recipient: login,
                        channel: via,
                    })
                    .await
                    .map_err(EngineError::from)?,
            ),
            Target::Host(_) => None,
        };
        self.answer_among(login, via, target, None, listed, answer, now)
            .await
    }

    /// Record a person's answer for one machine in one campaign (a form of
    /// the web page "my machines", one per campaign and machine): only
    /// that campaign's question is answered, where chat's `HOST answer`
    /// answers every campaign asking about the host.
    pub async fn answer_in_campaign(
        &self,
        login: &str,
        via: &str,
        campaign: &str,
        host: &str,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let target = Target::Host(host.to_string());
        self.answer_among(login, via, &target, Some(campaign), None, answer, now)
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
        self.answer_among(login, via, &Target::All, None, Some(listed), answer, now)
            .await
    }

    /// Record a chat answer for one machine by name, or (`listed` is
    /// `Some`) all the machines a message listed that are still the
    /// person's to answer.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn answer_among(
        &self,
        login: &str,
        via: &str,
        target: &Target,
        campaign: Option<&str>,
        listed: Option<Option<winventory_core::store::ListedMessage>>,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<ChatAnswer, ChatError> {
        let listed = match listed {
            None => None,
            Some(Some(l)) if !l.machines.is_empty() => Some(l.machines),
            Some(_) => return Err(ChatError::NoList),
        };
        let mut campaigns = self.open_machines_of(login).await?;
        if let Some(name) = campaign {
            campaigns.retain(|(c, _)| c.row.name == name);
        }
        let records = choose(&campaigns, target, listed.as_deref(), answer.kind)?;
        let mut out = ChatAnswer::default();
        let mut recorded: HashSet<i64> = HashSet::new();
        for r in records {
            out.kind = Some(r.kind);
            let answer = Answer {
                kind: r.kind,
                ..answer.clone()
            };
            self.record(r.campaign.row.id, &r.machines, answer, login, via, now)
                .await?;
            recorded.extend(r.machines.iter().map(|m| m.machine_id));
        }
        let all = campaigns.iter().flat_map(|(_, ms)| ms);
        out.recorded = names(all.clone().filter(|m| recorded.contains(&m.machine_id)));
        // Open before this answer, and not answered by it.
        out.still_open = names(all.filter(|m| {
            MachineState::of(m) == MachineState::Open && !recorded.contains(&m.machine_id)
        }));
        Ok(out)
    }
}

/// The machines' hostnames as last reported, for people: sorted by host
/// key, a machine asked about in two campaigns named once.
fn names<'a>(machines: impl Iterator<Item = &'a CampaignMachine>) -> Vec<String> {
    let mut by_key: Vec<(&str, &str)> = machines
        .map(|m| (m.host_key.as_str(), m.hostname.as_str()))
        .collect();
    by_key.sort_unstable();
    by_key.dedup_by_key(|(k, _)| *k);
    by_key.into_iter().map(|(_, h)| h.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use winventory_core::store::CampaignRow;

    use super::*;
    use crate::spec::CampaignSpec;

    /// Campaign `id`: an end-of-life one, or a licence one (MATLAB).
    fn campaign(id: i64, licence: bool) -> Campaign {
        let (kind, target) = if licence {
            ("licence", r#"applications = ["MATLAB"]"#)
        } else {
            (
                "eol",
                r#"os = [{ product = "windows-server", cycles = ["2012-r2"] }]"#,
            )
        };
        let text = format!(
            "name = \"c{id}\"\nkind = \"{kind}\"\ntitle = \"T\"\ndeadline = \"2027-03-31\"\nfallback_group = \"it-desk\"\n\n[target]\n{target}\n"
        );
        let spec = CampaignSpec::parse(&text).expect("spec");
        let schedule = spec.schedule().expect("schedule");
        Campaign {
            row: CampaignRow {
                id,
                name: spec.name.clone(),
                kind: kind.into(),
                state: CampaignState::Running,
                spec: text,
                created_at: DateTime::default(),
                started_at: None,
                closed_at: None,
            },
            spec,
            schedule,
        }
    }

    fn machine(campaign: i64, id: i64, host: &str) -> CampaignMachine {
        CampaignMachine {
            campaign_id: campaign,
            machine_id: id,
            host_key: host.to_lowercase(),
            hostname: host.into(),
            recipient: "jdoe".into(),
            state: "open".into(),
            answer: None,
            answer_date: None,
            answer_detail: None,
            answered_by: None,
            answered_at: None,
            resolution: None,
            messages: 1,
            reminders: 0,
            escalation: 0,
            last_messaged: None,
            exception_state: None,
            exception_decided_by: None,
            exception_note: None,
            transfer_from: None,
            resolved_at: None,
        }
    }

    /// jdoe's open machines: pc1 and pc2 in an end-of-life campaign, pc2
    /// and pc3 in a licence campaign.
    fn site() -> Vec<(Campaign, Vec<CampaignMachine>)> {
        vec![
            (
                campaign(1, false),
                vec![machine(1, 11, "pc1"), machine(1, 12, "pc2")],
            ),
            (
                campaign(2, true),
                vec![machine(2, 12, "pc2"), machine(2, 13, "pc3")],
            ),
        ]
    }

    fn hosts<'a>(r: &'a ChatRecord) -> Vec<&'a str> {
        r.machines.iter().map(|m| m.host_key.as_str()).collect()
    }

    #[test]
    fn remove_means_decommissioning_a_machine_and_removing_a_program_in_each_campaign() {
        let site = site();
        let records =
            choose(&site, &Target::Host("PC2".into()), None, AnswerKind::Remove).expect("recorded");
        let got: Vec<(i64, AnswerKind, Vec<&str>)> = records
            .iter()
            .map(|r| (r.campaign.row.id, r.kind, hosts(r)))
            .collect();
        assert_eq!(
            got,
            [
                (1, AnswerKind::Decommission, vec!["pc2"]),
                (2, AnswerKind::Remove, vec!["pc2"]),
            ]
        );
    }

    #[test]
    fn all_covers_only_the_machines_the_message_listed() {
        let site = site();
        let listed = [(1, 12), (2, 13)];
        let records =
            choose(&site, &Target::All, Some(&listed), AnswerKind::NotMine).expect("recorded");
        let got: Vec<Vec<&str>> = records.iter().map(hosts).collect();
        assert_eq!(got, [vec!["pc2"], vec!["pc3"]]);
    }

    #[test]
    fn an_answer_no_campaign_of_the_machine_offers_is_refused_with_what_they_offer() {
        let site = site();
        let e = choose(
            &site,
            &Target::Host("pc3".into()),
            None,
            AnswerKind::Upgrade,
        )
        .expect_err("a program is not upgraded");
        match e {
            ChatError::NotOffered {
                answer,
                what,
                offered,
            } => {
                assert_eq!((answer.as_str(), what.as_str()), ("upgrade", "pc3"));
                assert!(offered.contains("uninstall"), "{offered}");
            }
            other => panic!("{other:?}"),
        }
        // "all keep": the licence campaign keeps, the end-of-life one is left alone.
        let records = choose(&site, &Target::All, None, AnswerKind::Keep).expect("recorded");
        assert_eq!(
            records
                .iter()
                .map(|r| r.campaign.row.id)
                .collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn a_machine_not_asked_of_the_person_or_an_empty_list_says_what_is_open() {
        let site = site();
        match choose(&site, &Target::Host("srv9".into()), None, AnswerKind::Keep) {
            Err(ChatError::NotYours { host, open }) => {
                assert_eq!(host, "srv9");
                assert_eq!(open, ["pc1", "pc2", "pc3"]);
            }
            other => panic!("{other:?}"),
        }
        match choose(&site, &Target::All, Some(&[(3, 99)]), AnswerKind::Keep) {
            Err(ChatError::NothingListed { open }) => assert_eq!(open, ["pc1", "pc2", "pc3"]),
            other => panic!("{other:?}"),
        }
    }
}
