org_id = ?
    AND ts >= toDateTime(intDiv(?, 1000), 'UTC') AND ts <= toDateTime(intDiv(?, 1000), 'UTC')
    AND ts_ms >= ? AND ts_ms < ?
    AND (? = 0 OR ifNull(served_model, requested_model) = ?)
    AND (? = 0 OR ifNull(provider, '') = ?)
    AND (? = 0 OR ifNull(key_id, '') = ?)
    AND (? = 0 OR ifNull(team_id, '') = ?)
    AND (? = 0 OR ifNull(end_user_id, '') = ?)
    AND status_code >= ? AND status_code <= ?
    AND hasAll(arrayMap((mk, mv) -> concat(toString(length(mk)), ':', mk, mv), metadata_keys, metadata_values), CAST(? AS Array(String)))
