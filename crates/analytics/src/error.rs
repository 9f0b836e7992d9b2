//! The one error type of this crate.

/// Everything that can go wrong writing or reading analytics.
///
/// Display texts describe the failed step only; the underlying cause is kept as the error
/// `source`, so callers logging the whole chain see each layer once.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A ClickHouse request failed (network, server error, or row decoding).
    #[error("clickhouse request failed")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A ClickHouse migration statement failed.
    #[error("clickhouse migration {version:03}_{name} failed")]
    Migration {
        /// Migration version (the `NNN` of `NNN_name.sql`).
        version: u32,
        /// Migration name.
        name: &'static str,
        /// The server's answer.
        #[source]
        source: clickhouse::error::Error,
    },
    /// A SQL (SQLite/Postgres) statement failed.
    #[error("sql analytics request failed")]
    Sql(#[from] sea_orm::DbErr),
    /// A database or cluster name that is empty or cannot be used as a ClickHouse identifier.
    #[error("invalid {kind} name {name:?}: expected letters, digits, '_' or '-'")]
    InvalidName {
        /// What the name is for (`database`, `cluster`).
        kind: &'static str,
        /// The rejected name.
        name: String,
    },
    /// An event that would be stored inconsistently; the whole batch is refused.
    #[error("invalid request event {request_id}: {reason}")]
    InvalidEvent {
        /// The offending event's request id.
        request_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored row holds a value the event type cannot represent.
    #[error("stored analytics row has an invalid {column}: {reason}")]
    Decode {
        /// Column name.
        column: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A query argument the API cannot answer (bad cursor, too many buckets, ...).
    #[error("invalid analytics query: {0}")]
    InvalidQuery(String),
    /// The on-disk spool could not be read or written.
    #[error("analytics spool i/o failed")]
    Spool(#[from] std::io::Error),
    /// The sink's background writer task ended abnormally.
    #[error("analytics writer task failed: {0}")]
    Writer(String),
}
