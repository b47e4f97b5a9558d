//! `winventory session`: sign-in sessions (single sign-on). `list` shows the
//! live ones (or all), `revoke ID` ends one at once on every replica (they
//! are kept in the database).

use anyhow::Result;
use clap::Subcommand;

use super::output::{Format, opt, outln, rows};
use crate::app::App;

/// `winventory session ...`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Sign-in sessions: number, login, roles, from where, signed in, last
    /// used, ends (never a secret).
    List {
        /// Also the ended and revoked ones.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// End a session now (its browser is signed out at its next request).
    Revoke {
        /// Its number (`session list`).
        id: i64,
    },
}

/// Run a `session` subcommand.
pub async fn run(app: &App, cmd: SessionCommand) -> Result<u8> {
    let store = app.store.clone();
    let now = app.clock.now();
    match cmd {
        SessionCommand::List { all, format } => {
            let list = store.sessions(if all { None } else { Some(now) }).await?;
            let when = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
            rows(
                format,
                &list,
                &[
                    "id",
                    "login",
                    "roles",
                    "from",
                    "signed_in",
                    "last_used",
                    "ends",
                    "revoked",
                ],
                |s: &winventory_core::store::Session| {
                    vec![
                        s.id.to_string(),
                        s.login.clone(),
                        s.roles.clone(),
                        s.origin.clone(),
                        when(&s.created_at),
                        when(&s.last_seen_at),
                        when(&s.expires_at),
                        opt(&s.revoked_at.map(|t| when(&t))),
                    ]
                },
            )?;
            Ok(0)
        }
        SessionCommand::Revoke { id } => {
            let done = store.revoke_session(id, now).await;
            let result: Result<u8> = match &done {
                Ok(true) => Ok(0),
                Ok(false) => Err(anyhow::anyhow!("no live session of that number")),
                Err(e) => Err(anyhow::anyhow!("{e}")),
            };
            super::campaigns::audit_cli(
                store.as_ref(),
                now,
                "session revoke",
                &id.to_string(),
                &format!("session revoke {id}"),
                &result,
            )
            .await;
            if done? {
                outln!("ended session {id}");
                Ok(0)
            } else {
                eprintln!(
                    "error: no live session {id} (ended or revoked already); `winventory session list` shows them"
                );
                Ok(1)
            }
        }
    }
}
