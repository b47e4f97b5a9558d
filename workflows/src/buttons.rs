//! Buttons for chats that have them (Mattermost). When a digest for such a
//! chat is queued, the engine lists, per campaign, each machine with the
//! answers it offers, and the answers offered for all of them at once, each
//! with a signed answer token ([`crate::token`]). The list is stored in the
//! outbox as JSON beside the text, and the channel turns it into message
//! attachments. What comes back from a click is outside input: the context
//! and dialog-state parsers here are strict, bounded and fuzzed, and a token
//! is always verified before anything is recorded.

use serde::{Deserialize, Serialize};

use crate::answer::AnswerKind;

/// Machines shown with a row of buttons each; past this, a campaign's
/// machines are offered in one drop-down per answer instead.
pub const MAX_MACHINE_ROWS: usize = 10;

/// The buttons of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buttons {
    /// One per campaign in the digest.
    pub sections: Vec<Section>,
}

/// One campaign's part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Campaign id.
    pub campaign: i64,
    /// Who is asked (login or `group:NAME`).
    pub recipient: String,
    /// The campaign's title, in the reader's language.
    pub title: String,
    /// Its machines.
    pub machines: Vec<MachineButtons>,
    /// Answers for every machine of the section at once (tokens without a
    /// machine); with many machines, a drop-down per answer narrows one of
    /// them to a single machine.
    pub all: Vec<Button>,
}

/// One machine and its buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineButtons {
    /// Machine id.
    pub machine_id: i64,
    /// Host name as shown.
    pub host: String,
    /// What it runs or has installed, with the relevant date.
    pub summary: String,
    /// One per answer offered.
    pub buttons: Vec<Button>,
}

/// One answer button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// The answer kind (`AnswerKind::as_str`).
    pub answer: String,
    /// The label in the person's language.
    pub label: String,
    /// The signed answer token.
    pub token: String,
    /// Whether the answer needs fields (a date, a justification, an owner),
    /// asked for in a dialog.
    pub fields: bool,
}

impl Buttons {
    /// Parse the stored JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The stored JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Whether an answer's button opens a dialog for the fields it needs.
pub fn needs_fields(kind: AnswerKind) -> bool {
    kind.needs_date() || kind.needs_detail()
}

/// Longest token, context or state accepted from a click (ours are about
/// 200 characters).
pub const MAX_TOKEN_LEN: usize = 1024;

/// What a click or a dialog submission carries back: the signed token, and
/// for a drop-down the machine chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The signed answer token.
    pub token: String,
    /// The machine chosen in a drop-down (narrows an all-machines token).
    pub machine: Option<i64>,
}

/// Why a click's context or a dialog's state is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// No token where one must be.
    #[error("the request carries no answer token")]
    Missing,
    /// Not the shape we send.
    #[error("the request's {0} is malformed")]
    Malformed(&'static str),
}

fn token_text(v: Option<&serde_json::Value>) -> Result<String, PickError> {
    match v {
        None | Some(serde_json::Value::Null) => Err(PickError::Missing),
        Some(serde_json::Value::String(t)) if t.is_empty() => Err(PickError::Missing),
        Some(serde_json::Value::String(t))
            if t.len() <= MAX_TOKEN_LEN
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            Ok(t.clone())
        }
        Some(_) => Err(PickError::Malformed("token")),
    }
}

fn machine_id(text: &str) -> Result<i64, PickError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PickError::Malformed("selected option"));
    }
    text.parse()
        .map_err(|_| PickError::Malformed("selected option"))
}

/// Read an action's `context` (`{"token": ..}`, and `selected_option`,
/// which Mattermost adds for a drop-down).
pub fn parse_context(context: &serde_json::Value) -> Result<Pick, PickError> {
    let obj = match context {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => return Err(PickError::Missing),
        _ => return Err(PickError::Malformed("context")),
    };
    let token = token_text(obj.get("token"))?;
    let machine = match obj.get("selected_option") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(machine_id(s)?),
        Some(_) => return Err(PickError::Malformed("selected option")),
    };
    Ok(Pick { token, machine })
}

/// A dialog's `state`: the token, the machine a drop-down chose and the
/// post the click came from (`TOKEN;MACHINE;POST`, the last two may be
/// empty), so the submission can record the answer and update the post.
pub fn dialog_state(pick: &Pick, post: Option<&str>) -> String {
    format!(
        "{};{};{}",
        pick.token,
        pick.machine.map(|m| m.to_string()).unwrap_or_default(),
        post.unwrap_or_default()
    )
}

/// Read a dialog's `state` back (see [`dialog_state`]).
pub fn parse_state(state: &str) -> Result<(Pick, Option<String>), PickError> {
    if state.len() > MAX_TOKEN_LEN + 64 {
        return Err(PickError::Malformed("state"));
    }
    let mut parts = state.split(';');
    let (Some(token), Some(machine), Some(post), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PickError::Malformed("state"));
    };
    let machine = match machine {
        "" => None,
        m => Some(machine_id(m)?),
    };
    let post = match post {
        "" => None,
        p if p.len() <= 64 && p.bytes().all(|b| b.is_ascii_alphanumeric()) => Some(p.to_string()),
        _ => return Err(PickError::Malformed("state")),
    };
    Ok((
        Pick {
            token: token_text(Some(&serde_json::Value::String(token.to_string())))?,
            machine,
        },
        post,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_context_gives_its_token_and_the_machine_a_drop_down_chose() {
        let p = parse_context(&json!({"token": "k1.abc-_", "selected_option": "42"}));
        assert_eq!(
            p,
            Ok(Pick {
                token: "k1.abc-_".into(),
                machine: Some(42)
            })
        );
        assert_eq!(
            parse_context(&json!({"token": "k1.abc"})).map(|p| p.machine),
            Ok(None)
        );
    }

    #[test]
    fn contexts_without_a_proper_token_or_machine_are_refused() {
        assert_eq!(parse_context(&json!({})), Err(PickError::Missing));
        assert_eq!(parse_context(&json!(null)), Err(PickError::Missing));
        assert_eq!(
            parse_context(&json!({"token": ""})),
            Err(PickError::Missing)
        );
        assert_eq!(
            parse_context(&json!({"token": 7})),
            Err(PickError::Malformed("token"))
        );
        assert_eq!(
            parse_context(&json!({"token": "a b"})),
            Err(PickError::Malformed("token"))
        );
        assert_eq!(
            parse_context(&json!({"token": "x".repeat(MAX_TOKEN_LEN + 1)})),
            Err(PickError::Malformed("token"))
        );
        for bad in [
            json!("-1"),
            json!("1e3"),
            json!(""),
            json!(5),
            json!("99999999999999999999"),
        ] {
            assert_eq!(
                parse_context(&json!({"token": "t", "selected_option": bad})),
                Err(PickError::Malformed("selected option"))
            );
        }
        assert_eq!(
            parse_context(&json!([1])),
            Err(PickError::Malformed("context"))
        );
    }

    #[test]
    fn a_dialog_state_round_trips() {
        for (pick, post) in [
            (
                Pick {
                    token: "k1.abc".into(),
                    machine: Some(7),
                },
                Some("p0st1d".to_string()),
            ),
            (
                Pick {
                    token: "k1.abc".into(),
                    machine: None,
                },
                None,
            ),
        ] {
            assert_eq!(
                parse_state(&dialog_state(&pick, post.as_deref())),
                Ok((pick, post))
            );
        }
        for bad in [
            "k1.abc;x;",
            "",
            ";;",
            "k1.abc;1",
            "k1.abc;1;p;q",
            "k1.abc;;p-1",
        ] {
            assert!(parse_state(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn buttons_survive_the_outbox_as_json() {
        let b = Buttons {
            sections: vec![Section {
                campaign: 1,
                recipient: "asmith".into(),
                title: "T".into(),
                machines: vec![MachineButtons {
                    machine_id: 3,
                    host: "SRV-A1".into(),
                    summary: "2012-r2".into(),
                    buttons: vec![Button {
                        answer: "upgrade".into(),
                        label: "Will upgrade".into(),
                        token: "t".into(),
                        fields: true,
                    }],
                }],
                all: Vec::new(),
            }],
        };
        assert_eq!(Buttons::from_json(&b.to_json()).ok(), Some(b));
    }
}
