//! SQL backend (SQLite for the embedded default, Postgres for Postgres-only deployments).
//!
//! The schema and queries come from sea-query builders or SQL written for both databases, so one
//! code path serves both; the batch insert is one statement over a JSON parameter
//! ([`insert_sql`]). Unsigned counters are stored as 64-bit integers (Postgres has no unsigned
//! types), the time as epoch milliseconds, and metadata as two JSON-encoded text arrays.

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Index, Order, Query, Table, Value};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, QueryResult,
    Statement,
};

use std::sync::LazyLock;

use crate::event::{self, epoch_millis};
use crate::query::{
    self, BreakdownRow, Bucket, Cursor, Dimension, Filter, LogsPage, Resolved, Summary, Totals,
};
use crate::{AnalyticsError, RequestEvent, redact};

/// Named apart from control-plane tables: a Postgres-only deployment keeps both in one database.
const TABLE: &str = "request_events";
const ORG_TS_INDEX: &str = "request_events_org_id_ts_ms_idx";
const ORG_REQUEST_INDEX: &str = "request_events_org_id_request_id_idx";
/// Metadata search column (see [`query::metadata_pairs`]); not part of the event.
const METADATA_PAIRS: &str = "metadata_pairs";
/// Columns added after the first release, for databases created before them.
const ADDED_COLUMNS: [&str; 3] = ["request_body", "response_body", METADATA_PAIRS];

#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
}

/// The `request_events` columns, in [`RequestEvent`] field order.
const COLUMNS: [(&str, Kind); 34] = [
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
    ("request_body", Kind::OptText),
    ("response_body", Kind::OptText),
];

/// The batch insert: one statement whose only parameter is a JSON array of rows, each an array
/// of the [`COLUMNS`] values and then the metadata pairs, taken apart by the database
/// (`jsonb_each` in SQLite, `jsonb_array_elements` in Postgres). A batch of any size is one
/// round trip and one small prepared statement. Bound row by row instead (35 parameters a
/// row), every batch size was its own statement text, and a connection keeps each statement it
/// prepared: about a megabyte for a 500-row one, twelve megabytes of the gateway's resident
/// memory in the benchmark. SQLite's `jsonb_each`, not `json_each`: the latter hands each row
/// back as text that every `->>` parses again, which doubled the time of a 1,000-row insert
/// (16 ms against 8 ms, as the bound version took).
fn insert_sql(backend: DatabaseBackend) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| batch_insert(DatabaseBackend::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| batch_insert(DatabaseBackend::Postgres));
    match backend {
        DatabaseBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    }
}

fn batch_insert(backend: DatabaseBackend) -> String {
    let names = COLUMNS.map(|(name, _)| name);
    let columns: Vec<String> = names
        .iter()
        .chain([&METADATA_PAIRS])
        .map(|name| format!("\"{name}\""))
        .collect();
    let kinds = COLUMNS
        .map(|(_, kind)| kind)
        .into_iter()
        .chain([Kind::Text]);
    let values: Vec<String> = kinds
        .enumerate()
        .map(|(i, kind)| match (backend, kind) {
            (DatabaseBackend::Postgres, Kind::Int | Kind::OptInt) => format!("(r ->> {i})::bigint"),
            (DatabaseBackend::Postgres, Kind::Bool) => format!("(r ->> {i})::boolean"),
            (DatabaseBackend::Postgres, _) => format!("r ->> {i}"),
            _ => format!("value ->> {i}"),
        })
        .collect();
    let rows = match backend {
        DatabaseBackend::Postgres => "jsonb_array_elements(?::jsonb) AS r",
        _ => "jsonb_each(?)",
    };
    format!(
        "INSERT INTO {TABLE} ({}) SELECT {} FROM {rows}",
        columns.join(", "),
        values.join(", ")
    )
}

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
    ///
    /// A SQLite file is put in WAL mode with `synchronous=NORMAL`: a batch commit appends to
    /// the log without an fsync (the log is synced at checkpoints), and dashboard queries read
    /// while the writer writes. A power loss can take the last commits back; a crash of the
    /// process cannot. SQLite's defaults (a rollback journal, an fsync of the journal and of
    /// the database on every commit) cost the embedded gateway several fsyncs per batch.
    pub async fn connect(url: &str) -> Result<Self, AnalyticsError> {
        let mut options = ConnectOptions::new(url);
        options.sqlx_logging(false).map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        });
        Ok(Self::new(Database::connect(options).await?))
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
        table.col(
            ColumnDef::new(METADATA_PAIRS)
                .text()
                .not_null()
                .default(","),
        );
        self.db.execute(&table).await?;
        self.add_missing_columns().await?;
        let index = Index::create()
            .if_not_exists()
            .name(ORG_TS_INDEX)
            .table(TABLE)
            .col("org_id")
            .col("ts_ms")
            .to_owned();
        self.db.execute(&index).await?;
        let index = Index::create()
            .if_not_exists()
            .name(ORG_REQUEST_INDEX)
            .table(TABLE)
            .col("org_id")
            .col("request_id")
            .to_owned();
        self.db.execute(&index).await?;
        Ok(())
    }

    /// Brings a table created by an older release up to the current columns.
    async fn add_missing_columns(&self) -> Result<(), AnalyticsError> {
        for column in ADDED_COLUMNS {
            let default = if column == METADATA_PAIRS {
                " NOT NULL DEFAULT ','"
            } else {
                ""
            };
            match self.backend() {
                DatabaseBackend::Sqlite => {
                    let present = self
                        .db
                        .query_one_raw(self.statement(
                            "SELECT COUNT(*) AS n FROM pragma_table_info('request_events') WHERE name = ?",
                            vec![column.into()],
                        ))
                        .await?
                        .map(|row| row.try_get::<i64>("", "n"))
                        .transpose()?
                        .unwrap_or(0);
                    if present == 0 {
                        self.db
                            .execute_unprepared(&format!(
                                "ALTER TABLE {TABLE} ADD COLUMN {column} TEXT{default}"
                            ))
                            .await?;
                    }
                }
                _ => {
                    self.db
                        .execute_unprepared(&format!(
                            "ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column} TEXT{default}"
                        ))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Writes `events` in one statement (all or none); an invalid event refuses the whole batch.
    pub async fn insert(&self, events: &[RequestEvent]) -> Result<(), AnalyticsError> {
        if events.is_empty() {
            return Ok(());
        }
        event::check_batch(events)?;
        let events = redact::redact_batch(events);
        // Every row as one JSON array, the batch as one parameter: one small statement text
        // for any batch size (see [`insert_sql`]). Encoded row by row, so only one row's
        // values exist at a time.
        let mut rows = String::with_capacity(events.len() * 512);
        rows.push('[');
        for event in events.iter() {
            if rows.len() > 1 {
                rows.push(',');
            }
            let mut values = row_values(event)?;
            values.push(query::metadata_pairs(event).into());
            rows.push_str(&serde_json::Value::Array(values).to_string());
        }
        rows.push(']');
        let insert = self.statement(insert_sql(self.backend()), vec![rows.into()]);
        self.db.execute_raw(insert).await?;
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
    /// Headline numbers of `org_id` for `filter`.
    pub async fn summary(&self, org_id: &str, filter: &Filter) -> Result<Summary, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let (clause, values) = self.where_clause(org_id, &f, None);
        let sql = format!(
            "SELECT {TOTALS}, {} AS ttft_count FROM {TABLE} WHERE {clause}",
            sum_of("CASE WHEN ttft_ms IS NOT NULL THEN 1 ELSE 0 END")
        );
        let row = self
            .db
            .query_one_raw(self.statement(&sql, values))
            .await?
            .ok_or_else(|| AnalyticsError::Decode {
                column: "summary",
                reason: "no row".to_owned(),
            })?;
        let totals = decode_totals(&row)?;
        let ttft_count = to_unsigned("ttft_count", row.try_get("", "ttft_count")?)?;
        let [p50, p95, p99] = self
            .percentiles(
                org_id,
                &f,
                "latency_ms",
                &[0.5, 0.95, 0.99],
                totals.requests,
            )
            .await?[..]
        else {
            unreachable_levels()?
        };
        let [t50, t95] = self
            .percentiles(org_id, &f, "ttft_ms", &[0.5, 0.95], ttft_count)
            .await?[..]
        else {
            unreachable_levels()?
        };
        let (latency, ttft) = ([p50, p95, p99], [t50, t95]);
        Ok(query::summary(
            totals.requests,
            totals.errors,
            totals.input_tokens,
            totals.output_tokens,
            totals.cost_nano_usd,
            totals.cache_hits,
            latency,
            ttft,
        ))
    }

    /// The `levels` percentiles of `column` among the `n` non-null values the filter selects,
    /// with one sort: the rows at the wanted ranks of a `ROW_NUMBER()` window.
    async fn percentiles(
        &self,
        org_id: &str,
        f: &Resolved,
        column: &'static str,
        levels: &[f64],
        n: u64,
    ) -> Result<Vec<Option<u32>>, AnalyticsError> {
        if n == 0 {
            return Ok(vec![None; levels.len()]);
        }
        let ranks: Vec<i64> = levels
            .iter()
            .map(|&level| i64::try_from(query::percentile_index(level, n)).unwrap_or(i64::MAX))
            .collect();
        let (clause, mut values) = self.where_clause(org_id, f, None);
        values.extend(ranks.iter().map(|&r| Value::from(r)));
        let wanted = vec!["?"; ranks.len()].join(", ");
        let sql = format!(
            "SELECT rn, v FROM (SELECT {column} AS v, ROW_NUMBER() OVER (ORDER BY {column}) - 1 AS rn \
             FROM {TABLE} WHERE {clause} AND {column} IS NOT NULL) AS ranked WHERE rn IN ({wanted})"
        );
        let mut found = std::collections::HashMap::new();
        for row in self.db.query_all_raw(self.statement(&sql, values)).await? {
            let rank: i64 = row.try_get("", "rn")?;
            found.insert(rank, int::<u32>(&row, "v")?);
        }
        Ok(ranks.iter().map(|r| found.get(r).copied()).collect())
    }

    /// Totals per `bucket` (zero-filled when the filter bounds the range).
    pub async fn timeseries(
        &self,
        org_id: &str,
        filter: &Filter,
        bucket: Bucket,
    ) -> Result<Vec<query::TimeSeriesPoint>, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let width = bucket.width_ms();
        let (clause, where_values) = self.where_clause(org_id, &f, None);
        let mut values: Vec<Value> = vec![width.into(), width.into()];
        values.extend(where_values);
        let sql = format!(
            "SELECT (ts_ms / ?) * ? AS bucket_ms, {TOTALS} FROM {TABLE} WHERE {clause} \
             GROUP BY 1 ORDER BY 1"
        );
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        let rows = rows
            .iter()
            .map(|row| Ok((row.try_get::<i64>("", "bucket_ms")?, decode_totals(row)?)))
            .collect::<Result<Vec<_>, AnalyticsError>>()?;
        query::zero_fill(filter, bucket, rows)
    }

    /// Totals per value of `dimension`, largest cost first, at most `limit` groups.
    pub async fn breakdown(
        &self,
        org_id: &str,
        filter: &Filter,
        dimension: Dimension,
        limit: u32,
    ) -> Result<Vec<BreakdownRow>, AnalyticsError> {
        let f = Resolved::new(filter)?;
        let expr = match dimension {
            Dimension::Model => "COALESCE(served_model, requested_model)",
            Dimension::Provider => "COALESCE(provider, '')",
            Dimension::Key => "COALESCE(key_id, '')",
            Dimension::Team => "COALESCE(team_id, '')",
            Dimension::EndUser => "COALESCE(end_user_id, '')",
            Dimension::Status => "CAST(status_code AS TEXT)",
            Dimension::PromptVersion => {
                "CASE WHEN prompt_id IS NULL THEN '' \
                 ELSE prompt_id || '@' || CAST(prompt_version AS TEXT) END"
            }
        };
        let (clause, mut values) = self.where_clause(org_id, &f, None);
        values.push(i64::from(limit).into());
        let collate = self.byte_order();
        let sql = format!(
            "SELECT {expr} AS value, {TOTALS} FROM {TABLE} WHERE {clause} GROUP BY {expr} \
             ORDER BY cost DESC, requests DESC, {expr}{collate} ASC LIMIT ?"
        );
        let rows = self.db.query_all_raw(self.statement(&sql, values)).await?;
        rows.iter()
            .map(|row| {
                Ok(BreakdownRow {
                    value: query::dimension_value(row.try_get("", "value")?),
                    totals: decode_totals(row)?,
                })
            })
            .collect()
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
        let (clause, mut values) = self.where_clause(org_id, &f, cursor.as_ref());
        values.push(i64::from(limit + 1).into());
        let collate = self.byte_order();
        let columns = COLUMNS
            .iter()
            .map(|(name, _)| match *name {
                "request_body" | "response_body" => format!("CAST(NULL AS TEXT) AS {name}"),
                _ => (*name).to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM {TABLE} WHERE {clause} \
             ORDER BY ts_ms DESC, request_id{collate} DESC LIMIT ?"
        );
        let rows = self
            .db
            .query_all_raw(self.statement(&sql, values))
            .await?
            .iter()
            .map(decode_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(query::page(rows, limit))
    }

    /// One request of `org_id`, with its bodies; `None` when this org has no such request.
    pub async fn request(
        &self,
        org_id: &str,
        request_id: &str,
    ) -> Result<Option<RequestEvent>, AnalyticsError> {
        let query = Query::select()
            .columns(COLUMNS.map(|(name, _)| name))
            .from(TABLE)
            .and_where(Expr::col("org_id").eq(org_id))
            .and_where(Expr::col("request_id").eq(request_id))
            .order_by("ts_ms", Order::Desc)
            .limit(1)
            .to_owned();
        self.db
            .query_one(&query)
            .await?
            .as_ref()
            .map(decode_row)
            .transpose()
    }

    /// Deletes `org_id`'s requests older than `cutoff`.
    pub async fn delete_before(
        &self,
        org_id: &str,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, AnalyticsError> {
        let query = Query::delete()
            .from_table(TABLE)
            .and_where(Expr::col("org_id").eq(org_id))
            .and_where(Expr::col("ts_ms").lt(cutoff.timestamp_millis()))
            .to_owned();
        Ok(self.db.execute(&query).await?.rows_affected())
    }

    fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Collation suffix that makes text compare byte by byte, as ClickHouse and SQLite do.
    fn byte_order(&self) -> &'static str {
        match self.backend() {
            DatabaseBackend::Postgres => " COLLATE \"C\"",
            _ => "",
        }
    }

    /// A statement from SQL written with `?` placeholders (renumbered `$n` for Postgres).
    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.backend();
        let sql = if backend == DatabaseBackend::Postgres {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        } else {
            sql.to_owned()
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// The WHERE clause (with `?` placeholders) of a filter, plus an optional keyset cursor.
    fn where_clause(
        &self,
        org_id: &str,
        f: &Resolved,
        cursor: Option<&Cursor>,
    ) -> (String, Vec<Value>) {
        let mut parts = vec!["org_id = ?", "ts_ms >= ?", "ts_ms < ?"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let mut values: Vec<Value> = vec![org_id.into(), f.from_ms.into(), f.to_ms.into()];
        let text_filters = [
            ("COALESCE(served_model, requested_model)", &f.model),
            ("COALESCE(provider, '')", &f.provider),
            ("COALESCE(key_id, '')", &f.key_id),
            ("COALESCE(team_id, '')", &f.team_id),
            ("COALESCE(end_user_id, '')", &f.end_user_id),
        ];
        for (expr, value) in text_filters {
            if let Some(value) = value {
                parts.push(format!("{expr} = ?"));
                values.push(value.clone().into());
            }
        }
        if f.has_status {
            parts.push("status_code >= ? AND status_code <= ?".to_owned());
            values.push(i64::from(f.status.0).into());
            values.push(i64::from(f.status.1).into());
        }
        let find = match self.backend() {
            DatabaseBackend::Postgres => "strpos",
            _ => "instr",
        };
        for (k, v) in &f.metadata {
            parts.push(format!("{find}({METADATA_PAIRS}, ?) > 0"));
            values.push(query::metadata_needle(k, v).into());
        }
        if let Some(c) = cursor {
            let collate = self.byte_order();
            parts.push(format!(
                "(ts_ms < ? OR (ts_ms = ? AND request_id{collate} < ?))"
            ));
            values.push(c.ts_ms.into());
            values.push(c.ts_ms.into());
            values.push(c.request_id.clone().into());
        }
        (parts.join(" AND "), values)
    }
}

/// The aggregated columns shared by summary, time series and breakdown queries.
const TOTALS: &str = "COUNT(*) AS requests, \
    CAST(COALESCE(SUM(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
    CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
    CAST(COALESCE(SUM(cost_nano_usd), 0) AS BIGINT) AS cost, \
    CAST(COALESCE(SUM(CASE WHEN cache_status = 'hit' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cache_hits, \
    CAST(COALESCE(SUM(latency_ms), 0) AS BIGINT) AS latency_ms_sum";

/// `percentiles` returns one value per level asked; a different count is a bug, not data.
fn unreachable_levels<T>() -> Result<T, AnalyticsError> {
    Err(AnalyticsError::Decode {
        column: "percentiles",
        reason: "wrong number of percentile levels".to_owned(),
    })
}

fn sum_of(expr: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT)")
}

fn decode_totals(row: &QueryResult) -> Result<Totals, AnalyticsError> {
    let u = |column: &'static str| -> Result<u64, AnalyticsError> {
        to_unsigned(column, row.try_get("", column)?)
    };
    Ok(Totals::new(
        u("requests")?,
        u("errors")?,
        u("input_tokens")?,
        u("output_tokens")?,
        row.try_get("", "cost")?,
        u("cache_hits")?,
        u("latency_ms_sum")?,
    ))
}

/// The event's columns, in [`COLUMNS`] order, as JSON values.
fn row_values(e: &RequestEvent) -> Result<Vec<serde_json::Value>, AnalyticsError> {
    let values: [serde_json::Value; 34] = [
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
        e.request_body.clone().into(),
        e.response_body.clone().into(),
    ];
    Ok(values.into())
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
        request_body: opt_text("request_body")?,
        response_body: opt_text("response_body")?,
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
