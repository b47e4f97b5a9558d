//! Licence figures that need the campaigns: the installs licence campaigns
//! found no longer needed (confirmed by a later snapshot or not yet), and
//! the licence report that counts the confirmed ones as savings. The
//! counting itself is [`winventory_core::licence`]; this module only
//! gathers what it counts.

use chrono::NaiveDate;
use winventory_core::AsOf;
use winventory_core::licence::{self, LicenceBook, LicenceRow, Removal, RemovalStatus};
use winventory_core::store::{Store, StoreError};

use crate::answer::AnswerKind;
use crate::engine::states::{MachineState, Resolution};
use crate::spec::{CampaignKind, CampaignSpec};

/// Every install licence campaigns (any state, closed ones too) found no
/// longer needed: confirmed when a later snapshot showed it gone (with or
/// without an answer), pending while an "uninstall" or "remove" answer
/// waits for the inventory, overdue when the promised date passed and it
/// was still installed (the campaign asked the owner again).
pub async fn removals(store: &dyn Store) -> Result<Vec<Removal>, StoreError> {
    let mut out = Vec::new();
    for row in store.campaigns().await? {
        if row.kind != CampaignKind::Licence.as_str() {
            continue;
        }
        let spec = CampaignSpec::parse(&row.spec)
            .map_err(|e| StoreError::Corrupt(format!("campaign {}: {e}", row.name)))?;
        let Some(application) = spec.target.applications.first() else {
            continue;
        };
        for cm in store.campaign_machines(row.id).await? {
            let answer = cm.answer.as_deref().and_then(AnswerKind::parse);
            let gives_up = answer.is_some_and(AnswerKind::gives_up_seat);
            let status = match (MachineState::of(&cm), Resolution::of(&cm)) {
                (MachineState::Resolved, Some(Resolution::Uninstalled)) => RemovalStatus::Confirmed,
                (MachineState::Answered, _) if gives_up => RemovalStatus::Pending,
                (MachineState::Open, Some(Resolution::Reopened)) if gives_up => {
                    RemovalStatus::Overdue
                }
                _ => continue,
            };
            out.push(Removal {
                campaign: row.name.clone(),
                application: application.clone(),
                machine_id: cm.machine_id,
                host_key: cm.host_key,
                hostname: cm.hostname,
                answered_by: cm.answered_by,
                answered_at: cm.answered_at,
                answer: cm.answer,
                promised: cm.answer_date,
                status,
                confirmed_at: (status == RemovalStatus::Confirmed)
                    .then_some(cm.resolved_at)
                    .flatten(),
            });
        }
    }
    out.sort_by(|a, b| (&a.campaign, &a.host_key).cmp(&(&b.campaign, &b.host_key)));
    Ok(out)
}

/// The removals as a report as of `as_of` knows them (the rule of
/// [`AsOf::window`] applied to campaigns): without a date, all of them; for
/// a date, a removal seen gone after it was still pending then if its
/// "no longer needed" answer came before, and unknown otherwise; an answer
/// given after it is unknown; a promise whose date had not passed was not
/// overdue yet.
pub fn known_at(removals: Vec<Removal>, as_of: &AsOf) -> Vec<Removal> {
    let Some(before) = as_of.known_before else {
        return removals;
    };
    removals
        .into_iter()
        .filter_map(|mut r| {
            let answered = r.answered_at.is_some_and(|t| t < before)
                && r.answer
                    .as_deref()
                    .and_then(AnswerKind::parse)
                    .is_some_and(AnswerKind::gives_up_seat);
            let status = r.status;
            match status {
                RemovalStatus::Confirmed if r.confirmed_at.is_some_and(|t| t < before) => {}
                RemovalStatus::Confirmed if answered => {
                    r.status = RemovalStatus::Pending;
                    r.confirmed_at = None;
                }
                RemovalStatus::Confirmed => return None,
                _ if !answered => return None,
                RemovalStatus::Overdue if r.promised.is_some_and(|d| d >= as_of.date) => {
                    r.status = RemovalStatus::Pending;
                }
                _ => {}
            }
            Some(r)
        })
        .collect()
}

/// [`removals`] as a report as of `as_of` knows them ([`known_at`]).
pub async fn removals_as_of(store: &dyn Store, as_of: &AsOf) -> Result<Vec<Removal>, StoreError> {
    Ok(known_at(removals(store).await?, as_of))
}

/// The licence report's rows on `day` (the licences of `book` running
/// then), counted over the machines `as_of` counts ([`AsOf::window`]), with
/// the savings the campaigns found by then.
pub async fn rows(
    store: &dyn Store,
    book: &LicenceBook,
    as_of: &AsOf,
    day: NaiveDate,
) -> Result<Vec<LicenceRow>, StoreError> {
    let covers: Vec<_> = book.coverages().into_iter().collect();
    let facts = store.licence_usage(&covers, as_of.window()).await?;
    let removals = removals_as_of(store, as_of).await?;
    Ok(licence::report(book, &facts, &removals, day, as_of.instant))
}
