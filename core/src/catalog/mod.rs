//! The lifecycle catalog: which products and release cycles exist, and when
//! each phase of each cycle ends.
//!
//! Three layers, each overriding the one before:
//! 1. the endoflife.date snapshot compiled into the binary (`core/data/`);
//! 2. rows fetched by `winventory catalog refresh` (kept in the database);
//! 3. the site's catalog file (TOML), which adds products endoflife.date
//!    lacks, overrides dates, and adds software rules.
//!
//! Matching lives in [`os`] (an OS report to a cycle) and [`software`] (a
//! program title to a cycle and an application). Every cycle that enters
//! the catalog, from any layer, is labelled once by [`names::label`] with
//! the name people read ("Windows 11 23H2 Enterprise", "Ubuntu 22.04 LTS").

pub mod names;
pub mod os;
pub mod site;
pub mod software;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::{CycleRef, Lifecycle, OsInfo};
pub use site::{SiteCatalog, SiteCatalogError};
pub use software::{SoftwareMatch, SoftwareRules};

const BUILTIN_CATALOG: &str = include_str!("../../data/catalog.jsonl");
const BUILTIN_BUILD_MAP: &str = include_str!("../../data/windows_build_map.csv");

/// One release cycle of one product, with its lifecycle dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleInfo {
    /// Product identifier (`windows-server`).
    pub product: String,
    /// Product title (`Microsoft Windows Server`).
    pub product_title: String,
    /// Category (`os`, `app`, `lang`, ...).
    pub category: String,
    /// Cycle identifier (`2012-r2`).
    pub cycle: String,
    /// The release as people say it (`Windows Server 2012 R2`, `Notepad++
    /// 8.6`, `Ubuntu 22.04 LTS`). A row read from a source carries the
    /// source's label (`11 23H2 (E)`, `22.04 'Jammy Jellyfish'`, or none);
    /// once in a [`Catalog`] it is always set, made by [`names::label`].
    pub label: Option<String>,
    /// First release.
    pub release_date: Option<NaiveDate>,
    /// End of active support.
    #[serde(with = "lifecycle_serde")]
    pub support_end: Option<Lifecycle>,
    /// End of security support (end of life).
    #[serde(with = "lifecycle_serde")]
    pub eol: Option<Lifecycle>,
    /// End of paid extended support (ESU).
    #[serde(with = "lifecycle_serde")]
    pub extended_support_end: Option<Lifecycle>,
    /// Long-term support release.
    pub lts: bool,
    /// Newest version or build.
    pub latest: Option<String>,
    /// Where the facts come from.
    pub source: String,
}

mod lifecycle_serde {
    use super::Lifecycle;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Lifecycle>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Lifecycle>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(v.as_ref().and_then(Lifecycle::from_json))
    }
}

/// One row of the Windows build map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRow {
    /// `windows` or `windows-server`.
    pub product: String,
    /// `major.minor.build` as `Win32_OperatingSystem.Version` reports it.
    pub build: String,
    /// The cycle this build can belong to.
    pub cycle: String,
}

/// Errors loading catalog data.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog line could not be read.
    #[error("catalog line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The site catalog file is invalid.
    #[error(transparent)]
    Site(#[from] SiteCatalogError),
}

/// Bumped whenever the matching code changes what a title or an OS report
/// matches, so that stored matches are made again (see
/// [`Catalog::matching_fingerprint`]).
pub const MATCHING_REVISION: u32 = 2;

/// The lifecycle catalog in memory, with the matching rules.
#[derive(Debug, Clone)]
pub struct Catalog {
    cycles: BTreeMap<(String, String), CycleInfo>,
    /// product -> cycles (lower-cased) -> canonical spelling
    index: HashMap<String, HashMap<String, String>>,
    builds: Vec<BuildRow>,
    rules: SoftwareRules,
}

impl Catalog {
    /// The catalog compiled into the binary, with the built-in software rules.
    pub fn builtin() -> Self {
        let rows = parse_jsonl(BUILTIN_CATALOG).expect("the bundled catalog is valid JSON Lines");
        let builds = parse_build_map(BUILTIN_BUILD_MAP);
        let mut c = Self {
            cycles: BTreeMap::new(),
            index: HashMap::new(),
            builds,
            rules: SoftwareRules::builtin(),
        };
        c.upsert_rows(rows);
        c
    }

    /// Add or replace whole cycles (refreshed rows). This is where every
    /// cycle enters the catalog (the built-in ones, refreshed ones, a site
    /// file's), so it is where each gets the label people read.
    pub fn upsert_rows(&mut self, rows: impl IntoIterator<Item = CycleInfo>) {
        for mut row in rows {
            row.label = Some(names::label(
                &row.product,
                &row.product_title,
                &row.cycle,
                row.label.as_deref(),
                row.lts,
            ));
            self.index
                .entry(row.product.clone())
                .or_default()
                .insert(row.cycle.to_lowercase(), row.cycle.clone());
            self.cycles
                .insert((row.product.clone(), row.cycle.clone()), row);
        }
    }

    /// Apply a site catalog: its cycles override field by field, its rules
    /// take precedence over the built-in ones.
    pub fn apply_site(&mut self, site: &SiteCatalog) {
        for patch in &site.cycles {
            let key = (patch.product.clone(), patch.cycle.clone());
            let base = self.cycles.get(&key).cloned();
            let sibling = self
                .cycles
                .range((patch.product.clone(), String::new())..)
                .next()
                .map(|(_, c)| c)
                .filter(|c| c.product == patch.product);
            let row = patch.apply_to(base, sibling);
            self.upsert_rows([row]);
        }
        self.rules.prepend(site.rules.clone());
    }

    /// One cycle, if the catalog has it.
    pub fn get(&self, product: &str, cycle: &str) -> Option<&CycleInfo> {
        self.cycles.get(&(product.to_string(), cycle.to_string()))
    }

    /// The canonical spelling of `cycle` (compared case-insensitively) of `product`.
    pub fn find_cycle(&self, product: &str, cycle: &str) -> Option<&str> {
        self.index
            .get(product)?
            .get(&cycle.to_lowercase())
            .map(String::as_str)
    }

    /// The name people use for `product` ("Notepad++", "RHEL"), or `None`
    /// when the catalog does not know it.
    pub fn product_name(&self, product: &str) -> Option<&str> {
        let (_, c) = self
            .cycles
            .range((product.to_string(), String::new())..)
            .next()
            .filter(|((p, _), _)| p == product)?;
        Some(names::product_name(&c.product, &c.product_title))
    }

    /// Whether the catalog knows `product`.
    pub fn has_product(&self, product: &str) -> bool {
        self.index.contains_key(product)
    }

    /// Every cycle, sorted by product then cycle.
    pub fn cycles(&self) -> impl Iterator<Item = &CycleInfo> {
        self.cycles.values()
    }

    /// Every product identifier, sorted.
    pub fn products(&self) -> Vec<&str> {
        let mut p: Vec<&str> = self.index.keys().map(String::as_str).collect();
        p.sort_unstable();
        p
    }

    /// Every application the software rules name (built-in and the site's).
    pub fn applications(&self) -> std::collections::BTreeSet<&str> {
        self.rules.applications()
    }

    /// The Windows build map.
    pub fn builds(&self) -> &[BuildRow] {
        &self.builds
    }

    /// Match an OS report to a product and cycle, or `None` (unmatched, never guessed).
    pub fn match_os(&self, os: &OsInfo) -> Option<CycleRef> {
        os::match_os(self, os)
    }

    /// Match a program title to a product/cycle and an application.
    pub fn match_software(&self, name: &str, version: &str, publisher: &str) -> SoftwareMatch {
        self.rules.match_title(self, name, version, publisher)
    }

    /// The software rules in force (site rules first).
    pub fn rules(&self) -> &SoftwareRules {
        &self.rules
    }

    /// A digest of everything a match depends on: the software rules in
    /// force, the cycles the catalog has, the Windows build map, and
    /// [`MATCHING_REVISION`]. Stored beside the matches, it tells when they
    /// were made with other rules (a new version, a changed site file) and
    /// every stored title and machine has to be matched again.
    pub fn matching_fingerprint(&self) -> String {
        use std::fmt::Write as _;
        let mut text = format!("revision {MATCHING_REVISION}\n");
        for r in self.rules.iter() {
            let _ = writeln!(text, "{:?}", r.spec());
        }
        for (product, cycle) in self.cycles.keys() {
            let _ = writeln!(text, "{product}/{cycle}");
        }
        for b in &self.builds {
            let _ = writeln!(text, "{b:?}");
        }
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
    }

    pub(crate) fn cycle_ref(&self, product: &str, cycle: &str) -> Option<CycleRef> {
        self.find_cycle(product, cycle).map(|c| CycleRef {
            product: product.to_string(),
            cycle: c.to_string(),
        })
    }
}

/// Parse catalog JSON Lines (the bundled file's shape).
pub fn parse_jsonl(text: &str) -> Result<Vec<CycleInfo>, CatalogError> {
    #[derive(Deserialize)]
    struct Raw {
        product: String,
        #[serde(default)]
        product_title: Option<String>,
        #[serde(default)]
        category: Option<String>,
        cycle: String,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        release_date: Option<serde_json::Value>,
        #[serde(default)]
        support_end: Option<serde_json::Value>,
        #[serde(default)]
        eol: Option<serde_json::Value>,
        #[serde(default)]
        extended_support_end: Option<serde_json::Value>,
        #[serde(default)]
        lts: Option<serde_json::Value>,
        #[serde(default)]
        latest: Option<serde_json::Value>,
        #[serde(default)]
        source: Option<String>,
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Raw = serde_json::from_str(line).map_err(|e| CatalogError::Line {
            line: i + 1,
            reason: e.to_string(),
        })?;
        let lc = |v: &Option<serde_json::Value>| v.as_ref().and_then(Lifecycle::from_json);
        out.push(CycleInfo {
            product_title: r.product_title.unwrap_or_else(|| r.product.clone()),
            category: r.category.unwrap_or_else(|| "app".into()),
            label: r.label,
            release_date: r
                .release_date
                .as_ref()
                .and_then(|v| v.as_str())
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()),
            support_end: lc(&r.support_end),
            eol: lc(&r.eol),
            extended_support_end: lc(&r.extended_support_end),
            lts: matches!(r.lts, Some(serde_json::Value::Bool(true))),
            latest: r.latest.and_then(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            source: r.source.unwrap_or_else(|| "endoflife.date".into()),
            product: r.product,
            cycle: r.cycle,
        });
    }
    Ok(out)
}

fn parse_build_map(text: &str) -> Vec<BuildRow> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            Some(BuildRow {
                product: r.get(0)?.to_string(),
                build: r.get(1)?.to_string(),
                cycle: r.get(2)?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalog_loads_every_line() {
        let c = Catalog::builtin();
        assert_eq!(c.cycles().count(), 1303);
        assert_eq!(c.products().len(), 68);
        let ws = c
            .get("windows-server", "2012-r2")
            .expect("2012 R2 is in the catalog");
        assert_eq!(
            ws.eol,
            Some(Lifecycle::Date(
                NaiveDate::from_ymd_opt(2023, 10, 10).expect("date")
            ))
        );
        assert_eq!(
            ws.extended_support_end,
            Some(Lifecycle::Date(
                NaiveDate::from_ymd_opt(2026, 10, 13).expect("date")
            ))
        );
    }

    #[test]
    fn undecided_and_unknown_dates_stay_distinct() {
        let c = Catalog::builtin();
        let vs = c.get("visual-studio", "18.9").expect("cycle");
        assert_eq!(vs.eol, Some(Lifecycle::Flag(false)));
        assert_eq!(vs.extended_support_end, None);
    }

    #[test]
    fn cycles_are_found_case_insensitively() {
        let c = Catalog::builtin();
        assert_eq!(c.find_cycle("windows", "11-24H2-E"), Some("11-24h2-e"));
        assert_eq!(c.find_cycle("windows", "nope"), None);
    }
}
