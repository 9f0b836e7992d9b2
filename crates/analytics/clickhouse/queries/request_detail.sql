SELECT request_id, org_id, team_id, key_id, end_user_id, trace_id, prompt_id, prompt_version, config_id, ts_ms, surface, provider, requested_model, served_model, stream, status_code, error_class, latency_ms, ttft_ms, upstream_latency_ms, gateway_overhead_us, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_nano_usd, cache_status, retries, fallback_index, metadata_keys, metadata_values, request_body, response_body
FROM requests
PREWHERE request_id = ?
WHERE org_id = ?
    AND ts >= toDateTime(intDiv(?, 1000), 'UTC') AND ts <= toDateTime(intDiv(?, 1000), 'UTC') -- if window
ORDER BY ts_ms DESC
LIMIT 1
