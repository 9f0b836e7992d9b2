//! SQL backend (SQLite for the embedded default, Postgres for Postgres-only deployments).
//!
//! The schema and statements come from sea-query builders, so one code path serves both
//! databases. Unsigned counters are stored as 64-bit integers (Postgres has no unsigned types),
//! the time as epoch milliseconds, and metadata as two JSON-encoded text arrays.

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Index, Order, Query, Table, Value};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, QueryResult, TransactionTrait};

use crate::event::{self, epoch_millis};
use crate::{AnalyticsError, RequestEvent};

/// Named apart from control-plane tables: a Postgres-only deployment keeps both in one database.
const TABLE: &str = "request_events";
const ORG_TS_INDEX: &str = "request_events_org_id_ts_ms_idx";

/// Rows per `INSERT` statement: 500 rows x 32 columns stays under SQLite's 32766 bound
/// parameters (and Postgres' 65535).
const ROWS_PER_STATEMENT: usize = 500;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
}

/// The `request_events` columns, in [`RequestEvent`] field order.
const COLUMNS: [(&str, Kind); 32] = [
    ("request_id", Kind::Text),
    ("org_id", Kind::Text),
    ("team_id", Kind::OptText),
    ("key_id", Kind::OptText),
    ("end_user_id", Kind::OptText),
    ("trace_id", Kind::OptText),
    ("prompt_id", Kind::OptText),
    ("prompt_version", Kind::OptInt),
    ("config_id", Kind::OptText),
    ("ts_ms", Kind::Int),
    ("surface", Kind::Text),
    ("provider", Kind::OptText),
    ("requested_model", Kind::Text),
    ("served_model", Kind::OptText),
    ("stream", Kind::Bool),
    ("status_code", Kind::Int),
    ("error_class", Kind::OptText),
    ("latency_ms", Kind::Int),
    ("ttft_ms", Kind::OptInt),
    ("upstream_latency_ms", Kind::OptInt),
    ("gateway_overhead_us", Kind::Int),
    ("input_tokens", Kind::Int),
    ("output_tokens", Kind::Int),
    ("cached_read_tokens", Kind::Int),
    ("cache_write_tokens", Kind::Int),
    ("reasoning_tokens", Kind::Int),
    ("cost_nano_usd", Kind::Int),
    ("cache_status", Kind::Text),
    ("retries", Kind::Int),
    ("fallback_index", Kind::Int),
    ("metadata_keys", Kind::Text),
    ("metadata_values", Kind::Text),
];

/// Analytics store on a sea-orm connection (SQLite or Postgres).
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
}

impl SqlStore {
    /// Wraps an existing connection, e.g. the control plane's pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Opens a connection from a URL (`sqlite://path?mode=rwc`, `postgres://...`).
    pub async fn connect(url: &str) -> Result<Self, AnalyticsError> {
        Ok(Self::new(Database::connect(url).await?))
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Creates the `request_events` table and its `(org_id, ts_ms)` index if they are missing.
    pub async fn migrate(&self) -> Result<(), AnalyticsError> {
        let mut table = Table::create();
        table.table(TABLE).if_not_exists();
        for (name, kind) in COLUMNS {
            let mut column = ColumnDef::new(name);
            match kind {
                Kind::Text | Kind::OptText => column.text(),
                Kind::Int | Kind::OptInt => column.big_integer(),
                Kind::Bool => column.boolean(),
            };
            if !matches!(kind, Kind::OptText | Kind::OptInt) {
                column.not_null();
            }
            table.col(column);
        }
        self.db.execute(&table).await?;
        let index = Index::create()
            .if_not_exists()
            .name(ORG_TS_INDEX)
            .table(TABLE)
            .col("org_id")
            .col("ts_ms")
            .to_owned();
        self.db.execute(&index).await?;
        Ok(())
    }

    /// Writes `events` in one transaction; an invalid event refuses the whole batch.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), AnalyticsError> {
        if events.is_empty() {
            return Ok(());
        }
        event::check_batch(events)?;
        let txn = self.db.begin().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let mut insert = Query::insert();
            insert
                .into_table(TABLE)
                .columns(COLUMNS.map(|(name, _)| name));
            for event in chunk {
                insert
                    .values(row_values(event)?)
                    .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            }
            txn.execute(&insert).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), AnalyticsError> {
        Ok(self.db.ping().await?)
    }

    /// Number of requests stored for `org_id`.
    pub async fn count(&self, org_id: &str) -> Result<u64, AnalyticsError> {
        let query = Query::select()
            .expr_as(Expr::cust("COUNT(*)"), "n")
            .from(TABLE)
            .and_where(Expr::col("org_id").eq(org_id))
            .to_owned();
        let row = self.db.query_one(&query).await?;
        let n: i64 = match row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        to_unsigned("count", n)
    }

    /// The `limit` most recent requests of `org_id`, newest first.
    pub async fn recent(
        &self,
        org_id: &str,
        limit: u32,
    ) -> Result<Vec<RequestEvent>, AnalyticsError> {
        let query = Query::select()
            .columns(COLUMNS.map(|(name, _)| name))
            .from(TABLE)
            .and_where(Expr::col("org_id").eq(org_id))
            .order_by("ts_ms", Order::Desc)
            .order_by("request_id", Order::Desc)
            .limit(u64::from(limit))
            .to_owned();
        self.db
            .query_all(&query)
            .await?
            .iter()
            .map(decode_row)
            .collect()
    }
}

fn row_values(e: &RequestEvent) -> Result<Vec<Expr>, AnalyticsError> {
    let values: [Value; 32] = [
        e.request_id.clone().into(),
        e.org_id.clone().into(),
        e.team_id.clone().into(),
        e.key_id.clone().into(),
        e.end_user_id.clone().into(),
        e.trace_id.clone().into(),
        e.prompt_id.clone().into(),
        e.prompt_version.map(i64::from).into(),
        e.config_id.clone().into(),
        e.ts.timestamp_millis().into(),
        e.surface.clone().into(),
        e.provider.clone().into(),
        e.requested_model.clone().into(),
        e.served_model.clone().into(),
        e.stream.into(),
        i64::from(e.status_code).into(),
        e.error_class.clone().into(),
        i64::from(e.latency_ms).into(),
        e.ttft_ms.map(i64::from).into(),
        e.upstream_latency_ms.map(i64::from).into(),
        i64::from(e.gateway_overhead_us).into(),
        i64::from(e.input_tokens).into(),
        i64::from(e.output_tokens).into(),
        i64::from(e.cached_read_tokens).into(),
        i64::from(e.cache_write_tokens).into(),
        i64::from(e.reasoning_tokens).into(),
        e.cost_nano_usd.into(),
        e.cache_status.clone().into(),
        i64::from(e.retries).into(),
        i64::from(e.fallback_index).into(),
        encode_strings(&e.request_id, &e.metadata_keys)?.into(),
        encode_strings(&e.request_id, &e.metadata_values)?.into(),
    ];
    Ok(values.into_iter().map(Expr::val).collect())
}

fn decode_row(row: &QueryResult) -> Result<RequestEvent, AnalyticsError> {
    let text = |col: &str| row.try_get::<String>("", col);
    let opt_text = |col: &str| row.try_get::<Option<String>>("", col);
    let ts_ms: i64 = row.try_get("", "ts_ms")?;
    Ok(RequestEvent {
        request_id: text("request_id")?,
        org_id: text("org_id")?,
        team_id: opt_text("team_id")?,
        key_id: opt_text("key_id")?,
        end_user_id: opt_text("end_user_id")?,
        trace_id: opt_text("trace_id")?,
        prompt_id: opt_text("prompt_id")?,
        prompt_version: opt_int(row, "prompt_version")?,
        config_id: opt_text("config_id")?,
        ts: epoch_millis::from_millis(ts_ms).ok_or_else(|| AnalyticsError::Decode {
            column: "ts_ms",
            reason: format!("{ts_ms} is out of range"),
        })?,
        surface: text("surface")?,
        provider: opt_text("provider")?,
        requested_model: text("requested_model")?,
        served_model: opt_text("served_model")?,
        stream: row.try_get("", "stream")?,
        status_code: int(row, "status_code")?,
        error_class: opt_text("error_class")?,
        latency_ms: int(row, "latency_ms")?,
        ttft_ms: opt_int(row, "ttft_ms")?,
        upstream_latency_ms: opt_int(row, "upstream_latency_ms")?,
        gateway_overhead_us: int(row, "gateway_overhead_us")?,
        input_tokens: int(row, "input_tokens")?,
        output_tokens: int(row, "output_tokens")?,
        cached_read_tokens: int(row, "cached_read_tokens")?,
        cache_write_tokens: int(row, "cache_write_tokens")?,
        reasoning_tokens: int(row, "reasoning_tokens")?,
        cost_nano_usd: row.try_get("", "cost_nano_usd")?,
        cache_status: text("cache_status")?,
        retries: int(row, "retries")?,
        fallback_index: int(row, "fallback_index")?,
        metadata_keys: decode_strings(row, "metadata_keys")?,
        metadata_values: decode_strings(row, "metadata_values")?,
    })
}

fn int<T: TryFrom<i64>>(row: &QueryResult, column: &'static str) -> Result<T, AnalyticsError> {
    let value: i64 = row.try_get("", column)?;
    T::try_from(value).map_err(|_| AnalyticsError::Decode {
        column,
        reason: format!("{value} is out of range"),
    })
}

fn opt_int<T: TryFrom<i64>>(
    row: &QueryResult,
    column: &'static str,
) -> Result<Option<T>, AnalyticsError> {
    row.try_get::<Option<i64>>("", column)?
        .map(|value| {
            T::try_from(value).map_err(|_| AnalyticsError::Decode {
                column,
                reason: format!("{value} is out of range"),
            })
        })
        .transpose()
}

fn to_unsigned(column: &'static str, value: i64) -> Result<u64, AnalyticsError> {
    u64::try_from(value).map_err(|_| AnalyticsError::Decode {
        column,
        reason: format!("{value} is negative"),
    })
}

fn encode_strings(request_id: &str, values: &[String]) -> Result<String, AnalyticsError> {
    serde_json::to_string(values).map_err(|e| AnalyticsError::InvalidEvent {
        request_id: request_id.to_owned(),
        reason: format!("metadata cannot be encoded: {e}"),
    })
}

fn decode_strings(row: &QueryResult, column: &'static str) -> Result<Vec<String>, AnalyticsError> {
    let raw: String = row.try_get("", column)?;
    serde_json::from_str(&raw).map_err(|e| AnalyticsError::Decode {
        column,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;
    use crate::RequestEvent;

    #[test]
    fn columns_follow_the_event_fields() {
        let names = COLUMNS.map(|(name, _)| name);
        assert_eq!(names, <RequestEvent as clickhouse::Row>::COLUMN_NAMES);
    }
}
