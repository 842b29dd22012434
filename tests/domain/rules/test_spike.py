"""SPIKE: a mid-price move of at least ``min_move`` within ``window`` on a tight, deep book."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from mpx.domain.models import Book, Level, Market, Outcome, PricePoint
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.spike import Spike, SpikeParams

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
P3_ONLY: dict[SignalLevel, D] = {"P3": D(0)}
M = Market(
    id="M", question="Will it rain?",
    outcomes=(Outcome("M-yes", "M", "Yes", 0), Outcome("M-no", "M", "No", 1)),
)


def book(bid: tuple[str, str], ask: tuple[str, str], ts: datetime = T0) -> Book:
    return Book("M-yes", (Level(D(bid[0]), D(bid[1])),), (Level(D(ask[0]), D(ask[1])),), ts)


def history(*points: tuple[timedelta, str]) -> list[PricePoint]:
    """Points at ``T0 − ago``, ascending."""
    return sorted((PricePoint(T0 - ago, D(p)) for ago, p in points), key=lambda p: p.ts)


def run(b: Book | None, points: Sequence[PricePoint], market: Market = M, scope: Scope | None = None,
        no_book: tuple[str, str] | None = None, **kw: Any) -> list[Finding]:
    books = {b.token_id: b} if b else {}
    if no_book is not None:
        books["M-no"] = Book("M-no", (), (Level(D(no_book[0]), D(no_book[1])),), T0)
    u = Universe(as_of=T0, markets={market.id: market}, events={}, books=books, history={"M-yes": list(points)},
                 **kw)
    r = RuleSpec(id="spike", type="SPIKE", params=SpikeParams(), levels=P3_ONLY, scope=scope or Scope())
    return list(Spike().evaluate(r, u))


MIN = timedelta(minutes=1)


def test_spike_up() -> None:
    # Book 0.60 / 0.62 (100 / 100 sh): mid 0.61, spread 0.02 ≤ 0.05.
    # Window 5 min: the price in force at its start (T0 − 5m) is the last point at or before it,
    # 0.50 at T0 − 6m; what happened inside (0.55, 0.58) does not change the reference.
    # move = 0.61 − 0.50 = +0.11 → 1100 bps, edge_score 0.11 / 0.25 = 0.44.
    pts = history((6 * MIN, "0.50"), (2 * MIN, "0.55"), (1 * MIN, "0.58"))
    [f] = run(book(("0.60", "100"), ("0.62", "100")), pts, no_book=("0.37", "100"))
    assert f.variant == "up"
    assert f.subject == "market:M"
    assert f.market_id == "M"
    assert f.finding_class == "indicator" and f.arbitrage is None and f.estimated_edge_bps is None
    assert f.measure is not None and (f.measure.name, f.measure.value) == ("move_bps", D("1100.00"))
    assert f.metric == D("1100.00")
    assert f.edge_score == pytest.approx(0.44)
    # following the move up means buying YES at its best ask
    assert f.entry is not None and (f.entry.token_id, f.entry.price) == ("M-yes", D("0.62"))
    assert f.payload["from_price"] == "0.50"
    assert f.payload["to_price"] == "0.61"
    assert f.payload["move"] == "0.11"
    assert f.payload["reference_ts"] == "2026-03-01T11:54:00+00:00"
    assert f.payload["to_ts"] == "2026-03-01T12:00:00+00:00"
    assert f.payload["window_seconds"] == 300
    assert f.message == ("Will it rain?: Yes mid 0.50 → 0.61 (+11.0 pts) within 5m; spread 0.02, top 100/100 sh "
                         "(indicator: a move, not an edge)")


def test_spike_down() -> None:
    # Book 0.39 / 0.41: mid 0.40; in force at T0 − 5m: 0.47 (set at T0 − 7m) → move −0.07 → 700 bps, score 0.28.
    # Following it down means buying NO at its best ask.
    [f] = run(book(("0.39", "80"), ("0.41", "60")), history((7 * MIN, "0.47"), (1 * MIN, "0.44")),
              no_book=("0.61", "80"))
    assert f.variant == "down"
    assert f.payload["move"] == "-0.07"
    assert f.metric == D("700.00")
    assert f.edge_score == pytest.approx(0.28)
    assert f.entry is not None and (f.entry.token_id, f.entry.label, f.entry.price) == ("M-no", "No", D("0.61"))


def test_a_quiet_book_is_flat_not_missing() -> None:
    # The last tick was an hour ago at 0.40 (an unchanged book writes no tick): that is the price in
    # force at the window's start, so 0.55 now is a +15-point move.
    [f] = run(book(("0.54", "100"), ("0.56", "100")), history((60 * MIN, "0.40")))
    assert (f.variant, f.metric, f.payload["from_price"]) == ("up", D("1500.00"), "0.40")


def test_a_move_that_reverted_within_the_window_is_no_spike() -> None:
    # 0.40 in force at the window's start, 0.55 two minutes later, back to 0.40 now: no move.
    assert run(book(("0.39", "100"), ("0.41", "100")), history((6 * MIN, "0.40"), (3 * MIN, "0.55"))) == []
    # half reverted (0.40 → 0.55 → 0.48 now): +0.08 of it is left, and it is still a move up
    [f] = run(book(("0.47", "100"), ("0.49", "100")), history((6 * MIN, "0.40"), (3 * MIN, "0.55")))
    assert (f.variant, f.metric) == ("up", D("800.00"))


def test_below_threshold_is_not_reported() -> None:
    # mid 0.61 − 0.57 = 0.04 < 0.05
    assert run(book(("0.60", "100"), ("0.62", "100")), history((6 * MIN, "0.57"))) == []


def test_move_exactly_at_threshold_is_reported() -> None:
    # mid 0.61 − 0.56 = 0.05 ≥ 0.05 (the tick exactly at the window's start is the one in force)
    [f] = run(book(("0.60", "100"), ("0.62", "100")), history((5 * MIN, "0.56")))
    assert f.metric == D("500.00")


def test_thin_book_is_ignored() -> None:
    # best bid size 10 < min_top_size 50
    assert run(book(("0.60", "10"), ("0.62", "100")), history((2 * MIN, "0.40"))) == []
    assert run(book(("0.60", "100"), ("0.62", "49.99")), history((2 * MIN, "0.40"))) == []


def test_wide_spread_is_ignored() -> None:
    # spread 0.67 − 0.55 = 0.12 > 0.05
    assert run(book(("0.55", "100"), ("0.67", "100")), history((2 * MIN, "0.40"))) == []


def test_one_sided_book_is_ignored() -> None:
    b = Book("M-yes", (), (Level(D("0.62"), D(100)),), T0)
    assert run(b, history((2 * MIN, "0.40"))) == []


def test_a_token_first_seen_inside_the_window_is_measured_from_its_first_price() -> None:
    b = book(("0.60", "100"), ("0.62", "100"))
    assert run(b, []) == []  # never seen before: no move
    # first seen two minutes ago at 0.30, then 0.50: the move is from 0.30 (+0.31)
    [f] = run(b, history((2 * MIN, "0.30"), (1 * MIN, "0.50")))
    assert (f.payload["from_price"], f.metric) == ("0.30", D("3100.00"))


def test_stale_book_is_ignored() -> None:
    b = book(("0.60", "100"), ("0.62", "100"), ts=T0 - 2 * MIN)
    pts = history((6 * MIN, "0.40"))
    assert len(run(b, pts)) == 1  # 2 minutes old ≤ max_book_age 5 min
    assert run(b, pts, max_book_age=MIN) == []


def test_closed_unchanged_or_out_of_scope_market_is_ignored() -> None:
    b, pts = book(("0.60", "100"), ("0.62", "100")), history((6 * MIN, "0.40"))
    assert len(run(b, pts)) == 1
    closed = Market(id="M", question="?", outcomes=M.outcomes, status="closed")
    assert run(b, pts, market=closed) == []
    assert run(b, pts, changed=frozenset()) == []
    assert run(b, pts, scope=Scope(market_ids=("other",))) == []


def test_lookback_is_the_window() -> None:
    assert Spike().lookback(SpikeParams(window="15m")) == timedelta(minutes=15)
