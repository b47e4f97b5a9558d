//! The campaign commands (`campaign ...`, `pause`/`resume --all`), the
//! delivery `worker` and `serve`: they build the engine once from the
//! settings (store, catalog, templates, signing keys, channels) and call it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::Subcommand;
use winventory_core::store::CampaignState;
use winventory_workflows::delivery::{Channel, DeliveryConfig, PAUSE_ALL, Worker};
use winventory_workflows::engine::{Engine, EngineConfig};
use winventory_workflows::render::Templates;
use winventory_workflows::token::Signer;

use crate::email::EmailChannel;
use crate::render::{Format, json as print_json, opt, rows};
use crate::settings::Settings;

/// `winventory campaign ...`.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a draft campaign from a TOML file (see docs/campaigns.md).
    /// Nothing is sent until `campaign start`.
    Create {
        /// The campaign file.
        file: PathBuf,
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
        format: Format,
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

/// The time commands act at: `WINVENTORY_NOW` (RFC 3339) for rehearsals
/// and tests, the system clock otherwise.
pub fn now() -> chrono::DateTime<Utc> {
    fixed_clock().unwrap_or_else(Utc::now)
}

/// Refuse a `WINVENTORY_NOW` that is set but not a time (it would
/// otherwise be ignored and the system clock used without a word).
pub fn check_clock() -> Result<()> {
    match std::env::var("WINVENTORY_NOW") {
        Ok(v) if !v.trim().is_empty() && chrono::DateTime::parse_from_rfc3339(&v).is_err() => {
            let shown: String = v.chars().take(40).collect();
            bail!(
                "WINVENTORY_NOW={shown:?} is not an RFC 3339 time such as 2026-12-02T09:00:00Z; fix it or unset it to use the system clock"
            )
        }
        _ => Ok(()),
    }
}

/// The fixed clock, if one is set.
fn fixed_clock() -> Option<chrono::DateTime<Utc>> {
    std::env::var("WINVENTORY_NOW")
        .ok()
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Build the engine from the settings.
pub async fn engine(settings: &Settings) -> Result<Engine> {
    let store = crate::commands::open(settings).await?;
    let catalog = crate::commands::load_catalog(settings, store.as_ref()).await?;
    let signer = match &settings.link_keys {
        Some(k) => Some(Arc::new(
            Signer::from_spec(k.expose()).context("check WINVENTORY_LINK_KEYS / link_keys")?,
        )),
        None => None,
    };
    let licences = match &settings.licences {
        Some(path) => Some(Arc::new(crate::licences::load_file(path, &catalog)?)),
        None => None,
    };
    let templates = Templates::new(settings.templates.clone());
    templates
        .check("digest")
        .context("a template in the site's template directory does not render")?;
    Ok(Engine {
        store,
        licences,
        titles: Default::default(),
        catalog: Arc::new(catalog),
        templates: Arc::new(templates),
        signer,
        config: EngineConfig {
            base_url: settings.base_url.clone(),
            message_domain: EmailChannel::from_domain(settings),
            freshness_days: settings.freshness_days,
            link_grace_days: 30,
            chat_channels: settings
                .matrix_homeserver
                .as_ref()
                .map(|_| "matrix".to_string())
                .into_iter()
                .chain(
                    settings
                        .mattermost_url
                        .as_ref()
                        .map(|_| "mattermost".to_string()),
                )
                .collect(),
        },
    })
}

/// Run a `campaign` subcommand.
pub async fn run(settings: &Settings, cmd: CampaignCommand) -> Result<u8> {
    let e = engine(settings).await?;
    let audited = admin_action(&cmd);
    let result = run_command(&e, cmd).await;
    if let Some((action, target, command)) = audited {
        audit_cli(e.store.as_ref(), action, &target, &command, &result).await;
    }
    result
}

/// The admin action a campaign command is, for the audit log: action,
/// target and the command as given (`None`: the command only reads).
fn admin_action(cmd: &CampaignCommand) -> Option<(&'static str, String, String)> {
    let one =
        |action: &'static str, c: &str| Some((action, c.to_string(), format!("{action} {c}")));
    match cmd {
        CampaignCommand::Create { file } => {
            let f = file.display().to_string();
            Some(("campaign create", f.clone(), format!("campaign create {f}")))
        }
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
        | CampaignCommand::Status { .. } => None,
    }
}

/// Who runs this command line, and from where (`user@host`).
fn cli_actor() -> (String, String) {
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
async fn audit_cli(
    store: &dyn winventory_core::store::Store,
    action: &str,
    target: &str,
    command: &str,
    result: &Result<u8>,
) {
    let (actor, origin) = cli_actor();
    let entry = winventory_core::store::AuditEntry {
        at: now(),
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

/// Run one campaign command.
async fn run_command(e: &Engine, cmd: CampaignCommand) -> Result<u8> {
    let now = now();
    match cmd {
        CampaignCommand::Create { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (c, warnings) = e
                .create(&text, now)
                .await
                .map_err(|err| anyhow::anyhow!("{}: {err}", file.display()))?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "created campaign {} ({}), a draft: `winventory campaign preview {} --out DIR` shows what it would send",
                c.row.id, c.row.name, c.row.name
            );
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
            let s = e.preview(&campaign, now, &out).await?;
            match format {
                Format::Json => print_json(&s)?,
                _ => {
                    println!(
                        "{} machines ({} with no known owner), {} recipients, {} digests written to {}",
                        s.machines,
                        s.machines_without_owner,
                        s.recipients,
                        s.messages,
                        out.display()
                    );
                    if !s.unreachable.is_empty() {
                        println!(
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
            println!(
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
            println!(
                "running: {}; {} machines added, {} messages queued (the worker sends them)",
                names.join(", "),
                wave.machines_added,
                wave.queued
            );
            if !wave.unreachable.is_empty() {
                println!(
                    "no email address for {} recipients: {}",
                    wave.unreachable.len(),
                    wave.unreachable.join(", ")
                );
            }
        }
        CampaignCommand::Pause { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Paused, now).await?;
            println!("campaign {} is paused", c.row.name);
        }
        CampaignCommand::Resume { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Running, now).await?;
            e.tick(now).await?;
            println!("campaign {} is running again", c.row.name);
        }
        CampaignCommand::Close { campaign } => {
            let c = e.set_state(&campaign, CampaignState::Closed, now).await?;
            println!(
                "campaign {} is closed; its links no longer record answers",
                c.row.name
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
            println!("approved the exception for {host}; the owner is told by the next delivery");
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
            println!("declined the exception for {host}; the owner is told and asked again");
        }
        CampaignCommand::Show { campaign, format } => {
            let c = e.campaign(&campaign).await?;
            let machines = e.store.campaign_machines(c.row.id).await?;
            if format == Format::Table {
                println!(
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
                        m.host_key.clone(),
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
                _ => {
                    println!(
                        "{} ({}), deadline {} ({} days left)",
                        s.campaign, s.state, s.deadline, s.days_left
                    );
                    println!(
                        "targets {}  messaged {}  open {}  answered {}  resolved {}  overdue {}  escalated {}  progress {}%",
                        s.targets,
                        s.messaged,
                        s.open,
                        s.answered.values().sum::<usize>(),
                        s.resolved,
                        s.overdue,
                        s.escalated,
                        s.progress_percent
                    );
                    for (kind, n) in &s.answered {
                        println!("  {kind}: {n}");
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
pub async fn report_exceptions(settings: &Settings, format: Format) -> Result<u8> {
    let e = engine(settings).await?;
    print_exceptions(&e, None, false, format).await?;
    Ok(0)
}

/// `winventory audit`: the audit log of admin actions and chat commands.
pub async fn audit(settings: &Settings, limit: i64, format: Format) -> Result<u8> {
    let store = crate::commands::open(settings).await?;
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
pub async fn outbox(settings: &Settings, format: Format) -> Result<u8> {
    let store = crate::commands::open(settings).await?;
    let counts = store.outbox_counts().await?;
    let paused = store.control(PAUSE_ALL).await?.is_some();
    match format {
        Format::Json => print_json(&serde_json::json!({
            "pending": counts.pending, "sent": counts.sent, "failed": counts.failed,
            "cancelled": counts.cancelled, "paused_all": paused,
        }))?,
        _ => {
            println!(
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
                println!(
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
pub async fn pause_all(settings: &Settings, pause: bool) -> Result<u8> {
    let store = crate::commands::open(settings).await?;
    let now = now().to_rfc3339();
    let result = store
        .set_control(PAUSE_ALL, pause.then_some(now.as_str()))
        .await
        .map(|()| 0)
        .map_err(anyhow::Error::from);
    let action = if pause { "pause --all" } else { "resume --all" };
    audit_cli(store.as_ref(), action, "all", action, &result).await;
    result?;
    println!(
        "{}",
        if pause {
            "every delivery is paused (this survives restarts); `winventory resume --all` lifts it"
        } else {
            "deliveries resume"
        }
    );
    Ok(0)
}

/// The channels configured at this site, chosen once at start-up (and the
/// Matrix one again, for its listener: one client per process). The
/// Mattermost one is connected by the caller, which shares it with the
/// HTTP edge and its listener.
async fn channels(
    settings: &Settings,
    store: Arc<dyn winventory_core::store::Store>,
    mattermost: Option<Arc<crate::mattermost::MattermostChannel>>,
) -> Result<(
    Vec<Arc<dyn Channel>>,
    Option<Arc<crate::matrix::MatrixChannel>>,
)> {
    let mut out: Vec<Arc<dyn Channel>> = Vec::new();
    if let Some(email) = EmailChannel::from_settings(settings)? {
        out.push(Arc::new(email));
    }
    let matrix = crate::matrix::MatrixChannel::connect(settings, store)
        .await?
        .map(Arc::new);
    if let Some(m) = &matrix {
        out.push(m.clone());
    }
    if let Some(m) = mattermost {
        out.push(m);
    }
    if out.is_empty() {
        bail!(
            "no channel is configured: set WINVENTORY_SMTP_URL (or smtp_url in the configuration file)"
        );
    }
    Ok((out, matrix))
}

fn delivery_config(settings: &Settings) -> DeliveryConfig {
    DeliveryConfig {
        rate_per_second: std::num::NonZeroU32::new(settings.delivery_rate)
            .unwrap_or(std::num::NonZeroU32::MIN),
        lease: chrono::Duration::seconds(settings.delivery_lease_secs as i64),
        backoff_base: chrono::Duration::seconds(settings.retry_base_secs as i64),
        ..DeliveryConfig::default()
    }
}

/// `winventory worker`: plan waves and deliver.
pub async fn worker(settings: &Settings, once: bool) -> Result<u8> {
    let e = engine(settings).await?;
    let mattermost = crate::mattermost::MattermostChannel::connect(settings, e.store.clone())
        .await?
        .map(Arc::new);
    let (list, matrix) = channels(settings, e.store.clone(), mattermost.clone()).await?;
    let mut w = Worker::new(e.store.clone(), list, delivery_config(settings)).at(fixed_clock());
    if once {
        // What people wrote since the last run is answered first (and the
        // sync readies the bot's encryption for sending).
        if let Some(m) = &matrix
            && let Err(err) = m.listen_once(e.clone()).await
        {
            tracing::warn!(error = %err, "cannot read Matrix; delivering anyway");
        }
        let wave = e.tick(now()).await?;
        let mut total = winventory_workflows::delivery::DeliveryReport::default();
        loop {
            let r = w.run_once().await?;
            total.claimed += r.claimed;
            total.sent += r.sent;
            total.retried += r.retried;
            total.failed += r.failed;
            total.fell_back += r.fell_back;
            total.held += r.held;
            total.paused |= r.paused;
            if r.claimed == 0 || r.paused || r.sent + r.fell_back == 0 {
                break;
            }
        }
        println!(
            "queued {} new messages; sent {}, retrying {}, failed {}, fell back to email {}, held {}{}",
            wave.queued,
            total.sent,
            total.retried,
            total.failed,
            total.fell_back,
            total.held,
            if total.paused {
                " (every delivery is paused: `winventory resume --all`)"
            } else {
                ""
            }
        );
        return Ok(0);
    }
    let health = crate::supervise::Health::new();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = vec![spawn_scheduler(&health, e.clone(), rx.clone())];
    // The process that delivers by Matrix also listens there (one device).
    if let Some(m) = matrix {
        let h = health.optional("matrix");
        tasks.push(tokio::spawn(m.listen(e.clone(), h, rx.clone())));
    }
    if let Some(m) = mattermost {
        let h = health.optional("mattermost");
        tasks.push(tokio::spawn(m.listen(
            e.clone(),
            settings.admin_groups.clone(),
            h,
            rx.clone(),
        )));
    }
    tasks.push(spawn_delivery(&health, w, rx));
    shutdown_signal().await;
    health.stopping();
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(0)
}

/// How long the delivery and scheduler loops may go without a successful
/// step before readiness calls them stuck (a step can take minutes: a batch
/// of slow SMTP exchanges, a wave over 100,000 machines).
const STUCK_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// The delivery loop: drain the outbox, idle half a second when nothing is
/// due, wait out database outages (outcomes of sends are kept until they
/// can be recorded, see [`Worker::run_once`]).
fn spawn_delivery(
    health: &Arc<crate::supervise::Health>,
    worker: Worker,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use crate::supervise::{Pace, run_loop};
    let worker = Arc::new(tokio::sync::Mutex::new(worker));
    let handle = health.handle("delivery", Some(STUCK_AFTER));
    tokio::spawn(run_loop(handle, stop, false, move || {
        let worker = worker.clone();
        async move {
            let r = worker.lock().await.run_once().await?;
            Ok(if r.claimed == 0 || r.paused {
                Pace::Idle(std::time::Duration::from_millis(500))
            } else {
                Pace::Again
            })
        }
    }))
}

/// The scheduler: plan a wave every minute.
fn spawn_scheduler(
    health: &Arc<crate::supervise::Health>,
    e: Engine,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use crate::supervise::{Pace, run_loop};
    let handle = health.handle("scheduler", Some(STUCK_AFTER));
    tokio::spawn(run_loop(handle, stop, true, move || {
        let e = e.clone();
        async move {
            let w = e.tick(now()).await?;
            if w.queued > 0 {
                tracing::info!(queued = w.queued, "wave planned");
            }
            Ok(Pace::Idle(std::time::Duration::from_secs(60)))
        }
    }))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The snapshots waiting in a drop folder, oldest name first.
fn dropped_files(folder: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !n.starts_with('.')
                && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz") || n.ends_with(".json.gz"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Ingest the drop folder on its schedule: every waiting snapshot in one run
/// (the latest report wins across them), then move them to `done/`. A run
/// that failed (exit 2: unreadable or cut-off input) leaves them in place for
/// the next run, which completes the rest (the CLI's semantics). A run that
/// could not start (database away, folder unreadable) is retried with
/// backoff, not left to the next scheduled time.
fn spawn_drop_folder(
    health: &Arc<crate::supervise::Health>,
    state: Arc<crate::server::AppState>,
    folder: PathBuf,
    schedule: cron::Schedule,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use crate::supervise::{Pace, StepError, run_loop};
    let handle = health.handle("drop-folder", None);
    let retry = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let wait_stop = stop.clone();
    tokio::spawn(run_loop(handle, stop, false, move || {
        let (state, folder, schedule, retry) = (
            state.clone(),
            folder.clone(),
            schedule.clone(),
            retry.clone(),
        );
        let mut stop = wait_stop.clone();
        async move {
            if !retry.swap(false, std::sync::atomic::Ordering::Relaxed) {
                let Some(next) = schedule.upcoming(Utc).next() else {
                    return Ok(Pace::Idle(std::time::Duration::from_secs(3600)));
                };
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return Ok(Pace::Again),
                }
            }
            let result = ingest_drop_folder(&state, &folder).await;
            if result.is_err() {
                retry.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            result.map(|()| Pace::Again).map_err(StepError::from)
        }
    }))
}

/// One run over the drop folder.
async fn ingest_drop_folder(
    state: &crate::server::AppState,
    folder: &std::path::Path,
) -> Result<()> {
    let files = dropped_files(folder)
        .with_context(|| format!("cannot read the drop folder {}", folder.display()))?;
    if files.is_empty() {
        return Ok(());
    }
    let _guard = state.ingest_lock.lock().await;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let summary =
        crate::commands::ingest_files(&state.settings, state.engine.store.clone(), &names, now())
            .await
            .context("the scheduled ingest could not start")?;
    tracing::info!(
        files = files.len(),
        accepted = summary.accepted,
        rejected = summary.rejected,
        new = summary.machines_new,
        updated = summary.machines_updated,
        "scheduled ingest done"
    );
    if summary.exit_code() == 2 {
        tracing::error!(failures = ?summary.failures, "the scheduled ingest failed; the files stay for the next run");
        return Ok(());
    }
    let done = folder.join("done");
    std::fs::create_dir_all(&done).with_context(|| format!("cannot create {}", done.display()))?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("snapshot");
        if let Err(e) = std::fs::rename(&f, done.join(format!("{stamp}-{name}"))) {
            tracing::error!(file = %f.display(), error = %e, "cannot move an ingested snapshot to done/");
        }
    }
    Ok(())
}

/// `winventory serve`: HTTP server, scheduler and delivery worker in one process.
pub async fn serve(settings: &Settings, no_worker: bool) -> Result<u8> {
    let e = engine(settings).await?;
    if e.signer.is_none() {
        bail!(winventory_workflows::engine::EngineError::NoKeys);
    }
    // Every connection is a file descriptor: take what the system allows.
    crate::listener::raise_open_files_limit();
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; set WINVENTORY_LISTEN or listen",
                settings.listen
            )
        })?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    let health = crate::supervise::Health::new();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let mattermost = crate::mattermost::MattermostChannel::connect(settings, e.store.clone())
        .await?
        .map(Arc::new);
    if !no_worker {
        let (list, matrix) = channels(settings, e.store.clone(), mattermost.clone()).await?;
        let w = Worker::new(e.store.clone(), list, delivery_config(settings)).at(fixed_clock());
        if let Some(m) = matrix {
            let h = health.optional("matrix");
            tasks.push(tokio::spawn(m.listen(e.clone(), h, rx.clone())));
        }
        tasks.push(spawn_delivery(&health, w, rx.clone()));
        tasks.push(spawn_scheduler(&health, e.clone(), rx.clone()));
    }
    // Mattermost conversation belongs to the edge: it runs with or without
    // the worker (it holds no device, unlike Matrix).
    if let Some(mm) = &mattermost {
        let h = health.optional("mattermost");
        tasks.push(tokio::spawn(mm.clone().listen(
            e.clone(),
            settings.admin_groups.clone(),
            h,
            rx.clone(),
        )));
    }
    let state = Arc::new(crate::server::AppState {
        engine: e,
        settings: settings.clone(),
        ingest_lock: tokio::sync::Mutex::new(()),
        mattermost,
        health: health.clone(),
    });
    if let Some(folder) = settings.drop_folder.clone() {
        let schedule = winventory_workflows::spec::parse_cron(&settings.ingest_schedule)
            .map_err(|m| anyhow::anyhow!("ingest_schedule: {m}"))?;
        eprintln!(
            "ingesting {} on \"{}\" (UTC)",
            folder.display(),
            settings.ingest_schedule
        );
        tasks.push(spawn_drop_folder(
            &health,
            state.clone(),
            folder,
            schedule,
            rx.clone(),
        ));
    }
    let mut stop_rx = rx.clone();
    let server = tokio::spawn(crate::server::run(listener, state, async move {
        let _ = stop_rx.changed().await;
    }));
    shutdown_signal().await;
    health.stopping();
    let _ = tx.send(true);
    server.await??;
    for t in tasks {
        let _ = t.await;
    }
    Ok(0)
}
