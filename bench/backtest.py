"""Benchmark: `mpx backtest --speed 0` over a window of stored ticks, against the raw read limit —
`COPY (the same SELECT) TO STDOUT` of the same rows in the same run.

Starts its own PostgreSQL cluster in a temporary directory and stores the universe of
bench/evaluate_rules.py (MARKETS markets, 2 tokens each, every book changing every pass, 10 levels a
side) for PASSES passes with the ingest write path (not timed). Then times, in this order: the raw
COPY of the window, and `run_backtest` — the code `mpx backtest` runs — for the rule RULE.

    python bench/backtest.py [--markets 10000] [--passes 500] [--rule SUM_LT_1]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evaluate_rules import books, universe, walk  # noqa: E402

from mpx.adapters.db import markets as db_markets  # noqa: E402
from mpx.adapters.db import migrate, replay  # noqa: E402
from mpx.adapters.db.cluster import LocalCluster  # noqa: E402
from mpx.adapters.metrics import JobMetrics  # noqa: E402
from mpx.domain.models import Snapshot  # noqa: E402
from mpx.jobs.backtest import run_backtest, select_rules  # noqa: E402
from mpx.jobs.contract import Context  # noqa: E402
from mpx.jobs.ingest import store_snapshot  # noqa: E402
from mpx.settings import load_settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=500)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--rule", default="SUM_LT_1")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mpx-bench-pg-"))
    base.chmod(0o755)
    cluster = LocalCluster(base / "data")
    cluster.start()
    try:
        cluster.ensure_database("bench")
        url = cluster.conninfo("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            migrate.migrate(conn, migrate.discover(ROOT / "sql"))
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.depth,
                                 mpx_rules_dir=ROOT / "rules", mpx_synonyms_file=ROOT / "synonyms.yml",
                                 mpx_max_book_age="1h")
        rng = random.Random(11)
        events, markets, mids = universe(args.markets, rng)
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        with psycopg.connect(url) as conn:
            db_markets.upsert_metadata(conn, events, markets)
            conn.commit()
            ctx = Context(settings, conn, JobMetrics("bench"))
            w0 = time.perf_counter()
            rows = 0
            by_id = {m.id: m for m in markets}
            for p in range(args.passes):
                walk(events, by_id, mids, rng)
                snap = Snapshot(ts=t0 + timedelta(seconds=10 * (p + 1)), books=books(markets, mids, rng, args.depth))
                rows += store_snapshot(ctx, "bench", snap).rows
                conn.commit()
                if (p + 1) % 50 == 0:
                    print(f"  stored pass {p + 1}/{args.passes} ({rows:,} ticks, {time.perf_counter() - w0:.0f} s)",
                          file=sys.stderr)
            end = t0 + timedelta(seconds=10 * args.passes)
            raw_s, raw_rows, raw_bytes = replay.raw_copy_seconds(conn, t0, end)
            rules = select_rules(settings, args.rule)
            bctx = Context(settings, conn, JobMetrics("backtest"))
            b0 = time.perf_counter()
            res = run_backtest(bctx, rules, t0, end)
            total = time.perf_counter() - b0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"universe: {len(markets):,} markets, {2 * len(markets):,} tokens; {rows:,} ticks over {args.passes} "
              f"passes stored in {time.perf_counter() - w0 - total - raw_s:.0f} s (not timed)")
        print(f"raw     : COPY (SELECT …) TO STDOUT of the window: {raw_rows:,} rows, {raw_bytes / 1e6:,.0f} MB in "
              f"{raw_s:.2f} s = {raw_rows / raw_s:,.0f} rows/s")
        print(f"backtest: {args.rule} over {res.ticks:,} ticks, {res.steps} passes: {total:.2f} s = read "
              f"{res.read_s:.2f} s + rules {res.rules_s:.2f} s; {len(res.hits)} hit(s)")
        print(f"          {res.ticks / total:,.0f} ticks/s overall; {res.ticks / res.rules_s:,.0f} ticks/s through "
              f"the rules; total / raw read = {total / raw_s:.2f} (goal <= 2); peak RSS {peak / 1e6:,.0f} MB")
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
