//! The HTTP edge's errors: one type, [`AppError`], and one place,
//! [`AppError::status`], where each becomes its status. Handlers of the
//! API and the answer pages return it; how it is shown depends on the
//! client (a JSON problem for the API, the error page for a browser), never
//! its status. What the server did wrong is logged here, once, and the
//! client is told only that it was not its fault.
//!
//! The Mattermost callbacks (`mattermost.rs`) answer in Mattermost's terms
//! instead: it shows a person the ephemeral text of a 200 only, so a
//! refusal that person should read (a closed campaign, nothing left) is a
//! 200 by that API's contract, and the rest (401 without a valid token, 503
//! when the database is away) match the statuses here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use winventory_workflows::engine::LinkError;
use winventory_workflows::token::TokenError;

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An answer link that cannot be used (forged, altered, expired,
    /// closed campaign, nothing left to answer).
    #[error("{0}")]
    Link(LinkError),
    /// A missing or wrong bearer token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Signed in, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing of that name (or nothing this caller may see).
    #[error("{0}")]
    NotFound(String),
    /// It does not fit the current state (a closed campaign, a taken name).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but the fields are wrong.
    #[error("{0}")]
    Invalid(String),
    /// A feature this site turned off.
    #[error("{0}")]
    Off(&'static str),
    /// A request that is not one we accept.
    #[error("{0}")]
    Malformed(String),
    /// A body over the route's limit.
    #[error("{0}")]
    TooLarge(&'static str),
    /// No disk room to receive an upload.
    #[error("no room to receive the snapshot")]
    NoRoom(#[source] std::io::Error),
    /// Signing in cannot be done now (the provider is away).
    #[error("{0}")]
    SignInUnavailable(String),
    /// Signing in was refused (a check failed, or the person is unknown).
    #[error("{0}")]
    SignInRefused(String),
    /// Our fault, not the client's (a template or a stored definition that
    /// fails): logged, and the client told only that.
    #[error("the server could not do this; the cause is in its log")]
    Internal(#[source] anyhow::Error),
    /// A peer (the database) is away for a moment; the client may retry.
    #[error("the service is unavailable for a moment; please try again later")]
    Unavailable(#[source] anyhow::Error),
}

impl AppError {
    /// The status each error is answered with: the one mapping of the edge.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Link(LinkError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Link(LinkError::Closed | LinkError::Nothing) => StatusCode::GONE,
            AppError::Link(LinkError::Token(TokenError::Expired(_))) => StatusCode::GONE,
            AppError::Link(LinkError::Answer(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Link(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Off(_) => StatusCode::NOT_FOUND,
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NoRoom(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::SignInUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::SignInRefused(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// What the client is told: the error itself when it is the client's
    /// to fix, a polite line when it is ours (the cause goes to the log).
    pub fn public_message(&self) -> String {
        self.log();
        match self {
            AppError::Link(LinkError::Store(_)) => {
                "The service is unavailable for a moment; please try again later.".into()
            }
            other => other.to_string(),
        }
    }

    /// Log what the server did wrong (the client's mistakes are not logged).
    fn log(&self) {
        match self {
            AppError::Link(LinkError::Store(e)) => {
                tracing::error!(error = %e, "answer link: database error");
            }
            AppError::NoRoom(e) => {
                tracing::error!(error = %e, "cannot spool an upload");
            }
            AppError::Unavailable(e) => {
                tracing::error!(error = %format!("{e:#}"), "a request could not be served");
            }
            AppError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "a request failed on the server's side");
            }
            _ => {}
        }
    }
}

impl From<LinkError> for AppError {
    fn from(e: LinkError) -> Self {
        AppError::Link(e)
    }
}

impl From<winventory_workflows::engine::EngineError> for AppError {
    fn from(e: winventory_workflows::engine::EngineError) -> Self {
        use winventory_workflows::engine::EngineError as E;
        match e {
            E::NoCampaign(_) => AppError::NotFound(e.to_string()),
            E::NameTaken(_) | E::State { .. } => AppError::Conflict(e.to_string()),
            E::Spec(_) => AppError::Invalid(e.to_string()),
            E::NoKeys | E::NoAddress(_) => AppError::Conflict(e.to_string()),
            E::Store(s) if s.is_transient() => AppError::Unavailable(s.into()),
            E::Store(s) if s.is_unstorable_text() => AppError::Invalid(UNSTORABLE.into()),
            other => AppError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// What a request whose text the database cannot store is told.
const UNSTORABLE: &str =
    "a value holds a character the database cannot store (NUL, \\u0000): send it without";

impl From<winventory_core::store::StoreError> for AppError {
    fn from(e: winventory_core::store::StoreError) -> Self {
        if e.is_transient() {
            AppError::Unavailable(e.into())
        } else if e.is_unstorable_text() {
            AppError::Invalid(UNSTORABLE.into())
        } else {
            AppError::Internal(e.into())
        }
    }
}

/// An RFC 9457 problem: what the API answers for every error.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, and what to do about it.
    pub detail: String,
}

/// The API's rendering: an `application/problem+json` body (RFC 9457)
/// with the status; a 401 also names the scheme it wants.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        problem(status, self.public_message())
    }
}

/// An `application/problem+json` response.
pub fn problem(status: StatusCode, detail: String) -> Response {
    {
        let problem = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"winventory\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_behind_a_link_is_unavailable_and_says_nothing_of_its_cause() {
        let e = AppError::Link(LinkError::Store(
            winventory_core::store::StoreError::UnsupportedUrl("secret-host".into()),
        ));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.public_message().contains("secret-host"));
    }

    #[test]
    fn closed_and_expired_links_are_gone_and_forged_ones_bad_requests() {
        assert_eq!(AppError::Link(LinkError::Closed).status(), StatusCode::GONE);
        assert_eq!(
            AppError::Link(LinkError::Nothing).status(),
            StatusCode::GONE
        );
        assert_eq!(
            AppError::Malformed("x".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            AppError::TooLarge("x").status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
