//! Who may come in: sign-in sessions and sign-ins under way (both kept
//! server-side, so any replica serves them), and API tokens of the site's own: stored only as a SHA-256 hash of the
//! secret (tokens are long and random, so a fast hash is enough), with
//! their role, expiry, revocation and last use. The secret itself is made
//! and shown once by the caller; nothing here ever sees it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Result;

/// A new token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Its name, unique for ever (a revoked token keeps its name).
    pub name: String,
    /// Lower-case hex SHA-256 of the secret.
    pub hash: String,
    /// The role it acts in (`collector`, `viewer`, ...).
    pub role: String,
    /// Who made it (`cli:user@host`, `token:NAME`, a login).
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether it may be used at `now`.
    pub fn is_valid(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A new sign-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Lower-case hex SHA-256 of the cookie's secret.
    pub secret_hash: String,
    /// The directory login.
    pub login: String,
    /// Its roles, comma-separated, as the audit log writes them.
    pub roles: String,
    /// The token a browser sends back with every change.
    pub csrf: String,
    /// The provider's ID token (the hint of RP-initiated logout).
    pub id_token: Option<String>,
    /// Where the sign-in came from (an address).
    pub origin: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it ends whatever its use.
    pub expires_at: DateTime<Utc>,
}

/// A stored session (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// Its number (what an admin revokes).
    pub id: i64,
    /// The login.
    pub login: String,
    /// The roles, comma-separated.
    pub roles: String,
    /// The browser's token for changes.
    #[serde(skip)]
    pub csrf: String,
    /// The provider's ID token.
    #[serde(skip)]
    pub id_token: Option<String>,
    /// From where it signed in.
    pub origin: String,
    /// When it signed in.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends whatever its use.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked (or signed out).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A sign-in under way: what the callback needs back, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAttempt {
    /// Lower-case hex SHA-256 of the `state` sent to the provider.
    pub state_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The local path to return to.
    pub return_to: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
}

/// Sign-in sessions, sign-ins under way, and the site's API tokens.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Keep a sign-in under way (and forget those older than
    /// `forget_before`); `Ok(false)` when `limit` are under way already
    /// (an unauthenticated request must not grow the table without end).
    async fn put_sign_in(
        &self,
        a: &SignInAttempt,
        forget_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<bool>;
    /// Take a sign-in under way by its state's hash: it is gone after (a
    /// replayed state finds nothing).
    async fn take_sign_in(&self, state_hash: &str) -> Result<Option<SignInAttempt>>;
    /// Store a new session; its number.
    async fn create_session(&self, s: &NewSession) -> Result<i64>;
    /// The session whose cookie secret hashes to `hash`, revoked or not.
    async fn session_by_hash(&self, hash: &str) -> Result<Option<Session>>;
    /// Record a use of session `id` at `at`.
    async fn touch_session(&self, id: i64, at: DateTime<Utc>) -> Result<()>;
    /// Revoke session `id`; `Ok(false)` when none is live of that number.
    async fn revoke_session(&self, id: i64, at: DateTime<Utc>) -> Result<bool>;
    /// Sessions, newest first: live ones only (not revoked, not past
    /// `now`'s absolute expiry), or all.
    async fn sessions(&self, live_at: Option<DateTime<Utc>>) -> Result<Vec<Session>>;
    /// Store a new token; `Ok(false)` when the name is taken.
    async fn create_token(&self, token: &NewApiToken) -> Result<bool>;
    /// Every token, by name.
    async fn tokens(&self) -> Result<Vec<ApiToken>>;
    /// The token whose secret hashes to `hash`, revoked or not.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;
    /// Revoke the token `name` at `at`; `Ok(false)` when there is no such
    /// token or it was revoked already. Bumps the access revision.
    async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Record a use of `name` at `at`.
    async fn touch_token(&self, name: &str, at: DateTime<Utc>) -> Result<()>;
    /// A number that grows whenever a token is revoked: processes that
    /// cache tokens drop their cache when it moves.
    async fn access_revision(&self) -> Result<i64>;
}
