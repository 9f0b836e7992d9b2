WITH (
    SELECT toInt64(min(ts_ms))
    FROM (
        SELECT ts_ms
        FROM requests
        WHERE {filter}
            AND ts_ms < ? -- if cursor
        ORDER BY ts_ms DESC
        LIMIT ?
    )
) AS threshold_ms
SELECT request_id, org_id, team_id, key_id, end_user_id, trace_id, prompt_id, prompt_version, config_id, ts_ms, surface, provider, requested_model, served_model, stream, status_code, error_class, latency_ms, ttft_ms, upstream_latency_ms, gateway_overhead_us, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_nano_usd, cache_status, retries, fallback_index, metadata_keys, metadata_values, CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(String))
FROM requests
WHERE {filter}
    AND (ts_ms < ? OR (ts_ms = ? AND request_id < ?)) -- if cursor
    AND ts >= toDateTime(intDiv(threshold_ms, 1000), 'UTC')
    AND ts_ms >= threshold_ms
ORDER BY ts_ms DESC, request_id DESC
LIMIT ?
