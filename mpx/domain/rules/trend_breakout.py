"""TREND_BREAKOUT — the YES price breaks the high (or low) of the preceding window by a margin.

The current price is the YES token's fresh book mid; the book must be two-sided, no wider than
``max_spread`` and hold at least ``min_top_size`` shares at the best bid and the best ask. The
preceding window is the history points with ``as_of − window ≤ ts < book ts`` (the current tick is
not part of it); it must hold at least ``min_ticks`` points. A breakout up is
``mid ≥ high + margin``, down ``mid ≤ low − margin``; up and down are separate signals.

The metric is the distance beyond the broken level in basis points of probability,
``(mid − high) × 10,000`` (or ``(low − mid) × 10,000``): e.g. a 0.60–0.62 range broken at 0.66 is
400. Momentum information, not an arbitrage: nothing is priced for execution, and
``estimated_edge_bps`` is that distance.
"""

from __future__ import annotations

import builtins
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.books import is_liquid
from mpx.domain.columns import MidHistory, floor_micro, micros
from mpx.domain.durations import Duration, format_duration
from mpx.domain.findings import Measure
from mpx.domain.models import Market, PricePoint
from mpx.domain.money import BPS
from mpx.domain.rules.base import Finding, RuleSpec, Universe
from mpx.domain.rules.spike import each_market, entry_for, narrow_mid, scoped_columns

FULL_SCORE_BREAK = Decimal("0.10")
"""A break 10 points of probability beyond the range scores edge_score 1."""


class TrendBreakoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = Field(timedelta(minutes=30), description="the range is taken over this window")
    margin: Decimal = Field(Decimal("0.02"), gt=0, lt=1, description="break the high/low by at least this")
    min_ticks: int = Field(1, ge=1, description="prices making up the range, the one in force at the window's "
                                                "start included (1: a flat range is a range)")
    min_top_size: Decimal = Field(Decimal("50"), ge=0, description="ignore books thinner than this at the top")
    max_spread: Decimal = Field(Decimal("0.05"), gt=0, le=1, description="ignore books wider than this")


def window_points(history: Sequence[PricePoint], start: datetime, end: datetime) -> Sequence[PricePoint]:
    """Points with ``start ≤ ts < end`` of an ascending history (binary search, not a scan)."""
    lo = bisect_left(history, start, key=lambda p: p.ts)
    hi = bisect_left(history, end, key=lambda p: p.ts)
    return history[lo:hi]


class RangeWindow:
    """One token's range over a sliding window, kept incrementally: the points from the one in force
    at the window's start (or the first seen) to the last before the current tick, and monotonic
    deques of their highs and lows — each point is added once and dropped once, so a pass costs
    O(new points), not O(window). The window only slides forward (``as_of`` never goes back in a
    run); it equals the range :func:`window_points` and :func:`price_in_force` give over the history.
    """

    __slots__ = ("fed", "highs", "lows", "pts")

    def __init__(self) -> None:
        self.pts: deque[PricePoint] = deque()
        self.highs: deque[PricePoint] = deque()
        self.lows: deque[PricePoint] = deque()
        self.fed: datetime | None = None

    def advance(self, history: Sequence[PricePoint], start: datetime, now: datetime
                ) -> tuple[Decimal, Decimal, int] | None:
        """(low, high, number of points) of the window ``[in force at start, now)``; ``None`` when
        no point precedes ``now``."""
        # the points after the last one fed: walked back from the end (a pass adds one or two)
        lo, fed = len(history), self.fed
        while lo and (fed is None or history[lo - 1].ts > fed):
            lo -= 1
        pts, highs, lows = self.pts, self.highs, self.lows
        for p in history[lo:]:  # ascending, each point fed once
            if p.ts >= now:
                break  # the current tick is not part of its own window
            pts.append(p)
            while highs and highs[-1].price <= p.price:
                highs.pop()
            highs.append(p)
            while lows and lows[-1].price >= p.price:
                lows.pop()
            lows.append(p)
            self.fed = p.ts
        while len(pts) >= 2 and pts[1].ts <= start:  # pts[0]: the last point at or before start
            pts.popleft()
        if not pts:
            return None
        first = pts[0].ts
        while highs[0].ts < first:
            highs.popleft()
        while lows[0].ts < first:
            lows.popleft()
        return lows[0].price, highs[0].price, len(pts)


def screen(rule: RuleSpec, params: TrendBreakoutParams, universe: Universe) -> list[Market] | None:
    """The changed markets that may break out (``None``: no arrays to screen with, every changed
    market is checked). A superset of what :meth:`TrendBreakout._check` keeps: a break is at least
    ``margin`` beyond the range, and the previous price is in the range, so a mid within the
    margin of the previous price is no break (compared in exact micro-units, thresholds rounded
    the lenient way)."""
    tops, history = universe.tops, universe.history
    if tops is None or not tops.exact or not isinstance(history, MidHistory):
        return None
    cols = scoped_columns(rule, universe)
    at, yes, mid2, now = cols.two_sided_quotes(cols.changed(universe.changed), params.max_spread, universe.as_of)
    start = micros(universe.as_of - params.window)
    last, prev = history.last_ts[yes], history.prev_ts[yes]
    # the last point before the book's time: the latest one if older, else the one before it
    prev2 = np.where(last < now, history.last2[yes], history.prev2[yes])
    has_prev = ((last >= 0) & (last < now)) | ((last == now) & (prev >= 0))
    unknown = last > now  # a point newer than the book (never from one store): no screen
    near = has_prev & (np.abs(mid2 - prev2) < floor_micro(2 * params.margin))
    keep = (history.first_ts[yes] >= 0) & (now > start) & (unknown | ~near)
    return [cols.markets[i] for i in at[keep].tolist()]


class TrendBreakout:
    type: ClassVar[str] = "TREND_BREAKOUT"
    Params: ClassVar[builtins.type[BaseModel]] = TrendBreakoutParams

    def lookback(self, params: BaseModel) -> timedelta:
        assert isinstance(params, TrendBreakoutParams)
        return params.window

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, TrendBreakoutParams)
        return each_market(rule, universe, screen(rule, params, universe),
                           lambda market: self._check(market, params, universe))

    def _check(self, market: Market, params: TrendBreakoutParams, universe: Universe) -> Finding | None:
        token = market.yes
        # screen on the top of the book (no book built): two-sided and narrow enough
        quote = narrow_mid(universe, token.token_id, params.max_spread)
        if quote is None:
            return None
        mid, now = quote
        history = universe.history.get(token.token_id)
        if not history:
            return None
        start = universe.as_of - params.window
        if now <= start:
            return None  # the current tick is older than the window: the range is that one price, never broken
        # the last price before the current tick is always part of the range (it is the one in force
        # at the window's start or came after it): within the margin of it, no break either way
        prev = history[-1] if history[-1].ts < now else history[-2] if len(history) > 1 else None
        if prev is not None and prev.ts < now and abs(mid - prev.price) < params.margin:
            return None
        windows = universe.memo.get(("trend-range", params.window))
        if windows is None:
            windows = universe.memo[("trend-range", params.window)] = {}
        window = windows.get(token.token_id)
        if window is None:
            window = windows[token.token_id] = RangeWindow()
        found = window.advance(history, start, now)
        if found is None:
            return None  # nothing seen before the current tick
        low, high, count = found
        if count < params.min_ticks:
            return None
        if mid >= high + params.margin:
            direction, beyond = "up", mid - high
        elif mid <= low - params.margin:
            direction, beyond = "down", low - mid
        else:
            return None
        book = universe.fresh_book(token.token_id)
        if book is None or not is_liquid(book, params.max_spread, params.min_top_size):
            return None
        points = window.pts
        bps = (beyond * BPS).quantize(Decimal("0.01"))
        level = high if direction == "up" else low
        changes = len(points) - 1
        message = (f"{market.question}: {token.label} mid {mid} breaks the {format_duration(params.window)} "
                   f"{'high' if direction == 'up' else 'low'} {level} by {beyond * 100:.1f} pts "
                   f"(range {low}–{high}, {changes} change(s) in the window; indicator, not an edge)")
        return Finding(
            subject=f"market:{market.id}", message=message,
            edge_score=min(1.0, float(beyond / FULL_SCORE_BREAK)), measure=Measure("break_bps", bps),
            entry=entry_for(market, direction, universe), market_id=market.id, group_key=f"market:{market.id}",
            payload={"direction": direction, "market_ids": [market.id],
                     "token_id": token.token_id, "mid": str(mid), "window_high": str(high), "window_low": str(low),
                     "prices_in_window": len(points), "window_seconds": int(params.window.total_seconds()),
                     "best_bid": str(book.best_bid), "best_ask": str(book.best_ask)},
            variant=direction,
        )
