//! The campaign commands (`campaign ...`), the admin reads (`report
//! exceptions`, `outbox`, `audit`) and `pause`/`resume --all`: each runs
//! through the engine the [`App`] built, and every admin action is written
//! to the audit log.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use winventory_core::store::CampaignState;
use winventory_workflows::delivery::PAUSE_ALL;
use winventory_workflows::engine::Engine;

use crate::app::App;
use crate::cli::output::outln;
use crate::cli::output::{Format, SummaryFormat, json as print_json, opt, rows};

/// `winventory campaign ...`.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a draft campaign from a TOML file (see docs/campaigns.md).
    /// Nothing is sent until `campaign start`.
    Create {
        /// The campaign file.
        file: PathBuf,
        /// Replace the draft of the same name (a started campaign cannot be
        /// replaced).
        #[arg(long)]
        replace: bool,
    },
    /// Check a campaign file as `create` would, storing nothing: its
    /// mistakes with their line and field, and targets the catalog does
    /// not know. Exit status 0 when it can be created.
    Check {
        /// The campaign file.
        file: PathBuf,
    },
    /// Delete a draft campaign (one never started; `close` ends the others).
    Delete {
        /// Campaign id or name.
        campaign: String,
    },
    /// List campaigns.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Render exactly what each person would receive into a folder (HTML,
    /// text and subject per person), with counts. Stores and sends nothing.
    Preview {
        /// Campaign id or name.
        campaign: String,
        /// Folder to write (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
    },
    /// Send one real digest of the campaign to an admin (the digest of its
    /// first recipient, with links that answer nothing for the real owner).
    TestSend {
        /// Campaign id or name.
        campaign: String,
        /// The admin's login (needs an email address in the directory).
        #[arg(long, value_name = "LOGIN")]
        to: String,
    },
    /// Start a draft campaign: its first wave is queued at once and goes out
    /// through the worker (`winventory worker` or `winventory serve`).
    ///
    /// Several campaigns started together have their first digests merged:
    /// a person in more than one gets one message listing all of them.
    Start {
        /// Campaign ids or names.
        #[arg(required = true)]
        campaigns: Vec<String>,
    },
    /// Stop sending for a campaign (queued messages wait) until resumed.
    Pause {
        /// Campaign id or name.
        campaign: String,
    },
    /// Resume a paused campaign.
    Resume {
        /// Campaign id or name.
        campaign: String,
    },
    /// Close a campaign: its links stop working and its queued messages are dropped.
    Close {
        /// Campaign id or name.
        campaign: String,
    },
    /// Remind everyone of a running campaign who has not answered, in the
    /// next wave (besides the reminders its schedule sends; still one
    /// message a day per person at most, never in quiet hours).
    Remind {
        /// Campaign id or name.
        campaign: String,
    },
    /// Exception requests awaiting a decision (with `--all`: the whole register).
    Exceptions {
        /// Only this campaign (id or name).
        campaign: Option<String>,
        /// Every exception, decided ones included.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Approve a machine's exception request; its owner is told, and asked
    /// again two weeks before it ends.
    Approve {
        /// Campaign id or name.
        campaign: String,
        /// The machine (hostname).
        host: String,
        /// A note for the owner.
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: $USER).
        #[arg(long, env = "USER", value_name = "LOGIN", hide_env_values = true)]
        by: Option<String>,
    },
    /// Decline a machine's exception request; its owner is told why and asked
    /// for another answer.
    Decline {
        /// Campaign id or name.
        campaign: String,
        /// The machine (hostname).
        host: String,
        /// Why (shown to the owner).
        #[arg(long, required = true)]
        note: String,
        /// Who decides (default: $USER).
        #[arg(long, env = "USER", value_name = "LOGIN", hide_env_values = true)]
        by: Option<String>,
    },
    /// Every machine of a campaign: who is asked now, its state, the latest
    /// answer (with its date and who gave it), how it was resolved, and who
    /// passed it on with "not mine".
    Show {
        /// Campaign id or name.
        campaign: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Every answer given for one machine of a campaign, oldest first: when,
    /// who, through which channel, the answer with its date, detail and
    /// comment (`show` has the latest alone).
    History {
        /// Campaign id or name.
        campaign: String,
        /// The machine (hostname).
        host: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Progress: targets, messaged, answered by kind, resolved, overdue,
    /// escalated, and days left to the deadline.
    Status {
        /// Campaign id or name.
        campaign: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Run a `campaign` subcommand.
pub async fn run(app: &App, cmd: CampaignCommand) -> Result<u8> {
    let e = app.engine().await?;
    let audited = admin_action(&cmd);
    let now = app.clock.now();
    let result = run_command(&e, cmd, now).await;
    if let Some((action, target, command)) = audited {
        audit_cli(e.store.as_ref(), now, action, &target, &command, &result).await;
    }
    result
}

/// The admin action a campaign command is, for the audit log: action,
/// target and the command as given (`None`: the command only reads).
fn admin_action(cmd: &CampaignCommand) -> Option<(&'static str, String, String)> {
    let one =
        |action: &'static str, c: &str| Some((action, c.to_string(), format!("{action} {c}")));
    match cmd {
        CampaignCommand::Create { file, replace } => {
            let f = file.display().to_string();
            let flag = if *replace { " --replace" } else { "" };
            Some((
                "campaign create",
                f.clone(),
                format!("campaign create {f}{flag}"),
            ))
        }
        CampaignCommand::Delete { campaign } => one("campaign delete", campaign),
        CampaignCommand::TestSend { campaign, to } => Some((
            "campaign test-send",
            campaign.clone(),
            format!("campaign test-send {campaign} --to {to}"),
        )),
        CampaignCommand::Start { campaigns } => {
            let all = campaigns.join(" ");
            Some((
                "campaign start",
                all.clone(),
                format!("campaign start {all}"),
            ))
        }
        CampaignCommand::Pause { campaign } => one("campaign pause", campaign),
        CampaignCommand::Resume { campaign } => one("campaign resume", campaign),
        CampaignCommand::Close { campaign } => one("campaign close", campaign),
        CampaignCommand::Remind { campaign } => one("campaign remind", campaign),
        CampaignCommand::Approve {
            campaign,
            host,
            note,
            by,
        } => Some((
            "exception approve",
            format!("{campaign} {host}"),
            format!(
                "campaign approve {campaign} {host}{}{}",
                by.as_ref()
                    .map(|b| format!(" --by {b}"))
                    .unwrap_or_default(),
                note.as_ref()
                    .map(|n| format!(" --note {n:?}"))
                    .unwrap_or_default()
            ),
        )),
        CampaignCommand::Decline {
            campaign,
            host,
            note,
            by,
        } => Some((
            "exception decline",
            format!("{campaign} {host}"),
            format!(
                "campaign decline {campaign} {host}{} --note {note:?}",
                by.as_ref()
                    .map(|b| format!(" --by {b}"))
                    .unwrap_or_default()
            ),
        )),
        CampaignCommand::List { .. }
        | CampaignCommand::Preview { .. }
        | CampaignCommand::Exceptions { .. }
        | CampaignCommand::Show { .. }
        | CampaignCommand::History { .. }
        | CampaignCommand::Status { .. }
        | CampaignCommand::Check { .. } => None,
    }
}

/// Who runs this command line, and from where (`user@host`).
pub(crate) fn cli_actor() -> (String, String) {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let origin = format!("{user}@{host}");
    (user, origin)
}

/// Write a command-line admin action and its outcome to the audit log. A
/// failure to write it is said on stderr (the action itself is done).
pub(crate) async fn audit_cli(
    store: &dyn winventory_core::store::Store,
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    target: &str,
    command: &str,
    result: &Result<u8>,
) {
    let (actor, origin) = cli_actor();
    let entry = winventory_core::store::AuditEntry {
        at,
        channel: "cli".into(),
        actor: actor.chars().take(200).collect(),
        role: "operator".into(),
        action: action.into(),
        target: target.chars().take(200).collect(),
        command: command.chars().take(500).collect(),
        outcome: match result {
            Ok(_) => "done".into(),
            Err(e) => format!("error: {e:#}").chars().take(500).collect(),
        },
        origin: origin.chars().take(200).collect(),
    };
    if let Err(e) = store.audit(&entry).await {
        eprintln!("warning: cannot write the audit log: {e}");
    }
}

/// The engine `campaign preview` renders with: the site's, or, where no
/// link keys are configured, the same with a throwaway key, so a preview
/// never needs the site's secrets (its links answer nothing).
pub(crate) fn preview_engine(e: &Engine) -> Engine {
    if e.signer.is_some() {
        return e.clone();
    }
    use rand::Rng as _;
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let mut preview = e.clone();
    preview.signer = winventory_workflows::token::Signer::from_spec(&format!("preview:{secret}"))
        .ok()
        .map(std::sync::Arc::new);
    eprintln!(
        "note: no link keys are configured (WINVENTORY_LINK_KEYS): the preview's answer links are signed with a throwaway key and answer nothing"
    );
    preview
}

/// Run one campaign command.
async fn run_command(
    e: &Engine,
    cmd: CampaignCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u8> {
    match cmd {
        CampaignCommand::Create { file, replace } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let made = if replace {
                e.create_or_replace(&text, now).await
            } else {
                e.create(&text, now).await
            };
            let (c, warnings) = made.map_err(|err| anyhow::anyhow!("{}: {err}", file.display()))?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            outln!(
                "{} campaign {} ({}), a draft: `winventory campaign preview {} --out DIR` shows what it would send",
                if replace { "stored" } else { "created" },
                c.row.id,
                c.row.name,
                c.row.name
            );
        }
        CampaignCommand::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match e.check(&text) {
                Ok((spec, warnings)) => {
                    for w in &warnings {
                        eprintln!("warning: {}: {w}", file.display());
                    }
                    let exists = e.store.campaign(&spec.name).await?;
                    outln!(
                        "{}: campaign {} is valid{}",
                        file.display(),
                        spec.name,
                        match exists {
                            Some(c) if c.state == CampaignState::Draft =>
                                "; a draft of that name exists: `campaign create --replace` replaces it",
                            Some(_) => "; a started campaign has that name: give this one another",
                            None => "",
                        }
                    );
                }
                Err(err) => {
                    eprintln!("error: {}: {err}", file.display());
                    return Ok(1);
                }
            }
        }
        CampaignCommand::Delete { campaign } => {
            let c = e.delete_draft(&campaign).await?;
            outln!("deleted draft campaign {} ({})", c.row.id, c.row.name);
        }
        CampaignCommand::List { format } => {
            let list = e.store.campaigns().await?;
            rows(
                format,
                &list,
                &["id", "name", "kind", "state", "created", "started"],
                |c: &winventory_core::store::CampaignRow| {
                    vec![
                        c.id.to_string(),
                        c.name.clone(),
                        c.kind.clone(),
                        c.state.as_str().into(),
                        c.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        opt(&c.started_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())),
                    ]
                },
            )?;
        }
        CampaignCommand::Preview {
            campaign,
            out,
            format,
        } => {
            let s = preview_engine(e).preview(&campaign, now, &out).await?;
            match format {
                SummaryFormat::Json => print_json(&s)?,
                SummaryFormat::Text => {
                    outln!(
                        "{} machines ({} with no known owner), {} recipients, {} digests written to {}",
                        s.machines,
                        s.machines_without_owner,
                        s.recipients,
                        s.messages,
                        out.display()
                    );
                    if !s.unreachable.is_empty() {
                        outln!(
                            "no email address for {} recipients: {}",
                            s.unreachable.len(),
                            s.unreachable.join(", ")
                        );
                    }
                }
            }
        }
        CampaignCommand::TestSend { campaign, to } => {
            let address = e.test_send(&campaign, &to, now).await?;
            outln!(
                "queued a test digest to {address}; `winventory worker --once` (or a running `serve`) sends it"
            );
        }
        CampaignCommand::Start { campaigns } => {
            let mut started = Vec::new();
            for campaign in &campaigns {
                started.push(e.set_state(campaign, CampaignState::Running, now).await?);
            }
            let wave = e.tick(now).await?;
            let names: Vec<&str> = started.iter().map(|c| c.row.name.as_str()).collect();
            outln!(
                "running: {}; {} machines added, {} messages queued (the worker sends them)",
                names.join(", "),
                wave.machines_added,
                wave.queued
            );
            if let Some(notice) = winventory_workflows::engine::start_notice(&started, &wave, now) {
                outln!("{notice}");
            }
            if !wave.unreachable.is_empty() {
                outln!(
                    "no email address for {} recipients: {}",
                    wave.unreachable.len(),
                    wave.unreachable.join(", ")
                );
            }
        }
        CampaignCommand::Pause { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Paused, now).await?;
            outln!("campaign {} is paused", c.row.name);
        }
        CampaignCommand::Resume { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Running, now).await?;
            e.tick(now).await?;
            outln!("campaign {} is running again", c.row.name);
        }
        CampaignCommand::Close { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Closed, now).await?;
            outln!(
                "campaign {} is closed; its links no longer record answers",
                c.row.name
            );
        }
        CampaignCommand::Remind { campaign } => {
            let marked = e.remind(&campaign).await?;
            outln!(
                "{marked} unanswered machine(s) of {campaign} will be reminded in the next wave (still one message a day per person at most, never in quiet hours)"
            );
        }
        CampaignCommand::Exceptions {
            campaign,
            all,
            format,
        } => print_exceptions(e, campaign.as_deref(), !all, format).await?,
        CampaignCommand::Approve {
            campaign,
            host,
            note,
            by,
        } => {
            let by = by.unwrap_or_else(|| "admin".into());
            e.decide_exception(&campaign, &host, true, &by, note.as_deref(), now)
                .await?;
            outln!("approved the exception for {host}; the owner is told by the next delivery");
        }
        CampaignCommand::Decline {
            campaign,
            host,
            note,
            by,
        } => {
            let by = by.unwrap_or_else(|| "admin".into());
            e.decide_exception(&campaign, &host, false, &by, Some(&note), now)
                .await?;
            outln!("declined the exception for {host}; the owner is told and asked again");
        }
        CampaignCommand::Show { campaign, format } => {
            let c = e.campaign(&campaign).await?;
            let machines = e.store.campaign_machines(c.row.id).await?;
            if format == Format::Table {
                outln!(
                    "{} ({}, {}): {}, deadline {}, fallback group {}",
                    c.row.name,
                    c.row.kind,
                    c.row.state.as_str(),
                    c.spec.title,
                    c.spec.deadline,
                    c.spec.fallback_group
                );
            }
            rows(
                format,
                &machines,
                &[
                    "host",
                    "asked",
                    "state",
                    "answer",
                    "date",
                    "by",
                    "resolution",
                    "passed on by",
                ],
                |m: &winventory_core::store::CampaignMachine| {
                    vec![
                        m.hostname.clone(),
                        m.recipient.clone(),
                        m.state.clone(),
                        opt(&m.answer),
                        opt(&m.answer_date.map(|d| d.to_string())),
                        opt(&m.answered_by),
                        opt(&m.resolution),
                        opt(&m.transfer_from),
                    ]
                },
            )?;
        }
        CampaignCommand::History {
            campaign,
            host,
            format,
        } => {
            let c = e.campaign(&campaign).await?;
            let key = winventory_core::HostKey::new(&host);
            let history = e.store.answer_history(c.row.id, key.as_str()).await?;
            if history.is_empty() && format == Format::Table {
                eprintln!(
                    "no answer for {host} in {}: `winventory campaign show {}` lists its machines",
                    c.row.name, c.row.name
                );
                return Ok(0);
            }
            rows(
                format,
                &history,
                &["at", "by", "via", "answer", "date", "detail", "comment"],
                |h: &winventory_core::store::AnswerEntry| {
                    vec![
                        h.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                        h.by.clone(),
                        h.via.clone(),
                        h.answer.clone(),
                        opt(&h.date.map(|d| d.to_string())),
                        opt(&h.detail),
                        opt(&h.comment),
                    ]
                },
            )?;
        }
        CampaignCommand::Status { campaign, format } => {
            let s = e.status(&campaign, now).await?;
            match format {
                Format::Json => print_json(&s)?,
                // One row; answers by kind as `kind:n;kind:n`.
                Format::Csv => rows(
                    format,
                    std::slice::from_ref(&s),
                    &[
                        "campaign",
                        "state",
                        "deadline",
                        "days_left",
                        "targets",
                        "messaged",
                        "open",
                        "answered",
                        "resolved",
                        "overdue",
                        "escalated",
                        "progress_percent",
                    ],
                    |s| {
                        vec![
                            s.campaign.clone(),
                            s.state.clone(),
                            s.deadline.clone(),
                            s.days_left.to_string(),
                            s.targets.to_string(),
                            s.messaged.to_string(),
                            s.open.to_string(),
                            s.answered
                                .iter()
                                .map(|(k, n)| format!("{k}:{n}"))
                                .collect::<Vec<_>>()
                                .join(";"),
                            s.resolved.to_string(),
                            s.overdue.to_string(),
                            s.escalated.to_string(),
                            s.progress_percent
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                        ]
                    },
                )?,
                Format::Table => {
                    outln!(
                        "{} ({}), deadline {} ({} days left)",
                        s.campaign,
                        s.state_text(),
                        s.deadline,
                        s.days_left
                    );
                    if s.is_draft() {
                        outln!(
                            "no machine is selected or asked before `winventory campaign start {}`",
                            s.campaign
                        );
                        return Ok(0);
                    }
                    outln!(
                        "targets {}  messaged {}  open {}  answered {}  resolved {}  overdue {}  escalated {}  progress {}%",
                        s.targets,
                        s.messaged,
                        s.open,
                        s.answered.values().sum::<usize>(),
                        s.resolved,
                        s.overdue,
                        s.escalated,
                        s.progress_percent.unwrap_or_default()
                    );
                    for (kind, n) in &s.answered {
                        outln!("  {kind}: {n}");
                    }
                }
            }
        }
    }
    Ok(0)
}

/// Print the exception register (or the pending requests).
pub async fn print_exceptions(
    e: &Engine,
    campaign: Option<&str>,
    pending_only: bool,
    format: Format,
) -> Result<()> {
    let list = e.exceptions(campaign, pending_only).await?;
    rows(
        format,
        &list,
        &[
            "campaign",
            "host",
            "owner",
            "until",
            "state",
            "decided by",
            "justification",
        ],
        |x: &winventory_workflows::engine::ExceptionRow| {
            vec![
                x.campaign.clone(),
                x.host.clone(),
                x.owner.clone(),
                opt(&x.until.map(|d| d.to_string())),
                x.state.clone(),
                opt(&x.decided_by),
                x.justification.clone(),
            ]
        },
    )
}

/// `winventory report exceptions`: the register.
pub async fn report_exceptions(app: &App, format: Format) -> Result<u8> {
    let e = app.engine().await?;
    print_exceptions(&e, None, false, format).await?;
    Ok(0)
}

/// `winventory audit`: the audit log of admin actions and chat commands.
pub async fn audit(app: &App, limit: i64, format: Format) -> Result<u8> {
    let store = app.store.clone();
    let lines = store.audit_log(limit.max(1)).await?;
    rows(
        format,
        &lines,
        &[
            "at", "edge", "who", "role", "action", "target", "command", "outcome", "from",
        ],
        |a: &winventory_core::store::AuditEntry| {
            vec![
                a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                a.channel.clone(),
                a.actor.clone(),
                a.role.clone(),
                a.action.clone(),
                a.target.clone(),
                a.command.clone(),
                a.outcome.clone(),
                a.origin.clone(),
            ]
        },
    )?;
    Ok(0)
}

/// `winventory outbox`: messages by state, and the ones that failed.
pub async fn outbox(app: &App, format: SummaryFormat) -> Result<u8> {
    let store = app.store.clone();
    let counts = store.outbox_counts().await?;
    let paused = store.control(PAUSE_ALL).await?.is_some();
    match format {
        SummaryFormat::Json => print_json(&serde_json::json!({
            "pending": counts.pending, "sent": counts.sent, "failed": counts.failed,
            "cancelled": counts.cancelled, "paused_all": paused,
        }))?,
        SummaryFormat::Text => {
            outln!(
                "pending {}  sent {}  failed {}  cancelled {}{}",
                counts.pending,
                counts.sent,
                counts.failed,
                counts.cancelled,
                if paused {
                    "  (every delivery is paused)"
                } else {
                    ""
                }
            );
            for m in store.outbox().await?.iter().filter(|m| m.state == "failed") {
                outln!(
                    "failed: #{} to {} ({}): {}",
                    m.id,
                    m.recipient,
                    m.channel,
                    opt(&m.last_error)
                );
            }
        }
    }
    Ok(0)
}

/// `pause --all` / `resume --all`.
pub async fn pause_all(app: &App, pause: bool) -> Result<u8> {
    let store = app.store.clone();
    let now = app.clock.now();
    let stamp = now.to_rfc3339();
    let result = store
        .set_control(PAUSE_ALL, pause.then_some(stamp.as_str()))
        .await
        .map(|()| 0)
        .map_err(anyhow::Error::from);
    let action = if pause { "pause --all" } else { "resume --all" };
    audit_cli(store.as_ref(), now, action, "all", action, &result).await;
    result?;
    outln!(
        "{}",
        if pause {
            "every delivery is paused (this survives restarts); `winventory resume --all` lifts it"
        } else {
            "deliveries resume"
        }
    );
    Ok(0)
}
