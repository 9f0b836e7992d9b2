//! SQL backend on SQLite (temporary file) and on Postgres (fresh database per test).

mod common;

use common::{exercise_store, with_postgres, with_sqlite};
use keyway_analytics::AnalyticsStore;

#[tokio::test]
async fn sqlite_store_round_trips_events() {
    with_sqlite(|store| exercise_store(AnalyticsStore::Sql(store))).await;
}

#[tokio::test]
async fn postgres_store_round_trips_events() {
    with_postgres(|store| exercise_store(AnalyticsStore::Sql(store))).await;
}
