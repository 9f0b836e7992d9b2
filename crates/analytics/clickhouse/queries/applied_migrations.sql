SELECT toUInt32(version) FROM schema_migrations ORDER BY version
