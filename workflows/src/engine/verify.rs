//! Verification: what the latest snapshots say about each machine of a
//! campaign (resolved, a promise overdue, a hand-over, an escalation), and
//! those changes written and applied to the wave's copy.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use winventory_core::User;
use winventory_core::store::{CampaignMachine, MachineChange, MachineRow};

use crate::answer::AnswerKind;
use crate::plan::load_matching;
use crate::spec::{CampaignKind, EscalationStep};

use super::states::{ExceptionState, MachineState, RecipientKey, Resolution};
use super::{Campaign, EXCEPTION_NOTICE_DAYS, Engine, EngineError, WaveSummary};

/// Where a machine of a campaign stands, as verification reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standing<'a> {
    /// Open or answered (resolved machines are not verified).
    pub state: MachineState,
    /// The latest answer.
    pub answer: Option<AnswerKind>,
    /// The date it names.
    pub answer_date: Option<NaiveDate>,
    /// Its justification, or the person "not mine" named.
    pub answer_detail: Option<&'a str>,
    /// Who answered.
    pub answered_by: Option<&'a str>,
    /// The exception request, if the answer is one.
    pub exception: Option<ExceptionState>,
    /// Who is asked now (a login or `group:NAME`).
    pub recipient: &'a str,
    /// Who passed it on with "not mine", if anyone.
    pub transfer_from: Option<&'a str>,
    /// Reminders since the last answer or step.
    pub reminders: i64,
    /// Escalation steps taken.
    pub escalation: i64,
}

impl<'a> Standing<'a> {
    /// A stored campaign machine, read.
    pub fn of(m: &'a CampaignMachine) -> Self {
        Standing {
            state: MachineState::of(m),
            answer: m.answer.as_deref().and_then(AnswerKind::parse),
            answer_date: m.answer_date,
            answer_detail: m.answer_detail.as_deref(),
            answered_by: m.answered_by.as_deref(),
            exception: ExceptionState::of(m),
            recipient: &m.recipient,
            transfer_from: m.transfer_from.as_deref(),
            reminders: m.reminders,
            escalation: m.escalation,
        }
    }
}

/// What the latest snapshot says of a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot<'a> {
    /// Still a target: fresh, and matching the campaign.
    pub still_target: bool,
    /// Its latest report is fresh.
    pub fresh: bool,
    /// Its owner (the responsible, else the main user), if known.
    pub owner: Option<&'a str>,
}

/// A campaign's rules, as verification applies them on `today`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// Machines or programs.
    pub kind: CampaignKind,
    /// The campaign's deadline.
    pub deadline: NaiveDate,
    /// Today.
    pub today: NaiveDate,
    /// Unanswered reminders before the next escalation step.
    pub escalate_after: u32,
    /// The escalation chain.
    pub steps: &'a [EscalationStep],
    /// The fallback group's recipient key (`group:NAME`).
    pub fallback: &'a str,
}

impl Rules<'_> {
    /// Whether an open machine has waited long enough for its next step,
    /// and what steps are left.
    fn steps_left(&self, m: &Standing) -> Option<(usize, &[EscalationStep])> {
        let step = usize::try_from(m.escalation).unwrap_or(usize::MAX);
        (m.reminders >= i64::from(self.escalate_after) && step < self.steps.len())
            .then(|| (step, &self.steps[step..]))
    }
}

/// The people verification may hand a machine to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct People<'a> {
    /// The directory, by login.
    pub users: &'a HashMap<String, User>,
    /// Groups by login (in name order), loaded only when an escalation
    /// may reach the owner's group.
    pub groups: &'a HashMap<String, Vec<String>>,
    /// People whose email failed for good in this campaign.
    pub unreachable: &'a HashSet<String>,
}

/// What verification decides for one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Dealt with, as the data shows.
    Resolve(Resolution),
    /// A promise the data contradicts after its date: ask again.
    Reopen,
    /// "Not mine": ask `recipient` instead, passed on by `from`.
    Reroute {
        /// The named person or the fallback group.
        recipient: String,
        /// Who said "not mine".
        from: String,
    },
    /// Ask `recipient`, as escalation step `step`.
    Escalate {
        /// A login or `group:NAME`.
        recipient: String,
        /// Steps taken, this one included.
        step: i64,
    },
}

impl Verdict {
    /// The change the store writes.
    pub fn change(self) -> MachineChange {
        match self {
            Verdict::Resolve(why) => MachineChange::Resolve(why.as_str().into()),
            Verdict::Reopen => MachineChange::Reopen,
            Verdict::Reroute { recipient, from } => MachineChange::Reroute { recipient, from },
            Verdict::Escalate { recipient, step } => MachineChange::Escalate { recipient, step },
        }
    }
}

/// Owners up to this many have their groups read one statement each; more
/// read every membership in one statement.
const OWNER_QUERIES: usize = 32;

/// The owner whose groups judging this machine may need: it is open, still
/// a target, and the escalation steps left to it include the owner's group.
pub(crate) fn group_step_owner<'a>(
    m: &Standing,
    snapshot: &Snapshot<'a>,
    rules: &Rules,
) -> Option<&'a str> {
    let climbs = m.state == MachineState::Open
        && snapshot.still_target
        && rules
            .steps_left(m)
            .is_some_and(|(_, steps)| steps.contains(&EscalationStep::Group));
    climbs.then_some(snapshot.owner).flatten()
}

/// What the latest snapshot says about a machine of a campaign and its
/// answer: `None` when nothing changes.
pub(crate) fn judge(
    m: &Standing,
    snapshot: Snapshot,
    rules: &Rules,
    people: &People,
) -> Option<Verdict> {
    if !snapshot.still_target {
        // No longer a target: it stopped reporting, or it runs something
        // else now.
        return match (snapshot.fresh, m.answer) {
            (false, Some(AnswerKind::Decommission)) => Some(Resolution::Decommissioned),
            (false, _) => None, // silent, not proven gone: keep asking
            // A fresh snapshot without the program: the seat is free.
            (true, _) if rules.kind == CampaignKind::Licence => Some(Resolution::Uninstalled),
            (true, Some(AnswerKind::Upgrade)) => Some(Resolution::Upgraded),
            (true, Some(AnswerKind::Replace)) => Some(Resolution::Replaced),
            (true, _) => Some(Resolution::Fixed),
        }
        .map(Verdict::Resolve);
    }
    let today = rules.today;
    if m.state == MachineState::Answered && m.answer == Some(AnswerKind::NotMine) {
        // Ask the person named instead (they confirm by answering); a name
        // nobody knows, or a hand-over going in circles, goes to the
        // fallback group.
        let named = m
            .answer_detail
            .filter(|n| people.users.contains_key(*n))
            .filter(|n| m.transfer_from != Some(*n));
        let to = named.unwrap_or(rules.fallback);
        return (to != m.recipient).then(|| Verdict::Reroute {
            recipient: to.to_string(),
            from: m.answered_by.unwrap_or(m.recipient).to_string(),
        });
    }
    if m.state == MachineState::Answered {
        // A dated promise the data contradicts after its date.
        let overdue = match m.answer {
            Some(AnswerKind::Upgrade) => m.answer_date.is_some_and(|d| d < today),
            Some(AnswerKind::Esu) => m.answer_date.is_some_and(|d| d < today),
            // A request waits for the admins; a declined one is asked
            // again at once; an approved one two weeks before it ends.
            Some(AnswerKind::Exception) => match m.exception {
                Some(ExceptionState::Declined) => true,
                Some(ExceptionState::Approved) => m
                    .answer_date
                    .is_some_and(|d| d - Duration::days(EXCEPTION_NOTICE_DAYS) <= today),
                _ => false,
            },
            Some(AnswerKind::Decommission | AnswerKind::Replace | AnswerKind::Remove) => {
                rules.deadline < today
            }
            // Still installed after the promised date: asked again, and
            // the seat is not counted as saved.
            Some(AnswerKind::Uninstall) => m.answer_date.is_some_and(|d| d < today),
            _ => false,
        };
        return overdue.then_some(Verdict::Reopen);
    }
    // Open, and its person cannot be reached: straight to the fallback group.
    if people.unreachable.contains(m.recipient) && m.recipient != rules.fallback {
        return Some(Verdict::Escalate {
            recipient: rules.fallback.to_string(),
            step: rules.steps.len() as i64,
        });
    }
    // Open: escalate after enough unanswered reminders, to the first step
    // of the chain that names someone new.
    let (from, steps) = rules.steps_left(m)?;
    steps.iter().enumerate().find_map(|(i, s)| {
        let to = match s {
            EscalationStep::Group => snapshot
                .owner
                .and_then(|o| people.groups.get(o))
                .and_then(|gs| gs.first())
                .map(|g| RecipientKey::Group(g).to_string()),
            EscalationStep::Manager => snapshot
                .owner
                .and_then(|o| people.users.get(o))
                .and_then(|u| u.manager.clone()),
            EscalationStep::Fallback => Some(rules.fallback.to_string()),
        };
        to.filter(|t| t != m.recipient)
            .map(|recipient| Verdict::Escalate {
                recipient,
                step: (from + i) as i64 + 1,
            })
    })
}

/// What verifying a campaign did, and its machines after it.
pub(super) struct Verified {
    /// What changed (resolved, reopened, escalated, rerouted).
    pub summary: WaveSummary,
    /// The campaign's machines not resolved, with the changes applied.
    pub unresolved: Vec<CampaignMachine>,
}

/// A change written to the store, applied to the wave's copy of the
/// machine as the store applies it; `false` when the machine is resolved
/// (and leaves the wave).
pub(crate) fn apply(m: &mut CampaignMachine, change: &MachineChange) -> bool {
    match change {
        MachineChange::Resolve(_) => return false,
        MachineChange::Reopen => {
            m.state = MachineState::Open.as_str().into();
            m.resolution = Some(Resolution::Reopened.as_str().into());
        }
        MachineChange::Escalate { recipient, step } => {
            m.recipient = recipient.clone();
            m.escalation = *step;
        }
        MachineChange::Reroute { recipient, from } => {
            m.recipient = recipient.clone();
            m.transfer_from = Some(from.clone());
            m.state = MachineState::Open.as_str().into();
            m.escalation = 0;
        }
    }
    // Every change that keeps the machine starts its reminders afresh.
    m.reminders = 0;
    m.last_messaged = None;
    true
}

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
        Ok(self.verify_against(c, users, now, &matching).await?.summary)
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
    ) -> Result<Verified, EngineError> {
        let mut out = WaveSummary::default();
        let as_of = self.as_of(now);
        let mut machines: Vec<CampaignMachine> = self
            .store
            .campaign_machines(c.row.id)
            .await?
            .into_iter()
            .filter(|m| MachineState::of(m) != MachineState::Resolved)
            .collect();
        if machines.is_empty() {
            return Ok(Verified {
                summary: out,
                unresolved: machines,
            });
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
        let fallback = RecipientKey::Group(&c.spec.fallback_group).to_string();
        let rules = Rules {
            kind: c.spec.kind,
            deadline: c.spec.deadline,
            today: now.date_naive(),
            escalate_after: c.spec.schedule.escalate_after,
            steps: &c.spec.schedule.escalation,
            fallback: &fallback,
        };
        // People whose email failed for good: their machines go to the
        // fallback group rather than waiting on a message nobody receives.
        let unreachable: HashSet<String> = self
            .store
            .unreachable(c.row.id)
            .await?
            .into_iter()
            .collect();
        // Each machine with what its latest snapshot says.
        let read: Vec<(&CampaignMachine, Snapshot)> = machines
            .iter()
            .filter_map(|cm| {
                let row = still
                    .get(&cm.machine_id)
                    .copied()
                    .or_else(|| gone.get(&cm.machine_id))?;
                let snapshot = Snapshot {
                    still_target: still.contains_key(&cm.machine_id),
                    fresh: as_of.is_fresh(row.last_report),
                    owner: row
                        .responsible
                        .as_ref()
                        .or(row.main_user.as_ref())
                        .map(|f| f.login.as_str()),
                };
                Some((cm, snapshot))
            })
            .collect();
        // The groups of the owners whose machines may climb to their group,
        // read before judging: one statement per owner when they are few,
        // every membership in one statement otherwise.
        let owners: BTreeSet<&str> = read
            .iter()
            .filter_map(|(cm, snapshot)| group_step_owner(&Standing::of(cm), snapshot, &rules))
            .collect();
        let groups: HashMap<String, Vec<String>> = if owners.len() > OWNER_QUERIES {
            self.store.group_memberships().await?
        } else {
            let mut groups = HashMap::new();
            for owner in owners {
                groups.insert(owner.to_string(), self.store.groups_of(owner).await?);
            }
            groups
        };
        let people = People {
            users,
            groups: &groups,
            unreachable: &unreachable,
        };
        let mut changes = Vec::new();
        for (cm, snapshot) in read {
            if let Some(verdict) = judge(&Standing::of(cm), snapshot, &rules, &people) {
                match verdict {
                    Verdict::Resolve(_) => out.resolved += 1,
                    Verdict::Reopen => out.reopened += 1,
                    Verdict::Reroute { .. } => out.rerouted += 1,
                    Verdict::Escalate { .. } => out.escalated += 1,
                }
                changes.push((cm.machine_id, verdict.change()));
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
            Some(change) => apply(m, change),
        });
        Ok(Verified {
            summary: out,
            unresolved: machines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[EscalationStep] = &[
        EscalationStep::Group,
        EscalationStep::Manager,
        EscalationStep::Fallback,
    ];

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// A machine campaign with a deadline of 2027-01-31, judged on 2026-12-02.
    fn rules(kind: CampaignKind) -> Rules<'static> {
        Rules {
            kind,
            deadline: date("2027-01-31"),
            today: date("2026-12-02"),
            escalate_after: 2,
            steps: STEPS,
            fallback: "group:it-ops",
        }
    }

    fn open(recipient: &str) -> Standing<'_> {
        Standing {
            state: MachineState::Open,
            answer: None,
            answer_date: None,
            answer_detail: None,
            answered_by: None,
            exception: None,
            recipient,
            transfer_from: None,
            reminders: 0,
            escalation: 0,
        }
    }

    fn answered(kind: AnswerKind, date: Option<NaiveDate>) -> Standing<'static> {
        Standing {
            state: MachineState::Answered,
            answer: Some(kind),
            answer_date: date,
            answered_by: Some("jdoe"),
            ..open("jdoe")
        }
    }

    const REPORTING: Snapshot<'static> = Snapshot {
        still_target: true,
        fresh: true,
        owner: Some("jdoe"),
    };

    /// The directory: jdoe (managed by boss, in groups devs and ops) and asmith.
    struct Site {
        users: HashMap<String, User>,
        groups: HashMap<String, Vec<String>>,
        unreachable: HashSet<String>,
    }

    impl Site {
        fn new() -> Self {
            let user = |login: &str, manager: Option<&str>| User {
                login: login.into(),
                manager: manager.map(str::to_string),
                ..Default::default()
            };
            Site {
                users: [user("jdoe", Some("boss")), user("asmith", None)]
                    .into_iter()
                    .map(|u| (u.login.clone(), u))
                    .collect(),
                groups: HashMap::from([("jdoe".into(), vec!["devs".into(), "ops".into()])]),
                unreachable: HashSet::new(),
            }
        }

        fn people(&self) -> People<'_> {
            People {
                users: &self.users,
                groups: &self.groups,
                unreachable: &self.unreachable,
            }
        }
    }

    fn judged(m: &Standing, snapshot: Snapshot, kind: CampaignKind) -> Option<Verdict> {
        judge(m, snapshot, &rules(kind), &Site::new().people())
    }

    #[test]
    fn a_machine_that_reports_something_supported_now_is_resolved_by_what_was_promised() {
        let moved_on = Snapshot {
            still_target: false,
            ..REPORTING
        };
        let cases = [
            (Some(AnswerKind::Upgrade), Resolution::Upgraded),
            (Some(AnswerKind::Replace), Resolution::Replaced),
            (Some(AnswerKind::Keep), Resolution::Fixed),
            (None, Resolution::Fixed),
        ];
        for (answer, why) in cases {
            let m = Standing {
                answer,
                ..open("jdoe")
            };
            assert_eq!(
                judged(&m, moved_on, CampaignKind::Eol),
                Some(Verdict::Resolve(why)),
                "{answer:?}"
            );
        }
        // A licence campaign: the program is gone from a fresh snapshot.
        assert_eq!(
            judged(&open("jdoe"), moved_on, CampaignKind::Licence),
            Some(Verdict::Resolve(Resolution::Uninstalled))
        );
    }

    #[test]
    fn a_silent_machine_is_resolved_only_when_it_was_to_be_decommissioned() {
        let silent = Snapshot {
            still_target: false,
            fresh: false,
            owner: Some("jdoe"),
        };
        assert_eq!(judged(&open("jdoe"), silent, CampaignKind::Eol), None);
        assert_eq!(
            judged(
                &answered(AnswerKind::Decommission, None),
                silent,
                CampaignKind::Eol
            ),
            Some(Verdict::Resolve(Resolution::Decommissioned))
        );
    }

    #[test]
    fn a_dated_promise_still_contradicted_after_its_date_is_reopened() {
        let before = Some(date("2026-12-01"));
        let after = Some(date("2026-12-10"));
        for kind in [AnswerKind::Upgrade, AnswerKind::Esu, AnswerKind::Uninstall] {
            assert_eq!(
                judged(&answered(kind, before), REPORTING, CampaignKind::Eol),
                Some(Verdict::Reopen),
                "{kind:?}"
            );
            assert_eq!(
                judged(&answered(kind, after), REPORTING, CampaignKind::Eol),
                None,
                "{kind:?}"
            );
        }
        // Decommissioning has until the campaign's deadline.
        let late = Rules {
            today: date("2027-02-01"),
            ..rules(CampaignKind::Eol)
        };
        let m = answered(AnswerKind::Decommission, None);
        assert_eq!(judged(&m, REPORTING, CampaignKind::Eol), None);
        assert_eq!(
            judge(&m, REPORTING, &late, &Site::new().people()),
            Some(Verdict::Reopen)
        );
    }

    #[test]
    fn an_exception_is_asked_again_when_declined_or_two_weeks_before_it_ends() {
        let exception = |state, until: &str| Standing {
            exception: Some(state),
            ..answered(AnswerKind::Exception, Some(date(until)))
        };
        let verdict = |m: &Standing| judged(m, REPORTING, CampaignKind::Eol);
        assert_eq!(
            verdict(&exception(ExceptionState::Requested, "2026-12-03")),
            None
        );
        assert_eq!(
            verdict(&exception(ExceptionState::Declined, "2027-06-30")),
            Some(Verdict::Reopen)
        );
        assert_eq!(
            verdict(&exception(ExceptionState::Approved, "2026-12-17")),
            None
        );
        assert_eq!(
            verdict(&exception(ExceptionState::Approved, "2026-12-16")),
            Some(Verdict::Reopen)
        );
    }

    #[test]
    fn not_mine_hands_the_machine_to_a_known_person_named_else_to_the_fallback_group() {
        let not_mine = |named: &'static str, transfer_from| Standing {
            answer_detail: Some(named),
            transfer_from,
            ..answered(AnswerKind::NotMine, None)
        };
        assert_eq!(
            judged(&not_mine("asmith", None), REPORTING, CampaignKind::Eol),
            Some(Verdict::Reroute {
                recipient: "asmith".into(),
                from: "jdoe".into()
            })
        );
        // Nobody the directory knows.
        assert_eq!(
            judged(&not_mine("nobody", None), REPORTING, CampaignKind::Eol),
            Some(Verdict::Reroute {
                recipient: "group:it-ops".into(),
                from: "jdoe".into()
            })
        );
        // Back to whoever passed it on: going in circles.
        assert_eq!(
            judged(
                &not_mine("asmith", Some("asmith")),
                REPORTING,
                CampaignKind::Eol
            ),
            Some(Verdict::Reroute {
                recipient: "group:it-ops".into(),
                from: "jdoe".into()
            })
        );
    }

    #[test]
    fn an_unanswered_machine_climbs_the_chain_to_the_first_step_that_names_someone_new() {
        let waited = |escalation, recipient| Standing {
            reminders: 2,
            escalation,
            ..open(recipient)
        };
        let verdict = |m: &Standing| judged(m, REPORTING, CampaignKind::Eol);
        // One reminder short: nothing yet.
        assert_eq!(
            verdict(&Standing {
                reminders: 1,
                ..open("jdoe")
            }),
            None
        );
        // The owner's first group (by name).
        assert_eq!(
            verdict(&waited(0, "jdoe")),
            Some(Verdict::Escalate {
                recipient: "group:devs".into(),
                step: 1
            })
        );
        // Then the owner's manager.
        assert_eq!(
            verdict(&waited(1, "group:devs")),
            Some(Verdict::Escalate {
                recipient: "boss".into(),
                step: 2
            })
        );
        // Then the fallback group; past the last step, nothing more.
        assert_eq!(
            verdict(&waited(2, "boss")),
            Some(Verdict::Escalate {
                recipient: "group:it-ops".into(),
                step: 3
            })
        );
        assert_eq!(verdict(&waited(3, "group:it-ops")), None);
        // An owner with no group and no manager goes straight to the fallback.
        let orphan = Snapshot {
            owner: Some("asmith"),
            ..REPORTING
        };
        assert_eq!(
            judged(&waited(0, "asmith"), orphan, CampaignKind::Eol),
            Some(Verdict::Escalate {
                recipient: "group:it-ops".into(),
                step: 3
            })
        );
    }

    #[test]
    fn an_open_machine_of_someone_whose_email_failed_goes_straight_to_the_fallback_group() {
        let mut site = Site::new();
        site.unreachable.insert("jdoe".into());
        let rules = rules(CampaignKind::Eol);
        assert_eq!(
            judge(&open("jdoe"), REPORTING, &rules, &site.people()),
            Some(Verdict::Escalate {
                recipient: "group:it-ops".into(),
                step: 3
            })
        );
        // An answer stands, reachable or not.
        assert_eq!(
            judge(
                &answered(AnswerKind::Keep, None),
                REPORTING,
                &rules,
                &site.people()
            ),
            None
        );
    }

    #[test]
    fn only_an_open_target_with_the_group_step_ahead_needs_its_owners_groups() {
        let rules = rules(CampaignKind::Eol);
        let waited = |escalation| Standing {
            reminders: 2,
            escalation,
            ..open("jdoe")
        };
        assert_eq!(
            group_step_owner(&waited(0), &REPORTING, &rules),
            Some("jdoe")
        );
        // The group step is behind it: the manager and the fallback are left.
        assert_eq!(group_step_owner(&waited(1), &REPORTING, &rules), None);
        let answered = answered(AnswerKind::Keep, None);
        assert_eq!(group_step_owner(&answered, &REPORTING, &rules), None);
        let gone = Snapshot {
            still_target: false,
            ..REPORTING
        };
        assert_eq!(group_step_owner(&waited(0), &gone, &rules), None);
        let orphan = Snapshot {
            owner: None,
            ..REPORTING
        };
        assert_eq!(group_step_owner(&waited(0), &orphan, &rules), None);
    }
}
