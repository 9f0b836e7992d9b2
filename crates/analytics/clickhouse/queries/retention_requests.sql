ALTER TABLE requests{local} {on_cluster} DELETE WHERE org_id = ? AND ts_ms < ?
