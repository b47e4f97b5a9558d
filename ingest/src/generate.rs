//! Deterministic synthetic fleets in the CMF snapshot format
//! (`shared/formats/cmf-snapshot.md`), for the bundled demo (a small fleet
//! shown on a fresh machine) and for benchmarks (100,000 machines × 150
//! programs, about 15 million software rows).
//!
//! This module owns [`FleetSpec`] (what to generate), [`write_fleet`] (which
//! streams one JSON object per line to any writer) and [`FleetStats`]. The
//! same spec, seed included, always gives byte-identical output.
//!
//! The fleet is one an IT team would recognise: Windows 10 and 11 clients in
//! several editions (LTSC lab PCs included), Windows Server 2008 R2 to 2025,
//! some Linux and macOS, and a couple of percent of odd operating systems that
//! no lifecycle cycle matches. Programs mix titles the software rules know
//! (Office, SQL Server, Python, Java, browsers, MATLAB, Visual Studio, ...)
//! with a long tail of redistributables, drivers and vendor tools, so a
//! 100,000-machine fleet holds a few thousand distinct (name, version,
//! publisher) titles, not millions.
//!
//! Speed: every title's JSON is serialised once, up front; a machine line is
//! then assembled from those bytes, a date table and a few random draws.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What fleet to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// How many machines (lines) to write.
    pub machines: usize,
    /// How many software entries each machine lists.
    pub programs_per_machine: usize,
    /// Seed of the random generator: the same spec gives the same bytes.
    pub seed: u64,
    /// The instant of the export: no report is dated after it.
    pub collected_at: DateTime<Utc>,
    /// Share of machines (0..=1) whose report is 120 days old (stale); the
    /// others reported within the 3 days before `collected_at`.
    pub stale_fraction: f64,
    /// Fill `responsible` and `main_user` for most machines; when false both
    /// are null everywhere.
    pub owners: bool,
    /// Windows domain of the machines (Linux and macOS report it lower-cased,
    /// as a DNS suffix); empty means null.
    pub domain: String,
}

impl FleetSpec {
    /// The bundled demo: 60 machines with 25 programs each, 5% stale.
    pub fn demo(now: DateTime<Utc>) -> Self {
        Self {
            machines: 60,
            programs_per_machine: 25,
            seed: 20_261_126,
            collected_at: now,
            stale_fraction: 0.05,
            owners: true,
            domain: "CERN".to_string(),
        }
    }

    /// The benchmark fleet: 100,000 machines with 150 programs each.
    pub fn benchmark(now: DateTime<Utc>) -> Self {
        Self {
            machines: 100_000,
            programs_per_machine: 150,
            seed: 1,
            collected_at: now,
            stale_fraction: 0.03,
            owners: true,
            domain: "CERN".to_string(),
        }
    }
}

impl Default for FleetSpec {
    /// The demo fleet, collected now.
    fn default() -> Self {
        Self::demo(Utc::now())
    }
}

/// What [`write_fleet`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Machine lines written.
    pub machines: usize,
    /// Software entries written, over all machines.
    pub software_rows: u64,
    /// Machines whose report is stale (120 days old).
    pub stale_machines: usize,
}

/// Every (name, version, publisher) a generated fleet draws its programs
/// from (a version or publisher the table leaves null is empty): the
/// distinct titles of a large fleet, as the software rules see them.
pub fn pool_titles() -> io::Result<Vec<(String, String, String)>> {
    let pool = Pool::builtin()?;
    pool.titles
        .iter()
        .map(|t| {
            let mut json = t.json.to_vec();
            json.extend_from_slice(b"null}");
            let v: serde_json::Value = serde_json::from_slice(&json)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Ok((field("name"), field("version"), field("publisher")))
        })
        .collect()
}

/// Write the fleet `spec` describes to `out` as CMF JSON Lines (one machine
/// per `\n`-terminated line), buffered; returns what was written.
pub fn write_fleet<W: Write>(spec: &FleetSpec, out: W) -> io::Result<FleetStats> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let pool = Pool::builtin()?;

    // Whole seconds: RFC 3339 with `Z`, never after the spec's instant.
    let now =
        DateTime::from_timestamp(spec.collected_at.timestamp(), 0).unwrap_or(spec.collected_at);
    let today = now.date_naive();
    let dates = date_table(today);
    let max_back: Vec<u32> = pool
        .titles
        .iter()
        .map(|t| {
            NaiveDate::from_ymd_opt(t.since, 1, 1)
                .filter(|_| t.since > 0)
                .map_or(u32::MAX, |d| {
                    u32::try_from((today - d).num_days().max(0)).unwrap_or(u32::MAX)
                })
        })
        .collect();
    let os_json: Vec<Vec<u8>> = OS_PROFILES.iter().map(os_json).collect();
    let domain_win = json_opt(Some(spec.domain.as_str()).filter(|d| !d.is_empty()));
    let domain_unix = json_opt(
        Some(spec.domain.to_ascii_lowercase())
            .as_deref()
            .filter(|d| !d.is_empty()),
    );

    let profiles = assign_profiles(spec.machines, &mut rng);
    let logins = if spec.owners {
        make_logins(spec.machines, &mut rng)
    } else {
        Vec::new()
    };
    let n_stale = stale_count(spec.machines, spec.stale_fraction);

    let n = spec.programs_per_machine;
    let mut stats = FleetStats::default();
    let mut stale_left = n_stale;
    let mut counters: Vec<(&'static str, u32)> = Vec::new();
    let mut seen = vec![false; pool.families.len()];
    let mut chosen: Vec<u32> = Vec::with_capacity(n.max(64));
    let mut line: Vec<u8> = Vec::with_capacity(256 + 160 * n);
    let mut host = String::with_capacity(16);

    for (i, &profile_index) in profiles.iter().enumerate() {
        let profile = &OS_PROFILES[usize::from(profile_index)];
        let plat = profile.platform;

        // Fresh or stale (selection sampling: exactly `n_stale` stale machines).
        let remaining = spec.machines - i;
        let stale = stale_left > 0 && rng.random_range(0..remaining) < stale_left;
        let mut back_secs = rng.random_range(0..3 * DAY_SECS);
        if stale {
            stale_left -= 1;
            stats.stale_machines += 1;
            back_secs += STALE_DAYS * DAY_SECS;
        }
        let taken = now - Duration::seconds(back_secs);
        let back_days = u32::try_from((today - taken.date_naive()).num_days().max(0)).unwrap_or(0);

        // Hostname: prefix + a per-prefix increasing number, hence unique.
        let prefix = profile.prefixes[rng.random_range(0..profile.prefixes.len())];
        let number = next_number(&mut counters, prefix, &mut rng);
        let lower_share = match plat {
            Platform::Linux => 0.7,
            Platform::Mac => 0.3,
            _ => 0.02,
        };
        host.clear();
        let width = if prefix.starts_with("LX") { 4 } else { 3 };
        if rng.random_bool(lower_share) {
            host.push_str(&prefix.to_ascii_lowercase());
        } else {
            host.push_str(prefix);
        }
        push_number(&mut host, number, width);

        line.clear();
        line.extend_from_slice(b"{\"hostname\":");
        push_json_str(&mut line, &host);
        line.extend_from_slice(b",\"domain\":");
        line.extend_from_slice(match plat {
            Platform::Linux | Platform::Mac => &domain_unix,
            _ => &domain_win,
        });
        line.extend_from_slice(b",\"collected_at\":\"");
        push_rfc3339(&mut line, taken);
        line.extend_from_slice(b"\",\"os\":");
        line.extend_from_slice(&os_json[usize::from(profile_index)]);

        // Owners.
        let (main_user, responsible) = pick_owners(&logins, plat, &mut rng);
        line.extend_from_slice(b",\"main_user\":");
        push_login(&mut line, &logins, main_user);
        line.extend_from_slice(b",\"responsible\":");
        push_login(&mut line, &logins, responsible);

        // Software: common families by their probability, then the long tail.
        pool.choose(&mut chosen, &mut seen, plat, prefix == "SRVDB", n, &mut rng);
        line.extend_from_slice(b",\"software\":[");
        for (k, &f) in chosen.iter().enumerate() {
            let family = &pool.families[f as usize];
            seen[f as usize] = false;
            let t = family.first as usize + skewed(&mut rng, family.len as usize);
            if k > 0 {
                line.push(b',');
            }
            line.extend_from_slice(&pool.titles[t].json);
            let lo = back_days + 1;
            let hi = lo
                .saturating_add(INSTALL_SPAN_DAYS)
                .min(max_back[t])
                .max(lo);
            let install_back = rng.random_range(lo..=hi);
            let form = rng.random_range(0..100u32);
            let d = &dates[(install_back as usize).min(dates.len() - 1)];
            let installed_days_before = if form < 84 {
                line.push(b'"');
                line.extend_from_slice(d);
                line.push(b'"');
                install_back - back_days
            } else if form < 92 {
                line.push(b'"');
                line.extend_from_slice(&d[0..4]);
                line.push(b'-');
                line.extend_from_slice(&d[4..6]);
                line.push(b'-');
                line.extend_from_slice(&d[6..8]);
                line.push(b'"');
                install_back - back_days
            } else {
                line.extend_from_slice(b"null");
                LAST_USED_SPAN_DAYS
            };
            if family.metered && rng.random_bool(0.75) {
                let span = i64::from(installed_days_before.min(LAST_USED_SPAN_DAYS)) * DAY_SECS;
                let u: f64 = rng.random();
                // Truncation towards zero keeps `last_used` inside the span.
                let ago = (u * u * span as f64) as i64;
                line.extend_from_slice(b",\"last_used\":\"");
                push_rfc3339(&mut line, taken - Duration::seconds(ago));
                line.push(b'"');
            }
            line.push(b'}');
        }
        line.extend_from_slice(b"]}\n");
        out.write_all(&line)?;
        stats.machines += 1;
        stats.software_rows += chosen.len() as u64;
    }
    out.flush()?;
    Ok(stats)
}

const DAY_SECS: i64 = 86_400;
/// How old a stale machine's report is.
const STALE_DAYS: i64 = 120;
/// Programs were installed at most this many days before the report.
const INSTALL_SPAN_DAYS: u32 = 6 * 365;
/// `last_used` is at most this many days before the report.
const LAST_USED_SPAN_DAYS: u32 = 400;

/// `YYYYMMDD` of `today - k days`, for every `k` an install date can take.
fn date_table(today: NaiveDate) -> Vec<[u8; 8]> {
    let len = STALE_DAYS as usize + 8 + INSTALL_SPAN_DAYS as usize;
    let mut out = Vec::with_capacity(len);
    let mut day = today;
    for _ in 0..len {
        let s = day.format("%Y%m%d").to_string();
        let mut a = [b'0'; 8];
        if s.len() == 8 {
            a.copy_from_slice(s.as_bytes());
        }
        out.push(a);
        day = day.pred_opt().unwrap_or(day);
    }
    out
}

fn push_rfc3339(buf: &mut Vec<u8>, t: DateTime<Utc>) {
    // Writing into a Vec cannot fail.
    let _ = write!(buf, "{}", t.format("%Y-%m-%dT%H:%M:%SZ"));
}

fn push_number(s: &mut String, n: u32, width: usize) {
    use std::fmt::Write as _;
    let _ = write!(s, "{n:0width$}");
}

/// A JSON string literal, escaped by serde_json.
fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    // Serialising a &str into a Vec cannot fail.
    if serde_json::to_writer(&mut *buf, s).is_err() {
        buf.extend_from_slice(b"null");
    }
}

fn json_opt(s: Option<&str>) -> Vec<u8> {
    let mut buf = Vec::new();
    match s {
        Some(s) => push_json_str(&mut buf, s),
        None => buf.extend_from_slice(b"null"),
    }
    buf
}

/// An index in `0..len` skewed towards the start (`P(i < k) = sqrt(k/len)`).
fn skewed(rng: &mut StdRng, len: usize) -> usize {
    let u: f64 = rng.random();
    let i = (u * u * len as f64) as usize;
    i.min(len.saturating_sub(1))
}

/// An index in `0..len` for the long tail: mildly skewed, so its most
/// common title is on about a quarter of the machines and its rarest still
/// on a few percent (density 2.5/len at the start, 0.625/len at the end).
fn tail_index(rng: &mut StdRng, len: usize) -> usize {
    let u: f64 = rng.random();
    let i = (u * (0.4 + 0.6 * u) * len as f64) as usize;
    i.min(len.saturating_sub(1))
}

fn stale_count(machines: usize, fraction: f64) -> usize {
    let f = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    let k = (machines as f64 * f).round() as usize;
    k.min(machines)
}

fn next_number(
    counters: &mut Vec<(&'static str, u32)>,
    prefix: &'static str,
    rng: &mut StdRng,
) -> u32 {
    if let Some(c) = counters.iter_mut().find(|(p, _)| *p == prefix) {
        c.1 += rng.random_range(1..=3);
        c.1
    } else {
        let start = rng.random_range(1..=20);
        counters.push((prefix, start));
        start
    }
}

// ---------------------------------------------------------------- OS mix

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    Workstation = 0,
    Server = 1,
    Linux = 2,
    Mac = 3,
}

struct OsProfile {
    /// Share of the fleet, per mille (normalised over the table).
    weight: u32,
    platform: Platform,
    prefixes: &'static [&'static str],
    caption: &'static str,
    version: &'static str,
    display_version: Option<&'static str>,
    edition: Option<&'static str>,
    product_type: Option<u8>,
    architecture: &'static str,
}

const PC: &[&str] = &[
    "PCITCDA", "PCBE", "PCEN", "PCPH", "PCTH", "PCHR", "PCFI", "LTIT",
];
const LAB: &[&str] = &["PCLAB", "PCCTRL"];
const VDI: &[&str] = &["VDIHOST"];
const SRV: &[&str] = &["SRVDB", "SRVWEB", "SRVAPP", "SRVFS", "SRVLIC", "SRVPRT"];
const DCS: &[&str] = &["SRVDC"];
const LX: &[&str] = &["LXPLUS", "LXBATCH", "LXDEV"];
const MAC: &[&str] = &["MACIT", "MACDES"];

#[allow(clippy::too_many_arguments)]
const fn win(
    weight: u32,
    platform: Platform,
    prefixes: &'static [&'static str],
    caption: &'static str,
    version: &'static str,
    display_version: Option<&'static str>,
    edition: &'static str,
    product_type: u8,
) -> OsProfile {
    OsProfile {
        weight,
        platform,
        prefixes,
        caption,
        version,
        display_version,
        edition: Some(edition),
        product_type: Some(product_type),
        architecture: "64-bit",
    }
}

const fn nix(
    weight: u32,
    platform: Platform,
    prefixes: &'static [&'static str],
    caption: &'static str,
    version: &'static str,
    architecture: &'static str,
) -> OsProfile {
    OsProfile {
        weight,
        platform,
        prefixes,
        caption,
        version,
        display_version: None,
        edition: None,
        product_type: None,
        architecture,
    }
}

use Platform::{Linux, Mac, Server, Workstation};

#[rustfmt::skip]
const OS_PROFILES: &[OsProfile] = &[
    // Windows 10
    win(140, Workstation, PC, "Microsoft Windows 10 Enterprise", "10.0.19045", Some("22H2"), "Enterprise", 1),
    win(50, Workstation, PC, "Microsoft Windows 10 Pro", "10.0.19045", Some("22H2"), "Professional", 1),
    win(10, Workstation, PC, "Microsoft Windows 10 Education", "10.0.19045", Some("22H2"), "Education", 1),
    win(10, Workstation, PC, "Microsoft Windows 10 Enterprise", "10.0.19044", Some("21H2"), "Enterprise", 1),
    win(20, Workstation, LAB, "Microsoft Windows 10 Enterprise LTSC 2019", "10.0.17763", Some("1809"), "EnterpriseS", 1),
    win(20, Workstation, LAB, "Microsoft Windows 10 Enterprise LTSC", "10.0.19044", Some("21H2"), "EnterpriseS", 1),
    win(10, Workstation, LAB, "Microsoft Windows 10 IoT Enterprise LTSC", "10.0.19044", Some("21H2"), "IoTEnterpriseS", 1),
    // Windows 11
    win(10, Workstation, PC, "Microsoft Windows 11 Enterprise", "10.0.22621", Some("22H2"), "Enterprise", 1),
    win(120, Workstation, PC, "Microsoft Windows 11 Enterprise", "10.0.22631", Some("23H2"), "Enterprise", 1),
    win(40, Workstation, PC, "Microsoft Windows 11 Pro", "10.0.22631", Some("23H2"), "Professional", 1),
    win(15, Workstation, PC, "Microsoft Windows 11 Education", "10.0.22631", Some("23H2"), "Education", 1),
    win(160, Workstation, PC, "Microsoft Windows 11 Enterprise", "10.0.26100", Some("24H2"), "Enterprise", 1),
    win(50, Workstation, PC, "Microsoft Windows 11 Pro", "10.0.26100", Some("24H2"), "Professional", 1),
    win(20, Workstation, PC, "Microsoft Windows 11 Education", "10.0.26100", Some("24H2"), "Education", 1),
    win(5, Workstation, VDI, "Microsoft Windows 11 Enterprise multi-session", "10.0.26100", Some("24H2"), "ServerRdsh", 3),
    win(5, Workstation, LAB, "Microsoft Windows 7 Enterprise", "6.1.7601", None, "Enterprise", 1),
    // Windows Server
    win(4, Server, SRV, "Microsoft Windows Server 2008 R2 Enterprise", "6.1.7601", None, "ServerEnterprise", 3),
    win(4, Server, SRV, "Microsoft Windows Server 2008 R2 Standard", "6.1.7601", None, "ServerStandard", 3),
    win(3, Server, SRV, "Microsoft Windows Server 2012 Standard", "6.2.9200", None, "ServerStandard", 3),
    win(15, Server, SRV, "Microsoft Windows Server 2012 R2 Standard", "6.3.9600", None, "ServerStandard", 3),
    win(10, Server, SRV, "Microsoft Windows Server 2012 R2 Datacenter", "6.3.9600", None, "ServerDatacenter", 3),
    win(20, Server, SRV, "Microsoft Windows Server 2016 Standard", "10.0.14393", Some("1607"), "ServerStandard", 3),
    win(10, Server, SRV, "Microsoft Windows Server 2016 Datacenter", "10.0.14393", Some("1607"), "ServerDatacenter", 3),
    win(30, Server, SRV, "Microsoft Windows Server 2019 Standard", "10.0.17763", Some("1809"), "ServerStandard", 3),
    win(15, Server, SRV, "Microsoft Windows Server 2019 Datacenter", "10.0.17763", Some("1809"), "ServerDatacenter", 3),
    win(3, Server, DCS, "Microsoft Windows Server 2019 Datacenter", "10.0.17763", Some("1809"), "ServerDatacenter", 2),
    win(30, Server, SRV, "Microsoft Windows Server 2022 Standard", "10.0.20348", Some("21H2"), "ServerStandard", 3),
    win(20, Server, SRV, "Microsoft Windows Server 2022 Datacenter", "10.0.20348", Some("21H2"), "ServerDatacenter", 3),
    win(3, Server, DCS, "Microsoft Windows Server 2022 Datacenter", "10.0.20348", Some("21H2"), "ServerDatacenter", 2),
    win(5, Server, SRV, "Microsoft Windows Server 2025 Standard", "10.0.26100", Some("24H2"), "ServerStandard", 3),
    // Linux and macOS
    nix(30, Linux, LX, "Ubuntu 22.04.4 LTS", "22.04", "x86_64"),
    nix(15, Linux, LX, "Ubuntu 20.04.6 LTS", "20.04", "x86_64"),
    nix(15, Linux, LX, "Ubuntu 24.04.1 LTS", "24.04", "x86_64"),
    nix(15, Linux, LX, "Red Hat Enterprise Linux 8.10 (Ootpa)", "8.10", "x86_64"),
    nix(20, Linux, LX, "Red Hat Enterprise Linux 9.4 (Plow)", "9.4", "x86_64"),
    nix(10, Linux, LX, "Debian GNU/Linux 12 (bookworm)", "12", "x86_64"),
    nix(5, Linux, LX, "AlmaLinux 9.4 (Seafoam Ocelot)", "9.4", "x86_64"),
    nix(10, Mac, MAC, "macOS", "14.7.1", "arm64"),
    nix(10, Mac, MAC, "macOS", "15.1", "arm64"),
    // Odd ones no cycle matches (the "unmatched" row).
    win(10, Workstation, PC, "Microsoft Windows 11 Enterprise Insider Preview", "10.0.99999", None, "Enterprise", 1),
    win(3, Server, SRV, "Microsoft Windows Server 2016 Standard", "10.0.17763", Some("1809"), "ServerStandard", 3),
    nix(3, Linux, LX, "FreeBSD 14.1-RELEASE", "14.1", "amd64"),
];

fn os_json(p: &OsProfile) -> Vec<u8> {
    let mut b = Vec::with_capacity(200);
    b.extend_from_slice(b"{\"caption\":");
    push_json_str(&mut b, p.caption);
    b.extend_from_slice(b",\"version\":");
    push_json_str(&mut b, p.version);
    b.extend_from_slice(b",\"display_version\":");
    b.extend_from_slice(&json_opt(p.display_version));
    b.extend_from_slice(b",\"edition\":");
    b.extend_from_slice(&json_opt(p.edition));
    b.extend_from_slice(b",\"product_type\":");
    match p.product_type {
        Some(t) => b.extend_from_slice(t.to_string().as_bytes()),
        None => b.extend_from_slice(b"null"),
    }
    b.extend_from_slice(b",\"architecture\":");
    push_json_str(&mut b, p.architecture);
    b.push(b'}');
    b
}

/// One profile index per machine: counts by largest remainder (so even a
/// small demo shows the rarer systems), then shuffled.
fn assign_profiles(n: usize, rng: &mut StdRng) -> Vec<u8> {
    let total: u128 = OS_PROFILES.iter().map(|p| u128::from(p.weight)).sum();
    let mut counts = Vec::with_capacity(OS_PROFILES.len());
    let mut rems = Vec::with_capacity(OS_PROFILES.len());
    for (i, p) in OS_PROFILES.iter().enumerate() {
        let exact = n as u128 * u128::from(p.weight);
        counts.push(usize::try_from(exact / total).unwrap_or(0));
        rems.push((exact % total, i));
    }
    let mut missing = n - counts.iter().sum::<usize>();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in &rems {
        if missing == 0 {
            break;
        }
        counts[i] += 1;
        missing -= 1;
    }
    let mut out = Vec::with_capacity(n);
    for (i, &c) in counts.iter().enumerate() {
        let i = u8::try_from(i).unwrap_or(0);
        out.extend(std::iter::repeat_n(i, c));
    }
    for i in (1..out.len()).rev() {
        let j = rng.random_range(0..=i);
        out.swap(i, j);
    }
    out
}

// ---------------------------------------------------------------- owners

const INITIALS: &[u8] = b"aabcddefghijjklmmnoprsstvw";
const SURNAMES: &[&str] = &[
    "smith", "doe", "rossi", "muller", "schmidt", "martin", "bernard", "dubois", "garcia", "lopez",
    "novak", "kowalski", "nielsen", "jensen", "hansen", "berg", "larsen", "silva", "santos",
    "costa", "ferrari", "russo", "bianchi", "romano", "fischer", "weber", "meyer", "wagner",
    "becker", "schulz", "hoffmann", "koch", "richter", "klein", "wolf", "neumann", "braun",
    "zimmerma", "kruger", "hartmann", "lange", "werner", "krause", "lehmann", "leroy", "moreau",
    "laurent", "simon", "michel", "lefebvre", "girard", "bonnet", "dupont", "lambert", "fontaine",
    "rousseau", "vincent", "morel", "fournier", "mercier", "blanc", "guerin", "jones", "brown",
    "taylor", "wilson", "evans", "thomas", "roberts", "walker", "wright", "green", "hall", "wood",
    "clarke", "jackson", "turner", "hill", "cooper", "ward", "morris", "king", "baker", "harris",
    "lewis", "young", "allen", "scott", "adams", "campbell", "kelly", "murphy", "oconnor",
    "ivanov", "petrov", "popescu", "horvath", "nagy", "kovacs", "papadop", "yilmaz", "sato",
    "tanaka", "suzuki", "kim", "lee", "park", "chen", "wang", "li", "zhang", "liu", "singh",
    "kumar", "patel", "sharma", "gupta", "nguyen", "tran", "andersen", "olsen", "lindberg",
    "virtanen", "korhonen", "svoboda", "dvorak", "fernande", "gonzalez", "martinez", "rodrigue",
    "perez", "sanchez", "ramirez", "torres", "marino", "greco", "bruno", "gallo", "conti",
    "deluca", "mancini", "costello", "janssen", "dejong", "devries", "bakker", "visser", "peeters",
    "maes", "jacobs", "mertens", "willems",
];

/// About one login per three machines: an initial and a surname, numbered
/// where two people would share one (`jdoe`, `jdoe2`).
fn make_logins(machines: usize, rng: &mut StdRng) -> Vec<String> {
    let want = (machines / 3).max(10);
    let mut used: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::with_capacity(want);
    while out.len() < want {
        let initial = char::from(INITIALS[rng.random_range(0..INITIALS.len())]);
        let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
        let mut base = String::with_capacity(10);
        base.push(initial);
        base.push_str(surname);
        let n = used.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            out.push(base);
        } else {
            out.push(format!("{base}{n}"));
        }
    }
    out
}

/// Indices into `logins` for (main user, responsible).
fn pick_owners(
    logins: &[String],
    plat: Platform,
    rng: &mut StdRng,
) -> (Option<usize>, Option<usize>) {
    if logins.is_empty() {
        return (None, None);
    }
    let len = logins.len();
    // Group leaders and server admins: a few people answer for many machines.
    let leaders = (len / 10).max(3).min(len);
    let admins = (len / 20).max(3).min(len);
    match plat {
        Platform::Workstation | Platform::Mac => {
            let main = rng.random_bool(0.93).then(|| rng.random_range(0..len));
            let responsible = if rng.random_bool(0.05) {
                None
            } else if main.is_some() && rng.random_bool(0.6) {
                main
            } else {
                Some(rng.random_range(0..leaders))
            };
            (main, responsible)
        }
        Platform::Server | Platform::Linux => {
            let main = rng.random_bool(0.2).then(|| rng.random_range(0..len));
            let responsible = (!rng.random_bool(0.05)).then(|| rng.random_range(0..admins));
            (main, responsible)
        }
    }
}

fn push_login(buf: &mut Vec<u8>, logins: &[String], i: Option<usize>) {
    match i.and_then(|i| logins.get(i)) {
        Some(l) => push_json_str(buf, l),
        None => buf.extend_from_slice(b"null"),
    }
}

// ---------------------------------------------------------------- software

/// One (name, version, publisher) title, serialised up to `"install_date":`.
struct Title {
    json: Box<[u8]>,
    /// Year the title came out (no install before its 1 January); 0 unknown.
    since: i32,
}

/// Titles a machine lists at most once (one Chrome, one Office, ...).
struct Family {
    /// Probability per platform (workstation, server, Linux, macOS) for
    /// common families; the long tail's are 0.
    p: [f64; 4],
    /// Usage is metered (entries may carry `last_used`).
    metered: bool,
    first: u32,
    len: u32,
}

struct Pool {
    titles: Vec<Title>,
    families: Vec<Family>,
    /// Families drawn by their own probability.
    common: Vec<u32>,
    /// Windows long tail, popular first.
    win_tail: Vec<u32>,
    /// Linux/macOS long tail, popular first.
    unix_tail: Vec<u32>,
    /// Microsoft SQL Server (likely on SRVDB machines).
    sql: u32,
}

/// A variant: name, version (None for null), since year.
type V = (String, Option<String>, i32);

/// The family being read from the table: probabilities, metered,
/// publisher, titles.
type Reading = ([f64; 4], bool, Option<String>, Vec<V>);

/// The title table, compiled in.
const TITLES: &str = include_str!("../data/demo_titles.tsv");

impl Pool {
    fn add(
        &mut self,
        p: [f64; 4],
        metered: bool,
        publisher: Option<&str>,
        variants: Vec<V>,
    ) -> u32 {
        let first = u32::try_from(self.titles.len()).unwrap_or(u32::MAX);
        for (name, version, since) in &variants {
            let mut b = Vec::with_capacity(name.len() + 80);
            b.extend_from_slice(b"{\"name\":");
            push_json_str(&mut b, name);
            b.extend_from_slice(b",\"version\":");
            b.extend_from_slice(&json_opt(version.as_deref()));
            b.extend_from_slice(b",\"publisher\":");
            b.extend_from_slice(&json_opt(publisher));
            b.extend_from_slice(b",\"install_date\":");
            self.titles.push(Title {
                json: b.into_boxed_slice(),
                since: *since,
            });
        }
        let id = u32::try_from(self.families.len()).unwrap_or(u32::MAX);
        self.families.push(Family {
            p,
            metered,
            first,
            len: u32::try_from(variants.len()).unwrap_or(0),
        });
        if p.iter().any(|&x| x > 0.0) {
            self.common.push(id);
        }
        id
    }

    /// The fixed pool of titles (independent of the spec's seed), read
    /// from `ingest/data/demo_titles.tsv`, compiled in (a test reads it).
    fn builtin() -> io::Result<Self> {
        Self::parse(TITLES).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ingest/data/demo_titles.tsv: {e}"),
            )
        })
    }

    /// Read the title table (see the file's header for its lines).
    fn parse(text: &str) -> Result<Self, String> {
        let mut pool = Pool {
            titles: Vec::with_capacity(6000),
            families: Vec::with_capacity(2000),
            common: Vec::new(),
            win_tail: Vec::new(),
            unix_tail: Vec::new(),
            sql: 0,
        };
        let absent = |f: &str| (f != "\\N").then(|| f.to_string());
        let ids = |f: Option<&str>, n: usize| -> Result<Vec<u32>, String> {
            f.unwrap_or("")
                .split_whitespace()
                .map(|i| i.parse::<u32>().map_err(|e| format!("line {n}: {e}")))
                .collect()
        };
        let mut family: Option<Reading> = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split('\t');
            match f.next() {
                Some("F") => {
                    if let Some((p, m, publisher, variants)) = family.take() {
                        pool.add(p, m, publisher.as_deref(), variants);
                    }
                    let mut p = [0.0; 4];
                    for x in &mut p {
                        *x = f
                            .next()
                            .and_then(|v| v.parse().ok())
                            .ok_or(format!("line {n}: a probability"))?;
                    }
                    let metered = f.next() == Some("1");
                    let publisher = f.next().and_then(absent);
                    family = Some((p, metered, publisher, Vec::new()));
                }
                Some("V") => {
                    let (Some(name), Some(version), Some(since)) = (f.next(), f.next(), f.next())
                    else {
                        return Err(format!("line {n}: name, version and year"));
                    };
                    let since = since.parse().map_err(|e| format!("line {n}: {e}"))?;
                    family
                        .as_mut()
                        .ok_or(format!("line {n}: a title before its family"))?
                        .3
                        .push((name.to_string(), absent(version), since));
                }
                Some(kind @ ("W" | "U" | "S")) => {
                    if let Some((p, m, publisher, variants)) = family.take() {
                        pool.add(p, m, publisher.as_deref(), variants);
                    }
                    let list = ids(f.next(), n)?;
                    match kind {
                        "W" => pool.win_tail = list,
                        "U" => pool.unix_tail = list,
                        _ => pool.sql = list.first().copied().unwrap_or(0),
                    }
                }
                _ => return Err(format!("line {n}: unknown line")),
            }
        }
        let families = pool.families.len() as u32;
        if pool
            .win_tail
            .iter()
            .chain(&pool.unix_tail)
            .chain(std::iter::once(&pool.sql))
            .any(|&f| f >= families)
        {
            return Err("a long-tail family number beyond the families".into());
        }
        Ok(pool)
    }

    /// Pick `n` families for one machine into `chosen`, marking them in
    /// `seen` (the caller clears the marks as it writes the entries).
    fn choose(
        &self,
        chosen: &mut Vec<u32>,
        seen: &mut [bool],
        plat: Platform,
        db: bool,
        n: usize,
        rng: &mut StdRng,
    ) {
        chosen.clear();
        let slot = plat as usize;
        for &f in &self.common {
            let mut p = self.families[f as usize].p[slot];
            if db && f == self.sql {
                p = 0.9;
            }
            if p > 0.0 && rng.random_bool(p) {
                chosen.push(f);
            }
        }
        if chosen.len() > n {
            for i in 0..n {
                let j = rng.random_range(i..chosen.len());
                chosen.swap(i, j);
            }
            chosen.truncate(n);
        }
        for &f in chosen.iter() {
            seen[f as usize] = true;
        }
        let tail = match plat {
            Platform::Linux | Platform::Mac => &self.unix_tail,
            _ => &self.win_tail,
        };
        if tail.is_empty() {
            return;
        }
        let mut unseen = tail.len();
        while chosen.len() < n {
            let mut k = tail_index(rng, tail.len());
            if unseen == 0 {
                // More programs asked for than distinct titles: repeat families.
                chosen.push(tail[k]);
                continue;
            }
            let mut tries = 0;
            while seen[tail[k] as usize] {
                tries += 1;
                k = if tries < 8 {
                    tail_index(rng, tail.len())
                } else {
                    (k + 1) % tail.len()
                };
            }
            seen[tail[k] as usize] = true;
            unseen -= 1;
            chosen.push(tail[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashSet;
    use winventory_core::{Catalog, OsInfo};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    fn spec(machines: usize, programs: usize) -> FleetSpec {
        FleetSpec {
            machines,
            programs_per_machine: programs,
            seed: 7,
            collected_at: now(),
            stale_fraction: 0.1,
            owners: true,
            domain: "CERN".into(),
        }
    }

    fn generate(spec: &FleetSpec) -> (Vec<u8>, FleetStats) {
        let mut out = Vec::new();
        let stats = write_fleet(spec, &mut out).expect("write to a Vec");
        (out, stats)
    }

    fn lines(bytes: &[u8]) -> Vec<Value> {
        std::str::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    fn s<'a>(v: &'a Value, key: &str) -> &'a str {
        v[key].as_str().unwrap_or("")
    }

    fn os_info(m: &Value) -> OsInfo {
        let os = &m["os"];
        OsInfo {
            caption: s(os, "caption").into(),
            version: s(os, "version").into(),
            display_version: os["display_version"].as_str().map(Into::into),
            edition: os["edition"].as_str().map(Into::into),
            product_type: os["product_type"].as_i64(),
            architecture: os["architecture"].as_str().map(Into::into),
        }
    }

    #[test]
    fn the_title_table_reads_and_a_broken_one_names_its_line() {
        let pool = Pool::parse(TITLES).expect("the table reads");
        assert!(pool.families.len() > 1000 && pool.titles.len() > 4000);
        assert!(!pool.common.is_empty() && !pool.win_tail.is_empty());
        let e = Pool::parse("F\t0.5\t0\t0\t0\t0\tX\nV\tName\n").err();
        assert_eq!(e.as_deref(), Some("line 2: name, version and year"));
        let e = Pool::parse("V\tName\t1.0\t2020\n").err();
        assert_eq!(e.as_deref(), Some("line 1: a title before its family"));
        let e = Pool::parse("W\t7\n").err();
        assert!(e.is_some_and(|e| e.contains("beyond")));
    }

    #[test]
    fn the_same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let a = generate(&spec(200, 30)).0;
        let b = generate(&spec(200, 30)).0;
        assert_eq!(a, b);
        let mut other = spec(200, 30);
        other.seed = 8;
        assert_ne!(a, generate(&other).0);
    }

    #[test]
    fn every_line_is_json_with_the_required_fields() {
        let (bytes, _) = generate(&spec(300, 40));
        assert!(bytes.ends_with(b"\n"));
        for m in lines(&bytes) {
            assert!(!s(&m, "hostname").is_empty());
            let at = s(&m, "collected_at");
            assert!(at.ends_with('Z'), "{at}");
            DateTime::parse_from_rfc3339(at).expect("collected_at is RFC 3339");
            assert!(!s(&m["os"], "caption").is_empty());
            assert!(!s(&m["os"], "version").is_empty());
            for key in ["domain", "main_user", "responsible"] {
                assert!(m[key].is_string() || m[key].is_null(), "{key}");
            }
            let pt = &m["os"]["product_type"];
            assert!(pt.is_null() || pt.as_i64().is_some_and(|t| (1..=3).contains(&t)));
            for e in m["software"].as_array().expect("software is a list") {
                assert!(!s(e, "name").is_empty());
                assert!(e["version"].is_string() || e["version"].is_null());
                assert!(e["publisher"].is_string() || e["publisher"].is_null());
                let d = &e["install_date"];
                let ok = d.is_null()
                    || d.as_str().is_some_and(|d| {
                        (d.len() == 8 && NaiveDate::parse_from_str(d, "%Y%m%d").is_ok())
                            || (d.len() == 10 && NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
                    });
                assert!(ok, "install_date {d}");
                if let Some(u) = e.get("last_used") {
                    let u = DateTime::parse_from_rfc3339(u.as_str().expect("string"))
                        .expect("RFC 3339");
                    assert!(u <= DateTime::parse_from_rfc3339(at).expect("t"));
                }
            }
        }
    }

    #[test]
    fn the_requested_counts_are_produced_with_unique_hostnames() {
        let (bytes, stats) = generate(&spec(1000, 150));
        let all = lines(&bytes);
        assert_eq!(all.len(), 1000);
        assert_eq!(stats.machines, 1000);
        assert_eq!(stats.software_rows, 150_000);
        for m in &all {
            assert_eq!(m["software"].as_array().map(Vec::len), Some(150));
            let names: HashSet<&str> = m["software"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| s(e, "name"))
                .collect();
            assert!(names.len() > 120, "a machine lists mostly different titles");
        }
        let hosts: HashSet<String> = all
            .iter()
            .map(|m| s(m, "hostname").to_ascii_uppercase())
            .collect();
        assert_eq!(
            hosts.len(),
            1000,
            "each machine appears once, case-insensitively"
        );

        let (bytes, stats) = generate(&spec(5, 0));
        assert_eq!(stats.software_rows, 0);
        assert!(
            lines(&bytes)
                .iter()
                .all(|m| m["software"] == serde_json::json!([]))
        );
        let (bytes, stats) = generate(&spec(0, 10));
        assert!(bytes.is_empty());
        assert_eq!(stats, FleetStats::default());
    }

    #[test]
    fn stale_and_fresh_machines_split_as_asked_and_none_reports_after_the_export() {
        let mut sp = spec(1000, 5);
        sp.stale_fraction = 0.2;
        let (bytes, stats) = generate(&sp);
        assert_eq!(stats.stale_machines, 200);
        let (mut stale, mut fresh) = (0, 0);
        for m in lines(&bytes) {
            let at = DateTime::parse_from_rfc3339(s(&m, "collected_at"))
                .expect("t")
                .with_timezone(&Utc);
            assert!(at <= now());
            let age = now() - at;
            if age >= Duration::days(90) {
                assert!(
                    age >= Duration::days(120) && age < Duration::days(124),
                    "{age}"
                );
                stale += 1;
            } else {
                assert!(age < Duration::days(3), "{age}");
                fresh += 1;
            }
            for e in m["software"].as_array().into_iter().flatten() {
                if let Some(d) = e["install_date"].as_str() {
                    let d = NaiveDate::parse_from_str(&d.replace('-', ""), "%Y%m%d").expect("date");
                    assert!(d < at.date_naive(), "installed before the report");
                }
            }
        }
        assert_eq!((stale, fresh), (200, 800));
    }

    #[test]
    fn many_titles_match_the_catalog_and_visual_studio_code_does_not() {
        let catalog = Catalog::builtin();
        let (bytes, _) = generate(&spec(300, 60));
        let mut titles: HashSet<(String, String, String)> = HashSet::new();
        for m in lines(&bytes) {
            for e in m["software"].as_array().into_iter().flatten() {
                titles.insert((
                    s(e, "name").into(),
                    s(e, "version").into(),
                    s(e, "publisher").into(),
                ));
            }
        }
        let mut products: HashSet<String> = HashSet::new();
        let mut apps: HashSet<String> = HashSet::new();
        for (name, version, publisher) in &titles {
            let r = catalog.match_software(name, version, publisher);
            if name.contains("Visual Studio Code") {
                assert!(r.cycle.is_none(), "{name} must stay unmatched");
            }
            if let Some(c) = r.cycle {
                products.insert(c.product);
            }
            apps.extend(r.application);
        }
        for p in [
            "office",
            "chrome",
            "firefox",
            "python",
            "dotnetfx",
            "oracle-jdk",
            "mssqlserver",
            "visual-studio",
            "notepad-plus-plus",
        ] {
            assert!(products.contains(p), "{p} matched; got {products:?}");
        }
        assert!(apps.contains("MATLAB"), "{apps:?}");
        let redist = "Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33130";
        assert!(
            catalog
                .match_software(redist, "14.38.33130.0", "Microsoft Corporation")
                .cycle
                .is_none()
        );
    }

    #[test]
    fn every_curated_title_a_product_rule_knows_finds_its_cycle() {
        // Guards the version strings in the pool against typos: the titles
        // below are named after rules with a `product`, so each must match.
        const RULED: &[&str] = &[
            "Microsoft Office ",
            "Microsoft SQL Server 20",
            "Visual Studio ",
            "Python 3",
            "Java 8",
            "Eclipse Temurin",
            "Microsoft .NET ",
            "Microsoft Windows Desktop Runtime",
            "Mozilla Firefox",
            "Google Chrome",
            "Notepad++",
            "Wireshark",
            "Oracle VM",
            "Oracle VirtualBox",
            "LibreOffice",
            "Node.js",
            "PostgreSQL",
            "MySQL Server",
            "PowerShell",
        ];
        let catalog = Catalog::builtin();
        let pool = Pool::builtin().expect("the compiled-in title table reads");
        let mut checked = 0;
        let mut unmatched = Vec::new();
        for &f in &pool.common {
            let fam = &pool.families[f as usize];
            for t in &pool.titles[fam.first as usize..(fam.first + fam.len) as usize] {
                let mut json = t.json.to_vec();
                json.extend_from_slice(b"null}");
                let e: Value = serde_json::from_slice(&json).expect("title JSON");
                let (name, version, publisher) =
                    (s(&e, "name"), s(&e, "version"), s(&e, "publisher"));
                if RULED.iter().any(|p| name.starts_with(p)) && !name.contains("Code") {
                    checked += 1;
                    if catalog
                        .match_software(name, version, publisher)
                        .cycle
                        .is_none()
                    {
                        unmatched.push(format!("{name} {version}"));
                    }
                }
            }
        }
        assert!(checked > 150, "{checked}");
        assert!(
            unmatched.is_empty(),
            "unmatched curated titles: {unmatched:?}"
        );
    }

    #[test]
    fn most_machines_match_an_os_cycle_and_server_2012_r2_is_among_them() {
        let catalog = Catalog::builtin();
        let (bytes, _) = generate(&spec(1000, 3));
        let all = lines(&bytes);
        let mut matched = 0;
        let mut cycles: HashSet<(String, String)> = HashSet::new();
        for m in &all {
            if let Some(c) = catalog.match_os(&os_info(m)) {
                matched += 1;
                cycles.insert((c.product, c.cycle));
            }
        }
        assert!((950..1000).contains(&matched), "matched {matched} of 1000");
        for (p, c) in [
            ("windows-server", "2012-r2"),
            ("windows-server", "2008-r2-sp1"),
            ("windows-server", "2022"),
            ("windows", "10-22h2"),
            ("windows", "10-21h2-e-lts"),
            ("windows", "11-24h2-e"),
            ("windows", "11-23h2-w"),
            ("ubuntu", "22.04"),
            ("rhel", "8"),
            ("macos", "15"),
        ] {
            assert!(
                cycles.contains(&(p.into(), c.into())),
                "{p} {c}: {cycles:?}"
            );
        }
    }

    #[test]
    fn the_demo_fleet_shows_servers_linux_an_unmatched_os_and_owners() {
        let catalog = Catalog::builtin();
        let sp = FleetSpec::demo(now());
        let (bytes, stats) = generate(&sp);
        assert_eq!((stats.machines, stats.stale_machines), (60, 3));
        let all = lines(&bytes);
        let captions: Vec<&str> = all.iter().map(|m| s(&m["os"], "caption")).collect();
        assert!(captions.iter().any(|c| c.contains("Server 2012 R2")));
        assert!(
            captions
                .iter()
                .any(|c| c.starts_with("Ubuntu") || c.starts_with("Red Hat"))
        );
        assert!(all.iter().any(|m| catalog.match_os(&os_info(m)).is_none()));
        let owned = all.iter().filter(|m| m["responsible"].is_string()).count();
        assert!(owned >= 50, "{owned}");
        let users = all.iter().filter(|m| m["main_user"].is_string()).count();
        assert!(users >= 30, "{users}");
    }

    #[test]
    fn owners_are_null_when_not_asked_for() {
        let mut sp = spec(50, 2);
        sp.owners = false;
        for m in lines(&generate(&sp).0) {
            assert!(m["main_user"].is_null() && m["responsible"].is_null());
        }
    }

    #[test]
    fn about_one_responsible_in_twenty_is_left_for_the_network_database() {
        let all = lines(&generate(&spec(2000, 1)).0);
        let missing = all.iter().filter(|m| m["responsible"].is_null()).count();
        assert!((40..=180).contains(&missing), "{missing} of 2000");
        let logins: HashSet<&str> = all.iter().filter_map(|m| m["main_user"].as_str()).collect();
        assert!(logins.len() > 100);
        assert!(logins.iter().all(|l| {
            l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }));
    }

    #[test]
    fn a_large_fleet_holds_thousands_of_distinct_titles_not_millions() {
        let (bytes, stats) = generate(&spec(2000, 150));
        let mut titles: HashSet<&[u8]> = HashSet::new();
        // Each entry starts with `{"name":` and its title ends at `"install_date":`.
        let text = &bytes[..];
        let mut i = 0;
        while let Some(pos) = find(&text[i..], b"{\"name\":") {
            let start = i + pos;
            let end = start + find(&text[start..], b",\"install_date\":").expect("install_date");
            titles.insert(&text[start..end]);
            i = end;
        }
        assert_eq!(stats.software_rows, 300_000);
        assert!(
            (1500..8000).contains(&titles.len()),
            "{} distinct titles",
            titles.len()
        );
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
}
