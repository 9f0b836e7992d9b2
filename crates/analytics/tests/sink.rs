//! The batching sink, writing to a real SQLite store.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{minimal_event, with_sqlite};
use keyway_analytics::{AnalyticsStore, EventSink, SinkConfig, SinkStats, SqlStore};

#[tokio::test]
async fn every_recorded_event_arrives_exactly_once() {
    with_sqlite(|store| async move {
        let (store, sink) = sqlite_sink(
            store,
            SinkConfig {
                capacity: 5_000,
                batch_rows: 1_000,
                flush_interval: Duration::from_secs(60),
                ..SinkConfig::default()
            },
        )
        .await?;
        let recorder = sink.clone();
        const N: usize = 2_345;
        for i in 0..N {
            assert!(recorder.try_record(minimal_event("org-s", &format!("req-{i:05}"), i as i64)));
        }
        let stats = sink.flush_and_close().await?;
        assert_eq!(
            stats,
            SinkStats {
                recorded: N as u64,
                dropped: 0,
                written: N as u64,
                failed: 0,
                ..SinkStats::default()
            }
        );
        assert_eq!(store.count("org-s").await?, N as u64);
        let ids: HashSet<String> = store
            .recent("org-s", 10_000)
            .await?
            .into_iter()
            .map(|e| e.request_id)
            .collect();
        assert_eq!(ids.len(), N);

        // Closed: nothing more is accepted, and the refusal is counted.
        assert!(!recorder.try_record(minimal_event("org-s", "late", 0)));
        assert_eq!(sink.dropped(), 1);
        assert_eq!(sink.flush_and_close().await?.written, N as u64);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn full_channel_drops_without_blocking_and_counts() {
    with_sqlite(|store| async move {
        let (store, sink) = sqlite_sink(
            store,
            SinkConfig {
                capacity: 2,
                batch_rows: 10,
                flush_interval: Duration::from_secs(60),
                ..SinkConfig::default()
            },
        )
        .await?;
        // The test runs on a current-thread runtime: the writer cannot drain the channel until
        // this task awaits, so the third event meets a full channel.
        assert!(sink.try_record(minimal_event("org-f", "a", 1)));
        assert!(sink.try_record(minimal_event("org-f", "b", 2)));
        assert!(!sink.try_record(minimal_event("org-f", "c", 3)));
        assert_eq!(sink.dropped(), 1);
        let stats = sink.flush_and_close().await?;
        assert_eq!(
            stats,
            SinkStats {
                recorded: 2,
                dropped: 1,
                written: 2,
                failed: 0,
                ..SinkStats::default()
            }
        );
        assert_eq!(store.count("org-f").await?, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_partial_batch_is_written_after_the_flush_interval() {
    with_sqlite(|store| async move {
        let (store, sink) = sqlite_sink(
            store,
            SinkConfig {
                capacity: 100,
                batch_rows: 1_000,
                flush_interval: Duration::from_millis(100),
                ..SinkConfig::default()
            },
        )
        .await?;
        for i in 0..5 {
            assert!(sink.try_record(minimal_event("org-t", &format!("req-{i}"), i)));
        }
        await_count(&store, "org-t", 5).await?;
        assert_eq!(sink.stats().written, 5);
        sink.flush_and_close().await?;
        Ok(())
    })
    .await;
}

/// Migrates `store` and starts a sink writing to it.
async fn sqlite_sink(
    store: SqlStore,
    config: SinkConfig,
) -> anyhow::Result<(AnalyticsStore, EventSink)> {
    store.migrate().await?;
    let store = AnalyticsStore::Sql(store);
    Ok((store.clone(), EventSink::spawn(store, config)))
}

/// Waits (at most 5 s) until `org` holds `n` events.
async fn await_count(store: &AnalyticsStore, org: &str, n: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.count(org).await? < n {
        assert!(Instant::now() < deadline, "{org} never reached {n} events");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test]
async fn an_idle_writer_wakes_for_the_next_event_and_for_close() {
    with_sqlite(|store| async move {
        let (store, sink) = sqlite_sink(
            store,
            SinkConfig {
                flush_interval: Duration::from_millis(50),
                ..SinkConfig::default()
            },
        )
        .await?;
        assert!(sink.try_record(minimal_event("org-i", "first", 1)));
        await_count(&store, "org-i", 1).await?;
        // Written and nothing left: the writer waits on the channel, not on its ticker.
        for spell in 0..3 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for i in 0..4 {
                assert!(sink.try_record(minimal_event("org-i", &format!("s{spell}-{i}"), i)));
            }
            await_count(&store, "org-i", 1 + 4 * (spell + 1)).await?;
        }
        // Closing an idle writer returns (the stop signal reaches it while it waits).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stats = tokio::time::timeout(Duration::from_secs(5), sink.flush_and_close())
            .await
            .expect("closing an idle sink hangs")?;
        assert_eq!((stats.recorded, stats.written, stats.dropped), (13, 13, 0));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn failed_batches_are_counted_not_retried_forever() {
    with_sqlite(|store| async move {
        // No migrate: the table is missing, so every write fails.
        let sink = EventSink::spawn(AnalyticsStore::Sql(store), SinkConfig::default());
        assert!(sink.try_record(minimal_event("org-e", "a", 1)));
        let stats = sink.flush_and_close().await?;
        assert_eq!(
            stats,
            SinkStats {
                recorded: 1,
                dropped: 0,
                written: 0,
                failed: 1,
                ..SinkStats::default()
            }
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn spooled_bodies_are_redacted_on_disk_too() {
    with_sqlite(|store| async move {
        // No migrate: every write fails, so the batch lands in the spool.
        let dir = tempfile::tempdir()?;
        let sink = EventSink::spawn(
            AnalyticsStore::Sql(store),
            SinkConfig {
                spool: Some(keyway_analytics::SpoolConfig {
                    dir: dir.path().to_owned(),
                    max_bytes: 1 << 20,
                }),
                ..SinkConfig::default()
            },
        );
        let mut event = minimal_event("org-r", "a", 1);
        event.request_body = Some(r#"{"api_key":"sk-live-0123456789abcdef"}"#.into());
        assert!(sink.try_record(event));
        let stats = sink.flush_and_close().await?;
        assert_eq!(stats.spooled, 1);
        let mut text = String::new();
        for entry in std::fs::read_dir(dir.path())? {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "jsonl") {
                text.push_str(&std::fs::read_to_string(path)?);
            }
        }
        assert!(text.contains("[REDACTED]"), "{text}");
        assert!(!text.contains("sk-live-0123456789abcdef"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn periodic_retention_deletes_each_orgs_old_requests() {
    with_sqlite(|store| async move {
        store.migrate().await?;
        let store = AnalyticsStore::Sql(store);
        let day = 86_400_000_i64;
        let now = chrono::Utc::now().timestamp_millis();
        store
            .insert(&[
                minimal_event("org-a", "old", now - 10 * day),
                minimal_event("org-a", "new", now - day),
                minimal_event("org-b", "old", now - 10 * day),
            ])
            .await?;
        let task =
            keyway_analytics::spawn_retention(store.clone(), Duration::from_secs(3600), || async {
                vec![("org-a".to_owned(), 7)]
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.count("org-a").await? != 1 {
            assert!(Instant::now() < deadline, "retention never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert_eq!(store.recent("org-a", 10).await?[0].request_id, "new");
        assert_eq!(
            store.count("org-b").await?,
            1,
            "an org without a policy keeps everything"
        );
        Ok(())
    })
    .await;
}
