//! The names people read: a release as people say it ("Windows 11 23H2
//! Enterprise", "Ubuntu 22.04 LTS", "Notepad++ 8.6"), built from the
//! catalog's facts by one pure function, [`label`].
//!
//! The product names people use are data (`core/data/product_names.tsv`, a
//! product identifier and its name per line); a product missing there (a
//! site's own, one a refresh added) is called by its catalog title. The few
//! rules that depend on a product are here: Windows' editions and long-term
//! servicing channels (read from the cycle identifier, so endoflife.date's
//! "(E)" and "(W)" never show), Ubuntu's LTS, the spellings and former names
//! some labels start with. Every label loses its quoted codename
//! (`22.04 'Jammy Jellyfish'`), HTML tags and the API's "(LTS)" markers.
//!
//! [`label`] is idempotent (a label it made reads the same when made
//! again), so a cycle a refresh or a site file takes over from the catalog
//! keeps its name.

use std::collections::HashMap;
use std::sync::LazyLock;

const PRODUCT_NAMES: &str = include_str!("../../data/product_names.tsv");

static NAMES: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    PRODUCT_NAMES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, n)| (p.trim(), n.trim()))
        .filter(|(p, n)| *p != "product" && !p.is_empty() && !n.is_empty())
        .collect()
});

/// Other spellings a product's labels may start with, read as its name
/// (`OS X 10.11 (El Capitan)` is `macOS 10.11 (El Capitan)`).
fn spellings(product: &str) -> &'static [&'static str] {
    match product {
        "macos" => &["Mac OS X", "OS X"],
        "red-hat-build-of-openjdk" => &["OpenJDK"],
        _ => &[],
    }
}

/// Former product names a label may start with, kept in brackets after
/// the name (`TFS 2018` is `Azure DevOps Server (TFS 2018)`).
fn former_names(product: &str) -> &'static [&'static str] {
    match product {
        "azure-devops-server" => &["TFS"],
        "citrix-vad" => &["XenDesktop"],
        _ => &[],
    }
}

/// The name people use for `product`: the one `product_names.tsv` gives,
/// else the catalog's `title`, else the identifier.
pub fn product_name<'a>(product: &'a str, title: &'a str) -> &'a str {
    if let Some(name) = NAMES.get(product) {
        return name;
    }
    let title = title.trim();
    if title.is_empty() { product } else { title }
}

/// A release as people say it, from the catalog's facts: the product's
/// identifier and title, the cycle's identifier, the label its source gave
/// (`raw`, endoflife.date's or a site file's) and whether it is a long-term
/// support release. Always starts with [`product_name`].
pub fn label(product: &str, title: &str, cycle: &str, raw: Option<&str>, lts: bool) -> String {
    let name = product_name(product, title);
    if product == "windows"
        && let Some(l) = windows(cycle, lts)
    {
        return l;
    }
    let raw = raw
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(cycle);
    let mut text = clean(raw, cycle);
    if product == "windows" {
        // A cycle of a shape the rules below do not know: its edition in words.
        text = squeeze(&text.replace("(E)", "Enterprise").replace("(W)", ""));
    }
    let mut out = named(&text, name, title, product);
    if product == "ubuntu" && lts && !out.ends_with(" LTS") {
        out.push_str(" LTS");
    }
    out
}

/// `text` with the product's name in front, in place of the name, title or
/// spelling it starts with.
fn named(text: &str, name: &str, title: &str, product: &str) -> String {
    let mut prefixes: Vec<&str> = [name, title.trim()]
        .into_iter()
        .chain(spellings(product).iter().copied())
        .filter(|p| !p.is_empty())
        .collect();
    // The longest first: "AlmaLinux OS 10" loses "AlmaLinux OS", not "AlmaLinux".
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in prefixes {
        if let Some(rest) = after_words(text, p) {
            return join(name, rest);
        }
    }
    if former_names(product)
        .iter()
        .any(|f| after_words(text, f).is_some())
    {
        return format!("{name} ({text})");
    }
    join(name, text)
}

fn join(name: &str, rest: &str) -> String {
    if rest.is_empty() {
        name.to_string()
    } else {
        format!("{name} {rest}")
    }
}

/// What follows `prefix` (compared case-insensitively) at the start of
/// `text`, when it ends a word there.
fn after_words<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &text[prefix.len()..];
    match rest.chars().next() {
        None => Some(""),
        Some(c) if c.is_whitespace() => Some(rest.trim_start()),
        Some(_) => None,
    }
}

/// A source's label without what people do not say: a label that only
/// spells the cycle identifier reads with spaces (`2012-R2`), quoted
/// codenames, HTML tags and "(LTS)" markers go, `2022 - 17.14` is
/// `2022 17.14`.
fn clean(raw: &str, cycle: &str) -> String {
    let mut text = if raw.eq_ignore_ascii_case(cycle) && raw.contains('-') {
        raw.replace('-', " ")
    } else {
        raw.to_string()
    };
    text = without_quoted(&without_tags(&text));
    for marker in ["(LTS)", "(LTSC)"] {
        text = text.replace(marker, " ");
    }
    squeeze(&text.replace(" - ", " "))
}

/// `text` without HTML tags, their text kept (`(<abbr title='Short Term
/// Support'>STS</abbr>)` is `(STS)`).
fn without_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        out.push_str(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` without its quoted words (`'Jammy Jellyfish'`): a quote opening
/// a word to one closing a word, so an apostrophe inside a word
/// (`Schrödinger's Cat`) stays.
fn without_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let open = rest
            .char_indices()
            .find(|&(i, c)| c == '\'' && (i == 0 || rest[..i].ends_with(char::is_whitespace)));
        let Some((i, _)) = open else {
            out.push_str(rest);
            return out;
        };
        let after = &rest[i + 1..];
        let close = after.char_indices().find(|&(j, c)| {
            c == '\''
                && j > 0
                && after[j + 1..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        });
        match close {
            Some((j, _)) => {
                out.push_str(&rest[..i]);
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Single spaces between words, none around them.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A Windows 10 or 11 cycle (`11-23h2-e`, `10-1607-e-lts`,
/// `10-21h2-iot-lts`) as people say it; `None` for other shapes (`7-sp1`,
/// `8.1`), which read as their label after "Windows".
fn windows(cycle: &str, lts: bool) -> Option<String> {
    let mut parts = cycle.split('-');
    let major = parts
        .next()
        .filter(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))?;
    // A feature update: 1607, 22H2.
    let version = parts
        .next()
        .filter(|v| {
            v.len() == 4
                && v.starts_with(|c: char| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_alphanumeric())
        })?
        .to_ascii_uppercase();
    let flags: Vec<&str> = parts.collect();
    if flags
        .iter()
        .any(|f| !matches!(*f, "e" | "w" | "iot" | "lts"))
    {
        return None;
    }
    let enterprise = flags.contains(&"e");
    let iot = flags.contains(&"iot");
    let lts = lts || flags.contains(&"lts");
    Some(if lts {
        let edition = if iot { "IoT Enterprise" } else { "Enterprise" };
        match ltsc_year(major, &version) {
            Some(year) => {
                let channel = if year <= 2016 { "LTSB" } else { "LTSC" };
                format!("Windows {major} {edition} {channel} {year}")
            }
            None => format!("Windows {major} {version} {edition} LTSC"),
        }
    } else if iot {
        format!("Windows {major} {version} IoT")
    } else if enterprise {
        format!("Windows {major} {version} Enterprise")
    } else {
        format!("Windows {major} {version}")
    })
}

/// The year a long-term servicing release of Windows is named after.
fn ltsc_year(major: &str, version: &str) -> Option<u16> {
    Some(match (major, version) {
        ("10", "1507") => 2015,
        ("10", "1607") => 2016,
        ("10", "1809") => 2019,
        ("10", "21H2") => 2021,
        ("11", "24H2") => 2024,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;
    use crate::catalog::SiteCatalog;

    fn people(c: &Catalog, product: &str, cycle: &str) -> String {
        c.get(product, cycle)
            .unwrap_or_else(|| panic!("{product} {cycle} is in the catalog"))
            .label
            .clone()
            .unwrap_or_else(|| panic!("{product} {cycle} has a label"))
    }

    #[test]
    fn every_product_of_the_bundled_catalog_has_a_name_people_use() {
        let c = Catalog::builtin();
        let missing: Vec<&str> = c
            .products()
            .into_iter()
            .filter(|p| !NAMES.contains_key(p))
            .collect();
        assert!(missing.is_empty(), "not in product_names.tsv: {missing:?}");
        let unknown: Vec<&&str> = NAMES.keys().filter(|p| !c.has_product(p)).collect();
        assert!(unknown.is_empty(), "not in the catalog: {unknown:?}");
    }

    #[test]
    fn every_cycle_of_the_bundled_catalog_is_labelled_with_its_product_name_first_and_no_edition_letters()
     {
        let c = Catalog::builtin();
        let mut checked = 0;
        for row in c.cycles() {
            let name = product_name(&row.product, &row.product_title);
            let label = row.label.as_deref().unwrap_or_default();
            assert!(
                label.starts_with(name) && label.len() > name.len() || label == name,
                "{} {}: {label:?} does not start with {name:?}",
                row.product,
                row.cycle
            );
            for bad in ["(E)", "(W)", " '", "<", "  ", " - "] {
                assert!(
                    !label.contains(bad),
                    "{} {}: {label:?} contains {bad:?}",
                    row.product,
                    row.cycle
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 1303, "every cycle of the bundled catalog");
    }

    #[test]
    fn the_releases_people_name_read_as_they_say_them() {
        let c = Catalog::builtin();
        for (product, cycle, want) in [
            ("windows", "10-22h2", "Windows 10 22H2"),
            ("windows", "11-23h2-e", "Windows 11 23H2 Enterprise"),
            ("windows", "11-23h2-w", "Windows 11 23H2"),
            (
                "windows",
                "10-1507-e-lts",
                "Windows 10 Enterprise LTSB 2015",
            ),
            (
                "windows",
                "10-1607-e-lts",
                "Windows 10 Enterprise LTSB 2016",
            ),
            ("windows", "10-1607-e", "Windows 10 1607 Enterprise"),
            (
                "windows",
                "10-1809-e-lts",
                "Windows 10 Enterprise LTSC 2019",
            ),
            (
                "windows",
                "10-21h2-e-lts",
                "Windows 10 Enterprise LTSC 2021",
            ),
            (
                "windows",
                "11-24h2-e-lts",
                "Windows 11 Enterprise LTSC 2024",
            ),
            (
                "windows",
                "10-21h2-iot-lts",
                "Windows 10 IoT Enterprise LTSC 2021",
            ),
            (
                "windows",
                "11-24h2-iot-lts",
                "Windows 11 IoT Enterprise LTSC 2024",
            ),
            ("windows", "10-1507-iot", "Windows 10 1507 IoT"),
            ("windows", "7-sp1", "Windows 7 SP1"),
            ("windows", "8.1", "Windows 8.1"),
            ("windows", "6-sp2", "Windows Vista SP2"),
            ("windows", "5-sp3", "Windows XP SP3"),
            ("windows-server", "2012-r2", "Windows Server 2012 R2"),
            ("windows-server", "20h2-sac", "Windows Server 20H2 SAC"),
            (
                "windows-server-core",
                "2012-r2",
                "Windows Server Core 2012 R2",
            ),
            ("windows-nano-server", "2019", "Nano Server 2019"),
            (
                "windows-embedded",
                "posready-7",
                "Windows Embedded POSReady 7",
            ),
            ("rhel", "9", "RHEL 9"),
            ("ubuntu", "22.04", "Ubuntu 22.04 LTS"),
            ("ubuntu", "23.10", "Ubuntu 23.10"),
            ("debian", "12", "Debian 12 (Bookworm)"),
            ("almalinux", "9", "AlmaLinux 9"),
            ("linuxmint", "22.3", "Linux Mint 22.3"),
            ("macos", "14", "macOS 14 (Sonoma)"),
            ("macos", "10.11", "macOS 10.11 (El Capitan)"),
            ("macos", "10.5", "macOS 10.5 (Leopard)"),
            ("fedora", "19", "Fedora 19 (Schrödinger's Cat)"),
            ("python", "3.13", "Python 3.13"),
            ("notepad-plus-plus", "8.6", "Notepad++ 8.6"),
            ("dotnet", "6", ".NET 6"),
            ("dotnetfx", "4.8", ".NET Framework 4.8"),
            ("oracle-jdk", "8", "Oracle JDK 8"),
            (
                "red-hat-build-of-openjdk",
                "8",
                "Red Hat build of OpenJDK 8 (1.8)",
            ),
            ("mssqlserver", "15.0", "SQL Server 2019"),
            ("mssqlserver", "12.0-sp3", "SQL Server 2014 SP3"),
            ("mssqlserver", "10.50-r2", "SQL Server 2008 R2"),
            ("office", "2016", "Office 2016"),
            ("office", "2024-ltsc", "Office 2024 LTSC"),
            ("visual-studio", "17.14", "Visual Studio 2022 17.14"),
            (
                "azure-devops-server",
                "2022.2",
                "Azure DevOps Server 2022 Update 2",
            ),
            (
                "azure-devops-server",
                "2018",
                "Azure DevOps Server (TFS 2018)",
            ),
            ("azure-devops-server", "continuous", "Azure DevOps Server"),
            ("amazon-linux", "2018.03", "Amazon Linux AMI 2018.03"),
            ("oracle-database", "19", "Oracle Database 19c"),
            ("chrome", "150", "Chrome 150"),
            ("azul-zulu", "13", "Azul Zulu 13 (MTS)"),
        ] {
            assert_eq!(people(&c, product, cycle), want, "{product} {cycle}");
        }
    }

    #[test]
    fn a_site_catalog_product_is_called_by_its_title_on_every_cycle() {
        let text = include_str!("../../../deploy/site-catalog.example.toml");
        let site = SiteCatalog::parse("site-catalog.example.toml", text).expect("parses");
        let mut c = Catalog::builtin();
        c.apply_site(&site);
        assert_eq!(people(&c, "matlab", "r2019b"), "MATLAB R2019b");
        // The second cycle names no title: it takes its product's.
        assert_eq!(people(&c, "matlab", "r2023b"), "MATLAB R2023b");
        // A date override keeps the built-in cycle's name.
        assert_eq!(
            people(&c, "windows-server", "2012-r2"),
            "Windows Server 2012 R2"
        );
    }

    #[test]
    fn a_label_made_again_reads_the_same() {
        for row in Catalog::builtin().cycles() {
            let once = row.label.as_deref().unwrap_or_default();
            let twice = label(
                &row.product,
                &row.product_title,
                &row.cycle,
                Some(once),
                row.lts,
            );
            assert_eq!(twice, once, "{} {}", row.product, row.cycle);
        }
    }

    #[test]
    fn the_api_labels_of_a_refresh_read_as_the_bundled_ones() {
        for (product, title, cycle, raw, lts, want) in [
            (
                "windows",
                "Microsoft Windows",
                "11-24h2-e-lts",
                "11 24H2 (E) (LTS)",
                true,
                "Windows 11 Enterprise LTSC 2024",
            ),
            (
                "windows-server",
                "Microsoft Windows Server",
                "2012-r2",
                "Windows Server 2012 R2 (LTSC)",
                true,
                "Windows Server 2012 R2",
            ),
            (
                "ubuntu",
                "Ubuntu",
                "24.04",
                "24.04 'Noble Numbat' (LTS)",
                true,
                "Ubuntu 24.04 LTS",
            ),
            // A new product and a cycle without a label.
            ("zig", "Zig", "0.14", "", false, "Zig 0.14"),
            ("zig", "", "0.14", "", false, "zig 0.14"),
        ] {
            let raw = Some(raw).filter(|r| !r.is_empty());
            assert_eq!(label(product, title, cycle, raw, lts), want, "{cycle}");
        }
    }
}
