"""Benchmark: the ingest write path vs a raw binary COPY of the same rows into the same table.

Starts its own PostgreSQL cluster (default durability settings) in a temporary directory, creates
TOKENS outcome tokens, then for PASSES passes builds a fresh book for every token (every book
changes, 10 levels a side) and times `store_snapshot` — the code `mpx ingest` runs: token → market
lookup, latest-digest lookup, change detection, COPY, pass record, commit. The same rows are then
dumped with `COPY tick TO STDOUT (FORMAT BINARY)`, the table truncated, and each pass's bytes
COPYed back in (one transaction per pass, like ingest): the raw limit.

    python bench/ingest_write.py [--tokens 10000] [--passes 100] [--depth 10]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import migrate
from mpx.adapters.db.cluster import LocalCluster
from mpx.adapters.metrics import JobMetrics
from mpx.domain.models import (
    Book,
    Event,
    Level,
    Market,
    Outcome,
    Snapshot,
)
from mpx.jobs.contract import Context
from mpx.jobs.ingest import store_snapshot
from mpx.settings import load_settings

CENT = Decimal("0.001")


def make_markets(tokens: int) -> list[Market]:
    out = []
    for i in range(tokens // 2):
        mid = f"0x{i:064x}"
        out.append(Market(id=mid, question=f"Bench market {i}?", outcomes=(
            Outcome(f"{10**76 + 2 * i}", mid, "Yes", 0), Outcome(f"{10**76 + 2 * i + 1}", mid, "No", 1)),
            tick_size=CENT))
    return out


def make_books(token_ids: list[str], rng: random.Random, depth: int) -> list[Book]:
    books = []
    for token in token_ids:
        mid = rng.randint(50, 950)
        bids = tuple(Level(Decimal(mid - 1 - k) * CENT, Decimal(rng.randint(10, 5000))) for k in range(depth))
        asks = tuple(Level(Decimal(mid + 1 + k) * CENT, Decimal(rng.randint(10, 5000))) for k in range(depth))
        books.append(Book(token, bids, asks, None, Decimal(mid) * CENT))
    return books


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=100)
    ap.add_argument("--depth", type=int, default=10)
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="mpx-bench-pg-"))
    base.chmod(0o755)
    cluster = LocalCluster(base / "data")
    cluster.start()
    try:
        cluster.ensure_database("bench")
        url = cluster.conninfo("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            migrate.migrate(conn, migrate.discover(Path(__file__).resolve().parents[1] / "sql"))
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.depth)
        markets = make_markets(args.tokens)
        token_ids = [o.token_id for m in markets for o in m.outcomes]
        rng = random.Random(7)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)

        with psycopg.connect(url) as conn:
            db_markets.upsert_metadata(conn, [Event("bench", "Bench")], markets)
            conn.commit()
            ctx = Context(settings, conn, JobMetrics("bench"))
            write_s = 0.0
            build_s = 0.0
            rows = 0
            for p in range(args.passes):
                b0 = time.perf_counter()
                books = make_books(token_ids, rng, args.depth)
                snap = Snapshot(ts=t0 + timedelta(seconds=10 * p), books=books)
                w0 = time.perf_counter()
                res = store_snapshot(ctx, "bench", snap)
                conn.commit()
                write_s += time.perf_counter() - w0
                build_s += w0 - b0
                rows += res.rows
                if (p + 1) % max(1, args.passes // 10) == 0:
                    print(f"  write path: pass {p + 1}/{args.passes}, {rows:,} rows", file=sys.stderr)

            # dump the same rows per pass (untimed), then time a raw binary COPY of them
            blobs: list[bytes] = []
            with conn.cursor() as cur:
                for (ts,) in conn.execute("SELECT DISTINCT ts FROM tick ORDER BY ts").fetchall():
                    buf = bytearray()
                    with cur.copy("COPY (SELECT * FROM tick WHERE ts = %s ORDER BY token_id) TO STDOUT (FORMAT BINARY)",
                                  (ts,)) as cp:
                        for chunk in cp:
                            buf += chunk
                    blobs.append(bytes(buf))
            conn.execute("TRUNCATE tick")
            conn.commit()
            raw_s = 0.0
            with conn.cursor() as cur:
                for blob in blobs:
                    r0 = time.perf_counter()
                    with cur.copy("COPY tick FROM STDIN (FORMAT BINARY)") as cp:
                        cp.write(blob)
                    conn.commit()
                    raw_s += time.perf_counter() - r0
            raw_rows = conn.execute("SELECT count(*) FROM tick").fetchone()[0]  # type: ignore[index]
        mb = sum(len(b) for b in blobs) / 1e6
        print(f"PostgreSQL {version}; {args.tokens:,} tokens x {args.passes} passes, depth {args.depth}")
        print(f"write path : {rows:,} rows in {write_s:.2f} s = {rows / write_s:,.0f} rows/s "
              f"(building the books, not timed: {build_s:.1f} s)")
        print(f"raw COPY   : {raw_rows:,} rows in {raw_s:.2f} s = {raw_rows / raw_s:,.0f} rows/s ({mb:,.0f} MB binary)")
        print(f"ratio      : write path reaches {raw_s / write_s:.2f} of raw COPY throughput (goal >= 0.5)")
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
