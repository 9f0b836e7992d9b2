//! Request analytics for Keyway.
//!
//! The gateway records one [`RequestEvent`] per request into an [`EventSink`], which never
//! blocks the request: a bounded channel feeds a background task that writes batches (by row
//! count or by time) to the deployment's [`AnalyticsStore`] — ClickHouse
//! ([`ClickHouseStore`], SQL in `clickhouse/*.sql`, compatible with ClickHouse 18.16 and current
//! engines) or SQLite/Postgres ([`SqlStore`]).

mod clickhouse_store;
mod error;
mod event;
mod metrics;
mod queries;
pub mod query;
mod redact;
mod retention;
mod sink;
mod spool;
mod sql_store;
mod store;

pub use clickhouse_store::{ClickHouseStore, RollupQuantiles, Source};
pub use error::AnalyticsError;
pub use event::RequestEvent;
pub use metrics::render_prometheus;
pub use queries::{MIGRATIONS, Migration, ON_CLUSTER_PLACEHOLDER};
pub use query::{
    BreakdownRow, Bucket, Dimension, Filter, LogsPage, Percentiles, StatusFilter, Summary,
    TimeSeriesPoint, Totals,
};
pub use redact::{REDACTED, redact_secrets};
pub use retention::{RetentionSource, spawn_retention};
pub use sink::{EventSink, SinkConfig, SinkStats, SpoolConfig};
pub use sql_store::SqlStore;
pub use store::{AnalyticsStore, MAX_EXPORT_ROWS};
