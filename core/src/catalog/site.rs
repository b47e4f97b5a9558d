//! The site catalog file (TOML): products and cycles endoflife.date lacks
//! (MATLAB, Acrobat, site software), overrides of its dates, and software
//! rules. Validated as a whole; every error names the line and the field.
//!
//! ```toml
//! [[cycle]]
//! product = "matlab"          # required
//! product_title = "MATLAB"   # a new cycle without one takes its product's
//! category = "app"
//! cycle = "r2023b"            # required
//! label = "R2023b"            # shown after the product's name: "MATLAB R2023b"
//! release_date = 2023-09-13
//! eol = 2027-09-30            # a date, true (ended) or false (not decided)
//! extended_support_end = false
//!
//! [[rule]]
//! name = '^MATLAB (R\d{4}[ab])'
//! product = "matlab"
//! cycle = ["{1}"]
//! application = "MATLAB"
//! ```

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::CycleInfo;
use super::software::{Rule, RuleSpec};
use crate::domain::Lifecycle;

/// A problem in the site catalog file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct SiteCatalogError {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong, naming the field.
    pub message: String,
}

/// One `[[cycle]]` entry: a new cycle, or fields overriding an existing one.
#[derive(Debug, Clone, PartialEq)]
pub struct CyclePatch {
    /// Product identifier.
    pub product: String,
    /// Cycle identifier.
    pub cycle: String,
    product_title: Option<String>,
    category: Option<String>,
    label: Option<String>,
    release_date: Option<NaiveDate>,
    support_end: Option<Lifecycle>,
    eol: Option<Lifecycle>,
    extended_support_end: Option<Lifecycle>,
    lts: Option<bool>,
    latest: Option<String>,
}

impl CyclePatch {
    /// The cycle after this patch: `base` with the fields this entry sets.
    /// A new cycle (no `base`) takes the title and category of `sibling`,
    /// another cycle of its product, when it sets none of its own.
    pub fn apply_to(&self, base: Option<CycleInfo>, sibling: Option<&CycleInfo>) -> CycleInfo {
        let mut row = base.unwrap_or_else(|| CycleInfo {
            product: self.product.clone(),
            product_title: sibling
                .map_or_else(|| self.product.clone(), |s| s.product_title.clone()),
            category: sibling.map_or_else(|| "app".into(), |s| s.category.clone()),
            cycle: self.cycle.clone(),
            label: None,
            release_date: None,
            support_end: None,
            eol: None,
            extended_support_end: None,
            lts: false,
            latest: None,
            source: "site catalog".into(),
        });
        if let Some(v) = &self.product_title {
            row.product_title = v.clone();
        }
        if let Some(v) = &self.category {
            row.category = v.clone();
        }
        if let Some(v) = &self.label {
            row.label = Some(v.clone());
        }
        if let Some(v) = self.release_date {
            row.release_date = Some(v);
        }
        if let Some(v) = self.support_end {
            row.support_end = Some(v);
        }
        if let Some(v) = self.eol {
            row.eol = Some(v);
        }
        if let Some(v) = self.extended_support_end {
            row.extended_support_end = Some(v);
        }
        if let Some(v) = self.lts {
            row.lts = v;
        }
        if let Some(v) = &self.latest {
            row.latest = Some(v.clone());
        }
        row.source = "site catalog".into();
        row
    }
}

/// A parsed, validated site catalog.
#[derive(Debug, Clone, Default)]
pub struct SiteCatalog {
    /// Cycle entries, in file order.
    pub cycles: Vec<CyclePatch>,
    /// Compiled rules, in file order.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    cycle: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    rule: Vec<Spanned<toml::Table>>,
}

impl SiteCatalog {
    /// Parse `text`; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, SiteCatalogError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let err = |offset: usize, message: String| SiteCatalogError {
            file: file.to_string(),
            line: line_of(offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            err(offset, e.message().to_string())
        })?;
        let mut out = SiteCatalog::default();
        for entry in raw.cycle {
            let offset = entry.span().start;
            let t = entry.into_inner();
            let patch = parse_cycle(&t).map_err(|m| err(offset, format!("[[cycle]]: {m}")))?;
            out.cycles.push(patch);
        }
        for entry in raw.rule {
            let offset = entry.span().start;
            let t = entry.into_inner();
            let spec: RuleSpec = toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| err(offset, format!("[[rule]]: {}", e.message())))?;
            let rule = Rule::compile(spec).map_err(|m| err(offset, format!("[[rule]]: {m}")))?;
            out.rules.push(rule);
        }
        Ok(out)
    }
}

fn parse_cycle(t: &toml::Table) -> Result<CyclePatch, String> {
    const KNOWN: &[&str] = &[
        "product",
        "product_title",
        "category",
        "cycle",
        "label",
        "release_date",
        "support_end",
        "eol",
        "extended_support_end",
        "lts",
        "latest",
    ];
    if let Some(k) = t.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{k}` (expected one of {})",
            KNOWN.join(", ")
        ));
    }
    let text = |k: &str, required: bool| -> Result<Option<String>, String> {
        match t.get(k) {
            None if required => Err(format!("field `{k}` is required")),
            None => Ok(None),
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(toml::Value::String(_)) => Err(format!("field `{k}` is empty")),
            Some(v) => Err(format!(
                "field `{k}` must be a string, not {}",
                v.type_str()
            )),
        }
    };
    let date = |k: &str| -> Result<Option<NaiveDate>, String> {
        match t.get(k) {
            None => Ok(None),
            Some(v) => match lifecycle(k, v)? {
                Lifecycle::Date(d) => Ok(Some(d)),
                Lifecycle::Flag(_) => Err(format!("field `{k}` must be a date (YYYY-MM-DD)")),
            },
        }
    };
    let phase = |k: &str| -> Result<Option<Lifecycle>, String> {
        t.get(k).map(|v| lifecycle(k, v)).transpose()
    };
    Ok(CyclePatch {
        product: text("product", true)?.unwrap_or_default(),
        cycle: text("cycle", true)?.unwrap_or_default(),
        product_title: text("product_title", false)?,
        category: text("category", false)?,
        label: text("label", false)?,
        latest: text("latest", false)?,
        release_date: date("release_date")?,
        support_end: phase("support_end")?,
        eol: phase("eol")?,
        extended_support_end: phase("extended_support_end")?,
        lts: match t.get("lts") {
            None => None,
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(v) => {
                return Err(format!(
                    "field `lts` must be true or false, not {}",
                    v.type_str()
                ));
            }
        },
    })
}

fn lifecycle(k: &str, v: &toml::Value) -> Result<Lifecycle, String> {
    let bad = || format!("field `{k}` must be a date (YYYY-MM-DD), true or false");
    match v {
        toml::Value::Boolean(b) => Ok(Lifecycle::Flag(*b)),
        toml::Value::Datetime(dt) => {
            let d = dt.date.filter(|_| dt.time.is_none()).ok_or_else(bad)?;
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                .map(Lifecycle::Date)
                .ok_or_else(bad)
        }
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Lifecycle::Date)
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    #[test]
    fn a_site_catalog_adds_products_and_overrides_dates() {
        let text = r#"
[[cycle]]
product = "matlab"
product_title = "MATLAB"
cycle = "r2019b"
eol = 2024-09-01

[[cycle]]
product = "windows-server"
cycle = "2012-r2"
extended_support_end = 2027-10-12

[[rule]]
name = '^MATLAB (R\d{4}[ab])'
product = "matlab"
cycle = ["{1}"]
application = "MATLAB"
"#;
        let site = SiteCatalog::parse("site.toml", text).expect("valid");
        let mut c = Catalog::builtin();
        c.apply_site(&site);
        let ml = c.match_software("MATLAB R2019b", "9.7", "MathWorks");
        assert_eq!(ml.cycle.map(|c| c.cycle).as_deref(), Some("r2019b"));
        let ws = c.get("windows-server", "2012-r2").expect("kept");
        assert_eq!(
            ws.extended_support_end,
            Some(Lifecycle::Date(
                NaiveDate::from_ymd_opt(2027, 10, 12).expect("d")
            ))
        );
        assert_eq!(
            ws.eol,
            Some(Lifecycle::Date(
                NaiveDate::from_ymd_opt(2023, 10, 10).expect("d")
            )),
            "fields not set stay"
        );
    }

    #[test]
    fn the_example_site_catalog_in_deploy_is_valid() {
        let text = include_str!("../../../deploy/site-catalog.example.toml");
        let site =
            SiteCatalog::parse("site-catalog.example.toml", text).expect("the example parses");
        let mut c = Catalog::builtin();
        c.apply_site(&site);
        let m = c.match_software("MATLAB R2023b", "23.2", "The MathWorks, Inc.");
        assert_eq!(m.cycle.map(|c| c.cycle).as_deref(), Some("r2023b"));
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let text = "[[cycle]]\nproduct = \"x\"\ncycle = \"1\"\n\n[[cycle]]\nproduct = \"y\"\ncycle = \"2\"\neol = \"soon\"\n";
        let e = SiteCatalog::parse("site.toml", text).expect_err("invalid");
        assert_eq!(e.line, 5, "{e}");
        assert!(e.to_string().contains("`eol`"), "{e}");
        let e = SiteCatalog::parse(
            "s.toml",
            "[[rule]]\nname = '('\nproduct = 'x'\ncycle = ['1']\n",
        )
        .expect_err("bad regex");
        assert!(
            e.to_string().contains("s.toml:1") && e.to_string().contains("regex"),
            "{e}"
        );
        let e = SiteCatalog::parse("s.toml", "[[cycle]]\nproduct = 'x'\n").expect_err("no cycle");
        assert!(e.to_string().contains("`cycle` is required"), "{e}");
        let e = SiteCatalog::parse("s.toml", "cycle = 3\n").expect_err("wrong shape");
        assert!(e.to_string().starts_with("s.toml:1:"), "{e}");
    }
}
