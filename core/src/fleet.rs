//! Following a report to its machines: the filtered machine list behind
//! `winventory machines`, and the by-product view of end of life that
//! `report eol` shows by default.
//!
//! Every count of a report names a filter here: an OS row of `report os` or
//! `report eol` is `--os PRODUCT:CYCLE`, a software row `--software
//! PRODUCT:CYCLE`, an application `--application NAME`, the unmatched row
//! `--unmatched`; each lists the machines that row counted (the same fresh
//! machines, the same as-of). The database selects by age and owner; the
//! cycles and dates are the catalog's, so they are filtered here, without
//! I/O of its own.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::domain::{AsOf, CycleRef, Lifecycle};
use crate::report::horizon;
use crate::store::{Freshness, MachineRow, MachineSelection, Store, StoreError};

/// A `PRODUCT[:CYCLE]` filter, as typed (`windows-server:2012-r2`, `python`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleFilter {
    /// A catalog product id.
    pub product: String,
    /// One of its cycles; `None`: any.
    pub cycle: Option<String>,
}

impl FromStr for CycleFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (product, cycle) = match s.split_once(':') {
            Some((p, c)) => (p.trim(), Some(c.trim())),
            None => (s.trim(), None),
        };
        if product.is_empty() || cycle.is_some_and(str::is_empty) {
            return Err(format!(
                "{s:?} is not PRODUCT or PRODUCT:CYCLE (for example windows-server:2012-r2)"
            ));
        }
        Ok(Self {
            product: product.to_lowercase(),
            cycle: cycle.map(str::to_string),
        })
    }
}

impl fmt::Display for CycleFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cycle {
            Some(c) => write!(f, "{}:{c}", self.product),
            None => f.write_str(&self.product),
        }
    }
}

impl CycleFilter {
    /// The filter with its cycle spelt as the catalog spells it, or why it
    /// names nothing the catalog knows.
    fn resolve(&self, catalog: &Catalog) -> Result<Self, FleetError> {
        if !catalog.has_product(&self.product) {
            return Err(FleetError::UnknownProduct(self.product.clone()));
        }
        let cycle = match &self.cycle {
            None => None,
            Some(c) => Some(
                catalog
                    .find_cycle(&self.product, c)
                    .ok_or_else(|| FleetError::UnknownCycle {
                        product: self.product.clone(),
                        cycle: c.clone(),
                    })?
                    .to_string(),
            ),
        };
        Ok(Self {
            product: self.product.clone(),
            cycle,
        })
    }

    fn matches(&self, c: &CycleRef) -> bool {
        c.product == self.product && self.cycle.as_ref().is_none_or(|x| *x == c.cycle)
    }
}

/// What `winventory machines` filters on; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct MachineFilter {
    /// The OS is this product (and cycle).
    pub os: Option<CycleFilter>,
    /// Some installed program matched this product (and cycle).
    pub software: Option<CycleFilter>,
    /// Some installed program counts as this application (licences).
    pub application: Option<String>,
    /// Ends within this many days of the as-of date (0: has ended): the OS
    /// named by `os`, the programs named by `software`, or, with neither,
    /// the OS or any matched program.
    pub eol_within: Option<u32>,
    /// The OS matched no catalog cycle.
    pub unmatched: bool,
    /// Fresh (what reports count), stale, or both.
    pub freshness: Freshness,
    /// Responsible for or main user of the machine (a login).
    pub owner: Option<String>,
    /// The responsible or main user is in this directory group.
    pub group: Option<String>,
}

/// A catalog cycle a listed machine has, with what people read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListedCycle {
    /// `os` or `software`.
    pub kind: &'static str,
    /// Catalog product id.
    pub product: String,
    /// Catalog cycle id.
    pub cycle: String,
    /// The name people read (`Windows Server 2012 R2`).
    pub label: String,
    /// End of life.
    pub eol: Option<Lifecycle>,
}

/// One machine of the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListedMachine {
    /// Host name as last reported.
    pub hostname: String,
    /// Windows domain or workgroup.
    pub domain: Option<String>,
    /// The OS caption as reported.
    pub os: String,
    /// Catalog product id of the OS (`None`: unmatched).
    pub product: Option<String>,
    /// Catalog cycle id of the OS.
    pub cycle: Option<String>,
    /// The OS as people name it (`None`: unmatched).
    pub label: Option<String>,
    /// End of life of the OS cycle.
    pub eol: Option<Lifecycle>,
    /// Login of the responsible person.
    pub responsible: Option<String>,
    /// Login of the main user.
    pub main_user: Option<String>,
    /// `collected_at` of the stored report.
    pub last_report: DateTime<Utc>,
    /// Outside the freshness window.
    pub stale: bool,
    /// What made the machine match `--software` or `--eol-within` (empty
    /// for the other filters).
    pub matched: Vec<ListedCycle>,
}

/// Why a listing cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The product is not in the catalog.
    #[error("no product {0:?} in the catalog; `winventory catalog show` lists the products")]
    UnknownProduct(String),
    /// The cycle is not a cycle of the product.
    #[error(
        "{product} has no cycle {cycle:?}; `winventory catalog show {product}` lists its cycles"
    )]
    UnknownCycle {
        /// The product.
        product: String,
        /// The cycle as typed.
        cycle: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn listed(catalog: &Catalog, kind: &'static str, c: &CycleRef) -> ListedCycle {
    let info = catalog.get(&c.product, &c.cycle);
    ListedCycle {
        kind,
        label: label_of(catalog, c),
        eol: info.and_then(|i| i.eol),
        product: c.product.clone(),
        cycle: c.cycle.clone(),
    }
}

/// The name people read for a cycle: its catalog label, else product and
/// cycle.
pub fn label_of(catalog: &Catalog, c: &CycleRef) -> String {
    catalog
        .get(&c.product, &c.cycle)
        .and_then(|i| i.label.clone())
        .unwrap_or_else(|| format!("{} {}", c.product, c.cycle))
}

/// The machines a filter names, in host-name order.
pub async fn list_machines(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    filter: &MachineFilter,
) -> Result<Vec<ListedMachine>, FleetError> {
    let q = Resolved::new(catalog, filter)?;
    let machines = store.select_machines(&q.selection, as_of.window()).await?;
    let rows = filter_batch(store, catalog, as_of, filter, &q, machines).await?;
    Ok(rows.into_iter().map(|(_, m)| m).collect())
}

/// One page of [`list_machines`]: at most `limit` machines after the
/// cursor, and the cursor of the next page when there is one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachinePage {
    /// The machines, in host-name order.
    pub machines: Vec<ListedMachine>,
    /// Give it back as `after` for the next page; `None` on the last.
    pub next: Option<String>,
}

/// The machines a filter names after `after` (a cursor from a previous
/// page: the lower-cased host name of its last machine), at most `limit`.
/// The store is read in key order a batch at a time, so a page costs what
/// it reads, not what the fleet holds.
pub async fn list_machines_page(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    filter: &MachineFilter,
    after: Option<&str>,
    limit: usize,
) -> Result<MachinePage, FleetError> {
    let limit = limit.max(1);
    let mut q = Resolved::new(catalog, filter)?;
    // A page and one more (whose presence says a next page exists), so
    // that without filters one read fills a page; with filters that drop
    // machines, more reads follow.
    let batch = (limit + 1).clamp(100, 10_001);
    q.selection.limit = Some(batch as i64);
    q.selection.after = after.map(|a| a.trim().to_lowercase());
    let mut out: Vec<(String, ListedMachine)> = Vec::with_capacity(limit + 1);
    loop {
        let machines = store.select_machines(&q.selection, as_of.window()).await?;
        let full = machines.len() == batch;
        let last = machines.last().map(|m| {
            crate::domain::HostKey::new(&m.hostname)
                .as_str()
                .to_string()
        });
        out.extend(filter_batch(store, catalog, as_of, filter, &q, machines).await?);
        if out.len() > limit || !full {
            break;
        }
        q.selection.after = last;
    }
    let next = if out.len() > limit {
        out.truncate(limit);
        out.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    Ok(MachinePage {
        machines: out.into_iter().map(|(_, m)| m).collect(),
        next,
    })
}

/// A filter's catalog names resolved once, and the store selection it
/// makes.
struct Resolved {
    os: Option<CycleFilter>,
    software: Option<CycleFilter>,
    selection: MachineSelection,
}

impl Resolved {
    fn new(catalog: &Catalog, filter: &MachineFilter) -> Result<Self, FleetError> {
        Ok(Resolved {
            os: filter.os.as_ref().map(|f| f.resolve(catalog)).transpose()?,
            software: filter
                .software
                .as_ref()
                .map(|f| f.resolve(catalog))
                .transpose()?,
            selection: MachineSelection {
                freshness: filter.freshness,
                owner: filter.owner.as_ref().map(|l| l.trim().to_lowercase()),
                group: filter.group.clone(),
                ..MachineSelection::default()
            },
        })
    }
}

/// The machines of one read that the rest of the filter keeps, each with
/// its key.
async fn filter_batch(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    filter: &MachineFilter,
    q: &Resolved,
    mut machines: Vec<MachineRow>,
) -> Result<Vec<(String, ListedMachine)>, FleetError> {
    let (os, software) = (&q.os, &q.software);
    machines.retain(|m| match (os, &m.os_match) {
        (Some(f), Some(c)) => f.matches(c),
        (Some(_), None) => false,
        (None, _) => true,
    });
    if filter.unmatched {
        machines.retain(|m| m.os_match.is_none());
    }
    if let Some(app) = &filter.application {
        let with: HashSet<i64> = store
            .machines_with_applications(std::slice::from_ref(app))
            .await?
            .into_iter()
            .collect();
        machines.retain(|m| with.contains(&m.id));
    }
    let until = filter.eol_within.map(|d| horizon(as_of, d));
    let ended = |c: &CycleRef| {
        until.is_some_and(|u| {
            catalog
                .get(&c.product, &c.cycle)
                .and_then(|i| i.eol)
                .is_some_and(|e| e.is_over(u))
        })
    };
    // Software cycles are read only when a filter needs them.
    let mut installed: BTreeMap<i64, Vec<CycleRef>> = BTreeMap::new();
    if software.is_some() || until.is_some() {
        let ids: Vec<i64> = machines.iter().map(|m| m.id).collect();
        for (id, c) in store.software_cycles_of(&ids).await? {
            installed.entry(id).or_default().push(c);
        }
    }
    // With `--os` or `--software`, `--eol-within` asks about what they
    // name (the Python installs that end, not any end on a machine with
    // Python); alone, about the OS and every program.
    let eol_of_os = os.is_some() || software.is_none();
    let eol_of_software = software.is_some() || os.is_none();
    let mut out = Vec::with_capacity(machines.len());
    for m in machines {
        let key = crate::domain::HostKey::new(&m.hostname)
            .as_str()
            .to_string();
        let mine = installed.remove(&m.id).unwrap_or_default();
        let mut hits: Vec<&CycleRef> = match &software {
            Some(f) => mine.iter().filter(|c| f.matches(c)).collect(),
            None => Vec::new(),
        };
        if software.is_some() && hits.is_empty() {
            continue;
        }
        let mut matched = Vec::new();
        if until.is_some() {
            let os_ended = m.os_match.as_ref().filter(|c| eol_of_os && ended(c));
            let sw_ended: Vec<&CycleRef> = if software.is_some() {
                hits.retain(|c| ended(c));
                std::mem::take(&mut hits)
            } else if eol_of_software {
                mine.iter().filter(|c| ended(c)).collect()
            } else {
                Vec::new()
            };
            if os_ended.is_none() && sw_ended.is_empty() {
                continue;
            }
            if os.is_some() && os_ended.is_none() {
                continue;
            }
            if software.is_some() && sw_ended.is_empty() {
                continue;
            }
            if let Some(c) = os_ended {
                matched.push(listed(catalog, "os", c));
            }
            matched.extend(sw_ended.into_iter().map(|c| listed(catalog, "software", c)));
        } else {
            matched.extend(hits.into_iter().map(|c| listed(catalog, "software", c)));
        }
        let info = m
            .os_match
            .as_ref()
            .and_then(|c| catalog.get(&c.product, &c.cycle));
        out.push((
            key,
            ListedMachine {
                stale: !as_of.is_fresh(m.last_report),
                label: m.os_match.as_ref().map(|c| label_of(catalog, c)),
                eol: info.and_then(|i| i.eol),
                product: m.os_match.as_ref().map(|c| c.product.clone()),
                cycle: m.os_match.as_ref().map(|c| c.cycle.clone()),
                os: m.os.caption,
                hostname: m.hostname,
                domain: m.domain,
                responsible: m.responsible.map(|o| o.login),
                main_user: m.main_user.map(|o| o.login),
                last_report: m.last_report,
                matched,
            },
        ));
    }
    Ok(out)
}

/// One product of `report eol`'s default view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductRow {
    /// `os` or `software`.
    pub kind: &'static str,
    /// Catalog product id.
    pub product: String,
    /// The product as people name it (`Windows Server`, `Python`).
    pub label: String,
    /// Distinct fresh machines with one of its ended cycles.
    pub machines: i64,
    /// Its ended cycles, the earliest end first, with their machines.
    pub cycles: Vec<ProductCycle>,
    /// The earliest end of life among them.
    pub eol: Option<Lifecycle>,
}

/// One ended cycle of a [`ProductRow`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductCycle {
    /// Catalog cycle id.
    pub cycle: String,
    /// The cycle as people name it.
    pub label: String,
    /// End of life.
    pub eol: Option<Lifecycle>,
    /// Fresh machines with it.
    pub machines: i64,
}

/// `report eol` by product: the per-cycle rows of
/// [`crate::report::eol_report`] gathered per product, each product with
/// its distinct machines, the products with most machines first (then the
/// earliest end).
pub async fn eol_by_product(
    store: &dyn Store,
    catalog: &Catalog,
    as_of: &AsOf,
    rows: &[crate::report::CycleRow],
) -> Result<Vec<ProductRow>, StoreError> {
    let mut by: BTreeMap<(&'static str, String), ProductRow> = BTreeMap::new();
    for r in rows {
        let label = r
            .label
            .clone()
            .unwrap_or_else(|| format!("{} {}", r.product, r.cycle));
        let e = by
            .entry((r.kind, r.product.clone()))
            .or_insert_with(|| ProductRow {
                kind: r.kind,
                product: r.product.clone(),
                label: product_label(catalog, &r.product),
                machines: 0,
                cycles: Vec::new(),
                eol: None,
            });
        e.cycles.push(ProductCycle {
            cycle: r.cycle.clone(),
            label,
            eol: r.eol,
            machines: r.machines,
        });
    }
    let mut out: Vec<ProductRow> = Vec::with_capacity(by.len());
    for ((kind, _), mut row) in by {
        row.cycles.sort_by_key(|c| {
            (
                c.eol.map(Lifecycle::sort_key),
                std::cmp::Reverse(c.machines),
            )
        });
        row.eol = row.cycles.first().and_then(|c| c.eol);
        if kind == "os" {
            // One OS per machine: the cycles' machines are distinct.
            row.machines = row.cycles.iter().map(|c| c.machines).sum();
        }
        out.push(row);
    }
    // Software: a machine may have two cycles of a product; the store
    // counts distinct machines, every product in one call.
    let software: Vec<usize> = (0..out.len()).filter(|&i| out[i].kind != "os").collect();
    let wanted: Vec<(String, Vec<String>)> = software
        .iter()
        .map(|&i| {
            (
                out[i].product.clone(),
                out[i].cycles.iter().map(|c| c.cycle.clone()).collect(),
            )
        })
        .collect();
    let counts = store
        .machines_with_software(&wanted, as_of.window())
        .await?;
    for (&i, n) in software.iter().zip(counts) {
        out[i].machines = n;
    }
    out.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.machines),
            a.eol.map(Lifecycle::sort_key),
            &a.product,
        )
            .cmp(&(
                std::cmp::Reverse(b.machines),
                b.eol.map(Lifecycle::sort_key),
                &b.product,
            ))
    });
    Ok(out)
}

/// The product as people name it (`Windows Server`, `Notepad++`), else
/// its id.
pub fn product_label(catalog: &Catalog, product: &str) -> String {
    catalog.product_name(product).unwrap_or(product).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_reads_product_and_optional_cycle() {
        let f: CycleFilter = "Windows-Server:2012-R2".parse().expect("present");
        assert_eq!(f.product, "windows-server");
        assert_eq!(f.cycle.as_deref(), Some("2012-R2"));
        let f: CycleFilter = "python".parse().expect("present");
        assert_eq!(f.cycle, None);
        assert!("".parse::<CycleFilter>().is_err());
        assert!("python:".parse::<CycleFilter>().is_err());
    }

    #[test]
    fn a_filter_is_spelt_as_the_catalog_spells_it_or_refused_with_what_to_type() {
        let catalog = Catalog::builtin();
        let f: CycleFilter = "windows-server:2012-R2".parse().expect("present");
        assert_eq!(
            f.resolve(&catalog).expect("present").cycle.as_deref(),
            Some("2012-r2")
        );
        let e = "windos"
            .parse::<CycleFilter>()
            .expect("present")
            .resolve(&catalog);
        assert!(e.expect_err("refused").to_string().contains("catalog show"));
        let e = "python:9.9"
            .parse::<CycleFilter>()
            .expect("present")
            .resolve(&catalog);
        assert!(
            e.expect_err("refused")
                .to_string()
                .contains("catalog show python")
        );
    }
}
