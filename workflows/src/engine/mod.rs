//! The campaign engine: creating campaigns from their files, previewing and
//! test-sending them, starting them, planning each wave of digests into the
//! outbox (one message per person per day, merging all of their running
//! campaigns; reminders on the campaign's schedule in the person's time
//! zone, never in quiet hours), and recording answers from signed links.
//!
//! One room a file: `compose` (a campaign's creation, state changes,
//! targets, reminders on demand and progress), `digest` (one person's
//! rendered digest, its signed links and chat buttons, and where it goes),
//! `wave` (planning a wave: refresh, verify, select, render, queue),
//! `verify` (what the latest snapshots say about each machine and its
//! answer), `answers` (answers from signed tokens), `chat` (answers typed
//! or voted in chat), `exceptions` (the exception register and decisions),
//! `preview` (preview and test-send); [`states`] holds the enums of the
//! words the store keeps, read at the store boundary. Each room's decisions
//! are pure functions over named plain data, unit-tested in the room:
//! which machines are due (`wave::due`, `wave::select`), what a snapshot
//! says about an answer (`verify::judge`), where a person is written to
//! (`digest::route_for`), what a chat answer covers (`chat::choose`), the
//! extended support an ESU answer may claim (`answers::common_esu_end`).
//! This file holds the [`Engine`] and what every room shares.

mod answers;
mod chat;
mod compose;
mod digest;
mod exceptions;
mod preview;
mod progress;
pub mod states;
mod verify;
mod wave;

pub use answers::{LinkError, LinkView, OnBehalfError, Picked, Recorded};
pub use chat::{ChatAnswer, ChatError};
pub use compose::{Status, start_notice};
pub use digest::Route;
pub use exceptions::{EXCEPTION_NOTICE_DAYS, ExceptionRow};
pub use preview::PreviewSummary;
pub use progress::{Burndown, Figures, GroupProgress, MAX_BURNDOWN_DAYS};
pub use wave::WaveSummary;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignRow, MachineRow, Store, StoreError};
use winventory_core::{AsOf, Catalog, User};

use crate::plan::{DigestMachine, Holdings};
use crate::render::{RenderError, Templates};
use crate::spec::{CampaignSpec, Schedule, SpecError};
use crate::token::Signer;
use states::RecipientKey;

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

/// The campaign engine.
#[derive(Clone)]
pub struct Engine {
    /// The store every room reads and writes through.
    pub store: Arc<dyn Store>,
    /// The lifecycle catalog.
    pub catalog: Arc<Catalog>,
    /// The site's templates (shipped, overridden by its directory).
    pub templates: Arc<Templates>,
    /// Link signing keys (needed to render messages and check links).
    pub signer: Option<Arc<Signer>>,
    /// Site-wide settings the engine needs (base URL, channels, windows).
    pub config: EngineConfig,
    /// The site's licences, when it has a licence file.
    pub licences: Option<Arc<winventory_core::licence::LicenceBook>>,
    /// Campaign titles by id and language, read from their definitions
    /// once (a definition never changes), so a click does not parse TOML.
    pub titles: TitleCache,
}

/// Campaign titles by (id, shipped language); see [`Engine::titles`].
/// Clones share it.
#[derive(Debug, Clone, Default)]
pub struct TitleCache(Arc<std::sync::RwLock<HashMap<(i64, &'static str), String>>>);

impl TitleCache {
    fn get(&self, id: i64, language: &'static str) -> Option<String> {
        self.0.read().ok()?.get(&(id, language)).cloned()
    }

    fn put(&self, id: i64, language: &'static str, title: &str) {
        if let Ok(mut map) = self.0.write() {
            map.insert((id, language), title.to_string());
        }
    }
}

/// A campaign with its parsed definition.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The stored row.
    pub row: CampaignRow,
    /// Its definition.
    pub spec: CampaignSpec,
    /// Its schedule, parsed once from the definition.
    pub schedule: Schedule,
}

impl Campaign {
    /// The date `now` falls on in the campaign's time zone: the day its
    /// deadline, burn-down and daily counts are reckoned in.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.schedule.time_zone).date_naive()
    }
}

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
        let schedule = spec
            .schedule()
            .map_err(|e| EngineError::StoredSpec(row.name.clone(), e))?;
        Ok(Campaign {
            row,
            spec,
            schedule,
        })
    }

    fn state_error(c: &Campaign, what: &str) -> EngineError {
        EngineError::State {
            name: c.row.name.clone(),
            state: c.row.state.as_str(),
            what: what.to_string(),
        }
    }

    fn as_of(&self, now: DateTime<Utc>) -> AsOf {
        AsOf::at(now, self.config.freshness_days)
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
        match RecipientKey::parse(recipient).group() {
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
}
