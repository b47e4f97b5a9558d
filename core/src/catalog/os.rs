//! Matching an OS report to a lifecycle cycle, exactly as the CMF format's
//! "Mapping the OS to a lifecycle" section says. Anything it cannot place
//! with certainty is unmatched (`None`), never guessed.

use crate::domain::{CycleRef, OsInfo};

use super::Catalog;

/// Linux distributions by the beginning of `PRETTY_NAME`.
const LINUX_PREFIXES: &[(&str, &str)] = &[
    ("Ubuntu", "ubuntu"),
    ("Debian GNU/Linux", "debian"),
    ("Red Hat Enterprise Linux", "rhel"),
    ("CentOS Stream", "centos-stream"),
    ("CentOS Linux", "centos"),
    ("AlmaLinux", "almalinux"),
    ("Rocky Linux", "rocky-linux"),
    ("Oracle Linux", "oracle-linux"),
    ("SUSE Linux Enterprise Server", "sles"),
    ("Fedora Linux", "fedora"),
    ("Amazon Linux", "amazon-linux"),
    ("Linux Mint", "linuxmint"),
];

const MACOS_PREFIXES: &[&str] = &["macOS", "Mac OS X", "OS X"];

/// Match an OS report (see the module docs).
pub fn match_os(catalog: &Catalog, os: &OsInfo) -> Option<CycleRef> {
    let caption = os.caption.trim();
    if contains_ci(caption, "windows") {
        return match_windows(catalog, os);
    }
    if starts_with_ci(caption, "LMDE") {
        let major = major_of(&os.version)?;
        return catalog.cycle_ref("linuxmint", &format!("lmde{major}"));
    }
    if let Some((_, product)) = LINUX_PREFIXES
        .iter()
        .find(|(prefix, _)| starts_with_ci(caption, prefix))
    {
        return longest_prefix_cycle(catalog, product, &os.version);
    }
    if MACOS_PREFIXES.iter().any(|p| starts_with_ci(caption, p)) {
        return longest_prefix_cycle(catalog, "macos", &os.version);
    }
    None
}

/// The longest dot-separated prefix of `version` that is a cycle of
/// `product`, or `MAJOR.0` when only that exists.
fn longest_prefix_cycle(catalog: &Catalog, product: &str, version: &str) -> Option<CycleRef> {
    let version = version.trim();
    if version.is_empty() {
        return None;
    }
    let parts: Vec<&str> = version.split('.').collect();
    for n in (1..=parts.len()).rev() {
        let candidate = parts[..n].join(".");
        if let Some(c) = catalog.cycle_ref(product, &candidate) {
            return Some(c);
        }
    }
    catalog.cycle_ref(product, &format!("{}.0", parts[0]))
}

fn major_of(version: &str) -> Option<&str> {
    let major = version.trim().split('.').next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then_some(major)
}

/// `major.minor.build`: the first three dot-separated parts of `os.version`.
fn build_of(version: &str) -> Option<String> {
    let parts: Vec<&str> = version.trim().split('.').collect();
    if parts.len() < 3
        || parts[..3]
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(parts[..3].join("."))
}

fn match_windows(catalog: &Catalog, os: &OsInfo) -> Option<CycleRef> {
    let build = build_of(&os.version)?;
    let edition = os
        .edition
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let multi_session = edition.is_some_and(|e| e.eq_ignore_ascii_case("ServerRdsh"));
    let server = !multi_session
        && (matches!(os.product_type, Some(2 | 3)) || contains_ci(&os.caption, "server"));
    if server {
        match_windows_server(catalog, &os.caption, &build)
    } else {
        match_windows_client(catalog, &os.caption, edition, &build)
    }
}

/// The Server cycle named by the year in the caption, if any.
fn server_cycle_from_caption(caption: &str) -> Option<&'static str> {
    let words: Vec<String> = caption
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    for (i, w) in words.iter().enumerate() {
        let r2 = words.get(i + 1).is_some_and(|n| n == "R2");
        let cycle = match (w.as_str(), r2) {
            ("2000", _) => "2000",
            ("2003", _) => "2003-sp2",
            ("2008", true) => "2008-r2-sp1",
            ("2008", false) => "2008-sp2",
            ("2012", true) => "2012-r2",
            ("2012", false) => "2012",
            ("2016", _) => "2016",
            ("2019", _) => "2019",
            ("2022", _) => "2022",
            ("2025", _) => "2025",
            _ => continue,
        };
        return Some(cycle);
    }
    None
}

/// Release-to-manufacturing builds that count as the only cycle of their line.
const SERVER_RTM_BUILDS: &[(&str, &str)] = &[("6.0.6001", "2008-sp2"), ("6.1.7600", "2008-r2-sp1")];

fn match_windows_server(catalog: &Catalog, caption: &str, build: &str) -> Option<CycleRef> {
    let server_rows = || {
        catalog
            .builds()
            .iter()
            .filter(|r| r.product == "windows-server")
    };
    match server_cycle_from_caption(caption) {
        Some(cycle) => {
            let listed = server_rows().any(|r| r.cycle == cycle && r.build == build)
                || SERVER_RTM_BUILDS.contains(&(build, cycle));
            if listed {
                catalog.cycle_ref("windows-server", cycle)
            } else {
                None
            }
        }
        None => {
            let mut channel = server_rows().filter(|r| {
                r.build == build && (r.cycle.ends_with("-sac") || r.cycle.ends_with("-ac"))
            });
            let first = channel.next()?;
            if channel.next().is_some() {
                return None;
            }
            catalog.cycle_ref("windows-server", &first.cycle)
        }
    }
}

/// Client edition suffix (`-e`, `-w`, `-e-lts`, `-iot-lts`), from the
/// EditionID when it is one the format names, else from the caption.
fn client_suffix(caption: &str, edition: Option<&str>) -> &'static str {
    if let Some(e) = edition {
        let lower = e.to_ascii_lowercase();
        if lower.starts_with("iotenterprises") {
            return "-iot-lts";
        }
        if lower.starts_with("enterprises") {
            return "-e-lts";
        }
        if lower.starts_with("enterprise")
            || lower.starts_with("education")
            || lower.starts_with("iotenterprise")
            || lower == "serverrdsh"
        {
            return "-e";
        }
        if lower.starts_with("core") || lower.starts_with("professional") {
            return "-w";
        }
    }
    let iot = contains_ci(caption, "iot");
    let ltsc = contains_ci(caption, "ltsc");
    if iot && ltsc {
        "-iot-lts"
    } else if ltsc || contains_ci(caption, "ltsb") {
        "-e-lts"
    } else if (contains_ci(caption, "enterprise") || contains_ci(caption, "education"))
        && !contains_ci(caption, "pro education")
    {
        "-e"
    } else {
        "-w"
    }
}

const CLIENT_SUFFIXES: &[&str] = &["-iot-lts", "-e-lts", "-iot", "-e", "-w"];

fn strip_suffix(cycle: &str) -> &str {
    CLIENT_SUFFIXES
        .iter()
        .find_map(|s| cycle.strip_suffix(s))
        .unwrap_or(cycle)
}

fn match_windows_client(
    catalog: &Catalog,
    caption: &str,
    edition: Option<&str>,
    build: &str,
) -> Option<CycleRef> {
    let mut releases = catalog
        .builds()
        .iter()
        .filter(|r| r.product == "windows" && r.build == build)
        .map(|r| strip_suffix(&r.cycle));
    let release = releases.next()?;
    if releases.any(|r| r != release) {
        return None;
    }
    let suffix = client_suffix(caption, edition);
    catalog
        .cycle_ref("windows", &format!("{release}{suffix}"))
        .or_else(|| catalog.cycle_ref("windows", release))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn starts_with_ci(haystack: &str, prefix: &str) -> bool {
    haystack.len() >= prefix.len()
        && haystack.is_char_boundary(prefix.len())
        && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(
        caption: &str,
        version: &str,
        edition: Option<&str>,
        product_type: Option<i64>,
    ) -> OsInfo {
        OsInfo {
            caption: caption.into(),
            version: version.into(),
            edition: edition.map(Into::into),
            product_type,
            ..OsInfo::default()
        }
    }

    /// caption, version, edition, product type, expected (product, cycle)
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<i64>,
        Option<(&'static str, &'static str)>,
    );

    fn m(o: &OsInfo) -> Option<(String, String)> {
        Catalog::builtin().match_os(o).map(|c| (c.product, c.cycle))
    }

    fn is(product: &str, cycle: &str) -> Option<(String, String)> {
        Some((product.into(), cycle.into()))
    }

    /// Every edition rule of the format file, as a table.
    #[test]
    fn windows_clients_follow_every_edition_rule_of_the_format() {
        let cases: &[Case] = &[
            (
                "Microsoft Windows 10 Enterprise",
                "10.0.19045",
                Some("Enterprise"),
                Some(1),
                Some(("windows", "10-22h2")),
            ),
            (
                "Microsoft Windows 11 Enterprise",
                "10.0.22631",
                Some("Enterprise"),
                Some(1),
                Some(("windows", "11-23h2-e")),
            ),
            (
                "Microsoft Windows 11 Education",
                "10.0.22631",
                Some("Education"),
                Some(1),
                Some(("windows", "11-23h2-e")),
            ),
            (
                "Microsoft Windows 11 Pro",
                "10.0.22631",
                Some("Professional"),
                Some(1),
                Some(("windows", "11-23h2-w")),
            ),
            (
                "Microsoft Windows 11 Pro Education",
                "10.0.26100",
                Some("ProfessionalEducation"),
                Some(1),
                Some(("windows", "11-24h2-w")),
            ),
            (
                "Microsoft Windows 11 Home",
                "10.0.26200",
                Some("Core"),
                Some(1),
                Some(("windows", "11-25h2-w")),
            ),
            (
                "Microsoft Windows 11 Home Single Language",
                "10.0.22000",
                Some("CoreSingleLanguage"),
                Some(1),
                Some(("windows", "11-21h2-w")),
            ),
            (
                "Microsoft Windows 11 IoT Enterprise",
                "10.0.22621",
                Some("IoTEnterprise"),
                Some(1),
                Some(("windows", "11-22h2-e")),
            ),
            (
                "Microsoft Windows 11 Enterprise LTSC",
                "10.0.26100",
                Some("EnterpriseS"),
                Some(1),
                Some(("windows", "11-24h2-e-lts")),
            ),
            (
                "Microsoft Windows 11 Enterprise N LTSC",
                "10.0.26100",
                Some("EnterpriseSN"),
                Some(1),
                Some(("windows", "11-24h2-e-lts")),
            ),
            (
                "Microsoft Windows 11 IoT Enterprise LTSC",
                "10.0.26100",
                Some("IoTEnterpriseS"),
                Some(1),
                Some(("windows", "11-24h2-iot-lts")),
            ),
            (
                "Microsoft Windows 10 Enterprise LTSC",
                "10.0.17763",
                Some("EnterpriseS"),
                Some(1),
                Some(("windows", "10-1809-e-lts")),
            ),
            (
                "Microsoft Windows 10 Enterprise 2015 LTSB",
                "10.0.10240",
                Some("EnterpriseS"),
                Some(1),
                Some(("windows", "10-1507-e-lts")),
            ),
            (
                "Microsoft Windows 10 Pro",
                "10.0.10240",
                Some("Professional"),
                Some(1),
                Some(("windows", "10-1507")),
            ),
            (
                "Microsoft Windows 10 Pro",
                "10.0.14393",
                Some("Professional"),
                Some(1),
                Some(("windows", "10-1607-w")),
            ),
            (
                "Microsoft Windows 10 Enterprise",
                "10.0.14393",
                Some("Enterprise"),
                Some(1),
                Some(("windows", "10-1607-e")),
            ),
            // Enterprise multi-session reports product type 3 but is a client.
            (
                "Microsoft Windows 11 Enterprise multi-session",
                "10.0.22631",
                Some("ServerRdsh"),
                Some(3),
                Some(("windows", "11-23h2-e")),
            ),
            // No edition: the caption decides, in the format's order.
            (
                "Microsoft Windows 11 IoT Enterprise LTSC",
                "10.0.26100",
                None,
                Some(1),
                Some(("windows", "11-24h2-iot-lts")),
            ),
            (
                "Microsoft Windows 11 Enterprise LTSC",
                "10.0.26100",
                None,
                Some(1),
                Some(("windows", "11-24h2-e-lts")),
            ),
            (
                "Microsoft Windows 10 Enterprise 2016 LTSB",
                "10.0.14393",
                None,
                None,
                Some(("windows", "10-1607-e-lts")),
            ),
            (
                "Microsoft Windows 11 Education",
                "10.0.22631",
                None,
                None,
                Some(("windows", "11-23h2-e")),
            ),
            (
                "Microsoft Windows 11 Pro Education",
                "10.0.22631",
                None,
                None,
                Some(("windows", "11-23h2-w")),
            ),
            (
                "Microsoft Windows 11 Pro",
                "10.0.22631",
                None,
                None,
                Some(("windows", "11-23h2-w")),
            ),
            // Older clients have one cycle per build.
            (
                "Microsoft Windows 7 Professional",
                "6.1.7601",
                Some("Professional"),
                Some(1),
                Some(("windows", "7-sp1")),
            ),
            (
                "Microsoft Windows XP Professional",
                "5.1.2600",
                None,
                Some(1),
                Some(("windows", "5-sp3")),
            ),
            (
                "Microsoft Windows 8.1 Pro",
                "6.3.9600",
                Some("Professional"),
                Some(1),
                Some(("windows", "8.1")),
            ),
            // Unknown builds are unmatched.
            (
                "Microsoft Windows 11 Pro",
                "10.0.99999",
                Some("Professional"),
                Some(1),
                None,
            ),
            (
                "Microsoft Windows 11 Pro",
                "garbage",
                Some("Professional"),
                Some(1),
                None,
            ),
        ];
        for (caption, version, edition, pt, want) in cases {
            let got = m(&os(caption, version, *edition, *pt));
            let want = want.map(|(p, c)| (p.to_string(), c.to_string()));
            assert_eq!(got, want, "{caption} {version} {edition:?} {pt:?}");
        }
    }

    #[test]
    fn windows_servers_follow_the_year_and_build_rules() {
        let cases: &[Case] = &[
            (
                "Microsoft Windows Server 2008 R2 Enterprise",
                "6.1.7601",
                Some("ServerEnterprise"),
                Some(3),
                Some(("windows-server", "2008-r2-sp1")),
            ),
            (
                "Microsoft Windows Server 2008 R2 Standard",
                "6.1.7600",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2008-r2-sp1")),
            ),
            (
                "Microsoft Windows Server 2008 Standard",
                "6.0.6001",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2008-sp2")),
            ),
            (
                "Microsoft Windows Server 2008 Standard",
                "6.0.6002",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2008-sp2")),
            ),
            (
                "Microsoft Windows Server 2008 Standard",
                "6.0.6003",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2008-sp2")),
            ),
            (
                "Microsoft Windows Server 2012 R2 Standard",
                "6.3.9600",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2012-r2")),
            ),
            (
                "Microsoft Windows Server 2012 Datacenter",
                "6.2.9200",
                Some("ServerDatacenter"),
                Some(2),
                Some(("windows-server", "2012")),
            ),
            (
                "Microsoft Windows Server 2016 Standard",
                "10.0.14393",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2016")),
            ),
            (
                "Microsoft Windows Server 2019 Datacenter",
                "10.0.17763",
                Some("ServerDatacenter"),
                Some(3),
                Some(("windows-server", "2019")),
            ),
            (
                "Microsoft Windows Server 2022 Standard",
                "10.0.20348",
                Some("ServerStandard"),
                Some(3),
                Some(("windows-server", "2022")),
            ),
            (
                "Microsoft Windows Server 2025 Datacenter",
                "10.0.26100",
                Some("ServerDatacenter"),
                Some(3),
                Some(("windows-server", "2025")),
            ),
            (
                "Microsoft(R) Windows(R) Server 2003, Standard Edition",
                "5.2.3790",
                None,
                Some(3),
                Some(("windows-server", "2003-sp2")),
            ),
            (
                "Microsoft(R) Windows(R) Server 2003 R2 Enterprise x64 Edition",
                "5.2.3790",
                None,
                Some(3),
                Some(("windows-server", "2003-sp2")),
            ),
            (
                "Microsoft Windows 2000 Server",
                "5.0.2195",
                None,
                Some(3),
                Some(("windows-server", "2000")),
            ),
            // A year whose build the map does not list for it: unmatched.
            (
                "Microsoft Windows Server 2019 Standard",
                "10.0.20348",
                Some("ServerStandard"),
                Some(3),
                None,
            ),
            (
                "Microsoft Windows Server 2012 R2 Standard",
                "6.2.9200",
                Some("ServerStandard"),
                Some(3),
                None,
            ),
            // No year: Semi-Annual / Annual Channel, by build.
            (
                "Microsoft Windows Server Datacenter",
                "10.0.17763",
                Some("ServerDatacenterACor"),
                Some(3),
                Some(("windows-server", "1809-sac")),
            ),
            (
                "Microsoft Windows Server Standard",
                "10.0.25398",
                Some("ServerStandardACor"),
                Some(3),
                Some(("windows-server", "23h2-ac")),
            ),
            (
                "Microsoft Windows Server Standard",
                "10.0.20348",
                Some("ServerStandardACor"),
                Some(3),
                None,
            ),
            // "Server" in the caption without a product type still means a server.
            (
                "Microsoft Windows Server 2016 Standard",
                "10.0.14393",
                None,
                None,
                Some(("windows-server", "2016")),
            ),
            // Product type 2 (domain controller) is a server.
            (
                "Microsoft Windows Server 2022 Datacenter",
                "10.0.20348",
                None,
                Some(2),
                Some(("windows-server", "2022")),
            ),
        ];
        for (caption, version, edition, pt, want) in cases {
            let got = m(&os(caption, version, *edition, *pt));
            let want = want.map(|(p, c)| (p.to_string(), c.to_string()));
            assert_eq!(got, want, "{caption} {version} {edition:?} {pt:?}");
        }
    }

    #[test]
    fn every_build_of_the_map_matches_one_of_its_listed_cycles() {
        let c = Catalog::builtin();
        for row in c.builds() {
            let (caption, pt, edition) = if row.product == "windows-server" {
                let year = row.cycle.split('-').next().unwrap_or_default();
                let r2 = if row.cycle.contains("-r2") { " R2" } else { "" };
                if row.cycle.ends_with("sac") || row.cycle.ends_with("-ac") {
                    (
                        "Microsoft Windows Server Standard".to_string(),
                        3,
                        "ServerStandardACor",
                    )
                } else {
                    (
                        format!("Microsoft Windows Server {year}{r2} Standard"),
                        3,
                        "ServerStandard",
                    )
                }
            } else {
                (
                    "Microsoft Windows 10 Enterprise".to_string(),
                    1,
                    "Enterprise",
                )
            };
            let got = c.match_os(&os(&caption, &row.build, Some(edition), Some(pt)));
            let got = got.unwrap_or_else(|| panic!("{} {} is unmatched", row.product, row.build));
            assert_eq!(got.product, row.product);
            let listed: Vec<&str> = c
                .builds()
                .iter()
                .filter(|r| r.product == row.product && r.build == row.build)
                .map(|r| r.cycle.as_str())
                .collect();
            assert!(
                listed.contains(&got.cycle.as_str()) || c.get("windows", &got.cycle).is_some(),
                "{} {} -> {} not among {listed:?}",
                row.product,
                row.build,
                got.cycle
            );
        }
    }

    #[test]
    fn linux_and_macos_use_the_longest_catalog_prefix_of_the_version() {
        let cases = [
            ("Ubuntu 22.04.4 LTS", "22.04", is("ubuntu", "22.04")),
            ("Debian GNU/Linux 12 (bookworm)", "12", is("debian", "12")),
            (
                "Red Hat Enterprise Linux 9.4 (Plow)",
                "9.4",
                is("rhel", "9"),
            ),
            ("CentOS Stream 9", "9", is("centos-stream", "9")),
            ("CentOS Linux 7 (Core)", "7", is("centos", "7")),
            (
                "AlmaLinux 9.4 (Seafoam Ocelot)",
                "9.4",
                is("almalinux", "9"),
            ),
            (
                "Rocky Linux 8.10 (Green Obsidian)",
                "8.10",
                is("rocky-linux", "8"),
            ),
            (
                "SUSE Linux Enterprise Server 15 SP5",
                "15.5",
                is("sles", "15.5"),
            ),
            ("SUSE Linux Enterprise Server 15", "15", is("sles", "15.0")),
            (
                "Fedora Linux 40 (Workstation Edition)",
                "40",
                is("fedora", "40"),
            ),
            ("Linux Mint 21.3", "21.3", is("linuxmint", "21.3")),
            ("Linux Mint 22", "22", is("linuxmint", "22")),
            ("LMDE 6 (faye)", "6", is("linuxmint", "lmde6")),
            ("macOS", "14.5", is("macos", "14")),
            ("Mac OS X", "10.15.7", is("macos", "10.15")),
            ("Ubuntu 99.04", "99.04", None),
            ("Gentoo Linux", "2.15", None),
            ("Haiku", "r1beta4", None),
        ];
        for (caption, version, want) in cases {
            assert_eq!(
                m(&os(caption, version, None, None)),
                want,
                "{caption} {version}"
            );
        }
    }

    #[test]
    fn oracle_and_amazon_linux_are_recognised_by_their_pretty_name() {
        assert_eq!(
            m(&os("Oracle Linux Server 8.9", "8.9", None, None)),
            is("oracle-linux", "8")
        );
        let amazon = m(&os("Amazon Linux 2023", "2023", None, None));
        assert_eq!(amazon.map(|(p, _)| p), Some("amazon-linux".to_string()));
    }
}
