//! Shared test helpers: per-test databases on every backend and the store assertions that
//! each backend must pass identically.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]
#![allow(clippy::expect_used, reason = "test set-up fails loudly")]

use std::future::Future;

use chrono::{DateTime, Utc};
use keyway_analytics::{AnalyticsError, AnalyticsStore, ClickHouseStore, RequestEvent, SqlStore};
use keyway_testkit::services::{TestClickHouse, TestPostgres};

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh ClickHouse database (created, not migrated), dropped when the test ends, pass or panic.
pub async fn with_clickhouse<F, Fut>(test: F)
where
    F: FnOnce(ClickHouseStore) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let db = TestClickHouse::create()
        .await
        .expect("create clickhouse database");
    let store = ClickHouseStore::connect(db.url(), db.database(), None, None).expect("valid name");
    test(store).await.expect("test failed");
}

/// A SQLite file in a temporary directory, removed afterwards.
pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("analytics.db").display()
    );
    let store = SqlStore::connect(&url).await.expect("open sqlite");
    test(store).await.expect("test failed");
}

/// A fresh Postgres database, dropped when the test ends, pass or panic.
pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(SqlStore) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let db = TestPostgres::create()
        .await
        .expect("create postgres database");
    let store = SqlStore::connect(db.url())
        .await
        .expect("connect test database");
    let pool = store.connection().clone();
    test(store).await.expect("test failed");
    pool.close().await.expect("close pool");
}

pub fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("valid timestamp")
}

/// An event with every optional field empty.
pub fn minimal_event(org_id: &str, request_id: &str, ts_ms: i64) -> RequestEvent {
    RequestEvent {
        ts: at(ts_ms),
        status_code: 401,
        error_class: Some("invalid_api_key".into()),
        ..RequestEvent::new(request_id, org_id, "openai.chat", "openai/gpt-4o-mini")
    }
}

/// An event with every field set, at the edges of its type, with text that needs escaping.
pub fn full_event(org_id: &str, request_id: &str, ts_ms: i64) -> RequestEvent {
    let mut event = RequestEvent {
        team_id: Some("team-7".into()),
        key_id: Some("key_01J".into()),
        end_user_id: Some("user \"o'brien\"\\x".into()),
        trace_id: Some("trace-é-日本".into()),
        prompt_id: Some("prompt-1".into()),
        prompt_version: Some(u32::MAX),
        config_id: Some("cfg-2".into()),
        surface: "anthropic.messages".into(),
        provider: Some("anthropic".into()),
        requested_model: "claude-sonnet".into(),
        served_model: Some("claude-sonnet-4-20250514".into()),
        stream: true,
        status_code: 200,
        error_class: None,
        latency_ms: u32::MAX,
        ttft_ms: Some(123),
        upstream_latency_ms: Some(4_567),
        gateway_overhead_us: 890,
        input_tokens: 1_000_000,
        output_tokens: 2_345,
        cached_read_tokens: 600,
        cache_write_tokens: 70,
        reasoning_tokens: 8,
        cost_nano_usd: 9_000_000_000_000_123,
        cache_status: "miss".into(),
        retries: u16::MAX,
        fallback_index: 2,
        ..minimal_event(org_id, request_id, ts_ms)
    };
    event.set_metadata([
        ("env", "prod"),
        ("quote'd", "tab\there\nnewline"),
        ("json", "{\"a\": [1, \"b\\\\\"]}"),
    ]);
    event
}

/// The behaviour every backend must show, asserted identically on each.
pub async fn exercise_store(store: AnalyticsStore) -> anyhow::Result<()> {
    store.migrate().await?;
    store.migrate().await?;
    store.ping().await?;

    let org = unique_name("org");
    let other = unique_name("org");
    assert_eq!(store.count(&org).await?, 0);

    // 2026-01-31 23:59:59.999 UTC and neighbours: millisecond precision across a month boundary.
    let newest = full_event(&org, "req-c", 1_769_903_999_999);
    let middle = minimal_event(&org, "req-b", 1_769_903_999_998);
    let same_ms = full_event(&org, "req-a", 1_769_903_999_998);
    let oldest = minimal_event(&org, "req-z", 1_767_225_600_000);
    let foreign = [
        full_event(&other, "req-x", 1_769_903_999_999),
        minimal_event(&other, "req-y", 1_769_903_999_999),
    ];
    let mut batch = vec![
        oldest.clone(),
        middle.clone(),
        newest.clone(),
        same_ms.clone(),
    ];
    batch.extend(foreign.iter().cloned());
    store.insert(&batch).await?;

    assert_eq!(store.count(&org).await?, 4);
    assert_eq!(store.count(&other).await?, 2);
    assert_eq!(store.count("no-such-org").await?, 0);

    let rows = store.recent(&org, 100).await?;
    assert_eq!(rows, vec![newest.clone(), middle, same_ms, oldest]);
    assert_eq!(store.recent(&org, 1).await?, vec![newest]);
    assert!(
        store
            .recent(&other, 100)
            .await?
            .iter()
            .all(|row| row.org_id == other)
    );

    let mut broken = minimal_event(&org, "req-broken", 1_769_903_999_999);
    broken.metadata_keys.push("orphan".into());
    let refused = store
        .insert(&[minimal_event(&org, "req-ok", 1), broken])
        .await;
    assert!(
        matches!(refused, Err(AnalyticsError::InvalidEvent { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store.count(&org).await?,
        4,
        "a refused batch writes nothing"
    );

    store.insert(&[]).await?;
    assert_eq!(store.count(&org).await?, 4);

    // A batch bigger than the sink's default (1,000 rows) arrives whole, every row intact.
    let bulk_org = unique_name("org");
    let bulk: Vec<RequestEvent> = (0..1_234)
        .map(|i| full_event(&bulk_org, &format!("req-{i:04}"), 1_769_903_000_000 + i))
        .collect();
    store.insert(&bulk).await?;
    assert_eq!(store.count(&bulk_org).await?, 1_234);
    let mut stored = store.recent(&bulk_org, 2_000).await?;
    stored.reverse();
    assert_eq!(stored, bulk);
    Ok(())
}

/// 2026-01-31 22:00:00 UTC: two hours before a day and month boundary.
pub const T0: i64 = 1_769_896_800_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;

/// The conformance data set of one org: 40 requests every 5 minutes from [`T0`] (crossing the
/// day and month boundary), varied in every dimension the query API filters or groups by.
pub fn dataset(org_id: &str) -> Vec<RequestEvent> {
    (0..40)
        .map(|i: i64| {
            let n = i as u32;
            let (provider, served) = match i % 3 {
                0 => ("openai", "gpt-4o-2024-08-06"),
                1 => ("anthropic", "claude-sonnet-4"),
                _ => ("google", "gemini-2.5-flash"),
            };
            let failed_upstream = i % 10 == 9;
            let mut e = RequestEvent {
                ts: at(T0 + i * 5 * MINUTE + i % 7),
                team_id: (i % 2 == 0).then(|| "team-a".to_owned()),
                key_id: (i % 5 != 0).then(|| format!("key-{}", i % 4)),
                end_user_id: (i % 3 == 0).then(|| format!("user-{}", i % 2)),
                prompt_id: (i % 4 != 3).then(|| format!("prompt-{}", i % 2)),
                prompt_version: (i % 4 != 3).then_some(n % 3 + 1),
                provider: (!failed_upstream).then(|| provider.to_owned()),
                served_model: (!failed_upstream).then(|| served.to_owned()),
                stream: i % 2 == 1,
                status_code: if failed_upstream {
                    502
                } else if i % 6 == 5 {
                    429
                } else {
                    200
                },
                error_class: failed_upstream.then(|| "upstream_error".to_owned()),
                latency_ms: (n * 37) % 101 + 10,
                ttft_ms: (i % 2 == 1).then_some((n * 13) % 50 + 1),
                input_tokens: 100 + n,
                output_tokens: 10 + 2 * n,
                cost_nano_usd: (i + 1) * 1_000,
                cache_status: if i % 4 == 0 { "hit" } else { "miss" }.to_owned(),
                ..RequestEvent::new(
                    &format!("req-{i:02}"),
                    org_id,
                    "openai.chat",
                    "openai/gpt-4o",
                )
            };
            e.set_metadata([
                ("env", if i % 2 == 0 { "prod" } else { "dev" }),
                ("feature", ["search", "chat", "a,\"b\":c"][(i % 3) as usize]),
            ]);
            e
        })
        .collect()
}
