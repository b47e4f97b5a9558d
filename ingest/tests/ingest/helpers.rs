//! Shared helpers: fresh stores, snapshot lines, running the pipeline.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use winventory_core::store::Backend;
use winventory_core::testing::{TestDb, fresh_database};
use winventory_core::{Catalog, Store};
use winventory_ingest::cmf::Input;
use winventory_ingest::netdb::NetDbClient;
use winventory_ingest::{IngestOptions, Pipeline, Summary};

pub struct Env {
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    _db: TestDb,
    pub dir: tempfile::TempDir,
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

pub async fn env(backend: Backend) -> Env {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let db = fresh_database(backend).await;
    let store = winventory_core::connect(&db.url).await.expect("store");
    Env {
        store,
        catalog: Arc::new(Catalog::builtin()),
        _db: db,
        dir: tempfile::tempdir().expect("tmp"),
    }
}

/// One snapshot line.
pub fn line(host: &str, at: &str, caption: &str, version: &str, extra: &str) -> String {
    format!(
        r#"{{"hostname": "{host}", "collected_at": "{at}", "os": {{"caption": "{caption}", "version": "{version}", "product_type": 1, "edition": "Enterprise"}}{extra}}}"#
    )
}

pub fn server_2012r2(host: &str, at: &str, extra: &str) -> String {
    format!(
        r#"{{"hostname": "{host}", "domain": "CERN", "collected_at": "{at}", "os": {{"caption": "Microsoft Windows Server 2012 R2 Standard", "version": "6.3.9600", "edition": "ServerStandard", "product_type": 3}}{extra}}}"#
    )
}

impl Env {
    /// An environment over a store opened already (tests of migrations).
    pub fn on(store: Arc<dyn Store>, db: TestDb) -> Self {
        Env {
            store,
            catalog: Arc::new(Catalog::builtin()),
            _db: db,
            dir: tempfile::tempdir().expect("tmp"),
        }
    }

    pub fn file(&self, name: &str, lines: &[String]) -> String {
        let path = self.dir.path().join(name);
        let mut f = std::fs::File::create(&path).expect("create");
        for l in lines {
            writeln!(f, "{l}").expect("write");
        }
        path.display().to_string()
    }

    pub fn bytes_file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path.display().to_string()
    }

    pub async fn ingest_with(
        &self,
        files: &[&str],
        netdb: Option<NetDbClient>,
        batch: usize,
    ) -> Summary {
        let mut opts = IngestOptions::new(now());
        opts.batch_machines = batch;
        let inputs = files
            .iter()
            .map(|f| Input::open(f).map_err(|e| (f.to_string(), e)))
            .collect();
        Pipeline::new(self.store.clone(), self.catalog.clone(), netdb, opts)
            .run(inputs)
            .await
    }

    pub async fn ingest(&self, files: &[&str]) -> Summary {
        self.ingest_with(files, None, 500).await
    }
}
