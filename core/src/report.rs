//! The reports every edge shows (CLI today, chat later): rows computed from
//! the store and the catalog under the format's time rules. Each row type
//! serialises to the JSON contract of `docs/cli.md`; rendering as a table or
//! CSV is the edge's business.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::domain::{AsOf, CycleRef, Lifecycle, OsInfo, OwnerFact};
use crate::store::{MachineInFull, MachineRow, Result, Store};

/// One row of `report os`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsRow {
    /// Product, `None` for the unmatched row.
    pub product: Option<String>,
    /// Cycle.
    pub cycle: Option<String>,
    /// The release as people say it (`Windows 10 22H2`).
    pub label: Option<String>,
    /// End of life.
    pub eol: Option<Lifecycle>,
    /// End of extended support.
    pub extended_support_end: Option<Lifecycle>,
    /// Fresh machines.
    pub machines: i64,
}

/// What a report as of a date can know. The store keeps only each
/// machine's latest report, so a dated report counts the machines whose
/// latest report was collected before its instant ([`AsOf::window`]) and
/// leaves out those reported since: their state then is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Machines whose latest report was collected after the as-of date
    /// (always 0 without a date).
    pub reported_since: i64,
}

impl Known {
    /// What a report should say beside its rows when machines were left
    /// out, for people (the rows' JSON shape stays as it is).
    pub fn note(&self, as_of: &AsOf) -> Option<String> {
        (self.reported_since > 0).then(|| {
            let (n, s) = if self.reported_since == 1 {
                ("1 machine".to_string(), "its")
            } else {
                (format!("{} machines", self.reported_since), "their")
            };
            format!(
                "as of {}: {n} reported after that date {} not counted (only each machine's latest report is kept, so {s} state then is unknown)",
                as_of.date,
                if self.reported_since == 1 { "is" } else { "are" },
            )
        })
    }
}

/// Why a dated report cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum AsOfError {
    /// Every stored report was collected after the date.
    #[error(
        "nothing is known as of {date}: only each machine's latest report is kept, and the oldest stored one was collected on {earliest}; the earliest date a report can answer is {earliest} (a date before the latest reports leaves out the machines reported since)"
    )]
    BeforeOldestReport {
        /// The date asked.
        date: NaiveDate,
        /// The earliest date that can be answered.
        earliest: NaiveDate,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The one check every report taking an as-of date makes first: refused
/// when the date is before every stored report (nothing was known then),
/// otherwise how many machines the date leaves out.
pub async fn known_as_of(store: &dyn Store, as_of: &AsOf) -> Result<Known, AsOfError> {
    let Some(before) = as_of.known_before else {
        return Ok(Known { reported_since: 0 });
    };
    let (oldest, reported_since) = store.reported_since(before).await?;
    match oldest {
        Some(oldest) if !as_of.is_known(oldest) => Err(AsOfError::BeforeOldestReport {
            date: as_of.date,
            earliest: oldest.date_naive(),
        }),
        _ => Ok(Known { reported_since }),
    }
}

/// `report os`: fresh machines per OS cycle, sorted by product then cycle,
/// the unmatched ones last.
pub async fn os_report(store: &dyn Store, catalog: &Catalog, as_of: &AsOf) -> Result<Vec<OsRow>> {
    os_report_in(store, catalog, as_of, None).await
}

/// [`os_report`] of the machines whose responsible or main user is in a
/// directory group (every machine without one).
pub async fn os_report_in(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    group: Option<&str>,
) -> Result<Vec<OsRow>> {
    let mut unmatched = 0;
    let mut rows = Vec::new();
    let counts = match group {
        Some(g) => store.os_counts_in_group(as_of.window(), g).await?,
        None => store.os_counts(as_of.window()).await?,
    };
    for (m, n) in counts {
        match m {
            None => unmatched += n,
            Some(c) => {
                let info = catalog.get(&c.product, &c.cycle);
                rows.push(OsRow {
                    label: info.and_then(|i| i.label.clone()),
                    eol: info.and_then(|i| i.eol),
                    extended_support_end: info.and_then(|i| i.extended_support_end),
                    product: Some(c.product),
                    cycle: Some(c.cycle),
                    machines: n,
                });
            }
        }
    }
    rows.sort_by(|a, b| (&a.product, &a.cycle).cmp(&(&b.product, &b.cycle)));
    if unmatched > 0 {
        rows.push(OsRow {
            product: None,
            cycle: None,
            label: None,
            eol: None,
            extended_support_end: None,
            machines: unmatched,
        });
    }
    Ok(rows)
}

/// One row of `report eol` and `report software`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CycleRow {
    /// `os` or `software`.
    pub kind: &'static str,
    /// Product.
    pub product: String,
    /// Cycle.
    pub cycle: String,
    /// The release as people say it (`Notepad++ 8.6`).
    pub label: Option<String>,
    /// End of life.
    pub eol: Option<Lifecycle>,
    /// End of extended support.
    pub extended_support_end: Option<Lifecycle>,
    /// Fresh machines.
    pub machines: i64,
}

fn cycle_row(catalog: &Catalog, kind: &'static str, c: CycleRef, machines: i64) -> CycleRow {
    let info = catalog.get(&c.product, &c.cycle);
    CycleRow {
        kind,
        label: info.and_then(|i| i.label.clone()),
        eol: info.and_then(|i| i.eol),
        extended_support_end: info.and_then(|i| i.extended_support_end),
        product: c.product,
        cycle: c.cycle,
        machines,
    }
}

/// The date a `--within DAYS` window ends on (the last date there is, for
/// a window past it: any number of days is a valid question).
pub fn horizon(as_of: &AsOf, within_days: u32) -> NaiveDate {
    crate::domain::days_after(as_of.date, i64::from(within_days))
}

/// `report eol`: OS and software cycles that have ended by as-of + `within`
/// days; `true` first, then by date, product, cycle.
pub async fn eol_report(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    within_days: u32,
) -> Result<Vec<CycleRow>> {
    let until = horizon(as_of, within_days);
    let window = as_of.window();
    let mut rows: Vec<CycleRow> = Vec::new();
    // The two counts are independent: run them at once on two connections.
    let (os, software) =
        futures::try_join!(store.os_counts(window), store.software_counts(window))?;
    for (m, n) in os {
        if let Some(c) = m {
            rows.push(cycle_row(catalog, "os", c, n));
        }
    }
    for (c, n) in software {
        rows.push(cycle_row(catalog, "software", c, n));
    }
    rows.retain(|r| r.eol.is_some_and(|e| e.is_over(until)));
    rows.sort_by(|a, b| {
        let ka = a.eol.map(Lifecycle::sort_key);
        let kb = b.eol.map(Lifecycle::sort_key);
        (ka, &a.product, &a.cycle).cmp(&(kb, &b.product, &b.cycle))
    });
    Ok(rows)
}

/// One row of `report software --by application`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationRow {
    /// Application.
    pub application: String,
    /// Fresh machines.
    pub machines: i64,
}

/// `report software`: fresh machines per matched software cycle.
pub async fn software_report(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
) -> Result<Vec<CycleRow>> {
    software_report_in(store, catalog, as_of, None).await
}

/// [`software_report`] of the machines whose responsible or main user is
/// in a directory group (every machine without one).
pub async fn software_report_in(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    group: Option<&str>,
) -> Result<Vec<CycleRow>> {
    let counts = match group {
        Some(g) => store.software_counts_in_group(as_of.window(), g).await?,
        None => store.software_counts(as_of.window()).await?,
    };
    let mut rows: Vec<CycleRow> = counts
        .into_iter()
        .map(|(c, n)| cycle_row(catalog, "software", c, n))
        .collect();
    rows.sort_by(|a, b| (&a.product, &a.cycle).cmp(&(&b.product, &b.cycle)));
    Ok(rows)
}

/// `report software --by application`.
pub async fn application_report(store: &dyn Store, as_of: &AsOf) -> Result<Vec<ApplicationRow>> {
    Ok(store
        .application_counts(as_of.window())
        .await?
        .into_iter()
        .map(|(application, machines)| ApplicationRow {
            application,
            machines,
        })
        .collect())
}

/// An owner as `machine HOST` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerView {
    /// The person's login (their key in the directory).
    pub login: String,
    /// `snapshot`, `network-db` or `answer`.
    pub source: &'static str,
    /// Name from the directory.
    pub name: Option<String>,
    /// Email from the directory.
    pub email: Option<String>,
}

/// One program as `machine HOST` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoftwareView {
    /// `DisplayName` as the machine reported it.
    pub name: String,
    /// Version.
    pub version: String,
    /// Publisher.
    pub publisher: String,
    /// Install date.
    pub install_date: Option<NaiveDate>,
    /// Last use.
    pub last_used: Option<DateTime<Utc>>,
    /// Matched product.
    pub product: Option<String>,
    /// Matched cycle.
    pub cycle: Option<String>,
    /// The matched release as people say it (`Python 3.13`).
    pub label: Option<String>,
    /// Its end of life.
    pub eol: Option<Lifecycle>,
    /// Application.
    pub application: Option<String>,
}

/// Everything known about one machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MachineView {
    /// Hostname as last reported.
    pub hostname: String,
    /// Domain.
    pub domain: Option<String>,
    /// OS facts.
    pub os: OsInfo,
    /// Matched OS product.
    pub product: Option<String>,
    /// Matched OS cycle.
    pub cycle: Option<String>,
    /// The OS release as people say it (`Windows 11 23H2 Enterprise`).
    pub label: Option<String>,
    /// End of life of the OS cycle.
    pub eol: Option<Lifecycle>,
    /// End of extended support.
    pub extended_support_end: Option<Lifecycle>,
    /// First stored.
    pub first_seen: DateTime<Utc>,
    /// Last time a report won.
    pub last_seen: DateTime<Utc>,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// Outside the freshness window.
    pub stale: bool,
    /// Responsible.
    pub responsible: Option<OwnerView>,
    /// Main user.
    pub main_user: Option<OwnerView>,
    /// Installed programs.
    pub software: Vec<SoftwareView>,
}

fn owner_view(f: Option<OwnerFact>, contact: crate::store::Contact) -> Option<OwnerView> {
    f.map(|f| OwnerView {
        source: f.source.as_str(),
        name: contact.name,
        email: contact.email,
        login: f.login,
    })
}

/// `machine HOST`: one machine, stale or not; `None` if no such host is stored.
pub async fn machine_report(
    store: &dyn Store,
    catalog: &Catalog,
    hostname: &str,
    as_of: &AsOf,
) -> Result<Option<MachineView>> {
    let key = crate::domain::HostKey::new(hostname);
    // The machine, its owners' contacts and its programs in one round trip
    // (a second one reads titles not yet kept; four, one per person and the
    // list, put the p99 of a machine read
    // through the API at 25 ms on PostgreSQL at 1,000/s; in parallel they
    // took three pooled connections each and queued).
    let Some(MachineInFull {
        machine: m,
        responsible,
        main_user,
        software: installed,
    }) = store.machine_in_full(key.as_str()).await?
    else {
        return Ok(None);
    };
    let software = installed
        .into_iter()
        .map(|s| {
            let info = s
                .cycle
                .as_ref()
                .and_then(|c| catalog.get(&c.product, &c.cycle));
            SoftwareView {
                name: s.name,
                version: s.version,
                publisher: s.publisher,
                install_date: s.install_date,
                last_used: s.last_used,
                product: s.cycle.as_ref().map(|c| c.product.clone()),
                cycle: s.cycle.map(|c| c.cycle),
                label: info.and_then(|i| i.label.clone()),
                eol: info.and_then(|i| i.eol),
                application: s.application,
            }
        })
        .collect();
    let info = m
        .os_match
        .as_ref()
        .and_then(|c| catalog.get(&c.product, &c.cycle));
    Ok(Some(MachineView {
        stale: !as_of.is_fresh(m.last_report),
        label: info.and_then(|i| i.label.clone()),
        eol: info.and_then(|i| i.eol),
        extended_support_end: info.and_then(|i| i.extended_support_end),
        product: m.os_match.as_ref().map(|c| c.product.clone()),
        cycle: m.os_match.as_ref().map(|c| c.cycle.clone()),
        hostname: m.hostname,
        domain: m.domain,
        os: m.os,
        first_seen: m.first_seen,
        last_seen: m.last_seen,
        last_report: m.last_report,
        responsible: owner_view(m.responsible, responsible),
        main_user: owner_view(m.main_user, main_user),
        software,
    }))
}

/// Something on a machine that has ended or ends within the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndingItem {
    /// `os` or `software`.
    pub kind: &'static str,
    /// Product.
    pub product: String,
    /// Cycle.
    pub cycle: String,
    /// The release as people say it (`Windows 10 22H2`): what to show
    /// where `product` and `cycle` are the catalog's identifiers.
    pub label: Option<String>,
    /// End of life.
    pub eol: Option<Lifecycle>,
    /// Already ended at as-of.
    pub ended: bool,
}

/// One machine of a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnedMachine {
    /// Hostname as last reported.
    pub hostname: String,
    /// `responsible`, `main_user` or both.
    pub roles: Vec<&'static str>,
    /// OS product.
    pub product: Option<String>,
    /// OS cycle.
    pub cycle: Option<String>,
    /// The OS release as people say it (`Windows 11 23H2 Enterprise`).
    pub label: Option<String>,
    /// OS end of life.
    pub eol: Option<Lifecycle>,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// What has ended or ends within the window.
    pub ending: Vec<EndingItem>,
}

/// `owner LOGIN`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerReport {
    /// The login asked about.
    pub login: String,
    /// The directory's name for them (`None`: not in the directory).
    pub name: Option<String>,
    /// Their e-mail address, if the directory has one.
    pub email: Option<String>,
    /// Fresh machines this person is responsible for or mainly uses.
    pub machines: Vec<OwnedMachine>,
}

/// `owner LOGIN`: a person's fresh machines and what in them has reached or
/// reaches end of life within `within_days`.
pub async fn owner_report(
    store: &dyn Store,
    catalog: &Catalog,
    login: &str,
    as_of: &AsOf,
    within_days: u32,
) -> Result<OwnerReport> {
    let login = crate::domain::normalize_login(login).unwrap_or_default();
    let user = store.user(&login).await?;
    let rows: Vec<MachineRow> = store
        .machines_of(&login)
        .await?
        .into_iter()
        .filter(|m| as_of.counts(m.last_report))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let mut sw: HashMap<i64, Vec<CycleRef>> = HashMap::new();
    for (id, c) in store.software_cycles_of(&ids).await? {
        sw.entry(id).or_default().push(c);
    }
    let until = horizon(as_of, within_days);
    let item = |kind: &'static str, c: &CycleRef| -> Option<EndingItem> {
        let info = catalog.get(&c.product, &c.cycle)?;
        let eol = info.eol?;
        eol.is_over(until).then(|| EndingItem {
            kind,
            product: c.product.clone(),
            cycle: c.cycle.clone(),
            label: info.label.clone(),
            eol: Some(eol),
            ended: eol.is_over(as_of.date),
        })
    };
    let machines = rows
        .into_iter()
        .map(|m| {
            let mut roles = Vec::new();
            if m.responsible.as_ref().is_some_and(|f| f.login == login) {
                roles.push("responsible");
            }
            if m.main_user.as_ref().is_some_and(|f| f.login == login) {
                roles.push("main_user");
            }
            let mut ending: Vec<EndingItem> =
                m.os_match.iter().filter_map(|c| item("os", c)).collect();
            ending.extend(
                sw.get(&m.id)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| item("software", c)),
            );
            let os = m
                .os_match
                .as_ref()
                .and_then(|c| catalog.get(&c.product, &c.cycle));
            OwnedMachine {
                label: os.and_then(|i| i.label.clone()),
                eol: os.and_then(|i| i.eol),
                product: m.os_match.as_ref().map(|c| c.product.clone()),
                cycle: m.os_match.map(|c| c.cycle),
                hostname: m.hostname,
                roles,
                last_report: m.last_report,
                ending,
            }
        })
        .collect();
    Ok(OwnerReport {
        name: user.as_ref().and_then(|u| u.name.clone()),
        email: user.and_then(|u| u.email),
        login,
        machines,
    })
}
