org_id = ?
    AND hour >= toDateTime(intDiv(?, 1000), 'UTC') AND hour < toDateTime(intDiv(?, 1000), 'UTC')
    AND model = ? -- if model
    AND provider = ? -- if provider
    AND key_id = ? -- if key
    AND team_id = ? -- if team
