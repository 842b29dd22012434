"""`mpx archive` and `mpx export` (README "Tick archive") against a real PostgreSQL holding the mock
universe's passes on a clock the test holds: two old days (four and three days ago) and passes of the
last hour. The archive moves exactly the old days into verified Parquet files (each token's latest
tick staying in PostgreSQL as its current book), a re-run is a no-op, a crash between the rename and
the delete loses and duplicates nothing, stray and mismatched files are written again, two runs at
once are 75, and an export of the whole history — archive and PostgreSQL together — round-trips
through pandas to the rows first stored, decimals exact."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mpx.adapters import archive as files
from mpx.adapters.db import archive as db_archive
from mpx.adapters.db.connection import lock_key
from mpx.adapters.sources import SOURCES, Registration
from mpx.adapters.sources.mock import MockSource

from conftest import TestDb
from helpers import CliResult, invoke_mpx

NOW = datetime.now(UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
OLD = [MIDNIGHT - timedelta(days=4) + timedelta(minutes=10), MIDNIGHT - timedelta(days=3) + timedelta(hours=23,
                                                                                                     minutes=50)]
"""Passes four days ago just after midnight, and three days ago just before the next one."""
DAYS = [t.date() for t in OLD]
RECENT = NOW - timedelta(minutes=30)
COLUMNS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz, book_digest"


class Clock:
    def __init__(self) -> None:
        self.now = OLD[0]

    def __call__(self) -> datetime:
        return self.now


def mpx(*args: str, **env: str) -> CliResult:
    return invoke_mpx(*args, env={"MPX_LOG_LEVEL": "WARNING", **env})


def _build(clock: Clock) -> None:
    for start in (*OLD, RECENT):
        for i in range(2):
            clock.now = start + timedelta(seconds=1 + 10 * i)
            assert mpx("ingest").code == 0
            assert mpx("evaluate").code == 0


@pytest.fixture
def history(db: TestDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TestDb]:
    """The clocked mock history (built once, copied per test); MPX_ARCHIVE_DIR in the test's directory."""
    clock = Clock()
    monkeypatch.setitem(SOURCES, "mock", Registration(
        "polymarket", lambda settings, record_dir: MockSource(seed=settings.mpx_mock_seed, now=clock)))
    db.load("clocked history: two old days and the last hour", lambda: _build(clock))
    monkeypatch.setenv("MPX_ARCHIVE_DIR", str(tmp_path / "archive"))
    yield db


def _row(r: Any) -> tuple[Any, ...]:
    """A tick as comparable values (Decimal equality is numeric: 0.50 == 0.500000)."""
    ts, token, market, last, *levels, digest = r
    return (ts, token, market, None if last is None else Decimal(last),
            *(tuple(Decimal(x) for x in lv) for lv in levels), int(digest))


def stored(db: TestDb, where: str = "true") -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return sorted(_row(r) for r in conn.execute(f"SELECT {COLUMNS} FROM tick WHERE {where}").fetchall())


def in_files(root: Path, days: list[date]) -> list[tuple[Any, ...]]:
    rows = []
    for day in days:
        t = pq.read_table(files.day_file(root, day))
        rows += [_row(r.values()) for r in t.to_pylist()]
    return sorted(rows)


def manifest(db: TestDb) -> dict[date, tuple[Any, ...]]:
    with db.connect() as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT day, path, rows, checksum FROM tick_archive_day")}


def readers_view(db: TestDb, root: Path) -> list[tuple[Any, ...]]:
    """What a reader sees: archived days from their files, every other day from PostgreSQL."""
    days = sorted(manifest(db))
    not_archived = " AND ".join(f"(ts AT TIME ZONE 'UTC')::date <> '{d}'" for d in days) or "true"
    return sorted(in_files(root, days) + stored(db, not_archived))


def test_archive_moves_the_old_days_and_a_rerun_is_a_noop(history: TestDb, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    before = stored(history)
    res = mpx("archive", "--format", "json")
    assert res.code == 0, res.stderr
    assert manifest(history).keys() == set(DAYS)
    for day, (path, rows, checksum) in manifest(history).items():
        assert path == f"day={day}/part-0.parquet" and checksum.startswith("md5sum64:")
        assert pq.read_metadata(root / path).num_rows == rows > 0
        assert files.checksum_file(root / path) == files.Verified(rows, int(checksum.split(":")[1], 16))
    assert not files.stray_temp_files(root)
    # the old days are in the files, exactly; what stays of them in PostgreSQL is each token's latest tick
    old = stored(history, f"ts < '{MIDNIGHT - timedelta(days=2)}'")
    assert 0 < len(old) < 678 and {r[1] for r in old} == {r[1] for r in stored(history)} - {
        r[1] for r in stored(history, f"ts >= '{MIDNIGHT - timedelta(days=2)}'")}
    assert in_files(root, DAYS) == [r for r in before if r[0] < MIDNIGHT - timedelta(days=2)]
    assert readers_view(history, root) == before  # nothing lost, nothing twice
    # a file is sorted by (ts, token_id), Hive-partitioned, zstd, decimals as INT64
    meta = pq.ParquetFile(files.day_file(root, DAYS[0])).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.schema.column(3).physical_type == "INT64"
    t = pq.read_table(files.day_file(root, DAYS[0]))
    assert t.schema.remove_metadata().equals(files.TICK_SCHEMA)
    keys = list(zip(t["ts"].to_pylist(), t["token_id"].to_pylist(), strict=True))
    assert keys == sorted(keys)
    # nothing left to do: a no-op, exit 0
    again = mpx("archive")
    assert again.code == 0 and again.stdout.strip() == "nothing to archive", again.stdout + again.stderr
    assert readers_view(history, root) == before
    runs = history.scalar("SELECT count(*) FROM job_run WHERE job = 'archive' AND status = 'ok'")
    assert runs == 2


def test_the_reader_api_streams_one_history_in_ts_order(history: TestDb, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    assert mpx("archive").code == 0
    with history.connect() as conn:
        days = db_archive.archived_days(conn)
    assert [d.day for d in days] == DAYS
    start, end = MIDNIGHT - timedelta(days=5), NOW
    pieces = files.segments(days, start, end)
    assert [k for k, _, _ in pieces] == ["db", "archive", "db"]
    assert pieces[0][1] == start and pieces[-1][2] == end
    assert all(a[2] == b[1] for a, b in itertools.pairwise(pieces))  # contiguous
    batches = list(files.scan(root, days, start, end, batch_rows=100))
    assert all(b.num_rows <= 100 for b in batches) and len(batches) > 2
    ts = [t for b in batches for t in b.column("ts").to_pylist()]
    assert ts == sorted(ts) and len(ts) == sum(d.rows for d in days)
    one = list(files.scan(root, days, OLD[1], OLD[1] + timedelta(seconds=10), columns=["ts", "token_id"]))
    assert one[0].schema.names == ["ts", "token_id"]
    assert {t for b in one for t in b.column("ts").to_pylist()} == {OLD[1] + timedelta(seconds=1)}  # (start, end]
    as_of = OLD[1] + timedelta(seconds=5)
    latest = files.latest_per_token(root, days, as_of)
    want: dict[str, datetime] = {}
    for row in in_files(root, DAYS):
        if row[0] <= as_of:
            want[row[1]] = max(want.get(row[1], row[0]), row[0])
    assert len(want) == 678 and dict(zip(latest["token_id"].to_pylist(), latest["ts"].to_pylist(), strict=True)) == want
    os.remove(files.day_file(root, DAYS[0]))
    with pytest.raises(files.ArchiveError, match="has no file"):
        list(files.scan(root, days, start, end))


def test_a_crash_between_the_rename_and_the_delete_loses_and_duplicates_nothing(
        history: TestDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "archive"
    before = stored(history)

    def crash(*a: Any, **kw: Any) -> int:
        raise RuntimeError("power cut")

    delete_day = db_archive.delete_day
    monkeypatch.setattr(db_archive, "delete_day", crash)
    res = mpx("archive")
    assert res.code == 1 and "power cut" in res.stderr
    assert files.day_file(root, DAYS[0]).is_file() and not manifest(history)  # renamed, not committed
    assert stored(history) == before and readers_view(history, root) == before
    monkeypatch.setattr(db_archive, "delete_day", delete_day)
    res = mpx("archive", "--format", "json")
    assert res.code == 0, res.stderr
    assert "verified again" in res.stdout and manifest(history).keys() == set(DAYS)
    assert readers_view(history, root) == before
    file_rows = sum(r[1] for r in manifest(history).values())
    kept = len(stored(history, f"ts < '{MIDNIGHT - timedelta(days=2)}'"))
    assert len(stored(history)) + file_rows - kept == len(before)


def test_a_stray_temp_file_and_a_mismatched_file_are_written_again(history: TestDb, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    before = stored(history)
    files.temp_file(root, DAYS[0]).parent.mkdir(parents=True)
    files.temp_file(root, DAYS[0]).write_bytes(b"half a parquet file")  # a crash while writing
    res = mpx("archive")
    assert res.code == 0 and "removed" in res.stderr and "interrupted run" in res.stderr, res.stderr
    assert not files.stray_temp_files(root) and files.checksum_file(files.day_file(root, DAYS[0])) is not None
    good = files.day_file(root, DAYS[1]).read_bytes()
    # undo the second day's delete and manifest row, and leave a file that does not match PostgreSQL
    with history.connect() as conn:
        conn.execute("DELETE FROM tick_archive_day WHERE day = %s", (DAYS[1],))
        conn.execute("DELETE FROM tick WHERE (ts AT TIME ZONE 'UTC')::date = %s", (DAYS[1],))
        rows = [r for r in before if r[0].astimezone(UTC).date() == DAYS[1]]
        with conn.cursor().copy(f"COPY tick ({COLUMNS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([*r[:4], *(list(lv) for lv in r[4:8]), r[8]])
    assert stored(history, f"(ts AT TIME ZONE 'UTC')::date = '{DAYS[1]}'") == rows
    t = pq.read_table(files.day_file(root, DAYS[1]))
    pq.write_table(t.slice(1), files.day_file(root, DAYS[1]))  # one row short
    res = mpx("archive", "--format", "json")
    assert res.code == 0, res.stderr
    assert "written again" in res.stdout and "does not match" in res.stderr
    assert files.day_file(root, DAYS[1]).read_bytes() == good  # deterministic: the same file as before
    assert readers_view(history, root) == before


def test_two_archives_at_once_are_75(history: TestDb) -> None:
    with history.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("archive"),))
        res = mpx("archive")
    assert res.code == 75 and "another run holds the lock" in res.stderr


def test_export_round_trips_through_pandas(history: TestDb, tmp_path: Path) -> None:
    before = stored(history)
    assert mpx("archive").code == 0
    out = tmp_path / "ticks.parquet"
    res = mpx("export", "--what", "ticks", "--out", str(out))
    assert res.code == 0, res.stderr
    n_archived = sum(r[1] for r in manifest(history).values())
    assert f"exported {len(before):,} ticks ({n_archived:,} from the archive" in res.stdout
    df = pd.read_parquet(out)
    assert list(df.columns) == files.TICK_SCHEMA.names and df["ts"].is_monotonic_increasing
    rows = [_row((r.ts.to_pydatetime(), r.token_id, r.market_id, r.last_trade, r.bid_px, r.bid_sz, r.ask_px,
                  r.ask_sz, r.book_digest)) for r in df.itertuples()]
    assert sorted(rows) == before  # every tick once, from both places, decimals exact
    # a window inside one old day, as CSV
    csv = tmp_path / "ticks.csv"
    start, end = OLD[1], OLD[1] + timedelta(seconds=11)
    res = mpx("export", "--what", "ticks", "--format", "csv", "--start", start.isoformat(), "--end",
              end.isoformat(), "--out", str(csv))
    assert res.code == 0, res.stderr
    cdf = pd.read_csv(csv, dtype={"token_id": str, "market_id": str, "last_trade": str})
    want = [r for r in before if start < r[0] <= end]
    assert len(cdf) == len(want) > 0
    assert pd.to_datetime(cdf["ts"]).min().to_pydatetime() == OLD[1] + timedelta(seconds=1)
    first = sorted(want)[0]
    got = cdf.sort_values(["ts", "token_id"]).iloc[0]
    assert got["token_id"] == first[1] and Decimal(got["last_trade"]) == first[3]
    assert [Decimal(x) for x in got["ask_px"].strip("{}").split(",")] == list(first[6])
    # signals, opportunities, intents: whole rows, exact decimals
    for what, table, col in (("signals", "signal", "estimated_edge_bps"), ("opportunities", "opportunity",
                                                                          "max_metric")):
        path = tmp_path / f"{what}.parquet"
        assert mpx("export", "--what", what, "--out", str(path)).code == 0
        frame = pd.read_parquet(path)
        with history.connect() as conn:
            want_vals = sorted(v for (v,) in conn.execute(f"SELECT {col} FROM {table}") if v is not None)
        assert len(frame) == history.scalar(f"SELECT count(*) FROM {table}") > 0
        assert sorted(v for v in frame[col] if v is not None) == want_vals
        assert mpx("export", "--what", what, "--format", "csv", "--out", str(tmp_path / f"{what}.csv")).code == 0
        assert len(pd.read_csv(tmp_path / f"{what}.csv")) == len(frame)
    assert mpx("export", "--what", "intents", "--out", str(tmp_path / "intents.parquet")).code == 0
    assert pd.read_parquet(tmp_path / "intents.parquet").empty
    # an archived file truncated since it was verified: one clear error, no half-written export
    for f in (tmp_path / "archive").rglob("*.parquet"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    res = mpx("export", "--what", "ticks", "--out", str(tmp_path / "again.parquet"))
    assert res.code == 1 and "the tick archive cannot be read" in res.stderr, res.stderr
    assert not (tmp_path / "again.parquet").exists() and not list(tmp_path.glob("again.parquet*"))


def test_export_bad_arguments_exit_2(history: TestDb, tmp_path: Path) -> None:
    existing = tmp_path / "x.parquet"
    existing.write_text("keep me")
    for args, text in [
        (["--what", "ticks", "--out", str(existing)], "exists"),
        (["--what", "ticks", "--out", str(tmp_path / "y.parquet"), "--start", "yesterday-ish"], "neither a time"),
        (["--what", "ticks", "--out", str(tmp_path / "y.parquet"), "--start", "1h", "--end", "2h"], "must be before"),
        (["--what", "ticks", "--out", str(tmp_path / "nowhere" / "y.parquet")], "does not exist"),
        (["--what", "ticks", "--out", str(tmp_path)], "is a directory"),
        (["--what", "trades", "--out", str(tmp_path / "y.parquet")], ""),
        (["--what", "ticks", "--format", "xlsx", "--out", str(tmp_path / "y.parquet")], ""),
        (["--what", "ticks"], ""),
    ]:
        res = mpx("export", *args)
        assert res.code == 2, (args, res.stderr)
        assert text in res.stderr, (args, res.stderr)
    assert existing.read_text() == "keep me"
    res = mpx("export", "--what", "signals", "--out", str(existing), "--force")
    assert res.code == 0 and existing.read_bytes()[:4] == b"PAR1"
    assert not list(tmp_path.glob(".*.tmp"))
