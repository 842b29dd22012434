"""Benchmark: one `mpx evaluate` pass over a window of stored ticks, all rule kinds enabled, with the
wall time split into reading the ticks (into books and price history) and evaluating the rules.

Starts its own PostgreSQL cluster in a temporary directory, stores MARKETS markets (2 tokens each:
binary markets, negRisk events of 5 outcomes, and Bitcoin threshold/date ladders so the synonym
and cross-market rules have relations to check) and PASSES+1 ingest passes in which every book
changes (a random walk of the mids, 10 levels a side), written with the ingest write path (not
timed). Then it sets the evaluate watermark at the first pass and times `run_evaluate` — the code
`mpx evaluate` runs — over the remaining PASSES passes with the rules in rules/ (every kind).

    python bench/evaluate_rules.py [--markets 10000] [--passes 50] [--rules rules]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch_db import scratch_database  # noqa: E402

from mpx.adapters.db import markets as db_markets  # noqa: E402
from mpx.adapters.db import state  # noqa: E402
from mpx.adapters.metrics import JobMetrics  # noqa: E402
from mpx.domain.models import Book, Event, Level, Market, Outcome, Snapshot  # noqa: E402
from mpx.domain.rules.dsl import load_rules  # noqa: E402
from mpx.domain.rules.registry import kind_types, registry  # noqa: E402
from mpx.jobs.contract import Context  # noqa: E402
from mpx.jobs.evaluate import WATERMARK_KEY, run_evaluate  # noqa: E402
from mpx.jobs.ingest import store_snapshot  # noqa: E402
from mpx.settings import load_settings  # noqa: E402

TICK = Decimal("0.01")
MONTHS = ["March 31", "June 30", "September 30", "December 31"]


def universe(n_markets: int, rng: random.Random) -> tuple[list[Event], list[Market], dict[str, int]]:
    """Events and markets; the starting mid (in ticks) of each YES token."""
    events: list[Event] = []
    markets: list[Market] = []
    mids: dict[str, int] = {}
    serial = 0

    def market(question: str, event_id: str, neg_risk: bool, mid: int) -> Market:
        nonlocal serial
        serial += 1
        mid_id = f"0x{serial:064x}"
        m = Market(id=mid_id, question=question, event_id=event_id, slug=f"bench-{serial}",
                   outcomes=(Outcome(f"{10**70 + 2 * serial}", mid_id, "Yes", 0),
                             Outcome(f"{10**70 + 2 * serial + 1}", mid_id, "No", 1)),
                   tick_size=TICK, neg_risk=neg_risk, category="Bench", end_date=datetime(2027, 6, 1, tzinfo=UTC),
                   liquidity=Decimal(50_000))
        mids[m.yes.token_id] = mid
        markets.append(m)
        return m

    n_ladder = n_markets // 10
    n_event_markets = (n_markets * 4 // 10) // 5 * 5
    n_binary = n_markets - n_ladder - n_event_markets
    for i in range(n_binary):
        m = market(f"Will bench outcome {i} happen by 2027?", f"b{i}", False, rng.randint(8, 92))
        events.append(Event(f"b{i}", m.question, (m.id,), category="Bench"))
    for j in range(n_event_markets // 5):
        weights = [rng.uniform(0.5, 2) for _ in range(5)]
        ms = [market(f"Will candidate {k} win bench race {j}?", f"e{j}", True,
                     max(3, round(100 * w / sum(weights) * 1.04))) for k, w in enumerate(weights)]
        events.append(Event(f"e{j}", f"Bench race {j}", tuple(m.id for m in ms), neg_risk=True, category="Bench"))
    for i in range(n_ladder):
        # ladders of 4 thresholds on one date: consistent prices (higher threshold, lower YES)
        level = 60_000 + 10_000 * (i % 4)
        date = MONTHS[(i // 4) % 4]
        series = i // 16
        m = market(f"Will Bitcoin be above ${level:,} on {date}, {2027 + series}?", f"l{i}", False,
                   80 - 15 * (i % 4) - 2 * ((i // 4) % 4))
        events.append(Event(f"l{i}", m.question, (m.id,), category="Bench"))
    return events, markets, mids


def walk(events: list[Event], markets: dict[str, Market], mids: dict[str, int], rng: random.Random) -> None:
    """One random-walk step: binary mids ±1 tick; in a negRisk event one outcome gains a tick that
    another loses (the sum of its prices stays where it started, above 1)."""
    for ev in events:
        tokens = [markets[mid].yes.token_id for mid in ev.market_ids]
        if len(tokens) == 1:
            mids[tokens[0]] = min(97, max(3, mids[tokens[0]] + rng.choice((-1, 0, 1))))
            continue
        up, down = rng.sample(tokens, 2)
        if mids[up] < 90 and mids[down] > 3:
            mids[up] += 1
            mids[down] -= 1


def books(markets: list[Market], mids: dict[str, int], rng: random.Random, depth: int) -> list[Book]:
    out = []
    for m in markets:
        mid = mids[m.yes.token_id]
        sizes = [Decimal(rng.randint(20, 2000)) for _ in range(2 * depth)]
        yes_bids = tuple(Level(Decimal(mid - 1 - k) * TICK, sizes[k]) for k in range(depth) if mid - 1 - k > 0)
        yes_asks = tuple(Level(Decimal(mid + 1 + k) * TICK, sizes[depth + k]) for k in range(depth)
                         if mid + 1 + k < 100)
        out.append(Book(m.yes.token_id, yes_bids, yes_asks, None, Decimal(mid) * TICK))
        out.append(Book(m.outcomes[1].token_id, tuple(Level(1 - lv.price, lv.size) for lv in yes_asks),
                        tuple(Level(1 - lv.price, lv.size) for lv in yes_bids), None, None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=50)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    args = ap.parse_args()

    rules = load_rules([args.rules])
    kinds = sorted({r.type for r in rules if r.enabled})
    print(f"rule kinds enabled: {', '.join(kinds)} ({len(kinds)} of {len(kind_types())}; registered "
          f"{len(registry())})", file=sys.stderr)
    with scratch_database() as url:
        settings = load_settings(None, mpx_database_url=url, mpx_book_depth=args.depth, mpx_rules_dir=args.rules,
                                 mpx_synonyms_file=ROOT / "synonyms.yml")
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
            for p in range(args.passes + 1):
                walk(events, by_id, mids, rng)
                snap = Snapshot(ts=t0 + timedelta(seconds=10 * p), books=books(markets, mids, rng, args.depth))
                rows += store_snapshot(ctx, "bench", snap).rows
                conn.commit()
                if (p + 1) % 10 == 0:
                    print(f"  stored pass {p + 1}/{args.passes + 1} ({rows:,} ticks)", file=sys.stderr)
            write_s = time.perf_counter() - w0
            state.set_state(conn, WATERMARK_KEY, t0.isoformat())
            conn.commit()
            window = conn.execute("SELECT count(*) FROM tick WHERE ts > %s", (t0,)).fetchone()[0]  # type: ignore[index]

            ectx = Context(settings, conn, JobMetrics("evaluate"))
            e0 = time.perf_counter()
            res = run_evaluate(ectx, rules)
            total = time.perf_counter() - e0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        d = res.details
        tokens = 2 * len(markets)
        print(f"universe: {len(markets):,} markets, {tokens:,} tokens, {len(events):,} events; "
              f"{rows:,} ticks stored in {write_s:.1f} s (not timed)")
        print(f"window  : {window:,} ticks over {res.steps} ingest passes, {len(rules)} rules "
              f"({len(kinds)} kinds)")
        print(f"evaluate: {total:.2f} s wall = read {d['read_s']:.2f} s + rules {d['eval_s']:.2f} s "
              f"+ write {d['write_s']:.2f} s (+ {total - d['read_s'] - d['eval_s'] - d['write_s']:.2f} s other)")
        print(f"          {window / d['read_s']:,.0f} ticks/s read; rules {1000 * d['eval_s'] / res.steps:.0f} ms "
              f"per pass of {tokens:,} changed books; peak RSS {peak / 1e6:,.0f} MB")
        print(f"found   : {d['found']:,} findings, {d['opened']} opportunities opened, {d['new_signals']} signals "
              f"({', '.join(f'{k} {v}' for k, v in sorted(Counter(s.rule_type for s in res.signals).items()))})")
        print(f"ratio   : rules / read = {d['eval_s'] / d['read_s']:.2f} (goal <= 1)")


if __name__ == "__main__":
    main()
