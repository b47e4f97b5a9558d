//! Planning a wave: which machines a campaign targets, who is asked about
//! each, and the digests that result (one per person, listing all of their
//! target machines). Pure functions over data the caller loaded; the only
//! store access is through the store trait, in [`load_targets`],
//! [`load_matching`], [`load_holdings`] and [`Scope::load`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use winventory_core::store::{MachineRow, Store};
use winventory_core::{AsOf, Catalog, CycleRef, HostKey, Lifecycle, User};

use crate::answer::AnswerKind;
use crate::recipients::{Recipient, recipient_for};
use crate::spec::{CampaignKind, CampaignSpec, ProductCycles};

/// What a licence campaign asks about on each machine: the applications it
/// names that the machine holds, with their last use where metered.
pub type Holdings = HashMap<i64, Vec<(String, Option<DateTime<Utc>>)>>;

/// The holdings of a licence campaign's applications (empty for other kinds).
pub async fn load_holdings(
    store: &dyn Store,
    spec: &CampaignSpec,
) -> winventory_core::store::Result<Holdings> {
    let mut out = Holdings::new();
    if spec.kind != CampaignKind::Licence {
        return Ok(out);
    }
    for (id, app, used) in store
        .application_installs(&spec.target.applications)
        .await?
    {
        out.entry(id).or_default().push((app, used));
    }
    Ok(out)
}

fn cref(product: &str, cycle: &str) -> CycleRef {
    CycleRef {
        product: product.to_string(),
        cycle: cycle.to_string(),
    }
}

/// The cycles a list of product/cycles names (a product alone: all its cycles).
fn expand(catalog: &Catalog, list: &[ProductCycles]) -> Vec<CycleRef> {
    let mut out = Vec::new();
    for pc in list {
        if pc.cycles.is_empty() {
            out.extend(
                catalog
                    .cycles()
                    .filter(|c| c.product == pc.product)
                    .map(|c| cref(&c.product, &c.cycle)),
            );
        } else {
            for c in &pc.cycles {
                let cycle = catalog.find_cycle(&pc.product, c).unwrap_or(c);
                out.push(cref(&pc.product, cycle));
            }
        }
    }
    out
}

/// Products or cycles of the target that the catalog does not know (likely
/// typos: they match nothing). For `campaign create` to warn about.
pub fn unknown_targets(catalog: &Catalog, spec: &CampaignSpec) -> Vec<String> {
    let mut out = Vec::new();
    for pc in spec.target.os.iter().chain(&spec.target.software) {
        if !catalog.has_product(&pc.product) {
            out.push(format!("product {:?}", pc.product));
            continue;
        }
        for c in &pc.cycles {
            if catalog.find_cycle(&pc.product, c).is_none() {
                out.push(format!("cycle {:?} of {:?}", c, pc.product));
            }
        }
    }
    out
}

/// The target machines of a campaign as of a date: fresh machines matching
/// the OS, software or end-of-life rule, then every limit given.
pub async fn load_targets(
    store: &dyn Store,
    catalog: &Catalog,
    spec: &CampaignSpec,
    as_of: &AsOf,
) -> winventory_core::store::Result<Vec<MachineRow>> {
    let mut machines = load_matching(store, catalog, spec, as_of).await?;
    let scope = Scope::load(store, spec, as_of).await?;
    machines.retain(|m| scope.contains(m));
    Ok(machines)
}

/// Fresh machines that run what the campaign is about (its OS, software or
/// end-of-life rule), before the limits to groups, applications or hosts.
/// A campaign machine that leaves this set is dealt with; one that only
/// leaves the limits (its owner changed group, it was handed to someone
/// else) is not.
pub async fn load_matching(
    store: &dyn Store,
    catalog: &Catalog,
    spec: &CampaignSpec,
    as_of: &AsOf,
) -> winventory_core::store::Result<Vec<MachineRow>> {
    let t = &spec.target;
    if spec.kind == CampaignKind::Licence {
        // Every fresh holder of the application (unused_days is a limit:
        // a machine whose owner used the program again stays a target).
        let ids: Vec<i64> = load_holdings(store, spec).await?.into_keys().collect();
        let mut machines = store.machines_by_id(&ids).await?;
        machines.retain(|m| as_of.is_fresh(m.last_report));
        machines.sort_by_key(|m| m.id);
        return Ok(machines);
    }
    let mut os = expand(catalog, &t.os);
    let mut software = expand(catalog, &t.software);
    if let Some(days) = t.eol_within_days {
        let until = winventory_core::domain::days_after(as_of.date, i64::from(days));
        let due: Vec<CycleRef> = catalog
            .cycles()
            .filter(|c| c.eol.is_some_and(|e: Lifecycle| e.is_over(until)))
            .map(|c| cref(&c.product, &c.cycle))
            .collect();
        // A product is either an OS or software; each query matches only its kind.
        os.extend(due.iter().cloned());
        software.extend(due);
    }
    store
        .machines_with_cycles(&os, &software, as_of.fresh_cutoff())
        .await
}

/// A campaign's limits (hosts, applications, owners' groups), loaded once.
#[derive(Debug, Default)]
pub struct Scope {
    hosts: Option<HashSet<String>>,
    applications: Option<HashSet<i64>>,
    members: Option<HashSet<String>>,
    unused: Option<HashSet<i64>>,
}

impl Scope {
    /// The limits of `spec`, with what they need from the store.
    pub async fn load(
        store: &dyn Store,
        spec: &CampaignSpec,
        as_of: &AsOf,
    ) -> winventory_core::store::Result<Self> {
        let t = &spec.target;
        let mut scope = Scope::default();
        if let (CampaignKind::Licence, Some(days)) = (spec.kind, t.unused_days) {
            // Installs whose metered last use is older than the window.
            let cut = winventory_core::domain::instant_days_before(as_of.instant, i64::from(days));
            scope.unused = Some(
                load_holdings(store, spec)
                    .await?
                    .into_iter()
                    .filter(|(_, apps)| apps.iter().any(|(_, u)| u.is_some_and(|u| u < cut)))
                    .map(|(id, _)| id)
                    .collect(),
            );
        }
        if !t.hosts.is_empty() {
            scope.hosts = Some(
                t.hosts
                    .iter()
                    .map(|h| HostKey::new(h).as_str().to_string())
                    .collect(),
            );
        }
        // A licence campaign's applications are what it matches, not a limit.
        if !t.applications.is_empty() && spec.kind != CampaignKind::Licence {
            scope.applications = Some(
                store
                    .machines_with_applications(&t.applications)
                    .await?
                    .into_iter()
                    .collect(),
            );
        }
        if !t.groups.is_empty() {
            scope.members = Some(
                store
                    .group_members(&t.groups)
                    .await?
                    .into_iter()
                    .map(|(_, login)| login)
                    .collect(),
            );
        }
        Ok(scope)
    }

    /// Whether a matching machine is within every limit.
    pub fn contains(&self, m: &MachineRow) -> bool {
        self.hosts
            .as_ref()
            .is_none_or(|h| h.contains(HostKey::new(&m.hostname).as_str()))
            && self.applications.as_ref().is_none_or(|a| a.contains(&m.id))
            && self.unused.as_ref().is_none_or(|u| u.contains(&m.id))
            && self.members.as_ref().is_none_or(|g| {
                [&m.responsible, &m.main_user]
                    .into_iter()
                    .flatten()
                    .any(|f| g.contains(&f.login))
            })
    }
}

/// Who is asked about a machine, as stored in `campaign_machines.recipient`.
pub fn recipient_key(m: &MachineRow, fallback_group: &str) -> String {
    match recipient_for(m.responsible.as_ref(), m.main_user.as_ref(), fallback_group) {
        Recipient::Person(login) => login,
        Recipient::FallbackGroup(g) => crate::engine::states::RecipientKey::Group(&g).to_string(),
    }
}

/// A machine as a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestMachine {
    /// Machine id.
    pub machine_id: i64,
    /// Hostname.
    pub hostname: String,
    /// What it runs (OS caption).
    pub os: String,
    /// The matched OS release as people say it (`Windows Server 2012 R2`), if matched.
    pub cycle: Option<String>,
    /// End of life, `YYYY-MM-DD`, if dated.
    pub eol: Option<NaiveDate>,
    /// End of extended (paid) support, if sold.
    pub extended_support_end: Option<NaiveDate>,
    /// The answers offered for this machine.
    pub answers: Vec<AnswerKind>,
    /// Who passed it on to this person with "not mine", if anyone.
    pub passed_on_by: Option<String>,
    /// Licence campaigns: the applications asked about that it holds.
    pub application: Option<String>,
    /// Licence campaigns: their last use there, where metered.
    pub last_used: Option<NaiveDate>,
    /// The answer the inventory contradicted after its date, as the person
    /// gave it (`uninstall by 2026-12-15`), when the machine is asked again.
    pub reopened: Option<String>,
}

/// Someone a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Addressee {
    /// Login (a person) or `group:NAME` (a fallback group).
    pub login: String,
    /// Display name (the login when unknown).
    pub name: String,
    /// Email address, if known.
    pub email: Option<String>,
    /// Matrix ID, if known.
    pub matrix_id: Option<String>,
    /// Mattermost username, if known.
    pub mattermost_username: Option<String>,
    /// Language tag (`en`, `fr`).
    pub language: String,
    /// IANA time zone, if known.
    pub time_zone: Option<String>,
}

impl Addressee {
    /// From a directory entry, or just a login.
    pub fn of(login: &str, user: Option<&User>) -> Self {
        Self {
            login: login.to_string(),
            name: user
                .and_then(|u| u.name.clone())
                .unwrap_or_else(|| login.to_string()),
            email: user.and_then(|u| u.email.clone()),
            matrix_id: user.and_then(|u| u.matrix_id.clone()),
            mattermost_username: user.and_then(|u| u.mattermost_username.clone()),
            language: user
                .and_then(|u| u.language.clone())
                .map(|l| l.split(['-', '_']).next().unwrap_or("en").to_lowercase())
                .unwrap_or_else(|| "en".into()),
            time_zone: user.and_then(|u| u.time_zone.clone()),
        }
    }
}

fn date_of(l: Option<Lifecycle>) -> Option<NaiveDate> {
    match l {
        Some(Lifecycle::Date(d)) => Some(d),
        _ => None,
    }
}

/// A machine as a campaign's digest lists it.
pub fn digest_machine(
    spec: &CampaignSpec,
    catalog: &Catalog,
    m: &MachineRow,
    today: NaiveDate,
    holdings: &Holdings,
) -> DigestMachine {
    let held = holdings.get(&m.id);
    let info = m
        .os_match
        .as_ref()
        .and_then(|c| catalog.get(&c.product, &c.cycle));
    // Extended support is offered while it can still be bought.
    let esu = info
        .and_then(|i| date_of(i.extended_support_end))
        .filter(|d| *d >= today);
    DigestMachine {
        machine_id: m.id,
        hostname: m.hostname.clone(),
        os: m.os.caption.clone(),
        // The release as people say it (every cycle of the catalog has one).
        cycle: info.and_then(|i| i.label.clone()),
        eol: info.and_then(|i| date_of(i.eol)),
        extended_support_end: esu,
        answers: spec
            .answers()
            .iter()
            .copied()
            .filter(|a| *a != AnswerKind::Esu || esu.is_some())
            .collect(),
        passed_on_by: None,
        application: held.map(|apps| {
            apps.iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }),
        last_used: held
            .and_then(|apps| apps.iter().filter_map(|(_, u)| *u).max())
            .map(|u| u.date_naive()),
        reopened: None,
    }
}
