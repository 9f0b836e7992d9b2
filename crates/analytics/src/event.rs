//! The analytics row: one [`RequestEvent`] per gateway request, whatever its outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::AnalyticsError;

/// One gateway request as stored by every analytics backend.
///
/// Field order and names are the ClickHouse column order and names (see
/// `clickhouse/001_requests.sql` and `clickhouse/queries/insert_requests.sql`); rows are
/// exchanged positionally in `RowBinary`, so the struct and the SQL files change together.
///
/// Categorical fields (`surface`, `provider`, `cache_status`, `error_class`) are plain strings so
/// that a new value written by a newer gateway never breaks an older reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clickhouse::Row)]
pub struct RequestEvent {
    /// Gateway request id (also returned as `x-keyway-request-id`).
    pub request_id: String,
    /// Organization the request was billed to; every query filters on it.
    pub org_id: String,
    /// Team owning the virtual key, if any.
    pub team_id: Option<String>,
    /// Virtual key id (never the key itself).
    pub key_id: Option<String>,
    /// Caller-supplied end-user identifier.
    pub end_user_id: Option<String>,
    /// Caller-supplied trace id, for grouping requests of one agent run.
    pub trace_id: Option<String>,
    /// Prompt id when the request rendered a stored prompt.
    pub prompt_id: Option<String>,
    /// Prompt version rendered.
    pub prompt_version: Option<u32>,
    /// Routing config id that routed the request.
    pub config_id: Option<String>,
    /// When the gateway received the request, stored with millisecond precision (anything finer
    /// is dropped on write). Serialized as Unix epoch milliseconds under the name `ts_ms`.
    #[serde(rename = "ts_ms", with = "epoch_millis")]
    pub ts: DateTime<Utc>,
    /// API surface called, e.g. `openai.chat`, `anthropic.messages`.
    pub surface: String,
    /// Provider that served the request; `None` when it failed before routing.
    pub provider: Option<String>,
    /// Model named by the caller (`provider/model`, alias, or config-routed name).
    pub requested_model: String,
    /// Model the provider actually served; `None` when no provider answered.
    pub served_model: Option<String>,
    /// Whether the response was streamed.
    pub stream: bool,
    /// HTTP status returned to the caller.
    pub status_code: u16,
    /// Stable error class (e.g. `rate_limited`, `upstream_timeout`) when the request failed.
    pub error_class: Option<String>,
    /// Total latency seen by the caller, in milliseconds.
    pub latency_ms: u32,
    /// Time to first token for streams, in milliseconds.
    pub ttft_ms: Option<u32>,
    /// Time spent waiting on the upstream provider, in milliseconds; `None` on cache hits.
    pub upstream_latency_ms: Option<u32>,
    /// Time the gateway itself added, in microseconds.
    pub gateway_overhead_us: u32,
    /// Prompt tokens billed as input.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Input tokens read from the provider's prompt cache.
    pub cached_read_tokens: u32,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: u32,
    /// Reasoning tokens (counted inside or beside output, as the provider reports).
    pub reasoning_tokens: u32,
    /// Cost in integer nano-USD (1 USD = 1_000_000_000).
    pub cost_nano_usd: i64,
    /// Gateway cache outcome, e.g. `hit`, `miss`, `bypass`, `disabled`.
    pub cache_status: String,
    /// Retries performed across all targets.
    pub retries: u16,
    /// Index of the target that answered in the fallback chain (0 = first target).
    pub fallback_index: u16,
    /// Metadata keys, parallel to `metadata_values`.
    pub metadata_keys: Vec<String>,
    /// Metadata values, parallel to `metadata_keys`.
    pub metadata_values: Vec<String>,
    /// Request body, only when the org stores bodies; secrets are redacted before storage.
    #[serde(default)]
    pub request_body: Option<String>,
    /// Response body, only when the org stores bodies; secrets are redacted before storage.
    #[serde(default)]
    pub response_body: Option<String>,
}

impl RequestEvent {
    /// An event for a request received now: identity fields set, every measurement zero or
    /// empty and the cache status `bypass`, for the gateway to fill in as the request proceeds.
    pub fn new(request_id: &str, org_id: &str, surface: &str, requested_model: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            org_id: org_id.to_owned(),
            team_id: None,
            key_id: None,
            end_user_id: None,
            trace_id: None,
            prompt_id: None,
            prompt_version: None,
            config_id: None,
            ts: Utc::now(),
            surface: surface.to_owned(),
            provider: None,
            requested_model: requested_model.to_owned(),
            served_model: None,
            stream: false,
            status_code: 0,
            error_class: None,
            latency_ms: 0,
            ttft_ms: None,
            upstream_latency_ms: None,
            gateway_overhead_us: 0,
            input_tokens: 0,
            output_tokens: 0,
            cached_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            cost_nano_usd: 0,
            cache_status: "bypass".to_owned(),
            retries: 0,
            fallback_index: 0,
            metadata_keys: Vec::new(),
            metadata_values: Vec::new(),
            request_body: None,
            response_body: None,
        }
    }

    /// Metadata as `(key, value)` pairs.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata_keys
            .iter()
            .map(String::as_str)
            .zip(self.metadata_values.iter().map(String::as_str))
    }

    /// Replaces the metadata with `pairs`, keeping the two arrays parallel by construction.
    pub fn set_metadata<K, V>(&mut self, pairs: impl IntoIterator<Item = (K, V)>)
    where
        K: Into<String>,
        V: Into<String>,
    {
        let (keys, values) = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).unzip();
        self.metadata_keys = keys;
        self.metadata_values = values;
    }

    /// Rejects rows a backend would store inconsistently: metadata arrays of different lengths
    /// would silently misalign keys and values in every later query.
    pub(crate) fn check(&self) -> Result<(), AnalyticsError> {
        if self.metadata_keys.len() != self.metadata_values.len() {
            return Err(AnalyticsError::InvalidEvent {
                request_id: self.request_id.clone(),
                reason: format!(
                    "{} metadata keys but {} metadata values",
                    self.metadata_keys.len(),
                    self.metadata_values.len()
                ),
            });
        }
        Ok(())
    }
}

/// Whether any event of the batch carries a body (only those need redaction).
pub(crate) fn has_bodies(events: &[RequestEvent]) -> bool {
    events
        .iter()
        .any(|e| e.request_body.is_some() || e.response_body.is_some())
}

/// Checks every event of a batch before any backend writes it, so a batch is all or nothing.
pub(crate) fn check_batch(events: &[RequestEvent]) -> Result<(), AnalyticsError> {
    events.iter().try_for_each(RequestEvent::check)
}

/// Serde adapter: `DateTime<Utc>` as `i64` Unix epoch milliseconds, the one time encoding that
/// ClickHouse 18.16 (no DateTime64), current ClickHouse, SQLite and Postgres all store exactly.
pub(crate) mod epoch_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(crate) fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(ts.timestamp_millis())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let millis = i64::deserialize(d)?;
        from_millis(millis)
            .ok_or_else(|| D::Error::custom(format!("timestamp {millis} ms out of range")))
    }

    pub(crate) fn from_millis(millis: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> RequestEvent {
        RequestEvent {
            request_id: "r1".into(),
            org_id: "o1".into(),
            team_id: None,
            key_id: None,
            end_user_id: None,
            trace_id: None,
            prompt_id: None,
            prompt_version: None,
            config_id: None,
            ts: DateTime::from_timestamp_millis(1_767_225_599_999).unwrap(),
            surface: "openai.chat".into(),
            provider: None,
            requested_model: "openai/gpt-4o-mini".into(),
            served_model: None,
            stream: false,
            status_code: 200,
            error_class: None,
            latency_ms: 1,
            ttft_ms: None,
            upstream_latency_ms: None,
            gateway_overhead_us: 1,
            input_tokens: 0,
            output_tokens: 0,
            cached_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            cost_nano_usd: 0,
            cache_status: "miss".into(),
            retries: 0,
            fallback_index: 0,
            metadata_keys: vec![],
            metadata_values: vec![],
            request_body: None,
            response_body: None,
        }
    }

    #[test]
    fn json_carries_time_as_epoch_millis() {
        let json = serde_json::to_value(event()).unwrap();
        assert_eq!(json["ts_ms"], 1_767_225_599_999_i64);
        let back: RequestEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event());
    }

    #[test]
    fn set_metadata_keeps_arrays_parallel_and_check_rejects_mismatch() {
        let mut e = event();
        e.set_metadata([("env", "prod"), ("feature", "chat")]);
        assert_eq!(
            e.metadata().collect::<Vec<_>>(),
            [("env", "prod"), ("feature", "chat")]
        );
        assert!(e.check().is_ok());
        e.metadata_values.pop();
        assert!(matches!(
            e.check(),
            Err(AnalyticsError::InvalidEvent { .. })
        ));
    }
}
