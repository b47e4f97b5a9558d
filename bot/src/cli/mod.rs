//! The command-line edge: the arguments of every command (clap), and the
//! dispatch that builds the [`App`] once from the settings and runs one
//! command. One file per command family: [`ingest`], [`reports`],
//! [`users`], [`catalog`], [`campaigns`], [`licences`], and `bench` behind
//! the `bench` feature; [`output`] prints tables, CSV and JSON.

mod backup;
#[cfg(feature = "bench")]
mod bench;
pub mod campaigns;
mod catalog;
mod ingest;
pub mod licences;
mod manual;
pub mod output;
mod reports;
pub mod sessions;
pub mod tokens;
mod users;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::cli::output::{Format, SummaryFormat};
use crate::clock::Clock;
use crate::settings::{Overrides, Settings};

/// Winventory: what software runs on every machine, what is reaching end of
/// life, and who is responsible for it.
///
/// Data goes in with `ingest` (CMF snapshots) and `users import`; reports come
/// out with `report`, `machine` and `owner`. `demo` shows it all on a bundled
/// synthetic fleet. Settings come from flags, then `WINVENTORY_...`
/// environment variables, then the `--config` file, then defaults.
#[derive(Debug, Parser)]
#[command(
    name = "winventory",
    version,
    about,
    long_about,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Configuration file (TOML): database, network_db, network_db_token,
    /// freshness_days, catalog, eol_api.
    #[arg(long, global = true, env = "WINVENTORY_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (the default, sqlite://winventory.db,
    /// created on first use) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "WINVENTORY_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<String>,
    /// Days a machine's latest report stays fresh (default 90).
    #[arg(
        long,
        global = true,
        env = "WINVENTORY_FRESHNESS_DAYS",
        value_name = "DAYS"
    )]
    freshness_days: Option<u32>,
    /// Site catalog file (TOML) adding products, dates and software rules.
    #[arg(long, global = true, env = "WINVENTORY_CATALOG", value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Log level (error, warn, info, debug), or a tracing filter such as
    /// `winventory_ingest=debug` [default: warn, the Matrix SDK's own lines
    /// off]. Colour only when standard error is a terminal.
    #[arg(long, global = true, env = "WINVENTORY_LOG", value_name = "FILTER")]
    log: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read CMF snapshots (JSON Lines, gzip recognised by content; `-` is
    /// standard input) into the inventory.
    ///
    /// The latest report of each machine wins; re-ingesting changes nothing;
    /// bad lines are rejected with their number and reason while the rest is
    /// stored. Missing owners are looked up in the network database when its
    /// URL is set. Exit status: 0 every line accepted, 1 some rejected, 2 the
    /// run failed (unreadable or truncated input, database unreachable).
    /// The format, for writing a collector: docs/input-format.md.
    Ingest(ingest::IngestArgs),
    /// Reports: `os`, `eol`, `software` (over fresh machines) and the
    /// `exceptions` register of campaigns.
    #[command(subcommand)]
    Report(ReportCommand),
    /// List machines: the ones behind any count of a report, by OS or
    /// software cycle, end of life, owner or group.
    ///
    /// Filters combine (every one given must hold). Without `--stale` or
    /// `--all` only fresh machines are listed, the ones reports count, so
    /// `report os`'s row windows-server 2012-r2 is `machines --os
    /// windows-server:2012-r2`, a software row of `report eol` is
    /// `machines --software PRODUCT:CYCLE`, and `--eol-within 0` is every
    /// machine with something that has reached end of life. PRODUCT and
    /// CYCLE are catalog ids, as `catalog show` and the JSON of the reports
    /// spell them.
    Machines(reports::MachinesArgs),
    /// Everything known about one machine (stale ones included).
    Machine {
        /// Hostname (case-insensitive).
        host: String,
        #[command(flatten)]
        when: AsOfArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// A person's machines and what on them reaches end of life.
    Owner {
        /// Login (case-insensitive).
        login: String,
        #[command(flatten)]
        when: AsOfArgs,
        /// Also list what ends within this many days after as-of.
        #[arg(long, default_value_t = 180, value_name = "DAYS", alias = "days")]
        within: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The user directory: import it from a CSV file, list it, show one
    /// person.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The lifecycle catalog: show it, refresh it from endoflife.date.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Generate the bundled demo fleet, ingest it and show the reports.
    ///
    /// The demo writes to a database of its own (`--into`, by default
    /// winventory-demo.db in the working directory), never to the one
    /// configured, and ends with commands to explore it. Nothing else is
    /// needed.
    Demo {
        /// The demo's database.
        #[arg(long, value_name = "URL", default_value = DEMO_DATABASE)]
        into: String,
        /// Machines in the demo fleet.
        #[arg(long, default_value_t = 60)]
        machines: usize,
        /// Programs per machine.
        #[arg(long, default_value_t = 25)]
        programs: usize,
    },
    /// Campaigns: ask the owners of target machines what they will do, remind
    /// them, and follow their answers. See docs/campaigns.md.
    #[command(subcommand)]
    Campaign(campaigns::CampaignCommand),
    /// Licences: check the site's licence file, and simulate other terms
    /// (`report licences` gives today's figures). See docs/licences.md.
    #[command(subcommand)]
    Licence(licences::LicenceCommand),
    /// Benchmarks run by hand (never by CI), each beside its baseline.
    #[command(subcommand)]
    #[cfg(feature = "bench")]
    Bench(bench::BenchCommand),
    /// API tokens for programs: `create NAME --role ROLE --expires 90d`
    /// prints the secret once, `list`, `revoke NAME`. See docs/api.md.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Sign-in sessions (single sign-on): `list`, `revoke ID`. See
    /// docs/api.md.
    #[command(subcommand)]
    Session(sessions::SessionCommand),
    /// The audit log: every admin action (campaign commands, pause --all,
    /// exception decisions, whatever the edge) and every chat command, with
    /// who, role, action, target, outcome, edge and from where (newest
    /// first).
    Audit {
        /// Lines shown at most.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The outbox: messages pending, sent, failed and cancelled.
    Outbox {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
    },
    /// Copy a SQLite database into a new FILE, online and consistent: other
    /// processes (serve, worker, ingest) keep reading and writing while it
    /// runs, and the copy is the database as of one instant.
    ///
    /// Restore by stopping every winventory process and copying the file
    /// over the database (deleting its -wal and -shm files). On PostgreSQL
    /// use its own pg_dump and pg_restore instead (docs/operations.md).
    Backup {
        /// The new file (never overwritten).
        file: PathBuf,
    },
    /// Stop every delivery at once (all campaigns, all channels); survives restarts.
    Pause {
        /// Required: pause everything.
        #[arg(long, required = true)]
        all: bool,
    },
    /// Lift `pause --all`.
    Resume {
        /// Required: resume everything.
        #[arg(long, required = true)]
        all: bool,
    },
    /// Plan waves (first messages and reminders) and deliver the outbox,
    /// until stopped (SIGINT/SIGTERM), or once with `--once`.
    ///
    /// Needs a channel (WINVENTORY_SMTP_URL) and the link keys
    /// (WINVENTORY_LINK_KEYS). Safe to kill at any point: nothing queued is
    /// lost, and a message cut off mid-send goes again with the same Message-ID.
    /// A database outage is waited out (logged once), never fatal.
    Worker {
        /// Plan one wave, send what is due, and exit.
        #[arg(long)]
        once: bool,
        /// Answer the probes on this address: /healthz (readiness: the
        /// database and the worker's loops, 503 naming what fails), /livez
        /// (liveness) and /metrics (its loops, for Prometheus; with
        /// metrics_token set, as a bearer token), for an orchestrator
        /// (Kubernetes, compose).
        #[arg(
            long,
            value_name = "ADDR",
            env = "WINVENTORY_WORKER_LISTEN",
            conflicts_with = "once"
        )]
        listen: Option<String>,
    },
    /// Run the HTTP server (answer pages, Mattermost callbacks, snapshot
    /// upload, /healthz, /livez, /metrics), the scheduler and the delivery
    /// worker in one process.
    ///
    /// /livez is liveness (the process answers); /healthz is readiness (503
    /// while the database is unreachable or a loop is failing or stuck,
    /// naming which). A database outage is waited out, never fatal. The
    /// listener cuts slow request heads and idle connections and caps open
    /// connections (header_read_timeout_secs, idle_timeout_secs,
    /// max_connections); see docs/campaigns.md.
    Serve {
        /// Only the HTTP server (run `winventory worker` elsewhere).
        #[arg(long)]
        no_worker: bool,
    },
    /// Print shell completions (generated from the same definitions as
    /// `--help`): `winventory completions bash >
    /// /etc/bash_completion.d/winventory`, or zsh, fish, elvish, powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff, from the same definitions as `--help`):
    /// `winventory man | man -l -`; with `--out DIR`, one page per command
    /// (winventory.1, winventory-report-eol.1, ...) for `man -M`.
    Man {
        /// Write every command's page into this folder (created if needed).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write a synthetic fleet in the CMF format (for trials and benchmarks).
    Generate {
        /// Machines.
        #[arg(long, default_value_t = 1000)]
        machines: usize,
        /// Programs per machine.
        #[arg(long, default_value_t = 150)]
        programs: usize,
        /// Random seed (the same seed gives the same file).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of machines whose last report is stale (0.0-1.0).
        #[arg(long, default_value_t = 0.02)]
        stale: f64,
        /// Report time of the fresh machines (RFC 3339; default now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Output file (`-` for standard output); `.gz` compresses.
        #[arg(long, short, default_value = "-")]
        out: String,
    },
}

/// `--as-of DATE`, shared by the commands that read as of a date.
#[derive(Debug, Args, Clone, Copy)]
pub struct AsOfArgs {
    /// Look at the end of this date (YYYY-MM-DD, UTC) instead of now.
    #[arg(long, value_name = "DATE", value_parser = winventory_core::parse_ymd)]
    as_of: Option<NaiveDate>,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Fresh machines per OS release cycle; unmatched machines last.
    Os {
        #[command(flatten)]
        when: AsOfArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// What has reached end of life (or will within DAYS of as-of), by
    /// product: how many fresh machines, which cycles, the product with
    /// most machines first; `--by cycle` lists each cycle on its own row.
    ///
    /// Follow a row to its machines with `winventory machines --os
    /// PRODUCT[:CYCLE]` or `--software PRODUCT[:CYCLE]` (`--eol-within
    /// DAYS` lists every machine concerned).
    Eol {
        #[command(flatten)]
        when: AsOfArgs,
        /// Include what ends within this many days after as-of.
        #[arg(long, default_value_t = 0, value_name = "DAYS", alias = "days")]
        within: u32,
        /// One row per product (the default) or per cycle.
        #[arg(long, value_enum, default_value = "product")]
        by: reports::EolBy,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// The exception register: every exception requested in any campaign,
    /// with its decision.
    Exceptions {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Per licence of the site's licence file: fresh machines and distinct
    /// users with it installed, seats owned, compliance (over or under, by
    /// how many), yearly cost, installs unused for 90 days (where the
    /// snapshot meters use), and contracts ending within their notice.
    Licences {
        #[command(flatten)]
        when: AsOfArgs,
        /// The licence file (default: the `licences` setting,
        /// WINVENTORY_LICENCES).
        #[arg(long, value_name = "FILE")]
        licences: Option<std::path::PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Fresh machines per matched software cycle, or per application.
    Software {
        #[command(flatten)]
        when: AsOfArgs,
        /// Group by catalog cycle or by application.
        #[arg(long, value_enum, default_value = "cycle")]
        by: reports::SoftwareBy,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Load a site's user list (CSV with the header
    /// login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups;
    /// groups separated by `;`). Bad rows are reported by line; the others are imported.
    Import {
        /// The CSV file (`-` for standard input).
        file: String,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value_t)]
        format: SummaryFormat,
    },
    /// Everyone in the directory, with their chat addresses, groups and
    /// machines (any age).
    List {
        /// Only the members of this group.
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// One person of the directory (`owner LOGIN` shows what their
    /// machines run).
    Show {
        /// Login (case-insensitive).
        login: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// List products, or the cycles of one product.
    Show {
        /// A product (e.g. windows-server).
        product: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Which installed-software products of the catalog the software rules
    /// can recognise (built-in and the site's), and whether every rule's
    /// examples still give what they say. Exits 1 when an example fails or a
    /// product is reached by no rule and has no reason why not.
    Coverage {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Match every stored title and machine again with the rules in force.
    /// An ingest does this by itself when the rules, the catalog's cycles
    /// or the site catalog changed since the stored matches were made.
    Rematch,
    /// Update the catalog from the endoflife.date v1 API and re-match every
    /// machine and title.
    Refresh {
        /// Products to refresh (default: every product in the catalog).
        products: Vec<String>,
        /// API base URL.
        #[arg(long, env = "WINVENTORY_EOL_API", value_name = "URL")]
        api: Option<String>,
    },
}

/// Where `demo` writes unless told otherwise.
pub const DEMO_DATABASE: &str = "sqlite://winventory-demo.db";

/// The log filter without `--log`.
const DEFAULT_LOG: &str = "warn,matrix_sdk=off,matrix_sdk_base=off,matrix_sdk_crypto=off,\
                           matrix_sdk_sqlite=off,matrix_sdk_common=off,matrix_sdk_ui=off";

impl Cli {
    /// The log filter `--log` names. By default, warnings of Winventory's
    /// own and of the libraries it drives, except the Matrix SDK's own
    /// chatter (it logs a missing account-data entry as an error at every
    /// start); its failures reach the log through ours.
    pub fn log_filter(&self) -> &str {
        self.global.log.as_deref().unwrap_or(DEFAULT_LOG)
    }
}

impl Command {
    /// What a command needs of the database: a read command pointed at a
    /// SQLite file that does not exist stops with what to do instead of
    /// creating an empty database and printing empty tables.
    fn database_use(&self) -> DatabaseUse {
        use campaigns::CampaignCommand as C;
        use licences::LicenceCommand as L;
        match self {
            Command::Report(_)
            | Command::Machine { .. }
            | Command::Machines(_)
            | Command::Owner { .. }
            | Command::Users(UsersCommand::List { .. } | UsersCommand::Show { .. })
            | Command::Audit { .. }
            | Command::Token(tokens::TokenCommand::List { .. })
            | Command::Session(sessions::SessionCommand::List { .. })
            | Command::Outbox { .. }
            | Command::Licence(L::Whatif { .. } | L::Removals { .. })
            | Command::Campaign(
                C::List { .. }
                | C::Show { .. }
                | C::Status { .. }
                | C::History { .. }
                | C::Exceptions { .. }
                | C::Preview { .. },
            ) => DatabaseUse::Reads,
            // The bundled catalog is there without any database.
            Command::Catalog(CatalogCommand::Show { .. } | CatalogCommand::Coverage { .. })
            | Command::Licence(L::Check { .. })
            | Command::Campaign(C::Check { .. }) => DatabaseUse::Optional,
            _ => DatabaseUse::Writes,
        }
    }
}

/// See [`Command::database_use`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatabaseUse {
    /// Reads what was stored: the database must exist.
    Reads,
    /// Uses what is stored if there is any (an absent SQLite file is not
    /// created; an empty database in memory stands in).
    Optional,
    /// Stores: a SQLite file is created on first use.
    Writes,
}

/// The file a `sqlite:` URL names (`None`: another backend, or memory).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Run the command line: settings resolved, the application built once,
/// one command run. Returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(*shell, &mut cmd, "winventory", &mut out);
            return Ok(0);
        }
        Command::Man { out } => {
            return manual::write(out.as_deref());
        }
        _ => {}
    }
    let clock = Clock::from_env()?;
    let g = cli.global;
    let eol_api = match &cli.command {
        Command::Catalog(CatalogCommand::Refresh { api, .. }) => api.clone(),
        _ => None,
    };
    let database = match &cli.command {
        Command::Demo { into, .. } => Some(into.clone()),
        _ => g.database,
    };
    let settings = Settings::resolve(Overrides {
        config: g.config,
        database,
        network_db: match &cli.command {
            Command::Ingest(a) => a.network_db.clone(),
            _ => None,
        },
        network_db_token: std::env::var("WINVENTORY_NETWORK_DB_TOKEN").ok(),
        freshness_days: g.freshness_days,
        catalog: g.catalog,
        eol_api,
    })?;
    if let Command::Generate {
        machines,
        programs,
        seed,
        stale,
        at,
        out,
    } = cli.command
    {
        return ingest::generate(
            machines,
            programs,
            seed,
            stale,
            at.unwrap_or_else(|| clock.now()),
            &out,
        );
    }
    let mut settings = settings;
    if let Some(file) = sqlite_file(&settings.database)
        && !file.exists()
    {
        match cli.command.database_use() {
            DatabaseUse::Reads => {
                eprintln!(
                    "error: there is no database at {}: nothing has been stored there yet.\n\
                     Point --database or WINVENTORY_DATABASE_URL at the site's database, \
                     or store something first: `winventory ingest SNAPSHOT.jsonl` \
                     (or try `winventory demo`, which writes its own winventory-demo.db).",
                    file.display()
                );
                return Ok(2);
            }
            DatabaseUse::Optional => settings.database = "sqlite::memory:".into(),
            DatabaseUse::Writes => {}
        }
    }
    let shared = std::sync::Arc::new(App::open(settings, clock).await?);
    let app = shared.as_ref();
    let as_of = |w: AsOfArgs| match w.as_of {
        Some(d) => winventory_core::AsOf::end_of(d, app.settings.freshness_days),
        None => winventory_core::AsOf::at(app.clock.now(), app.settings.freshness_days),
    };
    match cli.command {
        Command::Ingest(args) => ingest::ingest(app, args).await,
        Command::Report(ReportCommand::Os { when, format }) => {
            reports::report_os(app, &as_of(when), format).await
        }
        Command::Report(ReportCommand::Eol {
            when,
            within,
            by,
            format,
        }) => reports::report_eol(app, &as_of(when), within, by, format).await,
        Command::Report(ReportCommand::Exceptions { format }) => {
            campaigns::report_exceptions(app, format).await
        }
        Command::Report(ReportCommand::Software { when, by, format }) => {
            reports::report_software(app, &as_of(when), by, format).await
        }
        Command::Machines(args) => reports::machines(app, &as_of(args.when), &args).await,
        Command::Machine { host, when, format } => {
            reports::machine(app, &host, &as_of(when), format).await
        }
        Command::Owner {
            login,
            when,
            within,
            format,
        } => reports::owner(app, &login, &as_of(when), within, format).await,
        Command::Users(UsersCommand::Import { file, format }) => {
            users::users_import(app, &file, format).await
        }
        Command::Users(UsersCommand::List { group, format }) => {
            users::users_list(app, group.as_deref(), format).await
        }
        Command::Users(UsersCommand::Show { login, format }) => {
            users::users_show(app, &login, format).await
        }
        Command::Catalog(CatalogCommand::Show { product, format }) => {
            catalog::catalog_show(app, product.as_deref(), format).await
        }
        Command::Catalog(CatalogCommand::Refresh { products, .. }) => {
            catalog::catalog_refresh(app, &products).await
        }
        Command::Catalog(CatalogCommand::Coverage { format }) => {
            catalog::catalog_coverage(app, format)
        }
        Command::Catalog(CatalogCommand::Rematch) => catalog::catalog_rematch(app).await,
        Command::Demo {
            machines, programs, ..
        } => ingest::demo(app, machines, programs).await,
        Command::Campaign(cmd) => campaigns::run(app, cmd).await,
        #[cfg(feature = "bench")]
        Command::Bench(cmd) => bench::run(app, cmd).await,
        Command::Licence(cmd) => licences::run(app, cmd).await,
        Command::Report(ReportCommand::Licences {
            when,
            licences: file,
            format,
        }) => licences::report(app, &as_of(when), file.as_deref(), format).await,
        Command::Outbox { format } => campaigns::outbox(app, format).await,
        Command::Audit { limit, format } => campaigns::audit(app, limit, format).await,
        Command::Token(cmd) => tokens::run(app, cmd).await,
        Command::Session(cmd) => sessions::run(app, cmd).await,
        Command::Backup { file } => backup::backup(app, &file).await,
        Command::Pause { .. } => campaigns::pause_all(app, true).await,
        Command::Resume { .. } => campaigns::pause_all(app, false).await,
        Command::Worker { once, listen } => {
            crate::tasks::worker(app, once, listen.as_deref()).await
        }
        Command::Serve { no_worker } => crate::tasks::serve(shared.clone(), no_worker).await,
        // Run above, before any store is opened.
        Command::Generate { .. } | Command::Completions { .. } | Command::Man { .. } => Ok(0),
    }
}
