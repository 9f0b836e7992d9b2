//! ClickHouse outage: a TCP proxy between the sink and the shared server is shut, events keep
//! arriving, and after it reopens every one of them is stored exactly once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly"
)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{minimal_event, unique_name, with_clickhouse};
use keyway_analytics::{AnalyticsStore, ClickHouseStore, EventSink, SinkConfig, SpoolConfig};
use keyway_testkit::services::clickhouse_url;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP forwarder to the ClickHouse HTTP port that can refuse and cut connections.
struct Proxy {
    addr: std::net::SocketAddr,
    open: Arc<AtomicBool>,
    /// Bumped on every shut, so connections opened before it end.
    generation: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let gen_tx = generation.clone();
        let is_open = open.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if !is_open.load(Ordering::SeqCst) {
                    // Refused: the client sees the connection closed at once.
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        () = forward(client, server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            open,
            generation,
        }
    }

    fn shut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies both ways like a well-behaved proxy: the response always reaches the client, even
/// when the server closed its side while the client was still sending (ClickHouse may answer
/// before reading the end of a chunked body), and the client side is drained so that closing it
/// never turns into a reset that would discard the response.
async fn forward(client: TcpStream, server: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut server_open = true;
        while let Ok(n) = client_rx.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if server_open && server_tx.write_all(&buf[..n]).await.is_err() {
                server_open = false;
            }
        }
        let _ = server_tx.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
        let _ = client_tx.shutdown().await;
    };
    tokio::join!(up, down);
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_during_an_outage_are_spooled_and_all_arrive_once_it_ends() {
    with_clickhouse(|direct| async move {
        direct.migrate().await?;
        let upstream = clickhouse_url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let proxy = Proxy::start(upstream).await;
        let through_proxy = ClickHouseStore::connect(
            &format!("http://{}", proxy.addr),
            direct.database(),
            None,
            None,
        )?;
        let spool_dir = tempfile::tempdir()?;
        let sink = EventSink::spawn(
            AnalyticsStore::ClickHouse(through_proxy),
            SinkConfig {
                capacity: 10_000,
                batch_rows: 100,
                flush_interval: Duration::from_millis(50),
                // Generous: an insert that times out after ClickHouse stored it is spooled and
                // replayed again (delivery is at least once), and a loaded test machine can make
                // ClickHouse 18.16 slow; this test is about the outage, not about slow inserts.
                write_timeout: Duration::from_secs(30),
                retry_interval: Duration::from_millis(200),
                spool: Some(SpoolConfig {
                    dir: spool_dir.path().to_owned(),
                    max_bytes: 64 * 1024 * 1024,
                }),
            },
        );
        let org = unique_name("org");
        let direct = AnalyticsStore::ClickHouse(direct);

        // Healthy: written straight through.
        for i in 0..50 {
            assert!(sink.try_record(minimal_event(&org, &format!("before-{i:04}"), 1_000 + i)));
        }
        // Wait for the sink's own acknowledgement, not just the rows: shutting the proxy while
        // an acknowledged-by-the-server insert is still in flight would make the sink spool
        // (and later replay) rows that were stored (delivery is at least once).
        wait_for("healthy writes", Duration::from_secs(20), async || {
            sink.stats().written == 50
        })
        .await;
        assert_eq!(direct.count(&org).await?, 50);

        // Outage: every event is accepted at once, none reaches ClickHouse, all are spooled.
        proxy.shut();
        const N: u64 = 1_000;
        let started = Instant::now();
        for i in 0..N {
            let accepted = sink.try_record(minimal_event(
                &org,
                &format!("during-{i:04}"),
                2_000 + i as i64,
            ));
            assert!(accepted, "event {i} refused during the outage");
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "recording {N} events took {:?}",
            started.elapsed()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while sink.stats().spooled < N {
            assert!(
                Instant::now() < deadline,
                "not all spooled: {:?}",
                sink.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            direct.count(&org).await?,
            50,
            "nothing got through the shut proxy"
        );
        let stats = sink.stats();
        assert!(stats.spool_bytes > 0);
        assert_eq!(
            (stats.dropped, stats.failed, stats.spool_dropped),
            (0, 0, 0)
        );
        assert!(
            sink.render_prometheus()
                .contains(&format!("keyway_analytics_events_spooled_total {N}\n")),
            "{:?}",
            sink.stats()
        );

        // Back: the spool is replayed and every event is present exactly once.
        proxy.reopen();
        wait_for("replay", Duration::from_secs(30), async || {
            direct.count(&org).await.unwrap() >= 50 + N
        })
        .await;
        let stats = sink.flush_and_close().await?;
        assert_eq!(direct.count(&org).await?, 50 + N);
        let ids: HashSet<String> = direct
            .recent(&org, 10_000)
            .await?
            .into_iter()
            .map(|e| e.request_id)
            .collect();
        assert_eq!(ids.len() as u64, 50 + N, "no duplicates, none missing");
        assert!((0..N).all(|i| ids.contains(&format!("during-{i:04}"))));
        assert_eq!(stats.replayed, N);
        assert_eq!(stats.written, 50 + N);
        assert_eq!(
            (stats.dropped, stats.failed, stats.spool_dropped),
            (0, 0, 0)
        );
        assert_eq!(stats.spool_bytes, 0);
        let batches = std::fs::read_dir(spool_dir.path())?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            })
            .count();
        assert_eq!(batches, 0, "spool emptied");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_spool_left_by_a_previous_process_is_replayed_on_start() {
    with_clickhouse(|direct| async move {
        direct.migrate().await?;
        let spool_dir = tempfile::tempdir()?;
        let org = unique_name("org");
        let config = |url: &str| -> anyhow::Result<(AnalyticsStore, SinkConfig)> {
            Ok((
                AnalyticsStore::ClickHouse(ClickHouseStore::connect(
                    url,
                    direct.database(),
                    None,
                    None,
                )?),
                SinkConfig {
                    batch_rows: 10,
                    flush_interval: Duration::from_millis(20),
                    retry_interval: Duration::from_millis(50),
                    spool: Some(SpoolConfig {
                        dir: spool_dir.path().to_owned(),
                        max_bytes: 1024 * 1024,
                    }),
                    ..SinkConfig::default()
                },
            ))
        };
        // First process: ClickHouse unreachable for its whole life.
        let (store, cfg) = config("http://127.0.0.1:1")?;
        let sink = EventSink::spawn(store, cfg);
        for i in 0..25 {
            assert!(sink.try_record(minimal_event(&org, &format!("r-{i}"), i)));
        }
        let stats = sink.flush_and_close().await?;
        assert_eq!((stats.spooled, stats.written), (25, 0));
        // Second process: reachable; the spool is replayed without any new event.
        let (store, cfg) = config(&clickhouse_url())?;
        let sink = EventSink::spawn(store, cfg);
        let direct = AnalyticsStore::ClickHouse(direct);
        wait_for("replay on start", Duration::from_secs(20), async || {
            direct.count(&org).await.unwrap() == 25
        })
        .await;
        assert_eq!(sink.flush_and_close().await?.replayed, 25);
        Ok(())
    })
    .await;
}
