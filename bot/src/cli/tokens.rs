//! `winventory token`: the site's API tokens. `create` prints the secret
//! once (only its SHA-256 is stored), `list` shows every token with its
//! role, expiry and last use, `revoke` ends one at once. The API's token
//! routes call [`create`] too, so both edges check the same rules.

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use serde::Serialize;
use winventory_core::access::Role;
use winventory_core::store::{NewApiToken, Store, StoreError};

use super::output::{Format, SummaryFormat, opt, outln, rows};
use crate::app::App;
use crate::http::access::{hash_secret, new_secret};

/// How long a token works when nobody says.
pub const DEFAULT_EXPIRY: &str = "90d";

/// `winventory token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token and print its secret, once (only a hash of it is
    /// stored). Programs send it as `Authorization: Bearer SECRET`.
    Create {
        /// Its name: letters, digits, `.`, `_`, `-` (unique for ever,
        /// revoked tokens keep theirs).
        name: String,
        /// What it may do: admin, campaign-manager, licence-manager,
        /// viewer or collector (uploads snapshots only).
        #[arg(long)]
        role: String,
        /// How long it works: `90d`, `12h`, `4w` or `never`.
        #[arg(long, default_value = DEFAULT_EXPIRY)]
        expires: String,
        /// Output format (`json` gives the secret in a field).
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
    },
    /// Every token, with its role, expiry, revocation and last use (never
    /// its secret).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// End a token now: every request with it is refused from now on (a
    /// running `serve` notices within a second; changes are refused at
    /// once).
    Revoke {
        /// Its name.
        name: String,
    },
}

/// Why a token cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is not one we accept.
    #[error("name: {0:?} is not a token name (1 to 64 letters, digits, '.', '_' or '-')")]
    Name(String),
    /// The role is not one of a token's.
    #[error(
        "role: {0:?} is not a token's role: one of admin, campaign-manager, licence-manager, viewer, collector (owner is a person's role, given at sign-in)"
    )]
    Role(String),
    /// The expiry does not parse.
    #[error("expires: {0:?} is not a duration: a number and d, h or w (90d, 12h, 4w), or never")]
    Expires(String),
    /// The expiry is past what a token may live.
    #[error(
        "expires: {0:?} is too long: at most 100000 units (100000h, 100000d or 100000w), or never"
    )]
    ExpiresTooLong(String),
    /// A token has that name already.
    #[error("a token named {0:?} exists (or existed): choose another name")]
    Taken(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token just made, with its secret (shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// When it stops working (RFC 3339); absent: never.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The bearer token; it is not stored and cannot be shown again.
    pub secret: String,
}

/// `90d`, `12h`, `4w`, `never`.
fn parse_expiry(text: &str) -> Result<Option<Duration>, TokenError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let bad = || TokenError::Expires(text.to_string());
    // The unit is the last character, whatever its width in bytes.
    let Some((at, _)) = t.char_indices().last() else {
        return Err(bad());
    };
    let (n, unit) = t.split_at(at);
    let n: i64 = n.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    if n > 100_000 {
        return Err(TokenError::ExpiresTooLong(text.to_string()));
    }
    match unit {
        "h" => Ok(Some(Duration::hours(n))),
        "d" => Ok(Some(Duration::days(n))),
        "w" => Ok(Some(Duration::weeks(n))),
        _ => Err(bad()),
    }
}

/// Make a token: check its fields, store its hash, give back the secret.
pub async fn create(
    store: &dyn Store,
    name: &str,
    role: &str,
    expires: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<CreatedToken, TokenError> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(TokenError::Name(name.to_string()));
    }
    let role: Role = role
        .parse()
        .ok()
        .filter(|r| *r != Role::Owner)
        .ok_or_else(|| TokenError::Role(role.to_string()))?;
    let expires_at = parse_expiry(expires)?.map(|d| now + d);
    let secret = new_secret();
    let stored = store
        .create_token(&NewApiToken {
            name: name.to_string(),
            hash: hash_secret(&secret),
            role: role.as_str().into(),
            created_by: by.chars().take(200).collect(),
            created_at: now,
            expires_at,
        })
        .await?;
    if !stored {
        return Err(TokenError::Taken(name.to_string()));
    }
    Ok(CreatedToken {
        name: name.to_string(),
        role: role.as_str().into(),
        expires_at,
        secret,
    })
}

/// Run a `token` subcommand.
pub async fn run(app: &App, cmd: TokenCommand) -> Result<u8> {
    let store = app.store.clone();
    let now = app.clock.now();
    match cmd {
        TokenCommand::Create {
            name,
            role,
            expires,
            format,
        } => {
            let (_, origin) = super::campaigns::cli_actor();
            let made = create(
                store.as_ref(),
                &name,
                &role,
                &expires,
                &format!("cli:{origin}"),
                now,
            )
            .await;
            let result: Result<u8> = match &made {
                Ok(_) => Ok(0),
                Err(e) => Err(anyhow::anyhow!("{e}")),
            };
            super::campaigns::audit_cli(
                store.as_ref(),
                now,
                "token create",
                &name,
                &format!("token create {name} --role {role} --expires {expires}"),
                &result,
            )
            .await;
            let made = made?;
            match format {
                SummaryFormat::Json => super::output::json(&made)?,
                SummaryFormat::Text => {
                    outln!("{}", made.secret);
                    eprintln!(
                        "token {} ({}), {}: the line above is its secret, shown this once; send it as `Authorization: Bearer SECRET`",
                        made.name,
                        made.role,
                        made.expires_at
                            .map(|e| format!("works until {}", e.format("%Y-%m-%d %H:%M UTC")))
                            .unwrap_or_else(|| "never expires".into())
                    );
                }
            }
            Ok(0)
        }
        TokenCommand::List { format } => {
            let list = store.tokens().await?;
            let when =
                |t: &Option<DateTime<Utc>>| opt(&t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()));
            rows(
                format,
                &list,
                &[
                    "name",
                    "role",
                    "state",
                    "created",
                    "by",
                    "expires",
                    "last_used",
                ],
                |t: &winventory_core::store::ApiToken| {
                    vec![
                        t.name.clone(),
                        t.role.clone(),
                        if t.revoked_at.is_some() {
                            "revoked".into()
                        } else if !t.is_valid(now) {
                            "expired".into()
                        } else {
                            "valid".into()
                        },
                        t.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        t.created_by.clone(),
                        when(&t.expires_at),
                        when(&t.last_used_at),
                    ]
                },
            )?;
            Ok(0)
        }
        TokenCommand::Revoke { name } => {
            let done = store.revoke_token(&name, now).await;
            let result: Result<u8> = match &done {
                Ok(true) => Ok(0),
                Ok(false) => Err(anyhow::anyhow!("no such token, or revoked already")),
                Err(e) => Err(anyhow::anyhow!("{e}")),
            };
            super::campaigns::audit_cli(
                store.as_ref(),
                now,
                "token revoke",
                &name,
                &format!("token revoke {name}"),
                &result,
            )
            .await;
            if done? {
                outln!("revoked token {name}: it is refused from now on");
                Ok(0)
            } else {
                eprintln!(
                    "error: no token {name:?} to revoke (or it was revoked already); `winventory token list` shows them"
                );
                Ok(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_as_hours_days_weeks_or_never() {
        assert_eq!(parse_expiry("90d").ok(), Some(Some(Duration::days(90))));
        assert_eq!(parse_expiry("12h").ok(), Some(Some(Duration::hours(12))));
        // A unit of more than one byte is refused, not split in its middle.
        for odd in ["5é", "é", "", "1日", "12 h"] {
            assert!(
                matches!(parse_expiry(odd), Err(TokenError::Expires(_))),
                "{odd:?}"
            );
        }
        assert!(matches!(
            parse_expiry("3000000d"),
            Err(TokenError::ExpiresTooLong(_))
        ));
        assert_eq!(parse_expiry("4w").ok(), Some(Some(Duration::weeks(4))));
        assert_eq!(parse_expiry("never").ok(), Some(None));
        for bad in ["", "d", "0d", "-3d", "90", "90y", "1e9d", "ninety days"] {
            assert!(parse_expiry(bad).is_err(), "{bad:?}");
        }
    }
}
