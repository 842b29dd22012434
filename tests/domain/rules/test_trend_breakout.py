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
