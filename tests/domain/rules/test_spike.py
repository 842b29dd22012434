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
        **kw: Any) -> list[Finding]:
    u = Universe(as_of=T0, markets={market.id: market}, events={},
                 books={b.token_id: b} if b else {}, history={"M-yes": list(points)}, **kw)
    r = RuleSpec(id="spike", type="SPIKE", params=SpikeParams(), levels=P3_ONLY, scope=scope or Scope())
    return list(Spike().evaluate(r, u))


MIN = timedelta(minutes=1)


def test_spike_up() -> None:
    # Book 0.60 / 0.62 (100 / 100 sh): mid 0.61, spread 0.02 ≤ 0.05.
    # Window 5 min → points from T0 − 5m. T0 − 6m (0.30) is outside; the point at T0 (0.20) is the
    # current book itself (not strictly before its ts). Farthest from 0.61 among 0.50, 0.55, 0.58
    # is 0.50: move = 0.61 − 0.50 = +0.11 → 1100 bps, edge_score 0.11 / 0.25 = 0.44.
    pts = history((6 * MIN, "0.30"), (4 * MIN, "0.50"), (2 * MIN, "0.55"), (1 * MIN, "0.58"),
                  (0 * MIN, "0.20"))
    [f] = run(book(("0.60", "100"), ("0.62", "100")), pts)
    assert f.variant == "up"
    assert f.subject == "market:M"
    assert f.market_id == "M"
    assert f.metric == D("1100.00")
    assert f.estimated_edge_bps == D("1100.00")
    assert f.edge_score == pytest.approx(0.44)
    assert f.payload["kind"] == "momentum"
    assert f.payload["from_price"] == "0.50"
    assert f.payload["to_price"] == "0.61"
    assert f.payload["move"] == "0.11"
    assert f.payload["from_ts"] == "2026-03-01T11:56:00+00:00"
    assert f.payload["to_ts"] == "2026-03-01T12:00:00+00:00"
    assert f.payload["window_seconds"] == 300
    assert f.message == "Will it rain?: Yes mid 0.50 → 0.61 (+11.0 pts) in 4m00s; spread 0.02, top 100/100 sh"


def test_spike_down() -> None:
    # Book 0.39 / 0.41: mid 0.40; 3 min ago 0.47 → move −0.07 → 700 bps, score 0.28
    [f] = run(book(("0.39", "80"), ("0.41", "60")), history((3 * MIN, "0.47"), (1 * MIN, "0.44")))
    assert f.variant == "down"
    assert f.payload["move"] == "-0.07"
    assert f.metric == D("700.00")
    assert f.edge_score == pytest.approx(0.28)


def test_reverting_spike_still_counts_from_its_extreme() -> None:
    # 0.50 → 0.62 → 0.55 now: the farthest point from 0.55 is 0.62 (−0.07), not the start (+0.05).
    [f] = run(book(("0.54", "100"), ("0.56", "100")),
              history((4 * MIN, "0.50"), (2 * MIN, "0.62")))
    assert f.variant == "down"
    assert f.metric == D("700.00")


def test_below_threshold_is_not_reported() -> None:
    # mid 0.61 − 0.57 = 0.04 < 0.05
    assert run(book(("0.60", "100"), ("0.62", "100")), history((2 * MIN, "0.57"))) == []


def test_move_exactly_at_threshold_is_reported() -> None:
    # mid 0.61 − 0.56 = 0.05 ≥ 0.05
    [f] = run(book(("0.60", "100"), ("0.62", "100")), history((2 * MIN, "0.56")))
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


def test_no_history_in_window_is_ignored() -> None:
    b = book(("0.60", "100"), ("0.62", "100"))
    assert run(b, []) == []
    assert run(b, history((10 * MIN, "0.30"))) == []  # only outside the 5-minute window


def test_stale_book_is_ignored() -> None:
    b = book(("0.60", "100"), ("0.62", "100"), ts=T0 - 2 * MIN)
    pts = history((4 * MIN, "0.40"))
    assert len(run(b, pts)) == 1  # 2 minutes old ≤ max_book_age 5 min
    assert run(b, pts, max_book_age=MIN) == []


def test_closed_unchanged_or_out_of_scope_market_is_ignored() -> None:
    b, pts = book(("0.60", "100"), ("0.62", "100")), history((2 * MIN, "0.40"))
    assert len(run(b, pts)) == 1
    closed = Market(id="M", question="?", outcomes=M.outcomes, status="closed")
    assert run(b, pts, market=closed) == []
    assert run(b, pts, changed=frozenset()) == []
    assert run(b, pts, scope=Scope(market_ids=("other",))) == []


def test_lookback_is_the_window() -> None:
    assert Spike().lookback(SpikeParams(window="15m")) == timedelta(minutes=15)
