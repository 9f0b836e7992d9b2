//! The analytics query API shared by every backend: what the dashboard and the REST routes ask
//! (`/api/v1/orgs/{org_id}/analytics/...`, `/logs`) and what they get back.
//!
//! Every call takes the org id first and only ever sees that org's rows; a request id of another
//! org is simply not found. Times are half-open ranges `[from, to)` in UTC with millisecond
//! precision. All types are serde-serializable so routes can return them as JSON directly.
//!
//! Definitions, identical on every backend (the conformance suite in `tests/` checks it):
//! * an **error** is a request answered with status >= 400 (cancelled requests, 499, included);
//! * the **model** of a request is the served model, or the requested one when no provider
//!   answered;
//! * a percentile `p` of `n` values is the value at index `floor(p * n)` of the sorted values
//!   (ClickHouse's `quantileExact`); it is `None` when there are no values;
//! * the **cache hit rate** is the share of requests answered from the gateway cache
//!   (`cache_status = "hit"`).

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AnalyticsError, RequestEvent};

/// Largest page of logs one call returns.
pub const MAX_LOGS_PAGE: u32 = 1_000;
/// Largest number of buckets a zero-filled time series may have.
pub const MAX_BUCKETS: i64 = 10_000;
/// Default end of an open time range: 2100-01-01 (fits ClickHouse's `DateTime`).
pub(crate) const FAR_FUTURE_MS: i64 = 4_102_444_800_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// Which requests a query looks at. Every field is optional; set fields are AND-ed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Start of the range (inclusive); unset means the beginning of time.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive); unset means no upper bound.
    pub to: Option<DateTime<Utc>>,
    /// Model (served model, or requested one when none was served).
    pub model: Option<String>,
    /// Provider that served the request.
    pub provider: Option<String>,
    /// Virtual key id.
    pub key_id: Option<String>,
    /// Team id.
    pub team_id: Option<String>,
    /// Caller-supplied end-user id.
    pub end_user_id: Option<String>,
    /// Status class or exact status code.
    pub status: Option<StatusFilter>,
    /// Metadata pairs the request must all carry (`key = value`).
    pub metadata: BTreeMap<String, String>,
}

/// A status condition: success (< 400), error (>= 400) or one exact code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// Status below 400.
    Success,
    /// Status 400 or above.
    Error,
    /// Exactly this status.
    Code(u16),
}

impl StatusFilter {
    /// Inclusive status-code range this condition accepts.
    pub(crate) fn range(self) -> (u16, u16) {
        match self {
            Self::Success => (0, 399),
            Self::Error => (400, u16::MAX),
            Self::Code(code) => (code, code),
        }
    }
}

impl FromStr for StatusFilter {
    type Err = AnalyticsError;

    /// Parses `success`, `error`, or a status code such as `429` (query-string form).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Self::Success),
            "error" => Ok(Self::Error),
            code => code.parse().map(Self::Code).map_err(|_| {
                invalid(format!(
                    "status must be success, error or a code, not {code:?}"
                ))
            }),
        }
    }
}

/// Time-series bucket width. Buckets start at UTC multiples of their width (days at 00:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One UTC day.
    Day,
}

impl Bucket {
    /// Width in milliseconds.
    pub fn width_ms(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => HOUR_MS,
            Self::Day => 24 * HOUR_MS,
        }
    }
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Served model (or requested one when none was served).
    Model,
    /// Provider.
    Provider,
    /// Virtual key id.
    Key,
    /// Team id.
    Team,
    /// End-user id.
    EndUser,
    /// HTTP status code (as text, e.g. `"429"`).
    Status,
    /// Stored prompt and version as `<prompt id>@<version>`, to compare prompt versions.
    PromptVersion,
}

/// Latency percentiles in milliseconds; `None` when no request in range had the measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<u32>,
    /// 95th percentile.
    pub p95: Option<u32>,
    /// 99th percentile (not computed for TTFT).
    pub p99: Option<u32>,
}

/// Headline numbers of a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests.
    pub requests: u64,
    /// Requests with status >= 400.
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_rate: f64,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Cost in nano-USD.
    pub cost_nano_usd: i64,
    /// Total latency percentiles.
    pub latency_ms: Percentiles,
    /// Time-to-first-token percentiles (streams only; `p99` is always `None`).
    pub ttft_ms: Percentiles,
    /// Requests answered from the gateway cache.
    pub cache_hits: u64,
    /// `cache_hits / requests` (0 without requests).
    pub cache_hit_rate: f64,
}

/// Additive totals of a group of requests (a time bucket or a breakdown value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests.
    pub requests: u64,
    /// Requests with status >= 400.
    pub errors: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in nano-USD.
    pub cost_nano_usd: i64,
    /// Requests answered from the gateway cache.
    pub cache_hits: u64,
    /// Sum of latencies, in milliseconds.
    pub latency_ms_sum: u64,
    /// Mean latency in milliseconds (`None` without requests).
    pub avg_latency_ms: Option<f64>,
}

impl Totals {
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per aggregated column"
    )]
    pub(crate) fn new(
        requests: u64,
        errors: u64,
        input_tokens: u64,
        output_tokens: u64,
        cost_nano_usd: i64,
        cache_hits: u64,
        latency_ms_sum: u64,
    ) -> Self {
        Self {
            requests,
            errors,
            input_tokens,
            output_tokens,
            cost_nano_usd,
            cache_hits,
            latency_ms_sum,
            avg_latency_ms: (requests > 0).then(|| latency_ms_sum as f64 / requests as f64),
        }
    }
}

/// One time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSeriesPoint {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Totals of the requests in the bucket.
    #[serde(flatten)]
    pub totals: Totals,
}

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// The dimension's value; `None` for requests without one (e.g. no team).
    pub value: Option<String>,
    /// Totals of the group.
    #[serde(flatten)]
    pub totals: Totals,
}

/// One page of the logs list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsPage {
    /// Requests of this page (bodies omitted: see the request detail).
    pub items: Vec<RequestEvent>,
    /// Pass to the next call for the following page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A filter with its defaults applied, as the backends bind it.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub from_ms: i64,
    pub to_ms: i64,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_id: Option<String>,
    pub team_id: Option<String>,
    pub end_user_id: Option<String>,
    pub status: (u16, u16),
    pub has_status: bool,
    pub metadata: Vec<(String, String)>,
}

impl Resolved {
    pub(crate) fn new(filter: &Filter) -> Result<Self, AnalyticsError> {
        let from_ms = filter.from.map_or(0, |t| t.timestamp_millis()).max(0);
        let to_ms = filter
            .to
            .map_or(FAR_FUTURE_MS, |t| t.timestamp_millis())
            .min(FAR_FUTURE_MS);
        Ok(Self {
            from_ms,
            to_ms: to_ms.max(from_ms),
            model: filter.model.clone(),
            provider: filter.provider.clone(),
            key_id: filter.key_id.clone(),
            team_id: filter.team_id.clone(),
            end_user_id: filter.end_user_id.clone(),
            status: filter.status.map_or((0, u16::MAX), StatusFilter::range),
            has_status: filter.status.is_some(),
            metadata: filter
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Whether the optional condition `tag` of the filter fragments (`-- if <tag>`) is set.
    pub(crate) fn enabled(&self, tag: &str) -> bool {
        match tag {
            "model" => self.model.is_some(),
            "provider" => self.provider.is_some(),
            "key" => self.key_id.is_some(),
            "team" => self.team_id.is_some(),
            "end_user" => self.end_user_id.is_some(),
            "status" => self.has_status,
            "metadata" => !self.metadata.is_empty(),
            _ => false,
        }
    }

    /// Whether the hourly rollup answers this filter exactly: only rollup dimensions, and a
    /// range made of whole hours.
    pub(crate) fn rollup_eligible(&self) -> bool {
        self.end_user_id.is_none()
            && !self.has_status
            && self.metadata.is_empty()
            && self.from_ms % HOUR_MS == 0
            && self.to_ms % HOUR_MS == 0
    }
}

/// How far from its UUIDv7 time a request's `ts` is searched for first (request detail).
pub(crate) const DETAIL_WINDOW_MS: i64 = 24 * HOUR_MS;

/// The Unix-millisecond time inside a UUIDv7 string (the gateway's request ids), if it is one.
pub(crate) fn uuid_v7_millis(id: &str) -> Option<i64> {
    let b = id.as_bytes();
    let shaped = b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'7'
        && id
            .chars()
            .filter(|&c| c != '-')
            .all(|c| c.is_ascii_hexdigit());
    if !shaped {
        return None;
    }
    let hex = format!("{}{}", id.get(0..8)?, id.get(9..13)?);
    i64::from_str_radix(&hex, 16).ok()
}

/// Keyset position of the last row of a page: `(ts_ms, request_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub ts_ms: i64,
    pub request_id: String,
}

impl Cursor {
    pub(crate) fn after(event: &RequestEvent) -> Self {
        Self {
            ts_ms: event.ts.timestamp_millis(),
            request_id: event.request_id.clone(),
        }
    }

    /// Opaque text form (URL-safe).
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.ts_ms, self.request_id))
    }

    pub(crate) fn decode(text: &str) -> Result<Self, AnalyticsError> {
        let bad = || invalid("cursor is not one this API returned".to_owned());
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (ts, id) = raw.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            ts_ms: ts.parse().map_err(|_| bad())?,
            request_id: id.to_owned(),
        })
    }
}

pub(crate) fn invalid(reason: String) -> AnalyticsError {
    AnalyticsError::InvalidQuery(reason)
}

/// Page size within `1..=MAX_LOGS_PAGE`.
pub(crate) fn page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_LOGS_PAGE)
}

/// Builds the page from up to `limit + 1` rows fetched newest first.
pub(crate) fn page(mut rows: Vec<RequestEvent>, limit: u32) -> LogsPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|e| Cursor::after(e).encode())
    } else {
        None
    };
    LogsPage {
        items: rows,
        next_cursor,
    }
}

/// Index (0-based, in ascending order) of the percentile `level` among `n` values.
pub(crate) fn percentile_index(level: f64, n: u64) -> u64 {
    ((level * n as f64) as u64).min(n.saturating_sub(1))
}

/// Builds the summary from aggregated counters and percentile values.
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per aggregated column"
)]
pub(crate) fn summary(
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_nano_usd: i64,
    cache_hits: u64,
    latency: [Option<u32>; 3],
    ttft: [Option<u32>; 2],
) -> Summary {
    let rate = |part: u64| {
        if requests == 0 {
            0.0
        } else {
            part as f64 / requests as f64
        }
    };
    Summary {
        requests,
        errors,
        error_rate: rate(errors),
        input_tokens,
        output_tokens,
        cost_nano_usd,
        latency_ms: Percentiles {
            p50: latency[0],
            p95: latency[1],
            p99: latency[2],
        },
        ttft_ms: Percentiles {
            p50: ttft[0],
            p95: ttft[1],
            p99: None,
        },
        cache_hits,
        cache_hit_rate: rate(cache_hits),
    }
}

/// Adds empty buckets so that every bucket of `[from, to)` is present, when the filter bounds
/// the range; otherwise returns the buckets that hold data.
pub(crate) fn zero_fill(
    filter: &Filter,
    bucket: Bucket,
    rows: Vec<(i64, Totals)>,
) -> Result<Vec<TimeSeriesPoint>, AnalyticsError> {
    let width = bucket.width_ms();
    let point = |start_ms: i64, totals: Totals| -> Result<TimeSeriesPoint, AnalyticsError> {
        Ok(TimeSeriesPoint {
            start: DateTime::from_timestamp_millis(start_ms).ok_or_else(|| {
                AnalyticsError::Decode {
                    column: "bucket",
                    reason: format!("{start_ms} is out of range"),
                }
            })?,
            totals,
        })
    };
    let (Some(from), Some(to)) = (filter.from, filter.to) else {
        return rows.into_iter().map(|(s, t)| point(s, t)).collect();
    };
    let first = from.timestamp_millis().div_euclid(width) * width;
    let end = to.timestamp_millis();
    if end <= first {
        return Ok(Vec::new());
    }
    if (end - first) / width > MAX_BUCKETS {
        return Err(invalid(format!(
            "the range holds more than {MAX_BUCKETS} buckets; use a wider bucket"
        )));
    }
    let mut by_start: BTreeMap<i64, Totals> = rows.into_iter().collect();
    let mut out = Vec::new();
    let mut start = first;
    while start < end {
        out.push(point(start, by_start.remove(&start).unwrap_or_default())?);
        start += width;
    }
    Ok(out)
}

/// A breakdown value as the API shows it: the empty string stored for "none" becomes `None`.
pub(crate) fn dimension_value(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// Column order of [`to_csv`].
pub const CSV_COLUMNS: [&str; 24] = [
    "request_id",
    "time",
    "org_id",
    "team_id",
    "key_id",
    "end_user_id",
    "trace_id",
    "surface",
    "provider",
    "requested_model",
    "served_model",
    "stream",
    "status_code",
    "error_class",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cache_status",
    "retries",
    "metadata",
];

/// Renders events as CSV (RFC 4180, header line first). Cells that a spreadsheet would run as a
/// formula (leading `=`, `+`, `-`, `@`) get a leading `'`.
pub fn to_csv(events: &[RequestEvent]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for e in events {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
        let metadata = e
            .metadata()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let cells = [
            e.request_id.clone(),
            e.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            e.org_id.clone(),
            opt(&e.team_id),
            opt(&e.key_id),
            opt(&e.end_user_id),
            opt(&e.trace_id),
            e.surface.clone(),
            opt(&e.provider),
            e.requested_model.clone(),
            opt(&e.served_model),
            e.stream.to_string(),
            e.status_code.to_string(),
            opt(&e.error_class),
            e.latency_ms.to_string(),
            num(e.ttft_ms),
            e.input_tokens.to_string(),
            e.output_tokens.to_string(),
            e.cached_read_tokens.to_string(),
            e.reasoning_tokens.to_string(),
            nano_to_usd(e.cost_nano_usd),
            e.cache_status.clone(),
            e.retries.to_string(),
            metadata,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn nano_to_usd(nano: i64) -> String {
    let sign = if nano < 0 { "-" } else { "" };
    let abs = nano.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

fn csv_cell(value: &str) -> String {
    let mut value = value.to_owned();
    if value.starts_with(['=', '+', '-', '@']) {
        value.insert(0, '\'');
    }
    if value.contains([',', '"', '\n', '\r']) {
        let mut quoted = String::with_capacity(value.len() + 2);
        quoted.push('"');
        for c in value.chars() {
            if c == '"' {
                quoted.push('"');
            }
            quoted.push(c);
        }
        quoted.push('"');
        return quoted;
    }
    value
}

/// The metadata search column of the SQL backend: `,"k":"v"` per pair (JSON-encoded strings),
/// then a final `,`, so a `,"k":"v",` needle matches exactly one whole pair.
pub(crate) fn metadata_pairs(event: &RequestEvent) -> String {
    let mut out = String::from(",");
    for (k, v) in event.metadata() {
        out.push_str(&metadata_needle_body(k, v));
        out.push(',');
    }
    out
}

/// `,"k":"v",` for a metadata filter pair.
pub(crate) fn metadata_needle(key: &str, value: &str) -> String {
    format!(",{},", metadata_needle_body(key, value))
}

fn metadata_needle_body(key: &str, value: &str) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!("{}:{}", json(key), json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            ts_ms: 1_769_903_999_999,
            request_id: "req:1/é".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("not a cursor!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("x:y")).is_err());
    }

    #[test]
    fn uuid_v7_time_is_read_and_other_ids_are_not() {
        // 0x019af0e1_2a3b ms = 1764633799227.
        assert_eq!(
            uuid_v7_millis("019af0e1-2a3b-7c4d-8e5f-0123456789ab"),
            Some(0x019a_f0e1_2a3b)
        );
        assert_eq!(uuid_v7_millis("019af0e1-2a3b-4c4d-8e5f-0123456789ab"), None);
        assert_eq!(uuid_v7_millis("req-03"), None);
        assert_eq!(uuid_v7_millis("019af0e1-2a3b-7c4d-8e5f-0123456789zz"), None);
    }

    #[test]
    fn percentile_index_is_quantile_exact() {
        assert_eq!(percentile_index(0.5, 4), 2);
        assert_eq!(percentile_index(0.99, 4), 3);
        assert_eq!(percentile_index(0.95, 20), 19);
        assert_eq!(percentile_index(0.5, 1), 0);
    }

    #[test]
    fn status_filter_parses_query_text() {
        assert_eq!(
            "error".parse::<StatusFilter>().unwrap(),
            StatusFilter::Error
        );
        assert_eq!(
            "429".parse::<StatusFilter>().unwrap(),
            StatusFilter::Code(429)
        );
        assert!("teapot".parse::<StatusFilter>().is_err());
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(nano_to_usd(1_500), "0.000001500");
        assert_eq!(nano_to_usd(-2_000_000_001), "-2.000000001");
    }

    #[test]
    fn metadata_needles_match_whole_pairs_only() {
        let mut e = RequestEvent::new("r", "o", "s", "m");
        e.set_metadata([("env", "prod"), ("a\",\"b", "c")]);
        let hay = metadata_pairs(&e);
        assert!(hay.contains(&metadata_needle("env", "prod")));
        assert!(!hay.contains(&metadata_needle("env", "pro")));
        assert!(!hay.contains(&metadata_needle("b", "c")));
        assert!(hay.contains(&metadata_needle("a\",\"b", "c")));
    }
}
