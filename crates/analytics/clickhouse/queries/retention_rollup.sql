ALTER TABLE requests_hourly{local} {on_cluster} DELETE WHERE org_id = ? AND hour < toDateTime(intDiv(?, 1000), 'UTC')
