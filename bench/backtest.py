"""Benchmark: `mpx backtest --speed 0` over a window of stored ticks, against the raw read limit —
`COPY (the same SELECT) TO STDOUT` of the same rows in the same run.

Starts its own PostgreSQL cluster in a temporary directory, stores the markets of
bench/evaluate_rules.py (MARKETS markets, 2 tokens each: binary markets, negRisk events of 5,
ladders) and PASSES passes in which every book changes (10 levels a side), generated in SQL (not
timed). Then times, in this order: the raw
COPY of the window, and `run_backtest` — the code `mpx backtest` runs — for the rule RULE.

    python bench/backtest.py [--markets 10000] [--passes 500] [--rule SUM_LT_1]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evaluate_rules import universe  # noqa: E402
from scratch_db import scratch_database  # noqa: E402

from mpx.adapters.db import markets as db_markets  # noqa: E402
from mpx.adapters.db import replay  # noqa: E402
from mpx.adapters.metrics import JobMetrics  # noqa: E402
from mpx.jobs.backtest import run_backtest, select_rules  # noqa: E402
from mpx.jobs.contract import Context  # noqa: E402
from mpx.settings import load_settings  # noqa: E402

FILL_SQL = """
INSERT INTO tick (ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz, book_digest)
SELECT %(ts)s, o.token_id, o.market_id, NULL, lv.bid_px, bs.sz, lv.ask_px, az.sz, 0
FROM (SELECT o.token_id, o.market_id, o.idx,
             greatest(3, least(97, s.mid + abs(hashtext(o.market_id || ':' || %(p)s)) %% 3 - 1)) AS ym,
             abs(hashtext(o.token_id || ':' || %(p)s)) AS h
      FROM outcome o JOIN bench_mid s ON s.market_id = o.market_id) o
JOIN bench_levels lv ON lv.m = CASE WHEN o.idx = 0 THEN o.ym ELSE 100 - o.ym END
JOIN bench_sizes bs ON bs.j = o.h %% 100
JOIN bench_sizes az ON az.j = (o.h / 100) %% 100
"""


def fill(conn: psycopg.Connection, t0: datetime, passes: int, depth: int, mids: dict[str, int]) -> int:
    """PASSES passes in which every book changes: each market's YES mid jitters a tick around its
    starting mid from bench/evaluate_rules.py (a negRisk event's YES mids start summing to about
    1.04, as real events do), its NO book the mirror, DEPTH levels a side one tick apart, sizes
    20–2000 varying by pass; one INSERT per pass (so a pass's ticks sit together on disk, as ingest
    writes them) and its ingest_pass."""
    conn.execute("CREATE TEMP TABLE bench_mid (market_id text PRIMARY KEY, mid int)")
    with conn.cursor() as cur, cur.copy("COPY bench_mid FROM STDIN") as copy:
        for market_id, mid in mids.items():
            copy.write_row((market_id, mid))
    conn.execute(f"""CREATE TEMP TABLE bench_levels AS
        SELECT m, ARRAY(SELECT round((m - 1 - k)::numeric / 100, 2) FROM generate_series(0, {depth - 1}) k
                        WHERE m - 1 - k > 0) AS bid_px,
                  ARRAY(SELECT round((m + 1 + k)::numeric / 100, 2) FROM generate_series(0, {depth - 1}) k
                        WHERE m + 1 + k < 100) AS ask_px
        FROM generate_series(1, 99) m""")
    conn.execute(f"""CREATE TEMP TABLE bench_sizes AS
        SELECT j, ARRAY(SELECT (20 + (j * 7919 + k * 104729) % 1981)::numeric
                        FROM generate_series(0, {depth - 1}) k) AS sz FROM generate_series(0, 99) j""")
    rows = 0
    for p in range(1, passes + 1):
        ts = t0 + timedelta(seconds=10 * p)
        rows += conn.execute(FILL_SQL, {"ts": ts, "p": p}).rowcount
        conn.execute("INSERT INTO ingest_pass (ts, source, books, written, missing) VALUES (%s, 'bench', 0, 0, '{}')",
                     (ts,))
        conn.commit()
        if p % 50 == 0:
            print(f"  stored pass {p}/{passes} ({rows:,} ticks)", file=sys.stderr)
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE tick")  # what autovacuum does after a bulk load: BRIN summaries, statistics
    conn.autocommit = False
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=500)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--rule", default="SUM_LT_1")
    args = ap.parse_args()
    with scratch_database() as url:
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.depth,
                                 mpx_rules_dir=ROOT / "rules", mpx_synonyms_file=ROOT / "synonyms.yml",
                                 mpx_max_book_age="1h")
        rng = random.Random(11)
        events, markets, mids = universe(args.markets, rng)
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        with psycopg.connect(url) as conn:
            db_markets.upsert_metadata(conn, events, markets)
            conn.commit()
            w0 = time.perf_counter()
            rows = fill(conn, t0, args.passes, args.depth,
                        {m.id: mids[m.yes.token_id] for m in markets})
            store_s = time.perf_counter() - w0
            end = t0 + timedelta(seconds=10 * args.passes)
            raw_s, raw_rows, raw_bytes = replay.raw_copy_seconds(conn, t0, end)
            rules = select_rules(settings, args.rule)
            bctx = Context(settings, conn, JobMetrics("backtest"))
            b0 = time.perf_counter()
            res = run_backtest(bctx, rules, t0, end)
            total = time.perf_counter() - b0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"universe: {len(markets):,} markets, {2 * len(markets):,} tokens; {rows:,} ticks over {args.passes} "
              f"passes stored in {store_s:.0f} s (not timed)")
        print(f"raw     : COPY (SELECT …) TO STDOUT of the window: {raw_rows:,} rows, {raw_bytes / 1e6:,.0f} MB in "
              f"{raw_s:.2f} s = {raw_rows / raw_s:,.0f} rows/s")
        print(f"backtest: {args.rule} over {res.ticks:,} ticks, {res.steps} passes: {total:.2f} s = read "
              f"{res.read_s:.2f} s + rules {res.rules_s:.2f} s; {len(res.hits)} hit(s)")
        print(f"          {res.ticks / total:,.0f} ticks/s overall; {res.ticks / res.rules_s:,.0f} ticks/s through "
              f"the rules; total / raw read = {total / raw_s:.2f} (goal <= 2); peak RSS {peak / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
