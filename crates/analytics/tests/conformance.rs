//! One conformance suite for the query API, run identically on ClickHouse (18.16 in CI), SQLite
//! and Postgres. Expected values come from a plain-Rust oracle over the inserted events, so every
//! backend must agree with the documented definitions (and so with each other).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{
    HOUR, MINUTE, T0, at, dataset, unique_name, with_clickhouse, with_postgres, with_sqlite,
};
use keyway_analytics::{
    AnalyticsError, AnalyticsStore, BreakdownRow, Bucket, Dimension, Filter, Percentiles,
    RequestEvent, StatusFilter, Summary, TimeSeriesPoint, Totals,
};

#[tokio::test]
async fn clickhouse_conforms() {
    with_clickhouse(|store| conformance(AnalyticsStore::ClickHouse(store))).await;
}

#[tokio::test]
async fn sqlite_conforms() {
    with_sqlite(|store| conformance(AnalyticsStore::Sql(store))).await;
}

#[tokio::test]
async fn postgres_conforms() {
    with_postgres(|store| conformance(AnalyticsStore::Sql(store))).await;
}

// ---- the oracle: the documented definitions, in plain Rust ----

fn model(e: &RequestEvent) -> String {
    e.served_model
        .clone()
        .unwrap_or_else(|| e.requested_model.clone())
}

fn matches(e: &RequestEvent, f: &Filter) -> bool {
    let ms = e.ts.timestamp_millis();
    let opt = |want: &Option<String>, have: Option<&String>| {
        want.as_ref()
            .is_none_or(|w| have.map(String::as_str).unwrap_or("") == w)
    };
    f.from.is_none_or(|t| ms >= t.timestamp_millis())
        && f.to.is_none_or(|t| ms < t.timestamp_millis())
        && f.model.as_ref().is_none_or(|m| *m == model(e))
        && opt(&f.provider, e.provider.as_ref())
        && opt(&f.key_id, e.key_id.as_ref())
        && opt(&f.team_id, e.team_id.as_ref())
        && opt(&f.end_user_id, e.end_user_id.as_ref())
        && f.status.is_none_or(|s| match s {
            StatusFilter::Success => e.status_code < 400,
            StatusFilter::Error => e.status_code >= 400,
            StatusFilter::Code(c) => e.status_code == c,
        })
        && f.metadata
            .iter()
            .all(|(k, v)| e.metadata().any(|(ek, ev)| ek == k && ev == v))
}

fn pct(mut values: Vec<u32>, level: f64) -> Option<u32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let i = ((level * values.len() as f64) as usize).min(values.len() - 1);
    Some(values[i])
}

fn totals<'a>(events: impl IntoIterator<Item = &'a RequestEvent>) -> Totals {
    let events: Vec<&RequestEvent> = events.into_iter().collect();
    let requests = events.len() as u64;
    let latency_ms_sum = events.iter().map(|e| u64::from(e.latency_ms)).sum();
    Totals {
        requests,
        errors: events.iter().filter(|e| e.status_code >= 400).count() as u64,
        input_tokens: events.iter().map(|e| u64::from(e.input_tokens)).sum(),
        output_tokens: events.iter().map(|e| u64::from(e.output_tokens)).sum(),
        cost_nano_usd: events.iter().map(|e| e.cost_nano_usd).sum(),
        cache_hits: events.iter().filter(|e| e.cache_status == "hit").count() as u64,
        latency_ms_sum,
        avg_latency_ms: (requests > 0).then(|| latency_ms_sum as f64 / requests as f64),
    }
}

fn expected_summary(all: &[RequestEvent], f: &Filter) -> Summary {
    let sel: Vec<&RequestEvent> = all.iter().filter(|e| matches(e, f)).collect();
    let t = totals(sel.iter().copied());
    let lat: Vec<u32> = sel.iter().map(|e| e.latency_ms).collect();
    let ttft: Vec<u32> = sel.iter().filter_map(|e| e.ttft_ms).collect();
    let rate = |x: u64| {
        if t.requests == 0 {
            0.0
        } else {
            x as f64 / t.requests as f64
        }
    };
    Summary {
        requests: t.requests,
        errors: t.errors,
        error_rate: rate(t.errors),
        input_tokens: t.input_tokens,
        output_tokens: t.output_tokens,
        cost_nano_usd: t.cost_nano_usd,
        latency_ms: Percentiles {
            p50: pct(lat.clone(), 0.5),
            p95: pct(lat.clone(), 0.95),
            p99: pct(lat, 0.99),
        },
        ttft_ms: Percentiles {
            p50: pct(ttft.clone(), 0.5),
            p95: pct(ttft, 0.95),
            p99: None,
        },
        cache_hits: t.cache_hits,
        cache_hit_rate: rate(t.cache_hits),
    }
}

fn expected_series(all: &[RequestEvent], f: &Filter, width: i64) -> Vec<TimeSeriesPoint> {
    let (from, to) = (
        f.from.unwrap().timestamp_millis(),
        f.to.unwrap().timestamp_millis(),
    );
    let mut out = Vec::new();
    let mut start = from.div_euclid(width) * width;
    while start < to {
        let t = totals(all.iter().filter(|e| {
            let ms = e.ts.timestamp_millis();
            matches(e, f) && ms >= start && ms < start + width
        }));
        out.push(TimeSeriesPoint {
            start: at(start),
            totals: t,
        });
        start += width;
    }
    out
}

fn dimension_of(e: &RequestEvent, d: Dimension) -> Option<String> {
    let v = match d {
        Dimension::Model => Some(model(e)),
        Dimension::Provider => e.provider.clone(),
        Dimension::Key => e.key_id.clone(),
        Dimension::Team => e.team_id.clone(),
        Dimension::EndUser => e.end_user_id.clone(),
        Dimension::Status => Some(e.status_code.to_string()),
        Dimension::PromptVersion => e
            .prompt_id
            .as_ref()
            .map(|p| format!("{p}@{}", e.prompt_version.unwrap_or_default())),
    };
    v.filter(|s| !s.is_empty())
}

fn expected_breakdown(
    all: &[RequestEvent],
    f: &Filter,
    d: Dimension,
    limit: usize,
) -> Vec<BreakdownRow> {
    let mut groups: BTreeMap<Option<String>, Vec<&RequestEvent>> = BTreeMap::new();
    for e in all.iter().filter(|e| matches(e, f)) {
        groups.entry(dimension_of(e, d)).or_default().push(e);
    }
    let mut rows: Vec<BreakdownRow> = groups
        .into_iter()
        .map(|(value, events)| BreakdownRow {
            value,
            totals: totals(events),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.totals
            .cost_nano_usd
            .cmp(&a.totals.cost_nano_usd)
            .then(b.totals.requests.cmp(&a.totals.requests))
            .then(
                a.value
                    .clone()
                    .unwrap_or_default()
                    .cmp(&b.value.clone().unwrap_or_default()),
            )
    });
    rows.truncate(limit);
    rows
}

fn newest_first(all: &[RequestEvent], f: &Filter) -> Vec<RequestEvent> {
    let mut sel: Vec<RequestEvent> = all
        .iter()
        .filter(|e| matches(e, f))
        .cloned()
        .map(|mut e| {
            e.request_body = None;
            e.response_body = None;
            e
        })
        .collect();
    sel.sort_by(|a, b| b.ts.cmp(&a.ts).then(b.request_id.cmp(&a.request_id)));
    sel
}

async fn all_logs(
    store: &AnalyticsStore,
    org: &str,
    f: &Filter,
    page: u32,
) -> anyhow::Result<Vec<RequestEvent>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = store.logs(org, f, cursor.as_deref(), page).await?;
        assert!(p.items.len() <= page as usize);
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn filters() -> Vec<(&'static str, Filter)> {
    let f = Filter::default;
    vec![
        ("everything", f()),
        (
            "model",
            Filter {
                model: Some("claude-sonnet-4".into()),
                ..f()
            },
        ),
        (
            "unserved model",
            Filter {
                model: Some("openai/gpt-4o".into()),
                ..f()
            },
        ),
        (
            "provider",
            Filter {
                provider: Some("google".into()),
                ..f()
            },
        ),
        (
            "key",
            Filter {
                key_id: Some("key-1".into()),
                ..f()
            },
        ),
        (
            "team",
            Filter {
                team_id: Some("team-a".into()),
                ..f()
            },
        ),
        (
            "end user",
            Filter {
                end_user_id: Some("user-1".into()),
                ..f()
            },
        ),
        (
            "errors",
            Filter {
                status: Some(StatusFilter::Error),
                ..f()
            },
        ),
        (
            "success",
            Filter {
                status: Some(StatusFilter::Success),
                ..f()
            },
        ),
        (
            "429",
            Filter {
                status: Some(StatusFilter::Code(429)),
                ..f()
            },
        ),
        (
            "metadata",
            Filter {
                metadata: [("env".to_owned(), "prod".to_owned())].into(),
                ..f()
            },
        ),
        (
            "metadata with separators",
            Filter {
                metadata: [
                    ("feature".to_owned(), "a,\"b\":c".to_owned()),
                    ("env".to_owned(), "dev".to_owned()),
                ]
                .into(),
                ..f()
            },
        ),
        (
            "metadata no match",
            Filter {
                metadata: [("env".to_owned(), "pro".to_owned())].into(),
                ..f()
            },
        ),
        (
            "range",
            Filter {
                from: Some(at(T0 + 37 * MINUTE)),
                to: Some(at(T0 + 2 * HOUR + 1)),
                ..f()
            },
        ),
        (
            "combined",
            Filter {
                from: Some(at(T0 + HOUR)),
                to: Some(at(T0 + 3 * HOUR)),
                team_id: Some("team-a".into()),
                status: Some(StatusFilter::Success),
                ..f()
            },
        ),
        (
            "nothing",
            Filter {
                from: Some(at(0)),
                to: Some(at(T0)),
                ..f()
            },
        ),
    ]
}

async fn conformance(store: AnalyticsStore) -> anyhow::Result<()> {
    store.migrate().await?;
    let org = unique_name("org");
    let other = unique_name("org");
    let mut events = dataset(&org);
    events[3].request_body =
        Some(r#"{"api_key":"sk-proj-abcdefghijklmnop1234","messages":[{"content":"hi"}]}"#.into());
    events[3].response_body = Some("Authorization: Bearer abcdefghijklmnopqrstuvwx ok".into());
    // The other org reuses request ids and times: nothing of it may leak into `org`'s answers.
    let foreign: Vec<RequestEvent> = dataset(&other).into_iter().take(10).collect();
    // Two batches, so ClickHouse holds several parts.
    store.insert(&events[..25]).await?;
    store.insert(&events[25..]).await?;
    store.insert(&foreign).await?;

    for (name, f) in filters() {
        assert_eq!(
            store.summary(&org, &f).await?,
            expected_summary(&events, &f),
            "summary: {name}"
        );
    }
    let empty = store.summary("no-such-org", &Filter::default()).await?;
    assert_eq!(empty.requests, 0);
    assert_eq!(empty.latency_ms, Percentiles::default());

    // Time series: whole-hour ranges (ClickHouse answers from the rollup), odd ranges (raw).
    let series_cases = [
        (Bucket::Hour, T0 - HOUR, T0 + 5 * HOUR, Filter::default()),
        (
            Bucket::Hour,
            T0 - HOUR,
            T0 + 5 * HOUR,
            Filter {
                model: Some("gemini-2.5-flash".into()),
                ..Filter::default()
            },
        ),
        (
            Bucket::Hour,
            T0 + 17 * MINUTE,
            T0 + 3 * HOUR + 1,
            Filter {
                status: Some(StatusFilter::Error),
                ..Filter::default()
            },
        ),
        (
            Bucket::Day,
            T0 - 22 * HOUR,
            T0 + 26 * HOUR,
            Filter::default(),
        ),
        (
            Bucket::Minute,
            T0 + 50 * MINUTE,
            T0 + 80 * MINUTE,
            Filter::default(),
        ),
    ];
    for (bucket, from, to, mut f) in series_cases {
        f.from = Some(at(from));
        f.to = Some(at(to));
        let got = store.timeseries(&org, &f, bucket).await?;
        assert_eq!(
            got,
            expected_series(&events, &f, bucket.width_ms()),
            "{bucket:?} {f:?}"
        );
    }
    let hourly = store
        .timeseries(
            &org,
            &Filter {
                from: Some(at(T0 - HOUR)),
                to: Some(at(T0 + 5 * HOUR)),
                ..Filter::default()
            },
            Bucket::Hour,
        )
        .await?;
    assert_eq!(hourly.len(), 6, "zero-filled");
    assert_eq!(hourly[0].totals, Totals::default());
    assert_eq!(hourly.iter().map(|p| p.totals.requests).sum::<u64>(), 40);
    let unbounded = store
        .timeseries(&org, &Filter::default(), Bucket::Hour)
        .await?;
    assert_eq!(
        unbounded.len(),
        4,
        "without bounds only buckets holding data"
    );
    assert!(matches!(
        store
            .timeseries(
                &org,
                &Filter {
                    from: Some(at(0)),
                    to: Some(at(T0)),
                    ..Filter::default()
                },
                Bucket::Minute
            )
            .await,
        Err(AnalyticsError::InvalidQuery(_))
    ));

    let dims = [
        Dimension::Model,
        Dimension::Provider,
        Dimension::Key,
        Dimension::Team,
        Dimension::EndUser,
        Dimension::Status,
        Dimension::PromptVersion,
    ];
    for (name, f) in filters() {
        for d in dims {
            assert_eq!(
                store.breakdown(&org, &f, d, 100).await?,
                expected_breakdown(&events, &f, d, 100),
                "breakdown {d:?}: {name}"
            );
        }
    }
    assert_eq!(
        store
            .breakdown(&org, &Filter::default(), Dimension::Key, 2)
            .await?,
        expected_breakdown(&events, &Filter::default(), Dimension::Key, 2)
    );

    // Logs: every page size gives the same newest-first sequence, bodies left out.
    for (name, f) in filters() {
        for page in [1, 7, 40, 1000] {
            assert_eq!(
                all_logs(&store, &org, &f, page).await?,
                newest_first(&events, &f),
                "logs {name} / {page}"
            );
        }
    }
    // Keyset pagination: requests arriving between pages do not shift or repeat rows.
    let first = store.logs(&org, &Filter::default(), None, 15).await?;
    let newer: Vec<RequestEvent> = (0..5)
        .map(|i| RequestEvent {
            ts: at(T0 + 10 * HOUR + i),
            ..RequestEvent::new(&format!("late-{i}"), &org, "openai.chat", "m")
        })
        .collect();
    store.insert(&newer).await?;
    let mut rest = Vec::new();
    let mut cursor = first.next_cursor.clone();
    while let Some(c) = cursor {
        let p = store.logs(&org, &Filter::default(), Some(&c), 15).await?;
        rest.extend(p.items);
        cursor = p.next_cursor;
    }
    let mut seen = first.items.clone();
    seen.extend(rest);
    assert_eq!(seen, newest_first(&events, &Filter::default()));
    assert!(matches!(
        store
            .logs(&org, &Filter::default(), Some("garbage!"), 10)
            .await,
        Err(AnalyticsError::InvalidQuery(_))
    ));

    // Request detail: org-scoped, with redacted bodies.
    let detail = store
        .request(&org, "req-03")
        .await?
        .expect("own request found");
    assert_eq!(detail.org_id, org);
    let req_body = detail.request_body.expect("request body stored");
    assert!(
        !req_body.contains("sk-proj-abcdefghijklmnop1234"),
        "{req_body}"
    );
    assert!(req_body.contains("[REDACTED]") && req_body.contains("\"content\":\"hi\""));
    let resp_body = detail.response_body.expect("response body stored");
    assert!(
        !resp_body.contains("abcdefghijklmnopqrstuvwx") && resp_body.ends_with(" ok"),
        "{resp_body}"
    );
    assert_eq!(
        store.request(&other, "req-03").await?.map(|e| e.org_id),
        Some(other.clone())
    );
    assert_eq!(
        store.request(&other, "req-30").await?,
        None,
        "another org's request id is not found"
    );
    assert_eq!(store.request(&org, "no-such-request").await?, None);
    // Gateway ids are UUIDv7: found whether or not their embedded time matches the event's.
    let uuid_at = |ms: i64| {
        format!(
            "{:08x}-{:04x}-7abc-8def-0123456789ab",
            ms >> 16,
            ms & 0xffff
        )
    };
    let on_time = RequestEvent {
        ts: at(T0 + 7),
        ..RequestEvent::new(&uuid_at(T0 + 5), &org, "openai.chat", "m")
    };
    let skewed = RequestEvent {
        ts: at(T0 + 7),
        ..RequestEvent::new(&uuid_at(T0 - 400 * HOUR), &org, "openai.chat", "m")
    };
    store.insert(&[on_time.clone(), skewed.clone()]).await?;
    assert_eq!(
        store.request(&org, &on_time.request_id).await?,
        Some(on_time.clone())
    );
    assert_eq!(
        store.request(&org, &skewed.request_id).await?,
        Some(skewed.clone())
    );
    assert_eq!(store.request(&other, &on_time.request_id).await?, None);
    // Both are older than the retention cutoff below, so they are deleted with the rest.

    // CSV export: header plus one line per request, newest first.
    let csv = store
        .export_csv(
            &org,
            &Filter {
                status: Some(StatusFilter::Code(502)),
                ..Filter::default()
            },
            1_000,
        )
        .await?;
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], keyway_analytics::query::CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + 4);
    assert!(
        lines[1].starts_with("req-39,2026-02-01T01:15:00.004Z,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",502,upstream_error,"));
    assert_eq!(
        store
            .export_csv(&org, &Filter::default(), 3)
            .await?
            .trim_end()
            .split("\r\n")
            .count(),
        4
    );

    // Retention: everything received before the cutoff goes, for this org only.
    let cutoff = T0 + 100 * MINUTE;
    let now: DateTime<Utc> = at(cutoff) + chrono::Duration::days(30);
    store.enforce_retention(&org, 30, now).await?;
    let kept = events
        .iter()
        .filter(|e| e.ts.timestamp_millis() >= cutoff)
        .count() as u64
        + newer.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.count(&org).await? != kept {
        assert!(Instant::now() < deadline, "retention not applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.count(&other).await?, 10);
    let ids: HashSet<String> = all_logs(&store, &org, &Filter::default(), 1000)
        .await?
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert!(!ids.contains("req-19") && ids.contains("req-20"));
    Ok(())
}
