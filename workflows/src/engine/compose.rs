//! Composing a campaign: creating it from its file, changing its state,
//! its targets as of a date, a manual reminder, and its progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignState, MachineRow, NewTarget, StoreError};

use crate::plan::{Scope, load_matching, load_targets, recipient_key, unknown_targets};
use crate::spec::CampaignSpec;

use super::states::MachineState;
use super::{Campaign, Engine, EngineError};

/// Campaign progress for `campaign status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Campaign name.
    pub campaign: String,
    /// The campaign's state word (`draft`, `running`, `paused`, `closed`).
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

impl Engine {
    /// Create a draft campaign from a file's text. Returns it with warnings
    /// (targets the catalog does not know).
    pub async fn create(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, Vec<String>), EngineError> {
        let (spec, warnings) = self.check(text)?;
        let id = self
            .store
            .create_campaign(&spec.name, spec.kind.as_str(), text, now)
            .await?
            .ok_or_else(|| EngineError::NameTaken(spec.name.clone()))?;
        Ok((self.campaign(&id.to_string()).await?, warnings))
    }

    /// Check a campaign file's text as `create` would, storing nothing:
    /// the parsed campaign, with warnings (targets the catalog does not
    /// know).
    pub fn check(&self, text: &str) -> Result<(CampaignSpec, Vec<String>), EngineError> {
        let spec = CampaignSpec::parse(text)?;
        self.templates.check(&spec.templates.digest)?;
        let warnings = unknown_targets(&self.catalog, &spec)
            .into_iter()
            .map(|t| format!("the catalog has no {t}: it will match no machine"))
            .collect();
        Ok((spec, warnings))
    }

    /// Replace the definition of the draft of the same name with a file's
    /// text (its id stays), or create it when there is none. A campaign
    /// that has started cannot be replaced: nothing it sent may change.
    pub async fn create_or_replace(
        &self,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(Campaign, Vec<String>), EngineError> {
        let (spec, warnings) = self.check(text)?;
        let Some(old) = self.store.campaign(&spec.name).await? else {
            return self.create(text, now).await;
        };
        if !self
            .store
            .replace_draft(old.id, spec.kind.as_str(), text)
            .await?
        {
            return Err(EngineError::State {
                name: old.name,
                state: old.state.as_str(),
                what: "only a draft can be replaced; create a campaign with another name".into(),
            });
        }
        Ok((self.campaign(&old.id.to_string()).await?, warnings))
    }

    /// Delete a draft campaign (nothing was ever sent for it: a test send
    /// is dropped with it). A campaign that has started is closed instead.
    pub async fn delete_draft(&self, id_or_name: &str) -> Result<Campaign, EngineError> {
        let c = self.campaign(id_or_name).await?;
        if !self.store.delete_draft(c.row.id).await? {
            return Err(EngineError::State {
                name: c.row.name.clone(),
                state: c.row.state.as_str(),
                what: "only a draft can be deleted; `winventory campaign close` ends a campaign that has started".into(),
            });
        }
        Ok(c)
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

    /// A campaign's target machines as of `now`.
    pub(super) async fn targets(
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
                host_key: winventory_core::HostKey::new(&m.hostname)
                    .as_str()
                    .to_string(),
                hostname: m.hostname.clone(),
                recipient: recipient_key(m, &c.spec.fallback_group),
            })
            .collect();
        let added = self
            .store
            .add_campaign_machines(c.row.id, &targets, now)
            .await?;
        Ok((added, machines))
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
            match MachineState::of(m) {
                MachineState::Resolved => s.resolved += 1,
                MachineState::Answered => {
                    *s.answered
                        .entry(m.answer.clone().unwrap_or_default())
                        .or_default() += 1
                }
                MachineState::Open => {
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
}
