-- One row per gateway request. Runs unchanged on ClickHouse 18.16 and on current engines:
-- no DateTime64 (millisecond time is an Int64 epoch, `ts` is derived from it for partitioning
-- and time bucketing), no Map (metadata is two parallel arrays), no LowCardinality, no TTL.
CREATE TABLE IF NOT EXISTS requests {on_cluster}
(
    request_id String,
    org_id String,
    team_id Nullable(String),
    key_id Nullable(String),
    end_user_id Nullable(String),
    trace_id Nullable(String),
    prompt_id Nullable(String),
    prompt_version Nullable(UInt32),
    config_id Nullable(String),
    ts_ms Int64,
    ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000), 'UTC'),
    surface String,
    provider Nullable(String),
    requested_model String,
    served_model Nullable(String),
    stream UInt8,
    status_code UInt16,
    error_class Nullable(String),
    latency_ms UInt32,
    ttft_ms Nullable(UInt32),
    upstream_latency_ms Nullable(UInt32),
    gateway_overhead_us UInt32,
    input_tokens UInt32,
    output_tokens UInt32,
    cached_read_tokens UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens UInt32,
    cost_nano_usd Int64,
    cache_status String,
    retries UInt16,
    fallback_index UInt16,
    metadata_keys Array(String),
    metadata_values Array(String)
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (org_id, ts, request_id);
