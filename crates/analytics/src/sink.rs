//! The non-blocking write path: a bounded channel in front of a batching writer task.
//!
//! The gateway calls [`EventSink::try_record`] on the request path; it never waits. When the
//! channel is full (the backend is slower than traffic) the event is dropped and counted, so a
//! slow analytics backend can never slow requests down. The writer drains the channel every
//! [`DRAIN_INTERVAL`] rather than waiting on it, so recording an event wakes no other thread.
//! Only with nothing queued, pending or spooled does it wait on the channel instead: an idle
//! gateway has no timer wake-ups, and the first event after an idle spell wakes the writer once.
//!
//! When a batch cannot be written (backend unreachable, timed out, or erroring) and a spool is
//! configured, the batch goes to a bounded on-disk [`Spool`]; while the spool holds anything,
//! new batches queue behind it, and the writer replays it oldest first every `retry_interval`
//! until the backend takes it again. A full spool drops (and counts) new batches.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::spool::{Pushed, Spool};
use crate::{AnalyticsError, AnalyticsStore, RequestEvent};

/// How often the writer takes what the channel holds. Events are written once a batch is full
/// or `flush_interval` after the previous write, whichever comes first, seen at this pace.
const DRAIN_INTERVAL: Duration = Duration::from_millis(10);

/// Where failed batches wait for the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Directory of the spool files (created if missing), e.g. `<data_dir>/analytics-spool`.
    pub dir: PathBuf,
    /// Most bytes the spool may hold; batches beyond it are dropped and counted.
    pub max_bytes: u64,
}

/// Sizing of an [`EventSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Events that may wait in the channel before new ones are dropped (at least 1).
    pub capacity: usize,
    /// A batch is written as soon as it holds this many rows (at least 1).
    pub batch_rows: usize,
    /// A non-empty batch is written at least this often (at least 1 ms).
    pub flush_interval: Duration,
    /// Longest a single backend write may take before it counts as failed.
    pub write_timeout: Duration,
    /// How often the spool is retried while the backend is failing.
    pub retry_interval: Duration,
    /// On-disk spool for batches the backend could not take; `None` drops them (counted as
    /// `failed`).
    pub spool: Option<SpoolConfig>,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_rows: 1_000,
            flush_interval: Duration::from_secs(1),
            write_timeout: Duration::from_secs(30),
            retry_interval: Duration::from_secs(5),
            spool: None,
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
    /// Events lost because the backend refused their batch (invalid events, or any failure
    /// when no spool is configured).
    pub failed: u64,
    /// Events written to the spool because the backend could not take them.
    pub spooled: u64,
    /// Spooled events later stored by the backend (also counted in `written`).
    pub replayed: u64,
    /// Events lost because the spool was full or a spool file was unreadable.
    pub spool_dropped: u64,
    /// Bytes currently in the spool (a gauge).
    pub spool_bytes: u64,
}

#[derive(Default)]
struct Counters {
    recorded: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    spool_dropped: AtomicU64,
    spool_bytes: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SinkStats {
        SinkStats {
            recorded: self.recorded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            spool_dropped: self.spool_dropped.load(Ordering::Relaxed),
            spool_bytes: self.spool_bytes.load(Ordering::Relaxed),
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
    /// Starts the writer task on the current Tokio runtime. A spool that cannot be opened is
    /// logged and the sink runs without one.
    pub fn spawn(store: AnalyticsStore, config: SinkConfig) -> Self {
        let config = SinkConfig {
            capacity: config.capacity.max(1),
            batch_rows: config.batch_rows.max(1),
            flush_interval: config.flush_interval.max(Duration::from_millis(1)),
            write_timeout: config.write_timeout.max(Duration::from_millis(1)),
            retry_interval: config.retry_interval.max(Duration::from_millis(1)),
            spool: config.spool,
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

    /// The counters in the Prometheus text format, for `/metrics`.
    pub fn render_prometheus(&self) -> String {
        crate::render_prometheus(&self.stats())
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
    let spool = match &config.spool {
        Some(spool) => match Spool::open(&spool.dir, spool.max_bytes).await {
            Ok(opened) => {
                if !opened.is_empty() {
                    tracing::info!(rows = opened.rows(), "analytics spool found; replaying");
                }
                Some(opened)
            }
            Err(error) => {
                tracing::error!(dir = %spool.dir.display(), %error, "analytics spool unusable; running without it");
                None
            }
        },
        None => None,
    };
    let mut writer = BatchWriter {
        store,
        write_timeout: config.write_timeout,
        retry_interval: config.retry_interval,
        spool,
        last_failure: None,
        counters,
    };
    writer.publish_spool_size();
    let mut batch = Vec::with_capacity(config.batch_rows);
    let mut ticker = tokio::time::interval(DRAIN_INTERVAL.min(config.flush_interval));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_flush = Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => break,
        }
        // While events flow the writer never waits on the channel itself: a receiver parked
        // there would be woken, across threads, by every single event on the request path.
        let mut closed = false;
        loop {
            while batch.len() < config.batch_rows {
                match rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if batch.len() < config.batch_rows {
                break;
            }
            writer.write(&mut batch).await;
            last_flush = Instant::now();
        }
        if !batch.is_empty() && (closed || last_flush.elapsed() >= config.flush_interval) {
            writer.write(&mut batch).await;
            last_flush = Instant::now();
        }
        writer.replay_if_due().await;
        if closed {
            break;
        }
        if batch.is_empty() && !writer.spooling() {
            // Idle: wait for the next event rather than tick, then drain one interval later
            // so that a burst still goes out as one batch.
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => batch.push(event),
                    None => break,
                },
                _ = &mut stop => break,
            }
            ticker.reset();
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
            writer.write(&mut batch).await;
        }
    }
    if !batch.is_empty() {
        writer.write(&mut batch).await;
    }
    // One last attempt; whatever stays spooled is replayed by the next process.
    writer.replay().await;
}

/// Writes batches to the store, falling back to the spool.
struct BatchWriter {
    store: AnalyticsStore,
    write_timeout: Duration,
    retry_interval: Duration,
    spool: Option<Spool>,
    /// When the backend last failed; replay waits `retry_interval` after it.
    last_failure: Option<Instant>,
    counters: Arc<Counters>,
}

impl BatchWriter {
    /// Writes and clears `batch`: to the store, or behind a non-empty spool.
    async fn write(&mut self, batch: &mut Vec<RequestEvent>) {
        let rows = batch.len() as u64;
        if let Err(error) = crate::event::check_batch(batch) {
            // A batch the backend would refuse forever is not spooled.
            self.counters.failed.fetch_add(rows, Ordering::Relaxed);
            tracing::warn!(rows, error = %ErrorChain(&error), "invalid analytics batch; rows dropped");
            batch.clear();
            return;
        }
        // Before anything can reach the disk spool: no secret is ever written, not even there.
        if crate::event::has_bodies(batch) {
            batch.iter_mut().for_each(crate::redact::redact_event);
        }
        if self.spooling() {
            // Keep arrival order: the spool goes first.
            self.spool_batch(batch).await;
            self.replay_if_due().await;
        } else {
            match self.insert(batch).await {
                Ok(()) => {
                    self.counters.written.fetch_add(rows, Ordering::Relaxed);
                }
                Err(error) => {
                    self.last_failure = Some(Instant::now());
                    if self.spool.is_some() {
                        tracing::warn!(rows, error = %ErrorChain(&error), "analytics backend write failed; spooling to disk");
                        self.spool_batch(batch).await;
                    } else {
                        self.counters.failed.fetch_add(rows, Ordering::Relaxed);
                        tracing::warn!(rows, error = %ErrorChain(&error), "analytics batch write failed; rows dropped");
                    }
                }
            }
        }
        batch.clear();
    }

    async fn insert(&self, batch: &[RequestEvent]) -> Result<(), AnalyticsError> {
        match tokio::time::timeout(self.write_timeout, self.store.insert(batch)).await {
            Ok(result) => result,
            Err(_) => Err(AnalyticsError::Writer(format!(
                "write timed out after {:?}",
                self.write_timeout
            ))),
        }
    }

    async fn spool_batch(&mut self, batch: &[RequestEvent]) {
        let rows = batch.len() as u64;
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        match spool.push(batch).await {
            Ok(Pushed::Stored) => {
                self.counters.spooled.fetch_add(rows, Ordering::Relaxed);
            }
            Ok(Pushed::Full) => {
                self.counters
                    .spool_dropped
                    .fetch_add(rows, Ordering::Relaxed);
                tracing::warn!(rows, "analytics spool full; rows dropped");
            }
            Err(error) => {
                self.counters
                    .spool_dropped
                    .fetch_add(rows, Ordering::Relaxed);
                tracing::error!(rows, %error, "analytics spool write failed; rows dropped");
            }
        }
        self.publish_spool_size();
    }

    /// Whether batches wait in the spool (to be replayed, and ahead of new ones).
    fn spooling(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| !s.is_empty())
    }

    async fn replay_if_due(&mut self) {
        let due = self
            .last_failure
            .is_none_or(|at| at.elapsed() >= self.retry_interval);
        if due {
            self.replay().await;
        }
    }

    /// Replays spooled batches oldest first until the spool is empty or a write fails.
    async fn replay(&mut self) {
        loop {
            let Some(spool) = self.spool.as_ref() else {
                return;
            };
            let Some(front) = spool.front().await else {
                return;
            };
            match front {
                Ok(events) => {
                    if let Err(error) = self.insert(&events).await {
                        self.last_failure = Some(Instant::now());
                        tracing::debug!(error = %ErrorChain(&error), "analytics backend still failing; spool kept");
                        return;
                    }
                    let rows = events.len() as u64;
                    self.counters.written.fetch_add(rows, Ordering::Relaxed);
                    self.counters.replayed.fetch_add(rows, Ordering::Relaxed);
                    self.last_failure = None;
                }
                Err(rows) => {
                    self.counters
                        .spool_dropped
                        .fetch_add(rows, Ordering::Relaxed);
                    tracing::error!(rows, "unreadable analytics spool file; rows dropped");
                }
            }
            if let Some(spool) = self.spool.as_mut()
                && let Err(error) = spool.pop_front().await
            {
                tracing::error!(%error, "could not remove a replayed analytics spool file");
                return;
            }
            self.publish_spool_size();
        }
    }

    fn publish_spool_size(&self) {
        let bytes = self.spool.as_ref().map_or(0, Spool::bytes);
        self.counters.spool_bytes.store(bytes, Ordering::Relaxed);
    }
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
