//! Dashboard query latency on realistic volumes: 1,000,000 synthetic requests in ClickHouse
//! (`KEYWAY_TEST_CLICKHOUSE_URL`, default `http://127.0.0.1:8123`, in a throw-away database) and
//! 100,000 in SQLite (temporary file). Prints the median and worst of several runs per query.
//!
//! Run: `cargo run --release -p keyway-bench --bin analytics-bench [clickhouse_rows]`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on any error"
)]

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keyway_analytics::{
    AnalyticsStore, Bucket, ClickHouseStore, Dimension, Filter, RequestEvent, SqlStore,
};

const HOUR_MS: i64 = 3_600_000;
const RUNS: usize = 7;

fn event(org: &str, i: u64, start_ms: i64, span_ms: i64, n: u64) -> RequestEvent {
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet-4",
        "gemini-2.5-flash",
        "llama-3.3",
    ];
    let providers = ["openai", "openai", "anthropic", "google", "groq"];
    let m = (i % 5) as usize;
    let ms = start_ms + (i as i64) * span_ms / n as i64;
    let mut e = RequestEvent {
        ts: DateTime::<Utc>::from_timestamp_millis(ms).unwrap(),
        team_id: Some(format!("team-{}", i % 8)),
        key_id: Some(format!("key-{}", i % 40)),
        end_user_id: Some(format!("user-{}", i % 1_000)),
        provider: Some(providers[m].to_owned()),
        served_model: Some(models[m].to_owned()),
        stream: i.is_multiple_of(2),
        status_code: if i.is_multiple_of(50) { 429 } else { 200 },
        latency_ms: ((i * 7919) % 3_000 + 50) as u32,
        ttft_ms: i
            .is_multiple_of(2)
            .then_some(((i * 104_729) % 800 + 20) as u32),
        upstream_latency_ms: Some(((i * 7919) % 3_000 + 40) as u32),
        gateway_overhead_us: 300,
        input_tokens: (i % 2_000) as u32,
        output_tokens: (i % 700) as u32,
        cost_nano_usd: ((i % 1_000) * 2_500) as i64,
        cache_status: if i.is_multiple_of(10) { "hit" } else { "miss" }.to_owned(),
        ..RequestEvent::new(&request_id(ms, i), org, "openai.chat", models[m])
    };
    e.set_metadata([(
        "env",
        if i.is_multiple_of(3) {
            "prod"
        } else {
            "staging"
        },
    )]);
    e
}

/// A UUIDv7 like the gateway's request ids (time in the first 48 bits).
fn request_id(ms: i64, i: u64) -> String {
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        i & 0xfff,
        (i >> 12) & 0xfff,
        i
    )
}

async fn load(
    store: &AnalyticsStore,
    org: &str,
    rows: u64,
    start_ms: i64,
    span_ms: i64,
) -> Duration {
    let started = Instant::now();
    let batch = 50_000;
    let mut i = 0;
    while i < rows {
        let events: Vec<RequestEvent> = (i..(i + batch).min(rows))
            .map(|j| event(org, j, start_ms, span_ms, rows))
            .collect();
        store.insert(&events).await.expect("insert");
        i += batch;
    }
    started.elapsed()
}

async fn time<T, F: Future<Output = T>>(name: &str, mut run: impl FnMut() -> F) {
    let mut samples = Vec::with_capacity(RUNS);
    run().await; // warm-up
    for _ in 0..RUNS {
        let started = Instant::now();
        run().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    println!(
        "  {name:<44} median {:>8.1} ms   max {:>8.1} ms",
        samples[RUNS / 2].as_secs_f64() * 1e3,
        samples[RUNS - 1].as_secs_f64() * 1e3
    );
}

async fn dashboard(store: &AnalyticsStore, org: &str, end_ms: i64, detail_id: &str) {
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
    let month = Filter {
        from: Some(at(end_ms - 30 * 24 * HOUR_MS)),
        to: Some(at(end_ms)),
        ..Filter::default()
    };
    let day = Filter {
        from: Some(at(end_ms - 24 * HOUR_MS)),
        to: Some(at(end_ms)),
        ..Filter::default()
    };
    let model = Filter {
        model: Some("claude-sonnet-4".into()),
        ..month.clone()
    };
    let meta = Filter {
        metadata: [("env".to_owned(), "prod".to_owned())].into(),
        ..day.clone()
    };
    time("summary, 30 days", || async {
        store.summary(org, &month).await.unwrap()
    })
    .await;
    time("summary, 30 days, one model", || async {
        store.summary(org, &model).await.unwrap()
    })
    .await;
    time("time series by hour, 30 days", || async {
        store.timeseries(org, &month, Bucket::Hour).await.unwrap()
    })
    .await;
    time("time series by day, 30 days", || async {
        store.timeseries(org, &month, Bucket::Day).await.unwrap()
    })
    .await;
    time("time series by minute, 24 hours", || async {
        store.timeseries(org, &day, Bucket::Minute).await.unwrap()
    })
    .await;
    time("breakdown by model, 30 days", || async {
        store
            .breakdown(org, &month, Dimension::Model, 20)
            .await
            .unwrap()
    })
    .await;
    time("breakdown by key, 30 days", || async {
        store
            .breakdown(org, &month, Dimension::Key, 20)
            .await
            .unwrap()
    })
    .await;
    time("breakdown by end user, 30 days", || async {
        store
            .breakdown(org, &month, Dimension::EndUser, 20)
            .await
            .unwrap()
    })
    .await;
    time("logs, first page of 50", || async {
        store.logs(org, &month, None, 50).await.unwrap()
    })
    .await;
    time("logs, metadata env=prod, 24 hours", || async {
        store.logs(org, &meta, None, 50).await.unwrap()
    })
    .await;
    time("request detail", || async {
        store.request(org, detail_id).await.unwrap()
    })
    .await;
}

#[tokio::main]
async fn main() {
    let ch_rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let sqlite_rows: u64 = 100_000;
    let end_ms = 1_767_225_600_000; // 2026-01-01 00:00 UTC
    let span = 30 * 24 * HOUR_MS;

    let url = std::env::var("KEYWAY_TEST_CLICKHOUSE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let database = format!("keyway_bench_{}", uuid::Uuid::new_v4().simple());
    let ch = ClickHouseStore::connect(&url, &database, None, None).unwrap();
    ch.create_database().await.expect("clickhouse reachable");
    ch.migrate().await.unwrap();
    let store = AnalyticsStore::ClickHouse(ch.clone());
    let org = "org-bench";
    // A second, smaller org in the same time range, so org scoping is exercised too.
    let took = load(&store, org, ch_rows, end_ms - span, span).await;
    load(&store, "org-noise", ch_rows / 10, end_ms - span, span).await;
    println!(
        "ClickHouse ({url}): {ch_rows} rows loaded in {:.1} s",
        took.as_secs_f64()
    );
    // Steady state: background merges of the freshly inserted parts would compete with the
    // queries on a small machine; measure after them, as a dashboard usually runs.
    let started = Instant::now();
    let admin = clickhouse::Client::default()
        .with_url(&url)
        .with_database(&database)
        .with_validation(false);
    for table in ["requests", "requests_hourly"] {
        admin
            .query(&format!("OPTIMIZE TABLE {table} FINAL"))
            .execute()
            .await
            .unwrap();
    }
    println!(
        "  (parts merged in {:.1} s; load average {})",
        started.elapsed().as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let detail = event(org, ch_rows / 2, end_ms - span, span, ch_rows).request_id;
    dashboard(&store, org, end_ms, &detail).await;
    ch.drop_database().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sql_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("analytics.db").display()
    );
    let sql = SqlStore::connect(&sql_url).await.unwrap();
    sql.migrate().await.unwrap();
    let store = AnalyticsStore::Sql(sql);
    let took = load(&store, org, sqlite_rows, end_ms - span, span).await;
    println!(
        "SQLite: {sqlite_rows} rows loaded in {:.1} s",
        took.as_secs_f64()
    );
    let detail = event(org, sqlite_rows / 2, end_ms - span, span, sqlite_rows).request_id;
    dashboard(&store, org, end_ms, &detail).await;
}
