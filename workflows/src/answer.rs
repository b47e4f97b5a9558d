//! The answers a poll offers, with their meaning: each kind says which
//! fields it needs (a target date, a justification, the real owner) and is
//! checked before anything is recorded, whatever channel it came from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What an owner says they will do about a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// Will upgrade to a supported version by a date.
    Upgrade,
    /// Will replace the machine.
    Replace,
    /// Will take the machine out of service.
    Decommission,
    /// Covered by paid extended security updates until a date.
    Esu,
    /// Needs an exception: a justification and an until date; admins decide.
    Exception,
    /// Not this person's machine: names whose it is.
    NotMine,
    /// Licence campaigns: the program is still needed on the machine.
    Keep,
    /// Licence campaigns: no longer needed; the owner uninstalls it by a date.
    Uninstall,
    /// Licence campaigns: no longer needed; the IT team is asked to remove it.
    Remove,
}

impl AnswerKind {
    /// Every kind.
    pub const ALL: [AnswerKind; 9] = [
        AnswerKind::Upgrade,
        AnswerKind::Replace,
        AnswerKind::Decommission,
        AnswerKind::Esu,
        AnswerKind::Exception,
        AnswerKind::NotMine,
        AnswerKind::Keep,
        AnswerKind::Uninstall,
        AnswerKind::Remove,
    ];

    /// What an end-of-life (or custom) campaign offers, in order.
    pub const EOL: [AnswerKind; 6] = [
        AnswerKind::Upgrade,
        AnswerKind::Replace,
        AnswerKind::Decommission,
        AnswerKind::Esu,
        AnswerKind::Exception,
        AnswerKind::NotMine,
    ];

    /// What a licence campaign offers, in order.
    pub const LICENCE: [AnswerKind; 4] = [
        AnswerKind::Keep,
        AnswerKind::Uninstall,
        AnswerKind::Remove,
        AnswerKind::NotMine,
    ];

    /// The kind a word meant, among those offered: "remove" is
    /// [`AnswerKind::Decommission`] for a machine and
    /// [`AnswerKind::Remove`] for a program.
    pub fn among(self, offered: &[AnswerKind]) -> Self {
        let alias = match self {
            AnswerKind::Decommission => AnswerKind::Remove,
            AnswerKind::Remove => AnswerKind::Decommission,
            other => other,
        };
        if !offered.contains(&self) && offered.contains(&alias) {
            alias
        } else {
            self
        }
    }

    /// Whether the answer says the licensed program is no longer needed.
    pub fn gives_up_seat(self) -> bool {
        matches!(self, AnswerKind::Uninstall | AnswerKind::Remove)
    }

    /// As stored and in links.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Upgrade => "upgrade",
            AnswerKind::Replace => "replace",
            AnswerKind::Decommission => "decommission",
            AnswerKind::Esu => "esu",
            AnswerKind::Exception => "exception",
            AnswerKind::NotMine => "not_mine",
            AnswerKind::Keep => "keep",
            AnswerKind::Uninstall => "uninstall",
            AnswerKind::Remove => "remove",
        }
    }

    /// From [`AnswerKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the answer needs a date (`upgrade` and `uninstall` by, `esu`
    /// and `exception` until).
    pub fn needs_date(self) -> bool {
        matches!(
            self,
            AnswerKind::Upgrade | AnswerKind::Esu | AnswerKind::Exception | AnswerKind::Uninstall
        )
    }

    /// Whether the answer needs a text: a justification, or the owner's login.
    pub fn needs_detail(self) -> bool {
        matches!(self, AnswerKind::Exception | AnswerKind::NotMine)
    }
}

/// An answer as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The kind.
    pub kind: AnswerKind,
    /// Upgrade by / uninstall by / ESU until / exception until.
    pub date: Option<NaiveDate>,
    /// Exception justification, or the real owner's login for `not_mine`.
    pub detail: Option<String>,
    /// Free text on any answer.
    pub comment: Option<String>,
}

/// Why an answer cannot be recorded, in words for the person giving it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A text holds a control character (NUL and the like; line breaks and
    /// tabs are fine).
    #[error("the text holds a control character (such as NUL); write it without")]
    ControlCharacter,
    /// A required date is missing.
    #[error("this answer needs a date")]
    DateMissing,
    /// The date is in the past.
    #[error("the date {0} is in the past")]
    DateInPast(NaiveDate),
    /// The exception has no justification.
    #[error("an exception needs a justification")]
    JustificationMissing,
    /// "Not mine" without a login.
    #[error("say whose machine it is (their login)")]
    OwnerMissing,
    /// "Not mine" naming someone the directory does not know.
    #[error("nobody with the login {0:?} is known here; check the spelling")]
    UnknownOwner(String),
    /// "Not mine" naming the person answering.
    #[error("you named yourself; choose another answer if the machine is yours")]
    OwnerIsSelf,
    /// ESU offered for a cycle without an extended-support end.
    #[error("extended security updates are not sold for this version")]
    EsuNotOffered,
    /// The ESU date is after the end of extended support.
    #[error("extended support ends on {0}; pick a date on or before it")]
    EsuBeyondEnd(NaiveDate),
    /// A field is too long.
    #[error("the text is longer than {0} characters")]
    TooLong(usize),
    /// A date field that is not a date (the first 40 characters of it).
    #[error("{0:?} is not a date; write it as YYYY-MM-DD")]
    NotADate(String),
}

/// Read an answer's date field as a form or dialog sends it: blank is no
/// date, anything else must be `YYYY-MM-DD`.
pub fn date_field(text: Option<&str>) -> Result<Option<NaiveDate>, AnswerError> {
    match text.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AnswerError::NotADate(d.chars().take(40).collect())),
    }
}

/// Longest justification or comment kept.
pub const MAX_TEXT: usize = 2000;

impl Answer {
    /// Check the answer given by `by` on `today`, for a machine whose cycle
    /// has extended support until `esu_end` (if sold at all).
    pub fn check(
        &self,
        by: &str,
        today: NaiveDate,
        esu_end: Option<NaiveDate>,
    ) -> Result<(), AnswerError> {
        for t in [&self.detail, &self.comment].into_iter().flatten() {
            if t.chars().count() > MAX_TEXT {
                return Err(AnswerError::TooLong(MAX_TEXT));
            }
            // PostgreSQL stores no NUL in text, and no one means one.
            if t.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(AnswerError::ControlCharacter);
            }
        }
        if self.kind.needs_date() {
            let d = self.date.ok_or(AnswerError::DateMissing)?;
            if d < today {
                return Err(AnswerError::DateInPast(d));
            }
        }
        let detail = self.detail.as_deref().map(str::trim).unwrap_or("");
        match self.kind {
            AnswerKind::Exception if detail.is_empty() => Err(AnswerError::JustificationMissing),
            AnswerKind::NotMine if detail.is_empty() => Err(AnswerError::OwnerMissing),
            AnswerKind::NotMine
                if winventory_core::normalize_login(detail).as_deref() == Some(by) =>
            {
                Err(AnswerError::OwnerIsSelf)
            }
            AnswerKind::Esu => match (esu_end, self.date) {
                (None, _) => Err(AnswerError::EsuNotOffered),
                (Some(end), Some(d)) if d > end => Err(AnswerError::EsuBeyondEnd(end)),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_field_is_blank_or_a_date_and_a_mistake_is_quoted_short() {
        assert_eq!(date_field(None), Ok(None));
        assert_eq!(date_field(Some("  ")), Ok(None));
        assert_eq!(
            date_field(Some(" 2027-03-01 ")),
            Ok(NaiveDate::from_ymd_opt(2027, 3, 1))
        );
        assert_eq!(
            date_field(Some("next spring")),
            Err(AnswerError::NotADate("next spring".into()))
        );
        let long = "x".repeat(100);
        assert_eq!(
            date_field(Some(&long)),
            Err(AnswerError::NotADate("x".repeat(40)))
        );
        assert!(
            AnswerError::NotADate("x".into())
                .to_string()
                .contains("YYYY-MM-DD")
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn a(kind: AnswerKind, date: Option<&str>, detail: Option<&str>) -> Answer {
        Answer {
            kind,
            date: date.map(d),
            detail: detail.map(str::to_string),
            comment: None,
        }
    }

    #[test]
    fn each_kind_asks_for_exactly_the_fields_it_needs() {
        let today = d("2026-11-28");
        let esu = Some(d("2026-10-13"));
        let ok = |x: Answer| x.check("jdoe", today, Some(d("2027-10-12")));
        assert_eq!(
            ok(a(AnswerKind::Upgrade, None, None)),
            Err(AnswerError::DateMissing)
        );
        assert_eq!(
            ok(a(AnswerKind::Upgrade, Some("2026-01-01"), None)),
            Err(AnswerError::DateInPast(d("2026-01-01")))
        );
        assert_eq!(ok(a(AnswerKind::Upgrade, Some("2027-01-01"), None)), Ok(()));
        assert_eq!(ok(a(AnswerKind::Replace, None, None)), Ok(()));
        assert_eq!(ok(a(AnswerKind::Decommission, None, None)), Ok(()));
        assert_eq!(
            ok(a(AnswerKind::Exception, Some("2027-06-01"), Some("  "))),
            Err(AnswerError::JustificationMissing)
        );
        assert_eq!(
            ok(a(
                AnswerKind::Exception,
                Some("2027-06-01"),
                Some("lab instrument")
            )),
            Ok(())
        );
        assert_eq!(
            ok(a(AnswerKind::NotMine, None, None)),
            Err(AnswerError::OwnerMissing)
        );
        assert_eq!(
            ok(a(AnswerKind::NotMine, None, Some("JDoe"))),
            Err(AnswerError::OwnerIsSelf)
        );
        assert_eq!(ok(a(AnswerKind::NotMine, None, Some("asmith"))), Ok(()));
        assert_eq!(ok(a(AnswerKind::Keep, None, None)), Ok(()));
        assert_eq!(ok(a(AnswerKind::Remove, None, None)), Ok(()));
        assert_eq!(
            ok(a(AnswerKind::Uninstall, None, None)),
            Err(AnswerError::DateMissing)
        );
        assert_eq!(
            ok(a(AnswerKind::Uninstall, Some("2026-12-15"), None)),
            Ok(())
        );
        assert_eq!(
            ok(a(AnswerKind::Esu, Some("2028-01-01"), None)),
            Err(AnswerError::EsuBeyondEnd(d("2027-10-12")))
        );
        assert_eq!(
            a(AnswerKind::Esu, Some("2027-01-01"), None).check("jdoe", today, None),
            Err(AnswerError::EsuNotOffered)
        );
        assert_eq!(
            a(AnswerKind::Esu, Some("2026-12-01"), None).check("jdoe", today, esu),
            Err(AnswerError::EsuBeyondEnd(d("2026-10-13")))
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in AnswerKind::ALL {
            assert_eq!(AnswerKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(AnswerKind::parse("maybe"), None);
    }

    #[test]
    fn remove_means_the_program_in_a_licence_campaign_and_the_machine_otherwise() {
        let d = AnswerKind::Decommission;
        assert_eq!(d.among(&AnswerKind::LICENCE), AnswerKind::Remove);
        assert_eq!(d.among(&AnswerKind::EOL), AnswerKind::Decommission);
        assert_eq!(AnswerKind::Remove.among(&AnswerKind::EOL), d);
        assert_eq!(AnswerKind::Keep.among(&AnswerKind::EOL), AnswerKind::Keep);
    }
}
