//! What Mattermost calls on the HTTP edge: button and drop-down clicks
//! (`POST /mattermost/actions`), dialog submissions (`POST
//! /mattermost/dialog`) and the `/winv` slash command (`POST
//! /mattermost/command`).
//!
//! A click or a submission is trusted only through its signed token: one
//! that is missing, malformed, forged or expired gets 401 and changes
//! nothing; a valid one for a closed campaign gets 200 with a polite
//! ephemeral answer and changes nothing; a click by someone other than the
//! person the buttons were sent to records nothing, nor does a dialog
//! submitted by anyone else (looked up by id; an id Mattermost does not know
//! is anyone else). Answers that need
//! fields open a dialog from inside the click's handler (its `trigger_id`
//! lives seconds), and the submission is checked field by field. The slash
//! command's token is compared in constant time; a wrong one gets 401, a
//! body over the limit 413 (as for clicks and dialogs), whatever it carries.
//! Answers never carry a stack trace, a token or whether a user exists.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use winventory_core::store::{CampaignMachine, PostedMessage};
use winventory_workflows::answer::{Answer, AnswerError, AnswerKind, date_field};
use winventory_workflows::buttons::{
    Buttons, Pick, dialog_state, needs_fields, parse_context, parse_state,
};
use winventory_workflows::engine::{LinkError, LinkView};
use winventory_workflows::render::{answer_label, date_label, language};

use crate::channels::mattermost::client::{Dialog, DialogElement, Post};
use crate::channels::mattermost::{
    Answered, DIALOG_PATH, digest_props, directory_user, same_username, username,
};
use crate::http::AppState;

/// The integration request of a click (`PostActionIntegrationRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionRequest {
    /// Who clicked.
    pub user_id: String,
    /// Their username.
    pub user_name: String,
    /// The channel of the post.
    pub channel_id: String,
    /// The post.
    pub post_id: String,
    /// For opening a dialog, valid seconds.
    pub trigger_id: String,
    /// `button` or `select`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The action's context, with `selected_option` for a drop-down.
    pub context: serde_json::Value,
}

/// A dialog submission (`SubmitDialogRequest`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DialogSubmission {
    /// `dialog_submission`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Ours.
    pub callback_id: String,
    /// Ours: see [`dialog_state`].
    pub state: String,
    /// Who submitted.
    pub user_id: String,
    /// Where.
    pub channel_id: String,
    /// The fields.
    pub submission: serde_json::Map<String, serde_json::Value>,
    /// Whether the dialog was cancelled.
    pub cancelled: bool,
}

/// A slash command request (form-encoded).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SlashRequest {
    /// The command's token.
    pub token: String,
    /// Who typed it.
    pub user_id: String,
    /// Their username.
    pub user_name: String,
    /// What follows `/winv`.
    pub text: String,
    /// `/winv`.
    pub command: String,
    /// Where.
    pub channel_id: String,
}

const NOT_VALID: &str = "This button is not valid (it may have expired or been altered); nothing was recorded. Use the latest message.";
const CLOSED: &str = "Thank you, but this campaign is closed: no answer is needed any more.";
const NOTHING: &str =
    "Nothing is left to answer here: these machines are dealt with or were handed to someone else.";
const NOT_YOURS: &str =
    "These buttons were sent to someone else; nothing was recorded. Your own messages have yours.";
const OUR_FAULT: &str =
    "Something went wrong on my side; nothing was recorded. Please try again in a few minutes.";

/// An action's answer that replaces the post (`PostActionIntegrationResponse`).
#[derive(serde::Serialize)]
struct ActionUpdate<'a> {
    update: &'a Post,
    ephemeral_text: &'a str,
}

fn ephemeral(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "ephemeral_text": text }))).into_response()
}

/// 401 for anything without a valid token, 200 with a polite note for a
/// closed campaign or nothing left, 503 when storage failed.
fn refused(e: &LinkError) -> Response {
    match e {
        LinkError::Token(_) => ephemeral(StatusCode::UNAUTHORIZED, NOT_VALID),
        LinkError::Closed => ephemeral(StatusCode::OK, CLOSED),
        LinkError::Nothing => ephemeral(StatusCode::OK, NOTHING),
        LinkError::Answer(a) => ephemeral(StatusCode::OK, &format!("Not recorded: {a}.")),
        LinkError::Store(err) => {
            tracing::error!(error = %err, "mattermost click: database error");
            ephemeral(StatusCode::SERVICE_UNAVAILABLE, OUR_FAULT)
        }
    }
}

/// Whether `user_name` is the Mattermost account of the person `view`'s
/// token was sent to.
fn is_person(view: &LinkView, user_name: &str) -> bool {
    view.mattermost_username
        .as_deref()
        .is_some_and(|name| same_username(name, user_name))
}

/// The message of the post a click came from, when it is a digest of ours
/// sent to `person`.
async fn clicked_row(s: &AppState, post_id: &str, person: &str) -> Option<PostedMessage> {
    match s.engine.store.posted_message("mattermost", post_id).await {
        Ok(Some(row)) if row.recipient == person && row.buttons.is_some() => Some(row),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the clicked post's message");
            None
        }
    }
}

/// The machines of one section of a digest as they are now, when the
/// caller already has them: (campaign, recipient, machines).
type Known<'a> = Option<(i64, &'a str, &'a [CampaignMachine])>;

/// The post `row` was sent as, with the answers recorded since in place of
/// their buttons. The sections `known` covers are not read again.
async fn rebuilt_post(
    s: &AppState,
    row: &PostedMessage,
    post_id: &str,
    channel_id: &str,
    lang: &str,
    known: Known<'_>,
) -> Option<Post> {
    let buttons = Buttons::from_json(row.buttons.as_deref()?).ok()?;
    let mut answered = HashMap::new();
    for section in &buttons.sections {
        let read;
        let machines = match known {
            Some((campaign, recipient, machines))
                if campaign == section.campaign && recipient == section.recipient =>
            {
                machines
            }
            _ => {
                read = match s
                    .engine
                    .store
                    .campaign_machines_of(section.campaign, &section.recipient)
                    .await
                {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the answers for the clicked post");
                        return None;
                    }
                };
                &read
            }
        };
        for m in machines {
            if m.state == "open" {
                continue;
            }
            let label = match m.answer.as_deref().and_then(AnswerKind::parse) {
                Some(k) => answer_label(k, lang).to_string(),
                None => m.resolution.clone().unwrap_or_else(|| "dealt with".into()),
            };
            answered.insert(
                (section.campaign, m.machine_id),
                Answered {
                    label,
                    date: m.answer_date.map(|d| d.to_string()),
                },
            );
        }
    }
    let base = s.app.settings.base_url.trim_end_matches('/');
    Some(Post {
        id: post_id.to_string(),
        channel_id: channel_id.to_string(),
        message: row.body_text.clone(),
        props: digest_props(&row.idem_key, &buttons, base, &answered),
        ..Post::default()
    })
}

fn recorded_text(view: &LinkView, date: Option<NaiveDate>) -> String {
    let lang = language(&view.language);
    format!(
        "Recorded for {}: {}{}. Thank you!",
        view.machines.join(", "),
        answer_label(view.claims.answer, lang).to_lowercase(),
        date.map(|d| format!(" ({d})")).unwrap_or_default()
    )
}

/// `POST /mattermost/actions`: a click on a digest's button or drop-down.
/// Three statements on the way: the token's view (one read), then the
/// answer (one statement) beside the read of the clicked post's message.
pub async fn action(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<ActionRequest>(&body) else {
        return ephemeral(StatusCode::UNAUTHORIZED, NOT_VALID);
    };
    let Ok(pick) = parse_context(&req.context) else {
        return ephemeral(StatusCode::UNAUTHORIZED, NOT_VALID);
    };
    let now = s.app.clock.now();
    let picked = match s.engine.open_pick(&pick.token, pick.machine, now).await {
        Ok(picked) => picked,
        Err(e) => return refused(&e),
    };
    let view = &picked.view;
    if !is_person(view, &req.user_name) {
        return ephemeral(StatusCode::OK, NOT_YOURS);
    }
    let kind = view.claims.answer;
    if needs_fields(kind) {
        return open_dialog(&s, &req, &pick, view).await;
    }
    let fields = Answer {
        kind,
        date: None,
        detail: None,
        comment: None,
    };
    let (recorded, row) = tokio::join!(
        s.engine.record_picked(&picked, fields, "mattermost", now),
        clicked_row(&s, &req.post_id, &view.claims.person),
    );
    let done = match recorded {
        Ok(done) => done,
        Err(e) => return refused(&e),
    };
    let text = recorded_text(view, None);
    let known = Some((
        view.claims.campaign,
        view.claims.recipient.as_str(),
        done.all.as_slice(),
    ));
    let lang = language(&view.language);
    let update = match &row {
        Some(row) => rebuilt_post(&s, row, &req.post_id, &req.channel_id, lang, known).await,
        None => None,
    };
    match update {
        Some(update) => (
            StatusCode::OK,
            // Typed, not `json!`: the post is serialized as it is, not
            // first copied into a tree of JSON values.
            Json(ActionUpdate {
                update: &update,
                ephemeral_text: &text,
            }),
        )
            .into_response(),
        None => ephemeral(StatusCode::OK, &text),
    }
}

/// The dialog asking for what `view`'s answer needs.
pub fn answer_dialog(view: &LinkView, state: String) -> Dialog {
    let kind = view.claims.answer;
    let lang = language(&view.language);
    let mut elements = Vec::new();
    if kind.needs_date() {
        elements.push(DialogElement {
            display_name: date_label(kind, lang).to_string(),
            name: "date".into(),
            kind: "text".into(),
            placeholder: "YYYY-MM-DD".into(),
            help_text: "A date, for example 2027-03-31.".into(),
            optional: false,
            max_length: Some(10),
        });
    }
    match kind {
        AnswerKind::Exception => elements.push(DialogElement {
            display_name: "Why is an exception needed?".into(),
            name: "detail".into(),
            kind: "textarea".into(),
            max_length: Some(winventory_workflows::answer::MAX_TEXT),
            ..DialogElement::default()
        }),
        AnswerKind::NotMine => elements.push(DialogElement {
            display_name: "Whose is it? (their login)".into(),
            name: "detail".into(),
            kind: "text".into(),
            placeholder: "asmith".into(),
            max_length: Some(100),
            ..DialogElement::default()
        }),
        _ => {}
    }
    elements.push(DialogElement {
        display_name: "Comment".into(),
        name: "comment".into(),
        kind: "textarea".into(),
        optional: true,
        max_length: Some(winventory_workflows::answer::MAX_TEXT),
        ..DialogElement::default()
    });
    Dialog {
        callback_id: "answer".into(),
        // Mattermost refuses titles over 24 bytes.
        title: answer_label(kind, lang)
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= 24)
            .map(|(_, c)| c)
            .collect(),
        introduction_text: format!("{}: {}", view.campaign, view.machines.join(", ")),
        elements,
        submit_label: "Record".into(),
        state,
    }
}

async fn open_dialog(s: &AppState, req: &ActionRequest, pick: &Pick, view: &LinkView) -> Response {
    let Some(mm) = &s.mattermost else {
        return ephemeral(
            StatusCode::OK,
            "This answer needs a few words; reply to me in a message (type help for examples).",
        );
    };
    let post = (!req.post_id.is_empty()
        && req.post_id.len() <= 64
        && req.post_id.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(req.post_id.as_str());
    let dialog = answer_dialog(view, dialog_state(pick, post));
    let url = format!(
        "{}{DIALOG_PATH}",
        s.app.settings.base_url.trim_end_matches('/')
    );
    match mm.client.open_dialog(&req.trigger_id, &url, &dialog).await {
        Ok(()) => (StatusCode::OK, Json(json!({}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a Mattermost dialog");
            ephemeral(
                StatusCode::OK,
                "I could not open the form; reply to me in a message instead (type help for examples).",
            )
        }
    }
}

fn field_of(e: &AnswerError) -> &'static str {
    match e {
        AnswerError::DateMissing
        | AnswerError::NotADate(_)
        | AnswerError::DateInPast(_)
        | AnswerError::EsuNotOffered
        | AnswerError::EsuBeyondEnd(_) => "date",
        AnswerError::TooLong(_)
        | AnswerError::ControlCharacter
        | AnswerError::JustificationMissing
        | AnswerError::OwnerMissing
        | AnswerError::UnknownOwner(_)
        | AnswerError::OwnerIsSelf => "detail",
    }
}

fn dialog_error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

/// `POST /mattermost/dialog`: the fields of an answer.
pub async fn dialog(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(sub) = serde_json::from_slice::<DialogSubmission>(&body) else {
        return dialog_error(StatusCode::UNAUTHORIZED, NOT_VALID);
    };
    let Ok((pick, post)) = parse_state(&sub.state) else {
        return dialog_error(StatusCode::UNAUTHORIZED, NOT_VALID);
    };
    let now = s.app.clock.now();
    let view = match s.engine.open_pick(&pick.token, pick.machine, now).await {
        Ok(picked) => picked.view,
        Err(LinkError::Token(_)) => return dialog_error(StatusCode::UNAUTHORIZED, NOT_VALID),
        Err(LinkError::Store(e)) => {
            tracing::error!(error = %e, "mattermost dialog: database error");
            return dialog_error(StatusCode::SERVICE_UNAVAILABLE, OUR_FAULT);
        }
        Err(e) => return dialog_error(StatusCode::OK, &e.to_string()),
    };
    if sub.cancelled {
        return (StatusCode::OK, Json(json!({}))).into_response();
    }
    // Mattermost names the submitter by id: only the person the buttons
    // were sent to may answer through them (as for clicks).
    let Some(mm) = &s.mattermost else {
        return dialog_error(
            StatusCode::NOT_FOUND,
            "Mattermost is not set up on this server.",
        );
    };
    match mm.client.user(&sub.user_id).await {
        Ok(u) if is_person(&view, &u.username) => {}
        Ok(_) => return dialog_error(StatusCode::OK, NOT_YOURS),
        // An id Mattermost does not know (404) or refuses (400) is not the
        // person's either: the same polite answer, not an outage.
        Err(crate::channels::mattermost::client::ApiError::Status {
            status: 400 | 404, ..
        }) => return dialog_error(StatusCode::OK, NOT_YOURS),
        Err(e) => {
            tracing::warn!(error = %e, "mattermost dialog: cannot look up the submitter");
            return dialog_error(StatusCode::SERVICE_UNAVAILABLE, OUR_FAULT);
        }
    }
    let mut errors = serde_json::Map::new();
    let text = |name: &str, errors: &mut serde_json::Map<String, serde_json::Value>| match sub
        .submission
        .get(name)
    {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(t)) => Some(t.clone()),
        Some(_) => {
            errors.insert(name.into(), json!("must be text"));
            None
        }
    };
    let date_text = text("date", &mut errors);
    let detail = text("detail", &mut errors);
    let comment = text("comment", &mut errors);
    let date = date_field(date_text.as_deref()).unwrap_or_else(|e| {
        errors.insert(field_of(&e).into(), json!(e.to_string()));
        None
    });
    if !errors.is_empty() {
        return (StatusCode::OK, Json(json!({ "errors": errors }))).into_response();
    }
    let fields = Answer {
        kind: view.claims.answer,
        date,
        detail,
        comment,
    };
    match s
        .engine
        .answer_pick(&pick.token, pick.machine, fields, "mattermost", now)
        .await
    {
        Ok((view, done)) => {
            if let Some(post) = post {
                let lang = language(&view.language);
                let known = Some((
                    view.claims.campaign,
                    view.claims.recipient.as_str(),
                    done.all.as_slice(),
                ));
                let update = match clicked_row(&s, &post, &view.claims.person).await {
                    Some(row) => rebuilt_post(&s, &row, &post, &sub.channel_id, lang, known).await,
                    None => None,
                };
                if let Some(update) = update
                    && let Err(e) = mm.client.update_post(&update).await
                {
                    tracing::warn!(error = %e, "cannot update the answered post");
                }
            }
            (StatusCode::OK, Json(json!({}))).into_response()
        }
        Err(LinkError::Answer(e)) => {
            let mut errors = serde_json::Map::new();
            errors.insert(field_of(&e).into(), json!(e.to_string()));
            (StatusCode::OK, Json(json!({ "errors": errors }))).into_response()
        }
        Err(LinkError::Token(_)) => dialog_error(StatusCode::UNAUTHORIZED, NOT_VALID),
        Err(LinkError::Store(e)) => {
            tracing::error!(error = %e, "mattermost dialog: database error");
            dialog_error(StatusCode::SERVICE_UNAVAILABLE, OUR_FAULT)
        }
        Err(e) => dialog_error(StatusCode::OK, &e.to_string()),
    }
}

fn slash_reply(status: StatusCode, text: &str) -> Response {
    (
        status,
        Json(json!({ "response_type": "ephemeral", "text": text })),
    )
        .into_response()
}

/// `POST /mattermost/command`: `/winv ...`, answered to the caller alone.
pub async fn command(
    State(s): State<Arc<AppState>>,
    form: Result<axum::extract::Form<SlashRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(expected) = &s.app.settings.mattermost_command_token else {
        return slash_reply(
            StatusCode::NOT_FOUND,
            "The /winv command is off: set WINVENTORY_MATTERMOST_COMMAND_TOKEN on the server.",
        );
    };
    // A body the form extractor refused keeps the status it was refused
    // with (413 over the body limit, 415 not a form...), before any token
    // check: a body cut at the limit lost its token, it did not carry a
    // wrong one.
    let req = match form {
        Ok(f) => f.0,
        Err(rejection) => {
            let status = rejection.status();
            let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "This command is too long."
            } else {
                "This command's request is malformed."
            };
            return slash_reply(status, text);
        }
    };
    if !super::token_matches(&req.token, expected) {
        return slash_reply(
            StatusCode::UNAUTHORIZED,
            "This command's token is not valid.",
        );
    }
    let name = username(&req.user_name);
    let user = directory_user(&s.engine, name).await;
    let parts = winventory_workflows::conversation::conversation(
        &s.engine,
        s.app.clock.now(),
        &s.app.settings.role_mapping(),
        "mattermost",
        name,
        user,
        &req.text,
    )
    .await;
    slash_reply(
        StatusCode::OK,
        &winventory_workflows::conversation::markdown(&parts),
    )
}
