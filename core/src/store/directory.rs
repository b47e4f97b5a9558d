//! The directory role: people as a site's user list and the network
//! database name them, their groups, their chat addresses, and owner facts
//! set directly (campaign answers, admins).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;
use crate::domain::{OwnerFact, OwnerRole, User};

/// A user row from `users import`, with the groups it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImport {
    /// The user.
    pub user: User,
    /// Group names.
    pub groups: Vec<String>,
}

/// The directory: people (by login, or by their address on a chat), the
/// groups they belong to, and the owner facts set by hand.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Create or update users from a site list, replacing their group
    /// memberships; empty fields keep what is stored.
    async fn import_users(&self, users: &[UserImport], now: DateTime<Utc>) -> Result<()>;
    /// One user.
    async fn user(&self, login: &str) -> Result<Option<User>>;
    /// The user whose address on a chat `channel` is `address`: on
    /// `matrix` the Matrix ID as written; on `mattermost` the username,
    /// case aside, a stored leading `@` or blanks ignored. `None` for an
    /// empty address or another channel.
    async fn user_by_chat(&self, channel: &str, address: &str) -> Result<Option<User>>;
    /// Every known person.
    async fn users(&self) -> Result<Vec<User>>;
    /// The groups a user belongs to.
    async fn groups_of(&self, login: &str) -> Result<Vec<String>>;
    /// Members (logins) of these groups.
    async fn group_members(&self, groups: &[String]) -> Result<Vec<(String, String)>>;
    /// Every group that has members, by name.
    async fn group_names(&self) -> Result<Vec<String>>;
    /// Every group membership: login -> groups.
    async fn group_memberships(&self) -> Result<HashMap<String, Vec<String>>>;
    /// Set an owner fact directly (campaign answers, admins).
    async fn set_owner(
        &self,
        host_key: &str,
        role: OwnerRole,
        fact: Option<&OwnerFact>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}
