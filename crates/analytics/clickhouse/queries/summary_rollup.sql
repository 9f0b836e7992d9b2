SELECT
    toUInt64(sumMerge(requests)) AS total_requests,
    toUInt64(sumMerge(errors)) AS total_errors,
    toUInt64(sumMerge(input_tokens)) AS total_input_tokens,
    toUInt64(sumMerge(output_tokens)) AS total_output_tokens,
    toInt64(sumMerge(cost_nano_usd)) AS total_cost,
    toUInt64(sumMerge(cache_hits)) AS total_cache_hits
FROM requests_hourly
WHERE {rollup_filter}
