//! The reply grammar of chat channels: what an owner types to answer a
//! digest, one answer per line, as a person would write it.
//!
//! ```text
//! PC042 upgrade by 2027-03-01
//! all decommission
//! PCX not mine, it's asmith
//! LAB-7 exception until 2027-06-30 because the instrument vendor supports only this
//! SRV-3 esu until 2026-10-13
//! PC042 keep
//! PC042 uninstall by 2026-12-15
//! all no longer needed
//! help
//! ```
//!
//! The first word names a machine (or `all`); then an answer; then a date
//! (`YYYY-MM-DD`, after `by`, `until` or `before`, or on its own), and for an
//! exception its justification (after `because`, or what is left), for "not
//! mine" the login of the real owner. Licence campaigns' answers: `keep`
//! (or "still needed"), `uninstall` with a date, and `remove` (or "no
//! longer needed", "not needed"); "remove" means the machine in an
//! end-of-life campaign, which the engine settles. The answer may also come first
//! (`upgrade PC042 by 2027-03-01`). Pure parsing: whether the machine is the
//! person's, and whether the answer is complete, is the engine's business.

use chrono::NaiveDate;

use crate::answer::AnswerKind;

/// Which machines a reply is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every open machine of the person.
    All,
    /// One machine, as typed.
    Host(String),
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Asked for help.
    Help,
    /// An answer.
    Answer {
        /// The machines.
        target: Target,
        /// The answer.
        kind: AnswerKind,
        /// The date it names, if any.
        date: Option<NaiveDate>,
        /// Exception justification, or the real owner's login.
        detail: Option<String>,
    },
}

/// Why a line is not understood, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Nothing but blanks.
    #[error(
        "say which machine (or \"all\") and what will happen to it; type \"help\" for examples"
    )]
    Empty,
    /// No answer word found.
    #[error(
        "I did not find an answer in {0:?}: use upgrade, replace, decommission, esu, exception, keep, uninstall, remove or \"not mine\"; type \"help\" for examples"
    )]
    NoAnswer(String),
    /// Something that looks like a date but is not one.
    #[error("{0:?} is not a date; write it as YYYY-MM-DD")]
    BadDate(String),
}

fn answer_word(w: &str) -> Option<AnswerKind> {
    Some(match w {
        "upgrade" | "upgraded" | "upgrading" | "update" | "updated" => AnswerKind::Upgrade,
        "replace" | "replaced" | "replacing" => AnswerKind::Replace,
        "decommission" | "decommissioned" | "decommissioning" | "retire" | "retired" | "remove"
        | "removed" => AnswerKind::Decommission,
        "esu" => AnswerKind::Esu,
        "exception" => AnswerKind::Exception,
        "not_mine" | "notmine" => AnswerKind::NotMine,
        "keep" | "kept" | "keeping" | "needed" | "need" | "still" => AnswerKind::Keep,
        "uninstall" | "uninstalled" | "uninstalling" | "désinstaller" | "desinstaller" => {
            AnswerKind::Uninstall
        }
        _ => return None,
    })
}

/// Words around a "not mine" owner that are not the owner.
const FILLER: &[&str] = &[
    "it's", "its", "it", "is", "belongs", "to", "owner", "owned", "by", "ask", "the", "of",
    "that's", "thats", "from", "probably", "mine", "but", "user", "login",
];

fn parse_date(w: &str) -> Result<Option<NaiveDate>, ReplyError> {
    let looks =
        w.len() >= 8 && w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('-');
    if !looks {
        return Ok(None);
    }
    NaiveDate::parse_from_str(w, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ReplyError::BadDate(w.to_string()))
}

/// Parse one line.
pub fn parse(line: &str) -> Result<Reply, ReplyError> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches([',', ';', ':', '!', '?', '"', '\'', '(', ')']))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let Some(first) = words.first() else {
        return Err(ReplyError::Empty);
    };
    if matches!(
        first.to_lowercase().as_str(),
        "help" | "aide" | "?" | "!help"
    ) {
        return Ok(Reply::Help);
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    // Find the answer: "not mine" takes two words.
    let mut found: Option<(usize, usize, AnswerKind)> = None;
    for i in 0..lower.len() {
        let next = |k: usize| lower.get(i + k).map(String::as_str);
        if lower[i] == "not" && next(1) == Some("mine") {
            found = Some((i, 2, AnswerKind::NotMine));
            break;
        }
        // "no longer needed", "not needed": before "needed" alone means keep.
        if lower[i] == "no" && next(1) == Some("longer") {
            let len = if next(2).is_some_and(|w| w == "needed" || w == "used") {
                3
            } else {
                2
            };
            found = Some((i, len, AnswerKind::Remove));
            break;
        }
        if lower[i] == "not" && next(1) == Some("needed") {
            found = Some((i, 2, AnswerKind::Remove));
            break;
        }
        if let Some(k) = answer_word(&lower[i]) {
            found = Some((i, 1, k));
            break;
        }
    }
    let Some((at, len, kind)) = found else {
        return Err(ReplyError::NoAnswer(line.trim().to_string()));
    };
    // The target: the word before the answer, or (answer first) the one after.
    let (target_at, rest_from) = if at > 0 {
        (at - 1, at + len)
    } else if words.len() > len {
        (len, len + 1)
    } else {
        return Err(ReplyError::NoAnswer(line.trim().to_string()));
    };
    let target = match lower[target_at].as_str() {
        "all" | "tout" | "toutes" | "tous" | "everything" => Target::All,
        _ => Target::Host(words[target_at].clone()),
    };
    let rest = &words[rest_from.min(words.len())..];
    let mut date = None;
    let mut left: Vec<&str> = Vec::new();
    let mut because: Option<usize> = None;
    for w in rest {
        if let Some(d) = parse_date(w)? {
            date = Some(d);
            continue;
        }
        let l = w.to_lowercase();
        if matches!(l.as_str(), "by" | "until" | "before" | "on")
            && date.is_none()
            && because.is_none()
        {
            continue;
        }
        if because.is_none() && matches!(l.as_str(), "because" | "reason" | "why") {
            because = Some(left.len());
            continue;
        }
        left.push(w);
    }
    let detail = match kind {
        AnswerKind::Exception => {
            let from = because.unwrap_or(0);
            let text = left[from.min(left.len())..].join(" ");
            (!text.is_empty()).then_some(text)
        }
        AnswerKind::NotMine => left
            .iter()
            .rev()
            .find(|w| !FILLER.contains(&w.to_lowercase().as_str()))
            .map(|w| w.to_string()),
        _ => None,
    };
    Ok(Reply::Answer {
        target,
        kind,
        date,
        detail,
    })
}

/// The help text, listing every answer with an example.
pub fn help(example: &str) -> String {
    format!(
        "Answer one line per machine (or \"all\" for every machine I asked you about):\n\
         - {example} upgrade by 2027-03-01: it will run a supported version by then\n\
         - {example} replace: it will be replaced\n\
         - {example} decommission: it will be taken out of service\n\
         - {example} esu until 2026-10-13: covered by paid extended security updates\n\
         - {example} exception until 2027-06-30 because <why>: ask the IT team for an exception\n\
         - {example} not mine asmith: it belongs to someone else (their login)\n\
         For a licensed program (a licence campaign):\n\
         - {example} keep: you still need it there\n\
         - {example} uninstall by 2026-12-15: you will uninstall it yourself by then\n\
         - {example} remove: no longer needed, the IT team may remove it\n\
         A later answer replaces an earlier one."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<NaiveDate> {
        s.parse().ok()
    }

    fn answer(target: Target, kind: AnswerKind, date: &str, detail: Option<&str>) -> Reply {
        Reply::Answer {
            target,
            kind,
            date: d(date),
            detail: detail.map(str::to_string),
        }
    }

    fn host(h: &str) -> Target {
        Target::Host(h.into())
    }

    #[test]
    fn the_examples_of_the_digest_parse_as_a_person_means_them() {
        assert_eq!(
            parse("PC042 upgrade by 2027-03-01"),
            Ok(answer(
                host("PC042"),
                AnswerKind::Upgrade,
                "2027-03-01",
                None
            ))
        );
        assert_eq!(
            parse("all decommission"),
            Ok(answer(Target::All, AnswerKind::Decommission, "", None))
        );
        assert_eq!(
            parse("PCX not mine, it's asmith"),
            Ok(answer(host("PCX"), AnswerKind::NotMine, "", Some("asmith")))
        );
        assert_eq!(
            parse("LAB-7 exception until 2027-06-30 because the vendor supports only this"),
            Ok(answer(
                host("LAB-7"),
                AnswerKind::Exception,
                "2027-06-30",
                Some("the vendor supports only this")
            ))
        );
        assert_eq!(
            parse("srv-3 ESU until 2026-10-13."),
            Ok(answer(host("srv-3"), AnswerKind::Esu, "2026-10-13", None))
        );
        assert_eq!(parse("  Help "), Ok(Reply::Help));
    }

    #[test]
    fn licence_answers_parse_including_no_longer_needed() {
        assert_eq!(
            parse("PC042 keep"),
            Ok(answer(host("PC042"), AnswerKind::Keep, "", None))
        );
        assert_eq!(
            parse("PC042 still needed"),
            Ok(answer(host("PC042"), AnswerKind::Keep, "", None))
        );
        assert_eq!(
            parse("PC042 uninstall by 2026-12-15"),
            Ok(answer(
                host("PC042"),
                AnswerKind::Uninstall,
                "2026-12-15",
                None
            ))
        );
        assert_eq!(
            parse("all no longer needed"),
            Ok(answer(Target::All, AnswerKind::Remove, "", None))
        );
        assert_eq!(
            parse("PC7 not needed"),
            Ok(answer(host("PC7"), AnswerKind::Remove, "", None))
        );
        // "remove" is the machine's decommissioning until the engine knows
        // the campaign (AnswerKind::among).
        assert_eq!(
            parse("PC7 remove"),
            Ok(answer(host("PC7"), AnswerKind::Decommission, "", None))
        );
    }

    #[test]
    fn the_answer_may_come_first_and_a_justification_needs_no_keyword() {
        assert_eq!(
            parse("upgrade PC042 by 2027-03-01"),
            Ok(answer(
                host("PC042"),
                AnswerKind::Upgrade,
                "2027-03-01",
                None
            ))
        );
        assert_eq!(
            parse("PC9 exception 2027-01-31 lab instrument driver"),
            Ok(answer(
                host("PC9"),
                AnswerKind::Exception,
                "2027-01-31",
                Some("lab instrument driver")
            ))
        );
    }

    #[test]
    fn lines_without_an_answer_or_with_a_bad_date_say_what_is_wrong() {
        assert_eq!(parse("   "), Err(ReplyError::Empty));
        assert!(matches!(
            parse("PC042 maybe later"),
            Err(ReplyError::NoAnswer(_))
        ));
        assert!(matches!(parse("upgrade"), Err(ReplyError::NoAnswer(_))));
        assert_eq!(
            parse("PC042 upgrade by 2027-02-30"),
            Err(ReplyError::BadDate("2027-02-30".into()))
        );
    }

    #[test]
    fn fragments_and_odd_characters_are_refused_not_misread() {
        for line in [
            "not",
            "not mine",
            "all",
            "by by by",
            "\u{0}",
            "é ß 中",
            "- - -",
        ] {
            assert!(
                matches!(parse(line), Err(ReplyError::NoAnswer(_))),
                "{line:?} -> {:?}",
                parse(line)
            );
        }
    }
}
