//! The chat command set, parsed and executed once for every chat channel:
//! `help`, `mine`, `machine HOST`, `owner LOGIN`, `eol [within DAYS]
//! [PRODUCT]`, `campaign list | status ID | remind ID | pause ID | resume
//! ID`, `stats`. Each channel renders the [`Output`] its own way (an HTML
//! table with a plain-text body in Matrix, Markdown in Mattermost).
//!
//! Authorisation is the one role model (`winventory_core::access`): each
//! command needs a permission of the table (reads need "read fleet",
//! pause/resume/remind "manage campaigns", a licence manager on licence
//! campaigns only, `licence` "licence report"), checked before anything is
//! looked up; an owner may ask about their own machines only (`mine`,
//! `machine` for a machine they are responsible for or the main user of,
//! `owner` for themselves); anyone else gets a polite refusal. Every command
//! and its outcome goes to the audit log.

use chrono::{DateTime, Utc};
use winventory_core::access::Permission;
use winventory_core::store::{AuditEntry, CampaignState};
use winventory_core::{AsOf, report};

use crate::engine::Engine;
use crate::engine::states::MachineState;

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// What the bot understands.
    Help,
    /// The caller's machines and open questions.
    Mine,
    /// One machine.
    Machine(String),
    /// One person's machines.
    Owner(String),
    /// Cycles past (or reaching) their end of life.
    Eol {
        /// Days ahead.
        within: u32,
        /// Only this product.
        product: Option<String>,
    },
    /// Campaigns.
    CampaignList,
    /// One campaign's progress.
    CampaignStatus(String),
    /// Pause a campaign.
    CampaignPause(String),
    /// Resume a campaign.
    CampaignResume(String),
    /// Remind the silent of a campaign in the next wave.
    CampaignRemind(String),
    /// Inventory counts.
    Stats,
    /// One licence's figures: installs, users, seats, compliance, cost.
    Licence(String),
}

impl Command {
    /// The audit log's action and target of this command.
    pub fn action(&self) -> (&'static str, String) {
        match self {
            Command::Help => ("help", String::new()),
            Command::Mine => ("mine", String::new()),
            Command::Machine(h) => ("machine", h.clone()),
            Command::Owner(l) => ("owner", l.clone()),
            Command::Eol { product, .. } => ("eol", product.clone().unwrap_or_default()),
            Command::CampaignList => ("campaign list", String::new()),
            Command::CampaignStatus(c) => ("campaign status", c.clone()),
            Command::CampaignPause(c) => ("campaign pause", c.clone()),
            Command::CampaignResume(c) => ("campaign resume", c.clone()),
            Command::CampaignRemind(c) => ("campaign remind", c.clone()),
            Command::Stats => ("stats", String::new()),
            Command::Licence(p) => ("licence", p.clone()),
        }
    }
}

/// Why a line is not a command, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a command word.
    #[error("I do not know {0:?}; type \"help\" for what I understand")]
    Unknown(String),
    /// A command missing its argument.
    #[error("{0}")]
    Usage(&'static str),
}

/// Parse a command line (without any `!winv` prefix).
pub fn parse(line: &str) -> Result<Command, CommandError> {
    // A trailing `page N` chooses the page of the answer, not the command.
    let (line, _) = split_page(line);
    let words: Vec<&str> = line.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let arg = |i: usize, usage: &'static str| {
        words
            .get(i)
            .map(|w| w.to_string())
            .ok_or(CommandError::Usage(usage))
    };
    match lower.first().map(String::as_str) {
        Some("help" | "aide" | "?") => Ok(Command::Help),
        Some("mine" | "my") => Ok(Command::Mine),
        Some("machine" | "host") => Ok(Command::Machine(arg(1, "machine HOST")?)),
        Some("owner" | "user") => Ok(Command::Owner(arg(1, "owner LOGIN")?)),
        Some("stats") => Ok(Command::Stats),
        Some("licence" | "license") => {
            let what = words[1..].join(" ");
            if what.is_empty() {
                Err(CommandError::Usage("licence PRODUCT"))
            } else {
                Ok(Command::Licence(what))
            }
        }
        Some("eol") => {
            let mut within = 0;
            let mut product = None;
            let mut i = 1;
            while i < words.len() {
                if lower[i] == "within" {
                    within = words
                        .get(i + 1)
                        .and_then(|d| d.parse().ok())
                        .ok_or(CommandError::Usage("eol [within DAYS] [PRODUCT]"))?;
                    i += 2;
                } else {
                    product = Some(lower[i].clone());
                    i += 1;
                }
            }
            Ok(Command::Eol { within, product })
        }
        Some("campaign" | "campaigns") => {
            let usage = "campaign list | status ID | remind ID | pause ID | resume ID";
            match lower.get(1).map(String::as_str) {
                None | Some("list") => Ok(Command::CampaignList),
                Some("status") => Ok(Command::CampaignStatus(arg(2, usage)?)),
                Some("pause") => Ok(Command::CampaignPause(arg(2, usage)?)),
                Some("resume") => Ok(Command::CampaignResume(arg(2, usage)?)),
                Some("remind") => Ok(Command::CampaignRemind(arg(2, usage)?)),
                Some(_) => Err(CommandError::Usage(usage)),
            }
        }
        Some(_) => Err(CommandError::Unknown(words[0].to_string())),
        None => Ok(Command::Help),
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Their login in the directory.
    pub login: String,
    /// Their roles (the site's `[roles]` from their directory groups; the
    /// chat-only `admin_groups` give `admin`).
    pub roles: std::collections::BTreeSet<winventory_core::access::Role>,
}

impl Caller {
    /// Whether one of their roles has `p` (the one permission table).
    pub fn may(&self, p: Permission) -> bool {
        self.roles
            .iter()
            .any(|r| winventory_core::access::allows(*r, p))
    }

    /// Their roles as the audit log writes them.
    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What a command needs of the permission table, beyond what every person
/// may ask about themselves (help, their machines).
fn needs(cmd: &Command) -> Option<Permission> {
    match cmd {
        Command::Help | Command::Mine | Command::Machine(_) | Command::Owner(_) => None,
        Command::Eol { .. }
        | Command::CampaignList
        | Command::CampaignStatus(_)
        | Command::Stats => Some(Permission::ReadFleet),
        Command::CampaignPause(_) | Command::CampaignResume(_) | Command::CampaignRemind(_) => {
            Some(Permission::ManageLicenceCampaigns)
        }
        Command::Licence(_) => Some(Permission::ReadLicences),
    }
}

/// What a command produced, for a channel to render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// A line above the table (or the whole answer).
    pub title: String,
    /// Table header (empty: no table).
    pub header: Vec<String>,
    /// Table rows.
    pub rows: Vec<Vec<String>>,
}

impl Output {
    fn text(t: impl Into<String>) -> Self {
        Self {
            title: t.into(),
            ..Self::default()
        }
    }

    /// Plain text: the title, then the table in aligned columns.
    pub fn plain(&self) -> String {
        let mut out = self.title.clone();
        if self.header.is_empty() {
            return out;
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        for r in std::iter::once(&self.header).chain(&self.rows) {
            out.push('\n');
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
                .collect();
            out.push_str(cells.join("  ").trim_end());
        }
        out
    }

    /// Markdown (Mattermost): the title, then the table as a Markdown table
    /// (pipes and line breaks in cells escaped so a cell stays a cell).
    pub fn markdown(&self) -> String {
        let mut out = self.title.clone();
        if self.header.is_empty() {
            return out;
        }
        let cell = |c: &str| {
            c.replace('\\', "\\\\")
                .replace('|', "\\|")
                .replace(['\n', '\r'], " ")
        };
        let row = |r: &[String]| {
            format!(
                "| {} |",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            )
        };
        out.push_str("\n\n");
        out.push_str(&row(&self.header));
        out.push('\n');
        out.push_str(&format!("|{}", "---|".repeat(self.header.len())));
        for r in &self.rows {
            out.push('\n');
            out.push_str(&row(r));
        }
        out
    }

    /// HTML: the title as a paragraph, the table as a table.
    pub fn html(&self) -> String {
        let esc = |s: &str| minijinja::HtmlEscape(s).to_string();
        let mut out = format!("<p>{}</p>", esc(&self.title).replace('\n', "<br>"));
        if !self.header.is_empty() {
            out.push_str("<table><tr>");
            for h in &self.header {
                out.push_str(&format!("<th>{}</th>", esc(h)));
            }
            out.push_str("</tr>");
            for r in &self.rows {
                out.push_str("<tr>");
                for c in r {
                    out.push_str(&format!("<td>{}</td>", esc(c)));
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        }
        out
    }
}

/// Rows shown at most; longer answers say how many were left out.
pub const MAX_ROWS: usize = 50;

const REFUSED: &str = "Sorry, only the IT team's admins may do that.";

/// The help text.
pub fn help(admin: bool) -> String {
    let mut s = String::from(
        "I understand:\n\
         - mine: your machines and what I am waiting for from you\n\
         - machine HOST: one of your machines\n\
         - owner LOGIN: your own machines (LOGIN is you)\n\
         - answers to my questions, e.g. \"PC042 upgrade by 2027-03-01\" or \"all decommission\"",
    );
    if admin {
        s.push_str(
            "\nAs an admin also:\n\
             - machine HOST, owner LOGIN: any machine or person\n\
             - eol [within DAYS] [PRODUCT]: what has reached (or will reach) its end of life\n\
             - campaign list | status ID | remind ID | pause ID | resume ID\n\
             - licence PRODUCT: installs, users, seats, compliance and cost of a licence\n\
             - stats: inventory counts\n\
             Long answers come in pages of 50: add \"page 2\" to the command for the next.",
        );
    }
    s
}

/// Split a trailing `page N` off a command line: the line without it and
/// the page (1 when absent).
pub fn split_page(line: &str) -> (&str, usize) {
    // Cut at whitespace found in the line itself: lower-casing may change
    // byte lengths (the Kelvin sign, a dotted capital I), so an index found
    // in a lower-cased copy is no index into the line (found by fuzzing).
    let Some((rest, n)) = line.trim_end().rsplit_once(char::is_whitespace) else {
        return (line, 1);
    };
    let rest = rest.trim_end();
    let (base, p) = rest.rsplit_once(char::is_whitespace).unwrap_or(("", rest));
    match n.parse::<usize>() {
        Ok(n) if n >= 1 && p.eq_ignore_ascii_case("page") => (base.trim_end(), n),
        _ => (line, 1),
    }
}

/// Page `n` (from 1) of an answer: MAX_ROWS rows, and the title says which
/// page it is and how to ask for the next.
fn page(mut out: Output, n: usize, typed: &str) -> Output {
    let total = out.rows.len();
    if total > MAX_ROWS || n > 1 {
        let pages = total.div_ceil(MAX_ROWS).max(1);
        let n = n.min(pages);
        out.rows = out.rows.split_off(((n - 1) * MAX_ROWS).min(total));
        out.rows.truncate(MAX_ROWS);
        out.title
            .push_str(&format!(" (page {n} of {pages}, {total} rows"));
        if n < pages {
            let (base, _) = split_page(typed);
            out.title
                .push_str(&format!("; type \"{base} page {}\" for more", n + 1));
        }
        out.title.push(')');
    }
    out
}

impl Engine {
    /// Run a command for `caller`, within what they may do, and write it
    /// with its outcome to the audit log.
    pub async fn run_command(
        &self,
        caller: &Caller,
        channel: &str,
        origin: &str,
        typed: &str,
        cmd: &Command,
        now: DateTime<Utc>,
    ) -> Output {
        let (_, wanted) = split_page(typed);
        let (out, outcome) = match self.execute(caller, cmd, now).await {
            Ok(Some(out)) => {
                let o = format!("done: {} rows", out.rows.len());
                (page(out, wanted, typed), o)
            }
            Ok(None) => (Output::text(REFUSED), "refused".to_string()),
            Err(e) => {
                tracing::error!(error = %e, command = typed, "a chat command failed");
                (
                    Output::text(
                        "Something went wrong on my side; please try again in a few minutes.",
                    ),
                    format!("error: {e}"),
                )
            }
        };
        let (action, target) = cmd.action();
        let entry = AuditEntry {
            at: now,
            channel: channel.into(),
            actor: caller.login.clone(),
            role: caller.roles_text(),
            action: action.into(),
            target: target.chars().take(200).collect(),
            command: typed.chars().take(500).collect(),
            outcome,
            origin: origin.chars().take(200).collect(),
        };
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(error = %e, "cannot write the audit log");
        }
        out
    }

    /// Whether `caller` may manage campaign `id`: a campaign manager any, a
    /// licence manager licence campaigns only (an unknown campaign is
    /// theirs to be told about).
    async fn may_manage(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<bool, crate::engine::EngineError> {
        if caller.may(Permission::ManageCampaigns) {
            return Ok(true);
        }
        Ok(match self.store.campaign(id).await? {
            Some(c) => c.kind == "licence",
            None => true,
        })
    }

    /// `Ok(None)`: not allowed.
    async fn execute(
        &self,
        caller: &Caller,
        cmd: &Command,
        now: DateTime<Utc>,
    ) -> Result<Option<Output>, crate::engine::EngineError> {
        // Permission before anything is looked up.
        if needs(cmd).is_some_and(|p| !caller.may(p)) {
            return Ok(None);
        }
        let as_of = AsOf::at(now, self.config.freshness_days);
        let lc =
            |l: Option<winventory_core::Lifecycle>| l.map(|l| l.to_string()).unwrap_or_default();
        Ok(Some(match cmd {
            Command::Help => {
                let example = self
                    .open_machines_of(&caller.login)
                    .await?
                    .first()
                    .and_then(|(_, ms)| ms.first())
                    .map_or_else(|| "PC042".to_string(), |m| m.hostname.clone());
                Output::text(format!(
                    "{}\n\n{}",
                    help(caller.may(Permission::ReadFleet)),
                    crate::reply::help(&example)
                ))
            }
            Command::Mine | Command::Owner(_) => {
                let login = match cmd {
                    Command::Owner(l) => winventory_core::normalize_login(l).unwrap_or_default(),
                    _ => caller.login.clone(),
                };
                if login != caller.login && !caller.may(Permission::ReadFleet) {
                    return Ok(None);
                }
                let r =
                    report::owner_report(self.store.as_ref(), &self.catalog, &login, &as_of, 180)
                        .await?;
                let open: usize = self
                    .open_machines_of(&login)
                    .await?
                    .iter()
                    .map(|(_, ms)| {
                        ms.iter()
                            .filter(|m| MachineState::of(m) == MachineState::Open)
                            .count()
                    })
                    .sum();
                Output {
                    title: format!(
                        "{} machines of {}; {} waiting for an answer",
                        r.machines.len(),
                        login,
                        open
                    ),
                    header: ["machine", "role", "runs", "end of life"]
                        .map(String::from)
                        .to_vec(),
                    rows: r
                        .machines
                        .iter()
                        .map(|m| {
                            vec![
                                m.hostname.clone(),
                                m.roles.join(", "),
                                m.label.clone().or(m.cycle.clone()).unwrap_or_default(),
                                lc(m.eol),
                            ]
                        })
                        .collect(),
                }
            }
            Command::Machine(host) => {
                let Some(m) =
                    report::machine_report(self.store.as_ref(), &self.catalog, host, &as_of)
                        .await?
                else {
                    // Owners are not told whether a machine they cannot see exists.
                    return Ok(if caller.may(Permission::ReadFleet) {
                        Some(Output::text(format!("No machine {host} is known.")))
                    } else {
                        None
                    });
                };
                let mine = [&m.responsible, &m.main_user]
                    .into_iter()
                    .flatten()
                    .any(|o| o.login == caller.login);
                if !mine && !caller.may(Permission::ReadFleet) {
                    return Ok(None);
                }
                let who = |o: &Option<report::OwnerView>| {
                    o.as_ref()
                        .map(|o| format!("{} ({})", o.login, o.source))
                        .unwrap_or_else(|| "-".into())
                };
                Output {
                    title: format!(
                        "{}: {} ({}), end of life {}; last report {}{}",
                        m.hostname,
                        m.os.caption,
                        m.label
                            .clone()
                            .or(m.cycle.clone())
                            .unwrap_or_else(|| "not matched".into()),
                        lc(m.eol),
                        m.last_report.format("%Y-%m-%d"),
                        if m.stale { " (stale)" } else { "" }
                    ),
                    header: ["responsible", "main user", "programs"]
                        .map(String::from)
                        .to_vec(),
                    rows: vec![vec![
                        who(&m.responsible),
                        who(&m.main_user),
                        m.software.len().to_string(),
                    ]],
                }
            }
            Command::Eol { within, product } => {
                let rows =
                    report::eol_report(self.store.as_ref(), &self.catalog, &as_of, *within).await?;
                Output {
                    title: format!(
                        "Past their end of life{}:",
                        if *within > 0 {
                            format!(" within {within} days")
                        } else {
                            String::new()
                        }
                    ),
                    header: ["kind", "release", "end of life", "machines"]
                        .map(String::from)
                        .to_vec(),
                    rows: rows
                        .iter()
                        .filter(|r| {
                            product.as_ref().is_none_or(|p| {
                                r.product == *p
                                    || self
                                        .catalog
                                        .product_name(&r.product)
                                        .is_some_and(|n| n.to_lowercase() == *p)
                            })
                        })
                        .map(|r| {
                            vec![
                                r.kind.to_string(),
                                r.label
                                    .clone()
                                    .unwrap_or_else(|| format!("{} {}", r.product, r.cycle)),
                                lc(r.eol),
                                r.machines.to_string(),
                            ]
                        })
                        .collect(),
                }
            }
            Command::CampaignList => {
                let rows = self.store.campaigns().await?;
                Output {
                    title: format!("{} campaigns:", rows.len()),
                    header: ["id", "name", "state", "kind"].map(String::from).to_vec(),
                    rows: rows
                        .iter()
                        .map(|c| {
                            vec![
                                c.id.to_string(),
                                c.name.clone(),
                                c.state.as_str().into(),
                                c.kind.clone(),
                            ]
                        })
                        .collect(),
                }
            }
            Command::CampaignStatus(id) => match self.status(id, now).await {
                Ok(s) if s.is_draft() => Output::text(format!(
                    "{} ({}), deadline {} ({} days left)",
                    s.campaign,
                    s.state_text(),
                    s.deadline,
                    s.days_left
                )),
                Ok(s) => Output {
                    title: format!(
                        "{} ({}), deadline {} ({} days left): {} targets, {} messaged, {} open, {} resolved, {} overdue, {} escalated, {}% done",
                        s.campaign,
                        s.state,
                        s.deadline,
                        s.days_left,
                        s.targets,
                        s.messaged,
                        s.open,
                        s.resolved,
                        s.overdue,
                        s.escalated,
                        s.progress_percent.unwrap_or_default()
                    ),
                    header: ["answer", "machines"].map(String::from).to_vec(),
                    rows: s
                        .answered
                        .iter()
                        .map(|(k, n)| vec![k.clone(), n.to_string()])
                        .collect(),
                },
                Err(e) => Output::text(e.to_string()),
            },
            Command::CampaignPause(id) | Command::CampaignResume(id)
                if !self.may_manage(caller, id).await? =>
            {
                return Ok(None);
            }
            Command::CampaignRemind(id) if !self.may_manage(caller, id).await? => return Ok(None),
            Command::CampaignPause(id) | Command::CampaignResume(id) => {
                let to = if matches!(cmd, Command::CampaignPause(_)) {
                    CampaignState::Paused
                } else {
                    CampaignState::Running
                };
                match self.set_state(id, to, now).await {
                    Ok(c) => Output::text(format!(
                        "Campaign {} is {} now.",
                        c.row.name,
                        c.row.state.as_str()
                    )),
                    Err(e) => Output::text(e.to_string()),
                }
            }
            Command::CampaignRemind(id) => match self.remind(id).await {
                Ok(n) => Output::text(format!(
                    "{n} unanswered machines will be in the next wave's reminders (at most one message a day per person)."
                )),
                Err(e) => Output::text(e.to_string()),
            },
            Command::Licence(what) => {
                let Some(book) = &self.licences else {
                    return Ok(Some(Output::text(
                        "No licence file is configured at this site (the licences setting, WINVENTORY_LICENCES).",
                    )));
                };
                let Some(l) = book.find(what, as_of.date) else {
                    let names: Vec<String> = book
                        .active_on(as_of.date)
                        .map(|l| format!("{} ({})", l.name, l.covers))
                        .collect();
                    return Ok(Some(Output::text(format!(
                        "I know no licence named {what:?}. Licences running today: {}.",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ))));
                };
                let one = winventory_core::licence::LicenceBook {
                    licences: vec![l.clone()],
                };
                // The contract as it stands, even when it does not run today.
                let day = if l.active_on(as_of.date) {
                    as_of.date
                } else {
                    l.start
                };
                let rows = crate::licence::rows(self.store.as_ref(), &one, &as_of, day).await?;
                let Some(r) = rows.first() else {
                    return Ok(Some(Output::text(format!(
                        "{} does not run on {day}.",
                        l.name
                    ))));
                };
                Output {
                    title: format!("Licence {} ({}):", r.licence, r.covers),
                    header: ["what", "value"].map(String::from).to_vec(),
                    rows: [
                        ("model", r.model.to_string()),
                        ("machines with it", r.machines.to_string()),
                        ("distinct users", r.users.to_string()),
                        (
                            "machines with no known user (no per-user seat)",
                            r.user_unknown.to_string(),
                        ),
                        (
                            "seats owned",
                            r.seats
                                .map_or_else(|| "unlimited".into(), |s| s.to_string()),
                        ),
                        ("seats in use", r.in_use.to_string()),
                        ("compliance", r.compliance.to_string()),
                        ("yearly cost", format!("{} {}", r.yearly_cost, r.currency)),
                        ("unused for 90 days", r.unused.to_string()),
                        ("use not metered", r.use_unknown.to_string()),
                        (
                            "removals (confirmed / pending)",
                            format!("{} / {}", r.removals_confirmed, r.removals_pending),
                        ),
                        (
                            "yearly savings",
                            format!(
                                "{} {} ({} seats freed)",
                                r.yearly_savings, r.currency, r.seats_freed
                            ),
                        ),
                        (
                            "contract end",
                            match (r.contract_end, r.renewal_due) {
                                (Some(d), true) => format!("{d} (renewal due)"),
                                (Some(d), false) => d.to_string(),
                                (None, _) => "none".into(),
                            },
                        ),
                    ]
                    .into_iter()
                    .map(|(k, v)| vec![k.to_string(), v])
                    .collect(),
                }
            }
            Command::Stats => {
                let c = self.store.counts().await?;
                Output {
                    title: "Inventory:".into(),
                    header: ["what", "count"].map(String::from).to_vec(),
                    rows: [
                        ("machines", c.machines),
                        ("installations", c.installations),
                        ("distinct programs", c.titles),
                        ("people", c.users),
                    ]
                    .into_iter()
                    .map(|(k, v)| vec![k.to_string(), v.to_string()])
                    .collect(),
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_split_off_lines_whose_lower_case_is_longer_or_shorter() {
        // Found by fuzzing: both panicked when the cut came from a
        // lower-cased copy of the line.
        assert_eq!(split_page("\u{212a} page 1"), ("\u{212a}", 1));
        let dotted = "\u{130}".repeat(10);
        assert_eq!(
            split_page(&format!("{dotted} page 2")),
            (dotted.as_str(), 2)
        );
        assert_eq!(split_page("mine page 3"), ("mine", 3));
        assert_eq!(split_page("eol within 90 PAGE 2 "), ("eol within 90", 2));
        assert_eq!(split_page("page 2"), ("", 2));
        assert_eq!(split_page("mine page 0"), ("mine page 0", 1));
        assert_eq!(split_page("mine"), ("mine", 1));
        assert_eq!(split_page(""), ("", 1));
    }

    #[test]
    fn a_table_in_markdown_keeps_each_cell_a_cell() {
        let out = Output {
            title: "2 machines".into(),
            header: vec!["Host".into(), "Note".into()],
            rows: vec![
                vec!["PC1".into(), "a|b".into()],
                vec!["PC2".into(), "line\nbreak".into()],
            ],
        };
        assert_eq!(
            out.markdown(),
            "2 machines\n\n| Host | Note |\n|---|---|\n| PC1 | a\\|b |\n| PC2 | line break |"
        );
        assert_eq!(Output::text("just this").markdown(), "just this");
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("help"), Ok(Command::Help));
        assert_eq!(parse("Mine"), Ok(Command::Mine));
        assert_eq!(parse("machine PC042"), Ok(Command::Machine("PC042".into())));
        assert_eq!(parse("owner asmith"), Ok(Command::Owner("asmith".into())));
        assert_eq!(
            parse("eol within 90 windows-server"),
            Ok(Command::Eol {
                within: 90,
                product: Some("windows-server".into())
            })
        );
        assert_eq!(parse("campaign"), Ok(Command::CampaignList));
        assert_eq!(
            parse("campaign status retire-2012r2"),
            Ok(Command::CampaignStatus("retire-2012r2".into()))
        );
        assert_eq!(
            parse("campaign pause 3"),
            Ok(Command::CampaignPause("3".into()))
        );
        assert_eq!(parse("stats"), Ok(Command::Stats));
        assert_eq!(
            parse("licence Adobe Acrobat"),
            Ok(Command::Licence("Adobe Acrobat".into()))
        );
        assert_eq!(
            parse("license"),
            Err(CommandError::Usage("licence PRODUCT"))
        );
    }

    #[test]
    fn a_trailing_page_number_chooses_the_page_and_not_the_command() {
        assert_eq!(split_page("eol within 90 page 3"), ("eol within 90", 3));
        assert_eq!(split_page("eol within 90"), ("eol within 90", 1));
        assert_eq!(split_page("machine page"), ("machine page", 1));
        assert_eq!(split_page("stats page 0"), ("stats page 0", 1));
        assert_eq!(
            parse("eol within 90 page 2"),
            Ok(Command::Eol {
                within: 90,
                product: None
            })
        );
    }

    #[test]
    fn long_answers_come_in_pages_that_say_how_to_get_the_next() {
        let out = || Output {
            title: "Machines:".into(),
            header: vec!["host".into()],
            rows: (0..120).map(|i| vec![format!("pc{i}")]).collect(),
        };
        let first = page(out(), 1, "eol");
        assert_eq!(first.rows.len(), MAX_ROWS);
        assert_eq!(first.rows[0][0], "pc0");
        assert_eq!(
            first.title,
            "Machines: (page 1 of 3, 120 rows; type \"eol page 2\" for more)"
        );
        let third = page(out(), 3, "eol page 3");
        assert_eq!(third.rows.len(), 20);
        assert_eq!(third.rows[0][0], "pc100");
        assert_eq!(third.title, "Machines: (page 3 of 3, 120 rows)");
        // Past the end: the last page.
        assert_eq!(page(out(), 9, "eol page 9").rows[0][0], "pc100");
        // Short answers are left alone.
        let short = Output {
            title: "t".into(),
            header: vec![],
            rows: vec![vec!["a".into()]],
        };
        assert_eq!(page(short, 1, "x").title, "t");
    }

    #[test]
    fn missing_arguments_and_unknown_words_say_what_to_type() {
        assert_eq!(parse("machine"), Err(CommandError::Usage("machine HOST")));
        assert!(matches!(
            parse("eol within soon"),
            Err(CommandError::Usage(_))
        ));
        assert!(matches!(
            parse("campaign explode 3"),
            Err(CommandError::Usage(_))
        ));
        assert_eq!(
            parse("reboot all"),
            Err(CommandError::Unknown("reboot".into()))
        );
    }

    #[test]
    fn output_renders_as_aligned_text_and_as_escaped_html() {
        let o = Output {
            title: "2 rows".into(),
            header: vec!["a".into(), "bb".into()],
            rows: vec![
                vec!["<x>".into(), "1".into()],
                vec!["yyyy".into(), "22".into()],
            ],
        };
        assert_eq!(o.plain(), "2 rows\na     bb\n<x>   1\nyyyy  22");
        assert!(o.html().contains("<td>&lt;x&gt;</td>"));
    }
}
