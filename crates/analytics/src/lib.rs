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
mod queries;
mod sink;
mod sql_store;
mod store;

pub use clickhouse_store::ClickHouseStore;
pub use error::AnalyticsError;
pub use event::RequestEvent;
pub use queries::{MIGRATIONS, Migration, ON_CLUSTER_PLACEHOLDER};
pub use sink::{EventSink, SinkConfig, SinkStats};
pub use sql_store::SqlStore;
pub use store::AnalyticsStore;
