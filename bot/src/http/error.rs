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
            AppError::Off(_) => StatusCode::NOT_FOUND,
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NoRoom(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            _ => {}
        }
    }
}

impl From<LinkError> for AppError {
    fn from(e: LinkError) -> Self {
        AppError::Link(e)
    }
}

/// The API's rendering: `{"error": "..."}` with the status.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.public_message();
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
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
