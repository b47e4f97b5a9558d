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

/// Create the schema of `url` only up to migration `version` (for tests of
/// later migrations: fill the old schema, then let [`crate::store::connect`]
/// apply the rest).
pub async fn migrate_to(url: &str, version: i64) {
    if url.starts_with("sqlite:") {
        let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
            .expect("a SQLite URL")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts)
            .await
            .expect("open SQLite");
        sqlx::migrate!("./migrations/sqlite")
            .run_to(version, &pool)
            .await
            .expect("migrate SQLite");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::migrate!("./migrations/postgres")
            .run_to(version, &pool)
            .await
            .expect("migrate PostgreSQL");
        pool.close().await;
    }
}

/// Run one SQL statement against `url` (tests that set up old schemas).
pub async fn execute(url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("open SQLite");
        sqlx::raw_sql(sql).execute(&pool).await.expect("run SQL");
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::raw_sql(sql).execute(&pool).await.expect("run SQL");
        pool.close().await;
    }
}
