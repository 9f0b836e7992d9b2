//! The backend switch: one closed enum, matched here and nowhere else.

use chrono::{DateTime, Utc};

use crate::clickhouse_store::Source;
use crate::query::{
    self, BreakdownRow, Bucket, Dimension, Filter, LogsPage, Summary, TimeSeriesPoint,
};
use crate::{AnalyticsError, ClickHouseStore, RequestEvent, SqlStore};

/// Most rows [`AnalyticsStore::export_csv`] writes in one export.
pub const MAX_EXPORT_ROWS: u32 = 100_000;

/// The analytics backend a deployment runs on.
#[derive(Debug, Clone)]
pub enum AnalyticsStore {
    /// ClickHouse (compose, single VM, cluster).
    ClickHouse(ClickHouseStore),
    /// SQLite (embedded default) or Postgres (Postgres-only deployments).
    Sql(SqlStore),
}

impl AnalyticsStore {
    /// Which backend this is (`clickhouse` or `sql`), for readiness and logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::ClickHouse(_) => "clickhouse",
            Self::Sql(_) => "sql",
        }
    }

    /// Brings the schema up to date; safe to run on every start.
    pub async fn migrate(&self) -> Result<(), AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.migrate().await.map(drop),
            Self::Sql(store) => store.migrate().await,
        }
    }

    /// Writes a batch of events; an invalid event refuses the whole batch.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.insert(events).await,
            Self::Sql(store) => store.insert(events).await,
        }
    }

    /// Number of requests stored for `org_id`.
    pub async fn count(&self, org_id: &str) -> Result<u64, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.count(org_id).await,
            Self::Sql(store) => store.count(org_id).await,
        }
    }

    /// The `limit` most recent requests of `org_id`, newest first.
    pub async fn recent(
        &self,
        org_id: &str,
        limit: u32,
    ) -> Result<Vec<RequestEvent>, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.recent(org_id, limit).await,
            Self::Sql(store) => store.recent(org_id, limit).await,
        }
    }

    /// Headline numbers of `org_id` for `filter`: requests, errors, tokens, cost, latency and
    /// TTFT percentiles, cache hit rate.
    pub async fn summary(&self, org_id: &str, filter: &Filter) -> Result<Summary, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.summary(org_id, filter).await,
            Self::Sql(store) => store.summary(org_id, filter).await,
        }
    }

    /// Totals per time bucket, oldest first; every bucket of the range is present (zero-filled)
    /// when the filter sets both `from` and `to`.
    pub async fn timeseries(
        &self,
        org_id: &str,
        filter: &Filter,
        bucket: Bucket,
    ) -> Result<Vec<TimeSeriesPoint>, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.timeseries(org_id, filter, bucket, Source::Auto).await,
            Self::Sql(store) => store.timeseries(org_id, filter, bucket).await,
        }
    }

    /// Totals per value of `dimension` (highest cost first, then most requests, then value),
    /// at most `limit` groups.
    pub async fn breakdown(
        &self,
        org_id: &str,
        filter: &Filter,
        dimension: Dimension,
        limit: u32,
    ) -> Result<Vec<BreakdownRow>, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => {
                store
                    .breakdown(org_id, filter, dimension, limit, Source::Auto)
                    .await
            }
            Self::Sql(store) => store.breakdown(org_id, filter, dimension, limit).await,
        }
    }

    /// One page of the request log, newest first (ties by request id, descending). Pass the
    /// returned `next_cursor` to get the next page; pages stay stable while new requests
    /// arrive (keyset pagination). `limit` is clamped to `1..=`[`query::MAX_LOGS_PAGE`].
    /// Bodies are omitted; see [`AnalyticsStore::request`].
    pub async fn logs(
        &self,
        org_id: &str,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<LogsPage, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.logs(org_id, filter, cursor, limit).await,
            Self::Sql(store) => store.logs(org_id, filter, cursor, limit).await,
        }
    }

    /// One request with its bodies; `None` when `org_id` has no request with this id (also
    /// when another org has one).
    pub async fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<RequestEvent>, AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.request(org_id, request_id).await,
            Self::Sql(store) => store.request(org_id, request_id).await,
        }
    }

    /// The logs matching `filter` as CSV (newest first, at most `max_rows`, capped at
    /// [`MAX_EXPORT_ROWS`]); columns are [`query::CSV_COLUMNS`].
    pub async fn export_csv(
        &self,
        org_id: &str,
        filter: &Filter,
        max_rows: u32,
    ) -> Result<String, AnalyticsError> {
        let max_rows = max_rows.min(MAX_EXPORT_ROWS) as usize;
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        while events.len() < max_rows {
            let want = u32::try_from(max_rows - events.len()).unwrap_or(query::MAX_LOGS_PAGE);
            let page = self.logs(org_id, filter, cursor.as_deref(), want).await?;
            events.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        events.truncate(max_rows);
        Ok(query::to_csv(&events))
    }

    /// Deletes `org_id`'s requests received before `now - days` (the org's retention). On
    /// ClickHouse the deletion is a mutation the server applies in the background.
    pub async fn enforce_retention(
        &self,
        org_id: &str,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<(), AnalyticsError> {
        let cutoff = now - chrono::Duration::days(i64::from(days));
        match self {
            Self::ClickHouse(store) => store.delete_before(org_id, cutoff).await,
            Self::Sql(store) => store.delete_before(org_id, cutoff).await.map(drop),
        }
    }

    /// Checks that the backend answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), AnalyticsError> {
        match self {
            Self::ClickHouse(store) => store.ping().await,
            Self::Sql(store) => store.ping().await,
        }
    }
}

impl From<ClickHouseStore> for AnalyticsStore {
    fn from(store: ClickHouseStore) -> Self {
        Self::ClickHouse(store)
    }
}

impl From<SqlStore> for AnalyticsStore {
    fn from(store: SqlStore) -> Self {
        Self::Sql(store)
    }
}
