-- Cluster variant of ../001_requests.sql (chosen when `clickhouse.cluster` is set): each shard
-- keeps its rows in the replicated `requests_local`, and `requests` is a Distributed table over
-- all shards with the same columns, so inserts and queries use the same name in both modes.
-- {shard} and {replica} are the servers' macros, {cluster} and {database} are Keyway's.
CREATE TABLE IF NOT EXISTS requests_local {on_cluster}
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/requests_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (org_id, ts, request_id);

CREATE TABLE IF NOT EXISTS requests {on_cluster} AS requests_local
ENGINE = Distributed('{cluster}', '{database}', 'requests_local', rand());
