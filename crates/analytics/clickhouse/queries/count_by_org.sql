SELECT toUInt64(count()) FROM requests WHERE org_id = ?
