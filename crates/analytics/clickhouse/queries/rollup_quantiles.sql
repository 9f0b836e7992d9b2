SELECT
    arrayMap(x -> toFloat64(x), quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_quantiles)) AS latency,
    arrayMap(x -> toFloat64(x), quantilesTDigestIfMerge(0.5, 0.95)(ttft_quantiles)) AS ttft
FROM requests_hourly
WHERE {rollup_filter}
