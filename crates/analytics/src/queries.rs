//! SQL text shared with the chDB compatibility suite (`tests/clickhouse_compat`), which executes
//! these exact files on the current ClickHouse engine while the Rust tests run them on 18.16.
//!
//! `?` marks a client-side bound value; `{on_cluster}` is replaced by [`on_cluster_clause`].

/// Placeholder that migrations and DDL carry where `ON CLUSTER <name>` belongs.
pub const ON_CLUSTER_PLACEHOLDER: &str = "{on_cluster}";

/// One versioned ClickHouse migration, from `clickhouse/NNN_name.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The `NNN` of the file name; applied in ascending order.
    pub version: u32,
    /// The `name` of the file name.
    pub name: &'static str,
    /// File contents: one or more `;`-separated statements, with the cluster placeholder.
    pub sql: &'static str,
    /// The cluster variant (`clickhouse/cluster/NNN_name.sql`): replicated local tables plus
    /// Distributed tables under the single-node names.
    pub cluster_sql: &'static str,
}

/// All ClickHouse migrations, in version order. A unit test keeps this list equal to the
/// directory's contents.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "requests",
        sql: include_str!("../clickhouse/001_requests.sql"),
        cluster_sql: include_str!("../clickhouse/cluster/001_requests.sql"),
    },
    Migration {
        version: 2,
        name: "bodies",
        sql: include_str!("../clickhouse/002_bodies.sql"),
        cluster_sql: include_str!("../clickhouse/cluster/002_bodies.sql"),
    },
    Migration {
        version: 3,
        name: "rollups",
        sql: include_str!("../clickhouse/003_rollups.sql"),
        cluster_sql: include_str!("../clickhouse/cluster/003_rollups.sql"),
    },
];

pub(crate) const CREATE_SCHEMA_MIGRATIONS: &str =
    include_str!("../clickhouse/queries/create_schema_migrations.sql");
pub(crate) const CREATE_SCHEMA_MIGRATIONS_CLUSTER: &str =
    include_str!("../clickhouse/queries/create_schema_migrations_cluster.sql");
pub(crate) const APPLIED_MIGRATIONS: &str =
    include_str!("../clickhouse/queries/applied_migrations.sql");
pub(crate) const RECORD_MIGRATION: &str =
    include_str!("../clickhouse/queries/record_migration.sql");
pub(crate) const COUNT_BY_ORG: &str = include_str!("../clickhouse/queries/count_by_org.sql");
pub(crate) const RECENT_BY_ORG: &str = include_str!("../clickhouse/queries/recent_by_org.sql");
pub(crate) const REQUEST_DETAIL: &str = include_str!("../clickhouse/queries/request_detail.sql");
pub(crate) const SUMMARY: &str = include_str!("../clickhouse/queries/summary.sql");
pub(crate) const SUMMARY_ROLLUP: &str = include_str!("../clickhouse/queries/summary_rollup.sql");
pub(crate) const PERCENTILES: &str = include_str!("../clickhouse/queries/percentiles.sql");
pub(crate) const TIMESERIES: &str = include_str!("../clickhouse/queries/timeseries.sql");
pub(crate) const TIMESERIES_ROLLUP: &str =
    include_str!("../clickhouse/queries/timeseries_rollup.sql");
pub(crate) const BREAKDOWN: &str = include_str!("../clickhouse/queries/breakdown.sql");
pub(crate) const BREAKDOWN_ROLLUP: &str =
    include_str!("../clickhouse/queries/breakdown_rollup.sql");
pub(crate) const ROLLUP_QUANTILES: &str =
    include_str!("../clickhouse/queries/rollup_quantiles.sql");
pub(crate) const LOGS: &str = include_str!("../clickhouse/queries/logs.sql");
pub(crate) const RETENTION_REQUESTS: &str =
    include_str!("../clickhouse/queries/retention_requests.sql");
pub(crate) const RETENTION_ROLLUP: &str =
    include_str!("../clickhouse/queries/retention_rollup.sql");
const FILTER: &str = include_str!("../clickhouse/queries/filter.sql");
const ROLLUP_FILTER: &str = include_str!("../clickhouse/queries/rollup_filter.sql");

/// Placeholder for the raw-table filter fragment (`queries/filter.sql`).
pub(crate) const FILTER_PLACEHOLDER: &str = "{filter}";
/// Placeholder for the rollup filter fragment (`queries/rollup_filter.sql`).
pub(crate) const ROLLUP_FILTER_PLACEHOLDER: &str = "{rollup_filter}";
/// Placeholder for the grouped expression of a breakdown.
pub(crate) const DIMENSION_PLACEHOLDER: &str = "{dimension}";

/// `sql` with its filter fragments inlined.
pub(crate) fn with_filters(sql: &str) -> String {
    sql.replace(FILTER_PLACEHOLDER, FILTER.trim())
        .replace(ROLLUP_FILTER_PLACEHOLDER, ROLLUP_FILTER.trim())
}

/// Marks a line of a query file that is kept only when its condition applies: `-- if <tag>`.
const CONDITIONAL: &str = " -- if ";

/// `sql` without the lines tagged `-- if <tag>` whose tag is not `enabled` (kept lines lose the
/// tag). Leaving unset filters out of the text, rather than binding `? = 0 OR ...`, spares
/// ClickHouse evaluating them on every row (18.16 does not short-circuit `OR`).
pub(crate) fn select_lines(sql: &str, enabled: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(sql.len());
    for line in sql.lines() {
        match line.rsplit_once(CONDITIONAL) {
            Some((text, tag)) if enabled(tag.trim()) => out.push_str(text),
            Some(_) => continue,
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The raw-table expression of a breakdown dimension ('' stands for none).
pub(crate) fn raw_dimension(dimension: crate::Dimension) -> &'static str {
    use crate::Dimension::*;
    match dimension {
        Model => "ifNull(served_model, requested_model)",
        Provider => "ifNull(provider, '')",
        Key => "ifNull(key_id, '')",
        Team => "ifNull(team_id, '')",
        EndUser => "ifNull(end_user_id, '')",
        Status => "toString(status_code)",
        PromptVersion => {
            "if(isNull(prompt_id), '', concat(assumeNotNull(prompt_id), '@', toString(assumeNotNull(prompt_version))))"
        }
    }
}

/// The rollup column of a dimension, when the rollup has it.
pub(crate) fn rollup_dimension(dimension: crate::Dimension) -> Option<&'static str> {
    use crate::Dimension::*;
    match dimension {
        Model => Some("model"),
        Provider => Some("provider"),
        Key => Some("key_id"),
        Team => Some("team_id"),
        EndUser | Status | PromptVersion => None,
    }
}

/// The column list the `clickhouse` crate sends for `insert::<RequestEvent>("requests")`; kept as
/// a file for the chDB suite and checked against the struct by a unit test.
#[cfg(test)]
const INSERT_REQUESTS: &str = include_str!("../clickhouse/queries/insert_requests.sql");

/// `sql` with Keyway's DDL placeholders filled in: `{on_cluster}`, `{cluster}`, `{database}`,
/// and `{local}` (the suffix of the physical per-shard tables: `_local` on a cluster, empty on
/// a single node). The servers' own macros (`{shard}`, `{replica}`) are left alone.
pub(crate) fn render(sql: &str, cluster: Option<&str>, database: &str) -> String {
    sql.replace(ON_CLUSTER_PLACEHOLDER, &on_cluster_clause(cluster))
        .replace("{cluster}", cluster.unwrap_or_default())
        .replace("{database}", database)
        .replace("{local}", if cluster.is_some() { "_local" } else { "" })
}

/// The text that replaces [`ON_CLUSTER_PLACEHOLDER`]: empty without a cluster.
pub(crate) fn on_cluster_clause(cluster: Option<&str>) -> String {
    match cluster {
        Some(name) => format!("ON CLUSTER `{name}`"),
        None => String::new(),
    }
}

/// Splits a migration file into statements (the HTTP interface runs one per request),
/// dropping empty and comment-only pieces. Migrations hold no `;` inside literals.
pub(crate) fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').map(str::trim).filter(|stmt| {
        stmt.lines()
            .map(str::trim)
            .any(|line| !line.is_empty() && !line.starts_with("--"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestEvent;

    #[test]
    fn migration_list_matches_the_directory() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clickhouse");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:03}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn insert_and_select_column_lists_match_the_row_struct() {
        let columns = <RequestEvent as clickhouse::Row>::COLUMN_NAMES.join(", ");
        assert_eq!(
            INSERT_REQUESTS.trim(),
            format!("INSERT INTO requests ({columns})")
        );
        for select in [RECENT_BY_ORG, REQUEST_DETAIL] {
            assert!(select.starts_with(&format!("SELECT {columns}\nFROM requests\n")));
        }
        let without_bodies = columns.replace(
            "request_body, response_body",
            "CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(String))",
        );
        assert!(LOGS.contains(&format!(
            ") AS threshold_ms\nSELECT {without_bodies}\nFROM requests\n"
        )));
    }

    #[test]
    fn migration_comments_hold_no_statement_separator() {
        for m in MIGRATIONS {
            for sql in [m.sql, m.cluster_sql] {
                for line in sql.lines().filter(|l| l.trim_start().starts_with("--")) {
                    assert!(!line.contains(';'), "{:03}_{}: {line}", m.version, m.name);
                }
            }
        }
    }

    /// The column block of each `CREATE TABLE <name>` in `sql`.
    fn column_blocks(sql: &str) -> Vec<(String, String)> {
        statements(sql)
            .filter_map(|stmt| {
                let rest = stmt.split("CREATE TABLE IF NOT EXISTS ").nth(1)?;
                let name = rest.split_whitespace().next()?.to_owned();
                let open = rest.find("(\n")?;
                let close = rest.find("\n)\nENGINE")?;
                Some((name, rest[open..close].to_owned()))
            })
            .collect()
    }

    #[test]
    fn cluster_migrations_mirror_the_single_node_ones() {
        for m in MIGRATIONS {
            let cluster = render(m.cluster_sql, Some("main"), "keyway");
            // Same columns for every table, under `<name>_local`.
            for (name, columns) in column_blocks(m.sql) {
                let local = format!("{name}_local");
                let found = column_blocks(&cluster)
                    .into_iter()
                    .find(|(n, _)| *n == local);
                assert_eq!(found.map(|(_, c)| c), Some(columns), "{local}");
                assert!(
                    cluster.contains(&format!(
                        "CREATE TABLE IF NOT EXISTS {name} ON CLUSTER `main` AS {local}\nENGINE = Distributed('main', 'keyway', '{local}', rand())"
                    )),
                    "{name} has no Distributed table"
                );
            }
            for stmt in statements(&cluster) {
                assert!(stmt.contains("ON CLUSTER `main`"), "{stmt}");
                assert!(
                    !stmt.contains("ENGINE = MergeTree")
                        && !stmt.contains("ENGINE = AggregatingMergeTree"),
                    "{stmt}"
                );
                assert!(
                    !stmt.contains("{database}") && !stmt.contains("{cluster}"),
                    "{stmt}"
                );
            }
        }
        let rollups = render(MIGRATIONS[2].cluster_sql, Some("main"), "keyway");
        assert!(
            rollups.contains("TO requests_hourly_local\n")
                && rollups.contains("FROM requests_local\n")
        );
        // Mutations go to the physical tables (a Distributed table cannot be altered this way).
        assert!(
            render(RETENTION_REQUESTS, Some("main"), "keyway")
                .starts_with("ALTER TABLE requests_local ON CLUSTER `main` DELETE WHERE")
        );
        assert!(
            render(RETENTION_ROLLUP, Some("main"), "keyway")
                .starts_with("ALTER TABLE requests_hourly_local ON CLUSTER `main` DELETE WHERE")
        );
        assert!(
            render(RETENTION_REQUESTS, None, "keyway")
                .starts_with("ALTER TABLE requests  DELETE WHERE")
        );
    }

    #[test]
    fn conditional_lines_are_kept_only_when_enabled() {
        let sql = "a = ?\n    AND b = ? -- if b\n    AND c = ? -- if c\nORDER BY x";
        assert_eq!(
            select_lines(sql, |tag| tag == "c"),
            "a = ?\n    AND c = ?\nORDER BY x\n"
        );
        // Filter fragments are inlined where a line ends, so their tags never swallow text.
        for query in [
            SUMMARY,
            TIMESERIES,
            TIMESERIES_ROLLUP,
            BREAKDOWN,
            BREAKDOWN_ROLLUP,
            ROLLUP_QUANTILES,
            LOGS,
        ] {
            for line in query
                .lines()
                .filter(|l| l.contains('{') && l.contains("filter}"))
            {
                assert!(line.trim_end().ends_with("filter}"), "{line}");
            }
        }
    }

    #[test]
    fn statements_skip_comments_and_blanks() {
        let sql = "-- header\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- trailing\n";
        assert_eq!(
            statements(sql).collect::<Vec<_>>(),
            ["-- header\nCREATE TABLE a (x UInt8) ENGINE = Memory"]
        );
    }

    #[test]
    fn cluster_clause_is_empty_without_a_cluster() {
        assert_eq!(on_cluster_clause(None), "");
        assert_eq!(on_cluster_clause(Some("main")), "ON CLUSTER `main`");
    }
}
