ALTER TABLE requests {on_cluster} DELETE WHERE org_id = ? AND ts_ms < ?
