//! Both schemas after every migration hold the same tables and views with
//! the same column names (their types differ by engine: SQLite's affinities
//! against PostgreSQL's types), so one SQL implementation can run on both.

use std::collections::BTreeSet;

use winventory_core::store::Backend;
use winventory_core::testing::fresh_database;

/// `table.column` of every table and view, sqlx's own bookkeeping aside.
type Columns = BTreeSet<String>;

async fn sqlite_columns(url: &str) -> Columns {
    let pool = sqlx::SqlitePool::connect(url).await.expect("open SQLite");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_schema m JOIN pragma_table_info(m.name) p \
         WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' \
         AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("read SQLite's schema");
    pool.close().await;
    rows.into_iter().map(|(t, c)| format!("{t}.{c}")).collect()
}

async fn postgres_columns(url: &str) -> Columns {
    let pool = sqlx::PgPool::connect(url)
        .await
        .expect("connect to PostgreSQL");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("read PostgreSQL's schema");
    pool.close().await;
    rows.into_iter().map(|(t, c)| format!("{t}.{c}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_schemas_hold_the_same_tables_and_columns_after_every_migration() {
    let sqlite = fresh_database(Backend::Sqlite).await;
    let postgres = fresh_database(Backend::Postgres).await;
    for db in [&sqlite, &postgres] {
        winventory_core::store::connect(&db.url)
            .await
            .expect("a migrated store");
    }
    let on_sqlite = sqlite_columns(&sqlite.url).await;
    let on_postgres = postgres_columns(&postgres.url).await;
    assert!(
        on_sqlite.len() > 50,
        "only {} columns read on SQLite",
        on_sqlite.len()
    );
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:?}; only on PostgreSQL: {only_postgres:?}"
    );
}
