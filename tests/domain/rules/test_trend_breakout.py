"""TREND_BREAKOUT: the YES mid breaks the preceding window's high or low by a margin, with enough
ticks in the window, on a liquid book."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from domain.rules.test_sum_lt_1 import T0, book, market, universe

from mpx.domain.models import PricePoint
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.rules.trend_breakout import TrendBreakout, TrendBreakoutParams

LEVELS: dict[SignalLevel, D] = {"P1": D(500), "P2": D(300), "P3": D(200)}
ROOT = Path(__file__).resolve().parents[3]
RANGE = ["0.60", "0.61", "0.62", "0.60", "0.61", "0.62"]  # six ticks, a minute apart, T0 − 6m … T0 − 1m


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    params = {"window": "5m", **params}
    return RuleSpec(id="trend", type="TREND_BREAKOUT", params=TrendBreakoutParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def history(prices: list[str] = RANGE, step: int = 60) -> list[PricePoint]:
    n = len(prices)
    return [PricePoint(T0 - timedelta(seconds=step * (n - i)), D(p)) for i, p in enumerate(prices)]


def u(bid: str, ask: str, size: str = "400", prices: list[str] = RANGE, step: int = 60, **kw: Any) -> Universe:
    m = market("M", question="Will the trend break?")
    hist = [*history(prices, step), PricePoint(T0, (D(bid) + D(ask)) / 2)]  # the current tick is in the history
    return universe([m], [book("M-yes", [(ask, size)], [(bid, size)])], history={"M-yes": hist}, **kw)


def run(x: Universe, r: RuleSpec | None = None) -> list[Finding]:
    return list(TrendBreakout().evaluate(r or rule(), x))


def test_a_break_above_the_range_high_by_the_margin_is_reported() -> None:
    # The 5m window starts at T0 − 5m, where the tick of T0 − 5m (0.61) is in force; then 0.62, 0.60,
    # 0.61, 0.62: range 0.60–0.62 over 5 prices (the tick of T0 − 6m was superseded before the start).
    # mid (0.65 + 0.67) / 2 = 0.66; window high 0.62 → 0.04 beyond → 400 bps (P2)
    [f] = run(u("0.65", "0.67"))
    assert f.metric == D("400.00") and f.estimated_edge_bps is None and f.variant == "up"
    assert f.measure is not None and f.measure.name == "break_bps" and f.finding_class == "indicator"
    assert f.payload["window_high"] == "0.62" and f.payload["window_low"] == "0.60"
    assert f.payload["prices_in_window"] == 5 and f.payload["market_ids"] == ["M"]
    assert f.edge_score == 0.4  # 0.04 / 0.10


def test_a_flat_range_is_a_range() -> None:
    # One tick at 0.60 ten minutes ago and nothing since (an unchanged book writes no tick): the
    # range of the last 5 minutes is 0.60–0.60; mid 0.66 breaks it by 0.06 → 600 bps.
    [f] = run(u("0.65", "0.67", prices=["0.60"], step=600))
    assert (f.variant, f.metric, f.payload["prices_in_window"]) == ("up", D("600.00"), 1)


def test_a_break_below_the_low_is_a_separate_signal() -> None:
    # mid 0.57: 0.03 below the low 0.60 → 300 bps, variant down
    [f] = run(u("0.56", "0.58"))
    assert (f.variant, f.metric, f.payload["direction"]) == ("down", D("300.00"), "down")


def test_inside_the_range_or_short_of_the_margin_is_nothing() -> None:
    assert run(u("0.60", "0.62")) == []  # mid 0.61
    assert run(u("0.62", "0.65")) == []  # mid 0.635: 0.015 above the high < 0.02


def test_min_ticks_counts_the_prices_making_up_the_range() -> None:
    # ticks at T0 − 4m … T0 − 1m and a 5m window: first seen inside it, so the range is what was seen
    # since (4 prices, 0.60–0.62)
    [f] = run(u("0.65", "0.67", prices=["0.60", "0.62", "0.61", "0.60"]))
    assert f.payload["prices_in_window"] == 4
    assert run(u("0.65", "0.67", prices=["0.60", "0.62", "0.61", "0.60"]), rule(min_ticks=5)) == []
    # with a 4-minute window the tick of T0 − 4m is in force at its start: 4 prices
    assert len(run(u("0.65", "0.67", prices=["0.60", "0.62", "0.61", "0.60"]), rule(window="4m", min_ticks=4))) == 1
    assert run(u("0.65", "0.67", prices=["0.60", "0.62", "0.61", "0.60"]), rule(window="4m", min_ticks=5)) == []
    # a 90 s window: 0.61 (T0 − 2m) in force at its start, then 0.62 (T0 − 1m): range 0.61–0.62
    [f] = run(u("0.65", "0.67"), rule(window="90s"))
    assert (f.payload["window_low"], f.payload["prices_in_window"]) == ("0.61", 2)


def test_thin_wide_one_sided_stale_and_unchanged_books_are_skipped() -> None:
    assert run(u("0.65", "0.67", size="10")) == []  # < 50 at the top
    assert run(u("0.63", "0.70")) == []  # spread 0.07 > 0.05
    m = market("M", question="?")
    one_sided = universe([m], [book("M-yes", [("0.67", "400")])], history={"M-yes": history()})
    assert run(one_sided) == []
    assert run(u("0.65", "0.67", unobserved=frozenset({"M-yes"}))) == []
    assert run(u("0.65", "0.67", changed=frozenset({"other"}))) == []
    assert run(u("0.65", "0.67"), rule(Scope(categories=("Sports",)))) == []


def test_a_stale_book_is_skipped() -> None:
    # book last seen 10 min ago (max_book_age 5 min): its mid is not the current price
    m = market("M", question="?")
    old = book("M-yes", [("0.67", "400")], [("0.65", "400")], ts=T0 - timedelta(minutes=10))
    assert run(universe([m], [old], history={"M-yes": history()})) == []


def test_message_and_engine_level() -> None:
    x = u("0.65", "0.67")
    [f] = run(x)
    assert f.message == ("Will the trend break?: Yes mid 0.66 breaks the 5m high 0.62 by 4.0 pts "
                         "(range 0.60–0.62, 4 change(s) in the window; indicator, not an edge)")
    [signal] = evaluate_rules([rule()], x)  # 400 bps: P2 (P1 500, P2 300)
    assert signal.level == "P2" and signal.market_id == "M"


def test_lookback_is_the_window() -> None:
    assert TrendBreakout().lookback(TrendBreakoutParams(window="45s")) == timedelta(seconds=45)


def test_the_shipped_rule_file_validates() -> None:
    [r] = load_rules([ROOT / "rules" / "trend_breakout.yaml"])
    assert r.type == "TREND_BREAKOUT" and r.params.window == timedelta(minutes=5)  # type: ignore[attr-defined]
    assert r.params.min_ticks == 1  # type: ignore[attr-defined]


def test_the_incremental_range_equals_the_range_recomputed_from_the_history() -> None:
    """RangeWindow (each point added and dropped once) against the definition — the point in force at
    the window's start (or the first seen) and every point before the current tick — over random
    histories queried at random, forward-moving times, with the history trimmed as the backtest
    trims it."""
    import random
    from datetime import UTC, datetime

    from mpx.domain.rules.spike import price_in_force
    from mpx.domain.rules.trend_breakout import RangeWindow, window_points

    rng = random.Random(5)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(200):
        window = timedelta(seconds=rng.choice([20, 60, 300]))
        history: list[PricePoint] = []
        rw = RangeWindow()
        t = 0
        checked = 0
        as_of = base
        for _ in range(rng.randint(1, 80)):
            t += rng.choice([1, 5, 10, 10, 30])
            history.append(PricePoint(base + timedelta(seconds=t), D(rng.randint(1, 99)) / 100))
            if rng.random() < 0.3:
                continue  # not queried this step: the window catches up later
            now = history[-1].ts  # the current tick; as_of at or after it, never going back
            as_of = max(as_of, now + timedelta(seconds=rng.choice([0, 0, 1, 3])))
            start = as_of - window
            if now <= start:
                continue
            in_force = price_in_force(history, start, before=now)
            got = rw.advance(history, start, now)
            if in_force is None:
                assert got is None
                continue
            points = [in_force, *window_points(history, start, now)]
            if points[1:] and points[1].ts == in_force.ts:
                points = points[1:]
            assert got == (min(p.price for p in points), max(p.price for p in points), len(points))
            checked += 1
            keep = next((i for i, p in enumerate(history) if p.ts >= now - window - timedelta(seconds=5)),
                        len(history))
            del history[:max(keep - 1, 0)]  # the backtest's trim keeps the point in force
        assert checked or len(history) < 3
