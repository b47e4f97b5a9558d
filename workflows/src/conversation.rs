//! The conversation every chat channel holds with a person, whatever the
//! chat: each line of what they wrote is an answer in the reply grammar
//! ([`reply`]) or a command ([`commands`]); answers are recorded, commands
//! run under the person's rights and audited. The channel renders the parts
//! its own way (plain text and HTML in Matrix, Markdown in Mattermost).

use crate::answer::Answer;
use crate::engine::{ChatError, Engine, EngineError, LinkError};
use crate::render::answer_label;
use crate::{commands, reply};
use chrono::{DateTime, Utc};
use winventory_core::User;

/// A part of the bot's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A sentence.
    Text(String),
    /// A command's output (a title and maybe a table).
    Output(commands::Output),
}

const NOT_IN_DIRECTORY: &str = "Sorry, I only talk with people in our user directory. If you think you should be in it, ask the IT team.";
const OUR_FAULT: &str = "Something went wrong on my side; please try again in a few minutes.";

/// What the bot says to `actor` (as known on `channel`, looked up in the
/// directory as `user`) about `body`.
pub async fn conversation(
    e: &Engine,
    now: DateTime<Utc>,
    role_mapping: &[(winventory_core::access::Role, Vec<String>)],
    channel: &str,
    actor: &str,
    user: Result<Option<User>, EngineError>,
    body: &str,
) -> Vec<Part> {
    let user = match user {
        Ok(Some(u)) => u,
        Ok(None) => {
            let entry = winventory_core::store::AuditEntry {
                at: now,
                channel: channel.into(),
                actor: actor.chars().take(200).collect(),
                role: "stranger".into(),
                action: "message".into(),
                target: String::new(),
                command: body.chars().take(500).collect(),
                outcome: "refused: not in the user directory".into(),
                origin: actor.chars().take(200).collect(),
            };
            if let Err(err) = e.store.audit(&entry).await {
                tracing::error!(error = %err, "cannot write the audit log");
            }
            return vec![Part::Text(NOT_IN_DIRECTORY.into())];
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot read the user directory");
            return vec![Part::Text(OUR_FAULT.into())];
        }
    };
    let groups = match e.store.groups_of(&user.login).await {
        Ok(groups) => groups,
        Err(err) => {
            tracing::error!(error = %err, "cannot read the groups");
            Vec::new()
        }
    };
    let caller = commands::Caller {
        login: user.login.clone(),
        roles: winventory_core::access::roles_from_groups(
            role_mapping,
            groups.iter().map(String::as_str),
        ),
    };
    let mut parts = Vec::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // A line that starts with a command word is that command, even when
        // a later word reads as an answer (`campaign pause retire`).
        if starts_with_command_word(line)
            && let Ok(cmd) = commands::parse(line)
        {
            let out = e
                .run_command(&caller, channel, actor, line, &cmd, now)
                .await;
            parts.push(Part::Output(out));
            continue;
        }
        let parsed = reply::parse(line);
        let said = match parsed.clone() {
            Ok(reply::Reply::Answer {
                target,
                kind,
                date,
                detail,
            }) => {
                let answer = Answer {
                    kind,
                    date,
                    detail,
                    comment: None,
                };
                answer_reply(e, now, channel, &user, &target, answer, line).await
            }
            // Not an answer: a command, then.
            Ok(reply::Reply::Help)
            | Err(reply::ReplyError::NoAnswer(_) | reply::ReplyError::Empty) => {
                match commands::parse(line) {
                    Ok(cmd) => {
                        let out = e
                            .run_command(&caller, channel, actor, line, &cmd, now)
                            .await;
                        parts.push(Part::Output(out));
                        continue;
                    }
                    // Neither an answer nor a command: the answer's words help more.
                    Err(commands::CommandError::Unknown(_)) => match parsed {
                        Err(err) => format!("{line}: {err}."),
                        Ok(_) => commands::help(
                            caller.may(winventory_core::access::Permission::ReadFleet),
                        ),
                    },
                    Err(err) => format!("{line}: {err}."),
                }
            }
            Err(err) => format!("{line}: {err}."),
        };
        parts.push(Part::Text(said));
    }
    if parts.is_empty() {
        parts.push(Part::Text(commands::help(
            caller.may(winventory_core::access::Permission::ReadFleet),
        )));
    }
    parts
}

/// Whether the line's first word names a command (never a machine: an
/// answer starts with a host name or `all`).
fn starts_with_command_word(line: &str) -> bool {
    let first = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    matches!(
        first.as_str(),
        "campaign"
            | "campaigns"
            | "eol"
            | "licence"
            | "license"
            | "stats"
            | "owner"
            | "help"
            | "aide"
    )
}

/// Record an answer from chat and say what happened (and what is still open).
pub async fn answer_reply(
    e: &Engine,
    now: DateTime<Utc>,
    channel: &str,
    user: &User,
    target: &reply::Target,
    answer: Answer,
    line: &str,
) -> String {
    let (kind, date) = (answer.kind, answer.date);
    let done = e
        .answer_chat(&user.login, channel, target, answer, now)
        .await;
    said(user, kind, date, line, done)
}

/// What the bot says about a chat answer (`line`: what was typed or voted)
/// once tried: what was recorded and what is still open, or why not.
pub fn said(
    user: &User,
    kind: crate::answer::AnswerKind,
    date: Option<chrono::NaiveDate>,
    line: &str,
    done: Result<crate::engine::ChatAnswer, ChatError>,
) -> String {
    let lang = crate::render::language(user.language.as_deref().unwrap_or("en"));
    match done {
        Ok(done) => {
            let mut said = format!(
                "Recorded for {}: {}{}.",
                done.recorded.join(", "),
                answer_label(done.kind.unwrap_or(kind), lang).to_lowercase(),
                date.map(|d| format!(" ({d})")).unwrap_or_default()
            );
            if done.still_open.is_empty() {
                said.push_str(" Nothing else is waiting for your answer. Thank you!");
            } else {
                said.push_str(&format!(
                    " Still waiting for your answer: {}.",
                    done.still_open.join(", ")
                ));
            }
            said
        }
        Err(err @ (ChatError::Engine(_) | ChatError::Answer(LinkError::Store(_)))) => {
            tracing::error!(error = %err, "recording a chat answer failed");
            format!("{line}: something went wrong on my side; please try again in a few minutes.")
        }
        Err(err) => format!("{line}: {err}."),
    }
}

/// Text as HTML: escaped by minijinja (as the templates are), lines kept.
fn escape_html(s: &str) -> String {
    minijinja::HtmlEscape(s).to_string().replace('\n', "<br>")
}

/// The parts as plain text (Matrix's `body`, the text of a notification).
pub fn plain(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Output(o) => o.plain(),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// HTML (Matrix's formatted body).
pub fn html(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => format!("<p>{}</p>", escape_html(t)),
            Part::Output(o) => o.html(),
        })
        .collect()
}

/// Markdown (Mattermost): sentences as they are, tables as Markdown tables.
pub fn markdown(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Output(o) => o.markdown(),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
