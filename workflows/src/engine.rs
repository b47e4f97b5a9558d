//! The campaign engine: creating campaigns from their files, previewing and
//! test-sending them, starting them, planning each wave of digests into the
//! outbox (one message per person per day, merging all of their running
//! campaigns; reminders on the campaign's schedule in the person's time
//! zone, never in quiet hours), and recording answers from signed links.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Timelike as _, Utc};
use minijinja::context;
use serde::Serialize;
use sha2::Digest as _;
use winventory_core::store::{
    AnswerRecord, CampaignMachine, CampaignRow, CampaignState, MachineRow, MessageRef, NewMessage,
    NewTarget, Store, StoreError,
};
use winventory_core::{AsOf, Catalog, User};

use crate::answer::{Answer, AnswerError, AnswerKind};
use crate::plan::{
    Addressee, DigestMachine, Holdings, Scope, load_holdings, load_matching, load_targets,
    recipient_key, unknown_targets,
};
use crate::render::{AnswerLink, RenderError, Templates, answer_label};
use crate::spec::{CampaignKind, CampaignSpec, SpecError, is_quiet};
use crate::token::{Claims, Signer, TokenError};

/// What can go wrong in the engine, in words for an admin.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The campaign file is wrong.
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// A template failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// No such campaign.
    #[error("no campaign {0:?}; `winventory campaign list` shows them")]
    NoCampaign(String),
    /// A campaign with that name exists.
    #[error("a campaign named {0:?} exists already; choose another name")]
    NameTaken(String),
    /// The operation does not fit the campaign's state.
    #[error("campaign {name} is {state}: {what}")]
    State {
        /// Campaign name.
        name: String,
        /// Its state.
        state: &'static str,
        /// What cannot be done and what to do instead.
        what: String,
    },
    /// A stored spec no longer parses (a newer version changed the format).
    #[error("the stored definition of campaign {0} is invalid: {1}")]
    StoredSpec(String, SpecError),
    /// Writing preview files failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// No link signing keys are configured.
    #[error(
        "no answer-link signing keys are configured: set WINVENTORY_LINK_KEYS (or link_keys in the configuration file) to id:secret with a secret of at least 32 characters"
    )]
    NoKeys,
    /// The person to test-send to has no email address.
    #[error("{0} has no email address in the directory; import it with `winventory users import`")]
    NoAddress(String),
}

/// How the engine is set up at this site.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Public base URL of the answer pages (`https://winventory.example.org`).
    pub base_url: String,
    /// Domain of Message-IDs (`winventory.example.org`).
    pub message_domain: String,
    /// Days a report stays fresh.
    pub freshness_days: u32,
    /// Days after the deadline that links keep working (the campaign's
    /// closing ends them earlier).
    pub link_grace_days: i64,
    /// Chat channels this site delivers through (`matrix`, `mattermost`), in
    /// order of preference: a person with an address on one of them is
    /// written to there, with email as the fallback; everyone else by email.
    pub chat_channels: Vec<String>,
}

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

/// The campaign engine.
#[derive(Clone)]
pub struct Engine {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The lifecycle catalog.
    pub catalog: Arc<Catalog>,
    /// Templates.
    pub templates: Arc<Templates>,
    /// Link signing keys (needed to render messages and check links).
    pub signer: Option<Arc<Signer>>,
    /// Settings.
    pub config: EngineConfig,
    /// The site's licences, when it has a licence file.
    pub licences: Option<Arc<winventory_core::licence::LicenceBook>>,
    /// Campaign titles by id, read from their definitions once (a
    /// definition never changes), so a click does not parse TOML.
    pub titles: TitleCache,
}

/// Campaign titles by id; see [`Engine::titles`]. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct TitleCache(Arc<std::sync::RwLock<HashMap<i64, String>>>);

impl TitleCache {
    fn get(&self, id: i64) -> Option<String> {
        self.0.read().ok()?.get(&id).cloned()
    }

    fn put(&self, id: i64, title: &str) {
        if let Ok(mut map) = self.0.write() {
            map.insert(id, title.to_string());
        }
    }
}

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

/// A campaign with its parsed definition.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The stored row.
    pub row: CampaignRow,
    /// Its definition.
    pub spec: CampaignSpec,
}

/// What `campaign preview` produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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

/// What a wave queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WaveSummary {
    /// Machines added to running campaigns (targets that appeared).
    pub machines_added: u64,
    /// Messages newly queued.
    pub queued: u64,
    /// People skipped for now (quiet hours, or already written to today).
    pub deferred: usize,
    /// People who could not be reached (no address on any channel).
    pub unreachable: Vec<String>,
    /// Machines resolved by what they now report.
    pub resolved: u64,
    /// Answers the data contradicts after their date, asked again.
    pub reopened: u64,
    /// Machines escalated one step (or straight to the fallback group when
    /// their person's email failed for good).
    pub escalated: u64,
    /// Machines handed to the person an owner named with "not mine".
    pub rerouted: u64,
}

/// Campaign progress for `campaign status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Campaign name.
    pub campaign: String,
    /// State.
    pub state: String,
    /// Deadline.
    pub deadline: String,
    /// Days left until the deadline (negative when past).
    pub days_left: i64,
    /// Target machines.
    pub targets: usize,
    /// Listed in at least one message.
    pub messaged: usize,
    /// Answered (not yet resolved), by answer kind.
    pub answered: BTreeMap<String, usize>,
    /// Resolved.
    pub resolved: usize,
    /// Still open past the deadline.
    pub overdue: usize,
    /// Escalated at least once.
    pub escalated: usize,
    /// Open (no answer yet).
    pub open: usize,
    /// Share of targets answered or resolved, 0-100.
    pub progress_percent: u32,
}

/// One line of the exception register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRow {
    /// Campaign name.
    pub campaign: String,
    /// Host key.
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

/// The pages' view of a link, for the HTTP edge.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// The claims.
    #[serde(skip)]
    pub claims: Claims,
    /// The campaign's title.
    pub campaign: String,
    /// Hostnames the answer covers.
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
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

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

/// One campaign's part of a digest: recipient key, machines, and their
/// (campaign id, machine id) pairs.
type Section = (String, Vec<DigestMachine>, Vec<(i64, i64)>);

/// Days before an approved exception ends that its owner is asked again.
pub const EXCEPTION_NOTICE_DAYS: i64 = 14;

/// A campaign's quiet hours, reminder schedule and time zone, parsed once a wave.
type ScheduleFacts = (Option<(u32, u32)>, Option<cron::Schedule>, chrono_tz::Tz);

/// A serializable value as a template value.
pub fn ser<T: Serialize>(x: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Engine {
    /// Load a campaign by id or name.
    pub async fn campaign(&self, id_or_name: &str) -> Result<Campaign, EngineError> {
        let row = self
            .store
            .campaign(id_or_name)
            .await?
            .ok_or_else(|| EngineError::NoCampaign(id_or_name.to_string()))?;
        let spec = CampaignSpec::parse(&row.spec)
            .map_err(|e| EngineError::StoredSpec(row.name.clone(), e))?;
        Ok(Campaign { row, spec })
    }

    /// Create a draft campaign from a file's text. Returns it with warnings
    /// (targets the catalog does not know).
    pub async fn create(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, Vec<String>), EngineError> {
        let spec = CampaignSpec::parse(text)?;
        self.templates.check(&spec.templates.digest)?;
        let warnings = unknown_targets(&self.catalog, &spec)
            .into_iter()
            .map(|t| format!("the catalog has no {t}: it will match no machine"))
            .collect();
        let id = self
            .store
            .create_campaign(&spec.name, spec.kind.as_str(), text, now)
            .await?
            .ok_or_else(|| EngineError::NameTaken(spec.name.clone()))?;
        Ok((self.campaign(&id.to_string()).await?, warnings))
    }

    fn state_error(c: &Campaign, what: &str) -> EngineError {
        EngineError::State {
            name: c.row.name.clone(),
            state: c.row.state.as_str(),
            what: what.to_string(),
        }
    }

    /// Change a campaign's state: `start` (from draft or paused), `pause`,
    /// `resume`, `close`. The next [`Engine::tick`] plans what a start or
    /// resume sends.
    pub async fn set_state(
        &self,
        id_or_name: &str,
        to: CampaignState,
        now: DateTime<Utc>,
    ) -> Result<Campaign, EngineError> {
        let c = self.campaign(id_or_name).await?;
        use CampaignState::*;
        let ok = matches!(
            (c.row.state, to),
            (Draft, Running)
                | (Paused, Running)
                | (Running, Paused)
                | (Draft | Running | Paused, Closed)
        );
        if !ok {
            let what = match (c.row.state, to) {
                (Closed, _) => "a closed campaign cannot change; create a new one",
                (Running, Running) => "it is running already",
                (Paused, Paused) => "it is paused already",
                _ => "start it first",
            };
            return Err(Self::state_error(&c, what));
        }
        self.store.set_campaign_state(c.row.id, to, now).await?;
        self.campaign(&c.row.id.to_string()).await
    }

    fn as_of(&self, now: DateTime<Utc>) -> AsOf {
        AsOf::at(now, self.config.freshness_days)
    }

    /// A campaign's target machines as of `now`.
    async fn targets(
        &self,
        spec: &CampaignSpec,
        now: DateTime<Utc>,
    ) -> Result<Vec<MachineRow>, StoreError> {
        load_targets(self.store.as_ref(), &self.catalog, spec, &self.as_of(now)).await
    }

    /// Add the campaign's current targets (new machines that match, within
    /// its limits) to it. Returns how many were added and every machine that
    /// matches (limits aside: what verification judges machines against).
    pub async fn refresh_targets(
        &self,
        c: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<(u64, Vec<MachineRow>), EngineError> {
        let machines = load_matching(
            self.store.as_ref(),
            &self.catalog,
            &c.spec,
            &self.as_of(now),
        )
        .await?;
        let scope = Scope::load(self.store.as_ref(), &c.spec, &self.as_of(now)).await?;
        let targets: Vec<NewTarget> = machines
            .iter()
            .filter(|m| scope.contains(m))
            .map(|m| NewTarget {
                machine_id: m.id,
                host_key: m.hostname.to_lowercase(),
                recipient: recipient_key(m, &c.spec.fallback_group),
            })
            .collect();
        let added = self
            .store
            .add_campaign_machines(c.row.id, &targets, now)
            .await?;
        Ok((added, machines))
    }

    fn expiry(&self, spec: &CampaignSpec) -> DateTime<Utc> {
        let last = spec.deadline + Duration::days(self.config.link_grace_days);
        last.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc()
    }

    /// Signed tokens for each answer, for one machine or (`m` is `None`)
    /// all the machines of the campaign that `message` (its outbox key)
    /// lists.
    fn tokens(
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
    fn links(
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
    fn buttons(
        &self,
        person: &Addressee,
        sections: &[(&Campaign, &str, Vec<DigestMachine>)],
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
        for (c, recipient, machines) in sections {
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
                title: c.spec.title.clone(),
                machines: rows,
                all,
            });
        }
        Ok(out)
    }

    /// Render one person's digest over sections of (campaign, recipient key,
    /// machines), to be queued as `message` (its outbox key, which its
    /// answers for all machines name).
    fn render_digest(
        &self,
        person: &Addressee,
        sections: &[(&Campaign, &str, Vec<DigestMachine>)],
        reminder: bool,
        channel: &str,
        message: &str,
    ) -> Result<crate::render::Rendered, EngineError> {
        let lang = crate::render::language(&person.language);
        let mut campaigns = Vec::new();
        let mut count = 0;
        let mut expires: Option<DateTime<Utc>> = None;
        for (c, recipient, machines) in sections {
            count += machines.len();
            let e = self.expiry(&c.spec);
            expires = Some(expires.map_or(e, |x| x.min(e)));
            let rows = machines
                .iter()
                .map(|m| {
                    Ok(context! {
                        hostname => &m.hostname, os => &m.os, cycle => &m.cycle,
                        eol => m.eol.map(|d| d.to_string()),
                        application => &m.application,
                        reopened => &m.reopened,
                        last_used => m.last_used.map(|d| d.to_string()),
                        passed_on_by => &m.passed_on_by,
                        links => ser(&self.links(c, recipient, &person.login, Some(m), message, &m.answers, lang)?),
                    })
                })
                .collect::<Result<Vec<_>, EngineError>>()?;
            let common = common_answers(c, machines);
            campaigns.push(context! {
                name => &c.row.name, title => &c.spec.title, description => &c.spec.description,
                kind => c.spec.kind.as_str(),
                applications => c.spec.target.applications.join(", "),
                deadline => c.spec.deadline.to_string(),
                group => recipient.strip_prefix("group:"),
                // The fallback group (no known owner, or none who answers), or
                // the owner's group an unanswered machine was escalated to.
                fallback => recipient.strip_prefix("group:") == Some(c.spec.fallback_group.as_str()),
                machines => rows,
                all_links => ser(&if machines.len() > 1 { self.links(c, recipient, &person.login, None, message, &common, lang)? } else { Vec::new() }),
            });
        }
        let first = sections.first();
        let ctx = context! {
            person => ser(person),
            campaigns => campaigns,
            machines => count,
            reminder => reminder,
            channel => channel,
            licence_only => sections.iter().all(|(c, _, _)| c.spec.kind == CampaignKind::Licence),
            expires => expires.map(|e| e.date_naive().to_string()).unwrap_or_default(),
            example => first.and_then(|(_, _, ms)| ms.first()).map(|m| m.hostname.clone()).unwrap_or_default(),
            example_date => first.map(|(c, _, _)| c.spec.deadline.to_string()).unwrap_or_default(),
        };
        let base = if channel == "email" {
            first.map_or("digest", |(c, _, _)| c.spec.templates.digest.as_str())
        } else {
            crate::render::CHAT_DIGEST
        };
        Ok(self.templates.message(base, lang, &ctx)?)
    }

    /// Where messages to `person` go at this site: the first configured chat
    /// channel they have an address on (email as the fallback), else email;
    /// `None` when they cannot be reached at all.
    pub fn route(&self, person: &Addressee) -> Option<Route> {
        let email = person.email.clone();
        for channel in &self.config.chat_channels {
            let address = match channel.as_str() {
                "matrix" => person.matrix_id.clone(),
                "mattermost" => person.mattermost_username.clone(),
                _ => None,
            };
            if let Some(address) = address.filter(|a| !a.trim().is_empty()) {
                return Some(Route {
                    channel: channel.clone(),
                    address,
                    fallback: email.map(|e| ("email".to_string(), e)),
                });
            }
        }
        email.map(|address| Route {
            channel: "email".into(),
            address,
            fallback: None,
        })
    }

    /// Every person in the directory, by login.
    pub async fn directory(&self) -> Result<HashMap<String, User>, EngineError> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(|u| (u.login.clone(), u))
            .collect())
    }

    async fn group_members(
        &self,
        groups: Vec<String>,
    ) -> Result<HashMap<String, Vec<String>>, EngineError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (g, login) in self.store.group_members(&groups).await? {
            out.entry(g).or_default().push(login);
        }
        Ok(out)
    }

    /// The people a recipient key reaches: the person, or a group's members.
    fn people<'a>(recipient: &'a str, groups: &'a HashMap<String, Vec<String>>) -> Vec<&'a str> {
        match recipient.strip_prefix("group:") {
            Some(g) => groups
                .get(g)
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            None => vec![recipient],
        }
    }

    fn machine_view(
        &self,
        c: &Campaign,
        m: &MachineRow,
        now: DateTime<Utc>,
        holdings: &Holdings,
    ) -> DigestMachine {
        crate::plan::digest_machine(&c.spec, &self.catalog, m, now.date_naive(), holdings)
    }

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
            if r.starts_with("group:") {
                summary.machines_without_owner += 1;
            }
            by.entry(r)
                .or_default()
                .push(self.machine_view(&c, m, now, &holdings));
        }
        let groups = self
            .group_members(
                by.keys()
                    .filter_map(|k| k.strip_prefix("group:").map(str::to_string))
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
                    &[(&c, recipient.as_str(), list.clone())],
                    false,
                    "email",
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

    fn message_id(&self, key: &str) -> String {
        let h = sha2::Sha256::digest(key.as_bytes());
        format!("<{}@{}>", hex(&h[..16]), self.config.message_domain)
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
        let r = self.render_digest(&admin, &[(&c, login, list)], false, "email", &key)?;
        let msg = NewMessage {
            message_id: self.message_id(&key),
            idem_key: key,
            channel: "email".into(),
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

    /// Plan a wave for every running campaign: add new targets, then queue
    /// one digest per person with every open machine that needs a first
    /// message or a reminder, merged across campaigns, at most one a day per
    /// person, never in their quiet hours. Safe to run any number of times.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<WaveSummary, EngineError> {
        let mut summary = WaveSummary::default();
        let mut running = Vec::new();
        for row in self.store.campaigns().await? {
            if row.state == CampaignState::Running {
                running.push(self.campaign(&row.id.to_string()).await?);
            }
        }
        if running.is_empty() {
            return Ok(summary);
        }
        let clock = std::time::Instant::now();
        let users = self.directory().await?;
        let mut machine_rows: HashMap<i64, MachineRow> = HashMap::new();
        let mut open_lists: Vec<Vec<CampaignMachine>> = Vec::new();
        let mut holdings: Vec<Holdings> = Vec::new();
        for c in &running {
            holdings.push(load_holdings(self.store.as_ref(), &c.spec).await?);
            let (added, targets) = self.refresh_targets(c, now).await?;
            summary.machines_added += added;
            let (v, current) = self.verify_against(c, &users, now, &targets).await?;
            summary.resolved += v.resolved;
            summary.reopened += v.reopened;
            summary.escalated += v.escalated;
            summary.rerouted += v.rerouted;
            machine_rows.extend(targets.into_iter().map(|m| (m.id, m)));
            open_lists.push(current);
        }
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            "wave: targets refreshed and verified"
        );
        // (person) -> [(campaign index, recipient key, machine, reminder?)]
        let mut wanted: BTreeMap<String, Vec<(usize, String, CampaignMachine)>> = BTreeMap::new();
        let mut group_names = Vec::new();
        let mut ids = Vec::new();
        for (ci, list) in open_lists.into_iter().enumerate() {
            for cm in list {
                if cm.state != "open" {
                    continue;
                }
                if let Some(g) = cm.recipient.strip_prefix("group:") {
                    group_names.push(g.to_string());
                }
                if !machine_rows.contains_key(&cm.machine_id) {
                    ids.push(cm.machine_id);
                }
                wanted.entry(cm.recipient.clone()).or_default().push((
                    ci,
                    cm.recipient.clone(),
                    cm,
                ));
            }
        }
        // Open machines that are no longer fresh targets (kept until proven gone).
        machine_rows.extend(
            self.store
                .machines_by_id(&ids)
                .await?
                .into_iter()
                .map(|m| (m.id, m)),
        );
        let groups = self.group_members(group_names).await?;
        // Expand groups to people.
        let mut per_person: BTreeMap<String, Vec<(usize, String, CampaignMachine)>> =
            BTreeMap::new();
        for (recipient, items) in wanted {
            let people = Self::people(&recipient, &groups);
            if people.is_empty() {
                summary.unreachable.push(recipient.clone());
            }
            for p in people {
                per_person
                    .entry(p.to_string())
                    .or_default()
                    .extend(items.iter().cloned());
            }
        }
        // Per campaign, parsed once: quiet hours, reminder schedule, time zone.
        let facts: Vec<ScheduleFacts> = running
            .iter()
            .map(|c| {
                (
                    c.spec.schedule.quiet().ok().flatten(),
                    c.spec.schedule.reminder_schedule().ok(),
                    c.spec.tz(),
                )
            })
            .collect();
        let mut zones: HashMap<String, Option<chrono_tz::Tz>> = HashMap::new();
        let mut jobs = Vec::new();
        for (login, items) in per_person {
            let person = Addressee::of(&login, users.get(&login));
            let tz = match person.time_zone.as_deref() {
                None => None,
                Some(t) => *zones
                    .entry(t.to_string())
                    .or_insert_with(|| t.parse::<chrono_tz::Tz>().ok()),
            };
            // Select what is due: a first message, or a reminder.
            let mut sections: BTreeMap<usize, Section> = BTreeMap::new();
            let mut any_first = false;
            let mut quiet = false;
            for (ci, recipient, cm) in &items {
                let c = &running[*ci];
                let (quiet_hours, schedule, campaign_tz) = &facts[*ci];
                let tz = tz.unwrap_or(*campaign_tz);
                let local = now.with_timezone(&tz);
                if is_quiet(*quiet_hours, local.hour() * 60 + local.minute()) {
                    quiet = true;
                    continue;
                }
                let due = match cm.last_messaged {
                    None => {
                        any_first = true;
                        true
                    }
                    Some(last) => schedule.as_ref().is_some_and(|sch| {
                        sch.after(&last.with_timezone(&tz))
                            .next()
                            .is_some_and(|t| t.with_timezone(&Utc) <= now)
                    }),
                };
                let Some(m) = machine_rows.get(&cm.machine_id) else {
                    continue;
                };
                if due {
                    let s = sections
                        .entry(*ci)
                        .or_insert_with(|| (recipient.clone(), Vec::new(), Vec::new()));
                    let mut view = self.machine_view(c, m, now, &holdings[*ci]);
                    view.passed_on_by.clone_from(&cm.transfer_from);
                    if cm.resolution.as_deref() == Some("reopened") {
                        view.reopened = cm.answer.as_deref().map(|a| match cm.answer_date {
                            Some(d) => format!("{a} by {d}"),
                            None => a.to_string(),
                        });
                    }
                    s.1.push(view);
                    s.2.push((c.row.id, cm.machine_id));
                }
            }
            if sections.is_empty() {
                if quiet {
                    summary.deferred += 1;
                }
                continue;
            }
            let Some(route) = self.route(&person) else {
                summary.unreachable.push(login.clone());
                continue;
            };
            let tz = tz.unwrap_or_else(|| running[*sections.keys().next().unwrap_or(&0)].spec.tz());
            let day: NaiveDate = now.with_timezone(&tz).date_naive();
            jobs.push((login, person, route, day, sections, any_first));
        }
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            people = jobs.len(),
            "wave: digests selected"
        );
        // Rendering (templates, signed links) is the costly part: on every core.
        let messages: Vec<NewMessage> = {
            use rayon::prelude::*;
            jobs.into_par_iter()
                .map(|(login, person, route, day, sections, any_first)| {
                    let list: Vec<(&Campaign, &str, Vec<DigestMachine>)> = sections
                        .iter()
                        .map(|(ci, (r, ms, _))| (&running[*ci], r.as_str(), ms.clone()))
                        .collect();
                    let key = format!("digest:{login}:{day}:{}", route.channel);
                    let rendered =
                        self.render_digest(&person, &list, !any_first, &route.channel, &key)?;
                    // Offered for all at once: what every listed machine
                    // offers, but for answers that need a text of their own.
                    let actions: Vec<String> = list
                        .first()
                        .map(|(_, _, ms)| ms.first().map(|m| m.answers.clone()).unwrap_or_default())
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|a| !matches!(a, AnswerKind::Esu | AnswerKind::Exception))
                        .filter(|a| {
                            list.iter()
                                .all(|(_, _, ms)| ms.iter().all(|m| m.answers.contains(a)))
                        })
                        .map(|a| a.as_str().to_string())
                        .collect();
                    let buttons = match route.channel.as_str() {
                        "mattermost" => Some(self.buttons(&person, &list, &key)?.to_json()),
                        _ => None,
                    };
                    Ok(NewMessage {
                        message_id: self.message_id(&key),
                        idem_key: key,
                        channel: route.channel,
                        recipient: login,
                        address: route.address,
                        fallback: route.fallback,
                        subject: rendered.subject,
                        body_text: rendered.text,
                        body_html: Some(rendered.html),
                        machines: sections.into_values().flat_map(|(_, _, ids)| ids).collect(),
                        reminder: !any_first,
                        actions,
                        buttons,
                    })
                })
                .collect::<Result<_, EngineError>>()?
        };
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            "wave: digests rendered"
        );
        let planned = messages.len();
        // Each message with its machines' counters is one unit; chunks keep
        // transactions short on a large wave.
        for chunk in messages.chunks(2000) {
            summary.queued += self.store.enqueue(chunk, now).await?;
        }
        summary.deferred += planned - summary.queued as usize;
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            queued = summary.queued,
            "wave: outbox written"
        );
        summary.unreachable.sort();
        summary.unreachable.dedup();
        Ok(summary)
    }

    /// Close the loop for one campaign against the latest snapshots:
    /// resolve machines the data shows dealt with (a supported OS or
    /// software now; stopped reporting after "decommission"), reopen answers
    /// the data contradicts after their date, and escalate machines left
    /// unanswered after `escalate_after` reminders one step up the chain.
    pub async fn verify(
        &self,
        c: &Campaign,
        users: &HashMap<String, User>,
        now: DateTime<Utc>,
    ) -> Result<WaveSummary, EngineError> {
        let matching = load_matching(
            self.store.as_ref(),
            &self.catalog,
            &c.spec,
            &self.as_of(now),
        )
        .await?;
        Ok(self.verify_against(c, users, now, &matching).await?.0)
    }

    /// [`Engine::verify`] with the machines matching the campaign (its
    /// limits aside) already loaded: one that no longer matches is dealt
    /// with; one that merely left the limits (handed to someone outside the
    /// campaign's groups) is not.
    async fn verify_against(
        &self,
        c: &Campaign,
        users: &HashMap<String, User>,
        now: DateTime<Utc>,
        targets: &[MachineRow],
    ) -> Result<(WaveSummary, Vec<CampaignMachine>), EngineError> {
        use winventory_core::store::MachineChange;
        let mut out = WaveSummary::default();
        let as_of = self.as_of(now);
        let mut machines: Vec<CampaignMachine> = self
            .store
            .campaign_machines(c.row.id)
            .await?
            .into_iter()
            .filter(|m| m.state != "resolved")
            .collect();
        if machines.is_empty() {
            return Ok((out, machines));
        }
        // Still a target now (fresh, and matching) or not.
        let still: HashMap<i64, &MachineRow> = targets.iter().map(|m| (m.id, m)).collect();
        // Only machines that are no longer targets need their row read.
        let ids: Vec<i64> = machines
            .iter()
            .map(|m| m.machine_id)
            .filter(|id| !still.contains_key(id))
            .collect();
        let gone: HashMap<i64, MachineRow> = self
            .store
            .machines_by_id(&ids)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let today = now.date_naive();
        let steps = &c.spec.schedule.escalation;
        let fallback = format!("group:{}", c.spec.fallback_group);
        // People whose email failed for good: their machines go to the
        // fallback group rather than waiting on a message nobody receives.
        let unreachable: std::collections::HashSet<String> = self
            .store
            .unreachable(c.row.id)
            .await?
            .into_iter()
            .collect();
        let mut changes = Vec::new();
        for cm in &machines {
            let Some(row) = still
                .get(&cm.machine_id)
                .copied()
                .or_else(|| gone.get(&cm.machine_id))
            else {
                continue;
            };
            let fresh = as_of.is_fresh(row.last_report);
            let answer = cm.answer.as_deref().and_then(AnswerKind::parse);
            if !still.contains_key(&cm.machine_id) {
                // No longer a target: it stopped reporting, or it runs
                // something else now.
                let why = match (fresh, answer) {
                    (false, Some(AnswerKind::Decommission)) => Some("decommissioned"),
                    (false, _) => None, // silent, not proven gone: keep asking
                    // A fresh snapshot without the program: the seat is free.
                    (true, _) if c.spec.kind == CampaignKind::Licence => Some("uninstalled"),
                    (true, Some(AnswerKind::Upgrade)) => Some("upgraded"),
                    (true, Some(AnswerKind::Replace)) => Some("replaced"),
                    (true, _) => Some("fixed"),
                };
                if let Some(why) = why {
                    changes.push((cm.machine_id, MachineChange::Resolve(why.into())));
                    out.resolved += 1;
                }
                continue;
            }
            if cm.state == "answered" && answer == Some(AnswerKind::NotMine) {
                // Ask the person named instead (they confirm by answering);
                // a name nobody knows, or a hand-over going in circles, goes
                // to the fallback group.
                let named = cm
                    .answer_detail
                    .as_deref()
                    .filter(|n| users.contains_key(*n))
                    .filter(|n| cm.transfer_from.as_deref() != Some(*n));
                let to = named.map_or_else(|| fallback.clone(), str::to_string);
                if to != cm.recipient {
                    let from = cm
                        .answered_by
                        .clone()
                        .unwrap_or_else(|| cm.recipient.clone());
                    changes.push((
                        cm.machine_id,
                        MachineChange::Reroute {
                            recipient: to,
                            from,
                        },
                    ));
                    out.rerouted += 1;
                }
                continue;
            }
            if cm.state == "answered" {
                // A dated promise the data contradicts after its date.
                let overdue = match answer {
                    Some(AnswerKind::Upgrade) => cm.answer_date.is_some_and(|d| d < today),
                    Some(AnswerKind::Esu) => cm.answer_date.is_some_and(|d| d < today),
                    // A request waits for the admins; a declined one is asked
                    // again at once; an approved one two weeks before it ends.
                    Some(AnswerKind::Exception) => match cm.exception_state.as_deref() {
                        Some("declined") => true,
                        Some("approved") => cm
                            .answer_date
                            .is_some_and(|d| d - Duration::days(EXCEPTION_NOTICE_DAYS) <= today),
                        _ => false,
                    },
                    Some(AnswerKind::Decommission | AnswerKind::Replace | AnswerKind::Remove) => {
                        c.spec.deadline < today
                    }
                    // Still installed after the promised date: asked again,
                    // and the seat is not counted as saved.
                    Some(AnswerKind::Uninstall) => cm.answer_date.is_some_and(|d| d < today),
                    _ => false,
                };
                if overdue {
                    changes.push((cm.machine_id, MachineChange::Reopen));
                    out.reopened += 1;
                }
                continue;
            }
            // Open, and its person cannot be reached: straight to the fallback group.
            if unreachable.contains(&cm.recipient) && cm.recipient != fallback {
                changes.push((
                    cm.machine_id,
                    MachineChange::Escalate {
                        recipient: fallback.clone(),
                        step: steps.len() as i64,
                    },
                ));
                out.escalated += 1;
                continue;
            }
            // Open: escalate after enough unanswered reminders.
            let step = usize::try_from(cm.escalation).unwrap_or(usize::MAX);
            if cm.reminders >= i64::from(c.spec.schedule.escalate_after) && step < steps.len() {
                let owner = row
                    .responsible
                    .as_ref()
                    .or(row.main_user.as_ref())
                    .map(|f| f.login.clone());
                // The first step of the chain that names someone new.
                let mut next = None;
                for (i, s) in steps.iter().enumerate().skip(step) {
                    let to = match s {
                        crate::spec::EscalationStep::Group => match &owner {
                            Some(o) => self
                                .store
                                .groups_of(o)
                                .await?
                                .into_iter()
                                .next()
                                .map(|g| format!("group:{g}")),
                            None => None,
                        },
                        crate::spec::EscalationStep::Manager => owner
                            .as_ref()
                            .and_then(|o| users.get(o))
                            .and_then(|u| u.manager.clone()),
                        crate::spec::EscalationStep::Fallback => {
                            Some(format!("group:{}", c.spec.fallback_group))
                        }
                    };
                    if let Some(to) = to.filter(|t| *t != cm.recipient) {
                        next = Some((to, i as i64 + 1));
                        break;
                    }
                }
                if let Some((recipient, step)) = next {
                    changes.push((cm.machine_id, MachineChange::Escalate { recipient, step }));
                    out.escalated += 1;
                }
            }
        }
        if !changes.is_empty() {
            self.store
                .change_campaign_machines(c.row.id, &changes, now)
                .await?;
        }
        // The same changes in memory, so the wave need not read them back.
        let changed: HashMap<i64, &MachineChange> =
            changes.iter().map(|(id, ch)| (*id, ch)).collect();
        machines.retain_mut(|m| match changed.get(&m.machine_id) {
            None => true,
            Some(MachineChange::Resolve(_)) => false,
            Some(MachineChange::Reopen) => {
                m.state = "open".into();
                m.reminders = 0;
                m.last_messaged = None;
                m.resolution = Some("reopened".into());
                true
            }
            Some(MachineChange::Escalate { recipient, step }) => {
                m.recipient = recipient.clone();
                m.escalation = *step;
                m.reminders = 0;
                m.last_messaged = None;
                true
            }
            Some(MachineChange::Reroute { recipient, from }) => {
                m.recipient = recipient.clone();
                m.transfer_from = Some(from.clone());
                m.state = "open".into();
                m.escalation = 0;
                m.reminders = 0;
                m.last_messaged = None;
                true
            }
        });
        Ok((out, machines))
    }

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
            for m in self.store.campaign_machines(row.id).await? {
                let Some(state) = m.exception_state.clone() else {
                    continue;
                };
                if pending_only && state != "requested" {
                    continue;
                }
                out.push(ExceptionRow {
                    campaign: row.name.clone(),
                    host: m.host_key.clone(),
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
        if m.exception_state.as_deref() != Some("requested") {
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
        let decision = if approve { "approved" } else { "declined" };
        let notice = match self.route(&person) {
            Some(route) => {
                let ctx = context! {
                    person => ser(&person), host => &m.host_key, campaign => &c.spec.title,
                    approved => approve, until => m.answer_date.map(|d| d.to_string()),
                    note => note, decided_by => by,
                };
                let r = self
                    .templates
                    .message("exception", &person.language, &ctx)?;
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

    /// Remind a running campaign's silent owners in the next wave (still at
    /// most one message a day per person, never in quiet hours).
    pub async fn remind(&self, id_or_name: &str) -> Result<u64, EngineError> {
        let c = self.campaign(id_or_name).await?;
        if c.row.state != CampaignState::Running {
            return Err(Self::state_error(
                &c,
                "only a running campaign reminds; resume it first",
            ));
        }
        if c.spec.schedule.reminder_schedule().is_err() {
            return Err(Self::state_error(&c, "it has no valid reminder schedule"));
        }
        Ok(self.store.remind_open(c.row.id).await?)
    }

    /// Progress of a campaign.
    pub async fn status(
        &self,
        id_or_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Status, EngineError> {
        let c = self.campaign(id_or_name).await?;
        let machines = self.store.campaign_machines(c.row.id).await?;
        let mut s = Status {
            campaign: c.row.name.clone(),
            state: c.row.state.as_str().into(),
            deadline: c.spec.deadline.to_string(),
            days_left: (c.spec.deadline - now.date_naive()).num_days(),
            targets: machines.len(),
            ..Default::default()
        };
        for m in &machines {
            if m.messages > 0 {
                s.messaged += 1;
            }
            if m.escalation > 0 {
                s.escalated += 1;
            }
            match m.state.as_str() {
                "resolved" => s.resolved += 1,
                "answered" => {
                    *s.answered
                        .entry(m.answer.clone().unwrap_or_default())
                        .or_default() += 1
                }
                _ => {
                    s.open += 1;
                    if now.date_naive() > c.spec.deadline {
                        s.overdue += 1;
                    }
                }
            }
        }
        let done = s.resolved + s.answered.values().sum::<usize>();
        s.progress_percent = (done * 100)
            .checked_div(s.targets)
            .map_or(100, |p| p as u32);
        Ok(s)
    }

    /// Check a link and say what it would record (for the confirmation page).
    pub async fn open_link(&self, token: &str, now: DateTime<Utc>) -> Result<LinkView, LinkError> {
        Ok(self.open_pick(token, None, now).await?.view)
    }

    /// The title of campaign `id` (cached; see [`Engine::titles`]).
    async fn title(&self, id: i64, name: &str) -> Result<String, LinkError> {
        if let Some(t) = self.titles.get(id) {
            return Ok(t);
        }
        let title = match self.store.campaign(&id.to_string()).await? {
            Some(row) => CampaignSpec::parse(&row.spec).map_or(row.name, |s| s.title),
            None => name.to_string(),
        };
        self.titles.put(id, &title);
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
            .filter(|m| m.state != "resolved")
            .filter(|m| in_scope(m))
            .filter(|m| narrow.is_none_or(|id| id == m.machine_id))
            .cloned()
            .collect();
        if machines.is_empty() {
            return Err(LinkError::Nothing);
        }
        let campaign = self.title(claims.campaign, &found.campaign_name).await?;
        let person = found.person;
        let language = person
            .as_ref()
            .and_then(|u| u.language.clone())
            .unwrap_or_else(|| "en".into());
        Ok(Picked {
            view: LinkView {
                campaign,
                machines: machines.iter().map(|m| m.host_key.clone()).collect(),
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
        let (view, done) = self.answer_pick(token, None, fields, "email", now).await?;
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

    /// Check an answer for machines of one campaign and record it: the
    /// fields it needs, extended support where it is sold, and for "not
    /// mine" a person the directory knows. Shared by every channel.
    async fn record(
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
        // Extended support: the earliest end among the machines' OS cycles.
        let mut esu: Option<NaiveDate> = None;
        if answer.kind == AnswerKind::Esu {
            for m in machines {
                let end = self
                    .store
                    .machine(&m.host_key)
                    .await?
                    .and_then(|row| row.os_match)
                    .and_then(|cy| self.catalog.get(&cy.product, &cy.cycle).cloned())
                    .and_then(|i| match i.extended_support_end {
                        Some(winventory_core::Lifecycle::Date(d)) => Some(d),
                        _ => None,
                    });
                esu = match (esu, end) {
                    (_, None) => None,
                    (None, e) if m.machine_id == machines[0].machine_id => e,
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (None, Some(_)) => None,
                };
                if esu.is_none() {
                    break;
                }
            }
        }
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
            .map(|g| format!("group:{g}"))
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
                .filter(|m| m.state != "resolved")
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
    async fn answer_among(
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
            .filter(|m| m.state == "open" && !out.recorded.contains(&m.host_key))
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
