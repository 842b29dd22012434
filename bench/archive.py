"""Benchmark: `mpx archive` on a real day of mock data — bytes per tick in PostgreSQL against bytes
per tick in the archive's Parquet, and ticks per second archived.

Starts its own PostgreSQL cluster in a temporary directory, then runs PASSES ingest passes of the
mock universe (seed 42: 339 markets, 678 tokens, 6–8 levels a side, about 30% of markets changing
per frame) on a clock INTERVAL apart from a UTC midnight — 8,640 × 10 s is one day as the 10-second
timer writes it. Measures `tick` (heap, TOAST and indexes) and the raw `COPY TO` of the day, runs
`run_archive` — the code `mpx archive` runs — on the day, then reads the file back with DuckDB (all
columns, and the columns a backtest needs) and pandas. With ``--timescaledb`` the cluster preloads
TimescaleDB (``tick`` a hypertable of 6-hour chunks): the day is measured uncompressed, then its
chunks are compressed (as the 7-day policy would), measured again, and archived from compressed chunks.

    python bench/archive.py [--passes 8640] [--interval 10] [--timescaledb]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch_db import scratch_database  # noqa: E402

from mpx.adapters import archive as files  # noqa: E402
from mpx.adapters.db import archive as db_archive  # noqa: E402
from mpx.adapters.db import timescale  # noqa: E402
from mpx.adapters.sources.mock import MockSource  # noqa: E402
from mpx.jobs.archive import run_archive  # noqa: E402
from mpx.jobs.contract import Job, run_job  # noqa: E402
from mpx.jobs.ingest import lock_name, run_ingest  # noqa: E402
from mpx.log import setup_logging  # noqa: E402
from mpx.settings import load_settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", type=int, default=8640)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between passes")
    ap.add_argument("--timescaledb", action="store_true", help="tick as a hypertable; archive from compressed chunks")
    args = ap.parse_args()
    setup_logging("ERROR", "text")
    day = (datetime.now(UTC) - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    with scratch_database(args.timescaledb) as url, tempfile.TemporaryDirectory(prefix="mpx-bench-archive-") as tmp:
        os.environ.update(MPX_DATABASE_URL=url, MPX_ARCHIVE_DIR=tmp, MPX_LOG_LEVEL="WARNING")
        settings = load_settings(None)
        clock = [day]
        source = MockSource(seed=42, now=lambda: clock[0])
        t = time.perf_counter()
        for i in range(args.passes):
            clock[0] = day + timedelta(seconds=1 + i * args.interval)
            run_job(settings, Job.ingest, lambda ctx: run_ingest(ctx, source), lock=lock_name("polymarket"))
        ingest_s = time.perf_counter() - t
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE tick")
            rows = conn.execute("SELECT count(*) FROM tick").fetchone()[0]
            total, heap, toast, indexes = _sizes(conn, args.timescaledb)
            avg_row = conn.execute("SELECT avg(pg_column_size(t.*)) FROM tick t").fetchone()[0]
            lo, hi = db_archive.day_bounds(day.date())
            t = time.perf_counter()
            copied = 0
            with conn.cursor() as cur, cur.copy("COPY (SELECT ts, token_id, market_id, last_trade, bid_px, bid_sz, "
                                                "ask_px, ask_sz, book_digest FROM tick WHERE ts >= %s AND ts < %s) "
                                                "TO STDOUT", (lo, hi)) as copy:
                for data in copy:
                    copied += len(data)
            copy_s = time.perf_counter() - t
        print(f"mock universe, {args.passes:,} passes {args.interval:g} s apart from {day:%Y-%m-%d} 00:00 UTC "
              f"(ingest {ingest_s:.0f} s)")
        print(f"ticks: {rows:,}  ({rows / args.passes:.0f} per pass)")
        print(f"PostgreSQL tick: {total / rows:.0f} bytes/tick in all (heap {heap / rows:.0f}, TOAST "
              f"{toast / rows:.0f}, indexes {indexes / rows:.0f}; {total / 2**20:.1f} MiB); row data "
              f"{avg_row:.0f} bytes/tick (pg_column_size)")
        print(f"raw COPY TO STDOUT of the day: {copy_s:.2f} s, {rows / copy_s:,.0f} ticks/s, {copied / rows:.0f} "
              f"bytes/tick of text")
        if args.timescaledb:
            with psycopg.connect(url, autocommit=True) as conn:
                chunks = timescale.compress_all(conn, older_than=hi)
                compressed = _sizes(conn, True)[0]
            print(f"TimescaleDB, the day's {chunks} chunks compressed: {compressed / rows:.0f} bytes/tick in all "
                  f"({total / compressed:.1f}x smaller); the archive reads and deletes from compressed chunks")
        t = time.perf_counter()
        res = run_job(settings, Job.archive, lambda ctx: run_archive(ctx, now=hi + timedelta(days=2, hours=1)))
        archive_s = time.perf_counter() - t
        [report] = res.days
        size = report["bytes"]
        import pyarrow as pa

        print(f"mpx archive of the day: {archive_s:.2f} s, {report['rows'] / archive_s:,.0f} ticks/s "
              f"({report['kept_in_db']} latest ticks kept in PostgreSQL): write {report['write_s']} s (COPY out, "
              f"checksum, Parquet), verify {report['verify_s']} s (read back), delete {report['delete_s']} s; "
              f"Arrow memory peak {pa.default_memory_pool().max_memory() / 2**20:.0f} MiB, process RSS peak "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        print(f"Parquet: {size / report['rows']:.1f} bytes/tick ({size / 2**20:.1f} MiB, zstd "
              f"{files.ZSTD_LEVEL}, row groups of {files.ROW_GROUP_ROWS:,}); PostgreSQL/Parquet = "
              f"{total / size:.0f}x (all), {heap / size:.0f}x (heap only)"
              + (f", {compressed / size:.1f}x (compressed chunks)" if args.timescaledb else ""))
        path = files.day_file(tmp, day.date())
        for cols in (None, ["ts", "token_id", "market_id", "bid_px", "ask_px"]):
            t = time.perf_counter()
            n = sum(b.num_rows for b in files.scan(tmp, [day.date()], lo - timedelta(microseconds=1), hi,
                                                   columns=cols))
            s = time.perf_counter() - t
            print(f"DuckDB scan ({'all columns' if cols is None else ', '.join(cols)}): {s:.2f} s, "
                  f"{n / s:,.0f} ticks/s")
        import pandas as pd

        t = time.perf_counter()
        df = pd.read_parquet(path, dtype_backend="pyarrow")
        print(f"pandas.read_parquet(dtype_backend='pyarrow') of the day: {time.perf_counter() - t:.2f} s, "
              f"{len(df):,} rows")


def _sizes(conn: psycopg.Connection, hypertable: bool) -> tuple[int, int, int, int]:
    """(total, heap, TOAST, indexes) bytes of tick — of its chunks on TimescaleDB."""
    if hypertable:
        row = conn.execute("SELECT total_bytes, table_bytes, toast_bytes, index_bytes "
                           "FROM hypertable_detailed_size('tick')").fetchone()
    else:
        row = conn.execute("SELECT pg_total_relation_size('tick'), pg_relation_size('tick'), "
                           "coalesce(pg_total_relation_size(reltoastrelid), 0), pg_indexes_size('tick') "
                           "FROM pg_class WHERE oid = 'tick'::regclass").fetchone()
    assert row is not None
    return tuple(int(x or 0) for x in row)  # type: ignore[return-value]


if __name__ == "__main__":
    main()
