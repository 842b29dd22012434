"""The kinds' NumPy screens drop only what their exact code drops: over random histories, step by
step, the signals are the same with the books' tops as arrays and the mid history as columns (the
backtest's path: :class:`~mpx.domain.columns.Tops`, :class:`~mpx.domain.columns.MidHistory`) as
with plain books and price lists (evaluate's path, no screen)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest
from domain.rules.test_sum_lt_1 import T0, market

from mpx.adapters.db.replay import LazyBooks
from mpx.domain.columns import MidHistory, Tops
from mpx.domain.models import Book, Event, Level, Market, PricePoint
from mpx.domain.rules.base import RuleSpec, Scope, Signal, SignalLevel, Universe
from mpx.domain.rules.dutch_book import DutchBookParams
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.rules.spike import SpikeParams
from mpx.domain.rules.sum_lt_1 import SumLt1Params
from mpx.domain.rules.trend_breakout import TrendBreakoutParams

LEVELS: dict[SignalLevel, D] = {"P1": D(300), "P2": D(100), "P3": D(0)}
STEP = timedelta(seconds=10)


def rules() -> list[RuleSpec]:
    def spec(rule_id: str, kind: str, params: Any) -> RuleSpec:
        return RuleSpec(id=rule_id, type=kind, params=params, levels=LEVELS, scope=Scope())

    return [
        spec("sum", "SUM_LT_1", SumLt1Params(size=D(50))),
        spec("dutch", "DUTCH_BOOK_DETECT", DutchBookParams(size=D(50))),
        spec("spike", "SPIKE", SpikeParams(window=timedelta(seconds=40), min_move=D("0.04"), min_top_size=D(10))),
        # thresholds a micro-unit cannot hold: the screen rounds them the lenient way
        spec("spike-odd", "SPIKE", SpikeParams(window=timedelta(seconds=30), min_move=D("0.0300005"),
                                               min_top_size=D(10), max_spread=D("0.0400001"))),
        spec("trend", "TREND_BREAKOUT", TrendBreakoutParams(window=timedelta(seconds=60), margin=D("0.02"),
                                                            min_top_size=D(10))),
        spec("trend-odd", "TREND_BREAKOUT", TrendBreakoutParams(window=timedelta(seconds=30), margin=D("0.0150001"),
                                                                min_ticks=2, min_top_size=D(10))),
    ]


def world() -> tuple[list[Market], list[Event]]:
    binaries = [market(f"M{i}") for i in range(8)]
    events = []
    grouped = []
    for e in range(2):
        ids = tuple(f"E{e}{k}" for k in "ABC")
        events.append(Event(id=f"E{e}", title=f"Event {e}", market_ids=ids, neg_risk=True, listed_markets=3))
        grouped += [market(mid, neg_risk=True, event_id=f"E{e}") for mid in ids]
    return binaries + grouped, events


def levels(top: int, step: int, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` levels from ``top`` cents going ``step`` cents a level (inside 1..99), random sizes."""
    out = []
    for k in range(n):
        cents = top + step * k
        if not 1 <= cents <= 99:
            break
        out.append((f"{cents / 100:.2f}", str(rng.choice([5, 20, 50, 120, 400]))))
    return out


def tick(rng: random.Random, mid: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Bids and asks around ``mid`` cents; now and then one side (or both) empty."""
    half = rng.choice([1, 1, 1, 2, 3])
    bids = levels(mid - half, -1, rng, rng.randint(1, 4))
    asks = levels(mid + half, 1, rng, rng.randint(1, 4))
    roll = rng.random()
    if roll < 0.04:
        bids = []
    elif roll < 0.08:
        asks = []
    elif roll < 0.09:
        bids, asks = [], []
    return bids, asks


def text(book: tuple[list[tuple[str, str]], list[tuple[str, str]]]) -> tuple[str, str, str]:
    """PostgreSQL's text of a tick (what the replay stream hands over): best bid, best ask, the rest."""
    bids, asks = book

    def arr(xs: Sequence[str]) -> str:
        return "{" + ",".join(xs) + "}"

    rest = "|".join(["", arr([p for p, _ in bids]), arr([s for _, s in bids]), arr([p for p, _ in asks]),
                     arr([s for _, s in asks])])
    return (bids[0][0] if bids else ""), (asks[0][0] if asks else ""), rest


def as_book(token: str, book: tuple[list[tuple[str, str]], list[tuple[str, str]]], ts: Any) -> Book:
    bids, asks = book
    return Book(token, tuple(Level(D(p), D(s)) for p, s in bids), tuple(Level(D(p), D(s)) for p, s in asks), ts)


def signals(found: list[Signal]) -> list[tuple[Any, ...]]:
    return [(s.signature, s.level, s.metric, s.message, dict(s.payload)) for s in found]


@pytest.mark.parametrize("seed", range(6))
def test_screened_steps_find_what_unscreened_steps_find(seed: int) -> None:
    rng = random.Random(seed)
    markets, events = world()
    by_id = {m.id: m for m in markets}
    specs = rules()
    lookback = max(timedelta(seconds=60), *(getattr(r.params, "window", timedelta(0)) for r in specs))
    # the columnar path, as the backtest builds it
    tops = Tops([o.token_id for m in markets for o in m.outcomes],
                [n for n, m in enumerate(markets) for _ in m.outcomes], [m.id for m in markets])
    lazy = LazyBooks({}, tops=tops)
    mids = MidHistory(tops, lookback, [r.params.window for r in specs if hasattr(r.params, "window")])
    fast = Universe(as_of=T0, markets=by_id, events={e.id: e for e in events}, books=lazy, history=mids,
                    observed_now=True, ask_at=lazy.ask_at, quote_at=lazy.quote_at, tops=tops)
    priced = np.zeros(len(tops.bid), bool)
    priced[[tops.index[m.yes.token_id] for m in markets]] = True
    # the plain path, as evaluate builds it
    books: dict[str, Book] = {}
    history: dict[str, list[PricePoint]] = {}
    slow = Universe(as_of=T0, markets=by_id, events={e.id: e for e in events}, books=books, history=history,
                    observed_now=True)
    level = {m.id: rng.randint(20, 80) for m in markets}
    for e in events:  # an event's YES mids start summing to about 1
        for mid in e.market_ids:
            level[mid] = rng.randint(28, 38)
    kinds_found: set[str] = set()
    for step in range(160):
        ts = T0 + STEP * step
        tokens, bids, asks, rests = [], [], [], []
        for m in markets:
            if step and rng.random() < 0.5:
                continue
            level[m.id] = min(95, max(5, level[m.id] + rng.choice([-7, -3, -1, 0, 0, 1, 3, 7])))
            yes = tick(rng, level[m.id])
            no = tick(rng, 100 - level[m.id] + rng.choice([-4, -2, 0, 0, 1, 2]))
            for outcome, bk in ((m.outcomes[0], yes), (m.outcomes[1], no)):
                b, a, rest = text(bk)
                tokens.append(outcome.token_id)
                bids.append(b)
                asks.append(a)
                rests.append(rest)
                books[outcome.token_id] = as_book(outcome.token_id, bk, ts)
                if bk[0] and bk[1] and outcome.index == 0:
                    history.setdefault(outcome.token_id, []).append(
                        PricePoint(ts, (D(bk[0][0][0]) + D(bk[1][0][0])) / 2))
        lazy.put_pass(ts, tokens, bids, asks, rests)
        idx = tops.last_pass
        mids.put(ts, idx, tops.bid[idx], tops.ask[idx], priced)
        mids.advance(ts)
        changed = None if step == 0 else tops.changed_markets()
        assert changed is None or changed == {by_id_of(t, markets) for t in tokens}
        for u in (fast, slow):
            u.as_of, u.changed = ts, changed
        want = evaluate_rules(specs, slow)
        got = evaluate_rules(specs, fast)
        assert signals(got) == signals(want), f"step {step}"
        kinds_found |= {s.rule_type for s in want}
    # the walk is lively enough that every screened kind had something to find
    assert kinds_found >= {"SUM_LT_1", "DUTCH_BOOK_DETECT", "SPIKE", "TREND_BREAKOUT"}, kinds_found


def by_id_of(token: str, markets: list[Market]) -> str:
    return next(m.id for m in markets for o in m.outcomes if o.token_id == token)


def test_an_odd_price_switches_the_screens_off_and_stays_exact() -> None:
    tops = Tops(["y", "n"], [0, 0], ["m"])
    lazy = LazyBooks({}, tops=tops)
    lazy.put_pass(T0, ["y", "n"], ["0.40", "0.5"], ["0.4000005", "0.51"], ["|{0.40}|{10}|{0.4000005}|{10}",
                                                                          "|{0.5}|{10}|{0.51}|{10}"])
    assert not tops.exact  # 0.4000005 needs 7 decimals: the kinds fall back to their exact code
    assert lazy.ask_at("y") == (T0, D("0.4000005")) and lazy.quote_at("n") == (T0, D("0.5"), D("0.51"))
    assert lazy["y"].asks == (Level(D("0.4000005"), D(10)),)
