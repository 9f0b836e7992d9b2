"""ClickHouse compatibility on the current engine (chDB, in-process).

The Rust tests run the analytics SQL on Debian's ClickHouse 18.16; this suite runs the very same
files (crates/analytics/clickhouse/*.sql and queries/*.sql) on the engine chDB embeds, so SQL that
only one of the two accepts, or that returns different types, fails CI.

Run: /root/.cache/keyway-py/bin/python -m pytest tests/clickhouse_compat
"""

import json
import re
from pathlib import Path

import pytest
from chdb import session as chdb_session

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "crates" / "analytics" / "clickhouse"
QUERIES = SQL_DIR / "queries"
ON_CLUSTER_PLACEHOLDER = "{on_cluster}"

# Column types the Rust `RequestEvent` decodes positionally (RowBinary, no validation): the
# current engine must report exactly these for the SELECT the Rust code issues.
EXPECTED_TYPES = [
    "String", "String", "Nullable(String)", "Nullable(String)", "Nullable(String)",
    "Nullable(String)", "Nullable(String)", "Nullable(UInt32)", "Nullable(String)", "Int64",
    "String", "Nullable(String)", "String", "Nullable(String)", "UInt8", "UInt16",
    "Nullable(String)", "UInt32", "Nullable(UInt32)", "Nullable(UInt32)", "UInt32", "UInt32",
    "UInt32", "UInt32", "UInt32", "UInt32", "Int64", "String", "UInt16", "UInt16",
    "Array(String)", "Array(String)",
]


def migrations():
    """(version, name, sql) of every NNN_name.sql, in version order, like the Rust runner."""
    found = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        match = re.fullmatch(r"(\d{3})_(\w+)\.sql", path.name)
        assert match, f"migration file not named NNN_name.sql: {path.name}"
        found.append((int(match[1]), match[2], path.read_text()))
    return found


def query_file(name):
    return (QUERIES / name).read_text().strip()


def without_cluster(sql):
    return sql.replace(ON_CLUSTER_PLACEHOLDER, "")


def statements(sql):
    """Same split as `queries::statements` in Rust: on ';', dropping comment-only pieces."""
    for piece in sql.split(";"):
        piece = piece.strip()
        if any(line.strip() and not line.strip().startswith("--") for line in piece.splitlines()):
            yield piece


def literal(value):
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"unsupported bound value {value!r}")
    return str(value)


def bind(sql, *values):
    """Client-side `?` binding, as the `clickhouse` crate does it."""
    parts = sql.split("?")
    assert len(parts) == len(values) + 1, f"{len(values)} values for {len(parts) - 1} '?' in {sql}"
    out = parts[0]
    for value, rest in zip(values, parts[1:]):
        out += literal(value) + rest
    return out


class Engine:
    def __init__(self, path):
        self.session = chdb_session.Session(str(path))

    def run(self, sql):
        self.session.query(sql)

    def fetch(self, sql):
        """Returns (column types, rows) of a SELECT."""
        result = json.loads(self.session.query(sql, "JSONCompact").bytes())
        return [col["type"] for col in result["meta"]], result["data"]

    def migrate(self):
        self.run(without_cluster(query_file("create_schema_migrations.sql")))
        _, rows = self.fetch(query_file("applied_migrations.sql"))
        done = {int(row[0]) for row in rows}
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            for statement in statements(without_cluster(sql)):
                self.run(statement)
            self.run(bind(query_file("record_migration.sql"), version, name))
            applied.append((version, name))
        return applied


@pytest.fixture
def engine(tmp_path):
    eng = Engine(tmp_path / "chdb")
    eng.run("CREATE DATABASE IF NOT EXISTS keyway_compat")
    eng.run("USE keyway_compat")
    yield eng
    eng.session.close()


def event(org_id, request_id, ts_ms, full):
    """A row keyed by column name, mirroring crates/analytics/tests/common (minimal/full_event)."""
    row = {
        "request_id": request_id, "org_id": org_id, "team_id": None, "key_id": None,
        "end_user_id": None, "trace_id": None, "prompt_id": None, "prompt_version": None,
        "config_id": None, "ts_ms": ts_ms, "surface": "openai.chat", "provider": None,
        "requested_model": "openai/gpt-4o-mini", "served_model": None, "stream": 0,
        "status_code": 401, "error_class": "invalid_api_key", "latency_ms": 0, "ttft_ms": None,
        "upstream_latency_ms": None, "gateway_overhead_us": 0, "input_tokens": 0,
        "output_tokens": 0, "cached_read_tokens": 0, "cache_write_tokens": 0,
        "reasoning_tokens": 0, "cost_nano_usd": 0, "cache_status": "bypass", "retries": 0,
        "fallback_index": 0, "metadata_keys": [], "metadata_values": [],
    }
    if full:
        row.update({
            "team_id": "team-7", "key_id": "key_01J", "end_user_id": "user \"o'brien\"\\x",
            "trace_id": "trace-é-日本", "prompt_id": "prompt-1", "prompt_version": 2**32 - 1,
            "config_id": "cfg-2", "surface": "anthropic.messages", "provider": "anthropic",
            "requested_model": "claude-sonnet", "served_model": "claude-sonnet-4-20250514",
            "stream": 1, "status_code": 200, "error_class": None, "latency_ms": 2**32 - 1,
            "ttft_ms": 123, "upstream_latency_ms": 4567, "gateway_overhead_us": 890,
            "input_tokens": 1_000_000, "output_tokens": 2345, "cached_read_tokens": 600,
            "cache_write_tokens": 70, "reasoning_tokens": 8,
            "cost_nano_usd": 9_000_000_000_000_123, "cache_status": "miss", "retries": 2**16 - 1,
            "fallback_index": 2, "metadata_keys": ["env", "quote'd", "json"],
            "metadata_values": ["prod", "tab\there\nnewline", '{"a": [1, "b\\\\"]}'],
        })
    return row


def insert(engine, rows):
    """The Rust insert's column list (insert_requests.sql), fed as JSONEachRow instead of
    RowBinary, which Python cannot produce as easily."""
    columns = re.search(r"\((.*)\)", query_file("insert_requests.sql"))[1].split(", ")
    payload = "\n".join(json.dumps({c: row[c] for c in columns}) for row in rows)
    engine.run(f"{query_file('insert_requests.sql')} FORMAT JSONEachRow\n{payload}")
    return columns


def normalise(row):
    """JSON output may quote 64-bit integers; compare numbers as numbers."""
    return [int(v) if isinstance(v, str) and re.fullmatch(r"-?\d{10,}", v) else v for v in row]


def test_migrations_apply_once_and_are_recorded(engine):
    all_migrations = [(v, n) for v, n, _ in migrations()]
    assert all_migrations, "no migration files found"
    assert engine.migrate() == all_migrations
    assert engine.migrate() == [], "second run applies nothing"
    types, rows = engine.fetch(query_file("applied_migrations.sql"))
    assert types == ["UInt32"]
    assert [int(r[0]) for r in rows] == [v for v, _ in all_migrations]


def test_rust_queries_return_the_rows_and_types_rust_expects(engine):
    engine.migrate()
    newest = event("org-a", "req-c", 1_769_903_999_999, full=True)
    middle = event("org-a", "req-b", 1_769_903_999_998, full=False)
    same_ms = event("org-a", "req-a", 1_769_903_999_998, full=True)
    oldest = event("org-a", "req-z", 1_767_225_600_000, full=False)
    foreign = [event("org-b", "req-x", 1_769_903_999_999, True),
               event("org-b", "req-y", 1_769_903_999_999, False)]
    columns = insert(engine, [oldest, middle, newest, same_ms, *foreign])

    count_sql = query_file("count_by_org.sql")
    for org, expected in [("org-a", 4), ("org-b", 2), ("no-such-org", 0), ("o'rg\\", 0)]:
        types, rows = engine.fetch(bind(count_sql, org))
        assert types == ["UInt64"]
        assert int(rows[0][0]) == expected

    recent_sql = query_file("recent_by_org.sql")
    types, rows = engine.fetch(bind(recent_sql, "org-a", 100))
    assert types == EXPECTED_TYPES
    expected = [[row[c] for c in columns] for row in (newest, middle, same_ms, oldest)]
    assert [normalise(r) for r in rows] == expected

    _, rows = engine.fetch(bind(recent_sql, "org-a", 1))
    assert [normalise(r) for r in rows] == expected[:1]


def test_time_is_partitioned_by_utc_month_of_the_millisecond_timestamp(engine):
    engine.migrate()
    insert(engine, [event("org-p", "req-1", 1_769_903_999_999, full=True)])
    _, rows = engine.fetch(
        "SELECT toString(ts), toUInt32(toYYYYMM(ts)), toString(_partition_id) "
        "FROM requests WHERE org_id = 'org-p'"
    )
    assert rows == [["2026-01-31 23:59:59", 202601, "202601"]]


def test_cluster_placeholder_is_present_in_every_ddl_file():
    """Each CREATE must carry the placeholder, or cluster deployments would create it on one
    node only."""
    ddl = [sql for _, _, sql in migrations()] + [query_file("create_schema_migrations.sql")]
    for sql in ddl:
        for statement in statements(sql):
            if re.search(r"\bCREATE\b", statement, re.IGNORECASE):
                assert ON_CLUSTER_PLACEHOLDER in statement, statement
