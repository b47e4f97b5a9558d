//! Matching program titles (name, version, publisher as the registry lists
//! them) to a catalog product/cycle and to an "application", by rules kept as
//! data (`core/data/software_rules.toml`, extended by the site catalog).
//!
//! A rule has a `name` regex and optionally `publisher` and `version` regexes;
//! the first rule whose patterns all match decides. Its `cycle` is a list of
//! templates tried in order, the first one naming a cycle the catalog has
//! wins: `{1}`..`{9}` are the name pattern's captures, `{v1}`..`{v4}` the
//! leading digits of the version's dot-separated parts. A rule may name only
//! an `application` (a group of titles a site considers one thing, such as
//! every "MATLAB Rxxxx"). A title no rule matches stays unmatched.

use regex::Regex;
use serde::Deserialize;

use super::Catalog;
use crate::domain::CycleRef;

const BUILTIN_RULES: &str = include_str!("../../data/software_rules.toml");

/// What a title matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftwareMatch {
    /// The catalog product/cycle, where a rule and the catalog agree.
    pub cycle: Option<CycleRef>,
    /// The application the title belongs to, where a rule names one.
    pub application: Option<String>,
}

/// One rule as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Regex on the title's `DisplayName`.
    pub name: String,
    /// Regex on the publisher.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Regex on the version.
    #[serde(default)]
    pub version: Option<String>,
    /// Catalog product.
    #[serde(default)]
    pub product: Option<String>,
    /// Cycle templates, tried in order.
    #[serde(default)]
    pub cycle: Vec<String>,
    /// Application name.
    #[serde(default)]
    pub application: Option<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    spec: RuleSpec,
    name: Regex,
    publisher: Option<Regex>,
    version: Option<Regex>,
}

impl Rule {
    /// Compile a rule; the error names the pattern that does not compile.
    pub fn compile(spec: RuleSpec) -> Result<Self, String> {
        let re = |field: &str, p: &str| {
            Regex::new(p).map_err(|e| format!("field `{field}`: invalid regex {p:?}: {e}"))
        };
        if spec.product.is_none() && spec.application.is_none() {
            return Err("a rule needs a `product` or an `application`".into());
        }
        if spec.product.is_some() && spec.cycle.is_empty() {
            return Err("a rule with a `product` needs `cycle` templates".into());
        }
        Ok(Self {
            name: re("name", &spec.name)?,
            publisher: spec
                .publisher
                .as_deref()
                .map(|p| re("publisher", p))
                .transpose()?,
            version: spec
                .version
                .as_deref()
                .map(|p| re("version", p))
                .transpose()?,
            spec,
        })
    }

    /// The rule as written.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }
}

/// An ordered list of rules.
#[derive(Debug, Clone, Default)]
pub struct SoftwareRules {
    rules: Vec<Rule>,
}

impl SoftwareRules {
    /// Every application a rule names.
    pub fn applications(&self) -> std::collections::BTreeSet<&str> {
        self.rules
            .iter()
            .filter_map(|r| r.spec.application.as_deref())
            .collect()
    }
}

#[derive(Deserialize)]
struct RulesFile {
    rule: Vec<RuleSpec>,
}

impl SoftwareRules {
    /// The rules shipped with the binary.
    pub fn builtin() -> Self {
        let file: RulesFile =
            toml::from_str(BUILTIN_RULES).expect("bundled software_rules.toml parses");
        let rules = file
            .rule
            .into_iter()
            .map(|s| Rule::compile(s).expect("bundled software rule compiles"))
            .collect();
        Self { rules }
    }

    /// Put `first` ahead of the current rules (site rules win).
    pub fn prepend(&mut self, first: Vec<Rule>) {
        let mut rules = first;
        rules.append(&mut self.rules);
        self.rules = rules;
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Match one title.
    pub fn match_title(
        &self,
        catalog: &Catalog,
        name: &str,
        version: &str,
        publisher: &str,
    ) -> SoftwareMatch {
        let name = name.trim();
        for rule in &self.rules {
            let Some(caps) = rule.name.captures(name) else {
                continue;
            };
            if rule
                .publisher
                .as_ref()
                .is_some_and(|p| !p.is_match(publisher))
            {
                continue;
            }
            if rule.version.as_ref().is_some_and(|v| !v.is_match(version)) {
                continue;
            }
            let cycle = rule.spec.product.as_deref().and_then(|product| {
                rule.spec.cycle.iter().find_map(|t| {
                    let c = expand(t, &caps, version)?;
                    catalog.cycle_ref(product, &c)
                })
            });
            return SoftwareMatch {
                cycle,
                application: rule.spec.application.clone(),
            };
        }
        SoftwareMatch::default()
    }
}

/// Expand a cycle template; `None` when it names a capture or version part
/// that is absent.
fn expand(template: &str, caps: &regex::Captures<'_>, version: &str) -> Option<String> {
    let parts: Vec<&str> = version
        .split('.')
        .map(|p| {
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            &p[..end]
        })
        .collect();
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let key = &rest[start + 1..end];
        let value = if let Some(n) = key.strip_prefix('v') {
            let i: usize = n.parse().ok()?;
            let p = parts.get(i.checked_sub(1)?)?;
            if p.is_empty() {
                return None;
            }
            // Drop leading zeros ("10.00" -> "10.0") only where the catalog would.
            (*p).to_string()
        } else {
            let i: usize = key.parse().ok()?;
            caps.get(i)?.as_str().to_string()
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, version: &str, publisher: &str) -> (Option<(String, String)>, Option<String>) {
        let r = Catalog::builtin().match_software(name, version, publisher);
        (r.cycle.map(|c| (c.product, c.cycle)), r.application)
    }

    fn cyc(name: &str, version: &str, publisher: &str) -> Option<(String, String)> {
        m(name, version, publisher).0
    }

    fn is(p: &str, c: &str) -> Option<(String, String)> {
        Some((p.into(), c.into()))
    }

    #[test]
    fn office_versions_that_share_16_0_are_told_apart_by_name() {
        let ms = "Microsoft Corporation";
        assert_eq!(
            cyc(
                "Microsoft Office Professional Plus 2016",
                "16.0.4266.1001",
                ms
            ),
            is("office", "2016")
        );
        assert_eq!(
            cyc(
                "Microsoft Office Professional Plus 2019",
                "16.0.10827.20181",
                ms
            ),
            is("office", "2019")
        );
        assert_eq!(
            cyc(
                "Microsoft Office LTSC Professional Plus 2021",
                "16.0.14332.20615",
                ms
            ),
            is("office", "2021")
        );
        assert_eq!(
            cyc(
                "Microsoft Office LTSC Professional Plus 2024",
                "16.0.17932.20162",
                ms
            ),
            is("office", "2024-ltsc")
        );
        assert_eq!(
            cyc(
                "Microsoft Office Home and Business 2024",
                "16.0.17932.20162",
                ms
            ),
            is("office", "2024")
        );
        assert_eq!(
            cyc("Microsoft Office Standard 2013", "15.0.4569.1506", ms),
            is("office", "2013")
        );
        assert_eq!(
            cyc(
                "Microsoft Office Professional Plus 2010",
                "14.0.7015.1000",
                ms
            ),
            is("office", "2010")
        );
        let (c, app) = m(
            "Microsoft 365 Apps for enterprise - en-us",
            "16.0.17928.20156",
            ms,
        );
        assert_eq!(
            c, None,
            "Microsoft 365 Apps is not an endoflife.date product"
        );
        assert_eq!(app.as_deref(), Some("Microsoft 365 Apps"));
    }

    #[test]
    fn sql_server_takes_its_service_pack_from_the_minor_version() {
        let ms = "Microsoft Corporation";
        assert_eq!(
            cyc("Microsoft SQL Server 2016 (64-bit)", "13.2.5026.0", ms),
            is("mssqlserver", "13.0-sp2")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2016 (64-bit)", "13.3.6300.2", ms),
            is("mssqlserver", "13.0-sp3")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2016 (64-bit)", "13.0.1601.5", ms),
            is("mssqlserver", "13.0")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2014 (64-bit)", "12.3.6024.0", ms),
            is("mssqlserver", "12.0-sp3")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2019 (64-bit)", "15.0.2000.5", ms),
            is("mssqlserver", "15.0")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2022 (64-bit)", "16.0.1000.6", ms),
            is("mssqlserver", "16.0")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2012 (64-bit)", "11.4.7001.0", ms),
            is("mssqlserver", "11.0-sp4")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2008 R2 (64-bit)", "10.53.6000.34", ms),
            is("mssqlserver", "10.50-sp3")
        );
        assert_eq!(
            cyc("Microsoft SQL Server 2008 (64-bit)", "10.4.6000.29", ms),
            is("mssqlserver", "10.0-sp4")
        );
        // Components of SQL Server are not the server.
        assert_eq!(
            cyc(
                "Microsoft SQL Server 2016 T-SQL Language Service",
                "13.0.1601.5",
                ms
            ),
            None
        );
    }

    #[test]
    fn visual_studio_code_is_not_visual_studio() {
        let ms = "Microsoft Corporation";
        assert_eq!(
            cyc("Visual Studio Professional 2022", "17.8.34330.188", ms),
            is("visual-studio", "17.8")
        );
        assert_eq!(
            cyc("Visual Studio Community 2019", "16.11.34729.46", ms),
            is("visual-studio", "16.11")
        );
        assert_eq!(cyc("Microsoft Visual Studio Code", "1.85.1", ms), None);
        assert_eq!(
            cyc("Microsoft Visual Studio Code (User)", "1.85.1", ms),
            None
        );
    }

    #[test]
    fn common_windows_products_match_their_cycles() {
        let cases = [
            (
                "Python 3.8.10 (64-bit)",
                "3.8.10",
                "Python Software Foundation",
                is("python", "3.8"),
            ),
            (
                "Python 3.12.1 (64-bit)",
                "3.12.1150.0",
                "Python Software Foundation",
                is("python", "3.12"),
            ),
            (
                "Java 8 Update 381 (64-bit)",
                "8.0.3810.9",
                "Oracle Corporation",
                is("oracle-jdk", "8"),
            ),
            (
                "Java(TM) SE Development Kit 17.0.8 (64-bit)",
                "17.0.8.0",
                "Oracle Corporation",
                is("oracle-jdk", "17"),
            ),
            (
                "Eclipse Temurin JDK with Hotspot 17.0.8.1+1 (x64)",
                "17.0.8.101",
                "Eclipse Adoptium",
                is("eclipse-temurin", "17"),
            ),
            (
                "Microsoft Build of OpenJDK with Hotspot 21.0.1+12 (x64)",
                "21.0.1.12",
                "Microsoft",
                is("microsoft-build-of-openjdk", "21"),
            ),
            (
                "Amazon Corretto 11.0.21.9.1 (x64)",
                "11.0.21.9",
                "Amazon",
                is("amazon-corretto", "11"),
            ),
            (
                "Microsoft .NET Framework 4.8.1",
                "4.8.09032",
                "Microsoft Corporation",
                is("dotnetfx", "4.8.1"),
            ),
            (
                "Microsoft .NET Framework 4.5.2",
                "4.5.51209",
                "Microsoft Corporation",
                is("dotnetfx", "4.5.2"),
            ),
            (
                "Microsoft .NET Runtime - 6.0.25 (x64)",
                "6.0.25.33020",
                "Microsoft Corporation",
                is("dotnet", "6"),
            ),
            (
                "Mozilla Firefox (x64 en-US)",
                "128.0.3",
                "Mozilla",
                is("firefox", "128"),
            ),
            (
                "Mozilla Firefox ESR (x64 en-US)",
                "140.14.0",
                "Mozilla",
                is("firefox", "140"),
            ),
            (
                "Google Chrome",
                "131.0.6778.86",
                "Google LLC",
                is("chrome", "131"),
            ),
            (
                "Notepad++ (64-bit x64)",
                "8.6.2",
                "Notepad++ Team",
                is("notepad-plus-plus", "8.6"),
            ),
            (
                "Wireshark 4.2.0 64-bit",
                "4.2.0",
                "The Wireshark developer community, https://www.wireshark.org",
                is("wireshark", "4.2"),
            ),
            (
                "Oracle VM VirtualBox 7.0.12",
                "7.0.12",
                "Oracle Corporation",
                is("virtualbox", "7.0"),
            ),
            (
                "LibreOffice 7.6.2.1",
                "7.6.2.1",
                "The Document Foundation",
                is("libreoffice", "7.6"),
            ),
            (
                "Node.js",
                "20.10.0",
                "Node.js Foundation",
                is("nodejs", "20"),
            ),
            ("PHP 8.1.27", "8.1.27", "The PHP Group", is("php", "8.1")),
            (
                "PostgreSQL 16 ",
                "16.1-1",
                "PostgreSQL Global Development Group",
                is("postgresql", "16"),
            ),
            (
                "PostgreSQL 9.6 ",
                "9.6.24-1",
                "PostgreSQL Global Development Group",
                is("postgresql", "9.6"),
            ),
            (
                "MySQL Server 8.0",
                "8.0.35",
                "Oracle Corporation",
                is("mysql", "8.0"),
            ),
            (
                "MySQL Server 5.7",
                "5.7.44",
                "Oracle Corporation",
                is("mysql", "5.7"),
            ),
        ];
        for (name, version, publisher, want) in cases {
            assert_eq!(cyc(name, version, publisher), want, "{name} {version}");
        }
    }

    #[test]
    fn titles_no_rule_knows_stay_unmatched() {
        assert_eq!(m("Some Lab Tool", "1.0", "CERN"), (None, None));
        assert_eq!(
            cyc(
                "Python Launcher",
                "3.12.1150.0",
                "Python Software Foundation"
            ),
            None
        );
        // A rule matches but the catalog has no such cycle: unmatched, never guessed.
        assert_eq!(cyc("Google Chrome", "999.0.1.2", "Google LLC"), None);
    }

    #[test]
    fn applications_group_titles_a_site_considers_one_thing() {
        assert_eq!(
            m("MATLAB R2023b", "23.2", "The MathWorks, Inc.")
                .1
                .as_deref(),
            Some("MATLAB")
        );
        assert_eq!(
            m("MATLAB R2019a", "9.6", "The MathWorks, Inc.")
                .1
                .as_deref(),
            Some("MATLAB")
        );
        assert_eq!(
            m("Adobe Acrobat (64-bit)", "24.001.20604", "Adobe")
                .1
                .as_deref(),
            Some("Adobe Acrobat")
        );
    }
}
