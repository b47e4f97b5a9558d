//! API tokens of the site's own: stored only as a SHA-256 hash of the
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

/// The site's API tokens.
#[async_trait]
pub trait AccessStore: Send + Sync {
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
