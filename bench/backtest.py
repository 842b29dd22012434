"""Benchmark: `mpx backtest --speed 0` from PostgreSQL and from the Parquet archive, each against its
raw read limit, in one process on the same rows.

Starts its own PostgreSQL cluster in a temporary directory, stores the markets of
bench/evaluate_rules.py (MARKETS markets, 2 tokens each: binary markets, negRisk events of 5,
ladders) and PASSES 10-second passes in which CHANGE % of the markets' books change (10 levels a
side; now and then a planted mispricing), generated in SQL (not timed). Then times, in this order:
PostgreSQL's raw `COPY (the same SELECT) TO STDOUT` of the window; `run_backtest` — the code
`mpx backtest` runs — from PostgreSQL for PG_RULE; `mpx archive` moving the window to Parquet;
DuckDB's raw scan of the archived window (every column into Arrow, nothing parsed); and
`run_backtest` from the archive for every kind. Prints ticks/s overall and through the rules, the
peak resident memory of each backtest, and the ratios (backtest / raw read of each store).

    python bench/backtest.py [--markets 10000] [--passes 2500] [--change 20] [--rules all] [--pg-rule SUM_LT_1]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
             greatest(3, least(96, s.mid + abs(hashtext(o.market_id || ':' || %(p)s)) %% 3 - 1)) AS ym,
             -- a planted mispricing now and then: the NO book 3 ticks under the YES book's mirror,
             -- so YES ask + NO ask = 0.99 (a SUM_LT_1 set; a jump for SPIKE and TREND_BREAKOUT)
             CASE WHEN abs(hashtext(o.market_id || ':plant:' || %(p)s)) %% %(plant)s = 0 THEN 3 ELSE 0 END AS dip,
             abs(hashtext(o.token_id || ':' || %(p)s)) AS h
      FROM outcome o JOIN bench_mid s ON s.market_id = o.market_id
      -- CHANGE %% of the markets change in a pass (both books of a market move together)
      WHERE abs(hashtext(o.market_id || ':c:' || %(p)s)) %% 100 < %(change)s) o
JOIN bench_levels lv ON lv.m = CASE WHEN o.idx = 0 THEN o.ym ELSE 100 - o.ym - o.dip END
JOIN bench_sizes bs ON bs.j = o.h %% 100
JOIN bench_sizes az ON az.j = (o.h / 100) %% 100
"""


def fill(conn: psycopg.Connection, t0: datetime, passes: int, depth: int, mids: dict[str, int],
         change: int = 100, plant: int = 2000) -> int:
    """PASSES passes in which CHANGE % of the markets' books change: each changed market's YES mid
    jitters a tick around its starting mid from bench/evaluate_rules.py (a negRisk event's YES mids
    start summing to about 1.04, as real events do), its NO book the mirror — one market-pass in
    PLANT a mispriced one —, DEPTH levels a side one tick apart, sizes 20–2000 varying by pass; one
    INSERT per pass (so a pass's ticks sit together on disk, as ingest writes them) and its
    ingest_pass."""
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
        rows += conn.execute(FILL_SQL, {"ts": ts, "p": p, "change": change, "plant": plant}).rowcount
        conn.execute("INSERT INTO ingest_pass (ts, source, books, written, missing) VALUES (%s, 'bench', 0, 0, '{}')",
                     (ts,))
        conn.commit()
        if p % 500 == 0:
            print(f"  stored pass {p}/{passes} ({rows:,} ticks)", file=sys.stderr)
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE tick")  # what autovacuum does after a bulk load: BRIN summaries, statistics
    conn.autocommit = False
    return rows


class PeakRss:
    """The process's resident memory sampled every 20 ms while a phase runs: its peak."""

    def __init__(self) -> None:
        self.peak = 0
        self.start = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _now() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._now())
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def archive_window(settings: Any, end: datetime) -> tuple[float, int]:
    """`mpx archive` with its clock at END + MPX_ARCHIVE_AFTER + 1 day: every day of the window
    moves to Parquet. Returns (seconds, rows archived)."""
    from mpx.jobs.archive import run_archive
    from mpx.jobs.contract import Job, run_job

    t = time.perf_counter()
    res = run_job(settings, Job.archive, lambda ctx: run_archive(ctx, now=end + settings.mpx_archive_after
                                                                   + timedelta(days=1)))
    return time.perf_counter() - t, res.rows


def raw_scan_seconds(archive_dir: Path, days: list[Any], start: datetime, end: datetime) -> tuple[float, int]:
    """The archive's raw limit: DuckDB scans the window's rows (every column) into Arrow batches,
    drained, nothing parsed."""
    from mpx.adapters.parquet_replay import ArchiveReader

    reader = ArchiveReader(archive_dir, days)
    t = time.perf_counter()
    rows = 0
    sql = (f"SELECT {replay.COLUMNS} FROM {reader._source()} WHERE ts > $1 AND ts <= $2")
    for batch in reader._sql(sql, [start, end]).to_arrow_reader(1 << 18):
        rows += batch.num_rows
    return time.perf_counter() - t, rows


def backtest(settings: Any, conn: psycopg.Connection, rule: str, start: datetime, end: datetime
             ) -> tuple[Any, float, tuple[int, int]]:
    rules = select_rules(settings, rule)
    gc.collect()
    with PeakRss() as rss:
        b0 = time.perf_counter()
        res = run_backtest(Context(settings, conn, JobMetrics("backtest")), rules, start, end)
        total = time.perf_counter() - b0
    return res, total, (rss.peak, rss.peak - rss.start)


def line(label: str, rule: str, res: Any, total: float, peak: tuple[int, int], raw_s: float) -> str:
    return (f"{label:8}: {rule:22} {res.ticks:>11,} ticks {total:7.2f} s = read {res.read_s:6.2f} + rules "
            f"{res.rules_s:6.2f}; {res.ticks / total:>10,.0f} ticks/s overall, {res.ticks / res.rules_s:>11,.0f} "
            f"through the rules; {len(res.hits):>5} hits; {total / raw_s:5.2f}× the raw read; peak RSS "
            f"{peak[0] / 1e6:,.0f} MB (+{peak[1] / 1e6:,.0f} MB during the backtest)")


KINDS = ["SUM_LT_1", "DUTCH_BOOK_DETECT", "SYNONYM_MISPRICE", "CROSS_MARKET_MISPRICE", "SPIKE", "TREND_BREAKOUT",
         "ENDGAME", "CROSS_VENUE"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=2_500)
    ap.add_argument("--change", type=int, default=20, help="%% of the markets whose books change in a pass")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--rules", default="all", help="comma list of kinds backtested from the archive (all: every kind)")
    ap.add_argument("--pg-rule", default="SUM_LT_1", help="the kind also backtested from PostgreSQL")
    args = ap.parse_args()
    kinds = KINDS if args.rules == "all" else args.rules.split(",")
    with scratch_database() as url, tempfile.TemporaryDirectory(prefix="mpx-bench-archive-") as archive_dir:
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.depth,
                                 mpx_rules_dir=ROOT / "rules", mpx_synonyms_file=ROOT / "synonyms.yml",
                                 mpx_max_book_age="1h", mpx_archive_dir=archive_dir)
        rng = random.Random(11)
        events, markets, mids = universe(args.markets, rng)
        t0 = datetime(2026, 11, 1, 20, tzinfo=UTC)  # the window crosses midnight: two archived days
        end = t0 + timedelta(seconds=10 * args.passes)
        with psycopg.connect(url) as conn:
            db_markets.upsert_metadata(conn, events, markets)
            conn.commit()
            w0 = time.perf_counter()
            rows = fill(conn, t0, args.passes, args.depth, {m.id: mids[m.yes.token_id] for m in markets},
                        change=args.change)
            store_s = time.perf_counter() - w0
            print(f"universe: {len(markets):,} markets, {2 * len(markets):,} tokens; {args.change} % of the markets "
                  f"change per pass; {rows:,} ticks over {args.passes} passes ({t0:%Y-%m-%d %H:%M} to "
                  f"{end:%Y-%m-%d %H:%M} UTC) stored in {store_s:.0f} s (not timed); {platform.processor() or ''} "
                  f"{os.cpu_count()} cores", flush=True)
            pg_raw_s, raw_rows, raw_bytes = replay.raw_copy_seconds(conn, t0, end)
            print(f"raw PG  : COPY (SELECT …) TO STDOUT of the window: {raw_rows:,} rows, {raw_bytes / 1e6:,.0f} MB "
                  f"in {pg_raw_s:.2f} s = {raw_rows / pg_raw_s:,.0f} rows/s", flush=True)
            pg = backtest(settings, conn, args.pg_rule, t0, end)
            print(line("from PG", args.pg_rule, *pg, pg_raw_s), flush=True)
            arch_s, archived = archive_window(settings, end)
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE tick")  # what autovacuum does after the archive's delete (not timed)
            conn.execute("CHECKPOINT")  # and the checkpoint after it: nothing writes while the reads are timed
            conn.autocommit = False
            os.sync()
            days = sorted(r[0] for r in conn.execute("SELECT day FROM tick_archive_day"))
            size = sum(p.stat().st_size for p in Path(archive_dir).rglob("*.parquet"))
            print(f"archive : mpx archive moved {archived:,} rows ({len(days)} days) to Parquet in {arch_s:.1f} s; "
                  f"{size / 1e6:,.0f} MB on disk ({size / max(archived, 1):.1f} bytes/row)", flush=True)
            scan_s, scan_rows = raw_scan_seconds(Path(archive_dir), days, t0, end)
            print(f"raw scan: DuckDB read_parquet of the window, every column into Arrow: {scan_rows:,} rows in "
                  f"{scan_s:.2f} s = {scan_rows / scan_s:,.0f} rows/s", flush=True)
            results = {}
            for kind in kinds:
                results[kind] = backtest(settings, conn, kind, t0, end)
                print(line("archive", kind, *results[kind], scan_s), flush=True)
        if args.pg_rule in results:
            same = [(h.ts, h.signal.signature) for h in pg[0].hits] == [
                (h.ts, h.signal.signature) for h in results[args.pg_rule][0].hits]
            a_total = results[args.pg_rule][1]
            print(f"ratios  : {args.pg_rule} from the archive {pg[1] / a_total:.1f}× faster than from PostgreSQL; "
                  f"archive backtest / raw scan = {a_total / scan_s:.2f} (goal ≤ 3); PG backtest / COPY = "
                  f"{pg[1] / pg_raw_s:.2f}; same hits from both: {same}")


if __name__ == "__main__":
    main()
