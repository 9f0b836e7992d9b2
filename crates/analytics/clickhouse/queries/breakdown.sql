SELECT
    {dimension} AS value,
    toUInt64(count()) AS total_requests,
    toUInt64(countIf(status_code >= 400)) AS total_errors,
    toUInt64(sum(input_tokens)) AS total_input_tokens,
    toUInt64(sum(output_tokens)) AS total_output_tokens,
    toInt64(sum(cost_nano_usd)) AS total_cost,
    toUInt64(countIf(cache_status = 'hit')) AS total_cache_hits,
    toUInt64(sum(latency_ms)) AS total_latency_ms
FROM requests
WHERE {filter}
GROUP BY value
ORDER BY total_cost DESC, total_requests DESC, value ASC
LIMIT ?
