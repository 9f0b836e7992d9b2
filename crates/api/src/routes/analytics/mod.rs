//! `/api/v1/orgs/{org_id}/analytics/*` and `/api/v1/orgs/{org_id}/logs`: request analytics of
//! one organization (any member).
//!
//! Every route takes the same filters in the query string: `from`, `to` (RFC 3339), `model`,
//! `provider`, `key_id`, `team_id`, `end_user_id`, `status` (`success`, `error` or a code) and
//! any number of `metadata.<key>=<value>` pairs.

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::services::{OrgCtx, analytics};
use crate::{ApiError, ApiState};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use keyway_analytics::{Bucket, Dimension, Filter, StatusFilter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orgs/{org_id}/analytics/summary", web::get().to(summary))
        .route(
            "/orgs/{org_id}/analytics/timeseries",
            web::get().to(timeseries),
        )
        .route(
            "/orgs/{org_id}/analytics/breakdown",
            web::get().to(breakdown),
        )
        .route("/orgs/{org_id}/logs", web::get().to(logs))
        .route("/orgs/{org_id}/logs/export.csv", web::get().to(export_csv))
        .route("/orgs/{org_id}/logs/{request_id}", web::get().to(request));
}

/// Filters shared by every analytics route.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// Start of the range (inclusive, RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive, RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Model (served, or requested when none was served).
    pub model: Option<String>,
    /// Provider that served the request.
    pub provider: Option<String>,
    /// Virtual key id.
    pub key_id: Option<String>,
    /// Team id.
    pub team_id: Option<String>,
    /// End-user id (`x-keyway-user`).
    pub end_user_id: Option<String>,
    /// `success`, `error` or a status code.
    pub status: Option<String>,
    /// Further parameters: `metadata.<key>=<value>` pairs, and the route's own options.
    #[serde(flatten)]
    #[param(ignore)]
    pub rest: BTreeMap<String, String>,
}

impl FilterQuery {
    /// The filter, and the route's own options (`allowed`) left over; anything else is a 400.
    fn split(self, allowed: &[&str]) -> Result<(Filter, BTreeMap<String, String>), ApiError> {
        let status = self
            .status
            .map(|s| s.parse::<StatusFilter>())
            .transpose()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let mut metadata = BTreeMap::new();
        let mut options = BTreeMap::new();
        for (k, v) in self.rest {
            if let Some(key) = k.strip_prefix("metadata.") {
                metadata.insert(key.to_owned(), v);
            } else if allowed.contains(&k.as_str()) {
                options.insert(k, v);
            } else {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {k:?}"
                )));
            }
        }
        Ok((
            Filter {
                from: self.from,
                to: self.to,
                model: self.model,
                provider: self.provider,
                key_id: self.key_id,
                team_id: self.team_id,
                end_user_id: self.end_user_id,
                status,
                metadata,
            },
            options,
        ))
    }
}

fn option<T: serde::de::DeserializeOwned>(
    options: &BTreeMap<String, String>,
    name: &str,
    default: T,
) -> Result<T, ApiError> {
    match options.get(name) {
        None => Ok(default),
        Some(v) => serde_json::from_value(serde_json::Value::String(v.clone()))
            .or_else(|_| {
                v.parse::<serde_json::Value>()
                    .map_err(|e| e.to_string())
                    .and_then(|j| serde_json::from_value(j).map_err(|e| e.to_string()))
            })
            .map_err(|_| ApiError::BadRequest(format!("invalid {name}: {v:?}"))),
    }
}

/// Latency percentiles (milliseconds).
#[derive(Serialize, ToSchema)]
pub struct PercentilesOut {
    /// Median.
    pub p50: Option<u32>,
    /// 95th percentile.
    pub p95: Option<u32>,
    /// 99th percentile.
    pub p99: Option<u32>,
}

/// Headline numbers of a range.
#[derive(Serialize, ToSchema)]
pub struct SummaryOut {
    /// Requests.
    pub requests: u64,
    /// Requests answered with status >= 400.
    pub errors: u64,
    /// errors / requests.
    pub error_rate: f64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in nano-USD (1e-9 dollars).
    pub cost_nano_usd: i64,
    /// Cost in dollars, exact decimal.
    pub cost_usd: String,
    /// Total latency percentiles.
    pub latency_ms: PercentilesOut,
    /// Time-to-first-token percentiles (streams).
    pub ttft_ms: PercentilesOut,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// cache_hits / requests.
    pub cache_hit_rate: f64,
}

/// Totals of a group of requests.
#[derive(Serialize, ToSchema)]
pub struct TotalsOut {
    /// Requests.
    pub requests: u64,
    /// Errors.
    pub errors: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in nano-USD.
    pub cost_nano_usd: i64,
    /// Cache hits.
    pub cache_hits: u64,
    /// Mean latency in milliseconds.
    pub avg_latency_ms: Option<f64>,
}

impl From<keyway_analytics::Totals> for TotalsOut {
    fn from(t: keyway_analytics::Totals) -> Self {
        Self {
            requests: t.requests,
            errors: t.errors,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cost_nano_usd: t.cost_nano_usd,
            cache_hits: t.cache_hits,
            avg_latency_ms: t.avg_latency_ms,
        }
    }
}

/// One time bucket.
#[derive(Serialize, ToSchema)]
pub struct PointOut {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Totals in the bucket.
    pub totals: TotalsOut,
}

/// Time series.
#[derive(Serialize, ToSchema)]
pub struct TimeSeriesOut {
    /// `minute`, `hour` or `day`.
    pub bucket: String,
    /// Buckets, oldest first (zero-filled when `from` and `to` are set).
    pub points: Vec<PointOut>,
}

/// One group of a breakdown.
#[derive(Serialize, ToSchema)]
pub struct GroupOut {
    /// The dimension's value (`null` for requests without one).
    pub value: Option<String>,
    /// Totals of the group.
    pub totals: TotalsOut,
}

/// A breakdown.
#[derive(Serialize, ToSchema)]
pub struct BreakdownOut {
    /// What the groups are.
    pub by: String,
    /// Groups, highest cost first.
    pub groups: Vec<GroupOut>,
}

/// A page of the request log.
#[derive(Serialize, ToSchema)]
pub struct LogsOut {
    /// Requests, newest first (bodies omitted).
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<keyway_analytics::RequestEvent>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

fn pct(p: keyway_analytics::Percentiles) -> PercentilesOut {
    PercentilesOut {
        p50: p.p50,
        p95: p.p95,
        p99: p.p99,
    }
}

/// Requests, errors, tokens, cost, latency and TTFT percentiles, cache hit rate.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/analytics/summary", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), FilterQuery),
    responses((status = 200, body = SummaryOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn summary(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let (filter, _) = q.into_inner().split(&[])?;
    let s = analytics::summary(&state, &ctx, &filter).await?;
    Ok(HttpResponse::Ok().json(SummaryOut {
        requests: s.requests,
        errors: s.errors,
        error_rate: s.error_rate,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cost_nano_usd: s.cost_nano_usd,
        cost_usd: keyway_domain::Usd::from_nanos(s.cost_nano_usd).to_string(),
        latency_ms: pct(s.latency_ms),
        ttft_ms: pct(s.ttft_ms),
        cache_hits: s.cache_hits,
        cache_hit_rate: s.cache_hit_rate,
    }))
}

/// Totals per time bucket; option `bucket` = `minute`, `hour` (default) or `day`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/analytics/timeseries", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), FilterQuery,
        ("bucket" = Option<String>, Query, description = "minute, hour (default) or day")),
    responses((status = 200, body = TimeSeriesOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn timeseries(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let (filter, options) = q.into_inner().split(&["bucket"])?;
    let bucket: Bucket = option(&options, "bucket", Bucket::Hour)?;
    let points = analytics::timeseries(&state, &ctx, &filter, bucket).await?;
    Ok(HttpResponse::Ok().json(TimeSeriesOut {
        bucket: options
            .get("bucket")
            .cloned()
            .unwrap_or_else(|| "hour".into()),
        points: points
            .into_iter()
            .map(|p| PointOut {
                start: p.start,
                totals: p.totals.into(),
            })
            .collect(),
    }))
}

/// Totals per value of `by` (`model` default, `provider`, `key`, `team`, `end_user`, `status`,
/// `prompt_version` as `<prompt id>@<version>`);
/// option `limit` (default 20).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/analytics/breakdown", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), FilterQuery,
        ("by" = Option<String>, Query, description = "model, provider, key, team, end_user, status or prompt_version"),
        ("limit" = Option<u32>, Query, description = "groups, 1 to 1000 (default 20)")),
    responses((status = 200, body = BreakdownOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn breakdown(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let (filter, options) = q.into_inner().split(&["by", "limit"])?;
    let by: Dimension = option(&options, "by", Dimension::Model)?;
    let limit: u32 = option(&options, "limit", 20)?;
    let groups = analytics::breakdown(&state, &ctx, &filter, by, limit).await?;
    Ok(HttpResponse::Ok().json(BreakdownOut {
        by: options.get("by").cloned().unwrap_or_else(|| "model".into()),
        groups: groups
            .into_iter()
            .map(|g| GroupOut {
                value: g.value,
                totals: g.totals.into(),
            })
            .collect(),
    }))
}

/// The request log, newest first; options `limit` (1 to 1000, default 50) and `cursor`.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/logs", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), FilterQuery,
        ("limit" = Option<u32>, Query, description = "1 to 1000 (default 50)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, body = LogsOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn logs(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let (filter, options) = q.into_inner().split(&["limit", "cursor"])?;
    let limit: u32 = option(&options, "limit", 50)?;
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let page = analytics::logs(
        &state,
        &ctx,
        &filter,
        options.get("cursor").map(String::as_str),
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(LogsOut {
        data: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One request with its timings, tokens, cost, status, retries, metadata and (when the org
/// stores them) redacted bodies.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/logs/{request_id}", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), ("request_id" = String, Path, description = "Request id (x-keyway-request-id)")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn request(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, request_id) = path.into_inner();
    let ctx = OrgCtx::load(&state, &caller, org).await?;
    let event = analytics::request(&state, &ctx, &request_id).await?;
    Ok(HttpResponse::Ok().json(event))
}

/// The matching requests as CSV (at most 100,000 rows).
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/logs/export.csv", tag = "analytics",
    params(("org_id" = Uuid, Path, description = "Organization id"), FilterQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export_csv(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<Uuid>,
    q: web::Query<FilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let ctx = OrgCtx::load(&state, &caller, path.into_inner()).await?;
    let (filter, _) = q.into_inner().split(&[])?;
    let csv = analytics::export_csv(&state, &ctx, &filter).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            "attachment; filename=\"keyway-logs.csv\"",
        ))
        .body(csv))
}
