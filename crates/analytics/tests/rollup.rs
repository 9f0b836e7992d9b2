//! The hourly rollup (kept by a materialized view) gives the same totals as the raw table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

mod common;

use common::{HOUR, T0, at, unique_name, with_clickhouse};
use keyway_analytics::{AnalyticsStore, Bucket, Dimension, Filter, RequestEvent, Source};

fn events(org: &str) -> Vec<RequestEvent> {
    // 6_000 requests over 48 hours, spread over models, providers, keys and teams.
    (0..6_000u32)
        .map(|i| {
            let models = ["gpt-4o", "claude-sonnet-4", "gemini-2.5-flash", "llama-3"];
            RequestEvent {
                ts: at(T0 + i64::from(i) * 48 * HOUR / 6_000 + i64::from(i % 997)),
                provider: (i % 11 != 0)
                    .then(|| ["openai", "anthropic", "google"][i as usize % 3].to_owned()),
                served_model: (i % 11 != 0).then(|| models[i as usize % 4].to_owned()),
                key_id: (i % 7 != 0).then(|| format!("key-{}", i % 5)),
                team_id: (i % 3 != 0).then(|| format!("team-{}", i % 2)),
                status_code: if i % 13 == 0 { 500 } else { 200 },
                latency_ms: (i * 7919) % 1_000 + 1,
                ttft_ms: (i % 2 == 0).then_some((i * 104_729) % 300 + 1),
                input_tokens: i % 500,
                output_tokens: i % 300,
                cost_nano_usd: i64::from(i % 1_000) * 1_234,
                cache_status: if i % 9 == 0 { "hit" } else { "miss" }.to_owned(),
                ..RequestEvent::new(&format!("r-{i:05}"), org, "openai.chat", "openai/gpt-4o")
            }
        })
        .collect()
}

#[tokio::test]
async fn rollup_and_raw_give_the_same_totals() {
    with_clickhouse(|store| async move {
        store.migrate().await?;
        let org = unique_name("org");
        let all = events(&org);
        // Several inserts: the rollup holds partial states per part that queries must merge.
        for chunk in all.chunks(777) {
            store.insert(chunk).await?;
        }
        let range = Filter {
            from: Some(at(T0 - HOUR)),
            to: Some(at(T0 + 49 * HOUR)),
            ..Filter::default()
        };
        let filters = [
            range.clone(),
            Filter {
                model: Some("claude-sonnet-4".into()),
                ..range.clone()
            },
            Filter {
                model: Some("openai/gpt-4o".into()),
                ..range.clone()
            },
            Filter {
                team_id: Some("team-1".into()),
                provider: Some("google".into()),
                ..range.clone()
            },
            Filter {
                key_id: Some("key-3".into()),
                from: Some(at(T0 + 5 * HOUR)),
                to: Some(at(T0 + 29 * HOUR)),
                ..range.clone()
            },
        ];
        for f in &filters {
            for bucket in [Bucket::Hour, Bucket::Day] {
                let raw = store.timeseries(&org, f, bucket, Source::Raw).await?;
                let rolled = store.timeseries(&org, f, bucket, Source::Rollup).await?;
                assert!(raw.iter().any(|p| p.totals.requests > 0), "{f:?}");
                assert_eq!(rolled, raw, "{bucket:?} {f:?}");
            }
            for d in [
                Dimension::Model,
                Dimension::Provider,
                Dimension::Key,
                Dimension::Team,
            ] {
                let raw = store.breakdown(&org, f, d, 100, Source::Raw).await?;
                let rolled = store.breakdown(&org, f, d, 100, Source::Rollup).await?;
                assert_eq!(rolled, raw, "{d:?} {f:?}");
            }
        }
        // The summary's counters from the rollup equal the raw ones.
        for f in &filters {
            assert_eq!(
                store.summary_from(&org, f, Source::Rollup).await?,
                store.summary_from(&org, f, Source::Raw).await?,
                "{f:?}"
            );
        }
        // Grand totals of the rollup equal the raw summary, and equal what was inserted.
        let summary = store.summary(&org, &range).await?;
        let rolled: u64 = store
            .timeseries(&org, &range, Bucket::Day, Source::Rollup)
            .await?
            .iter()
            .map(|p| p.totals.requests)
            .sum();
        assert_eq!((summary.requests, rolled), (6_000, 6_000));
        let cost: i64 = all.iter().map(|e| e.cost_nano_usd).sum();
        assert_eq!(summary.cost_nano_usd, cost);

        // Quantile states: t-digest estimates close to the exact raw percentiles.
        let q = store.rollup_quantiles(&org, &range).await?;
        let exact = [
            summary.latency_ms.p50,
            summary.latency_ms.p95,
            summary.latency_ms.p99,
        ];
        for (estimate, exact) in q.latency.iter().zip(exact) {
            let exact = f64::from(exact.unwrap());
            assert!(
                (estimate - exact).abs() <= exact * 0.05 + 5.0,
                "{estimate} vs {exact}"
            );
        }
        let exact_ttft = [summary.ttft_ms.p50, summary.ttft_ms.p95];
        for (estimate, exact) in q.ttft.iter().zip(exact_ttft) {
            let exact = f64::from(exact.unwrap());
            assert!(
                (estimate - exact).abs() <= exact * 0.05 + 5.0,
                "{estimate} vs {exact}"
            );
        }

        // A filter the rollup cannot answer exactly is refused when the rollup is forced.
        let odd = Filter {
            from: Some(at(T0 + 1)),
            ..range.clone()
        };
        assert!(
            store
                .timeseries(&org, &odd, Bucket::Hour, Source::Rollup)
                .await
                .is_err()
        );
        let _ = AnalyticsStore::ClickHouse(store);
        Ok(())
    })
    .await;
}
