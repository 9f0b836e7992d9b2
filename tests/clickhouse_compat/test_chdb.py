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
    "Array(String)", "Array(String)", "Nullable(String)", "Nullable(String)",
]
TOTALS_TYPES = ["UInt64", "UInt64", "UInt64", "UInt64", "Int64", "UInt64", "UInt64"]
FAR_FUTURE_MS = 4_102_444_800_000
HOUR_MS = 3_600_000

# Mirrors `queries::raw_dimension` / `rollup_dimension` in Rust (the `{dimension}` placeholder).
RAW_DIMENSIONS = {
    "model": "ifNull(served_model, requested_model)",
    "provider": "ifNull(provider, '')",
    "key": "ifNull(key_id, '')",
    "team": "ifNull(team_id, '')",
    "end_user": "ifNull(end_user_id, '')",
    "status": "toString(status_code)",
}
ROLLUP_DIMENSIONS = {"model": "model", "provider": "provider", "key": "key_id", "team": "team_id"}


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
    """Single-node rendering, as `queries::render(sql, None, ..)` in Rust."""
    return sql.replace(ON_CLUSTER_PLACEHOLDER, "").replace("{local}", "")


def with_filters(sql, enabled=()):
    """Same as `queries::with_filters` then `queries::select_lines` in Rust: the filter
    fragments inlined, keeping the `-- if <tag>` lines whose tag is enabled."""
    sql = (sql.replace("{filter}", query_file("filter.sql"))
           .replace("{rollup_filter}", query_file("rollup_filter.sql")))
    out = []
    for line in sql.splitlines():
        text, sep, tag = line.rpartition(" -- if ")
        if not sep:
            out.append(line)
        elif tag.strip() in enabled:
            out.append(text)
    return "\n".join(out) + "\n"


def statements(sql):
    """Same split as `queries::statements` in Rust: on ';', dropping comment-only pieces."""
    for piece in sql.split(";"):
        piece = piece.strip()
        if any(line.strip() and not line.strip().startswith("--") for line in piece.splitlines()):
            yield piece


def literal(value):
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
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
        "request_body": None, "response_body": None,
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
    ddl += [query_file("retention_requests.sql"), query_file("retention_rollup.sql")]
    for sql in ddl:
        for statement in statements(sql):
            if re.search(r"\b(CREATE|ALTER)\b", statement, re.IGNORECASE):
                assert ON_CLUSTER_PLACEHOLDER in statement, statement


FILTER_TAGS = ("model", "provider", "key", "team", "end_user")


def filtered(name, **f):
    """(sql, bound values) of a query over queries/filter.sql, as `filtered` + `bind_filter`
    build them in Rust."""
    enabled = {t for t in FILTER_TAGS if f.get(t) is not None}
    values = [f["org"], f.get("from_ms", 0), f.get("to_ms", FAR_FUTURE_MS),
              f.get("from_ms", 0), f.get("to_ms", FAR_FUTURE_MS)]
    values += [f[t] for t in FILTER_TAGS if t in enabled]
    if f.get("status"):
        enabled.add("status")
        values += list(f["status"])
    if f.get("metadata"):
        enabled.add("metadata")
        values.append([f"{len(k.encode())}:{k}{v}" for k, v in f["metadata"]])
    if f.get("cursor"):
        enabled.add("cursor")
    return with_filters(query_file(name), enabled), values


def rollup_filtered(name, **f):
    """(sql, bound values) of a query over queries/rollup_filter.sql (`bind_rollup_filter`)."""
    tags = ("model", "provider", "key", "team")
    enabled = {t for t in tags if f.get(t) is not None}
    values = [f["org"], f.get("from_ms", 0), f.get("to_ms", FAR_FUTURE_MS)]
    values += [f[t] for t in tags if t in enabled]
    return with_filters(query_file(name), enabled), values


T0 = 1_769_896_800_000  # 2026-01-31 22:00 UTC


def dataset(org):
    rows = []
    for i in range(30):
        row = event(org, f"req-{i:02}", T0 + i * 10 * 60_000 + i % 7, full=i % 2 == 0)
        row["status_code"] = 500 if i % 5 == 4 else 200
        row["latency_ms"] = (i * 37) % 101 + 10
        row["ttft_ms"] = (i * 13) % 50 + 1 if i % 3 else None
        row["cost_nano_usd"] = (i + 1) * 1000
        row["cache_status"] = "hit" if i % 4 == 0 else "miss"
        row["metadata_keys"] = ["env"]
        row["metadata_values"] = ["prod" if i % 2 else "dev"]
        rows.append(row)
    return rows


def test_query_api_statements_run_and_return_the_types_rust_decodes(engine):
    engine.migrate()
    rows = dataset("org-q")
    insert(engine, rows[:15])
    insert(engine, rows[15:])
    insert(engine, dataset("org-other")[:5])

    sql, values = filtered("summary.sql", org="org-q")
    types, out = engine.fetch(bind(sql, *values))
    assert types == TOTALS_TYPES[:6] + ["Array(UInt32)", "UInt64", "Array(UInt32)"]
    lat = sorted(r["latency_ms"] for r in rows)
    ttft = sorted(r["ttft_ms"] for r in rows if r["ttft_ms"] is not None)
    got = normalise(out[0])
    assert [int(x) for x in got[:6]] == [
        30, sum(r["status_code"] >= 400 for r in rows), sum(r["input_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows), sum(r["cost_nano_usd"] for r in rows),
        sum(r["cache_status"] == "hit" for r in rows)]
    assert got[6] == [lat[int(q * len(lat))] for q in (0.5, 0.95, 0.99)]
    assert int(got[7]) == len(ttft)
    assert got[8] == [ttft[int(q * len(ttft))] for q in (0.5, 0.95)]

    # The split summary (counters from the rollup, exact percentiles from raw) agrees with it.
    sql, values = rollup_filtered("summary_rollup.sql", org="org-q")
    types, counters = engine.fetch(bind(sql, *values))
    assert types == TOTALS_TYPES[:6]
    assert normalise(counters[0]) == normalise(out[0][:6])
    sql, values = filtered("percentiles.sql", org="org-q")
    types, pct = engine.fetch(bind(sql, *values))
    assert types == ["UInt64", "Array(UInt32)", "UInt64", "Array(UInt32)"]
    assert normalise(pct[0]) == [normalise(out[0])[0]] + normalise(out[0])[6:]

    # Every optional condition, alone and together, selects what the definition says.
    full = [r for r in rows if r["team_id"] is not None]
    cases = [
        (dict(model="claude-sonnet-4-20250514"), lambda r: r["served_model"] == "claude-sonnet-4-20250514"),
        (dict(model="openai/gpt-4o-mini"), lambda r: r["served_model"] is None),
        (dict(provider="anthropic"), lambda r: r["provider"] == "anthropic"),
        (dict(key="key_01J"), lambda r: r["key_id"] == "key_01J"),
        (dict(team="team-7"), lambda r: r["team_id"] == "team-7"),
        (dict(end_user=full[0]["end_user_id"]), lambda r: r["end_user_id"] == full[0]["end_user_id"]),
        (dict(status=(400, 65535)), lambda r: r["status_code"] >= 400),
        (dict(metadata=[("env", "prod")]), lambda r: r["metadata_values"] == ["prod"]),
        (dict(metadata=[("env", "prod")], status=(400, 65535), team="team-7"),
         lambda r: r["metadata_values"] == ["prod"] and r["status_code"] >= 400 and r["team_id"] == "team-7"),
    ]
    for f, want in cases:
        sql, values = filtered("summary.sql", org="org-q", **f)
        _, out = engine.fetch(bind(sql, *values))
        assert int(out[0][0]) == sum(1 for r in rows if want(r)), f

    # Time series: raw and rollup agree on whole hours.
    width = HOUR_MS
    sql, values = filtered("timeseries.sql", org="org-q", from_ms=T0, to_ms=T0 + 6 * HOUR_MS)
    raw_types, raw = engine.fetch(bind(sql, width, width, *values))
    sql, values = rollup_filtered("timeseries_rollup.sql", org="org-q", from_ms=T0, to_ms=T0 + 6 * HOUR_MS)
    roll_types, roll = engine.fetch(bind(sql, width, width, *values))
    assert raw_types == roll_types == ["Int64"] + TOTALS_TYPES
    assert [normalise(r) for r in raw] == [normalise(r) for r in roll]
    assert sum(int(r[1]) for r in raw) == 30
    sql, values = rollup_filtered("timeseries_rollup.sql", org="org-q", model="claude-sonnet-4-20250514",
                                  provider="anthropic", key="key_01J", team="team-7")
    _, roll = engine.fetch(bind(sql, width, width, *values))
    assert sum(int(r[1]) for r in roll) == len(full)

    for name, expr in RAW_DIMENSIONS.items():
        sql, values = filtered("breakdown.sql", org="org-q")
        types, raw = engine.fetch(bind(sql.replace("{dimension}", expr), *values, 100))
        assert types == ["String"] + TOTALS_TYPES, name
        assert sum(int(r[1]) for r in raw) == 30, name
        if name in ROLLUP_DIMENSIONS:
            sql, values = rollup_filtered("breakdown_rollup.sql", org="org-q")
            types, roll = engine.fetch(bind(sql.replace("{dimension}", ROLLUP_DIMENSIONS[name]), *values, 100))
            assert types == ["String"] + TOTALS_TYPES, name
            assert [normalise(r) for r in roll] == [normalise(r) for r in raw], name

    sql, values = rollup_filtered("rollup_quantiles.sql", org="org-q")
    types, out = engine.fetch(bind(sql, *values))
    assert types == ["Array(Float64)", "Array(Float64)"]
    assert len(out[0][0]) == 3 and len(out[0][1]) == 2

    # Logs: keyset pages, bodies left out (bind order as `ClickHouseStore::logs`: the
    # threshold subquery's filter, cursor and limit, then the outer ones).
    sql, values = filtered("logs.sql", org="org-q")
    types, page1 = engine.fetch(bind(sql, *values, 11, *values, 11))
    assert types == EXPECTED_TYPES
    assert len(page1) == 11 and all(r[-2] is None and r[-1] is None for r in page1)
    last = page1[9]
    ts = int(last[9])
    sql, values = filtered("logs.sql", org="org-q", cursor=True)
    _, page2 = engine.fetch(bind(sql, *values, ts, 100, *values, ts, ts, last[0], 100))
    ids = [r[0] for r in page1[:10]] + [r[0] for r in page2]
    assert ids == [f"req-{i:02}" for i in reversed(range(30))]

    # Request detail, with bodies, org-scoped.
    detail = with_filters(query_file("request_detail.sql"))
    types, out = engine.fetch(bind(detail, "req-03", "org-q"))
    assert types == EXPECTED_TYPES and len(out) == 1
    _, out = engine.fetch(bind(detail, "req-20", "org-other"))
    assert out == []
    windowed = with_filters(query_file("request_detail.sql"), {"window"})
    ts = rows[3]["ts_ms"]
    _, out = engine.fetch(bind(windowed, "req-03", "org-q", ts - HOUR_MS, ts + HOUR_MS))
    assert [r[0] for r in out] == ["req-03"]
    _, out = engine.fetch(bind(windowed, "req-03", "org-q", ts + HOUR_MS, ts + 2 * HOUR_MS))
    assert out == []


def test_retention_statements_delete_only_the_orgs_old_rows(engine):
    engine.migrate()
    insert(engine, dataset("org-r"))
    insert(engine, dataset("org-keep"))
    engine.run("SET mutations_sync = 1")
    cutoff = T0 + 100 * 60_000
    engine.run(bind(without_cluster(query_file("retention_requests.sql")), "org-r", cutoff))
    engine.run(bind(without_cluster(query_file("retention_rollup.sql")), "org-r",
                    cutoff // HOUR_MS * HOUR_MS))
    _, out = engine.fetch(bind(query_file("count_by_org.sql"), "org-r"))
    assert int(out[0][0]) == sum(1 for r in dataset("org-r") if r["ts_ms"] >= cutoff)
    _, out = engine.fetch(bind(query_file("count_by_org.sql"), "org-keep"))
    assert int(out[0][0]) == 30
    _, out = engine.fetch(
        "SELECT toUInt32(min(hour)) FROM requests_hourly WHERE org_id = 'org-r'")
    assert int(out[0][0]) * 1000 == cutoff // HOUR_MS * HOUR_MS
