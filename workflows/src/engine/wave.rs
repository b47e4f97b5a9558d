//! A wave: every running campaign's targets refreshed and verified, then
//! one digest per person with the machines due a first message or a
//! reminder, rendered and queued in the outbox.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::User;
use winventory_core::store::{CampaignMachine, CampaignState, MachineRow, NewMessage};

use crate::answer::AnswerKind;
use crate::plan::{Addressee, DigestMachine, Holdings, load_holdings};
use crate::spec::Schedule;

use super::digest::Part;
use super::states::{ChannelKind, MachineState, RecipientKey, Resolution};

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

/// One campaign's part of a person's digest.
struct Section {
    /// Who is asked about these machines (the person, or their group).
    recipient: String,
    /// The machines, as the digest shows them.
    machines: Vec<DigestMachine>,
    /// Their (campaign id, machine id) pairs, which the message lists.
    listed: Vec<(i64, i64)>,
}

/// One person's digest, selected and waiting to be rendered.
struct Job {
    login: String,
    person: Addressee,
    route: super::Route,
    /// The day of the person's clock the digest belongs to (one a day).
    day: NaiveDate,
    /// By campaign index.
    sections: BTreeMap<usize, Section>,
    /// No machine is listed for the first time.
    reminder: bool,
}

/// One open machine of a running campaign (by index) in a wave.
struct Asked {
    campaign: usize,
    machine: CampaignMachine,
}

/// What deciding whether a machine is due needs to know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiting {
    /// Index of its campaign's schedule.
    pub campaign: usize,
    /// When a digest last listed it, if ever.
    pub last_messaged: Option<DateTime<Utc>>,
}

/// Whether a machine goes into a person's digest now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// The person's quiet hours: not now.
    Quiet,
    /// Never listed: due at once.
    First,
    /// Listed before, and the reminder schedule fired since.
    Reminder,
    /// Listed before; the next reminder has not come yet.
    NotYet,
}

/// Whether a machine last listed at `last_messaged` is due at `now` under
/// its campaign's `schedule`, on the clock of the person's time zone `tz`
/// (the campaign's when the person has none).
pub(crate) fn due(
    schedule: &Schedule,
    tz: Option<chrono_tz::Tz>,
    last_messaged: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Due {
    let tz = tz.unwrap_or(schedule.time_zone);
    if schedule.is_quiet(now, tz) {
        return Due::Quiet;
    }
    match last_messaged {
        None => Due::First,
        Some(last) if schedule.reminder_due(last, tz, now) => Due::Reminder,
        Some(_) => Due::NotYet,
    }
}

/// What is due for one person now, of the machines they are asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Positions (among the machines given) of those due, in order.
    pub due: Vec<usize>,
    /// Some machine is due its first message (the digest is no reminder).
    pub first: bool,
    /// Some machine was held back by quiet hours.
    pub quiet: bool,
}

/// Select a person's due machines: `schedules` by campaign index, `tz` the
/// person's own time zone, if any.
pub(crate) fn select(
    machines: impl IntoIterator<Item = Waiting>,
    schedules: &[&Schedule],
    tz: Option<chrono_tz::Tz>,
    now: DateTime<Utc>,
) -> Selection {
    let mut out = Selection::default();
    for (at, m) in machines.into_iter().enumerate() {
        let Some(schedule) = schedules.get(m.campaign) else {
            continue;
        };
        match due(schedule, tz, m.last_messaged, now) {
            Due::Quiet => out.quiet = true,
            Due::NotYet => {}
            Due::First => {
                out.first = true;
                out.due.push(at);
            }
            Due::Reminder => out.due.push(at),
        }
    }
    out
}

/// What a wave loaded once for all its people: the running campaigns with
/// their holdings, the directory, the rows of the machines asked about, and
/// every open machine once, by the people it reaches.
struct Loaded {
    running: Vec<Campaign>,
    holdings: Vec<Holdings>,
    users: HashMap<String, User>,
    rows: HashMap<i64, MachineRow>,
    /// Every open machine, once.
    asked: Vec<Asked>,
    /// Each person's open machines (indices into `asked`), groups expanded.
    per_person: BTreeMap<String, Vec<usize>>,
    /// For machines a group is asked about: when each member was last
    /// written to about it, by (campaign index, machine id).
    members: HashMap<(usize, i64), HashMap<String, DateTime<Utc>>>,
}

impl Loaded {
    /// When `login` was last written to about `asked` (an index): the
    /// machine's own time when one person is asked; a group's member's
    /// own time when a group is (none: never, though another member was).
    /// A group's machine with no member's time at all was written to
    /// before members' times were kept (schema 21): the machine's time.
    fn last_messaged(&self, login: &str, asked: usize) -> Option<DateTime<Utc>> {
        let Asked { campaign, machine } = &self.asked[asked];
        if RecipientKey::parse(&machine.recipient).group().is_none() {
            return machine.last_messaged;
        }
        match self.members.get(&(*campaign, machine.machine_id)) {
            Some(times) => times.get(login).copied(),
            None => machine.last_messaged,
        }
    }
}

impl Engine {
    /// Plan a wave for every running campaign: add new targets, then queue
    /// one digest per person with every open machine that needs a first
    /// message or a reminder, merged across campaigns, at most one a day per
    /// person, never in their quiet hours. Safe to run any number of times.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<WaveSummary, EngineError> {
        let mut summary = WaveSummary::default();
        let running = self.running_campaigns().await?;
        if running.is_empty() {
            return Ok(summary);
        }
        let clock = std::time::Instant::now();
        let wave = self.load_wave(running, now, &mut summary).await?;
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            "wave: targets refreshed and verified"
        );
        let jobs = self.select_digests(&wave, now, &mut summary);
        tracing::debug!(
            elapsed_ms = clock.elapsed().as_millis() as u64,
            people = jobs.len(),
            "wave: digests selected"
        );
        // Rendering (templates, signed links) is the costly part: on every core.
        let messages: Vec<NewMessage> = {
            use rayon::prelude::*;
            jobs.into_par_iter()
                .map(|job| self.digest_message(job, &wave.running))
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

    /// The running campaigns.
    async fn running_campaigns(&self) -> Result<Vec<Campaign>, EngineError> {
        let mut running = Vec::new();
        for row in self.store.campaigns().await? {
            if row.state == CampaignState::Running {
                running.push(self.campaign(&row.id.to_string()).await?);
            }
        }
        Ok(running)
    }

    /// Refresh and verify every running campaign, then load what selecting
    /// and rendering the digests needs, once: the rows of open machines that
    /// are no longer targets, and the members of the groups asked.
    async fn load_wave(
        &self,
        running: Vec<Campaign>,
        now: DateTime<Utc>,
        summary: &mut WaveSummary,
    ) -> Result<Loaded, EngineError> {
        let users = self.directory().await?;
        let mut rows: HashMap<i64, MachineRow> = HashMap::new();
        let mut open_lists: Vec<Vec<CampaignMachine>> = Vec::new();
        let mut holdings: Vec<Holdings> = Vec::new();
        for c in &running {
            holdings.push(load_holdings(self.store.as_ref(), &c.spec).await?);
            let (added, targets) = self.refresh_targets(c, now).await?;
            summary.machines_added += added;
            let verified = self.verify_against(c, &users, now, &targets).await?;
            let v = &verified.summary;
            summary.resolved += v.resolved;
            summary.reopened += v.reopened;
            summary.escalated += v.escalated;
            summary.rerouted += v.rerouted;
            rows.extend(targets.into_iter().map(|m| (m.id, m)));
            open_lists.push(verified.unresolved);
        }
        // Every open machine once; people refer to them by index.
        let mut asked: Vec<Asked> = Vec::new();
        let mut wanted: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut group_names = Vec::new();
        let mut ids = Vec::new();
        for (campaign, list) in open_lists.into_iter().enumerate() {
            for machine in list {
                if MachineState::of(&machine) != MachineState::Open {
                    continue;
                }
                if let Some(g) = RecipientKey::parse(&machine.recipient).group() {
                    group_names.push(g.to_string());
                }
                if !rows.contains_key(&machine.machine_id) {
                    ids.push(machine.machine_id);
                }
                wanted
                    .entry(machine.recipient.clone())
                    .or_default()
                    .push(asked.len());
                asked.push(Asked { campaign, machine });
            }
        }
        // Open machines that are no longer fresh targets (kept until proven gone).
        rows.extend(
            self.store
                .machines_by_id(&ids)
                .await?
                .into_iter()
                .map(|m| (m.id, m)),
        );
        // Members' own times, for the campaigns that ask a group.
        let mut members: HashMap<(usize, i64), HashMap<String, DateTime<Utc>>> = HashMap::new();
        let asks_a_group: std::collections::BTreeSet<usize> = asked
            .iter()
            .filter(|a| RecipientKey::parse(&a.machine.recipient).group().is_some())
            .map(|a| a.campaign)
            .collect();
        for campaign in asks_a_group {
            for (machine, login, at) in self.store.member_messages(running[campaign].row.id).await?
            {
                members
                    .entry((campaign, machine))
                    .or_default()
                    .insert(login, at);
            }
        }
        let groups = self.group_members(group_names).await?;
        // Expand groups to people.
        let mut per_person: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (recipient, items) in wanted {
            let people = Self::people(&recipient, &groups);
            if people.is_empty() {
                summary.unreachable.push(recipient.clone());
            }
            for p in people {
                per_person
                    .entry(p.to_string())
                    .or_default()
                    .extend(items.iter().copied());
            }
        }
        Ok(Loaded {
            running,
            holdings,
            users,
            rows,
            asked,
            per_person,
            members,
        })
    }

    /// Each person's digest, if one is due: the machines due (see
    /// [`select`]), by campaign, with the route and the day of their clock.
    fn select_digests(
        &self,
        wave: &Loaded,
        now: DateTime<Utc>,
        summary: &mut WaveSummary,
    ) -> Vec<Job> {
        let schedules: Vec<&Schedule> = wave.running.iter().map(|c| &c.schedule).collect();
        let mut zones: HashMap<String, Option<chrono_tz::Tz>> = HashMap::new();
        let mut jobs = Vec::new();
        for (login, items) in &wave.per_person {
            let person = Addressee::of(login, wave.users.get(login));
            let tz = match person.time_zone.as_deref() {
                None => None,
                Some(t) => *zones
                    .entry(t.to_string())
                    .or_insert_with(|| t.parse::<chrono_tz::Tz>().ok()),
            };
            let selection = select(
                items.iter().map(|&i| Waiting {
                    campaign: wave.asked[i].campaign,
                    last_messaged: wave.last_messaged(login, i),
                }),
                &schedules,
                tz,
                now,
            );
            let mut sections: BTreeMap<usize, Section> = BTreeMap::new();
            for &at in &selection.due {
                let Asked { campaign, machine } = &wave.asked[items[at]];
                let Some(row) = wave.rows.get(&machine.machine_id) else {
                    continue;
                };
                let c = &wave.running[*campaign];
                let section = sections.entry(*campaign).or_insert_with(|| Section {
                    recipient: machine.recipient.clone(),
                    machines: Vec::new(),
                    listed: Vec::new(),
                });
                let mut view = self.machine_view(c, row, now, &wave.holdings[*campaign]);
                view.passed_on_by.clone_from(&machine.transfer_from);
                if Resolution::of(machine) == Some(Resolution::Reopened) {
                    view.reopened = machine
                        .answer
                        .as_deref()
                        .map(|a| match machine.answer_date {
                            Some(d) => format!("{a} by {d}"),
                            None => a.to_string(),
                        });
                }
                section.machines.push(view);
                section.listed.push((c.row.id, machine.machine_id));
            }
            if sections.is_empty() {
                if selection.quiet {
                    summary.deferred += 1;
                }
                continue;
            }
            let Some(route) = self.route(&person) else {
                summary.unreachable.push(login.clone());
                continue;
            };
            let tz = tz.unwrap_or_else(|| {
                wave.running[*sections.keys().next().unwrap_or(&0)]
                    .schedule
                    .time_zone
            });
            let day: NaiveDate = now.with_timezone(&tz).date_naive();
            jobs.push(Job {
                login: login.clone(),
                person,
                route,
                day,
                sections,
                reminder: !selection.first,
            });
        }
        jobs
    }

    /// Render one person's digest into the message to queue.
    fn digest_message(&self, job: Job, running: &[Campaign]) -> Result<NewMessage, EngineError> {
        let Job {
            login,
            person,
            route,
            day,
            sections,
            reminder,
        } = job;
        let list: Vec<Part<'_>> = sections
            .iter()
            .map(|(ci, s)| Part {
                campaign: &running[*ci],
                recipient: &s.recipient,
                machines: &s.machines,
            })
            .collect();
        let key = format!("digest:{login}:{day}:{}", route.channel);
        let rendered = self.render_digest(&person, &list, reminder, &route.channel, &key)?;
        // Offered for all at once: what every listed machine offers, but for
        // answers that need a text of their own.
        let actions: Vec<String> = list
            .first()
            .map(|p| {
                p.machines
                    .first()
                    .map(|m| m.answers.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !matches!(a, AnswerKind::Esu | AnswerKind::Exception))
            .filter(|a| {
                list.iter()
                    .all(|p| p.machines.iter().all(|m| m.answers.contains(a)))
            })
            .map(|a| a.as_str().to_string())
            .collect();
        let buttons = match ChannelKind::parse(&route.channel) {
            Some(ChannelKind::Mattermost) => Some(self.buttons(&person, &list, &key)?.to_json()),
            Some(ChannelKind::Email | ChannelKind::Matrix) | None => None,
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
            machines: sections.into_values().flat_map(|s| s.listed).collect(),
            reminder,
            actions,
            buttons,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America, Asia, Europe};

    use super::*;
    use crate::spec::{QuietHours, parse_cron};

    /// Reminders on Mondays at 09:00, quiet from 19:00 to 08:00, in Zurich.
    fn zurich() -> Schedule {
        Schedule {
            reminders: parse_cron("0 9 * * Mon").expect("cron"),
            quiet: Some(QuietHours {
                start: 19 * 60,
                end: 8 * 60,
            }),
            time_zone: Europe::Zurich,
        }
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_machine_never_listed_is_due_at_once_outside_quiet_hours() {
        // Wednesday 10:00 in Zurich.
        assert_eq!(
            due(&zurich(), None, None, at("2026-12-02T09:00:00Z")),
            Due::First
        );
    }

    #[test]
    fn nothing_is_due_in_quiet_hours_read_on_the_persons_own_clock() {
        // 06:30 UTC: 07:30 in Zurich (quiet), 01:30 in New York (quiet),
        // 15:30 in Tokyo (not quiet).
        let now = at("2026-12-02T06:30:00Z");
        assert_eq!(due(&zurich(), None, None, now), Due::Quiet);
        assert_eq!(
            due(&zurich(), Some(America::New_York), None, now),
            Due::Quiet
        );
        assert_eq!(due(&zurich(), Some(Asia::Tokyo), None, now), Due::First);
    }

    #[test]
    fn a_reminder_is_due_once_the_schedule_fires_after_the_last_message_in_the_persons_zone() {
        // Listed on Monday 23 November at 10:00 in Zurich.
        let last = Some(at("2026-11-23T09:00:00Z"));
        // Monday 30 November, 08:30 in Zurich: 09:00 has not come yet.
        assert_eq!(
            due(&zurich(), None, last, at("2026-11-30T07:30:00Z")),
            Due::NotYet
        );
        // 09:30 in Zurich: the reminder fired.
        assert_eq!(
            due(&zurich(), None, last, at("2026-11-30T08:30:00Z")),
            Due::Reminder
        );
        // The same instant is 03:30 in New York: quiet.
        assert_eq!(
            due(
                &zurich(),
                Some(America::New_York),
                last,
                at("2026-11-30T08:30:00Z")
            ),
            Due::Quiet
        );
        // 09:30 in New York, and Monday's 09:00 there came after the last message.
        assert_eq!(
            due(
                &zurich(),
                Some(America::New_York),
                last,
                at("2026-11-30T14:30:00Z")
            ),
            Due::Reminder
        );
    }

    #[test]
    fn a_person_is_sent_what_is_due_across_campaigns_and_a_first_message_makes_it_no_reminder() {
        let quiet_never = Schedule {
            quiet: None,
            ..zurich()
        };
        let schedules = [&zurich(), &quiet_never];
        let now = at("2026-11-30T08:30:00Z");
        let listed_last_week = Some(at("2026-11-23T09:00:00Z"));
        let listed_today = Some(at("2026-11-30T08:15:00Z"));
        let machines = [
            Waiting {
                campaign: 0,
                last_messaged: listed_today,
            },
            Waiting {
                campaign: 0,
                last_messaged: listed_last_week,
            },
            Waiting {
                campaign: 1,
                last_messaged: None,
            },
        ];
        let s = select(machines, &schedules, None, now);
        assert_eq!(s.due, vec![1, 2]);
        assert!(s.first);
        assert!(!s.quiet);
        // Only reminders: the digest is a reminder.
        let s = select(machines[..2].iter().copied(), &schedules, None, now);
        assert_eq!(s.due, vec![1]);
        assert!(!s.first);
    }

    #[test]
    fn a_person_in_quiet_hours_is_deferred_for_the_quiet_campaigns_only() {
        let quiet_never = Schedule {
            quiet: None,
            ..zurich()
        };
        let schedules = [&zurich(), &quiet_never];
        // 07:30 in Zurich: the first campaign is quiet, the second is not.
        let now = at("2026-12-02T06:30:00Z");
        let machines = [
            Waiting {
                campaign: 0,
                last_messaged: None,
            },
            Waiting {
                campaign: 1,
                last_messaged: None,
            },
        ];
        let s = select(machines, &schedules, None, now);
        assert_eq!(s.due, vec![1]);
        assert!(s.quiet);
        assert!(s.first);
    }
}
