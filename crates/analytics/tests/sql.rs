//! SQL backend on SQLite (temporary file) and on Postgres (fresh database per test).

mod common;

use common::{exercise_store, with_postgres, with_sqlite};
use keyway_analytics::AnalyticsStore;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TryGetable};

#[tokio::test]
async fn sqlite_store_round_trips_events() {
    with_sqlite(|store| exercise_store(AnalyticsStore::Sql(store))).await;
}

#[tokio::test]
async fn postgres_store_round_trips_events() {
    with_postgres(|store| exercise_store(AnalyticsStore::Sql(store))).await;
}

/// The embedded store writes ahead (dashboard reads never wait on the writer) and syncs the
/// log at checkpoints rather than on every batch commit.
#[tokio::test]
async fn sqlite_store_writes_ahead_without_an_fsync_per_batch() {
    with_sqlite(|store| async move {
        store.migrate().await?;
        store
            .insert(&[common::minimal_event("org-wal", "req-1", 1_000)])
            .await?;
        let db = store.connection();
        assert_eq!(pragma::<String>(db, "journal_mode").await?, "wal");
        // 1 = NORMAL (2 = FULL, SQLite's default).
        assert_eq!(pragma::<i64>(db, "synchronous").await?, 1);
        Ok(())
    })
    .await;
}

/// The value of SQLite pragma `name` on one of `db`'s connections.
async fn pragma<T: TryGetable>(db: &DatabaseConnection, name: &str) -> anyhow::Result<T> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("PRAGMA {name}"),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("PRAGMA {name} returned no row"))?;
    Ok(row.try_get_by_index::<T>(0)?)
}
