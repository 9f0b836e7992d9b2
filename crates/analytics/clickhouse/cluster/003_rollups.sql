-- Cluster variant of ../003_rollups.sql: every shard rolls up its own `requests_local` rows
-- into `requests_hourly_local`, and `requests_hourly` is a Distributed table over them (states
-- from several shards merge in the query's -Merge functions).
CREATE TABLE IF NOT EXISTS requests_hourly_local {on_cluster}
(
    org_id String,
    hour DateTime('UTC'),
    model String,
    provider String,
    key_id String,
    team_id String,
    requests AggregateFunction(sum, UInt64),
    errors AggregateFunction(sum, UInt64),
    input_tokens AggregateFunction(sum, UInt64),
    output_tokens AggregateFunction(sum, UInt64),
    cost_nano_usd AggregateFunction(sum, Int64),
    cache_hits AggregateFunction(sum, UInt64),
    latency_ms_sum AggregateFunction(sum, UInt64),
    latency_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_quantiles AggregateFunction(quantilesTDigestIf(0.5, 0.95), UInt32, UInt8)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/requests_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, model, provider, key_id, team_id);

CREATE TABLE IF NOT EXISTS requests_hourly {on_cluster} AS requests_hourly_local
ENGINE = Distributed('{cluster}', '{database}', 'requests_hourly_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_hourly_mv {on_cluster}
TO requests_hourly_local
AS SELECT
    org_id,
    toStartOfHour(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS hour,
    ifNull(served_model, requested_model) AS model,
    ifNull(provider, '') AS provider,
    ifNull(key_id, '') AS key_id,
    ifNull(team_id, '') AS team_id,
    sumState(toUInt64(1)) AS requests,
    sumState(toUInt64(status_code >= 400)) AS errors,
    sumState(toUInt64(input_tokens)) AS input_tokens,
    sumState(toUInt64(output_tokens)) AS output_tokens,
    sumState(toInt64(cost_nano_usd)) AS cost_nano_usd,
    sumState(toUInt64(cache_status = 'hit')) AS cache_hits,
    sumState(toUInt64(latency_ms)) AS latency_ms_sum,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms) AS latency_quantiles,
    quantilesTDigestIfState(0.5, 0.95)(ifNull(ttft_ms, toUInt32(0)), toUInt8(isNotNull(ttft_ms))) AS ttft_quantiles
FROM requests_local
GROUP BY org_id, hour, model, provider, key_id, team_id;
