SELECT
    toUInt64(count()) AS total_requests,
    arrayMap(x -> toUInt32(x), quantilesExact(0.5, 0.95, 0.99)(latency_ms)) AS latency_quantiles,
    toUInt64(countIf(isNotNull(ttft_ms))) AS ttft_count,
    arrayMap(x -> toUInt32(x), quantilesExactIf(0.5, 0.95)(ifNull(ttft_ms, toUInt32(0)), toUInt8(isNotNull(ttft_ms)))) AS ttft_quantiles
FROM requests
WHERE {filter}
