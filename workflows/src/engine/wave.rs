//! A wave: every running campaign's targets refreshed and verified, then
//! one digest per person with the machines due a first message or a
//! reminder, rendered and queued in the outbox.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Timelike as _, Utc};
use serde::Serialize;
use winventory_core::store::{CampaignMachine, CampaignState, MachineRow, NewMessage};

use crate::answer::AnswerKind;
use crate::plan::{Addressee, DigestMachine, Holdings, load_holdings};
use crate::spec::is_quiet;

use super::{Campaign, Engine, EngineError};

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

/// One campaign's part of a digest: recipient key, machines, and their
/// (campaign id, machine id) pairs.
type Section = (String, Vec<DigestMachine>, Vec<(i64, i64)>);

/// A campaign's quiet hours, reminder schedule and time zone, parsed once a wave.
type ScheduleFacts = (Option<(u32, u32)>, Option<cron::Schedule>, chrono_tz::Tz);

impl Engine {
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
}
