//! ClickHouse backend: versioned migrations and batched `RowBinary` inserts into `requests`.
//!
//! Written for the oldest server we support (Debian's 18.16): the client runs without schema
//! validation (18.16 rejects the setting it needs), so rows are exchanged positionally and every
//! query selects typed columns or casts aggregates explicitly.

use std::sync::Arc;

use clickhouse::Client;
use clickhouse::sql::Identifier;

use clickhouse::query::Query;
use serde::Deserialize;

use crate::queries::{self, MIGRATIONS, Migration, ON_CLUSTER_PLACEHOLDER};
use crate::query::{
    self, BreakdownRow, Bucket, Cursor, Dimension, Filter, LogsPage, Resolved, Summary, Totals,
};
use crate::{AnalyticsError, RequestEvent, event, redact};

/// Time windows the logs list probes, newest first, before scanning the whole range.
const LOGS_PROBES: [i64; 5] = [
    query::HOUR_MS,
    24 * query::HOUR_MS,
    7 * 24 * query::HOUR_MS,
    31 * 24 * query::HOUR_MS,
    i64::MAX,
];

/// Which table answers a time series or breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The hourly rollup when it answers the filter exactly, else the raw table.
    Auto,
    /// Always the raw `requests` table.
    Raw,
    /// Always the `requests_hourly` rollup (an error when it cannot answer the filter).
    Rollup,
}

#[derive(clickhouse::Row, Deserialize)]
struct SummaryRow {
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: i64,
    cache_hits: u64,
    latency: Vec<u32>,
    ttft_count: u64,
    ttft: Vec<u32>,
}

#[derive(clickhouse::Row, Deserialize)]
struct CountersRow {
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: i64,
    cache_hits: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct PercentilesRow {
    requests: u64,
    latency: Vec<u32>,
    ttft_count: u64,
    ttft: Vec<u32>,
}

#[derive(clickhouse::Row, Deserialize)]
struct BucketRow {
    bucket_ms: i64,
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: i64,
    cache_hits: u64,
    latency_ms_sum: u64,
}

#[derive(clickhouse::Row, Deserialize)]
struct GroupRow {
    value: String,
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: i64,
    cache_hits: u64,
    latency_ms_sum: u64,
}

/// Approximate percentiles from the rollup's t-digest states.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Deserialize)]
pub struct RollupQuantiles {
    /// Latency p50, p95, p99 in milliseconds.
    pub latency: Vec<f64>,
    /// TTFT p50, p95 in milliseconds.
    pub ttft: Vec<f64>,
}

/// Analytics store on one ClickHouse database. Cloning is cheap (shared clients).
#[derive(Clone)]
pub struct ClickHouseStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    /// Client bound to `database`, for everything that lives inside it.
    client: Client,
    /// Client without a default database: `CREATE/DROP DATABASE` must not name the database
    /// they create or drop as the session default.
    server: Client,
    database: String,
    cluster: Option<String>,
}

impl std::fmt::Debug for ClickHouseStore {
    // The clients hold the password; show only what identifies the store.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("database", &self.inner.database)
            .field("cluster", &self.inner.cluster)
            .finish_non_exhaustive()
    }
}

impl ClickHouseStore {
    /// Prepares a store for `database` on the server at `url` (HTTP interface, e.g.
    /// `http://127.0.0.1:8123`). No request is sent until the first call.
    pub fn connect(
        url: &str,
        database: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, AnalyticsError> {
        check_name("database", database)?;
        let mut server = Client::default().with_url(url).with_validation(false);
        if let Some(user) = user {
            server = server.with_user(user);
        }
        if let Some(password) = password {
            server = server.with_password(password);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client: server.clone().with_database(database),
                server,
                database: database.to_owned(),
                cluster: None,
            }),
        })
    }

    /// Runs database DDL and migrations `ON CLUSTER <cluster>` (the cluster name from the
    /// servers' `remote_servers` configuration).
    pub fn with_cluster(mut self, cluster: &str) -> Result<Self, AnalyticsError> {
        check_name("cluster", cluster)?;
        Arc::make_mut(&mut self.inner).cluster = Some(cluster.to_owned());
        Ok(self)
    }

    /// The database this store reads and writes.
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// Creates the database if it does not exist.
    pub async fn create_database(&self) -> Result<(), AnalyticsError> {
        let sql = self.with_cluster_clause("CREATE DATABASE IF NOT EXISTS ? {on_cluster}");
        self.inner
            .server
            .query(&sql)
            .bind(Identifier(&self.inner.database))
            .execute()
            .await?;
        Ok(())
    }

    /// Drops the database and everything in it, if it exists.
    pub async fn drop_database(&self) -> Result<(), AnalyticsError> {
        let sql = self.with_cluster_clause("DROP DATABASE IF EXISTS ? {on_cluster}");
        self.inner
            .server
            .query(&sql)
            .bind(Identifier(&self.inner.database))
            .execute()
            .await?;
        Ok(())
    }

    /// Applies, in version order, every migration not yet recorded in `schema_migrations`, and
    /// returns those it applied (empty when the schema is current). The database must exist.
    pub async fn migrate(&self) -> Result<Vec<Migration>, AnalyticsError> {
        self.inner
            .client
            .query_raw(&self.render(if self.inner.cluster.is_some() {
                queries::CREATE_SCHEMA_MIGRATIONS_CLUSTER
            } else {
                queries::CREATE_SCHEMA_MIGRATIONS
            }))
            .execute()
            .await?;
        let done: Vec<u32> = self
            .inner
            .client
            .query_raw(queries::APPLIED_MIGRATIONS)
            .fetch_all()
            .await?;
        let mut applied = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
            let sql = self.render(if self.inner.cluster.is_some() {
                migration.cluster_sql
            } else {
                migration.sql
            });
            for statement in queries::statements(&sql) {
                self.inner
                    .client
                    .query_raw(statement)
                    .execute()
                    .await
                    .map_err(|source| AnalyticsError::Migration {
                        version: migration.version,
                        name: migration.name,
                        source,
                    })?;
            }
            self.inner
                .client
                .query(queries::RECORD_MIGRATION)
                .bind(migration.version)
                .bind(migration.name)
                .execute()
                .await?;
            tracing::info!(
                database = %self.inner.database,
                version = migration.version,
                name = migration.name,
                "applied clickhouse migration"
            );
            applied.push(*migration);
        }
        Ok(applied)
    }

    /// Writes `events` in one `INSERT`; an invalid event refuses the whole batch.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), AnalyticsError> {
        if events.is_empty() {
            return Ok(());
        }
        event::check_batch(events)?;
        let events = redact::redact_batch(events);
        let mut insert = self.inner.client.insert::<RequestEvent>("requests").await?;
        for event in events.iter() {
            insert.write(event).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Checks that the server answers queries.
    pub async fn ping(&self) -> Result<(), AnalyticsError> {
        self.inner
            .server
            .query("SELECT toUInt8(1)")
            .fetch_one::<u8>()
            .await?;
        Ok(())
    }

    /// Number of requests stored for `org_id`.
    pub async fn count(&self, org_id: &str) -> Result<u64, AnalyticsError> {
        Ok(self
            .inner
            .client
            .query(queries::COUNT_BY_ORG)
            .bind(org_id)
            .fetch_one::<u64>()
            .await?)
    }

    /// The `limit` most recent requests of `org_id`, newest first.
    pub async fn recent(
        &self,
        org_id: &str,
        limit: u32,
    ) -> Result<Vec<RequestEvent>, AnalyticsError> {
        Ok(self
            .inner
            .client
            .query(queries::RECENT_BY_ORG)
            .bind(org_id)
            .bind(limit)
            .fetch_all::<RequestEvent>()
            .await?)
    }

    /// Headline numbers of `org_id` for `filter`. Percentiles are always exact (raw table),
    /// counters come from the hourly rollup when it answers the filter exactly.
    pub async fn summary(&self, org_id: &str, filter: &Filter) -> Result<Summary, AnalyticsError> {
        self.summary_from(org_id, filter, Source::Auto).await
    }

    /// [`ClickHouseStore::summary`] with the counters' source chosen by the caller.
    pub async fn summary_from(
        &self,
        org_id: &str,
        filter: &Filter,
        source: Source,
    ) -> Result<Summary, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let (counters, pct) = if self.use_rollup(&f, true, source)? {
            let counters_sql = filtered(queries::SUMMARY_ROLLUP, &f);
            let pct_sql = filtered(queries::PERCENTILES, &f);
            let (counters, pct) = tokio::try_join!(
                bind_rollup_filter(self.inner.client.query(&counters_sql), org_id, &f)
                    .fetch_one::<CountersRow>(),
                bind_filter(self.inner.client.query(&pct_sql), org_id, &f)
                    .fetch_one::<PercentilesRow>(),
            )?;
            (counters, pct)
        } else {
            let sql = filtered(queries::SUMMARY, &f);
            let row: SummaryRow = bind_filter(self.inner.client.query(&sql), org_id, &f)
                .fetch_one()
                .await?;
            let counters = CountersRow {
                requests: row.requests,
                errors: row.errors,
                input_tokens: row.input_tokens,
                output_tokens: row.output_tokens,
                cost: row.cost,
                cache_hits: row.cache_hits,
            };
            let pct = PercentilesRow {
                requests: row.requests,
                latency: row.latency,
                ttft_count: row.ttft_count,
                ttft: row.ttft,
            };
            (counters, pct)
        };
        let some = |n: u64, v: &[u32], i: usize| {
            if n == 0 { None } else { v.get(i).copied() }
        };
        Ok(query::summary(
            counters.requests,
            counters.errors,
            counters.input_tokens,
            counters.output_tokens,
            counters.cost,
            counters.cache_hits,
            [0, 1, 2].map(|i| some(pct.requests, &pct.latency, i)),
            [0, 1].map(|i| some(pct.ttft_count, &pct.ttft, i)),
        ))
    }

    /// Totals per `bucket` (zero-filled when the filter bounds the range).
    pub async fn timeseries(
        &self,
        org_id: &str,
        filter: &Filter,
        bucket: Bucket,
        source: Source,
    ) -> Result<Vec<query::TimeSeriesPoint>, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let rollup = self.use_rollup(&f, bucket != Bucket::Minute, source)?;
        let width = bucket.width_ms();
        let rows: Vec<BucketRow> = if rollup {
            let sql = filtered(queries::TIMESERIES_ROLLUP, &f);
            let q = self.inner.client.query(&sql).bind(width).bind(width);
            bind_rollup_filter(q, org_id, &f).fetch_all().await?
        } else {
            let sql = filtered(queries::TIMESERIES, &f);
            let q = self.inner.client.query(&sql).bind(width).bind(width);
            bind_filter(q, org_id, &f).fetch_all().await?
        };
        let rows = rows
            .into_iter()
            .map(|r| {
                (
                    r.bucket_ms,
                    Totals::new(
                        r.requests,
                        r.errors,
                        r.input_tokens,
                        r.output_tokens,
                        r.cost,
                        r.cache_hits,
                        r.latency_ms_sum,
                    ),
                )
            })
            .collect();
        query::zero_fill(filter, bucket, rows)
    }

    /// Totals per value of `dimension`, largest cost first, at most `limit` groups.
    pub async fn breakdown(
        &self,
        org_id: &str,
        filter: &Filter,
        dimension: Dimension,
        limit: u32,
        source: Source,
    ) -> Result<Vec<BreakdownRow>, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let rollup_column = queries::rollup_dimension(dimension);
        let rollup = self.use_rollup(&f, rollup_column.is_some(), source)?;
        let rows: Vec<GroupRow> = match rollup_column.filter(|_| rollup) {
            Some(column) => {
                let sql = filtered(queries::BREAKDOWN_ROLLUP, &f)
                    .replace(queries::DIMENSION_PLACEHOLDER, column);
                bind_rollup_filter(self.inner.client.query(&sql), org_id, &f)
                    .bind(limit)
                    .fetch_all()
                    .await?
            }
            None => {
                let sql = filtered(queries::BREAKDOWN, &f).replace(
                    queries::DIMENSION_PLACEHOLDER,
                    queries::raw_dimension(dimension),
                );
                bind_filter(self.inner.client.query(&sql), org_id, &f)
                    .bind(limit)
                    .fetch_all()
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|r| BreakdownRow {
                value: query::dimension_value(r.value),
                totals: Totals::new(
                    r.requests,
                    r.errors,
                    r.input_tokens,
                    r.output_tokens,
                    r.cost,
                    r.cache_hits,
                    r.latency_ms_sum,
                ),
            })
            .collect())
    }

    /// Percentile estimates from the rollup's t-digest states (whole hours, rollup dimensions
    /// only). Empty vectors when nothing matched.
    pub async fn rollup_quantiles(
        &self,
        org_id: &str,
        filter: &Filter,
    ) -> Result<RollupQuantiles, AnalyticsError> {
        let f = Resolved::new(filter)?;
        self.use_rollup(&f, true, Source::Rollup)?;
        let sql = filtered(queries::ROLLUP_QUANTILES, &f);
        Ok(
            bind_rollup_filter(self.inner.client.query(&sql), org_id, &f)
                .fetch_one()
                .await?,
        )
    }

    /// One page of requests, newest first, after `cursor` (from the previous page).
    pub async fn logs(
        &self,
        org_id: &str,
        filter: &Filter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<LogsPage, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let limit = query::page_size(limit);
        let cursor = cursor.map(Cursor::decode).transpose()?;
        // Newest first: look at the most recent hour of the remaining range, then a day, a
        // week, a month, and only then everything. A window holding a full page holds exactly
        // the page (it covers every remaining row newer than its start), and the primary key
        // keeps each probe to its own time range.
        let upper = match &cursor {
            Some(c) => f.to_ms.min(c.ts_ms.saturating_add(1)),
            None => f.to_ms,
        };
        let mut rows = Vec::new();
        for window in LOGS_PROBES {
            let mut probe = f.clone();
            probe.from_ms = f.from_ms.max(upper.saturating_sub(window));
            rows = self
                .logs_page(org_id, &probe, cursor.as_ref(), limit + 1)
                .await?;
            if rows.len() > limit as usize || probe.from_ms == f.from_ms {
                break;
            }
        }
        Ok(query::page(rows, limit))
    }

    /// Up to `rows` requests newest first. The page's oldest time is found first from `ts_ms`
    /// alone (a top-N on one integer column), so full rows are read only for that range.
    async fn logs_page(
        &self,
        org_id: &str,
        f: &Resolved,
        cursor: Option<&Cursor>,
        rows: u32,
    ) -> Result<Vec<RequestEvent>, AnalyticsError> {
        let sql = queries::select_lines(&queries::with_filters(queries::LOGS), |tag| {
            f.enabled(tag) || (tag == "cursor" && cursor.is_some())
        });
        let mut q = bind_filter(self.inner.client.query(&sql), org_id, f);
        if let Some(c) = cursor {
            q = q.bind(c.ts_ms);
        }
        q = bind_filter(q.bind(rows), org_id, f);
        if let Some(c) = cursor {
            q = q.bind(c.ts_ms).bind(c.ts_ms).bind(c.request_id.as_str());
        }
        Ok(q.bind(rows).fetch_all().await?)
    }

    /// One request of `org_id`, with its bodies; `None` when this org has no such request.
    pub async fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<RequestEvent>, AnalyticsError> {
        // Gateway request ids are UUIDv7: their time bounds the search to a few granules.
        let window = query::uuid_v7_millis(request_id)
            .map(|ms| (ms - query::DETAIL_WINDOW_MS, ms + query::DETAIL_WINDOW_MS));
        let sql = queries::select_lines(queries::REQUEST_DETAIL, |tag| {
            tag == "window" && window.is_some()
        });
        let mut q = self.inner.client.query(&sql).bind(request_id).bind(org_id);
        if let Some((from, to)) = window {
            q = q.bind(from.max(0)).bind(to.min(query::FAR_FUTURE_MS));
        }
        if let Some(found) = q.fetch_optional::<RequestEvent>().await? {
            return Ok(Some(found));
        }
        if window.is_none() {
            return Ok(None);
        }
        // An id that looks like UUIDv7 but was not minted at receive time: search everything.
        let sql = queries::select_lines(queries::REQUEST_DETAIL, |_| false);
        Ok(self
            .inner
            .client
            .query(&sql)
            .bind(request_id)
            .bind(org_id)
            .fetch_optional()
            .await?)
    }

    /// Deletes `org_id`'s requests older than `cutoff` (and rollup hours that end before it).
    /// ClickHouse applies the deletion asynchronously (a mutation).
    pub async fn delete_before(
        &self,
        org_id: &str,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AnalyticsError> {
        let cutoff_ms = cutoff.timestamp_millis();
        self.inner
            .client
            .query(&self.render(queries::RETENTION_REQUESTS))
            .bind(org_id)
            .bind(cutoff_ms)
            .execute()
            .await?;
        let whole_hours = cutoff_ms.div_euclid(query::HOUR_MS) * query::HOUR_MS;
        self.inner
            .client
            .query(&self.render(queries::RETENTION_ROLLUP))
            .bind(org_id)
            .bind(whole_hours)
            .execute()
            .await?;
        Ok(())
    }

    fn use_rollup(
        &self,
        f: &Resolved,
        supported: bool,
        source: Source,
    ) -> Result<bool, AnalyticsError> {
        let eligible = supported && f.rollup_eligible();
        match source {
            Source::Auto => Ok(eligible),
            Source::Raw => Ok(false),
            Source::Rollup if eligible => Ok(true),
            Source::Rollup => Err(query::invalid(
                "the rollup answers whole-hour ranges filtered by model, provider, key or team only"
                    .to_owned(),
            )),
        }
    }

    fn with_cluster_clause(&self, sql: &str) -> String {
        sql.replace(
            ON_CLUSTER_PLACEHOLDER,
            &queries::on_cluster_clause(self.inner.cluster.as_deref()),
        )
    }

    /// DDL with every Keyway placeholder filled in for this store's mode.
    fn render(&self, sql: &str) -> String {
        queries::render(sql, self.inner.cluster.as_deref(), &self.inner.database)
    }
}

/// `sql` with its filter fragments inlined, keeping only the conditions `f` sets.
fn filtered(sql: &str, f: &Resolved) -> String {
    queries::select_lines(&queries::with_filters(sql), |tag| f.enabled(tag))
}

/// Binds `queries/filter.sql` as [`filtered`] kept it, in placeholder order.
fn bind_filter(mut q: Query, org_id: &str, f: &Resolved) -> Query {
    q = q
        .bind(org_id)
        .bind(f.from_ms)
        .bind(f.to_ms)
        .bind(f.from_ms)
        .bind(f.to_ms);
    for value in [&f.model, &f.provider, &f.key_id, &f.team_id, &f.end_user_id]
        .into_iter()
        .flatten()
    {
        q = q.bind(value.as_str());
    }
    if f.has_status {
        q = q.bind(f.status.0).bind(f.status.1);
    }
    if f.metadata.is_empty() {
        return q;
    }
    // `<byte length of key>:<key><value>`, as `filter.sql` encodes each stored pair.
    let pairs: Vec<String> = f
        .metadata
        .iter()
        .map(|(k, v)| format!("{}:{k}{v}", k.len()))
        .collect();
    q.bind(pairs)
}

/// Binds `queries/rollup_filter.sql`, in its placeholder order.
fn bind_rollup_filter(mut q: Query, org_id: &str, f: &Resolved) -> Query {
    q = q.bind(org_id).bind(f.from_ms).bind(f.to_ms);
    for value in [&f.model, &f.provider, &f.key_id, &f.team_id]
        .into_iter()
        .flatten()
    {
        q = q.bind(value.as_str());
    }
    q
}

/// Database and cluster names end up in DDL; allowing only this alphabet keeps them valid
/// unquoted in configuration and safe inside backquotes.
fn check_name(kind: &'static str, name: &str) -> Result<(), AnalyticsError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_safe_alphabet_are_refused() {
        assert!(
            ClickHouseStore::connect("http://127.0.0.1:8123", "analytics_1", None, None).is_ok()
        );
        for bad in ["", "a`b", "a b", "db;DROP"] {
            assert!(matches!(
                ClickHouseStore::connect("http://127.0.0.1:8123", bad, None, None),
                Err(AnalyticsError::InvalidName {
                    kind: "database",
                    ..
                })
            ));
        }
        let store = ClickHouseStore::connect("http://127.0.0.1:8123", "db", None, None).unwrap();
        assert!(store.with_cluster("x'y").is_err());
    }
}
