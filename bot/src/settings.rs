//! Configuration: built-in defaults, then the TOML file given by `--config`
//! (or `WINVENTORY_CONFIG`), then `WINVENTORY_...` environment variables,
//! then command-line flags, each overriding the one before. Clap resolves
//! flags over environment variables; this module fills what both left unset
//! from the file, then from the defaults. Secrets live in [`Secret`] so they
//! are never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
pub use winventory_ingest::netdb::Secret;

/// The configuration file's keys (all optional).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Database URL.
    pub database: Option<String>,
    /// Network database base URL.
    pub network_db: Option<String>,
    /// Network database bearer token.
    pub network_db_token: Option<String>,
    /// Network database request time-out, seconds.
    pub network_db_timeout_secs: Option<u64>,
    /// Network database look-ups in flight.
    pub network_db_concurrency: Option<usize>,
    /// Freshness window, days.
    pub freshness_days: Option<u32>,
    /// Site catalog file.
    pub catalog: Option<PathBuf>,
    /// The site's licence file (TOML; see docs/licences.md).
    pub licences: Option<PathBuf>,
    /// endoflife.date API base URL.
    pub eol_api: Option<String>,
    /// SMTP server: `smtp://HOST:PORT` (plain), `smtp://HOST:587?tls=required`
    /// (STARTTLS) or `smtps://HOST:465` (TLS), credentials in the URL or below.
    pub smtp_url: Option<String>,
    /// SMTP user name.
    pub smtp_user: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<String>,
    /// The From address of messages.
    pub mail_from: Option<String>,
    /// Answer-link signing keys, newest first: `id:secret,id:secret`.
    pub link_keys: Option<String>,
    /// Public base URL of the answer pages.
    pub base_url: Option<String>,
    /// Address the HTTP server listens on.
    pub listen: Option<String>,
    /// The site's template directory (files there replace shipped templates).
    pub templates: Option<PathBuf>,
    /// Messages per second per channel.
    pub delivery_rate: Option<u32>,
    /// Bearer token for `POST /api/v1/snapshots`.
    pub api_token: Option<String>,
    /// Seconds a claimed message is held before another attempt may send it
    /// (after a crash mid-send).
    pub delivery_lease_secs: Option<u64>,
    /// First retry delay in seconds (doubling, with jitter, up to an hour).
    pub retry_base_secs: Option<u64>,
    /// Seconds an SMTP exchange may take before it counts as failed (and is
    /// retried).
    pub smtp_timeout_secs: Option<u64>,
    /// Matrix homeserver URL; set, digests go to people with a Matrix ID there.
    pub matrix_homeserver: Option<String>,
    /// The bot's Matrix user (localpart or full ID).
    pub matrix_user: Option<String>,
    /// The bot's Matrix password (first log-in; the session is kept after).
    pub matrix_password: Option<String>,
    /// Or an access token of the bot's (its device is the token's).
    pub matrix_access_token: Option<String>,
    /// Folder of the bot's Matrix session and encryption store.
    pub matrix_store: Option<PathBuf>,
    /// Mattermost server URL; set, digests go to people with a Mattermost
    /// username there.
    pub mattermost_url: Option<String>,
    /// The Mattermost bot account's access token.
    pub mattermost_token: Option<String>,
    /// The token Mattermost sends with the `/winv` slash command.
    pub mattermost_command_token: Option<String>,
    /// Groups whose members are admins in chat (comma-separated in the
    /// environment).
    pub admin_groups: Option<Vec<String>>,
    /// Folder `serve` ingests snapshots from on `ingest_schedule`.
    pub drop_folder: Option<PathBuf>,
    /// When `serve` ingests the drop folder (cron, UTC; default 02:30 daily).
    pub ingest_schedule: Option<String>,
    /// Seconds any HTTP request but a snapshot upload may take, body
    /// included, before it is answered 503 (default 15).
    pub request_timeout_secs: Option<u64>,
    /// Seconds a client may take to send a request head, from connecting
    /// or from its previous response (default 15).
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a connection may sit idle, nothing in flight, before it is
    /// closed (default 60).
    pub idle_timeout_secs: Option<u64>,
    /// HTTP connections open at once (default 4096; lowered to what the
    /// open-file limit leaves room for).
    pub max_connections: Option<usize>,
    /// Bearer token `/metrics` asks for (none: it answers anyone who can
    /// reach the listen address).
    pub metrics_token: Option<String>,
    /// The OpenID provider's issuer URL (sign-in is off without it).
    pub oidc_issuer: Option<String>,
    /// This site's client id at the provider.
    pub oidc_client_id: Option<String>,
    /// Its client secret.
    pub oidc_client_secret: Option<String>,
    /// The ID-token claim that is the person's directory login
    /// (`preferred_username` by default; `email`, `sub`, ...).
    pub oidc_user_claim: Option<String>,
    /// The ID-token claim listing the person's groups (`groups`).
    pub oidc_groups_claim: Option<String>,
    /// The access-token claim naming a machine client's roles (`roles`).
    pub oidc_roles_claim: Option<String>,
    /// The audience machine clients' access tokens must carry (by default
    /// the client id).
    pub oidc_api_audience: Option<String>,
    /// Someone the directory does not know: `refuse` (the default) or
    /// `owner` (signed in, with nothing to see but what they own).
    pub oidc_unknown_users: Option<String>,
    /// Minutes a sign-in session lasts without use (default 480).
    pub session_idle_minutes: Option<u64>,
    /// Hours a sign-in session lasts at most (default 24).
    pub session_max_hours: Option<u64>,
    /// Roles from groups: `[roles]` with `admin = ["it-admins"]`,
    /// `campaign-manager = [...]`, `licence-manager`, `viewer`,
    /// `collector` (directory groups or the groups claim).
    pub roles: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl FileConfig {
    /// Read a configuration file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            anyhow::anyhow!("{}:{line}: {}", path.display(), e.message())
        })
    }
}

/// The settings in force for one command. `Debug` masks the database
/// password; the token is a [`Secret`].
#[derive(Clone)]
pub struct Settings {
    /// Database URL.
    pub database: String,
    /// Network database base URL, if look-ups are on.
    pub network_db: Option<String>,
    /// Its token.
    pub network_db_token: Option<Secret>,
    /// Its request time-out.
    pub network_db_timeout_secs: u64,
    /// Look-ups in flight.
    pub network_db_concurrency: usize,
    /// Freshness window in days.
    pub freshness_days: u32,
    /// Site catalog file.
    pub catalog: Option<PathBuf>,
    /// The site's licence file.
    pub licences: Option<PathBuf>,
    /// endoflife.date API base URL.
    pub eol_api: String,
    /// SMTP server URL (credentials masked in `Debug`).
    pub smtp_url: Option<Secret>,
    /// SMTP user.
    pub smtp_user: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<Secret>,
    /// From address.
    pub mail_from: String,
    /// Link signing keys.
    pub link_keys: Option<Secret>,
    /// Public base URL.
    pub base_url: String,
    /// Listen address.
    pub listen: String,
    /// Site templates.
    pub templates: Option<PathBuf>,
    /// Messages per second per channel.
    pub delivery_rate: u32,
    /// API bearer token.
    pub api_token: Option<Secret>,
    /// Lease of a claimed message, seconds.
    pub delivery_lease_secs: u64,
    /// First retry delay, seconds.
    pub retry_base_secs: u64,
    /// SMTP time-out, seconds.
    pub smtp_timeout_secs: u64,
    /// Matrix homeserver URL.
    pub matrix_homeserver: Option<String>,
    /// Bot user.
    pub matrix_user: Option<String>,
    /// Bot password.
    pub matrix_password: Option<Secret>,
    /// Bot access token (instead of the password).
    pub matrix_access_token: Option<Secret>,
    /// Session and crypto store folder.
    pub matrix_store: PathBuf,
    /// Mattermost server URL.
    pub mattermost_url: Option<String>,
    /// Mattermost bot access token.
    pub mattermost_token: Option<Secret>,
    /// Slash command token.
    pub mattermost_command_token: Option<Secret>,
    /// Chat admin groups.
    pub admin_groups: Vec<String>,
    /// Drop folder.
    pub drop_folder: Option<PathBuf>,
    /// Its schedule.
    pub ingest_schedule: String,
    /// Seconds an HTTP request (but a snapshot upload) may take.
    pub request_timeout_secs: u64,
    /// Seconds allowed for a request head.
    pub header_read_timeout_secs: u64,
    /// Seconds an idle connection is kept.
    pub idle_timeout_secs: u64,
    /// HTTP connections open at once.
    pub max_connections: usize,
    /// Bearer token of `/metrics`.
    pub metrics_token: Option<Secret>,
    /// Single sign-on, when the site set it up.
    pub oidc: Option<OidcSettings>,
    /// Roles from groups (role, its groups).
    pub roles: Vec<(winventory_core::access::Role, Vec<String>)>,
    /// Minutes a sign-in session lasts without use.
    pub session_idle_minutes: u64,
    /// Hours a sign-in session lasts at most.
    pub session_max_hours: u64,
}

/// Roles from groups: each role with the groups that give it.
pub type RoleMapping = Vec<(winventory_core::access::Role, Vec<String>)>;

impl Settings {
    /// The one mapping of groups to roles every edge uses: the `[roles]`
    /// table, and the chat-era `admin_groups`, which give `admin`.
    pub fn role_mapping(&self) -> RoleMapping {
        let mut m = self.roles.clone();
        if !self.admin_groups.is_empty() {
            m.push((
                winventory_core::access::Role::Admin,
                self.admin_groups.clone(),
            ));
        }
        m
    }
}

/// The OpenID Connect settings (all of issuer, client id and secret set).
#[derive(Clone)]
pub struct OidcSettings {
    /// Issuer URL (discovery at `/.well-known/openid-configuration`).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// The claim that is the directory login.
    pub user_claim: String,
    /// The claim with the groups.
    pub groups_claim: String,
    /// The access-token claim with a machine client's roles.
    pub roles_claim: String,
    /// The audience of machine clients' access tokens.
    pub api_audience: String,
    /// Whether someone the directory does not know signs in as a bare
    /// owner (else refused).
    pub unknown_users_are_owners: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database",
                &winventory_core::store::redact_url(&self.database),
            )
            .field("network_db", &self.network_db)
            .field("network_db_token", &self.network_db_token)
            .field("freshness_days", &self.freshness_days)
            .field("catalog", &self.catalog)
            .field("eol_api", &self.eol_api)
            .field("smtp_url", &self.smtp_url)
            .field("smtp_password", &self.smtp_password)
            .field("link_keys", &self.link_keys)
            .field("api_token", &self.api_token)
            .field("base_url", &self.base_url)
            .field("mattermost_url", &self.mattermost_url)
            .field("mattermost_token", &self.mattermost_token)
            .field("mattermost_command_token", &self.mattermost_command_token)
            .field("metrics_token", &self.metrics_token)
            .field(
                "oidc_client_secret",
                &self.oidc.as_ref().map(|o| &o.client_secret),
            )
            .finish_non_exhaustive()
    }
}

/// What flags and environment variables gave (clap merges those two).
#[derive(Clone, Default)]
pub struct Overrides {
    /// `--config` / `WINVENTORY_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--database` / `WINVENTORY_DATABASE_URL`.
    pub database: Option<String>,
    /// `--network-db` / `WINVENTORY_NETWORK_DB_URL`.
    pub network_db: Option<String>,
    /// `WINVENTORY_NETWORK_DB_TOKEN`.
    pub network_db_token: Option<String>,
    /// `--freshness-days` / `WINVENTORY_FRESHNESS_DAYS`.
    pub freshness_days: Option<u32>,
    /// `--catalog` / `WINVENTORY_CATALOG`.
    pub catalog: Option<PathBuf>,
    /// `--eol-api` / `WINVENTORY_EOL_API`.
    pub eol_api: Option<String>,
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A numeric environment variable: absent or empty is `None`; a value that
/// is not a number of the right kind stops the start, naming the variable,
/// what it holds and what it takes (never silently ignored).
fn env_num<T>(name: &str, what: &str) -> Result<Option<T>>
where
    T: std::str::FromStr,
{
    let Some(v) = env(name) else {
        return Ok(None);
    };
    match v.trim().parse::<T>() {
        Ok(n) => Ok(Some(n)),
        Err(_) => {
            let shown: String = v.chars().take(40).collect();
            anyhow::bail!(
                "{name}={shown:?} is not {what}; set it to {what} or unset it to use the default"
            )
        }
    }
}

impl Settings {
    /// Resolve the layers.
    pub fn resolve(o: Overrides) -> Result<Self> {
        let mut file = match &o.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let oidc = oidc_settings(&mut file)?;
        let roles = role_mapping(file.roles.take())?;
        Ok(Self {
            database: o
                .database
                .or(file.database)
                .unwrap_or_else(|| "sqlite://winventory.db".into()),
            network_db: o
                .network_db
                .or(file.network_db)
                .filter(|s| !s.trim().is_empty()),
            network_db_token: o
                .network_db_token
                .or(file.network_db_token)
                .filter(|s| !s.is_empty())
                .map(Secret::from),
            network_db_timeout_secs: file.network_db_timeout_secs.unwrap_or(5),
            network_db_concurrency: file.network_db_concurrency.unwrap_or(8),
            freshness_days: o
                .freshness_days
                .or(file.freshness_days)
                .unwrap_or(winventory_core::domain::DEFAULT_FRESHNESS_DAYS),
            catalog: o.catalog.or(file.catalog),
            licences: env("WINVENTORY_LICENCES")
                .map(PathBuf::from)
                .or(file.licences),
            eol_api: o
                .eol_api
                .or(file.eol_api)
                .unwrap_or_else(|| "https://endoflife.date/api/v1".into()),
            smtp_url: env("WINVENTORY_SMTP_URL")
                .or(file.smtp_url)
                .map(Secret::from),
            smtp_user: env("WINVENTORY_SMTP_USER").or(file.smtp_user),
            smtp_password: env("WINVENTORY_SMTP_PASSWORD")
                .or(file.smtp_password)
                .map(Secret::from),
            mail_from: env("WINVENTORY_MAIL_FROM")
                .or(file.mail_from)
                .unwrap_or_else(|| "Winventory <winventory@localhost>".into()),
            link_keys: env("WINVENTORY_LINK_KEYS")
                .or(file.link_keys)
                .map(Secret::from),
            base_url: env("WINVENTORY_BASE_URL")
                .or(file.base_url)
                .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            listen: env("WINVENTORY_LISTEN")
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            templates: env("WINVENTORY_TEMPLATES")
                .map(PathBuf::from)
                .or(file.templates),
            delivery_rate: env_num::<u32>(
                "WINVENTORY_DELIVERY_RATE",
                "a whole number of messages per second",
            )?
            .or(file.delivery_rate)
            .unwrap_or(20),
            api_token: env("WINVENTORY_API_TOKEN")
                .or(file.api_token)
                .map(Secret::from),
            delivery_lease_secs: env_num::<u64>(
                "WINVENTORY_DELIVERY_LEASE_SECS",
                "a whole number of seconds",
            )?
            .or(file.delivery_lease_secs)
            .unwrap_or(300)
            .max(1),
            retry_base_secs: env_num::<u64>(
                "WINVENTORY_RETRY_BASE_SECS",
                "a whole number of seconds",
            )?
            .or(file.retry_base_secs)
            .unwrap_or(30)
            .max(1),
            smtp_timeout_secs: env_num::<u64>(
                "WINVENTORY_SMTP_TIMEOUT_SECS",
                "a whole number of seconds",
            )?
            .or(file.smtp_timeout_secs)
            .unwrap_or(30)
            .max(1),
            matrix_homeserver: env("WINVENTORY_MATRIX_HOMESERVER")
                .or(file.matrix_homeserver)
                .filter(|s| !s.trim().is_empty()),
            matrix_user: env("WINVENTORY_MATRIX_USER").or(file.matrix_user),
            matrix_password: env("WINVENTORY_MATRIX_PASSWORD")
                .or(file.matrix_password)
                .map(Secret::from),
            matrix_access_token: env("WINVENTORY_MATRIX_ACCESS_TOKEN")
                .or(file.matrix_access_token)
                .map(Secret::from),
            matrix_store: env("WINVENTORY_MATRIX_STORE")
                .map(PathBuf::from)
                .or(file.matrix_store)
                .unwrap_or_else(|| PathBuf::from("matrix-store")),
            mattermost_url: env("WINVENTORY_MATTERMOST_URL")
                .or(file.mattermost_url)
                .filter(|s| !s.trim().is_empty()),
            mattermost_token: env("WINVENTORY_MATTERMOST_TOKEN")
                .or(file.mattermost_token)
                .map(Secret::from),
            mattermost_command_token: env("WINVENTORY_MATTERMOST_COMMAND_TOKEN")
                .or(file.mattermost_command_token)
                .map(Secret::from),
            admin_groups: env("WINVENTORY_ADMIN_GROUPS")
                .map(|v| {
                    v.split(',')
                        .map(|g| g.trim().to_string())
                        .filter(|g| !g.is_empty())
                        .collect()
                })
                .or(file.admin_groups)
                .unwrap_or_default(),
            drop_folder: env("WINVENTORY_DROP_FOLDER")
                .map(PathBuf::from)
                .or(file.drop_folder),
            ingest_schedule: env("WINVENTORY_INGEST_SCHEDULE")
                .or(file.ingest_schedule)
                .unwrap_or_else(|| "30 2 * * *".into()),
            request_timeout_secs: env_num::<u64>(
                "WINVENTORY_REQUEST_TIMEOUT_SECS",
                "a whole number of seconds",
            )?
            .or(file.request_timeout_secs)
            .unwrap_or(15)
            .max(1),
            header_read_timeout_secs: env_num::<u64>(
                "WINVENTORY_HEADER_READ_TIMEOUT_SECS",
                "a whole number of seconds",
            )?
            .or(file.header_read_timeout_secs)
            .unwrap_or(15)
            .max(1),
            idle_timeout_secs: env_num::<u64>(
                "WINVENTORY_IDLE_TIMEOUT_SECS",
                "a whole number of seconds",
            )?
            .or(file.idle_timeout_secs)
            .unwrap_or(60)
            .max(1),
            max_connections: env_num::<usize>(
                "WINVENTORY_MAX_CONNECTIONS",
                "a whole number of connections",
            )?
            .or(file.max_connections)
            .unwrap_or(4096)
            .max(1),
            metrics_token: env("WINVENTORY_METRICS_TOKEN")
                .or(file.metrics_token)
                .map(Secret::from),
            oidc,
            roles,
            session_idle_minutes: env_num::<u64>(
                "WINVENTORY_SESSION_IDLE_MINUTES",
                "a whole number of minutes",
            )?
            .or(file.session_idle_minutes)
            .unwrap_or(480)
            .max(1),
            session_max_hours: env_num::<u64>(
                "WINVENTORY_SESSION_MAX_HOURS",
                "a whole number of hours",
            )?
            .or(file.session_max_hours)
            .unwrap_or(24)
            .max(1),
        })
    }
}

/// Sign-in settings: on when issuer, client id and secret are all set;
/// some but not all of them stop the start, naming what is missing.
fn oidc_settings(file: &mut FileConfig) -> Result<Option<OidcSettings>> {
    let issuer = env("WINVENTORY_OIDC_ISSUER").or(file.oidc_issuer.take());
    let client_id = env("WINVENTORY_OIDC_CLIENT_ID").or(file.oidc_client_id.take());
    let secret = env("WINVENTORY_OIDC_CLIENT_SECRET").or(file.oidc_client_secret.take());
    let (issuer, client_id, secret) = match (issuer, client_id, secret) {
        (None, None, None) => return Ok(None),
        (Some(i), Some(c), Some(s)) => (i.trim().trim_end_matches('/').to_string(), c, s),
        (i, c, s) => {
            let missing: Vec<&str> = [
                ("oidc_issuer", i.is_none()),
                ("oidc_client_id", c.is_none()),
                ("oidc_client_secret", s.is_none()),
            ]
            .into_iter()
            .filter(|(_, m)| *m)
            .map(|(k, _)| k)
            .collect();
            anyhow::bail!(
                "single sign-on needs oidc_issuer, oidc_client_id and oidc_client_secret together (or WINVENTORY_OIDC_...); missing: {}",
                missing.join(", ")
            );
        }
    };
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
        anyhow::bail!("oidc_issuer: {issuer:?} is not an http(s) URL");
    }
    let unknown = env("WINVENTORY_OIDC_UNKNOWN_USERS")
        .or(file.oidc_unknown_users.take())
        .unwrap_or_else(|| "refuse".into());
    let unknown_users_are_owners = match unknown.trim() {
        "refuse" => false,
        "owner" => true,
        other => anyhow::bail!("oidc_unknown_users: {other:?} is not one of refuse, owner"),
    };
    Ok(Some(OidcSettings {
        issuer,
        api_audience: env("WINVENTORY_OIDC_API_AUDIENCE")
            .or(file.oidc_api_audience.take())
            .unwrap_or_else(|| client_id.clone()),
        client_id,
        client_secret: Secret::from(secret),
        user_claim: env("WINVENTORY_OIDC_USER_CLAIM")
            .or(file.oidc_user_claim.take())
            .unwrap_or_else(|| "preferred_username".into()),
        groups_claim: env("WINVENTORY_OIDC_GROUPS_CLAIM")
            .or(file.oidc_groups_claim.take())
            .unwrap_or_else(|| "groups".into()),
        roles_claim: env("WINVENTORY_OIDC_ROLES_CLAIM")
            .or(file.oidc_roles_claim.take())
            .unwrap_or_else(|| "roles".into()),
        unknown_users_are_owners,
    }))
}

/// The `[roles]` table: role name -> groups. An unknown role name stops
/// the start; `owner` is everyone's and takes no groups.
fn role_mapping(
    table: Option<std::collections::BTreeMap<String, Vec<String>>>,
) -> Result<Vec<(winventory_core::access::Role, Vec<String>)>> {
    let mut out = Vec::new();
    for (name, groups) in table.unwrap_or_default() {
        let role: winventory_core::access::Role = name
            .parse()
            .map_err(|e| anyhow::anyhow!("[roles] {name}: {e}"))?;
        if role == winventory_core::access::Role::Owner {
            anyhow::bail!(
                "[roles] owner: everyone is the owner of their machines; the role takes no groups"
            );
        }
        out.push((role, groups));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_the_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "database = \"postgres://u:pw0rd@h/db\"\nfreshness_days = 30\nnetwork_db_token = \"s3cret\"\n",
        )
            .expect("write");
        let s = Settings::resolve(Overrides {
            config: Some(path.clone()),
            database: Some("sqlite://from-flag.db".into()),
            ..Overrides::default()
        })
        .expect("resolve");
        assert_eq!(s.database, "sqlite://from-flag.db");
        assert_eq!(s.freshness_days, 30);
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "secrets are never printed"
        );
        let d = Settings::resolve(Overrides::default()).expect("defaults");
        assert_eq!(d.database, "sqlite://winventory.db");
        assert_eq!(d.freshness_days, 90);
    }

    #[test]
    fn a_bad_configuration_file_names_its_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("w.toml");
        std::fs::write(&path, "database = \"x\"\nfreshnes_days = 3\n").expect("write");
        let e = Settings::resolve(Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .expect_err("bad");
        assert!(e.to_string().contains("w.toml:2"), "{e}");
    }
}
