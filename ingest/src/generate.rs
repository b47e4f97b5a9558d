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

use std::collections::{HashMap, HashSet};
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

/// Write the fleet `spec` describes to `out` as CMF JSON Lines (one machine
/// per `\n`-terminated line), buffered; returns what was written.
pub fn write_fleet<W: Write>(spec: &FleetSpec, out: W) -> io::Result<FleetStats> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let pool = Pool::builtin();

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

fn st(list: &[(&str, &str, i32)]) -> Vec<V> {
    list.iter()
        .map(|&(n, v, y)| (n.to_string(), (!v.is_empty()).then(|| v.to_string()), y))
        .collect()
}

const MS: &str = "Microsoft Corporation";
/// Long-tail families are not drawn by a probability of their own.
const TAIL: [f64; 4] = [0.0; 4];

fn ws(w: f64, s: f64) -> [f64; 4] {
    [w, s, 0.0, 0.0]
}

fn ux(linux: f64, mac: f64) -> [f64; 4] {
    [0.0, 0.0, linux, mac]
}

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

    /// The fixed pool of titles (independent of the spec's seed).
    fn builtin() -> Self {
        let mut pool = Pool {
            titles: Vec::with_capacity(6000),
            families: Vec::with_capacity(2000),
            common: Vec::new(),
            win_tail: Vec::new(),
            unix_tail: Vec::new(),
            sql: 0,
        };
        pool.add_windows_common();
        pool.add_unix_common();
        let mut rng = StdRng::seed_from_u64(0x5EED_F1EE7);
        pool.add_windows_tail(&mut rng);
        pool.add_unix_tail(&mut rng);
        pool
    }

    #[allow(clippy::too_many_lines)]
    #[rustfmt::skip]
    fn add_windows_common(&mut self) {
        let ms = Some(MS);
        self.add(
            ws(0.72, 0.03),
            true,
            ms,
            st(&[
                ("Microsoft 365 Apps for enterprise - en-us", "16.0.17928.20156", 2024),
                ("Microsoft Office Professional Plus 2016", "16.0.4266.1001", 2016),
                ("Microsoft Office Professional Plus 2019 - en-us", "16.0.10827.20181", 2019),
                ("Microsoft Office LTSC Professional Plus 2021 - en-us", "16.0.14332.20615", 2021),
                ("Microsoft Office Standard 2016", "16.0.4266.1001", 2016),
                ("Microsoft 365 Apps for enterprise - en-us", "16.0.18129.20158", 2024),
                ("Microsoft Office LTSC Professional Plus 2024 - en-us", "16.0.17932.20162", 2024),
                ("Microsoft Office Professional Plus 2019 - en-us", "16.0.10417.20012", 2019),
                ("Microsoft Office Home and Business 2021 - en-us", "16.0.14332.20763", 2021),
                ("Microsoft Office Professional Plus 2013", "15.0.4569.1506", 2013),
                ("Microsoft Office Professional Plus 2010", "14.0.7015.1000", 2010),
            ]),
        );
        let edge_versions = |name: &str| -> Vec<V> {
            (124..=131)
                .rev()
                .map(|m: u32| {
                    (name.to_string(), Some(format!("{m}.0.{}.{}", 2210 + (m - 118) * 62, 40 + m % 60)), 2024)
                })
                .collect()
        };
        self.add(ws(0.97, 0.55), false, ms, edge_versions("Microsoft Edge"));
        self.add(ws(0.92, 0.4), false, ms, edge_versions("Microsoft Edge WebView2 Runtime"));
        let chrome = chrome_versions();
        self.add(ws(0.62, 0.12), false, Some("Google LLC"), chrome.clone());
        let mut firefox: Vec<V> = Vec::new();
        for m in (115..=140u32).rev() {
            let year = if m < 122 {
                2023
            } else if m < 134 {
                2024
            } else {
                2025
            };
            firefox.push(("Mozilla Firefox (x64 en-US)".into(), Some(format!("{m}.0")), year));
            firefox.push(("Mozilla Firefox (x64 en-US)".into(), Some(format!("{m}.0.{}", 1 + m % 3)), year));
        }
        firefox.extend(st(&[
            ("Mozilla Firefox ESR (x64 en-US)", "128.5.1", 2024),
            ("Mozilla Firefox ESR (x64 en-US)", "115.18.0", 2023),
            ("Mozilla Firefox ESR (x64 en-US)", "140.2.0", 2025),
        ]));
        self.add(ws(0.45, 0.05), false, Some("Mozilla"), firefox);
        self.add(
            ws(0.5, 0.3),
            false,
            Some("Igor Pavlov"),
            st(&[
                ("7-Zip 23.01 (x64)", "23.01", 2023),
                ("7-Zip 19.00 (x64)", "19.00", 2019),
                ("7-Zip 22.01 (x64)", "22.01", 2022),
                ("7-Zip 24.08 (x64)", "24.08", 2024),
                ("7-Zip 16.04 (x64)", "16.04", 2016),
            ]),
        );
        self.add(
            ws(0.33, 0.35),
            false,
            Some("Notepad++ Team"),
            st(&[
                ("Notepad++ (64-bit x64)", "8.6.2", 2024),
                ("Notepad++ (64-bit x64)", "8.5.8", 2023),
                ("Notepad++ (64-bit x64)", "8.6.9", 2024),
                ("Notepad++ (64-bit x64)", "8.7.1", 2024),
                ("Notepad++ (64-bit x64)", "8.4.6", 2022),
                ("Notepad++ (64-bit x64)", "8.1.9.3", 2021),
                ("Notepad++ (32-bit x86)", "7.9.5", 2021),
            ]),
        );
        self.add(
            ws(0.55, 0.05),
            true,
            Some("Adobe"),
            st(&[
                ("Adobe Acrobat (64-bit)", "24.001.20604", 2024),
                ("Adobe Acrobat Reader DC", "23.008.20470", 2023),
                ("Adobe Acrobat DC (64-bit)", "24.003.20112", 2024),
                ("Adobe Acrobat Reader DC - English", "21.011.20039", 2021),
            ]),
        );
        let mut java8: Vec<V> = Vec::new();
        for (i, &u) in [
            451u32, 441, 431, 421, 411, 401, 391, 381, 371, 361, 351, 341, 333, 321, 311, 301, 291,
            281, 271, 261, 251, 241, 231, 221, 211, 202, 201, 191, 181, 171, 161, 151, 144,
        ]
        .iter()
        .enumerate()
        {
            let year = 2014 + i32::try_from(u / 40).unwrap_or(0);
            let b = 7 + i % 5;
            java8.push((format!("Java 8 Update {u} (64-bit)"), Some(format!("8.0.{u}0.{b}")), year));
            if i % 3 == 0 {
                java8.push((format!("Java 8 Update {u}"), Some(format!("8.0.{u}0.{b}")), year));
            }
        }
        self.add(ws(0.22, 0.12), false, Some("Oracle Corporation"), java8);
        self.add(
            ws(0.08, 0.06),
            false,
            Some("Eclipse Adoptium"),
            st(&[
                ("Eclipse Temurin JDK with Hotspot 17.0.8.1+1 (x64)", "17.0.8.101", 2023),
                ("Eclipse Temurin JDK with Hotspot 21.0.5+11 (x64)", "21.0.5.11", 2024),
                ("Eclipse Temurin JRE with Hotspot 11.0.21+9 (x64)", "11.0.21.9", 2023),
                ("Eclipse Temurin JDK with Hotspot 17.0.13+11 (x64)", "17.0.13.11", 2024),
                ("Eclipse Temurin JDK with Hotspot 8u392-b08 (x64)", "8.0.392.8", 2023),
            ]),
        );
        self.add(
            ws(0.55, 0.6),
            false,
            ms,
            st(&[
                ("Microsoft .NET Framework 4.8.1", "4.8.09032", 2022),
                ("Microsoft .NET Framework 4.8", "4.8.03761", 2019),
                ("Microsoft .NET Framework 4.7.2", "4.7.03062", 2018),
                ("Microsoft .NET Framework 4.6.2", "4.6.01590", 2016),
            ]),
        );
        self.add(
            ws(0.45, 0.35),
            false,
            ms,
            st(&[
                ("Microsoft .NET Runtime - 8.0.11 (x64)", "8.0.11.34221", 2024),
                ("Microsoft .NET Runtime - 6.0.36 (x64)", "6.0.36.34217", 2024),
                ("Microsoft .NET Runtime - 6.0.25 (x64)", "6.0.25.33020", 2023),
                ("Microsoft .NET Runtime - 9.0.0 (x64)", "9.0.0.34361", 2024),
                ("Microsoft .NET Runtime - 7.0.20 (x64)", "7.0.20.24269", 2024),
            ]),
        );
        self.add(
            ws(0.35, 0.1),
            false,
            ms,
            st(&[
                ("Microsoft Windows Desktop Runtime - 8.0.11 (x64)", "8.0.11.34221", 2024),
                ("Microsoft Windows Desktop Runtime - 6.0.36 (x64)", "6.0.36.34217", 2024),
                ("Microsoft Windows Desktop Runtime - 3.1.32 (x64)", "3.1.32.31915", 2022),
            ]),
        );
        self.add(
            ws(0.05, 0.3),
            false,
            ms,
            st(&[
                ("Microsoft ASP.NET Core 8.0.11 - Shared Framework (x64)", "8.0.11.24521", 2024),
                ("Microsoft ASP.NET Core 6.0.36 - Shared Framework (x64)", "6.0.36.24516", 2024),
            ]),
        );
        self.add(
            ws(0.2, 0.06),
            false,
            Some("Python Software Foundation"),
            st(&[
                ("Python 3.12.7 (64-bit)", "3.12.7150.0", 2024),
                ("Python 3.11.9 (64-bit)", "3.11.9150.0", 2024),
                ("Python 3.8.10 (64-bit)", "3.8.10", 2021),
                ("Python 3.10.11 (64-bit)", "3.10.11150.0", 2023),
                ("Python 3.13.0 (64-bit)", "3.13.150.0", 2024),
                ("Python 3.9.13 (64-bit)", "3.9.13150.0", 2022),
                ("Python 3.12.1 (64-bit)", "3.12.1150.0", 2023),
                ("Python 3.8.10 (32-bit)", "3.8.10", 2021),
            ]),
        );
        self.add(
            ws(0.15, 0.03),
            false,
            Some("Python Software Foundation"),
            st(&[("Python Launcher", "3.12.7150.0", 2024), ("Python Launcher", "3.11.9150.0", 2024)]),
        );
        self.add(
            ws(0.12, 0.02),
            true,
            Some("MathWorks"),
            st(&[
                ("MATLAB R2024a", "24.1", 2024),
                ("MATLAB R2023b", "23.2", 2023),
                ("MATLAB R2023a", "9.14", 2023),
                ("MATLAB R2022b", "9.13", 2022),
                ("MATLAB R2022a", "9.12", 2022),
                ("MATLAB R2021b", "9.11", 2021),
                ("MATLAB R2021a", "9.10", 2021),
                ("MATLAB R2020b", "9.9", 2020),
                ("MATLAB R2020a", "9.8", 2020),
                ("MATLAB R2019b", "9.7", 2019),
            ]),
        );
        let mut vs: Vec<V> = Vec::new();
        for m in (4..=12u32).rev() {
            let version = format!("17.{m}.{}.{}", 33_000 + m * 150, 100 + (m * 37) % 400);
            let year = 2022 + i32::try_from(m.saturating_sub(2) / 4).unwrap_or(0);
            vs.push(("Visual Studio Professional 2022".into(), Some(version.clone()), year));
            if m % 2 == 0 {
                vs.push(("Visual Studio Community 2022".into(), Some(version.clone()), year));
            }
            if m % 4 == 0 {
                vs.push(("Visual Studio Enterprise 2022".into(), Some(version), year));
            }
        }
        vs.extend(st(&[
            ("Visual Studio Community 2019", "16.11.34729.46", 2021),
            ("Visual Studio Professional 2019", "16.11.34729.46", 2021),
            ("Visual Studio Build Tools 2019", "16.11.35026.282", 2021),
        ]));
        self.add(ws(0.07, 0.02), true, ms, vs);
        self.add(
            ws(0.3, 0.05),
            false,
            ms,
            st(&[
                ("Microsoft Visual Studio Code", "1.95.3", 2024),
                ("Microsoft Visual Studio Code", "1.85.1", 2023),
                ("Microsoft Visual Studio Code (User)", "1.95.3", 2024),
                ("Microsoft Visual Studio Code", "1.92.2", 2024),
                ("Microsoft Visual Studio Code", "1.96.2", 2024),
            ]),
        );
        self.add(
            ws(0.06, 0.0),
            false,
            Some("The Document Foundation"),
            st(&[
                ("LibreOffice 7.6.2.1", "7.6.2.1", 2023),
                ("LibreOffice 24.2.7.2", "24.2.7.2", 2024),
                ("LibreOffice 24.8.3.2", "24.8.3.2", 2024),
                ("LibreOffice 7.3.7.2", "7.3.7.2", 2022),
            ]),
        );
        self.add(
            ws(0.04, 0.02),
            false,
            Some("Oracle Corporation"),
            st(&[
                ("Oracle VM VirtualBox 7.0.12", "7.0.12", 2023),
                ("Oracle VirtualBox 7.1.4", "7.1.4", 2024),
                ("Oracle VM VirtualBox 6.1.50", "6.1.50", 2024),
            ]),
        );
        self.add(
            ws(0.05, 0.06),
            false,
            Some("The Wireshark developer community, https://www.wireshark.org"),
            st(&[
                ("Wireshark 4.2.0 64-bit", "4.2.0", 2023),
                ("Wireshark 4.4.2 x64", "4.4.2", 2024),
                ("Wireshark 3.6.24 64-bit", "3.6.24", 2024),
            ]),
        );
        self.add(
            ws(0.05, 0.05),
            false,
            Some("Node.js Foundation"),
            st(&[
                ("Node.js", "20.10.0", 2023),
                ("Node.js", "18.19.0", 2023),
                ("Node.js", "22.11.0", 2024),
                ("Node.js", "16.20.2", 2023),
            ]),
        );
        self.add(
            ws(0.02, 0.06),
            false,
            Some("PostgreSQL Global Development Group"),
            st(&[
                ("PostgreSQL 16 ", "16.1-1", 2023),
                ("PostgreSQL 13 ", "13.13-1", 2023),
                ("PostgreSQL 15 ", "15.5-1", 2023),
                ("PostgreSQL 9.6 ", "9.6.24-1", 2021),
            ]),
        );
        self.add(
            ws(0.01, 0.04),
            false,
            Some("Oracle Corporation"),
            st(&[
                ("MySQL Server 8.0", "8.0.35", 2023),
                ("MySQL Server 5.7", "5.7.44", 2023),
                ("MySQL Server 8.4", "8.4.3", 2024),
            ]),
        );
        self.sql = self.add(
            ws(0.01, 0.15),
            false,
            ms,
            st(&[
                ("Microsoft SQL Server 2019 (64-bit)", "15.0.2000.5", 2019),
                ("Microsoft SQL Server 2016 (64-bit)", "13.2.5026.0", 2018),
                ("Microsoft SQL Server 2022 (64-bit)", "16.0.1000.6", 2022),
                ("Microsoft SQL Server 2016 (64-bit)", "13.3.6300.2", 2021),
                ("Microsoft SQL Server 2017 (64-bit)", "14.0.1000.169", 2017),
                ("Microsoft SQL Server 2014 (64-bit)", "12.3.6024.0", 2018),
                ("Microsoft SQL Server 2012 (64-bit)", "11.4.7001.0", 2017),
                ("Microsoft SQL Server 2008 R2 (64-bit)", "10.53.6000.34", 2014),
            ]),
        );
        self.add(
            ws(0.03, 0.2),
            false,
            ms,
            st(&[
                ("Microsoft SQL Server Management Studio - 19.3", "16.200.20209.0", 2024),
                ("Microsoft SQL Server Management Studio - 20.2", "20.2.30.0", 2024),
                ("SQL Server Management Studio", "15.0.18424.0", 2022),
            ]),
        );
        self.add(
            ws(0.3, 0.0),
            true,
            Some("Zoom Video Communications, Inc."),
            st(&[
                ("Zoom Workplace (64-bit)", "6.2.52424", 2024),
                ("Zoom (64-bit)", "5.17.31859", 2024),
                ("Zoom Workplace (64-bit)", "6.0.45183", 2024),
            ]),
        );
        self.add(
            ws(0.4, 0.02),
            true,
            ms,
            st(&[
                ("Teams Machine-Wide Installer", "1.7.0.19563", 2023),
                ("Microsoft Teams", "24295.605.3225.8804", 2024),
                ("Microsoft Teams classic", "1.6.00.18681", 2023),
            ]),
        );
        self.add(
            ws(0.15, 0.3),
            false,
            Some("Simon Tatham"),
            st(&[
                ("PuTTY release 0.81 (64-bit)", "0.81.0.0", 2024),
                ("PuTTY release 0.80 (64-bit)", "0.80.0.0", 2023),
                ("PuTTY release 0.78 (64-bit)", "0.78.0.0", 2022),
                ("PuTTY release 0.76 (64-bit)", "0.76.0.0", 2021),
            ]),
        );
        self.add(
            ws(0.15, 0.1),
            false,
            Some("The Git Development Community"),
            st(&[("Git", "2.47.0", 2024), ("Git", "2.43.0", 2023), ("Git", "2.39.2", 2023)]),
        );
        self.add(
            ws(0.1, 0.3),
            false,
            ms,
            st(&[
                ("PowerShell 7-x64", "7.4.6.0", 2024),
                ("PowerShell 7-x64", "7.2.24.0", 2024),
                ("PowerShell 7-x64", "7.3.12.0", 2024),
            ]),
        );
        self.add(
            ws(0.25, 0.0),
            false,
            Some("VideoLAN"),
            st(&[
                ("VLC media player", "3.0.21", 2024),
                ("VLC media player", "3.0.20", 2023),
                ("VLC media player", "3.0.18", 2022),
            ]),
        );
        self.add(
            ws(0.1, 0.02),
            false,
            Some("Dominik Reichl"),
            st(&[("KeePass Password Safe 2.57", "2.57", 2024), ("KeePass Password Safe 2.55", "2.55", 2023)]),
        );
        self.add(
            ws(0.85, 0.5),
            false,
            ms,
            st(&[("Microsoft Update Health Tools", "5.72.0.0", 2023), ("Microsoft Update Health Tools", "3.74.0.0", 2022)]),
        );
        self.add(
            ws(0.9, 0.8),
            false,
            ms,
            st(&[
                ("Configuration Manager Client", "5.00.9128.1000", 2024),
                ("Configuration Manager Client", "5.00.9106.1000", 2023),
            ]),
        );
        self.add(ws(0.8, 0.6), false, ms, st(&[("Local Administrator Password Solution", "6.2.0.0", 2018)]));
        self.add(
            ws(0.02, 0.7),
            false,
            Some("VMware, Inc."),
            st(&[
                ("VMware Tools", "12.3.5.22544099", 2023),
                ("VMware Tools", "12.4.5.23787635", 2024),
                ("VMware Tools", "11.3.5.18557794", 2021),
            ]),
        );
        // Visual C++ redistributables: one family each, most machines carry several.
        let vc = |x: &str| -> Vec<V> {
            [
                ("14.42.34433", 2024),
                ("14.40.33810", 2024),
                ("14.38.33130", 2023),
                ("14.36.32532", 2023),
                ("14.32.31332", 2022),
            ]
            .iter()
            .map(|&(v, y)| {
                (format!("Microsoft Visual C++ 2015-2022 Redistributable ({x}) - {v}"), Some(format!("{v}.0")), y)
            })
            .chain(std::iter::once((
                format!("Microsoft Visual C++ 2015-2019 Redistributable ({x}) - 14.29.30133"),
                Some("14.29.30133.0".to_string()),
                2021,
            )))
            .collect()
        };
        self.add(ws(0.95, 0.85), false, ms, vc("x64"));
        self.add(ws(0.85, 0.5), false, ms, vc("x86"));
        for (x, p) in [("x64", ws(0.6, 0.4)), ("x86", ws(0.55, 0.3))] {
            self.add(
                p,
                false,
                ms,
                vec![
                    (
                        format!("Microsoft Visual C++ 2013 Redistributable ({x}) - 12.0.40664"),
                        Some("12.0.40664.0".into()),
                        2017,
                    ),
                    (
                        format!("Microsoft Visual C++ 2013 Redistributable ({x}) - 12.0.30501"),
                        Some("12.0.30501.0".into()),
                        2014,
                    ),
                ],
            );
        }
        for (x, p) in [("x64", ws(0.45, 0.3)), ("x86", ws(0.4, 0.25))] {
            self.add(
                p,
                false,
                ms,
                vec![(
                    format!("Microsoft Visual C++ 2012 Redistributable ({x}) - 11.0.61030"),
                    Some("11.0.61030.0".into()),
                    2013,
                )],
            );
        }
        for (x, p) in [("x64", ws(0.5, 0.35)), ("x86", ws(0.45, 0.3))] {
            self.add(
                p,
                false,
                ms,
                vec![(
                    format!("Microsoft Visual C++ 2010  {x} Redistributable - 10.0.40219"),
                    Some("10.0.40219".into()),
                    2011,
                )],
            );
        }
        for (x, p) in [("x64", ws(0.35, 0.25)), ("x86", ws(0.35, 0.2))] {
            self.add(
                p,
                false,
                ms,
                vec![(
                    format!("Microsoft Visual C++ 2008 Redistributable - {x} 9.0.30729.6161"),
                    Some("9.0.30729.6161".into()),
                    2011,
                )],
            );
        }
        self.add(ws(0.2, 0.1), false, ms, st(&[("Microsoft Visual C++ 2005 Redistributable", "8.0.61001", 2011)]));
        // Workstation drivers and OEM tools.
        self.add(
            ws(0.5, 0.0),
            false,
            Some("Intel Corporation"),
            st(&[
                ("Intel(R) Management Engine Components", "2406.5.5.0", 2024),
                ("Intel(R) Management Engine Components", "2229.4.2.0", 2022),
            ]),
        );
        self.add(
            ws(0.45, 0.1),
            false,
            Some("Intel Corporation"),
            st(&[
                ("Intel(R) Chipset Device Software", "10.1.19627.8423", 2023),
                ("Intel(R) Chipset Device Software", "10.1.18838.8284", 2021),
            ]),
        );
        self.add(
            ws(0.45, 0.0),
            false,
            Some("Realtek Semiconductor Corp."),
            st(&[
                ("Realtek Audio Driver", "6.0.9549.1", 2023),
                ("Realtek High Definition Audio Driver", "6.0.9235.1", 2021),
            ]),
        );
        self.add(
            ws(0.3, 0.0),
            false,
            Some("Dell Inc."),
            st(&[
                ("Dell Command | Update for Windows Universal", "5.4.0", 2024),
                ("Dell Command | Update for Windows Universal", "4.9.0", 2023),
            ]),
        );
        self.add(
            ws(0.2, 0.0),
            false,
            Some("HP Inc."),
            st(&[("HP Support Assistant", "9.38.38.0", 2024), ("HP Wolf Security", "4.25.5.3427", 2024)]),
        );
        let nvidia: Vec<V> = [("566.36", 2024), ("561.09", 2024), ("551.61", 2024), ("537.58", 2023), ("528.49", 2023)]
        .iter()
        .map(|&(v, y)| {
            (format!("NVIDIA Graphics Driver {v}"), Some(v.to_string()), y)
        })
        .collect();
        self.add(ws(0.15, 0.0), false, Some("NVIDIA Corporation"), nvidia);
        // Chrome on the Mac (Windows' name and versions: the rule matches it too).
        self.add(ux(0.0, 0.65), false, Some("Google LLC"), chrome);
    }

    #[rustfmt::skip]
    fn add_unix_common(&mut self) {
        let linux: &[(&str, f64, &[&str])] = &[
            (
                "openssl",
                0.98,
                &["3.0.2-0ubuntu1.18", "3.0.7-27.el9", "1.1.1f-1ubuntu2.23", "3.0.15-1~deb12u1", "1.1.1k-12.el8_9"],
            ),
            ("openssh-server", 0.95, &["1:8.9p1-3ubuntu0.10", "8.7p1-38.el9", "1:8.2p1-4ubuntu0.11", "1:9.2p1-2+deb12u3"]),
            ("bash", 0.99, &["5.1-6ubuntu1.1", "5.1.8-9.el9", "5.0-6ubuntu1.2", "5.2.15-2+b7"]),
            ("coreutils", 0.99, &["8.32-4.1ubuntu1.2", "8.32-35.el9", "9.1-1"]),
            ("systemd", 0.95, &["249.11-0ubuntu3.12", "252-32.el9_4", "245.4-4ubuntu3.24", "252.30-1~deb12u2"]),
            ("curl", 0.9, &["7.81.0-1ubuntu1.18", "7.76.1-29.el9_4", "7.88.1-10+deb12u8"]),
            ("git", 0.6, &["1:2.34.1-1ubuntu1.11", "2.43.5-1.el9_4", "1:2.39.5-0+deb12u1"]),
            ("python3", 0.9, &["3.10.6-1~22.04.1", "3.9.18-3.el9", "3.8.2-0ubuntu2", "3.11.2-1+b1"]),
            ("perl", 0.8, &["5.34.0-3ubuntu1.3", "5.32.1-481.el9", "5.36.0-7+deb12u1"]),
            ("sudo", 0.95, &["1.9.9-1ubuntu2.4", "1.9.5p2-10.el9_3", "1.9.13p3-1+deb12u1"]),
            ("rsync", 0.7, &["3.2.7-0ubuntu0.22.04.2", "3.2.3-19.el9"]),
            ("vim", 0.6, &["2:8.2.3995-1ubuntu2.21", "2:8.2.2637-20.el9_1"]),
            ("tmux", 0.3, &["3.2a-4ubuntu0.2", "3.2a-5.el9"]),
            ("chrony", 0.6, &["4.2-2ubuntu2", "4.5-1.el9"]),
            ("krb5-user", 0.5, &["1.19.2-2ubuntu0.4", "1.20.1-2+deb12u2"]),
            ("gcc", 0.4, &["4:11.2.0-1ubuntu1", "11.4.1-3.el9"]),
            ("java-17-openjdk", 0.15, &["1:17.0.13.0.11-3.el9", "17.0.13+11-2ubuntu1~22.04"]),
            ("nginx", 0.1, &["1.18.0-6ubuntu14.5", "1:1.20.1-14.el9_2.1"]),
        ];
        for (name, p, versions) in linux {
            let vs = versions
                .iter()
                .map(|v| ((*name).to_string(), Some((*v).to_string()), 0))
                .collect();
            self.add(ux(*p, 0.0), false, None, vs);
        }
        self.add(
            ux(0.2, 0.0),
            false,
            Some("Docker Inc."),
            st(&[("docker-ce", "5:27.3.1-1~ubuntu.22.04~jammy", 2024), ("docker-ce", "3:26.1.3-1.el9", 2024)]),
        );
        self.add(ux(0.0, 0.99), false, Some("Apple Inc."), st(&[("Safari", "18.1", 2024), ("Safari", "17.6", 2024)]));
        self.add(ux(0.0, 0.3), false, Some("Mozilla"), st(&[("Firefox", "133.0", 2024), ("Firefox", "128.0.3", 2024)]));
        for app in ["Microsoft Word", "Microsoft Excel", "Microsoft PowerPoint", "Microsoft Outlook"] {
            let vs = ["16.91", "16.89.1", "16.78.3"]
                .iter()
                .map(|v| (app.to_string(), Some((*v).to_string()), 2023))
                .collect();
            self.add(ux(0.0, 0.65), true, Some(MS), vs);
        }
        self.add(ux(0.0, 0.5), true, Some(MS), st(&[("Microsoft Teams", "24295.605.3225.8804", 2024)]));
        self.add(
            ux(0.0, 0.5),
            true,
            Some("Zoom Video Communications, Inc."),
            st(&[("zoom.us", "6.2.11 (43613)", 2024), ("zoom.us", "5.17.11 (34827)", 2024)]),
        );
        self.add(ux(0.0, 0.4), false, Some("Slack Technologies"), st(&[("Slack", "4.41.97", 2024)]));
        self.add(ux(0.0, 0.3), false, Some(MS), st(&[("Visual Studio Code", "1.95.3", 2024)]));
        self.add(ux(0.0, 0.15), false, Some("Apple Inc."), st(&[("Xcode", "16.1", 2024), ("Xcode", "15.4", 2024)]));
    }

    fn add_windows_tail(&mut self, rng: &mut StdRng) {
        const VENDORS: &[(&str, &str)] = &[
            ("Keysight Technologies", "Keysight"),
            ("National Instruments", "NI"),
            ("Siemens AG", "Siemens"),
            ("Schneider Electric", "Schneider Electric"),
            ("Rohde & Schwarz GmbH & Co. KG", "R&S"),
            ("Tektronix, Inc.", "Tektronix"),
            ("Autodesk, Inc.", "Autodesk"),
            ("Dassault Systemes", "Dassault"),
            ("ANSYS, Inc.", "ANSYS"),
            ("Bentley Systems, Incorporated", "Bentley"),
            ("Cisco Systems, Inc.", "Cisco"),
            ("Citrix Systems, Inc.", "Citrix"),
            ("Dell Inc.", "Dell"),
            ("HP Inc.", "HP"),
            ("Lenovo Group Limited", "Lenovo"),
            ("Intel Corporation", "Intel(R)"),
            ("Realtek Semiconductor Corp.", "Realtek"),
            ("NVIDIA Corporation", "NVIDIA"),
            ("Logitech", "Logitech"),
            ("Canon Inc.", "Canon"),
            ("Xerox Corporation", "Xerox"),
            ("Brother Industries, Ltd.", "Brother"),
            ("Zebra Technologies", "Zebra"),
            ("Beckhoff Automation", "Beckhoff"),
            ("Omega Engineering", "Omega"),
            ("Thorlabs, Inc.", "Thorlabs"),
            ("Hamamatsu Photonics", "Hamamatsu"),
            ("Bruker", "Bruker"),
            ("Agilent Technologies", "Agilent"),
            ("Pico Technology", "Pico"),
            ("OriginLab Corporation", "OriginLab"),
            ("Wolfram Research", "Wolfram"),
            ("JetBrains s.r.o.", "JetBrains"),
            ("Altium Limited", "Altium"),
            ("Mentor Graphics", "Mentor"),
            ("Synopsys, Inc.", "Synopsys"),
            ("Micro Focus", "Micro Focus"),
            ("Ivanti", "Ivanti"),
            ("Sophos Limited", "Sophos"),
            ("Veeam Software Group GmbH", "Veeam"),
        ];
        const PRODUCTS: &[&str] = &[
            "Device Manager",
            "Data Logger",
            "License Manager",
            "Update Service",
            "Runtime",
            "Toolkit",
            "Viewer",
            "Connector",
            "Agent",
            "Driver Package",
            "Measurement Suite",
            "Configuration Utility",
            "Firmware Updater",
            "Diagnostics",
            "Help Center",
            "Analyzer",
            "Studio",
            "Remote Control",
            "Sync Client",
            "Plugin",
            "Scheduler",
            "Report Designer",
            "Data Exporter",
            "USB Driver",
            "Calibration Tool",
            "Monitor",
            "Backup Agent",
            "Scanner",
            "Launcher",
            "SDK",
        ];
        let mut tail: Vec<u32> = Vec::new();
        let mut combos: Vec<(usize, usize)> = (0..VENDORS.len())
            .flat_map(|v| (0..PRODUCTS.len()).map(move |p| (v, p)))
            .collect();
        shuffle(&mut combos, rng);
        combos.truncate(1000);
        for (v, p) in combos {
            let (publisher, short) = VENDORS[v];
            let mut name = format!("{short} {}", PRODUCTS[p]);
            if rng.random_bool(0.2) {
                let suffix = rng.random_range(2015..=2025);
                name = format!("{name} {suffix}");
            }
            let major = rng.random_range(1..=25u32);
            let count = rng.random_range(1..=4);
            let with_build = rng.random_bool(0.4);
            let mut vs: Vec<V> = Vec::with_capacity(count);
            for k in 0..count {
                let minor = rng.random_range(0..10u32) + u32::try_from(k).unwrap_or(0);
                let version = if with_build {
                    format!("{major}.{minor}.{}.0", rng.random_range(100..9000u32))
                } else {
                    format!("{major}.{minor}.{}", rng.random_range(0..20u32))
                };
                vs.push((name.clone(), Some(version), 0));
            }
            let publisher = (!rng.random_bool(0.05)).then_some(publisher);
            tail.push(self.add(TAIL, false, publisher, vs));
        }
        for n in 1..=150u32 {
            let count = rng.random_range(1..=3u32);
            let vs = (0..count)
                .map(|k| {
                    (
                        format!("Lab Tool {n}"),
                        Some(format!("{}.{}", 1 + k, rng.random_range(0..10u32))),
                        0,
                    )
                })
                .collect();
            let publisher = rng.random_bool(0.7).then_some("Lab Software Section");
            tail.push(self.add(TAIL, false, publisher, vs));
        }
        for k in 0..60u32 {
            let kb = 5_002_000 + k * 37;
            let edition = if k % 4 == 0 { "32-Bit" } else { "64-Bit" };
            let kind = if k % 3 == 0 {
                "Update"
            } else {
                "Security Update"
            };
            let vs = vec![(
                format!("{kind} for Microsoft Office 2016 (KB{kb}) {edition} Edition"),
                None,
                0,
            )];
            tail.push(self.add(TAIL, false, Some(MS), vs));
        }
        for b in [
            "10.0.22621.2428",
            "10.0.22621.3233",
            "10.0.19041.685",
            "10.0.26100.1742",
            "10.0.18362.1",
            "10.0.17763.132",
        ] {
            let vs = vec![(
                format!("Windows Software Development Kit - Windows {b}"),
                Some(b.to_string()),
                0,
            )];
            tail.push(self.add(TAIL, false, Some(MS), vs));
        }
        shuffle(&mut tail, rng);
        self.win_tail = tail;
    }

    fn add_unix_tail(&mut self, rng: &mut StdRng) {
        const SYLLABLES: &[&str] = &[
            "ac", "bel", "cor", "dra", "el", "fin", "gor", "hal", "ix", "jun", "kel", "lum", "mor",
            "nex", "or", "pax", "qu", "ral", "sol", "tor", "ul", "vex", "wyn", "zel",
        ];
        const SHAPES: &[&str] = &[
            "lib{}{}",
            "lib{}{}-dev",
            "{}{}-utils",
            "python3-{}{}",
            "perl-{}{}",
            "{}{}d",
            "{}{}",
        ];
        let mut names: HashSet<String> = HashSet::new();
        let mut tail: Vec<u32> = Vec::new();
        while tail.len() < 450 {
            let a = SYLLABLES[rng.random_range(0..SYLLABLES.len())];
            let b = SYLLABLES[rng.random_range(0..SYLLABLES.len())];
            let shape = SHAPES[rng.random_range(0..SHAPES.len())];
            let mut name = shape.replacen("{}", a, 1).replacen("{}", b, 1);
            if rng.random_bool(0.3) {
                name.push_str(&rng.random_range(1..10u32).to_string());
            }
            if !names.insert(name.clone()) {
                continue;
            }
            let count = rng.random_range(1..=3u32);
            let major = rng.random_range(0..6u32);
            let vs = (0..count)
                .map(|k| {
                    let v = format!(
                        "{major}.{}.{}-{}",
                        rng.random_range(0..20u32),
                        k + rng.random_range(0..9u32),
                        1 + k
                    );
                    (name.clone(), Some(v), 0)
                })
                .collect();
            tail.push(self.add(TAIL, false, None, vs));
        }
        self.unix_tail = tail;
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

fn chrome_versions() -> Vec<V> {
    let mut out = Vec::new();
    for m in (118..=139u32).rev() {
        let build = 5993 + (m - 118) * 62;
        let year = if m < 121 {
            2023
        } else if m < 132 {
            2024
        } else {
            2025
        };
        out.push((
            "Google Chrome".to_string(),
            Some(format!("{m}.0.{build}.{}", 20 + (m * 37) % 180)),
            year,
        ));
        out.push((
            "Google Chrome".to_string(),
            Some(format!("{m}.0.{build}.{}", 100 + (m * 53) % 120)),
            year,
        ));
    }
    out
}

fn shuffle<T>(v: &mut [T], rng: &mut StdRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
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
                .match_software(redist, "14.38.33130.0", MS)
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
        let pool = Pool::builtin();
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
