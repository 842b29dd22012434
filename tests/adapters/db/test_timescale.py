"""What TimescaleDB adds, tested on its lane against plain PostgreSQL on the same ticks.

The history: the mock source (seed 42) on a clock the test holds, ingest → evaluate three times
10 s apart, three days ago; on TimescaleDB that day's chunk is then compressed; one more pass goes
*into* the compressed chunk; then three passes two days later, in a chunk left uncompressed. The
same passes are stored in a plain PostgreSQL database. Evaluate (whose later passes start from
books read out of the compressed chunk), backtest and kpi must give exactly what plain PostgreSQL
gives; ``tick_1m`` must equal the rollup computed in plain SQL; and a retention drop must leave the
``mpx metrics`` totals where they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

from mpx.adapters.db import timescale
from mpx.adapters.db.cluster import TESTED_TIMESCALEDB, LocalCluster
from mpx.adapters.sources import SOURCES, Registration
from mpx.adapters.sources.mock import MockSource

from conftest import TestDb, _drop, new_database
from helpers import CliResult, invoke_mpx

_midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
T0 = _midnight - timedelta(days=3) + timedelta(minutes=10)
"""The first pass: three days ago, ten minutes past midnight (UTC), well inside one chunk."""
LATER = T0 + timedelta(days=2)
"""The passes in a chunk that stays uncompressed."""
WINDOW = ("--start", (T0 - timedelta(minutes=1)).isoformat(), "--end", (LATER + timedelta(hours=1)).isoformat())
KINDS = ("SUM_LT_1", "DUTCH_BOOK_DETECT", "CROSS_MARKET_MISPRICE", "SYNONYM_MISPRICE", "ENDGAME", "SPIKE",
         "TREND_BREAKOUT")


def mpx(*args: str) -> CliResult:
    return invoke_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING"})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The mock source, registered once more, on a clock the test sets."""
    c = Clock()
    monkeypatch.setitem(SOURCES, "mock", Registration(
        "polymarket", lambda settings, record_dir: MockSource(seed=settings.mpx_mock_seed, now=c)))
    return c


def _cycle() -> None:
    res = mpx("ingest")
    assert res.code == 0, res.stderr
    res = mpx("evaluate")
    assert res.code == 0, res.stderr


def _build(clock: Clock, compress: Callable[[], None] | None) -> None:
    for i in range(3):
        clock.now = T0 + timedelta(seconds=10 * i)
        _cycle()
    if compress:
        compress()
    clock.now = T0 + timedelta(seconds=30)  # into the compressed chunk
    _cycle()
    for i in range(3):
        clock.now = LATER + timedelta(seconds=10 * i)
        _cycle()


def _compress_old_chunks() -> None:
    import os

    with psycopg.connect(os.environ["MPX_DATABASE_URL"], autocommit=True) as conn:
        assert timescale.compress_all(conn, older_than=T0 + timedelta(days=1)) >= 1


@pytest.fixture
def history(db: TestDb, pg_cluster: LocalCluster, clock: Clock) -> Iterator[tuple[TestDb, TestDb]]:
    """(TimescaleDB with T0's chunk compressed, plain PostgreSQL): the same passes, built once."""
    plain = new_database(pg_cluster)
    db.load("clocked history, old chunk compressed", lambda: _build(clock, _compress_old_chunks))
    plain.load("clocked history", lambda: _build(clock, None))
    yield db, plain
    _drop(pg_cluster, plain.name)


def _rows(db: TestDb, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _using(db: TestDb, *args: str) -> CliResult:
    return invoke_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING", "MPX_DATABASE_URL": db.url})


def _metrics(db: TestDb) -> dict[str, float]:
    res = _using(db, "metrics")
    assert res.code == 0, res.stderr
    return {f"{s.name}{sorted(s.labels.items()) or ''}": s.value
            for fam in text_string_to_metric_families(res.stdout) for s in fam.samples}


def test_hypertable_and_policies_after_migrate_and_in_db_status(db: TestDb) -> None:
    with db.connect() as conn:
        ht = timescale.hypertable(conn)
        kinds = {p.kind: p for p in timescale.policies(conn)}
        layout = conn.execute("SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
                              "FROM timescaledb_information.compression_settings WHERE hypertable_name = 'tick'"
                              ).fetchall()
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert version == (TESTED_TIMESCALEDB,)  # the release compose.yaml pins
    assert ht is not None and ht.chunks == 0
    assert set(kinds) == {"compression", "retention", "refresh"}
    assert kinds["compression"].config["compress_after"] == "7 days"
    assert kinds["retention"].config["drop_after"] == "180 days"
    assert kinds["refresh"].target == "tick_1m"
    # sql/013 (bench/timescale_compression.py): batches of consecutive ticks, no segment per token,
    # so a pass's time-range read touches a few batches instead of decompressing the whole chunk
    assert layout == [("ts", None, 1, False)]
    assert ht.chunk_interval == timedelta(hours=6)
    res = mpx("db", "status")
    assert res.code == 0, res.stderr
    for text in ("timescaledb", "active (2.", "tick: hypertable, 0 chunk(s)", "compress after 7 days",
                 "drop after 180 days", "tick_1m refreshed every 1m"):
        assert text in res.stdout, (text, res.stdout)


def test_ingest_writes_into_a_compressed_chunk(history: tuple[TestDb, TestDb]) -> None:
    ts_db, plain = history
    chunk = _rows(ts_db, """SELECT is_compressed FROM timescaledb_information.chunks
                            WHERE hypertable_name = 'tick' AND range_start <= %s AND range_end > %s""",
                  (T0 + timedelta(seconds=30), T0 + timedelta(seconds=30)))
    assert chunk == [(True,)]
    count = "SELECT count(*), count(DISTINCT token_id) FROM tick WHERE ts = %s"
    [(n, tokens)] = _rows(ts_db, count, (T0 + timedelta(seconds=30),))
    assert n > 0 and _rows(plain, count, (T0 + timedelta(seconds=30),)) == [(n, tokens)]
    every = "SELECT ts, token_id, market_id, bid_px, bid_sz, ask_px, ask_sz, book_digest FROM tick ORDER BY 1, 2"
    assert _rows(ts_db, every) == _rows(plain, every)
    with ts_db.connect() as conn:
        ht = timescale.hypertable(conn)
    assert ht is not None and ht.compressed_chunks == 1 and ht.chunks >= 2 and ht.ratio
    res = _using(ts_db, "db", "status")
    assert f"{ht.chunks} chunk(s)" in res.stdout and "1 compressed" in res.stdout, res.stdout


def test_evaluate_over_compressed_and_uncompressed_chunks_gives_the_plain_signals(
        history: tuple[TestDb, TestDb]) -> None:
    ts_db, plain = history
    sql = """SELECT ts, signature, rule_id, level, finding_class, estimated_edge_bps, executable_shares, message
             FROM signal ORDER BY ts, signature"""
    signals = _rows(ts_db, sql)
    assert signals == _rows(plain, sql)
    assert len(signals) >= 3
    # the passes after the compression were evaluated too, from books read out of the compressed chunk
    wm = "SELECT value #>> '{}' FROM job_state WHERE key = 'evaluate:watermark'"
    assert _rows(ts_db, wm) == _rows(plain, wm) == [((LATER + timedelta(seconds=20)).isoformat(),)]
    opps = ("SELECT rule_id, signature, opened_at, updated_at, closed_at, first_metric, last_metric FROM opportunity "
            "ORDER BY signature, opened_at")
    episodes = _rows(ts_db, opps)
    assert episodes == _rows(plain, opps) and episodes


def test_backtest_and_kpi_over_both_chunks_give_the_plain_hits(history: tuple[TestDb, TestDb]) -> None:
    ts_db, plain = history
    total = 0
    for kind in KINDS:
        got = _using(ts_db, "backtest", "--rule", kind, *WINDOW, "--pnl", "--format", "json")
        want = _using(plain, "backtest", "--rule", kind, *WINDOW, "--pnl", "--format", "json")
        assert got.code == want.code == 0, (kind, got.stderr, want.stderr)
        assert got.stdout == want.stdout, kind
        hits = _using(ts_db, "backtest", "--rule", kind, *WINDOW, "--format", "json")
        total += hits.stdout.count('"signature"')
    assert total > 0  # hits to compare, not two empty lists
    kpi = [_using(d, "kpi", "--days", "7", "--format", "json") for d in history]
    assert kpi[0].code == 0 and kpi[0].stdout == kpi[1].stdout and kpi[0].stdout.strip() not in ("", "[]")


def test_tick_1m_equals_the_rollup_in_plain_sql(history: tuple[TestDb, TestDb]) -> None:
    ts_db, plain = history
    with ts_db.connect(autocommit=True) as conn:
        conn.execute("CALL refresh_continuous_aggregate('tick_1m', NULL, NULL)")
    aggregate = _rows(ts_db, "SELECT bucket, token_id, market_id, open, high, low, close, ticks FROM tick_1m "
                             "ORDER BY 1, 2, 3")
    rollup = _rows(plain, """
        SELECT date_bin('1 minute', ts, timestamptz '2000-01-01 00:00:00+00'), token_id, market_id,
               (array_agg(price ORDER BY ts))[1], max(price), min(price), (array_agg(price ORDER BY ts DESC))[1],
               count(*)
        FROM tick GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    assert len(aggregate) > 100 and aggregate == rollup
    # three buckets: T0's minute (4 passes, one into the compressed chunk) and LATER's minute
    assert {r[0] for r in aggregate} == {T0, LATER}
    assert max(r[7] for r in aggregate) == 4


def test_a_retention_drop_leaves_the_metrics_totals_monotonic(history: tuple[TestDb, TestDb], clock: Clock) -> None:
    ts_db, _ = history
    before = _metrics(ts_db)
    ticks_before = before["mpx_ingest_ticks_total"]
    assert ticks_before == _rows(ts_db, "SELECT count(*) FROM tick")[0][0] > 0
    with ts_db.connect(autocommit=True) as conn:
        # the retention policy itself, told to keep two days (T0's chunk goes, LATER's stays), run now
        [(job, config)] = conn.execute("SELECT job_id, config FROM timescaledb_information.jobs "
                                       "WHERE proc_name = 'policy_retention' AND hypertable_name = 'tick'").fetchall()
        conn.execute("SELECT alter_job(%s, config => %s)", (job, Jsonb({**config, "drop_after": "2 days"})))
        conn.execute("CALL run_job(%s)", (job,))
        left = conn.execute("SELECT min(ts), count(*) FROM tick").fetchone()
    assert left is not None and left[0] >= LATER and left[1] < ticks_before  # T0's chunk is gone
    after = _metrics(ts_db)
    assert after == before  # every total, ticks included: nothing counted was un-counted
    clock.now = LATER + timedelta(minutes=5)
    res = _using(ts_db, "ingest")
    assert res.code == 0, res.stderr
    written = _rows(ts_db, "SELECT written FROM ingest_pass ORDER BY ts DESC LIMIT 1")[0][0]
    assert _metrics(ts_db)["mpx_ingest_ticks_total"] == ticks_before + written
