//! Matching program titles (name, version, publisher as the registry or the
//! package manager lists them) to a catalog product/cycle and to an
//! "application", by rules kept as data (`core/data/software_rules.toml`,
//! extended by the site catalog).
//!
//! A rule has a `name` regex and optionally `not` (a regex on the name that
//! vetoes it), `publisher` and `version` regexes; the first rule, in order,
//! whose patterns all hold decides. A rule either names what the title is
//! (`product` with `cycle` templates, and/or an `application`), or says the
//! title is not a product install at all (`ignore`, with the reason: help
//! and language packs, updaters, drivers and connectors of a database).
//!
//! `cycle` templates are tried in order; the first one naming a cycle of the
//! product in the catalog wins. `{1}`..`{9}` are the name pattern's captures,
//! `{v1}`..`{v9}` the leading digits of the version's dot-separated parts,
//! and `{v1|floor5}` or `{1|floor5}` a number rounded down to a multiple of
//! 5 (NVIDIA's branches). A rule's `map` then renames a result the product spells
//! differently (FileMaker 20 is "2023"). A rule with `package = true` reads a
//! Linux package (`postgresql-15`, `java-17-openjdk`): its version is a
//! distribution's (`1:10.11.6-0+deb12u1`), whose epoch and release are
//! stripped to the upstream version before the templates see it. A title no
//! rule matches stays unmatched: never guessed.
//!
//! Every rule carries `examples`, the real names it was written for, each
//! with what it must give; a test runs them all through the whole rule list,
//! so a rule that stops matching its own examples, or one that shadows
//! another's, fails at once. [`SoftwareRules::coverage`] lists every
//! installed-software product of the catalog with the rules that reach it.
//!
//! Matching does not try every rule on every title. Most rules start with a
//! literal (`^Microsoft SQL Server `, `^python`): one Aho-Corasick pass over
//! the title finds the rules whose literal begins it, one [`RegexSet`] pass
//! the few rules without one (help packs anywhere in a name), and only those
//! candidates are tried, in rule order. The cost per title follows its
//! length and its candidates, not the number of rules, so a site's thousand
//! rules for titles its fleet does not have cost next to nothing.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Regex on the title's `DisplayName` (or package name).
    pub name: String,
    /// Regex on the name that vetoes the rule where it matches.
    #[serde(default)]
    pub not: Option<String>,
    /// Regex on the publisher.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Regex on the version (the upstream version for `package` rules).
    #[serde(default)]
    pub version: Option<String>,
    /// Catalog product.
    #[serde(default)]
    pub product: Option<String>,
    /// Cycle templates, tried in order.
    #[serde(default)]
    pub cycle: Vec<String>,
    /// An expanded template -> the cycle it stands for.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Application name.
    #[serde(default)]
    pub application: Option<String>,
    /// The name is a Linux package's and the version a distribution's.
    #[serde(default)]
    pub package: bool,
    /// The titles this rule matches are not a product install; why.
    #[serde(default)]
    pub ignore: Option<String>,
    /// The real titles the rule was written for, with what each must give.
    #[serde(default)]
    pub examples: Vec<Example>,
}

/// A title a rule was written for, and what matching it must give.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// `DisplayName` or package name.
    pub name: String,
    /// `DisplayVersion` or package version.
    #[serde(default)]
    pub version: String,
    /// Publisher.
    #[serde(default)]
    pub publisher: String,
    /// `product/cycle`, or absent when the title must match no cycle.
    #[serde(default)]
    pub expect: Option<String>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    spec: RuleSpec,
    name: Regex,
    not: Option<Regex>,
    publisher: Option<Regex>,
    version: Option<Regex>,
}

impl Rule {
    /// Compile a rule; the error names the field that is wrong.
    pub fn compile(spec: RuleSpec) -> Result<Self, String> {
        let re = |field: &str, p: &str| {
            Regex::new(p).map_err(|e| format!("field `{field}`: invalid regex {p:?}: {e}"))
        };
        let opt = |field: &str, p: &Option<String>| p.as_deref().map(|p| re(field, p)).transpose();
        if let Some(why) = &spec.ignore {
            if spec.product.is_some() || spec.application.is_some() || !spec.cycle.is_empty() {
                return Err(
                    "a rule with `ignore` names no `product`, `cycle` or `application`".into(),
                );
            }
            if why.trim().is_empty() {
                return Err("`ignore` says why the titles are not the product".into());
            }
        } else if spec.product.is_none() && spec.application.is_none() {
            return Err("a rule needs a `product`, an `application` or an `ignore` reason".into());
        }
        if spec.product.is_some() && spec.cycle.is_empty() {
            return Err("a rule with a `product` needs `cycle` templates".into());
        }
        for t in &spec.cycle {
            check_template(t).map_err(|m| format!("field `cycle`: template {t:?}: {m}"))?;
        }
        for e in &spec.examples {
            if let Some(x) = &e.expect
                && x.split_once('/')
                    .is_none_or(|(p, c)| p.is_empty() || c.is_empty())
            {
                return Err(format!(
                    "field `examples`: expect {x:?} for {:?} is not PRODUCT/CYCLE",
                    e.name
                ));
            }
        }
        Ok(Self {
            name: re("name", &spec.name)?,
            not: opt("not", &spec.not)?,
            publisher: opt("publisher", &spec.publisher)?,
            version: opt("version", &spec.version)?,
            spec,
        })
    }

    /// The rule as written.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// Whether the rule holds for this title (its name pattern already matched).
    fn accepts(&self, name: &str, version: &str, publisher: &str) -> bool {
        self.not.as_ref().is_none_or(|n| !n.is_match(name))
            && self
                .publisher
                .as_ref()
                .is_none_or(|p| p.is_match(publisher))
            && self.version.as_ref().is_none_or(|v| v.is_match(version))
    }

    /// What the rule gives for a title it holds for.
    fn outcome(&self, catalog: &Catalog, name: &str, version: &str) -> SoftwareMatch {
        if self.spec.ignore.is_some() {
            return SoftwareMatch::default();
        }
        let cycle = self.spec.product.as_deref().and_then(|product| {
            let caps = self.name.captures(name)?;
            self.spec.cycle.iter().find_map(|t| {
                let c = expand(t, &caps, version)?;
                let c = self.spec.map.get(&c).cloned().unwrap_or(c);
                catalog.cycle_ref(product, &c)
            })
        });
        SoftwareMatch {
            cycle,
            application: self.spec.application.clone(),
        }
    }
}

/// A rule's example that does not give what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExampleFailure {
    /// The rule's `name` pattern.
    pub rule: String,
    /// The example.
    pub example: Example,
    /// What matching gave: `product/cycle`, or `-` for no cycle.
    pub got: String,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} version {:?}: expected {}, got {} (rule {:?})",
            self.example.name,
            self.example.version,
            self.example.expect.as_deref().unwrap_or("-"),
            self.got,
            self.rule
        )
    }
}

/// How far the rules reach one installed-software product of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductCoverage {
    /// Product identifier.
    pub product: String,
    /// The name people use for it.
    pub name: String,
    /// Rules that name it.
    pub rules: usize,
    /// Of which read Linux packages.
    pub package_rules: usize,
    /// Examples that expect one of its cycles.
    pub examples: usize,
    /// Its cycles that some example reaches.
    pub cycles_reached: usize,
    /// Its cycles in the catalog.
    pub cycles: usize,
    /// Why no rule can recognise it from an inventory, where none does.
    pub no_rule: Option<String>,
}

/// A product the rules do not try to recognise, and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoRule {
    /// Product identifier.
    pub product: String,
    /// Why an inventory cannot show it.
    pub why: String,
}

/// An ordered list of rules, with the index that finds the candidates of a
/// title.
#[derive(Debug, Clone)]
pub struct SoftwareRules {
    rules: Vec<Rule>,
    index: Index,
    no_rule: Vec<NoRule>,
}

/// Which rules can match a title, found without trying them all.
#[derive(Debug, Clone, Default)]
struct Index {
    /// The literal prefixes of the rules that begin with one (ASCII,
    /// compared without case); `None` when there are none.
    prefixes: Option<AhoCorasick>,
    /// The rule each prefix belongs to.
    prefix_rule: Vec<usize>,
    /// The `name` of every rule without a literal prefix; `None` when there
    /// are none, or they exceed the regex size limit (then each is tried).
    loose: Option<RegexSet>,
    /// The rule each pattern of `loose` belongs to, in rule order.
    loose_rule: Vec<usize>,
}

impl Index {
    fn new(rules: &[Rule]) -> Self {
        let (mut prefixes, mut prefix_rule, mut loose, mut loose_rule) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, r) in rules.iter().enumerate() {
            match literal_prefixes(&r.spec.name) {
                Some(ps) => {
                    for p in ps {
                        prefixes.push(p);
                        prefix_rule.push(i);
                    }
                }
                None => {
                    loose.push(r.spec.name.as_str());
                    loose_rule.push(i);
                }
            }
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&prefixes)
            .ok()
            .filter(|_| !prefixes.is_empty());
        if ac.is_none() {
            // No prefix index: every rule is tried (the set still helps).
            loose = rules.iter().map(|r| r.spec.name.as_str()).collect();
            loose_rule = (0..rules.len()).collect();
            prefix_rule.clear();
        }
        let set = RegexSetBuilder::new(&loose)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .ok()
            .filter(|_| !loose.is_empty());
        Self {
            prefixes: ac,
            prefix_rule,
            loose: set,
            loose_rule,
        }
    }

    /// The rules that may match `name`, in rule order.
    fn candidates(&self, name: &str, out: &mut Vec<usize>) {
        out.clear();
        // The two non-ASCII letters that `(?i)` takes for ASCII ones (the
        // Kelvin sign for k, the long s for s) escape a comparison of ASCII
        // without case: a title with either tries every prefixed rule.
        if name.contains(['\u{212A}', '\u{17F}']) {
            out.extend_from_slice(&self.prefix_rule);
        } else if let Some(ac) = &self.prefixes {
            out.extend(
                ac.find_overlapping_iter(name)
                    .filter(|m| m.start() == 0)
                    .map(|m| self.prefix_rule[m.pattern().as_usize()]),
            );
        }
        match &self.loose {
            Some(set) => out.extend(set.matches(name).iter().map(|i| self.loose_rule[i])),
            None => out.extend_from_slice(&self.loose_rule),
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// The literal text every match of `pattern` starts with, one per top-level
/// alternative (`(?i)^Node\.js$|^nodejs$` gives `Node.js` and `nodejs`), or
/// `None` when some alternative has none (it is not anchored, or starts
/// with a group or a class). ASCII only, so that comparing without case is
/// right for `(?i)` patterns; a pattern without `(?i)` is still confirmed
/// by its own regex.
fn literal_prefixes(pattern: &str) -> Option<Vec<String>> {
    let body = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let mut alternatives = Vec::new();
    let (mut depth, mut in_class, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in body.char_indices() {
        match (escaped, in_class, c) {
            (true, _, _) => escaped = false,
            (false, _, '\\') => escaped = true,
            (false, true, ']') => in_class = false,
            (false, true, _) => {}
            (false, false, '[') => in_class = true,
            (false, false, '(') => depth += 1,
            (false, false, ')') => depth = depth.saturating_sub(1),
            (false, false, '|') if depth == 0 => {
                alternatives.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    alternatives.push(&body[start..]);
    alternatives
        .into_iter()
        .map(|alt| {
            let rest = alt.strip_prefix('^')?;
            let mut lit = String::new();
            let mut chars = rest.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) if e.is_ascii_punctuation() || e == ' ' => lit.push(e),
                        _ => break,
                    },
                    '*' | '?' | '{' => {
                        // The last character was optional.
                        lit.pop();
                        break;
                    }
                    '(' | ')' | '[' | ']' | '.' | '+' | '|' | '^' | '$' => break,
                    c if c.is_ascii() => lit.push(c),
                    _ => break,
                }
                if matches!(chars.peek(), Some('*' | '?' | '{')) {
                    lit.pop();
                    break;
                }
            }
            Some(lit).filter(|l| !l.is_empty())
        })
        .collect()
}

impl Default for SoftwareRules {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<RuleSpec>,
    #[serde(default)]
    no_rule: Vec<NoRule>,
}

impl SoftwareRules {
    fn new(rules: Vec<Rule>, no_rule: Vec<NoRule>) -> Self {
        Self {
            index: Index::new(&rules),
            rules,
            no_rule,
        }
    }

    /// The rules shipped with the binary.
    pub fn builtin() -> Self {
        let file: RulesFile =
            toml::from_str(BUILTIN_RULES).expect("bundled software_rules.toml parses");
        let rules = file
            .rule
            .into_iter()
            .map(|s| {
                let name = s.name.clone();
                Rule::compile(s)
                    .unwrap_or_else(|e| panic!("bundled software rule {name:?} compiles: {e}"))
            })
            .collect();
        Self::new(rules, file.no_rule)
    }

    /// Put `first` ahead of the current rules (site rules win).
    pub fn prepend(&mut self, first: Vec<Rule>) {
        let mut rules = first;
        rules.append(&mut self.rules);
        *self = Self::new(rules, std::mem::take(&mut self.no_rule));
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Every application a rule names.
    pub fn applications(&self) -> std::collections::BTreeSet<&str> {
        self.rules
            .iter()
            .filter_map(|r| r.spec.application.as_deref())
            .collect()
    }

    /// Match one title: the first rule, in order, that holds.
    pub fn match_title(
        &self,
        catalog: &Catalog,
        name: &str,
        version: &str,
        publisher: &str,
    ) -> SoftwareMatch {
        let name = package_name(name.trim());
        let mut candidates = Vec::with_capacity(8);
        self.index.candidates(name, &mut candidates);
        self.first_that_holds(catalog, candidates, name, version, publisher)
    }

    /// The same as [`Self::match_title`], trying every rule's own regex in
    /// turn (rules × titles): the definition the indexed matcher keeps to,
    /// and the baseline it is measured against.
    pub fn match_title_rule_by_rule(
        &self,
        catalog: &Catalog,
        name: &str,
        version: &str,
        publisher: &str,
    ) -> SoftwareMatch {
        let name = package_name(name.trim());
        self.first_that_holds(catalog, 0..self.rules.len(), name, version, publisher)
    }

    /// What the first of the rules `order` names (ascending) that holds for
    /// the title gives; `name` is already trimmed and without architecture.
    fn first_that_holds(
        &self,
        catalog: &Catalog,
        order: impl IntoIterator<Item = usize>,
        name: &str,
        version: &str,
        publisher: &str,
    ) -> SoftwareMatch {
        let upstream = upstream_version(version);
        for i in order {
            let rule = &self.rules[i];
            let v = if rule.spec.package { upstream } else { version };
            if rule.name.is_match(name) && rule.accepts(name, v, publisher) {
                return rule.outcome(catalog, name, v);
            }
        }
        SoftwareMatch::default()
    }

    /// Every rule's examples that do not give what they say, run through the
    /// whole list (so a rule shadowed by an earlier one shows here too).
    pub fn failing_examples(&self, catalog: &Catalog) -> Vec<ExampleFailure> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for e in &rule.spec.examples {
                let m = self.match_title(catalog, &e.name, &e.version, &e.publisher);
                let got = m
                    .cycle
                    .as_ref()
                    .map(|c| format!("{}/{}", c.product, c.cycle));
                // A title the rule is for gets its application; a product
                // rule's counter-example (no cycle expected) need not.
                let for_this_rule = rule.spec.product.is_none() || e.expect.is_some();
                let app_ok = rule.spec.application.is_none()
                    || !for_this_rule
                    || m.application == rule.spec.application;
                if got != e.expect || !app_ok {
                    out.push(ExampleFailure {
                        rule: rule.spec.name.clone(),
                        example: e.clone(),
                        got: match (got, m.application) {
                            (Some(c), Some(a)) => format!("{c} (application {a})"),
                            (Some(c), None) => c,
                            (None, Some(a)) => format!("- (application {a})"),
                            (None, None) => "-".into(),
                        },
                    });
                }
            }
        }
        out
    }

    /// Every installed-software product of the catalog (every category but
    /// `os`) with the rules and examples that reach it, or why none can.
    pub fn coverage(&self, catalog: &Catalog) -> Vec<ProductCoverage> {
        let mut products: BTreeMap<&str, (usize, std::collections::BTreeSet<&str>)> =
            BTreeMap::new();
        for c in catalog.cycles() {
            if c.category != "os" {
                products.entry(&c.product).or_default().0 += 1;
            }
        }
        let mut reached: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        let mut examples: BTreeMap<&str, usize> = BTreeMap::new();
        for rule in &self.rules {
            for e in &rule.spec.examples {
                if let Some((p, c)) = e.expect.as_deref().and_then(|x| x.split_once('/')) {
                    *examples.entry(p).or_default() += 1;
                    reached.entry(p).or_default().insert(c);
                }
            }
        }
        products
            .into_iter()
            .map(|(product, (cycles, _))| {
                let named = || {
                    self.rules
                        .iter()
                        .filter(move |r| r.spec.product.as_deref() == Some(product))
                };
                ProductCoverage {
                    product: product.to_string(),
                    name: catalog.product_name(product).unwrap_or(product).to_string(),
                    rules: named().count(),
                    package_rules: named().filter(|r| r.spec.package).count(),
                    examples: examples.get(product).copied().unwrap_or(0),
                    cycles_reached: reached.get(product).map_or(0, |s| {
                        s.iter()
                            .filter(|c| catalog.get(product, c).is_some())
                            .count()
                    }),
                    cycles,
                    no_rule: self
                        .no_rule
                        .iter()
                        .find(|n| n.product == product)
                        .map(|n| n.why.clone()),
                }
            })
            .collect()
    }
}

/// A package name without the architecture a package manager appends
/// (`python3.11:amd64` from dpkg, `httpd.x86_64` from rpm); any other name
/// as it is.
fn package_name(name: &str) -> &str {
    const ARCHES: &[&str] = &[
        "amd64", "i386", "arm64", "armhf", "armel", "ppc64el", "s390x", "all", "x86_64", "i686",
        "aarch64", "ppc64le", "noarch",
    ];
    if name.contains(char::is_whitespace) {
        return name;
    }
    for sep in [':', '.'] {
        if let Some((base, arch)) = name.rsplit_once(sep)
            && !base.is_empty()
            && ARCHES.contains(&arch)
        {
            return base;
        }
    }
    name
}

/// The upstream part of a distribution's package version: without the
/// epoch (`1:`) and the release after the last hyphen (`-0+deb12u1`,
/// `-2.el9`).
fn upstream_version(version: &str) -> &str {
    let v = version.trim();
    let v = match v.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => v,
    };
    match v.rsplit_once('-') {
        Some((upstream, _)) if !upstream.is_empty() => upstream,
        _ => v,
    }
}

/// Check a cycle template's placeholders without a title.
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').ok_or("a `{` without its `}`")? + start;
        let key = &rest[start + 1..end];
        let (key, filter) = match key.split_once('|') {
            Some((k, f)) => (k, Some(f)),
            None => (key, None),
        };
        let valid = match key.strip_prefix('v') {
            Some(n) => n.parse::<usize>().is_ok_and(|i| (1..=9).contains(&i)),
            None => key.parse::<usize>().is_ok_and(|i| (1..=9).contains(&i)),
        };
        if !valid {
            return Err(format!(
                "`{{{key}}}` is neither {{1}}..{{9}} nor {{v1}}..{{v9}}"
            ));
        }
        if let Some(f) = filter
            && floor_of(f).is_none()
        {
            return Err(format!(
                "unknown filter `{f}` (only `floorN`, as in {{v1|floor5}})"
            ));
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}

fn floor_of(filter: &str) -> Option<u64> {
    filter
        .strip_prefix("floor")?
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
}

/// Expand a cycle template; `None` when it names a capture or version part
/// that is absent.
fn expand(template: &str, caps: &regex::Captures<'_>, version: &str) -> Option<String> {
    let part = |i: usize| -> Option<&str> {
        let p = version.split('.').nth(i.checked_sub(1)?)?;
        let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
        Some(&p[..end]).filter(|d| !d.is_empty())
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let key = &rest[start + 1..end];
        let (key, filter) = match key.split_once('|') {
            Some((k, f)) => (k, Some(f)),
            None => (key, None),
        };
        let value = match key.strip_prefix('v') {
            Some(n) => part(n.parse().ok()?)?,
            None => caps.get(key.parse().ok()?)?.as_str(),
        };
        match filter {
            Some(f) => {
                let step = floor_of(f)?;
                let number: u64 = value.parse().ok()?;
                out.push_str(&(number / step * step).to_string());
            }
            None => out.push_str(value),
        }
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
    fn every_rule_example_gives_what_it_says_through_the_whole_list() {
        let catalog = Catalog::builtin();
        let failures = catalog.rules().failing_examples(&catalog);
        let lines: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert!(lines.is_empty(), "{}", lines.join("\n"));
    }

    #[test]
    fn every_bundled_rule_carries_examples_of_what_it_is_for() {
        let rules = SoftwareRules::builtin();
        let mut missing = Vec::new();
        for r in rules.iter() {
            let spec = r.spec();
            let own = spec.examples.iter().filter(|e| match &spec.product {
                Some(p) => e
                    .expect
                    .as_deref()
                    .is_some_and(|x| x.split('/').next() == Some(p.as_str())),
                None => true,
            });
            if own.count() == 0 {
                missing.push(spec.name.clone());
            }
        }
        assert!(missing.is_empty(), "rules without examples: {missing:?}");
        assert!(rules.len() > 60, "{}", rules.len());
    }

    #[test]
    fn every_installed_software_product_of_the_catalog_is_reached_or_says_why_not() {
        let catalog = Catalog::builtin();
        let coverage = catalog.rules().coverage(&catalog);
        assert!(coverage.len() > 40, "{}", coverage.len());
        assert!(
            coverage.iter().all(|c| c.product != "windows"),
            "operating systems are matched by the OS rules"
        );
        for c in &coverage {
            match &c.no_rule {
                Some(why) => assert_eq!(
                    c.rules, 0,
                    "{} has rules and also says none can reach it: {why}",
                    c.product
                ),
                None => {
                    assert!(c.rules > 0, "no rule reaches {}", c.product);
                    assert!(c.examples > 0, "no example reaches {}", c.product);
                    assert!(c.cycles_reached > 0, "{c:?}");
                }
            }
        }
        let linux: Vec<&str> = coverage
            .iter()
            .filter(|c| c.package_rules > 0)
            .map(|c| c.product.as_str())
            .collect();
        for p in [
            "python",
            "nodejs",
            "postgresql",
            "mysql",
            "mariadb",
            "redis",
            "tomcat",
            "openssl",
            "nvidia-driver",
            "firefox",
            "chrome",
        ] {
            assert!(linux.contains(&p), "{p} has a package rule: {linux:?}");
        }
    }

    #[test]
    fn the_indexed_matcher_decides_as_trying_each_rule_in_turn_would() {
        let catalog = Catalog::builtin();
        let rules = catalog.rules();
        let mut titles: Vec<(String, String, String)> = rules
            .iter()
            .flat_map(|r| r.spec().examples.iter())
            .map(|e| (e.name.clone(), e.version.clone(), e.publisher.clone()))
            .collect();
        for set in [
            include_str!("../../tests/data/software_titles.tsv"),
            include_str!("../../tests/data/software_titles_2.tsv"),
        ] {
            for line in set.lines().filter(|l| !l.starts_with('#')) {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() >= 3 {
                    titles.push((f[0].into(), f[1].into(), f[2].into()));
                }
            }
        }
        assert!(titles.len() > 1000, "{}", titles.len());
        titles.push(("Some Lab Tool".into(), "1.0".into(), String::new()));
        titles.push(("Überwachung 2".into(), "2.0".into(), String::new()));
        for (n, v, p) in &titles {
            assert_eq!(
                rules.match_title(&catalog, n, v, p),
                rules.match_title_rule_by_rule(&catalog, n, v, p),
                "{n} {v}"
            );
        }
    }

    #[test]
    fn rules_are_indexed_by_the_literal_every_match_starts_with() {
        let p = |s: &str| literal_prefixes(s);
        let v = |xs: &[&str]| Some(xs.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            p(r"(?i)^Microsoft SQL Server (2012|2014)"),
            v(&["Microsoft SQL Server "])
        );
        assert_eq!(p(r"(?i)^Node\.js$|^nodejs$"), v(&["Node.js", "nodejs"]));
        assert_eq!(p(r"^python(\d)\.(\d+)$"), v(&["python"]));
        assert_eq!(p(r"^firefox(?:-esr)?$"), v(&["firefox"]));
        assert_eq!(p(r"(?i)^Notepad\+\+"), v(&["Notepad++"]));
        assert_eq!(
            p(r"^sqlite3?$"),
            v(&["sqlite"]),
            "an optional last letter is left out"
        );
        assert_eq!(p(r"^abc\.?x"), v(&["abc"]));
        assert_eq!(
            p(r"(?i)^(?:Microsoft )?Visual Studio"),
            None,
            "starts with a group"
        );
        assert_eq!(p(r"(?i)\bhelp ?pack\b"), None, "not anchored");
        assert_eq!(p(r"^Foo|bar"), None, "one alternative is not anchored");
        assert_eq!(p(r"^a(b|c)|^d"), v(&["a", "d"]));
        assert_eq!(p(r"^[Pp]ython"), None);
        assert_eq!(p(r"^Überwachung"), None, "ASCII only");
        assert_eq!(p(r"(?i-u)^abc"), None, "other flags are not read");
    }

    #[test]
    fn a_thousand_site_rules_leave_the_shipped_matches_as_they_were() {
        let catalog = Catalog::builtin();
        let mut rules: Vec<Rule> = (0..1000)
            .map(|i| {
                Rule::compile(RuleSpec {
                    name: format!(r"(?i)^Lab Instrument {i:04}\b"),
                    application: Some(format!("Lab {i}")),
                    ..RuleSpec::default()
                })
                .expect("compiles")
            })
            .collect();
        rules.push(
            Rule::compile(RuleSpec {
                name: r"(?i)\bKiosk\b".into(),
                ignore: Some("site kiosks".into()),
                ..RuleSpec::default()
            })
            .expect("compiles"),
        );
        let mut big = catalog.rules().clone();
        big.prepend(rules);
        for r in catalog.rules().iter() {
            for e in &r.spec().examples {
                assert_eq!(
                    big.match_title(&catalog, &e.name, &e.version, &e.publisher),
                    catalog
                        .rules()
                        .match_title(&catalog, &e.name, &e.version, &e.publisher),
                    "{}",
                    e.name
                );
            }
        }
        let m = big.match_title(&catalog, "Lab Instrument 0042 Suite", "1.0", "");
        assert_eq!(m.application.as_deref(), Some("Lab 42"));
        let k = big.match_title(&catalog, "Python 3.12.1 (64-bit) Kiosk", "3.12.1", "");
        assert_eq!(
            k,
            SoftwareMatch::default(),
            "the site's ignore rule comes first"
        );
        // The long s is an s to `(?i)`: the title is still found.
        let long_s = "Micro\u{17F}oft SQL Server 2019 (64-bit)";
        let m = big.match_title(&catalog, long_s, "15.0.2000.5", "");
        assert_eq!(
            m,
            big.match_title_rule_by_rule(&catalog, long_s, "15.0.2000.5", "")
        );
        assert_eq!(m.cycle.map(|c| c.cycle).as_deref(), Some("15.0"));
    }

    #[test]
    fn distribution_versions_lose_their_epoch_and_release() {
        assert_eq!(upstream_version("1:10.11.6-0+deb12u1"), "10.11.6");
        assert_eq!(upstream_version("1.8.0.432.b06-2.el9"), "1.8.0.432.b06");
        assert_eq!(upstream_version("2:1.19~1"), "1.19~1");
        assert_eq!(
            upstream_version("7.0.56-3+really7.0.109-1"),
            "7.0.56-3+really7.0.109"
        );
        assert_eq!(upstream_version("131.0.6778.86"), "131.0.6778.86");
        assert_eq!(upstream_version(""), "");
        assert_eq!(upstream_version("-1"), "-1");
        assert_eq!(upstream_version("x:1.0"), "x:1.0");
    }

    #[test]
    fn package_names_lose_the_architecture_a_package_manager_appends() {
        assert_eq!(package_name("python3.11:amd64"), "python3.11");
        assert_eq!(package_name("httpd.x86_64"), "httpd");
        assert_eq!(package_name("python3.11"), "python3.11");
        assert_eq!(package_name("Node.js"), "Node.js");
        assert_eq!(
            package_name("Mozilla Firefox (x64 en-US)"),
            "Mozilla Firefox (x64 en-US)"
        );
        assert_eq!(package_name(":amd64"), ":amd64");
    }

    #[test]
    fn templates_round_version_parts_down_and_maps_rename_them() {
        let re = Regex::new("x").expect("compiles");
        let caps = re.captures("x").expect("matches");
        assert_eq!(
            expand("r{v1|floor5}", &caps, "551.86").as_deref(),
            Some("r550")
        );
        assert_eq!(
            expand("r{v1|floor5}", &caps, "418.96").as_deref(),
            Some("r415")
        );
        assert_eq!(
            expand("{v1}.{v2}", &caps, "16.0.x").as_deref(),
            Some("16.0")
        );
        assert_eq!(expand("{v2}", &caps, "16"), None);
        assert_eq!(expand("{1}", &caps, "16"), None);
        assert!(check_template("r{v1|floor5}").is_ok());
        assert!(
            check_template("{v1|ceil5}")
                .expect_err("unknown filter")
                .contains("floorN")
        );
        assert!(check_template("{1|floor5}").is_ok());
        assert!(check_template("{1|floor0}").is_err());
        assert!(check_template("{x}").is_err());
        assert!(check_template("{v1").is_err());
    }

    #[test]
    fn a_rule_that_ignores_titles_may_not_also_name_a_product() {
        let spec = RuleSpec {
            name: "^x$".into(),
            ignore: Some("a pack".into()),
            product: Some("python".into()),
            cycle: vec!["{v1}".into()],
            ..RuleSpec::default()
        };
        assert!(Rule::compile(spec).expect_err("refused").contains("ignore"));
        let spec = RuleSpec {
            name: "^x$".into(),
            product: Some("python".into()),
            cycle: vec!["{v1}".into()],
            examples: vec![Example {
                name: "x".into(),
                expect: Some("python".into()),
                ..Example::default()
            }],
            ..RuleSpec::default()
        };
        assert!(
            Rule::compile(spec)
                .expect_err("refused")
                .contains("PRODUCT/CYCLE")
        );
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
