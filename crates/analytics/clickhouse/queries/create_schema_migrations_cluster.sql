CREATE TABLE IF NOT EXISTS schema_migrations {on_cluster}
(
    version UInt32,
    name String,
    applied_at DateTime('UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{replica}')
ORDER BY version
