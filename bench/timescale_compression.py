"""Benchmark: TimescaleDB compression of ``tick`` — how much smaller, and how fast the backtest reads
from compressed chunks compared with uncompressed ones, per compression layout.

Starts its own PostgreSQL cluster (TimescaleDB preloaded) in a temporary directory, applies the
migrations and stores a realistic hour (not timed): TOKENS tokens (TOKENS/2 markets of
bench/evaluate_rules.py, YES/NO books complementary), a first pass writing every book, then PASSES
passes 10 s apart in which a random CHANGING share of the tokens writes a tick: the market's top of
book moves a tick or the spread changes (a quarter of the changes), otherwise one to three level
sizes change; LEVELS levels a side on the 0.01 grid in [0.01, 0.99], sizes 5–5000 with 2 decimals.
The ticks are COPYed into a staging table once and copied into ``tick`` for each layout.

For each layout (segmentby / orderby / chunk interval) it reports: rows, size uncompressed
(hypertable_detailed_size), compressed (chunk_compression_stats) and the ratio, the time to
compress; and on uncompressed chunks, then on the same chunks compressed: the raw read limit
(``COPY (SELECT … ORDER BY ts) TO STDOUT`` of the hour), ``replay.stream`` over every pass (the
backtest's read path alone), ``ticks.books_as_of`` at mid-hour (where a backtest starting inside
a chunk gets its books) and ``run_backtest`` — the code ``mpx backtest`` runs — with RULE over the
hour. A read slower than --read-budget seconds stops early and its rate is reported as partial.

    python bench/timescale_compression.py [--tokens 10000] [--passes 360] [--changing 0.2] [--levels 10]
        [--compare | --layout 'SEGMENTBY;ORDERBY;INTERVAL' ...] [--rule SUM_LT_1] [--read-budget 60]
    python bench/timescale_compression.py --check-migrations 12

Without --compare/--layout it measures the layout the migrations give (what a migrated database
has); --compare measures LAYOUTS (segmentby token_id / market_id / none, orderby ts DESC / ts; 1-day
chunks: the stored hour is one chunk under any interval of an hour or more, so the interval shows
only through bytes per row — see sql/013). SEGMENTBY may be empty (no segmentby).
--check-migrations LAST applies the migrations after LAST to a fresh database and to one migrated
to LAST holding compressed chunks, and prints tick's compression settings, chunks and policies.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evaluate_rules import universe  # noqa: E402

from mpx.adapters.db import markets as db_markets  # noqa: E402
from mpx.adapters.db import migrate, replay, ticks, timescale  # noqa: E402
from mpx.adapters.db.cluster import LocalCluster, timescaledb_installed  # noqa: E402
from mpx.adapters.metrics import JobMetrics  # noqa: E402
from mpx.jobs.backtest import BacktestResult, run_backtest, select_rules  # noqa: E402
from mpx.jobs.contract import Context  # noqa: E402
from mpx.settings import Settings, load_settings  # noqa: E402

T0 = datetime(2027, 3, 1, tzinfo=UTC)
"""First pass (a chunk boundary for every interval measured; after now, so no policy would touch it
even if the jobs ran — they are paused anyway)."""

SRC_COLS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz, book_digest"


@dataclass(frozen=True)
class Layout:
    segmentby: str
    orderby: str
    interval: str

    @property
    def name(self) -> str:
        return f"seg={self.segmentby or '-'} ord={self.orderby} chunk={self.interval}"

    @classmethod
    def parse(cls, text: str) -> Layout:
        parts = [p.strip() for p in text.split(";")]
        if len(parts) != 3:
            raise argparse.ArgumentTypeError("a layout is 'SEGMENTBY;ORDERBY;INTERVAL', e.g. 'token_id;ts DESC;1 day'")
        return cls(*parts)


LAYOUTS = [
    Layout("token_id", "ts DESC", "1 day"),   # sql/002
    Layout("market_id", "ts DESC", "1 day"),
    Layout("", "ts DESC", "1 day"),
    Layout("", "ts", "1 day"),
]


# --------------------------------------------------------------------------- the data (not timed)

PRICE = [f"0.{i:02d}" for i in range(100)]


def _size(rng: random.Random) -> str:
    return f"{min(5000.0, max(5.0, rng.lognormvariate(5.3, 1.2))):.2f}"


@dataclass
class _Market:
    bid: int          # YES best bid, in ticks
    spread: int       # YES best ask - best bid, in ticks
    gaps: list[int]   # per level depth: extra ticks skipped before it (0 mostly)


@dataclass
class _Token:
    token_id: str
    market_id: str
    idx: int
    bid_sz: list[str] = field(default_factory=list)
    ask_sz: list[str] = field(default_factory=list)
    last: str = r"\N"
    top: tuple[int, int] = (0, 0)


def _levels(best: int, step: int, depth: int, gaps: list[int]) -> list[int]:
    out, p = [], best
    for k in range(depth):
        if k:
            p += step * (1 + gaps[k])
        if not 1 <= p <= 99:
            break
        out.append(p)
    return out


def _arr(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def generate(conn: psycopg.Connection, tokens: list[_Token], markets: dict[str, _Market], passes: int,
             changing: float, depth: int, rng: random.Random) -> int:
    """COPY the hour into the staging table ``bench_src`` (one row per changed book per pass)."""
    conn.execute("""CREATE UNLOGGED TABLE bench_src (ts timestamptz, token_id text, market_id text,
        last_trade numeric, bid_px numeric[], bid_sz numeric[], ask_px numeric[], ask_sz numeric[],
        book_digest bigint, pass int)""")
    rows = 0

    def tick(ts: str, t: _Token, p: int, buf: io.StringIO) -> None:
        m = markets[t.market_id]
        yb = min(m.bid, 99 - m.spread)
        ya = yb + m.spread
        bid, ask = (yb, ya) if t.idx == 0 else (100 - ya, 100 - yb)  # NO mirrors YES
        old_bid, old_ask = t.top
        if t.top != (0, 0) and (bid, ask) != t.top:   # the book moved: sizes follow their prices
            t.bid_sz = ([_size(rng)] * max(0, bid - old_bid) + t.bid_sz)[:depth] if bid >= old_bid else \
                t.bid_sz[old_bid - bid:] + [_size(rng) for _ in range(old_bid - bid)]
            t.ask_sz = ([_size(rng)] * max(0, old_ask - ask) + t.ask_sz)[:depth] if ask <= old_ask else \
                t.ask_sz[ask - old_ask:] + [_size(rng) for _ in range(ask - old_ask)]
            t.bid_sz = (t.bid_sz + [_size(rng) for _ in range(depth)])[:depth]
            t.ask_sz = (t.ask_sz + [_size(rng) for _ in range(depth)])[:depth]
        t.top = (bid, ask)
        bpx = _levels(bid, -1, depth, m.gaps)
        apx = _levels(ask, 1, depth, m.gaps[::-1])
        if rng.random() < 0.1:
            t.last = PRICE[bid if rng.random() < 0.5 else ask]
        bsz, asz = t.bid_sz[:len(bpx)], t.ask_sz[:len(apx)]
        line = "\t".join((ts, t.token_id, t.market_id, t.last, _arr([PRICE[x] for x in bpx]), _arr(bsz),
                          _arr([PRICE[x] for x in apx]), _arr(asz)))
        buf.write(f"{line}\t{hash(line)}\t{p}\n")

    with conn.cursor() as cur, cur.copy(f"COPY bench_src ({SRC_COLS}, pass) FROM STDIN") as copy:
        for p in range(passes + 1):
            ts = (T0 + timedelta(seconds=10 * p)).isoformat()
            buf = io.StringIO()
            if p == 0:
                chosen = tokens
                for t in tokens:
                    t.bid_sz = [_size(rng) for _ in range(depth)]
                    t.ask_sz = [_size(rng) for _ in range(depth)]
            else:
                chosen = rng.sample(tokens, round(len(tokens) * changing))
                for t in chosen:
                    m = markets[t.market_id]
                    r = rng.random()
                    if r < 0.18:    # the market's top moves a tick (both tokens' books, mirrored)
                        m.bid = min(97, max(1, m.bid + rng.choice((-1, 1))))
                    elif r < 0.25:  # the spread opens or closes a tick
                        m.spread = min(3, max(1, m.spread + rng.choice((-1, 1))))
                    else:           # one to three sizes change, mostly at the top
                        sizes = t.bid_sz if rng.random() < 0.5 else t.ask_sz
                        for _ in range(rng.choice((1, 1, 2, 3))):
                            k = min(depth - 1, int(rng.expovariate(0.6)))
                            sizes[k] = _size(rng)
            chosen.sort(key=lambda t: t.token_id)
            for t in chosen:
                tick(ts, t, p, buf)
            rows += len(chosen)
            copy.write(buf.getvalue())
            if p % 60 == 0:
                print(f"  generated pass {p}/{passes} ({rows:,} ticks)", file=sys.stderr)
    conn.execute("INSERT INTO ingest_pass (ts, source, books, written, missing) "
                 "SELECT ts, 'bench', %s, count(*), '{}' FROM bench_src GROUP BY ts", (len(tokens),))
    conn.commit()
    return rows


# --------------------------------------------------------------------------- measuring

@dataclass
class Reads:
    raw_s: float = 0.0
    raw_rows: int = 0
    raw_mb: float = 0.0
    stream_s: float = 0.0
    stream_ticks: int = 0
    stream_steps: int = 0
    stream_partial: bool = False
    books_s: float = 0.0
    books: int = 0
    bt_s: float = 0.0
    bt_ticks: int = 0
    bt_steps: int = 0
    bt_read_s: float = 0.0


@dataclass
class Result:
    layout: Layout
    rows: int = 0
    chunks: int = 0
    size_before: int = 0
    size_after: int = 0
    stats_before: int = 0
    stats_after: int = 0
    compress_s: float = 0.0
    batches: int = 0
    sparse: str = ""
    plain: Reads = field(default_factory=Reads)
    packed: Reads = field(default_factory=Reads)


def _one(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    row = conn.execute(sql, params or None).fetchone()
    return row[0] if row else None


def table_bytes(conn: psycopg.Connection) -> int:
    return int(_one(conn, "SELECT total_bytes FROM hypertable_detailed_size('tick')") or 0)


def measure_reads(conn: psycopg.Connection, settings: Settings, rule: str, passes: int, budget: float) -> Reads:
    r = Reads()
    start, end = T0 - timedelta(seconds=10), T0 + timedelta(seconds=10 * passes)
    replay.raw_copy_seconds(conn, start, end)  # warm the cache: every read below finds it as warm
    r.raw_s, r.raw_rows, nbytes = replay.raw_copy_seconds(conn, start, end)
    r.raw_mb = nbytes / 1e6
    steps = [s for s, _, _ in replay.passes(conn, start, end)]
    t = time.perf_counter()
    it = cast(Generator[tuple[datetime, replay.PassTicks], None, None], replay.stream(conn, steps, start))
    try:
        for _, pt in it:
            r.stream_ticks += len(pt.tokens)
            r.stream_steps += 1
            if time.perf_counter() - t > budget and r.stream_steps < len(steps):
                r.stream_partial = True
                break
    finally:
        it.close()
    r.stream_s = time.perf_counter() - t
    mid = T0 + timedelta(seconds=10 * (passes // 2))
    t = time.perf_counter()
    r.books = len(ticks.books_as_of(conn, mid))
    r.books_s = time.perf_counter() - t
    # the backtest from the first pass (its books come from the chunk) over as many passes as the
    # stream read within the budget
    bt_end = steps[r.stream_steps - 1] if r.stream_steps else end
    rules = select_rules(settings, rule)
    ctx: Context[BacktestResult] = Context(settings, conn, JobMetrics("backtest"))
    t = time.perf_counter()
    res = run_backtest(ctx, rules, T0, bt_end)
    r.bt_s = time.perf_counter() - t
    r.bt_ticks, r.bt_steps, r.bt_read_s = res.ticks, res.steps, res.read_s
    conn.rollback()
    return r


def apply_layout(conn: psycopg.Connection, lay: Layout) -> None:
    """Empty ``tick`` and give it LAYOUT, then copy the staged hour in, pass by pass in time order
    (as ingest writes it). Not timed."""
    conn.autocommit = True
    timescale.decompress_all(conn)
    conn.execute("TRUNCATE tick")
    conn.execute("SELECT set_chunk_time_interval('tick', %s::interval)", (lay.interval,))
    conn.execute(f"ALTER TABLE tick SET (timescaledb.compress_segmentby = '{lay.segmentby}', "
                 f"timescaledb.compress_orderby = '{lay.orderby}')")
    passes = [r[0] for r in conn.execute("SELECT DISTINCT pass FROM bench_src ORDER BY 1")]
    for i in range(0, len(passes), 30):
        conn.execute(f"INSERT INTO tick ({SRC_COLS}) SELECT {SRC_COLS} FROM bench_src "
                     "WHERE pass >= %s AND pass < %s ORDER BY pass, token_id", (passes[i], passes[i] + 30))
    conn.execute("VACUUM ANALYZE tick")  # what autovacuum does after a bulk load
    conn.autocommit = False


def run_layout(conn: psycopg.Connection, settings: Settings, lay: Layout, args: argparse.Namespace,
               prepared: bool) -> Result:
    print(f"layout {lay.name}", file=sys.stderr)
    if not prepared:
        apply_layout(conn, lay)
    res = Result(lay)
    res.rows = int(_one(conn, "SELECT count(*) FROM tick"))
    res.chunks = int(_one(conn, "SELECT count(*) FROM show_chunks('tick')"))
    res.size_before = table_bytes(conn)
    conn.commit()
    res.plain = measure_reads(conn, settings, args.rule, args.passes, args.read_budget)
    conn.autocommit = True
    t = time.perf_counter()
    timescale.compress_all(conn)
    res.compress_s = time.perf_counter() - t
    conn.execute("ANALYZE tick")
    ht = timescale.hypertable(conn)
    res.stats_before, res.stats_after = (ht.bytes_before or 0, ht.bytes_after or 0) if ht else (0, 0)
    res.size_after = table_bytes(conn)
    chunk = _one(conn, """SELECT format('%I.%I', c.schema_name, c.table_name) FROM _timescaledb_catalog.chunk c
        JOIN _timescaledb_catalog.chunk p ON p.compressed_chunk_id = c.id LIMIT 1""")
    if chunk:
        res.batches = int(_one(conn, f"SELECT count(*) FROM {chunk}"))
        res.sparse = ",".join(r[0].removeprefix("_ts_meta_") for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attname LIKE '_ts_meta%%' "
            "AND attnum > 0 ORDER BY attnum", (chunk,)))
    conn.autocommit = False
    res.packed = measure_reads(conn, settings, args.rule, args.passes, args.read_budget)
    return res


# --------------------------------------------------------------------------- output

def _rate(n: int, s: float) -> str:
    return f"{n / s:>11,.0f}" if s > 0 else f"{'-':>11}"


def report(results: list[Result], args: argparse.Namespace, gen_s: float) -> None:
    print(f"TimescaleDB compression of tick: {args.tokens:,} tokens, {args.passes} passes of 10 s after a full "
          f"first pass, {args.changing:.0%} of books changing per pass, {args.levels} levels a side "
          f"(generated and stored in {gen_s:.0f} s, not timed)")
    print()
    print(f"{'layout':<38} {'rows':>9} {'chunks':>6} {'uncompr MB':>10} {'compr MB':>9} {'ratio':>6} "
          f"{'B/row':>6} {'batches':>7} {'rows/batch':>10} {'compress s':>10}")
    for r in results:
        ratio = r.stats_before / r.stats_after if r.stats_after else 0.0
        print(f"{r.layout.name:<38} {r.rows:>9,} {r.chunks:>6} {r.size_before / 1e6:>10,.1f} "
              f"{r.size_after / 1e6:>9,.1f} {ratio:>5.1f}x {r.size_after / max(1, r.rows):>6,.0f} "
              f"{r.batches:>7,} {r.rows / max(1, r.batches):>10,.0f} {r.compress_s:>10.1f}")
    print()
    print("reads (rows or ticks per second; * = partial, stopped after --read-budget s):")
    print(f"{'layout':<38} {'chunks':<7} {'raw COPY':>11} {'replay.stream':>14} {'books_as_of s':>13} "
          f"{'run_backtest':>12} {'bt read s':>9} {'bt passes':>9}")
    for r in results:
        for label, x in (("plain", r.plain), ("compr", r.packed)):
            star = "*" if x.stream_partial else " "
            print(f"{r.layout.name if label == 'plain' else '':<38} {label:<7} {_rate(x.raw_rows, x.raw_s)} "
                  f"{_rate(x.stream_ticks, x.stream_s)}{star:>3} {x.books_s:>13.2f} "
                  f"{_rate(x.bt_ticks, x.bt_s):>12} {x.bt_read_s:>9.1f} {x.bt_steps:>9}")
    print()
    for r in results:
        print(f"{r.layout.name}: compressed-chunk metadata columns: {r.sparse or '-'}")
    print(f"(raw COPY: `COPY (SELECT {replay.COLUMNS} FROM tick WHERE ts in the hour ORDER BY ts) TO STDOUT`, "
          "warm; replay.stream: PASS_SQL per pass, tokens split; books_as_of: every token's book at mid-hour; "
          f"run_backtest: {args.rule} from the first pass — its books_as_of included)")


# --------------------------------------------------------------------------- migration check

def _state(conn: psycopg.Connection) -> str:
    seg = conn.execute("""SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc
        FROM timescaledb_information.compression_settings WHERE hypertable_name = 'tick'
        ORDER BY attname""").fetchall()
    chunks = conn.execute("""SELECT count(*), count(*) FILTER (WHERE is_compressed)
        FROM timescaledb_information.chunks WHERE hypertable_name = 'tick'""").fetchone()
    interval = _one(conn, "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'tick'")
    cagg = _one(conn, "SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name = 'tick_1m'")
    pols = [f"{p.kind}:{p.target or '-'}:{p.config.get('compress_after') or p.config.get('drop_after') or ''}"
            for p in timescale.policies(conn)]
    per_chunk = conn.execute("""SELECT chunk, segmentby, orderby FROM timescaledb_information.chunk_compression_settings
        WHERE hypertable = 'tick'::regclass ORDER BY chunk""").fetchall()
    return (f"settings {seg}; compressed chunks' settings {per_chunk}; chunks (all, compressed) {chunks}; "
            f"interval {interval}; tick_1m caggs {cagg}; "
            f"policies {pols}")


def check_migrations(url: str, last: int) -> None:
    """The migrations after ``last`` on a fresh database, and on one migrated up to ``last`` holding
    compressed (and uncompressed) chunks of tick."""
    files = migrate.discover(ROOT / "sql")
    with psycopg.connect(url, autocommit=True) as conn:
        for db in ("fresh", "used"):
            conn.execute(f"CREATE DATABASE {db}")
    fresh, used = url.replace("dbname=bench", "dbname=fresh"), url.replace("dbname=bench", "dbname=used")
    with psycopg.connect(fresh, autocommit=True) as conn:
        print("fresh database:", migrate.migrate(conn, files)[-3:])
        print("  ", _state(conn))
    with psycopg.connect(used, autocommit=True) as conn:
        migrate.migrate(conn, [f for f in files if f.version <= last])
        conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                     "WHERE job_id >= 1000")
        conn.execute("""INSERT INTO tick (ts, token_id, market_id, bid_px, bid_sz, ask_px, ask_sz, book_digest)
            SELECT now() - interval '3 days' + g * interval '10 seconds', 't' || (g % 50), 'm' || (g % 25),
                   '{0.40,0.39}', '{10,20}', '{0.42,0.43}', '{5,6}', g
            FROM generate_series(0, 3 * 8640) g""")  # three days and a bit: four chunks
        conn.execute("CALL refresh_continuous_aggregate('tick_1m', NULL, NULL)")
        n = timescale.compress_all(conn, older_than=timedelta(days=1))
        print("used database, migrated to", last, "and compressed:", n, "chunk(s)")
        print("  ", _state(conn))
        before = _one(conn, "SELECT count(*) FROM tick")
        print("then:", migrate.migrate(conn, files))
        print("  ", _state(conn))
        after = _one(conn, "SELECT count(*) FROM tick")
        print(f"  rows before {before}, after {after}; recompressing every chunk:",
              conn.execute("SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('tick') c")
              .fetchone())
        print("  ", _state(conn))


# --------------------------------------------------------------------------- main

@contextmanager
def timescale_cluster() -> Iterator[str]:
    if not timescaledb_installed():
        sys.exit("timescale_compression: TimescaleDB is not installed into this machine's PostgreSQL "
                 "(no timescaledb.so / timescaledb.control); nothing to measure")
    base = Path(tempfile.mkdtemp(prefix="mpx-bench-ts-"))
    base.chmod(0o755)
    cluster = LocalCluster(base / "data", server_options={"shared_buffers": "1GB", "max_wal_size": "4GB"},
                           timescaledb=True)
    cluster.start()
    try:
        cluster.ensure_database("bench")
        yield cluster.conninfo("bench")
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=360, help="passes after the first (10 s apart)")
    ap.add_argument("--changing", type=float, default=0.2, help="share of tokens with a new tick per pass")
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--compare", action="store_true", help="measure every layout of LAYOUTS")
    ap.add_argument("--layout", type=Layout.parse, action="append", default=[],
                    help="a layout to measure, 'SEGMENTBY;ORDERBY;INTERVAL' (repeatable)")
    ap.add_argument("--rule", default="SUM_LT_1")
    ap.add_argument("--read-budget", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check-migrations", type=int, metavar="LAST", default=None,
                    help="instead: apply the migrations after LAST to a fresh database and to one migrated to LAST "
                         "that holds compressed chunks, and print what tick's compression looks like")
    args = ap.parse_args()
    with timescale_cluster() as url:
        if args.check_migrations is not None:
            check_migrations(url, args.check_migrations)
            return
        with psycopg.connect(url, autocommit=True) as conn:
            migrate.migrate(conn, migrate.discover(ROOT / "sql"))
            if not timescale.hypertable(conn):
                sys.exit("timescale_compression: the TimescaleDB migrations did not apply (tick is a plain table)")
            conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                         "WHERE job_id >= 1000")  # no policy runs while we measure
            seg, orderby = conn.execute("""SELECT coalesce(string_agg(attname, ',' ORDER BY segmentby_column_index)
                FILTER (WHERE segmentby_column_index IS NOT NULL), ''),
                string_agg(attname || CASE WHEN orderby_asc THEN '' ELSE ' DESC' END, ',' ORDER BY orderby_column_index)
                FILTER (WHERE orderby_column_index IS NOT NULL)
                FROM timescaledb_information.compression_settings WHERE hypertable_name = 'tick'""").fetchone() \
                or ("", "")
            interval = _one(conn, "SELECT time_interval FROM timescaledb_information.dimensions "
                                  "WHERE hypertable_name = 'tick'")
            migrated = Layout(seg, orderby, {timedelta(days=1): "1 day", timedelta(hours=6): "6 hours",
                                             timedelta(hours=1): "1 hour"}.get(interval, str(interval)))
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.levels,
                                 mpx_rules_dir=ROOT / "rules", mpx_synonyms_file=ROOT / "synonyms.yml",
                                 mpx_max_book_age="1h")
        rng = random.Random(args.seed)
        events, markets, mids = universe(args.tokens // 2, rng)
        state = {m.id: _Market(max(1, min(97, mids[m.outcomes[0].token_id] - 1)), rng.choice((1, 1, 2)),
                               [1 if rng.random() < 0.12 else 0 for _ in range(args.levels)]) for m in markets}
        toks = [_Token(o.token_id, m.id, i) for m in markets for i, o in enumerate(m.outcomes)]
        layouts = (LAYOUTS if args.compare else []) + args.layout or [migrated]
        with psycopg.connect(url) as conn:
            g = time.perf_counter()
            db_markets.upsert_metadata(conn, events, markets)
            conn.commit()
            generate(conn, toks, state, args.passes, args.changing, args.levels, rng)
            apply_layout(conn, layouts[0])
            gen_s = time.perf_counter() - g
            results = []
            for i, lay in enumerate(layouts):
                results.append(run_layout(conn, settings, lay, args, prepared=i == 0))
                r = results[-1]
                print(f"  {lay.name}: {r.size_before / 1e6:,.0f} MB -> {r.size_after / 1e6:,.0f} MB", file=sys.stderr)
    report(results, args, gen_s)


if __name__ == "__main__":
    main()
