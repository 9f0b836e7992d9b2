org_id = ?
    AND hour >= toDateTime(intDiv(?, 1000), 'UTC') AND hour < toDateTime(intDiv(?, 1000), 'UTC')
    AND (? = 0 OR model = ?)
    AND (? = 0 OR provider = ?)
    AND (? = 0 OR key_id = ?)
    AND (? = 0 OR team_id = ?)
