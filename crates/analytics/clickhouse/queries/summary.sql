SELECT
    toUInt64(count()) AS total_requests,
    toUInt64(countIf(status_code >= 400)) AS total_errors,
    toUInt64(sum(input_tokens)) AS total_input_tokens,
    toUInt64(sum(output_tokens)) AS total_output_tokens,
    toInt64(sum(cost_nano_usd)) AS total_cost,
    toUInt64(countIf(cache_status = 'hit')) AS total_cache_hits,
    arrayMap(x -> toUInt32(x), quantilesExact(0.5, 0.95, 0.99)(latency_ms)) AS latency_quantiles,
    toUInt64(countIf(isNotNull(ttft_ms))) AS ttft_count,
    arrayMap(x -> toUInt32(x), quantilesExactIf(0.5, 0.95)(ifNull(ttft_ms, toUInt32(0)), toUInt8(isNotNull(ttft_ms)))) AS ttft_quantiles
FROM requests
WHERE {filter}
