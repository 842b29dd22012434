"""`mpx archive` on TimescaleDB (its lane only): the old days' chunks compressed first, as the
compression policy would have done, then archived — the delete works on compressed chunks however
many tuples it has to decompress — and the readers' view (archive + PostgreSQL) equals the ticks
first stored; a retention policy shorter than MPX_ARCHIVE_AFTER + 2 days is refused (78)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from psycopg.types.json import Jsonb

from mpx.adapters import archive as files
from mpx.adapters.db import timescale
from mpx.adapters.sources import SOURCES, Registration
from mpx.adapters.sources.mock import MockSource

from conftest import TestDb
from helpers import CliResult, invoke_mpx

NOW = datetime.now(UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
OLD = [MIDNIGHT - timedelta(days=4) + timedelta(minutes=10), MIDNIGHT - timedelta(days=3) + timedelta(hours=20)]
DAYS = [t.date() for t in OLD]
COLUMNS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz, book_digest"


def mpx(*args: str) -> CliResult:
    return invoke_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING"})


@pytest.fixture
def history(db: TestDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TestDb]:
    clock = [OLD[0]]
    monkeypatch.setitem(SOURCES, "mock", Registration(
        "polymarket", lambda settings, record_dir: MockSource(seed=settings.mpx_mock_seed, now=lambda: clock[0])))

    def build() -> None:
        for start in (*OLD, NOW - timedelta(minutes=30)):
            for i in range(2):
                clock[0] = start + timedelta(seconds=1 + 10 * i)
                assert mpx("ingest").code == 0

    db.load("clocked history for the archive", build)
    monkeypatch.setenv("MPX_ARCHIVE_DIR", str(tmp_path / "archive"))
    yield db


def _row(r: Any) -> tuple[Any, ...]:
    ts, token, market, last, *levels, digest = r
    return (ts, token, market, None if last is None else Decimal(last),
            *(tuple(Decimal(x) for x in lv) for lv in levels), int(digest))


def _stored(db: TestDb, where: str = "true") -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return sorted(_row(r) for r in conn.execute(f"SELECT {COLUMNS} FROM tick WHERE {where}").fetchall())


def test_archive_deletes_from_compressed_chunks(history: TestDb, tmp_path: Path) -> None:
    before = _stored(history)
    cut = MIDNIGHT - timedelta(days=2)
    with history.connect(autocommit=True) as conn:
        assert timescale.compress_all(conn, older_than=cut) >= 2  # both old days' chunks
        # the limit TimescaleDB puts on DML decompressing tuples, far below a day: the archive lifts it
        conn.execute(f'ALTER DATABASE "{history.name}" '
                     "SET timescaledb.max_tuples_decompressed_per_dml_transaction = 10")
    res = mpx("archive", "--format", "json")
    assert res.code == 0, res.stderr
    with history.connect() as conn:
        days = dict(conn.execute("SELECT day, rows FROM tick_archive_day").fetchall())
        compressed = conn.execute("SELECT count(*) FROM timescaledb_information.chunks "
                                  "WHERE hypertable_name = 'tick' AND is_compressed").fetchone()
    assert sorted(days) == DAYS and compressed is not None and compressed[0] >= 2
    archived = sorted(_row(r.values()) for d in DAYS for r in pq.read_table(files.day_file(tmp_path / "archive", d))
                      .to_pylist())
    assert archived == [r for r in before if r[0] < cut]
    kept = _stored(history, f"ts < '{cut}'")  # each token's latest tick with none newer, nothing else
    assert len(kept) < 678 and len({r[1] for r in kept}) == len(kept)
    assert sorted(archived + _stored(history, f"ts >= '{cut}'")) == before
    assert mpx("archive").stdout.strip() == "nothing to archive"


def test_a_retention_policy_shorter_than_the_archive_needs_is_refused(history: TestDb) -> None:
    with history.connect(autocommit=True) as conn:
        [(job, config)] = conn.execute("SELECT job_id, config FROM timescaledb_information.jobs "
                                       "WHERE proc_name = 'policy_retention' AND hypertable_name = 'tick'").fetchall()
        conn.execute("SELECT alter_job(%s, config => %s)", (job, Jsonb({**config, "drop_after": "3 days"})))
    res = mpx("archive")
    assert res.code == 78 and "retention policy drops tick chunks after 3 days" in res.stderr, res.stderr
    assert history.scalar("SELECT count(*) FROM tick_archive_day") == 0
    with history.connect(autocommit=True) as conn:
        conn.execute("SELECT alter_job(%s, config => %s)", (job, Jsonb({**config, "drop_after": "4 days"})))
    assert mpx("archive").code == 0
