//! ClickHouse backend against the real server (`KEYWAY_TEST_CLICKHOUSE_URL`).

mod common;

use clickhouse::Client;
use common::{exercise_store, full_event, with_clickhouse};
use keyway_analytics::{AnalyticsStore, ClickHouseStore, MIGRATIONS};
use keyway_testkit::services::clickhouse_url;

#[tokio::test]
async fn clickhouse_store_round_trips_events() {
    with_clickhouse(|store| exercise_store(AnalyticsStore::ClickHouse(store))).await;
}

#[tokio::test]
async fn migrations_apply_once_and_are_recorded() {
    with_clickhouse(|store| async move {
        let first = store.migrate().await?;
        assert_eq!(first, MIGRATIONS);
        assert!(
            store.migrate().await?.is_empty(),
            "second run applies nothing"
        );

        let client = Client::default()
            .with_url(clickhouse_url())
            .with_database(store.database())
            .with_validation(false);
        let recorded: Vec<(u32, String)> = client
            .query("SELECT toUInt32(version), name FROM schema_migrations ORDER BY version")
            .fetch_all()
            .await?;
        let expected: Vec<(u32, String)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect();
        assert_eq!(recorded, expected);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn requests_are_partitioned_by_utc_month_of_their_millisecond_time() {
    with_clickhouse(|store| async move {
        store.migrate().await?;
        // 2026-01-31 23:59:59.999 UTC: a local-time or rounded partition would say February.
        store
            .insert(&[full_event("org-p", "req-1", 1_769_903_999_999)])
            .await?;
        let client = Client::default()
            .with_url(clickhouse_url())
            .with_database(store.database())
            .with_validation(false);
        let (ts, month, partition): (String, u32, String) = client
            .query(
                "SELECT toString(ts), toUInt32(toYYYYMM(ts)), toString(_partition_id) \
                 FROM requests WHERE org_id = 'org-p'",
            )
            .fetch_one()
            .await?;
        assert_eq!(ts, "2026-01-31 23:59:59");
        assert_eq!(month, 202601);
        assert_eq!(partition, "202601");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unreachable_server_fails_ping() {
    let store = ClickHouseStore::connect("http://127.0.0.1:1", "db", None, None).unwrap();
    assert!(store.ping().await.is_err());
}
