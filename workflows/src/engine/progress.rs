//! A campaign's figures for pages (counted by the database, not read
//! machine by machine), its progress per directory group, its burn-down
//! (daily counts kept, the days before rebuilt from the spans each machine
//! was not open) and the forecast drawn from it. Days are the campaign's
//! own, in its time zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignState, DayCount};

use crate::forecast::{Forecast, forecast};

use super::{Campaign, Engine, EngineError};

/// Longest burn-down drawn, in days (older days are dropped from the left).
pub const MAX_BURNDOWN_DAYS: i64 = 730;

/// A campaign's figures as pages show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Campaign id.
    pub id: i64,
    /// Campaign name.
    pub campaign: String,
    /// Kind (`eol`, `licence`, `custom`).
    pub kind: String,
    /// State word.
    pub state: String,
    /// Deadline.
    pub deadline: NaiveDate,
    /// Today in the campaign's time zone.
    pub today: NaiveDate,
    /// Days left until the deadline (negative when past).
    pub days_left: i64,
    /// Target machines.
    pub targets: i64,
    /// Not answered yet.
    pub open: i64,
    /// Open past the deadline.
    pub overdue: i64,
    /// Answered (not resolved), by answer word.
    pub answered: BTreeMap<String, i64>,
    /// Answered in all.
    pub answered_total: i64,
    /// Resolved.
    pub resolved: i64,
    /// Share answered or resolved, 0-100 (`None` for a draft).
    pub progress_percent: Option<u32>,
}

/// A campaign's progress among the machines of one directory group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupProgress {
    /// The group.
    pub group: String,
    /// Its machines in the campaign.
    pub targets: i64,
    /// Not answered yet.
    pub open: i64,
    /// Answered, not resolved.
    pub answered: i64,
    /// Resolved.
    pub resolved: i64,
    /// Share answered or resolved, 0-100.
    pub progress_percent: u32,
}

/// The burn-down of a campaign and what its pace says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Burndown {
    /// One count a day, from the start to today.
    pub days: Vec<DayCount>,
    /// The forecast.
    pub forecast: Forecast,
}

impl Engine {
    /// A campaign's figures now (one grouped count in the database).
    pub async fn figures(&self, c: &Campaign, now: DateTime<Utc>) -> Result<Figures, EngineError> {
        let counts = self.store.campaign_counts(c.row.id).await?;
        let mut f = Figures {
            id: c.row.id,
            campaign: c.row.name.clone(),
            kind: c.row.kind.clone(),
            state: c.row.state.as_str().into(),
            deadline: c.spec.deadline,
            today: c.today(now),
            days_left: (c.spec.deadline - c.today(now)).num_days(),
            targets: 0,
            open: 0,
            overdue: 0,
            answered: BTreeMap::new(),
            answered_total: 0,
            resolved: 0,
            progress_percent: None,
        };
        for sc in counts {
            f.targets += sc.machines;
            match super::states::MachineState::parse(&sc.state) {
                super::states::MachineState::Open => f.open += sc.machines,
                super::states::MachineState::Resolved => f.resolved += sc.machines,
                super::states::MachineState::Answered => {
                    *f.answered.entry(sc.answer.unwrap_or_default()).or_default() += sc.machines;
                    f.answered_total += sc.machines;
                }
            }
        }
        if f.today > c.spec.deadline {
            f.overdue = f.open;
        }
        f.progress_percent = (c.row.state != CampaignState::Draft).then(|| {
            let done = (f.answered_total + f.resolved) * 100;
            done.checked_div(f.targets).map_or(100, |p| p as u32)
        });
        Ok(f)
    }

    /// A campaign's progress per directory group of its machines'
    /// responsible or main users (one grouped count), the groups with the
    /// most machines still open first.
    pub async fn group_progress(&self, c: &Campaign) -> Result<Vec<GroupProgress>, EngineError> {
        let mut by: BTreeMap<String, GroupProgress> = BTreeMap::new();
        for g in self.store.campaign_group_counts(c.row.id).await? {
            let p = by.entry(g.group.clone()).or_insert_with(|| GroupProgress {
                group: g.group.clone(),
                targets: 0,
                open: 0,
                answered: 0,
                resolved: 0,
                progress_percent: 0,
            });
            p.targets += g.machines;
            match super::states::MachineState::parse(&g.state) {
                super::states::MachineState::Open => p.open += g.machines,
                super::states::MachineState::Answered => p.answered += g.machines,
                super::states::MachineState::Resolved => p.resolved += g.machines,
            }
        }
        let mut out: Vec<GroupProgress> = by
            .into_values()
            .map(|mut p| {
                p.progress_percent = ((p.answered + p.resolved) * 100)
                    .checked_div(p.targets)
                    .map_or(100, |x| x as u32);
                p
            })
            .collect();
        out.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.group.cmp(&b.group)));
        Ok(out)
    }

    /// Every machine of a campaign that `shown` selects, by host, read a
    /// page of 10,000 at a time (an export, the exception register).
    pub async fn campaign_machines_shown(
        &self,
        campaign_id: i64,
        shown: winventory_core::store::MachinesShown,
    ) -> Result<Vec<winventory_core::store::CampaignMachine>, EngineError> {
        const PAGE: i64 = 10_000;
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .campaign_machines_page(campaign_id, shown, after.as_deref(), PAGE)
                .await?;
            let done = (page.len() as i64) < PAGE;
            after = page.last().map(|m| m.host_key.clone());
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Keep today's counts of a campaign (its day in its time zone), so
    /// its burn-down survives restarts.
    pub async fn keep_day(
        &self,
        c: &Campaign,
        f: &Figures,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        Ok(self
            .store
            .save_campaign_day(
                f.id,
                &DayCount {
                    day: c.today(now),
                    targets: f.targets,
                    open: f.open,
                    answered: f.answered_total,
                    resolved: f.resolved,
                },
            )
            .await?)
    }

    /// The burn-down from the start to today, in days of the campaign's
    /// time zone: each day's kept count, or for a day none was kept, one
    /// rebuilt from the spans each machine was not open (a machine
    /// answered, reopened and answered again counts as open in between);
    /// today is `figures`.
    pub async fn burndown(
        &self,
        c: &Campaign,
        figures: &Figures,
        now: DateTime<Utc>,
    ) -> Result<Burndown, EngineError> {
        let today = c.today(now);
        let Some(started) = c.row.started_at.map(|s| c.today(s)) else {
            return Ok(Burndown {
                days: Vec::new(),
                forecast: Forecast::TooEarly { days: 0 },
            });
        };
        let first = started.max(today - Duration::days(MAX_BURNDOWN_DAYS));
        let kept: BTreeMap<NaiveDate, DayCount> = self
            .store
            .campaign_days(c.row.id)
            .await?
            .into_iter()
            .map(|d| (d.day, d))
            .collect();
        // Machines not open at the end of each day: the quarter-hours'
        // changes summed up to it.
        let mut closing: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for (at, n) in self.store.campaign_closure_changes(c.row.id).await? {
            *closing.entry(c.today(at)).or_default() += n;
        }
        let mut days = Vec::new();
        let mut day = first;
        let last = today.min(match c.row.closed_at {
            Some(closed) => c.today(closed),
            None => today,
        });
        while day <= last {
            let count = if day == today {
                DayCount {
                    day,
                    targets: figures.targets,
                    open: figures.open,
                    answered: figures.answered_total,
                    resolved: figures.resolved,
                }
            } else if let Some(k) = kept.get(&day) {
                *k
            } else {
                let closed: i64 = closing.range(..=day).map(|(_, n)| n).sum();
                let open = (figures.targets - closed).clamp(0, figures.targets);
                DayCount {
                    day,
                    targets: figures.targets,
                    open,
                    answered: (figures.targets - open - figures.resolved).max(0),
                    resolved: figures.resolved.min(figures.targets - open),
                }
            };
            days.push(count);
            day += Duration::days(1);
        }
        let history: Vec<(NaiveDate, i64)> = days.iter().map(|d| (d.day, d.open)).collect();
        let forecast = if c.row.state == CampaignState::Closed {
            Forecast::TooEarly {
                days: history.len(),
            }
        } else {
            forecast(&history, today, c.spec.deadline)
        };
        Ok(Burndown { days, forecast })
    }
}
