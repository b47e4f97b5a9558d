//! Licence commands: `report licences`, `licence check`, `licence whatif`
//! and `licence removals`. They read the site's licence file (`--licences FILE`, the
//! `licences` setting or `WINVENTORY_LICENCES`), check it against the
//! catalog, and compute the figures with `winventory_core::licence`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rust_decimal::Decimal;
use winventory_core::catalog::Catalog;
use winventory_core::domain::AsOf;
use winventory_core::licence::{
    self, Coverage, LicenceBook, LicenceRow, Model, Period, RemovalStatus, WhatIf,
};
use winventory_core::store::Store;

use crate::app::App;
use crate::cli::output::outln;
use crate::cli::output::{self as render, Format, SummaryFormat};
use crate::cli::reports::check_as_of;

/// What `licence whatif` changes.
#[derive(Debug, Clone, Default)]
pub struct WhatIfAsk {
    /// New price per seat and period.
    pub price: Option<Decimal>,
    /// New period of the price.
    pub period: Option<Period>,
    /// New model.
    pub model: Option<Model>,
    /// Drop installs not used for this many days.
    pub drop_unused: Option<u32>,
    /// Drop installs on stale machines.
    pub drop_stale: bool,
    /// Drop what licence campaigns' owners answered no longer needed.
    pub drop_answered: bool,
}

/// A what-if of licence `what` at `as_of`: the licence and the simulated
/// figures (what `licence whatif --format json` prints, and the API).
pub async fn what_if(
    app: &App,
    what: &str,
    asked: &WhatIfAsk,
    licences: Option<&Path>,
    as_of: &AsOf,
) -> Result<(licence::Licence, licence::WhatIfResult)> {
    let store = app.store.clone();
    let catalog = app.catalog.clone();
    let book = load(app, licences, &catalog)?;
    let Some(l) = book.find(what, as_of.date) else {
        bail!(
            "no licence named {what:?} (or covering it) in the licence file; `winventory report licences` lists them"
        );
    };
    if let Some(p) = asked.price
        && let Err(e) = licence::check_price(p, Some(l.currency))
    {
        bail!("price: {e}");
    }
    let hs = store
        .licence_holders(std::slice::from_ref(&l.covers), as_of.window())
        .await?;
    let groups = store.group_memberships().await?;
    let drop_machines = if asked.drop_answered {
        winventory_workflows::licence::removals_as_of(store.as_ref(), as_of)
            .await?
            .into_iter()
            .filter(|r| l.covers == Coverage::Application(r.application.clone()))
            .map(|r| r.machine_id)
            .collect()
    } else {
        Default::default()
    };
    let changes = WhatIf {
        price: asked.price,
        period: asked.period,
        model: asked.model,
        drop_unused_days: asked.drop_unused.map(i64::from),
        drop_stale: asked.drop_stale,
        drop_machines,
    };
    let r = licence::what_if(
        l,
        &hs,
        &changes,
        as_of.fresh_cutoff(),
        as_of.instant,
        &groups,
    );
    Ok((l.clone(), r))
}

/// `winventory licence ...`.
#[derive(Debug, Subcommand)]
pub enum LicenceCommand {
    /// Check a licence file: every mistake with its line and field; nothing
    /// is stored.
    Check {
        /// The licence file (TOML).
        file: PathBuf,
    },
    /// What a licence would cost with other terms: a new price or period, a
    /// new model, without unused or stale installs. Prints today's yearly cost
    /// beside the simulated one and the difference, per group where the
    /// users have groups.
    Whatif {
        /// The licence: its name, application or product.
        what: String,
        /// New price per seat and period (such as 1800.00).
        #[arg(long, value_name = "AMOUNT")]
        price: Option<Decimal>,
        /// New period of the price: year, month or perpetual.
        #[arg(long, value_parser = parse_period)]
        period: Option<Period>,
        /// New model: per_device, per_user, site, subscription or concurrent.
        #[arg(long, value_parser = parse_model)]
        model: Option<Model>,
        /// Drop installs not used for this many days (where use is metered).
        #[arg(long, value_name = "DAYS")]
        drop_unused: Option<u32>,
        /// Drop installs on machines that stopped reporting (stale).
        #[arg(long)]
        drop_stale: bool,
        /// Drop installs that licence campaigns' owners answered "no longer
        /// needed" (uninstall or remove), whether or not they are gone yet.
        #[arg(long)]
        drop_answered: bool,
        /// The licence file (default: the `licences` setting).
        #[arg(long, value_name = "FILE")]
        licences: Option<PathBuf>,
        /// Look at the end of this date (YYYY-MM-DD, UTC) instead of now.
        #[arg(long, value_name = "DATE", value_parser = winventory_core::parse_ymd)]
        as_of: Option<chrono::NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
    },
    /// The installs licence campaigns found no longer needed, for the team
    /// that uninstalls remotely: by default the ones owners asked the IT team
    /// to remove and those still installed after the promised date; with
    /// `--status confirmed`, those a later snapshot shows gone (the savings).
    Removals {
        /// Only this campaign (name or id).
        #[arg(long)]
        campaign: Option<String>,
        /// Which removals: todo (pending and overdue), confirmed, or all.
        #[arg(long, value_enum, default_value_t = RemovalFilter::Todo)]
        status: RemovalFilter,
        /// Output format (table, json or csv).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Which removals `licence removals` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RemovalFilter {
    /// Not yet seen gone: pending answers and overdue promises.
    Todo,
    /// Seen gone by a later snapshot.
    Confirmed,
    /// Everything.
    All,
}

fn parse_period(s: &str) -> Result<Period, String> {
    Period::parse(s).ok_or_else(|| format!("{s:?}: use year, month or perpetual"))
}

fn parse_model(s: &str) -> Result<Model, String> {
    Model::parse(s)
        .ok_or_else(|| format!("{s:?}: use per_device, per_user, site, subscription or concurrent"))
}

/// The licence file named by `--licences` or the settings.
pub fn load(app: &App, over: Option<&Path>, catalog: &Catalog) -> Result<LicenceBook> {
    let Some(path) = over.or(app.settings.licences.as_deref()) else {
        bail!(
            "no licence file: pass --licences FILE or set WINVENTORY_LICENCES (docs/licences.md shows one)"
        );
    };
    crate::app::load_licences(path, catalog)
}

/// The licence report's rows at `as_of`.
pub async fn rows(store: &dyn Store, book: &LicenceBook, as_of: &AsOf) -> Result<Vec<LicenceRow>> {
    Ok(winventory_workflows::licence::rows(store, book, as_of, as_of.date).await?)
}

const COLUMNS: &[&str] = &[
    "licence",
    "covers",
    "model",
    "machines",
    "users",
    "user unknown",
    "seats",
    "in use",
    "compliance",
    "yearly cost",
    "unused 90d",
    "use unknown",
    "contract end",
    "removed",
    "pending",
    "yearly savings",
];

/// `winventory report licences`.
pub async fn report(app: &App, as_of: &AsOf, file: Option<&Path>, format: Format) -> Result<u8> {
    let store = app.store.clone();
    check_as_of(store.as_ref(), as_of).await?;
    let catalog = app.catalog.clone();
    let book = load(app, file, &catalog)?;
    let rows = rows(store.as_ref(), &book, as_of).await?;
    render::rows(format, &rows, COLUMNS, |r| {
        vec![
            r.licence.clone(),
            r.covers.clone(),
            r.model.to_string(),
            r.machines.to_string(),
            r.users.to_string(),
            r.user_unknown.to_string(),
            r.seats.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            r.in_use.to_string(),
            r.compliance.to_string(),
            format!("{} {}", r.yearly_cost, r.currency),
            r.unused.to_string(),
            r.use_unknown.to_string(),
            match (r.contract_end, r.renewal_due) {
                (Some(d), true) => format!("{d} (renewal due)"),
                (Some(d), false) => d.to_string(),
                (None, _) => "-".into(),
            },
            r.removals_confirmed.to_string(),
            r.removals_pending.to_string(),
            format!("{} {}", r.yearly_savings, r.currency),
        ]
    })?;
    if format == Format::Table && rows.is_empty() {
        eprintln!("no licence in the file runs on {}", as_of.date);
    }
    Ok(0)
}

/// `winventory licence ...`.
pub async fn run(app: &App, cmd: LicenceCommand) -> Result<u8> {
    match cmd {
        LicenceCommand::Check { file } => {
            let _store = app.store.clone();
            let catalog = app.catalog.clone();
            let book = crate::app::load_licences(&file, &catalog)?;
            outln!(
                "{}: {} licence{} checked, no mistakes",
                file.display(),
                book.licences.len(),
                if book.licences.len() == 1 { "" } else { "s" }
            );
            Ok(0)
        }
        LicenceCommand::Whatif {
            what,
            price,
            period,
            model,
            drop_unused,
            drop_stale,
            drop_answered,
            licences,
            as_of,
            format,
        } => {
            let as_of = match as_of {
                Some(d) => AsOf::end_of(d, app.settings.freshness_days),
                None => AsOf::at(app.clock.now(), app.settings.freshness_days),
            };
            check_as_of(app.store.as_ref(), &as_of).await?;
            let asked = WhatIfAsk {
                price,
                period,
                model,
                drop_unused,
                drop_stale,
                drop_answered,
            };
            let (l, r) = what_if(app, &what, &asked, licences.as_deref(), &as_of).await?;
            let l = &l;
            if format == SummaryFormat::Json {
                render::json(&r)?;
                return Ok(0);
            }
            let c = r.currency;
            outln!(
                "{} ({}): {} seats at {} {c} per {}, {}",
                l.name,
                l.covers,
                l.seats
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unlimited".into()),
                l.price,
                l.period,
                l.model.as_str()
            );
            outln!(
                "today:      {} {c} a year ({} seats owned, {} in use counting stale machines{})",
                r.cost_today,
                r.seats_today
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unlimited".into()),
                r.in_use_today,
                match r.user_unknown {
                    0 => String::new(),
                    n => format!(
                        "; {n} machine{} with it: user unknown, no per-user seat",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            );
            outln!(
                "simulated:  {} {c} a year ({} seats needed, {}, {} {c} per {})",
                r.cost_simulated,
                r.seats_simulated,
                r.model_simulated,
                price.unwrap_or(l.price),
                period.unwrap_or(l.period)
            );
            let sign = if r.difference.is_sign_positive() && !r.difference.is_zero() {
                "+"
            } else {
                ""
            };
            outln!("difference: {sign}{} {c} a year", r.difference);
            if !r.groups.is_empty() {
                render::rows(
                    Format::Table,
                    &r.groups,
                    &[
                        "group",
                        "seats today",
                        "seats simulated",
                        "cost today",
                        "cost simulated",
                    ],
                    |g| {
                        vec![
                            g.group.clone(),
                            g.seats_today.to_string(),
                            g.seats_simulated.to_string(),
                            format!("{} {c}", g.cost_today),
                            format!("{} {c}", g.cost_simulated),
                        ]
                    },
                )?;
            }
            Ok(0)
        }
        LicenceCommand::Removals {
            campaign,
            status,
            format,
        } => {
            let store = app.store.clone();
            let mut list = winventory_workflows::licence::removals(store.as_ref()).await?;
            if let Some(c) = &campaign {
                let row = store
                    .campaigns()
                    .await?
                    .into_iter()
                    .find(|r| r.name == *c || r.id.to_string() == *c)
                    .with_context(|| {
                        format!("no campaign named {c:?}; `winventory campaign list` shows them")
                    })?;
                list.retain(|r| r.campaign == row.name);
            }
            list.retain(|r| match status {
                RemovalFilter::Todo => r.status != RemovalStatus::Confirmed,
                RemovalFilter::Confirmed => r.status == RemovalStatus::Confirmed,
                RemovalFilter::All => true,
            });
            render::rows(
                format,
                &list,
                &[
                    "host",
                    "application",
                    "status",
                    "answer",
                    "answered by",
                    "promised",
                    "confirmed at",
                    "campaign",
                ],
                |r| {
                    vec![
                        r.hostname.clone(),
                        r.application.clone(),
                        r.status.as_str().to_string(),
                        r.answer.clone().unwrap_or_default(),
                        r.answered_by.clone().unwrap_or_default(),
                        r.promised.map(|d| d.to_string()).unwrap_or_default(),
                        r.confirmed_at
                            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                            .unwrap_or_default(),
                        r.campaign.clone(),
                    ]
                },
            )?;
            if format == Format::Table && list.is_empty() {
                eprintln!("no removals to list");
            }
            Ok(0)
        }
    }
}
