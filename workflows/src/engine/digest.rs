//! Composing one person's digest: its signed answer links and chat
//! buttons, the rendered message, and where it is sent (its route).

use chrono::{DateTime, Utc};
use sha2::Digest as _;

use crate::answer::AnswerKind;
use crate::plan::{Addressee, DigestMachine};
use crate::render::{AnswerLink, CampaignContext, DigestContext, MachineContext, answer_label};
use crate::spec::{CampaignKind, CampaignSpec};
use crate::token::Claims;

use super::states::{ChannelKind, RecipientKey};
use super::{Campaign, Engine, EngineError, hex};

/// The answers "apply to all" offers: those every one of the machines
/// offers, in the campaign's order.
fn common_answers(c: &Campaign, machines: &[DigestMachine]) -> Vec<AnswerKind> {
    c.spec
        .answers()
        .iter()
        .copied()
        .filter(|a| machines.iter().all(|m| m.answers.contains(a)))
        .collect()
}

/// Where a message to a person goes: channel, address, fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `email`, `matrix` or `mattermost`.
    pub channel: String,
    /// The person's address there.
    pub address: String,
    /// Email, when the channel is a chat and the person has an address.
    pub fallback: Option<(String, String)>,
}

/// Where messages to `person` go given the site's chat channels (in order
/// of preference): the first one they have an address on, with email as the
/// fallback; else email; `None` when they cannot be reached at all.
pub(crate) fn route_for(chat_channels: &[String], person: &Addressee) -> Option<Route> {
    let email = person.email.clone();
    for channel in chat_channels {
        let address = match ChannelKind::parse(channel) {
            Some(ChannelKind::Matrix) => person.matrix_id.clone(),
            Some(ChannelKind::Mattermost) => person.mattermost_username.clone(),
            Some(ChannelKind::Email) | None => None,
        };
        if let Some(address) = address.filter(|a| !a.trim().is_empty()) {
            return Some(Route {
                channel: channel.clone(),
                address,
                fallback: email.map(|e| (ChannelKind::Email.as_str().to_string(), e)),
            });
        }
    }
    email.map(|address| Route {
        channel: ChannelKind::Email.as_str().into(),
        address,
        fallback: None,
    })
}

/// One campaign's part of a digest being rendered: who is asked (the
/// person, or their group) about which machines.
#[derive(Debug, Clone, Copy)]
pub(super) struct Part<'a> {
    /// The campaign.
    pub campaign: &'a Campaign,
    /// The recipient key asked (a login or `group:NAME`).
    pub recipient: &'a str,
    /// The machines, as the digest shows them.
    pub machines: &'a [DigestMachine],
}

impl Engine {
    pub(super) fn expiry(&self, spec: &CampaignSpec) -> DateTime<Utc> {
        let last = winventory_core::domain::days_after(spec.deadline, self.config.link_grace_days);
        last.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc()
    }

    /// Signed tokens for each answer, for one machine or (`m` is `None`)
    /// all the machines of the campaign that `message` (its outbox key)
    /// lists.
    pub(super) fn tokens(
        &self,
        c: &Campaign,
        recipient: &str,
        person: &str,
        m: Option<&DigestMachine>,
        message: &str,
        answers: &[AnswerKind],
    ) -> Result<Vec<(AnswerKind, String)>, EngineError> {
        let signer = self.signer.as_ref().ok_or(EngineError::NoKeys)?;
        let expires = self.expiry(&c.spec);
        Ok(answers
            .iter()
            .map(|&answer| {
                let token = signer.sign(&Claims {
                    campaign: c.row.id,
                    recipient: recipient.to_string(),
                    person: person.to_string(),
                    machine: m.map(|m| m.machine_id),
                    message: m.is_none().then(|| message.to_string()),
                    answer,
                    expires,
                });
                (answer, token)
            })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn links(
        &self,
        c: &Campaign,
        recipient: &str,
        person: &str,
        m: Option<&DigestMachine>,
        message: &str,
        answers: &[AnswerKind],
        lang: &str,
    ) -> Result<Vec<AnswerLink>, EngineError> {
        let base = self.config.base_url.trim_end_matches('/');
        Ok(self
            .tokens(c, recipient, person, m, message, answers)?
            .into_iter()
            .map(|(answer, token)| AnswerLink {
                answer,
                label: answer_label(answer, lang).to_string(),
                url: format!("{base}/answer/{token}"),
            })
            .collect())
    }

    /// The buttons of one person's digest, for chats that have buttons:
    /// each machine with the answers it offers, and the answers all of a
    /// campaign's machines offer, each with its signed token.
    pub(super) fn buttons(
        &self,
        person: &Addressee,
        sections: &[Part<'_>],
        message: &str,
    ) -> Result<crate::buttons::Buttons, EngineError> {
        use crate::buttons::{Button, Buttons, MachineButtons, Section, needs_fields};
        let lang = crate::render::language(&person.language);
        let to_buttons = |tokens: Vec<(AnswerKind, String)>| -> Vec<Button> {
            tokens
                .into_iter()
                .map(|(answer, token)| Button {
                    answer: answer.as_str().to_string(),
                    label: answer_label(answer, lang).to_string(),
                    token,
                    fields: needs_fields(answer),
                })
                .collect()
        };
        let mut out = Buttons::default();
        for &Part {
            campaign: c,
            recipient,
            machines,
        } in sections
        {
            let rows = machines
                .iter()
                .map(|m| {
                    let summary = match &m.application {
                        Some(app) => match m.last_used {
                            Some(d) => format!("{app}, last used {d}"),
                            None => app.clone(),
                        },
                        None => match (&m.cycle, m.eol) {
                            (Some(cy), Some(eol)) => format!("{cy}, end of life {eol}"),
                            (Some(cy), None) => cy.clone(),
                            _ => m.os.clone(),
                        },
                    };
                    Ok(MachineButtons {
                        machine_id: m.machine_id,
                        host: m.hostname.clone(),
                        summary,
                        buttons: to_buttons(self.tokens(
                            c,
                            recipient,
                            &person.login,
                            Some(m),
                            message,
                            &m.answers,
                        )?),
                    })
                })
                .collect::<Result<Vec<_>, EngineError>>()?;
            let common = common_answers(c, machines);
            let all = if machines.len() > 1 {
                to_buttons(self.tokens(c, recipient, &person.login, None, message, &common)?)
            } else {
                Vec::new()
            };
            out.sections.push(Section {
                campaign: c.row.id,
                recipient: recipient.to_string(),
                title: c.spec.title_in(lang).to_string(),
                machines: rows,
                all,
            });
        }
        Ok(out)
    }

    /// Render one person's digest over sections of (campaign, recipient key,
    /// machines), to be queued as `message` (its outbox key, which its
    /// answers for all machines name).
    pub(super) fn render_digest(
        &self,
        person: &Addressee,
        sections: &[Part<'_>],
        reminder: bool,
        channel: &str,
        message: &str,
    ) -> Result<crate::render::Rendered, EngineError> {
        let lang = crate::render::language(&person.language);
        let mut campaigns = Vec::new();
        let mut count = 0;
        let mut expires: Option<DateTime<Utc>> = None;
        for &Part {
            campaign: c,
            recipient,
            machines,
        } in sections
        {
            count += machines.len();
            let e = self.expiry(&c.spec);
            expires = Some(expires.map_or(e, |x| x.min(e)));
            let rows = machines
                .iter()
                .map(|m| {
                    Ok(MachineContext {
                        hostname: m.hostname.clone(),
                        os: m.os.clone(),
                        cycle: m.cycle.clone(),
                        eol: m.eol.map(|d| d.to_string()),
                        application: m.application.clone(),
                        reopened: m.reopened.clone(),
                        last_used: m.last_used.map(|d| d.to_string()),
                        passed_on_by: m.passed_on_by.clone(),
                        links: self.links(
                            c,
                            recipient,
                            &person.login,
                            Some(m),
                            message,
                            &m.answers,
                            lang,
                        )?,
                    })
                })
                .collect::<Result<Vec<_>, EngineError>>()?;
            let all_links = if machines.len() > 1 {
                let common = common_answers(c, machines);
                self.links(c, recipient, &person.login, None, message, &common, lang)?
            } else {
                Vec::new()
            };
            let key = RecipientKey::parse(recipient);
            campaigns.push(CampaignContext {
                name: c.row.name.clone(),
                title: c.spec.title_in(lang).to_string(),
                description: c.spec.description_in(lang).to_string(),
                kind: c.spec.kind.as_str().into(),
                applications: c.spec.target.applications.join(", "),
                deadline: c.spec.deadline.to_string(),
                group: key.group().map(str::to_string),
                // The fallback group (no known owner, or none who answers), or
                // the owner's group an unanswered machine was escalated to.
                fallback: key == RecipientKey::Group(&c.spec.fallback_group),
                machines: rows,
                all_links,
            });
        }
        let first = sections.first();
        let me_url = match (&self.signer, expires) {
            (Some(signer), Some(until)) if !person.login.is_empty() => Some(format!(
                "{}/me/link/{}",
                self.config.base_url.trim_end_matches('/'),
                signer.sign_personal(&person.login, until)
            )),
            _ => None,
        };
        let ctx = DigestContext {
            me_url,
            channel: channel.to_string(),
            person: person.clone(),
            campaigns,
            machines: count,
            reminder,
            licence_only: sections
                .iter()
                .all(|p| p.campaign.spec.kind == CampaignKind::Licence),
            expires: expires
                .map(|e| e.date_naive().to_string())
                .unwrap_or_default(),
            example: first
                .and_then(|p| p.machines.first())
                .map(|m| m.hostname.clone())
                .unwrap_or_default(),
            example_date: first
                .map(|p| p.campaign.spec.deadline.to_string())
                .unwrap_or_default(),
        };
        let base = if ChannelKind::parse(channel) == Some(ChannelKind::Email) {
            first.map_or("digest", |p| p.campaign.spec.templates.digest.as_str())
        } else {
            crate::render::CHAT_DIGEST
        };
        Ok(self.templates.digest(base, lang, &ctx)?)
    }

    /// Where messages to `person` go at this site: the first configured chat
    /// channel they have an address on (email as the fallback), else email;
    /// `None` when they cannot be reached at all.
    pub fn route(&self, person: &Addressee) -> Option<Route> {
        route_for(&self.config.chat_channels, person)
    }

    pub(super) fn message_id(&self, key: &str) -> String {
        let h = sha2::Sha256::digest(key.as_bytes());
        format!("<{}@{}>", hex(&h[..16]), self.config.message_domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(email: Option<&str>, matrix: Option<&str>, mattermost: Option<&str>) -> Addressee {
        Addressee {
            login: "jdoe".into(),
            name: "J. Doe".into(),
            email: email.map(str::to_string),
            matrix_id: matrix.map(str::to_string),
            mattermost_username: mattermost.map(str::to_string),
            language: "en".into(),
            time_zone: None,
        }
    }

    fn chats(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_person_is_written_to_on_the_first_chat_they_have_an_address_on_with_email_as_the_fallback()
    {
        let p = person(
            Some("jdoe@example.org"),
            Some("@jdoe:example.org"),
            Some("jdoe"),
        );
        let r = route_for(&chats(&["mattermost", "matrix"]), &p).expect("reachable");
        assert_eq!(
            r,
            Route {
                channel: "mattermost".into(),
                address: "jdoe".into(),
                fallback: Some(("email".into(), "jdoe@example.org".into())),
            }
        );
        let r = route_for(&chats(&["matrix", "mattermost"]), &p).expect("reachable");
        assert_eq!(
            (r.channel.as_str(), r.address.as_str()),
            ("matrix", "@jdoe:example.org")
        );
    }

    #[test]
    fn a_blank_chat_address_or_a_chat_the_site_does_not_use_leaves_email() {
        let p = person(Some("jdoe@example.org"), Some("  "), Some("jdoe"));
        let r = route_for(&chats(&["matrix"]), &p).expect("reachable");
        assert_eq!(
            r,
            Route {
                channel: "email".into(),
                address: "jdoe@example.org".into(),
                fallback: None,
            }
        );
    }

    #[test]
    fn someone_with_a_chat_address_and_no_email_has_no_fallback_and_someone_with_neither_is_unreachable()
     {
        let r = route_for(&chats(&["matrix"]), &person(None, Some("@j:x"), None)).expect("chat");
        assert_eq!(r.fallback, None);
        assert_eq!(
            route_for(&chats(&["matrix"]), &person(None, None, Some("j"))),
            None
        );
    }
}
