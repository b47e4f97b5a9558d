//! Test support shared by the crates' test suites: a fresh, empty database
//! on either backend. SQLite gets a file in a temporary directory; PostgreSQL
//! gets a new database inside the server named by
//! `WINVENTORY_TEST_POSTGRES_URL` (which `scripts/test.sh` starts).

use crate::store::Backend;

/// The variable naming the PostgreSQL server the tests use.
pub const POSTGRES_ENV: &str = "WINVENTORY_TEST_POSTGRES_URL";

/// A fresh database; keep the returned guard alive while it is used.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Make a fresh database on `backend`. Panics with a clear message when
/// PostgreSQL is asked for and no server is configured (tests only).
pub async fn fresh_database(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            TestDb {
                url,
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
                panic!("{POSTGRES_ENV} is not set: run the tests through scripts/test.sh, which starts PostgreSQL")
            });
            let name = format!("wt_{}_{}", std::process::id(), rand_suffix());
            let pool = sqlx::PgPool::connect(&admin)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .expect("create a test database");
            pool.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            TestDb {
                url: format!("{base}/{name}"),
                _dir: None,
            }
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{t}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Run a test body once per backend: `on_both_backends!(async fn name(backend) { ... })`
/// makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$m:meta])* async fn $name:ident($b:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($b: winventory_core::store::Backend) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$m])*
            async fn sqlite() {
                run(winventory_core::store::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$m])*
            async fn postgres() {
                run(winventory_core::store::Backend::Postgres).await
            }
        }
    };
}
