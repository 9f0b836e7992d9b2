//! The non-blocking write path: a bounded channel in front of a batching writer task.
//!
//! The gateway calls [`EventSink::try_record`] on the request path; it never waits. When the
//! channel is full (the backend is slower than traffic) the event is dropped and counted, so a
//! slow analytics backend can never slow requests down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::{AnalyticsError, AnalyticsStore, RequestEvent};

/// Sizing of an [`EventSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkConfig {
    /// Events that may wait in the channel before new ones are dropped (at least 1).
    pub capacity: usize,
    /// A batch is written as soon as it holds this many rows (at least 1).
    pub batch_rows: usize,
    /// A non-empty batch is written at least this often (at least 1 ms).
    pub flush_interval: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_rows: 1_000,
            flush_interval: Duration::from_secs(1),
        }
    }
}

/// Counters of an [`EventSink`] since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events accepted by [`EventSink::try_record`].
    pub recorded: u64,
    /// Events refused because the channel was full or the sink closed.
    pub dropped: u64,
    /// Events the backend stored.
    pub written: u64,
    /// Events lost because the backend refused their batch.
    pub failed: u64,
}

#[derive(Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SinkStats {
        SinkStats {
            recorded: self.recorded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

struct Writer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Cheap-to-clone handle to the analytics write path; all clones feed one writer task.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<RequestEvent>,
    counters: Arc<Counters>,
    writer: Arc<Mutex<Option<Writer>>>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl EventSink {
    /// Starts the writer task on the current Tokio runtime.
    pub fn spawn(store: AnalyticsStore, config: SinkConfig) -> Self {
        let config = SinkConfig {
            capacity: config.capacity.max(1),
            batch_rows: config.batch_rows.max(1),
            flush_interval: config.flush_interval.max(Duration::from_millis(1)),
        };
        let (tx, rx) = mpsc::channel(config.capacity);
        let (stop, stopped) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run_writer(
            store,
            config,
            rx,
            stopped,
            Arc::clone(&counters),
        ));
        Self {
            tx,
            counters,
            writer: Arc::new(Mutex::new(Some(Writer { stop, task }))),
        }
    }

    /// Queues `event` without waiting. Returns `false`, and counts a drop, when the channel is
    /// full or the sink is closed.
    pub fn try_record(&self, event: RequestEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.counters.recorded.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Events refused so far (channel full or sink closed).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// All counters.
    pub fn stats(&self) -> SinkStats {
        self.counters.snapshot()
    }

    /// Stops accepting events, writes everything already queued, and waits for the writer to
    /// finish. Later calls (from any clone) return at once with the final counters.
    pub async fn flush_and_close(&self) -> Result<SinkStats, AnalyticsError> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Writer { stop, task }) = writer {
            // The writer only ends after this signal or when every sender is gone; either way
            // a failed send means it is already draining.
            let _ = stop.send(());
            task.await
                .map_err(|e| AnalyticsError::Writer(e.to_string()))?;
        }
        Ok(self.stats())
    }
}

async fn run_writer(
    store: AnalyticsStore,
    config: SinkConfig,
    mut rx: mpsc::Receiver<RequestEvent>,
    mut stop: oneshot::Receiver<()>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(config.batch_rows);
    let mut ticker = tokio::time::interval(config.flush_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Never 0: a full batch is written before the loop comes back here.
        let room = config.batch_rows - batch.len();
        tokio::select! {
            received = rx.recv_many(&mut batch, room) => {
                if received == 0 {
                    break;
                }
                if batch.len() >= config.batch_rows {
                    write_batch(&store, &mut batch, &counters).await;
                }
            }
            _ = ticker.tick() => {
                if !batch.is_empty() {
                    write_batch(&store, &mut batch, &counters).await;
                }
            }
            _ = &mut stop => break,
        }
    }
    // Refuse new events, then write what is already queued.
    rx.close();
    loop {
        let room = config.batch_rows - batch.len();
        if rx.recv_many(&mut batch, room).await == 0 {
            break;
        }
        if batch.len() >= config.batch_rows {
            write_batch(&store, &mut batch, &counters).await;
        }
    }
    if !batch.is_empty() {
        write_batch(&store, &mut batch, &counters).await;
    }
}

async fn write_batch(store: &AnalyticsStore, batch: &mut Vec<RequestEvent>, counters: &Counters) {
    let rows = batch.len() as u64;
    match store.insert(batch).await {
        Ok(()) => {
            counters.written.fetch_add(rows, Ordering::Relaxed);
        }
        Err(error) => {
            counters.failed.fetch_add(rows, Ordering::Relaxed);
            tracing::warn!(rows, error = %ErrorChain(&error), "analytics batch write failed; rows dropped");
        }
    }
    batch.clear();
}

/// Renders an error with all its causes on one line, for logs.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
