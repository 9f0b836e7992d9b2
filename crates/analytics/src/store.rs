//! The backend switch: one closed enum, matched here and nowhere else.

use crate::{AnalyticsError, ClickHouseStore, RequestEvent, SqlStore};

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
