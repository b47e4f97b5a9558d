//! The campaign definition an admin writes (`winventory campaign create
//! FILE`): what to target, what to ask, when to remind and whom to escalate
//! to. Parsing checks every field and names the line and field of a mistake;
//! nothing here touches the database or the network.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::answer::AnswerKind;

/// A campaign's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Machines running an OS or software past (or near) its end of life.
    Eol,
    /// Any target and question the site defines.
    Custom,
    /// Holders of a licensed application: is it still needed?
    Licence,
}

impl CampaignKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Eol => "eol",
            CampaignKind::Custom => "custom",
            CampaignKind::Licence => "licence",
        }
    }

    /// The answers a poll of this kind offers unless the file says otherwise.
    pub fn default_answers(self) -> &'static [AnswerKind] {
        match self {
            CampaignKind::Licence => &AnswerKind::LICENCE,
            _ => &AnswerKind::EOL,
        }
    }
}

/// A product and some of its cycles (none listed: every cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductCycles {
    /// Catalog product (`windows-server`).
    pub product: String,
    /// Cycles (`2012-r2`); empty means all.
    #[serde(default)]
    pub cycles: Vec<String>,
}

/// Which machines a campaign asks about. A machine is a target when it
/// matches any of `os`, `software` or `eol_within_days`, and then every
/// limit given (`groups`, `applications`, `hosts`). A licence campaign's
/// machines are instead those holding one of `applications` (used last
/// more than `unused_days` ago, when given), then the other limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Operating systems by catalog product and cycles.
    #[serde(default)]
    pub os: Vec<ProductCycles>,
    /// Software by catalog product and cycles.
    #[serde(default)]
    pub software: Vec<ProductCycles>,
    /// Anything (OS or software) whose end of life is past or within this
    /// many days of each wave's day (so a cycle's machines join the campaign
    /// as its end comes within the window).
    #[serde(default)]
    pub eol_within_days: Option<u32>,
    /// Only machines whose responsible or main user is in one of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only machines running one of these applications.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Only these hosts (hostnames, any case).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Licence campaigns: only installs whose metered last use is older
    /// than this many days.
    #[serde(default)]
    pub unused_days: Option<u32>,
}

/// What the poll offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSpec {
    /// The answers offered, in order (left out: the kind's defaults,
    /// [`CampaignKind::default_answers`]; read them with
    /// [`CampaignSpec::answers`]).
    #[serde(default)]
    pub answers: Option<Vec<AnswerKind>>,
}

/// A step up the escalation chain, taken after `escalate_after` unanswered
/// reminders at the previous step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStep {
    /// The owner's groups (each member is told).
    Group,
    /// The owner's manager.
    Manager,
    /// The campaign's fallback group.
    Fallback,
}

/// When messages go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Reminders, as a cron expression in the recipient's time zone
    /// (5 fields `min hour day month weekday` read as crontab, weekday 0 or
    /// 7 Sunday; or 6 with seconds first, see [`parse_cron`]).
    #[serde(default = "ScheduleSpec::default_reminders")]
    pub reminders: String,
    /// Hours when nothing is sent, `HH:MM-HH:MM` in the recipient's time zone.
    #[serde(default)]
    pub quiet_hours: Option<String>,
    /// Unanswered reminders before the next escalation step.
    #[serde(default = "ScheduleSpec::default_escalate_after")]
    pub escalate_after: u32,
    /// The escalation chain, in order.
    #[serde(default = "ScheduleSpec::default_escalation")]
    pub escalation: Vec<EscalationStep>,
}

impl ScheduleSpec {
    fn default_reminders() -> String {
        "0 9 * * Mon".into()
    }
    fn default_escalate_after() -> u32 {
        2
    }
    fn default_escalation() -> Vec<EscalationStep> {
        vec![
            EscalationStep::Group,
            EscalationStep::Manager,
            EscalationStep::Fallback,
        ]
    }

    /// The reminder schedule, parsed.
    pub fn reminder_schedule(&self) -> Result<cron::Schedule, String> {
        parse_cron(&self.reminders)
    }

    /// The quiet hours as (start, end) minutes after midnight.
    pub fn quiet(&self) -> Result<Option<(u32, u32)>, String> {
        self.quiet_hours
            .as_deref()
            .map(parse_quiet_hours)
            .transpose()
    }
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        Self {
            reminders: Self::default_reminders(),
            quiet_hours: None,
            escalate_after: Self::default_escalate_after(),
            escalation: Self::default_escalation(),
        }
    }
}

/// Which templates render the campaign's messages (base names looked up in
/// the site's template directory first, then the shipped ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// The digest.
    #[serde(default = "TemplateSpec::default_digest")]
    pub digest: String,
}

impl TemplateSpec {
    fn default_digest() -> String {
        "digest".into()
    }
}

impl Default for TemplateSpec {
    fn default() -> Self {
        Self {
            digest: Self::default_digest(),
        }
    }
}

/// A campaign's title and description in one more language
/// (`[translations.fr]`); what it leaves out is read from the campaign's own
/// `title` and `description`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    /// The title in that language.
    #[serde(default)]
    pub title: Option<String>,
    /// The description in that language.
    #[serde(default)]
    pub description: Option<String>,
}

/// A campaign definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Unique short name (`retire-2012r2`): letters, digits, `-` and `_`.
    pub name: String,
    /// What the campaign asks about: end of life (`eol`), licences or a custom poll.
    pub kind: CampaignKind,
    /// Title shown to owners (in the language of the readers of no
    /// translation; read it with [`CampaignSpec::title_in`]).
    pub title: String,
    /// Why, in a sentence or two, shown to owners (read it with
    /// [`CampaignSpec::description_in`]).
    #[serde(default)]
    pub description: String,
    /// The title and description in other languages, by language code
    /// (one of [`crate::render::LANGUAGES`]): `[translations.fr]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, Translation>,
    /// The date by which the machines must be dealt with.
    #[serde(deserialize_with = "ymd")]
    pub deadline: NaiveDate,
    /// Group that is asked about machines with no known owner.
    pub fallback_group: String,
    /// Time zone for recipients with none of their own (IANA name).
    #[serde(default = "CampaignSpec::default_time_zone")]
    pub time_zone: String,
    /// The machines.
    pub target: TargetSpec,
    /// The question.
    #[serde(default)]
    pub poll: PollSpec,
    /// Reminders and escalation.
    #[serde(default)]
    pub schedule: ScheduleSpec,
    /// Site templates to use instead of the shipped digest.
    #[serde(default)]
    pub templates: TemplateSpec,
}

/// A mistake in a campaign file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}{}{message}",
    line.map(|l| format!("line {l}: ")).unwrap_or_default(),
    if field.is_empty() { String::new() } else { format!("{field}: ") }
)]
pub struct SpecError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field (`schedule.reminders`).
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl CampaignSpec {
    fn default_time_zone() -> String {
        "UTC".into()
    }

    /// Parse and check a campaign file's text.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        if text.trim().is_empty() {
            return Err(SpecError {
                line: None,
                field: String::new(),
                message: "the campaign file is empty: it needs at least name, kind, title, \
                          deadline and a [target] table (docs/campaigns.md shows one)"
                    .into(),
            });
        }
        let spec: CampaignSpec = toml::from_str(text).map_err(|e| SpecError {
            line: e.span().map(|s| line_of(text, s.start)),
            // toml names a nested key's table but not a top-level key:
            // the key is the one assigned on the line of the mistake.
            field: e
                .span()
                .and_then(|s| key_at(text, s.start))
                .filter(|k| !e.message().contains(&format!("`{k}`")))
                .unwrap_or_default(),
            message: e.message().trim().to_string(),
        })?;
        spec.check().map_err(|(field, message)| SpecError {
            line: find_line(text, &field),
            field,
            message,
        })?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: String| Err((f.to_string(), m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return err(
                "name",
                format!(
                    "{:?} is not a valid name: use letters, digits, '-' and '_'",
                    self.name
                ),
            );
        }
        // Commands and the API take a campaign's name or its number: a
        // name of digits alone would name another campaign.
        if self.name.chars().all(|c| c.is_ascii_digit()) {
            return err(
                "name",
                format!(
                    "{:?} is only digits, which commands read as a campaign's number: add a letter",
                    self.name
                ),
            );
        }
        if self.title.trim().is_empty() {
            return err("title", "must not be empty".into());
        }
        for (language, t) in &self.translations {
            let field = format!("translations.{language}");
            if !crate::render::LANGUAGES.contains(&language.as_str()) {
                return err(
                    &field,
                    format!(
                        "{language:?} is not a language the templates are written in; write one of {}",
                        crate::render::LANGUAGES.join(", ")
                    ),
                );
            }
            if t.title.is_none() && t.description.is_none() {
                return err(&field, "give a title, a description or both".into());
            }
            if t.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
                return err(&format!("{field}.title"), "must not be empty".into());
            }
        }
        if self.fallback_group.trim().is_empty() {
            return err(
                "fallback_group",
                "must name the group asked about machines with no owner".into(),
            );
        }
        if chrono_tz::Tz::from_str(&self.time_zone).is_err() {
            return err(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone (such as Europe/Zurich)",
                    self.time_zone
                ),
            );
        }
        let t = &self.target;
        if self.kind == CampaignKind::Licence {
            if t.applications.len() != 1 {
                return err(
                    "target.applications",
                    "a licence campaign names exactly one application (as `winventory report software --by application` lists it); run one campaign per application".into(),
                );
            }
            if !t.os.is_empty() || !t.software.is_empty() || t.eol_within_days.is_some() {
                return err(
                    "target",
                    "a licence campaign targets applications only; leave out os, software and eol_within_days".into(),
                );
            }
        } else {
            if t.os.is_empty() && t.software.is_empty() && t.eol_within_days.is_none() {
                return err(
                    "target",
                    "name at least one of os, software or eol_within_days".into(),
                );
            }
            if t.unused_days.is_some() {
                return err(
                    "target.unused_days",
                    "only a licence campaign (kind = \"licence\") selects installs by last use"
                        .into(),
                );
            }
        }
        if self.answers().is_empty() {
            return err("poll.answers", "offer at least one answer".into());
        }
        let fits = self.kind.default_answers();
        if let Some(a) = self.answers().iter().find(|a| {
            !fits.contains(a)
                && (self.kind == CampaignKind::Licence || AnswerKind::LICENCE.contains(a))
                && **a != AnswerKind::NotMine
        }) {
            return err(
                "poll.answers",
                format!(
                    "{:?} does not fit a {} campaign; offer some of {}",
                    a.as_str(),
                    self.kind.as_str(),
                    fits.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Err(e) = self.schedule() {
            return err(&e.field, e.message);
        }
        if self.schedule.escalate_after == 0 {
            return err(
                "schedule.escalate_after",
                "must be at least 1 reminder".into(),
            );
        }
        Ok(())
    }

    /// The title a reader of `language` (a tag such as `fr` or `fr-CH`,
    /// read as the templates read it, [`crate::render::language`]) is
    /// shown: its translation, else the campaign's own.
    pub fn title_in(&self, language: &str) -> &str {
        self.translation(language)
            .and_then(|t| t.title.as_deref())
            .unwrap_or(&self.title)
    }

    /// The description a reader of `language` is shown: its translation,
    /// else the campaign's own.
    pub fn description_in(&self, language: &str) -> &str {
        self.translation(language)
            .and_then(|t| t.description.as_deref())
            .unwrap_or(&self.description)
    }

    fn translation(&self, language: &str) -> Option<&Translation> {
        self.translations.get(crate::render::language(language))
    }

    /// The answers the poll offers.
    pub fn answers(&self) -> &[AnswerKind] {
        self.poll
            .answers
            .as_deref()
            .unwrap_or(self.kind.default_answers())
    }

    /// The campaign's schedule, parsed: an error names the field that is
    /// wrong (a stored definition written by an earlier version may be).
    pub fn schedule(&self) -> Result<Schedule, SpecError> {
        let wrong = |field: &str, message: String| SpecError {
            line: None,
            field: field.into(),
            message,
        };
        let reminders = self
            .schedule
            .reminder_schedule()
            .map_err(|e| wrong("schedule.reminders", e))?;
        let quiet = self
            .schedule
            .quiet()
            .map_err(|e| wrong("schedule.quiet_hours", e))?
            .map(|(start, end)| QuietHours { start, end });
        let time_zone = chrono_tz::Tz::from_str(&self.time_zone).map_err(|_| {
            wrong(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone (such as Europe/Zurich)",
                    self.time_zone
                ),
            )
        })?;
        Ok(Schedule {
            reminders,
            quiet,
            time_zone,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key assigned (`key = ...`) on the line holding `offset`, if any.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then(|| key.to_string())
}

/// A date as campaign files write it: `"2027-03-31"` or a TOML date
/// (`2027-03-31`); any other form is refused, saying which is wanted.
fn ymd<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    use serde::de::Error;
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => winventory_core::parse_ymd(&s).map_err(D::Error::custom),
        toml::Value::Datetime(dt) => match (dt.date, dt.time) {
            (Some(date), None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .ok_or_else(|| D::Error::custom("not a day of the calendar (YYYY-MM-DD)")),
            _ => Err(D::Error::custom(
                "a date without a time: write dates as YYYY-MM-DD (for example 2027-03-31)",
            )),
        },
        other => Err(D::Error::custom(format!(
            "{other} is not a date: write dates as YYYY-MM-DD (for example 2027-03-31)"
        ))),
    }
}

/// The line where the last part of a dotted field is assigned (looked for
/// after its table's header first, `[translations.fr]` for
/// `translations.fr.title`), or the field's own table header, if any.
fn find_line(text: &str, field: &str) -> Option<usize> {
    let key = field.rsplit('.').next()?;
    let assigns = |l: &str| {
        let l = l.trim_start();
        l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
            || l.trim() == format!("[{field}]")
    };
    let lines: Vec<&str> = text.lines().collect();
    let after_header = field.rsplit_once('.').and_then(|(table, _)| {
        let header = format!("[{table}]");
        let start = lines.iter().position(|l| l.trim() == header)?;
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .position(|l| assigns(l))
            .map(|i| start + 1 + i)
    });
    after_header
        .or_else(|| lines.iter().position(|l| assigns(l)))
        .map(|i| i + 1)
}

/// A cron expression of 5 fields (minutes first, as crontab writes it) or
/// 6-7 (seconds first, the `cron` crate's own syntax). In the 5-field form
/// the day of the week is crontab's: 0 or 7 is Sunday, 1 Monday, 6
/// Saturday (the `cron` crate counts 1 for Sunday to 7 for Saturday, so
/// crontab's `1-5` would otherwise mean Sunday to Thursday).
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = if let [minute, hour, day, month, weekday] = fields[..] {
        format!(
            "0 {minute} {hour} {day} {month} {}",
            crontab_weekdays(weekday).unwrap_or_else(|| weekday.to_string())
        )
    } else {
        expr.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        format!("{expr:?} is not a cron expression ({e}); write e.g. \"0 9 * * Mon\" for Mondays at 09:00")
    })
}

/// A crontab day-of-week field (numbers 0-7 with 0 and 7 for Sunday, names,
/// lists, ranges and steps) as the `cron` crate's list of days (1 for Sunday
/// to 7 for Saturday). `None` when it is not a valid crontab field (the
/// `cron` crate then says what is wrong with it); `*` and fields without a
/// number are kept as they are (names and `*` mean the same in both).
fn crontab_weekdays(field: &str) -> Option<String> {
    if !field.chars().any(|c| c.is_ascii_digit()) {
        return Some(field.to_string());
    }
    let day = |t: &str| -> Option<u32> {
        if let Ok(n) = t.parse::<u32>() {
            return (n <= 7).then_some(n);
        }
        let names: [&[&str]; 7] = [
            &["sun", "sunday"],
            &["mon", "monday"],
            &["tue", "tues", "tuesday"],
            &["wed", "wednesday"],
            &["thu", "thurs", "thursday"],
            &["fri", "friday"],
            &["sat", "saturday"],
        ];
        let t = t.to_ascii_lowercase();
        names
            .iter()
            .position(|n| n.contains(&t.as_str()))
            .and_then(|i| u32::try_from(i).ok())
    };
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (from, to) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => (day(a)?, day(b)?),
            // `N/STEP` runs from N to the end of the week.
            None if item.contains('/') => (day(range)?, 6),
            None => (day(range)?, day(range)?),
        };
        if from > to {
            return None;
        }
        for d in (from..=to).step_by(usize::try_from(step).ok()?) {
            days[(d % 7) as usize] = true;
        }
    }
    let list: Vec<String> = (0..7)
        .filter(|d| days[*d])
        .map(|d| (d + 1).to_string())
        .collect();
    (!list.is_empty()).then(|| list.join(","))
}

fn parse_quiet_hours(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not a range of hours; write e.g. \"19:00-08:00\"");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    match (hm(a), hm(b)) {
        (Some(x), Some(y)) if x != y => Ok((x, y)),
        _ => Err(bad()),
    }
}

/// Quiet hours: minutes after midnight from `start` (included) to `end`
/// (excluded), wrapping past midnight when `end` comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// First quiet minute after midnight.
    pub start: u32,
    /// First minute after midnight that is no longer quiet.
    pub end: u32,
}

impl QuietHours {
    /// Whether `minute` (after midnight) is quiet.
    pub fn contains(self, minute: u32) -> bool {
        is_quiet(Some((self.start, self.end)), minute)
    }

    /// Whether the instant `at`, read on the clock of `tz`, is quiet.
    pub fn covers(self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        use chrono::Timelike as _;
        let local = at.with_timezone(&tz);
        self.contains(local.hour() * 60 + local.minute())
    }

    /// When the quiet hours `at` falls in end, on the clock of `tz`
    /// (`None` when `at` is not quiet there). An end that a daylight-saving
    /// change skips is the first instant after the gap.
    pub fn end_after(
        self,
        at: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Option<DateTime<chrono_tz::Tz>> {
        use chrono::{LocalResult, TimeZone as _, Timelike as _};
        if !self.covers(at, tz) {
            return None;
        }
        let local = at.with_timezone(&tz);
        let minute = local.hour() * 60 + local.minute();
        // Quiet hours wrapping past midnight end tomorrow when they began today.
        let day = if self.end < self.start && minute >= self.start {
            local.date_naive().succ_opt()?
        } else {
            local.date_naive()
        };
        let end = day.and_hms_opt(self.end / 60, self.end % 60, 0)?;
        match tz.from_local_datetime(&end) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => (1..=4)
                .map(|h| end + chrono::Duration::minutes(30 * h))
                .find_map(|t| tz.from_local_datetime(&t).earliest()),
        }
    }
}

impl std::fmt::Display for QuietHours {
    /// As a campaign file writes them: `19:00-08:00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A campaign's schedule, parsed once from its definition (see
/// [`CampaignSpec::schedule`]): when reminders fire, when nothing is sent,
/// and the time zone of people who have none of their own.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The reminder schedule.
    pub reminders: cron::Schedule,
    /// The quiet hours, if any.
    pub quiet: Option<QuietHours>,
    /// The campaign's time zone.
    pub time_zone: chrono_tz::Tz,
}

impl Schedule {
    /// Whether `at`, on the clock of `tz`, falls in the quiet hours.
    pub fn is_quiet(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        self.quiet.is_some_and(|q| q.covers(at, tz))
    }

    /// When the quiet hours `at` falls in end, read on the campaign's own
    /// time zone (`None` when it is not quiet there).
    pub fn quiet_until(&self, at: DateTime<Utc>) -> Option<DateTime<chrono_tz::Tz>> {
        self.quiet?.end_after(at, self.time_zone)
    }

    /// Whether a reminder is due at `now` for a machine last listed at
    /// `last`: the schedule, read in `tz`, fired after `last` and at or
    /// before `now`.
    pub fn reminder_due(&self, last: DateTime<Utc>, tz: chrono_tz::Tz, now: DateTime<Utc>) -> bool {
        self.reminders
            .after(&last.with_timezone(&tz))
            .next()
            .is_some_and(|t| t.with_timezone(&Utc) <= now)
    }
}

/// Whether `minute` (after midnight) falls in the quiet range (which may
/// wrap past midnight).
pub fn is_quiet(quiet: Option<(u32, u32)>, minute: u32) -> bool {
    match quiet {
        None => false,
        Some((start, end)) if start < end => (start..end).contains(&minute),
        Some((start, end)) => minute >= start || minute < end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_or_a_missing_key_is_said_without_an_empty_field_name() {
        let empty = CampaignSpec::parse("  \n").expect_err("empty").to_string();
        assert!(empty.starts_with("the campaign file is empty"), "{empty}");
        let missing = CampaignSpec::parse("kind = \"eol\"\n")
            .expect_err("no name")
            .to_string();
        assert!(!missing.contains(": :"), "{missing}");
        assert!(missing.contains("name"), "{missing}");
    }

    /// The weekdays (Mon = 1 ... Sun = 7) of the next `n` times `expr` fires
    /// after Sunday 2026-11-29 12:00 UTC.
    fn fires(expr: &str, n: usize) -> Vec<u32> {
        use chrono::Datelike as _;
        let from = chrono::DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        parse_cron(expr)
            .expect("a cron expression")
            .after(&from)
            .take(n)
            .map(|t| t.weekday().number_from_monday())
            .collect()
    }

    #[test]
    fn a_five_field_cron_counts_weekdays_as_crontab_does() {
        assert_eq!(fires("0 9 * * 1", 2), [1, 1], "1 is Monday");
        assert_eq!(fires("0 9 * * Mon", 2), [1, 1]);
        assert_eq!(fires("0 9 * * 0", 2), [7, 7], "0 is Sunday");
        assert_eq!(fires("0 9 * * 7", 2), [7, 7], "so is 7");
        assert_eq!(fires("0 9 * * 1-5", 6), [1, 2, 3, 4, 5, 1]);
        assert_eq!(fires("0 9 * * MON-FRI", 6), [1, 2, 3, 4, 5, 1]);
        assert_eq!(fires("0 9 * * 5-7", 4), [5, 6, 7, 5], "Friday to Sunday");
        assert_eq!(fires("0 9 * * 1,3,5", 4), [1, 3, 5, 1]);
        assert_eq!(
            fires("0 9 * * */2", 5),
            [2, 4, 6, 7, 2],
            "Sunday, Tuesday, Thursday, Saturday"
        );
        assert_eq!(fires("0 9 * * 1-5/2", 4), [1, 3, 5, 1]);
        assert_eq!(fires("0 9 * * *", 3), [1, 2, 3]);
        // The 6-field form is the cron crate's own (1 is Sunday).
        assert_eq!(fires("0 0 9 * * 1", 1), [7]);
        for bad in ["0 9 * * 8", "0 9 * * 5-1", "0 9 * * 1/0", "0 9 * * funday"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }

    const GOOD: &str = r#"
name = "retire-2012r2"
kind = "eol"
title = "Windows Server 2012 R2 retirement"
deadline = "2027-03-31"
fallback_group = "it-desk"
time_zone = "Europe/Zurich"

[target]
os = [{ product = "windows-server", cycles = ["2012-r2"] }]

[schedule]
reminders = "0 9 * * Mon"
quiet_hours = "19:00-08:00"
"#;

    #[test]
    fn a_complete_file_parses_with_defaults_for_what_it_leaves_out() {
        let s = CampaignSpec::parse(GOOD).expect("valid");
        assert_eq!(s.name, "retire-2012r2");
        assert_eq!(s.answers(), AnswerKind::EOL);
        assert_eq!(s.schedule.escalate_after, 2);
        assert_eq!(s.schedule.quiet().expect("q"), Some((19 * 60, 8 * 60)));
        assert_eq!(
            s.schedule().expect("schedule").time_zone,
            chrono_tz::Europe::Zurich
        );
    }

    #[test]
    fn mistakes_name_the_line_and_the_field() {
        let e = CampaignSpec::parse(&GOOD.replace("0 9 * * Mon", "every monday"))
            .expect_err("bad cron");
        assert_eq!((e.line, e.field.as_str()), (Some(13), "schedule.reminders"));
        assert!(
            e.to_string().starts_with("line 13: schedule.reminders: "),
            "{e}"
        );

        let e = CampaignSpec::parse(&GOOD.replace("Europe/Zurich", "Mars/Olympus"))
            .expect_err("bad tz");
        assert_eq!((e.line, e.field.as_str()), (Some(7), "time_zone"));

        let e =
            CampaignSpec::parse(&GOOD.replace("deadline = \"2027-03-31\"", "deadline = \"soon\""))
                .expect_err("bad date");
        assert_eq!(e.line, Some(5));
        assert_eq!(e.field, "deadline", "a top-level key is named too");

        for other in ["31.03.2027", "2027-3-31", "03/31/2027"] {
            let e = CampaignSpec::parse(&GOOD.replace("2027-03-31", other)).expect_err("refused");
            assert_eq!((e.line, e.field.as_str()), (Some(5), "deadline"), "{e}");
            assert!(e.message.contains("YYYY-MM-DD"), "{other}: {e}");
        }
        let bare = CampaignSpec::parse(&GOOD.replace("\"2027-03-31\"", "2027-03-31"))
            .expect("a TOML date is a date");
        assert_eq!(bare.deadline.to_string(), "2027-03-31");

        let e = CampaignSpec::parse(&GOOD.replace("fallback_group", "fallback"))
            .expect_err("unknown field");
        assert!(e.message.contains("unknown field"), "{e}");

        let e =
            CampaignSpec::parse(&GOOD.replace("19:00-08:00", "evenings")).expect_err("bad quiet");
        assert_eq!(e.field, "schedule.quiet_hours");
    }

    const LICENCE: &str = r#"
name = "matlab-seats"
kind = "licence"
title = "Do you still need MATLAB?"
deadline = "2027-01-31"
fallback_group = "it-desk"

[target]
applications = ["MATLAB"]
unused_days = 90
"#;

    #[test]
    fn a_licence_campaign_asks_about_applications_with_its_own_answers() {
        let s = CampaignSpec::parse(LICENCE).expect("valid");
        assert_eq!(s.kind, CampaignKind::Licence);
        assert_eq!(s.answers(), AnswerKind::LICENCE);
        assert_eq!(s.target.unused_days, Some(90));

        let e = CampaignSpec::parse(&LICENCE.replace("applications = [\"MATLAB\"]", ""))
            .expect_err("no application");
        assert_eq!(e.field, "target.applications");

        let e = CampaignSpec::parse(&format!("{LICENCE}\n[poll]\nanswers = [\"upgrade\"]\n"))
            .expect_err("eol answer");
        assert_eq!(e.field, "poll.answers");
        assert!(
            e.message.contains("keep, uninstall, remove, not_mine"),
            "{e}"
        );

        let e = CampaignSpec::parse(&GOOD.replace("[schedule]", "unused_days = 30\n[schedule]"))
            .expect_err("unused_days on an eol campaign");
        assert_eq!((e.line, e.field.as_str()), (Some(12), "target.unused_days"));
    }

    #[test]
    fn a_translated_title_and_description_are_read_in_the_readers_language() {
        let text = GOOD.replace(
            "[target]",
            "description = \"No more security updates.\"\n\n[translations.fr]\ntitle = \"Retrait de Windows Server 2012 R2\"\n\n[target]",
        );
        let s = CampaignSpec::parse(&text).expect("valid");
        assert_eq!(s.title_in("fr"), "Retrait de Windows Server 2012 R2");
        assert_eq!(s.title_in("fr-CH"), "Retrait de Windows Server 2012 R2");
        assert_eq!(s.title_in("en"), "Windows Server 2012 R2 retirement");
        assert_eq!(s.title_in("de"), "Windows Server 2012 R2 retirement");
        assert_eq!(
            s.description_in("fr"),
            "No more security updates.",
            "a translation without a description falls back to the campaign's"
        );
        // A file without translations reads the same in every language.
        let plain = CampaignSpec::parse(GOOD).expect("valid");
        assert!(plain.translations.is_empty());
        assert_eq!(plain.title_in("fr"), plain.title);
        assert_eq!(plain.description_in("fr"), "");
        // Dotted keys say the same.
        let dotted = CampaignSpec::parse(&GOOD.replace(
            "deadline =",
            "translations.fr.description = \"Plus de mises à jour.\"\ndeadline =",
        ))
        .expect("valid");
        assert_eq!(dotted.description_in("fr"), "Plus de mises à jour.");
    }

    #[test]
    fn a_translation_needs_a_language_of_the_templates_and_some_text() {
        let with = |t: &str| GOOD.replace("[target]", &format!("{t}\n\n[target]"));
        let e = CampaignSpec::parse(&with("[translations.de]\ntitle = \"Ablösung\""))
            .expect_err("no German templates");
        assert_eq!((e.line, e.field.as_str()), (Some(9), "translations.de"));
        assert!(e.message.contains("en, fr"), "{e}");
        let e = CampaignSpec::parse(&with("[translations.fr]\ntitle = \" \""))
            .expect_err("empty title");
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(10), "translations.fr.title")
        );
        let e = CampaignSpec::parse(&with("[translations.fr]")).expect_err("nothing");
        assert_eq!(e.field, "translations.fr");
        let e = CampaignSpec::parse(&with("[translations.fr]\nsubject = \"x\""))
            .expect_err("unknown field");
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn quiet_hours_end_on_the_clock_of_their_time_zone() {
        use chrono_tz::Europe::Zurich;
        let t = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc)
        };
        let night = QuietHours {
            start: 19 * 60,
            end: 8 * 60,
        };
        assert_eq!(night.to_string(), "19:00-08:00");
        let end = |at: &str| night.end_after(t(at), Zurich).map(|e| e.to_rfc3339());
        // 20:30 in Zurich (winter, UTC+1): the next morning at 08:00.
        assert_eq!(
            end("2026-11-27T19:30:00Z").as_deref(),
            Some("2026-11-28T08:00:00+01:00")
        );
        // 06:00 in Zurich: the same morning.
        assert_eq!(
            end("2026-11-28T05:00:00Z").as_deref(),
            Some("2026-11-28T08:00:00+01:00")
        );
        assert_eq!(end("2026-11-28T09:00:00Z"), None, "10:00 is not quiet");
        // Quiet hours within a day.
        let lunch = QuietHours {
            start: 12 * 60,
            end: 13 * 60 + 30,
        };
        assert_eq!(
            lunch
                .end_after(t("2026-07-01T10:15:00Z"), Zurich)
                .map(|e| e.to_rfc3339())
                .as_deref(),
            Some("2026-07-01T13:30:00+02:00")
        );
        // An end that the spring change skips (02:30 on 2027-03-28 does
        // not exist in Zurich): the first instant after the gap.
        let short = QuietHours {
            start: 60,
            end: 2 * 60 + 30,
        };
        assert_eq!(
            short
                .end_after(t("2027-03-28T00:30:00Z"), Zurich)
                .map(|e| e.to_rfc3339())
                .as_deref(),
            Some("2027-03-28T03:00:00+02:00")
        );
        let s = CampaignSpec::parse(GOOD)
            .expect("valid")
            .schedule()
            .expect("schedule");
        assert_eq!(
            s.quiet_until(t("2026-11-27T19:30:00Z"))
                .map(|e| e.to_rfc3339())
                .as_deref(),
            Some("2026-11-28T08:00:00+01:00")
        );
    }

    #[test]
    fn quiet_hours_may_wrap_past_midnight() {
        let q = Some((19 * 60, 8 * 60));
        assert!(is_quiet(q, 23 * 60));
        assert!(is_quiet(q, 7 * 60 + 59));
        assert!(!is_quiet(q, 8 * 60));
        assert!(!is_quiet(q, 12 * 60));
        assert!(is_quiet(Some((12 * 60, 13 * 60)), 12 * 60 + 30));
        assert!(!is_quiet(None, 0));
    }
}
