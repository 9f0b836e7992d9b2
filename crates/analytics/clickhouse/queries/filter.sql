org_id = ?
    AND ts >= toDateTime(intDiv(?, 1000), 'UTC') AND ts <= toDateTime(intDiv(?, 1000), 'UTC')
    AND ts_ms >= ? AND ts_ms < ?
    AND ifNull(served_model, requested_model) = ? -- if model
    AND ifNull(provider, '') = ? -- if provider
    AND ifNull(key_id, '') = ? -- if key
    AND ifNull(team_id, '') = ? -- if team
    AND ifNull(end_user_id, '') = ? -- if end_user
    AND status_code >= ? AND status_code <= ? -- if status
    AND hasAll(arrayMap((mk, mv) -> concat(toString(length(mk)), ':', mk, mv), metadata_keys, metadata_values), CAST(? AS Array(String))) -- if metadata
