//! Composing a campaign: creating it from its file, changing its state,
//! its targets as of a date, a manual reminder, and its progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignState, MachineRow, NewTarget, StoreError};

use crate::plan::{Scope, load_matching, load_targets, recipient_key, unknown_targets};
use crate::spec::CampaignSpec;

use super::states::MachineState;
use super::{Campaign, Engine, EngineError, WaveSummary};

/// Campaign progress for `campaign status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Share of targets answered or resolved, 0-100; `None` for a draft,
    /// which has no targets before it starts (not "100% of none").
    pub progress_percent: Option<u32>,
}

impl Status {
    /// Whether the campaign is a draft: nothing selected, nothing sent.
    pub fn is_draft(&self) -> bool {
        self.state == CampaignState::Draft.as_str()
    }

    /// The state as a person reads it: `draft, not started` for a draft,
    /// else the state word (`running`, `paused`, `closed`).
    pub fn state_text(&self) -> String {
        if self.is_draft() {
            "draft, not started".into()
        } else {
            self.state.clone()
        }
    }
}

/// What `campaign start` says when people were not written to because of
/// quiet hours (`wave` is the wave that followed the start): for each
/// started campaign whose own quiet hours (on its time zone's clock) `now`
/// falls in, why and until when; `None` when nobody was held back.
pub fn start_notice(
    started: &[Campaign],
    wave: &WaveSummary,
    now: DateTime<Utc>,
) -> Option<String> {
    if wave.deferred == 0 {
        return None;
    }
    let quiet: Vec<String> = started
        .iter()
        .filter_map(|c| {
            let quiet = c.schedule.quiet?;
            let until = c.schedule.quiet_until(now)?;
            let tz = c.schedule.time_zone;
            Some(format!(
                "{} is in its quiet hours ({quiet}, {tz}) until {}",
                c.row.name,
                until.format("%Y-%m-%d %H:%M %Z")
            ))
        })
        .collect();
    let who = if wave.queued == 0 {
        "nothing was queued".to_string()
    } else {
        format!(
            "{} {} not written to yet",
            wave.deferred,
            if wave.deferred == 1 {
                "person was"
            } else {
                "people were"
            }
        )
    };
    let then = "the scheduler of `winventory worker` or `winventory serve` queues the first messages when they end";
    Some(if quiet.is_empty() {
        format!("{who}: it is within the quiet hours of their own time zones; {then}")
    } else {
        format!("{who}: {}; {then}", quiet.join("; "))
    })
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
            days_left: (c.spec.deadline - c.today(now)).num_days(),
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
                    if c.today(now) > c.spec.deadline {
                        s.overdue += 1;
                    }
                }
            }
        }
        let done = s.resolved + s.answered.values().sum::<usize>();
        s.progress_percent = (c.row.state != CampaignState::Draft).then(|| {
            (done * 100)
                .checked_div(s.targets)
                .map_or(100, |p| p as u32)
        });
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winventory_core::store::CampaignRow;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    /// A campaign quiet from 19:00 to 08:00 in Zurich.
    fn campaign() -> Campaign {
        let text = "name = \"retire\"\nkind = \"eol\"\ntitle = \"T\"\ndeadline = \"2027-03-31\"\nfallback_group = \"it-desk\"\ntime_zone = \"Europe/Zurich\"\n\n[target]\nos = [{ product = \"windows-server\" }]\n\n[schedule]\nquiet_hours = \"19:00-08:00\"\n";
        let spec = CampaignSpec::parse(text).expect("spec");
        let schedule = spec.schedule().expect("schedule");
        Campaign {
            row: CampaignRow {
                id: 1,
                name: "retire".into(),
                kind: "eol".into(),
                state: CampaignState::Running,
                spec: text.into(),
                created_at: at("2026-11-27T00:00:00Z"),
                started_at: None,
                closed_at: None,
            },
            spec,
            schedule,
        }
    }

    #[test]
    fn a_start_in_quiet_hours_says_why_nothing_was_queued_and_until_when() {
        let c = [campaign()];
        let evening = at("2026-11-27T19:30:00Z"); // 20:30 in Zurich
        let wave = WaveSummary {
            deferred: 3,
            ..Default::default()
        };
        assert_eq!(
            start_notice(&c, &wave, evening).as_deref(),
            Some(
                "nothing was queued: retire is in its quiet hours (19:00-08:00, Europe/Zurich) until 2026-11-28 08:00 CET; the scheduler of `winventory worker` or `winventory serve` queues the first messages when they end"
            )
        );
        let some = WaveSummary {
            queued: 2,
            deferred: 1,
            ..Default::default()
        };
        assert!(
            start_notice(&c, &some, evening)
                .expect("a notice")
                .starts_with("1 person was not written to yet: retire is in its quiet hours")
        );
        // People held back by the quiet hours of their own time zones.
        let noon = at("2026-11-27T11:00:00Z");
        assert!(
            start_notice(&c, &wave, noon)
                .expect("a notice")
                .contains("their own time zones")
        );
        // Nobody held back: nothing to say.
        assert_eq!(start_notice(&c, &WaveSummary::default(), evening), None);
    }
}
