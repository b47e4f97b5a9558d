//! Domain types of the inventory and the time rules of the CMF format
//! ("Time" section): as-of instants, freshness, and when a lifecycle phase is
//! over. Pure data and pure functions; no I/O.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Serialize, Serializer};

/// The identity of a machine: its hostname compared case-insensitively.
///
/// Built once at the edge with [`HostKey::new`]; the stored key is the
/// hostname trimmed and lower-cased, while the hostname as last reported is
/// kept beside it for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey(String);

impl HostKey {
    /// The key for a hostname (`PCITCDA042` and `pcitcda042` give the same key).
    pub fn new(hostname: &str) -> Self {
        Self(hostname.trim().to_lowercase())
    }
    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Normalise a login for storage and comparison: trimmed and lower-cased,
/// since directory logins are case-insensitive. `None` for an empty login.
pub fn normalize_login(login: &str) -> Option<String> {
    let l = login.trim();
    if l.is_empty() {
        None
    } else {
        Some(l.to_lowercase())
    }
}

/// A lifecycle date as endoflife.date holds it: a date, `true` (the phase is
/// over, date unknown) or `false` (not decided, still running). Absence
/// (unknown) is `Option::None` around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The phase ends (ended) on this date.
    Date(NaiveDate),
    /// `true`: over, date unknown; `false`: not decided.
    Flag(bool),
}

impl Lifecycle {
    /// Whether the phase is over at the end of `as_of_date`: a date on or
    /// before it, or `true`.
    pub fn is_over(self, as_of_date: NaiveDate) -> bool {
        match self {
            Lifecycle::Date(d) => d <= as_of_date,
            Lifecycle::Flag(b) => b,
        }
    }

    /// Parse the catalog's JSON value (`"2025-10-14"`, `true`, `false`).
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Bool(b) => Some(Lifecycle::Flag(*b)),
            serde_json::Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(Lifecycle::Date),
            _ => None,
        }
    }

    /// Sort key used by reports: `true` first, then dates ascending, then
    /// `false` (never over).
    pub fn sort_key(self) -> (u8, NaiveDate) {
        match self {
            Lifecycle::Flag(true) => (0, NaiveDate::MIN),
            Lifecycle::Date(d) => (1, d),
            Lifecycle::Flag(false) => (2, NaiveDate::MAX),
        }
    }
}

impl std::fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lifecycle::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Lifecycle::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// As serialised: a date (`"2025-10-14"`) or a flag (`true`: over, date
/// unknown; `false`: not decided).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Lifecycle {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(
                SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date),
            )))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .description(Some(
                "A lifecycle date as endoflife.date holds it: the date the phase ends (ended), \
                 `true` (over, date unknown) or `false` (not decided)",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Lifecycle {}

impl Serialize for Lifecycle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lifecycle::Date(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
            Lifecycle::Flag(b) => s.serialize_bool(*b),
        }
    }
}

/// `date` plus `days`, saturating at the last (or first) date there is:
/// days come from people (`--within`, a campaign's window, a licence's
/// notice) and any number is a fair question, never a reason to panic.
pub fn days_after(date: NaiveDate, days: i64) -> NaiveDate {
    Duration::try_days(days)
        .and_then(|d| date.checked_add_signed(d))
        .unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// `instant` minus `days`, saturating at the first (or last) instant there
/// is (see [`days_after`]).
pub fn instant_days_before(instant: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    Duration::try_days(days)
        .and_then(|d| instant.checked_sub_signed(d))
        .unwrap_or(if days < 0 {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
}

/// The instant a read command looks at, and the freshness window.
///
/// `--as-of DATE` means DATE+1 day at 00:00 UTC (the end of DATE); without
/// it, now. A machine is fresh when its latest report is at or after
/// `instant - window`.
///
/// The store keeps only each machine's latest report. A report collected
/// after a date says nothing of the machine's state on that date, so a
/// dated as-of ([`AsOf::end_of`]) only knows the machines whose latest
/// report was collected before its instant ([`AsOf::is_known`]); the others
/// are not counted. Without a date (now), every latest report is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// The instant looked at.
    pub instant: DateTime<Utc>,
    /// The calendar date whose end is looked at (for lifecycle phases).
    pub date: NaiveDate,
    /// Freshness window in days (90 by default).
    pub freshness_days: u32,
    /// Reports collected at or after this instant are not known as of then
    /// (`Some(instant)` for a dated as-of, `None` for now).
    pub known_before: Option<DateTime<Utc>>,
}

/// The machines a report counts: those whose latest report was collected
/// at or after `since` (fresh) and, for a dated as-of, before `before`
/// (known then). The one rule every report and the licence figures apply,
/// in the store's queries and in memory alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The oldest report that still counts (the freshness cut-off).
    pub since: DateTime<Utc>,
    /// Reports collected at or after this are not known (`None`: all are).
    pub before: Option<DateTime<Utc>>,
}

impl Window {
    /// Whether a machine whose latest report was collected at `last_report`
    /// is counted.
    pub fn counts(&self, last_report: DateTime<Utc>) -> bool {
        last_report >= self.since && self.is_known(last_report)
    }

    /// Whether a report collected at `last_report` is known (collected
    /// before the as-of instant of a dated report).
    pub fn is_known(&self, last_report: DateTime<Utc>) -> bool {
        self.before.is_none_or(|b| last_report < b)
    }
}

/// Read a date written as people are asked to write it everywhere:
/// `YYYY-MM-DD`, four digits, two and two (`2027-03-31`). Other forms
/// (`31.03.2027`, `02/12/2026`, `2026-2-1`) are refused, not guessed; the
/// message says which form is wanted.
pub fn parse_ymd(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    let b = t.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(format!(
            "{s:?} is not a date as written here: write dates as YYYY-MM-DD (for example 2027-03-31)"
        ));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a day of the calendar (YYYY-MM-DD)"))
}

/// The default freshness window, in days.
pub const DEFAULT_FRESHNESS_DAYS: u32 = 90;

impl AsOf {
    /// The end of `date` (DATE+1 at 00:00 UTC).
    pub fn end_of(date: NaiveDate, freshness_days: u32) -> Self {
        let next = date.succ_opt().unwrap_or(date);
        let instant = next.and_time(NaiveTime::MIN).and_utc();
        Self {
            instant,
            date,
            freshness_days,
            known_before: Some(instant),
        }
    }
    /// Now.
    pub fn now(freshness_days: u32) -> Self {
        Self::at(Utc::now(), freshness_days)
    }
    /// An arbitrary instant (its UTC date is the date for lifecycle phases).
    pub fn at(instant: DateTime<Utc>, freshness_days: u32) -> Self {
        Self {
            instant,
            date: instant.date_naive(),
            freshness_days,
            known_before: None,
        }
    }
    /// The oldest report time that still counts as fresh (the first
    /// instant there is, for a window longer than history).
    pub fn fresh_cutoff(&self) -> DateTime<Utc> {
        instant_days_before(self.instant, i64::from(self.freshness_days))
    }
    /// Whether a machine last reported at `last_report` is fresh.
    pub fn is_fresh(&self, last_report: DateTime<Utc>) -> bool {
        last_report >= self.fresh_cutoff()
    }
    /// The machines a report as of this counts (see [`Window`]).
    pub fn window(&self) -> Window {
        Window {
            since: self.fresh_cutoff(),
            before: self.known_before,
        }
    }
    /// Whether a machine whose latest report was collected at
    /// `last_report` is known as of this (always, without a date).
    pub fn is_known(&self, last_report: DateTime<Utc>) -> bool {
        self.window().is_known(last_report)
    }
    /// Whether a report counts a machine whose latest report was collected
    /// at `last_report`: fresh and known.
    pub fn counts(&self, last_report: DateTime<Utc>) -> bool {
        self.window().counts(last_report)
    }
}

/// Where an owner fact came from (CMF "Owners" section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerSource {
    /// The machine's own report named this person.
    Snapshot,
    /// The network database named this person.
    NetworkDb,
    /// A person confirmed it in a campaign; stands until a later answer or an admin.
    Answer,
}

impl OwnerSource {
    /// The stored spelling (`snapshot`, `network-db`, `answer`).
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerSource::Snapshot => "snapshot",
            OwnerSource::NetworkDb => "network-db",
            OwnerSource::Answer => "answer",
        }
    }
    /// Parse the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snapshot" => Some(OwnerSource::Snapshot),
            "network-db" => Some(OwnerSource::NetworkDb),
            "answer" => Some(OwnerSource::Answer),
            _ => None,
        }
    }
}

/// Which owner role a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnerRole {
    /// The person answerable for the machine.
    Responsible,
    /// The person who mainly uses it.
    MainUser,
}

impl OwnerRole {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerRole::Responsible => "responsible",
            OwnerRole::MainUser => "main_user",
        }
    }
}

/// One owner fact: a login and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerFact {
    /// The person's login (lower-cased).
    pub login: String,
    /// Where the fact came from.
    pub source: OwnerSource,
}

/// The OS facts of one report (CMF `os` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsInfo {
    /// `os.caption`.
    pub caption: String,
    /// `os.version`.
    pub version: String,
    /// `os.display_version`.
    pub display_version: Option<String>,
    /// `os.edition` (Windows EditionID).
    pub edition: Option<String>,
    /// `os.product_type` (1 workstation, 2 domain controller, 3 server).
    pub product_type: Option<i64>,
    /// `os.architecture`.
    pub architecture: Option<String>,
}

/// One installed program as a report lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SoftwareEntry {
    /// `DisplayName`.
    pub name: String,
    /// `DisplayVersion` (empty when absent).
    pub version: String,
    /// `Publisher` (empty when absent).
    pub publisher: String,
    /// `InstallDate`, normalised.
    pub install_date: Option<NaiveDate>,
    /// When the program was last started, where metered.
    pub last_used: Option<DateTime<Utc>>,
}

/// A product/cycle match, as stored on machines and software titles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CycleRef {
    /// endoflife.date product (or a site product).
    pub product: String,
    /// Release cycle of that product.
    pub cycle: String,
}

/// A person in the user directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// Login (lower-cased), the key.
    pub login: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Matrix user ID (`@jdoe:example.org`).
    pub matrix_id: Option<String>,
    /// Mattermost username.
    pub mattermost_username: Option<String>,
    /// Preferred language (BCP 47 tag such as `en` or `fr`).
    pub language: Option<String>,
    /// IANA time zone (`Europe/Zurich`).
    pub time_zone: Option<String>,
    /// Login of this person's manager.
    pub manager: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_any_length_saturate_at_the_ends_of_time_instead_of_panicking() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).expect("a date");
        assert_eq!(
            days_after(day, 30),
            NaiveDate::from_ymd_opt(2027, 1, 2).expect("a date")
        );
        assert_eq!(days_after(day, 4_000_000_000), NaiveDate::MAX);
        assert_eq!(days_after(day, i64::MAX), NaiveDate::MAX);
        assert_eq!(days_after(day, -4_000_000_000), NaiveDate::MIN);
        let now = day.and_hms_opt(12, 0, 0).expect("a time").and_utc();
        assert_eq!(
            instant_days_before(now, 999_999_999),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(instant_days_before(now, i64::MIN), DateTime::<Utc>::MAX_UTC);
        assert_eq!(instant_days_before(now, 1), now - Duration::days(1));
        let wide = AsOf::at(now, u32::MAX);
        assert_eq!(wide.fresh_cutoff(), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn dates_are_read_only_as_yyyy_mm_dd_and_other_forms_say_which_is_wanted() {
        assert_eq!(
            parse_ymd("2027-03-31"),
            NaiveDate::from_ymd_opt(2027, 3, 31).ok_or(String::new())
        );
        for bad in [
            "31.03.2027",
            "02/12/2026",
            "2026-2-1",
            "2026-02-1",
            "20260201",
            "",
        ] {
            let e = parse_ymd(bad).expect_err("refused");
            assert!(e.contains("YYYY-MM-DD"), "{bad}: {e}");
        }
        assert!(
            parse_ymd("2026-02-30")
                .expect_err("refused")
                .contains("calendar")
        );
    }
}
