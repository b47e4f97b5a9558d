//! Verification: what the latest snapshots say about each machine of a
//! campaign (resolved, a promise overdue, a hand-over, an escalation), and
//! those changes written and applied to the wave's copy.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use winventory_core::User;
use winventory_core::store::{CampaignMachine, MachineRow};

use crate::answer::AnswerKind;
use crate::plan::load_matching;
use crate::spec::CampaignKind;

use super::{Campaign, EXCEPTION_NOTICE_DAYS, Engine, EngineError, WaveSummary};

impl Engine {
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
    pub(super) async fn verify_against(
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
}
