//! Request analytics for one organization: summary, time series, breakdowns, logs, request
//! detail and CSV export. Any member may read them; the store only ever sees the caller's org.

use super::OrgCtx;
use crate::{ApiError, ApiState};
use keyway_analytics::{
    AnalyticsError, BreakdownRow, Bucket, Dimension, Filter, LogsPage, RequestEvent, Summary,
    TimeSeriesPoint,
};

/// Most rows a CSV export holds.
pub const MAX_CSV_ROWS: u32 = 100_000;

fn map(err: AnalyticsError) -> ApiError {
    match err {
        AnalyticsError::InvalidQuery(message) => ApiError::BadRequest(message),
        other => ApiError::internal(other),
    }
}

fn check(filter: &Filter) -> Result<(), ApiError> {
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    Ok(())
}

/// Headline numbers.
pub async fn summary(state: &ApiState, ctx: &OrgCtx, filter: &Filter) -> Result<Summary, ApiError> {
    check(filter)?;
    state
        .analytics
        .summary(&ctx.org_id.to_string(), filter)
        .await
        .map_err(map)
}

/// Totals per time bucket.
pub async fn timeseries(
    state: &ApiState,
    ctx: &OrgCtx,
    filter: &Filter,
    bucket: Bucket,
) -> Result<Vec<TimeSeriesPoint>, ApiError> {
    check(filter)?;
    state
        .analytics
        .timeseries(&ctx.org_id.to_string(), filter, bucket)
        .await
        .map_err(map)
}

/// Totals per value of a dimension.
pub async fn breakdown(
    state: &ApiState,
    ctx: &OrgCtx,
    filter: &Filter,
    dimension: Dimension,
    limit: u32,
) -> Result<Vec<BreakdownRow>, ApiError> {
    check(filter)?;
    state
        .analytics
        .breakdown(
            &ctx.org_id.to_string(),
            filter,
            dimension,
            limit.clamp(1, 1000),
        )
        .await
        .map_err(map)
}

/// One page of the request log.
pub async fn logs(
    state: &ApiState,
    ctx: &OrgCtx,
    filter: &Filter,
    cursor: Option<&str>,
    limit: u32,
) -> Result<LogsPage, ApiError> {
    check(filter)?;
    state
        .analytics
        .logs(&ctx.org_id.to_string(), filter, cursor, limit)
        .await
        .map_err(map)
}

/// One request with its (redacted) bodies; another org's request is not found.
pub async fn request(
    state: &ApiState,
    ctx: &OrgCtx,
    request_id: &str,
) -> Result<RequestEvent, ApiError> {
    state
        .analytics
        .request(&ctx.org_id.to_string(), request_id)
        .await
        .map_err(map)?
        .ok_or(ApiError::NotFound)
}

/// The matching logs as CSV.
pub async fn export_csv(
    state: &ApiState,
    ctx: &OrgCtx,
    filter: &Filter,
) -> Result<String, ApiError> {
    check(filter)?;
    state
        .analytics
        .export_csv(&ctx.org_id.to_string(), filter, MAX_CSV_ROWS)
        .await
        .map_err(map)
}
