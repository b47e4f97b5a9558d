//! The composition root: the application built once from the settings
//! (store, catalog, clock, and on first use the engine with its templates,
//! link keys and licences) and handed to whichever command runs. Every
//! edge (CLI, HTTP, chat listeners, the long-running tasks) reaches the
//! libraries through an [`App`]; nothing else opens a store or reads the
//! catalog.

mod ingest;

pub use ingest::IngestRun;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use secrecy::ExposeSecret as _;
use winventory_core::catalog::SiteCatalog;
use winventory_core::licence::{Coverage, LicenceBook};
use winventory_core::{Catalog, Store};
use winventory_workflows::engine::{Engine, EngineConfig};
use winventory_workflows::render::Templates;
use winventory_workflows::token::Signer;

use crate::channels::email::EmailChannel;
use crate::clock::Clock;
use crate::settings::Settings;

/// The application: what every command and task shares.
pub struct App {
    /// The resolved settings.
    pub settings: Settings,
    /// The one clock of the process.
    pub clock: Clock,
    /// The store the database URL names, opened once.
    pub store: Arc<dyn Store>,
    /// The lifecycle catalog: built in, refreshed rows, the site's file.
    pub catalog: Arc<Catalog>,
    engine: tokio::sync::OnceCell<Engine>,
}

impl App {
    /// Open the store and load the catalog.
    pub async fn open(settings: Settings, clock: Clock) -> Result<Self> {
        let store = winventory_core::connect(&settings.database).await.context(
            "check --database / WINVENTORY_DATABASE_URL (sqlite://PATH or postgres://USER@HOST/DB) and that the server is running",
        )?;
        let catalog = Arc::new(load_catalog(&settings, store.as_ref()).await?);
        Ok(Self {
            settings,
            clock,
            store,
            catalog,
            engine: tokio::sync::OnceCell::new(),
        })
    }

    /// The catalog as stored now (after a refresh changed it).
    pub async fn fresh_catalog(&self) -> Result<Catalog> {
        load_catalog(&self.settings, self.store.as_ref()).await
    }

    /// The campaign engine, built on first use: templates checked, link
    /// keys and licences read (commands that need none of them, such as the
    /// reports, do not fail on them).
    pub async fn engine(&self) -> Result<Engine> {
        self.engine
            .get_or_try_init(|| async { self.build_engine() })
            .await
            .cloned()
    }

    fn build_engine(&self) -> Result<Engine> {
        let settings = &self.settings;
        let signer = match &settings.link_keys {
            Some(k) => Some(Arc::new(
                Signer::from_spec(k.expose_secret())
                    .context("check WINVENTORY_LINK_KEYS / link_keys")?,
            )),
            None => None,
        };
        let licences = match &settings.licences {
            Some(path) => Some(Arc::new(load_licences(path, &self.catalog)?)),
            None => None,
        };
        let templates = Templates::new(settings.templates.clone());
        templates
            .check("digest")
            .context("a template in the site's template directory does not render")?;
        let chat_channels = [
            settings.matrix_homeserver.as_ref().map(|_| "matrix"),
            settings.mattermost_url.as_ref().map(|_| "mattermost"),
        ]
        .into_iter()
        .flatten()
        .map(String::from)
        .collect();
        Ok(Engine {
            store: self.store.clone(),
            licences,
            titles: Default::default(),
            catalog: self.catalog.clone(),
            templates: Arc::new(templates),
            signer,
            config: EngineConfig {
                base_url: settings.base_url.clone(),
                message_domain: EmailChannel::from_domain(settings),
                freshness_days: settings.freshness_days,
                link_grace_days: 30,
                chat_channels,
            },
        })
    }
}

/// The built-in catalog, the rows a refresh stored, and the site's file.
async fn load_catalog(settings: &Settings, store: &dyn Store) -> Result<Catalog> {
    let mut catalog = Catalog::builtin();
    catalog.upsert_rows(store.refreshed_catalog().await?);
    if let Some(path) = &settings.catalog {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the site catalog {}", path.display()))?;
        let site = SiteCatalog::parse(&path.display().to_string(), &text)?;
        catalog.apply_site(&site);
    }
    Ok(catalog)
}

/// Whether the inventory can recognise what a licence covers.
fn known_to(catalog: &Catalog) -> impl Fn(&Coverage) -> bool + '_ {
    let apps = catalog.applications();
    move |c: &Coverage| match c {
        Coverage::Application(a) => apps.contains(a.as_str()),
        Coverage::Product(p) => catalog.has_product(p),
    }
}

/// Read and check a licence file; every mistake is listed with the file,
/// line and field.
pub fn load_licences(path: &Path, catalog: &Catalog) -> Result<LicenceBook> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the licence file {}", path.display()))?;
    LicenceBook::parse(&text, known_to(catalog)).map_err(|errors| {
        let list = errors
            .iter()
            .map(|e| format!("  {}: {e}", path.display()))
            .collect::<Vec<_>>()
            .join("\n");
        anyhow::anyhow!(
            "the licence file {} has {} mistake{}:\n{list}\nFix them and run `winventory licence check {}` again.",
            path.display(),
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            path.display()
        )
    })
}
