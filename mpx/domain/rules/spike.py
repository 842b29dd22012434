"""SPIKE — a price move of at least Δ within a window, ignoring thin or wide books.

The current price is the YES token's fresh book mid; the book must be two-sided, no wider than
``max_spread`` and hold at least ``min_top_size`` shares at the best bid *and* the best ask. The
reference is the price **in force at the window's start** (``as_of − window``): the mid of the last
stored tick at or before it. A book that did not change wrote no tick, so a quiet hour at 0.40
followed by 0.55 now is a +15-point move, not "no history". A token first seen inside the window
(just listed, or a system that started minutes ago) has its first observed price as the
reference. ``move = mid − reference``, so a move that reverted within the window is no move at
all, and a spike that has only started to revert still counts for what is left of it.

An **indicator**: the measure is ``move_bps = |move| × 10,000`` (basis points of probability), the
direction is the variant (``up`` / ``down``), and the entry a position would take is the best ask
of YES (up) or of NO (down). Nothing is an edge; it never becomes an order intent.
"""

from __future__ import annotations

import builtins
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.books import is_liquid
from mpx.domain.columns import MarketColumns, MidHistory, floor_micro
from mpx.domain.durations import Duration, format_duration
from mpx.domain.findings import Entry, Measure
from mpx.domain.models import Market, PricePoint
from mpx.domain.money import BPS
from mpx.domain.rules.base import Finding, RuleSpec, Universe

FULL_SCORE_MOVE = Decimal("0.25")
"""A move this large (25 points of probability) scores edge_score 1."""


class SpikeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Duration = Field(timedelta(minutes=5), description="look back this far for the move")
    min_move: Decimal = Field(Decimal("0.05"), gt=0, lt=1, description="minimum absolute mid-price move")
    min_top_size: Decimal = Field(
        Decimal("50"), ge=0, description="ignore books thinner than this at the top"
    )
    max_spread: Decimal = Field(Decimal("0.05"), gt=0, le=1, description="ignore books wider than this")


def _fmt_price(price: Decimal) -> str:
    """A price without trailing zeros beyond the cent: 0.400 → 0.40, 0.525 → 0.525."""
    text = f"{price.normalize():f}"
    decimals = len(text.partition(".")[2])
    return f"{price:.{max(2, decimals)}f}"


class Spike:
    type: ClassVar[str] = "SPIKE"
    Params: ClassVar[builtins.type[BaseModel]] = SpikeParams

    def lookback(self, params: BaseModel) -> timedelta:
        assert isinstance(params, SpikeParams)
        return params.window

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, SpikeParams)
        return each_market(rule, universe, screen(rule, params, universe),
                           lambda market: self._check(market, params, universe))

    def _check(self, market: Market, params: SpikeParams, universe: Universe) -> Finding | None:
        token = market.yes
        # screen on the top of the book (no book built): two-sided, narrow enough, moved enough
        found = narrow_mid(universe, token.token_id, params.max_spread)
        if found is None:
            return None
        mid, now = found
        start = universe.as_of - params.window
        reference = price_in_force(universe.history.get(token.token_id, ()), start, before=now)
        if reference is None:
            return None
        move = mid - reference.price
        if abs(move) < params.min_move:
            return None
        book = universe.fresh_book(token.token_id)
        if book is None or not is_liquid(book, params.max_spread, params.min_top_size):
            return None
        size_bps = (abs(move) * BPS).quantize(Decimal("0.01"))
        direction = "up" if move > 0 else "down"
        message = (
            f"{market.question}: {token.label} mid {_fmt_price(reference.price)} → {_fmt_price(mid)} "
            f"({move * 100:+.1f} pts) within {format_duration(params.window)}; "
            f"spread {book.spread}, top {book.bid_size}/{book.ask_size} sh (indicator: a move, not an edge)"
        )
        return Finding(
            subject=f"market:{market.id}",
            message=message,
            edge_score=min(1.0, float(abs(move) / FULL_SCORE_MOVE)),
            measure=Measure("move_bps", size_bps),
            entry=entry_for(market, direction, universe),
            market_id=market.id,
            group_key=f"market:{market.id}",
            payload={
                "direction": direction,
                "token_id": token.token_id,
                "outcome": token.label,
                "from_price": str(reference.price),
                "to_price": str(mid),
                "move": str(move),
                "reference_ts": reference.ts.isoformat(),
                "to_ts": now.isoformat(),
                "window_seconds": int(params.window.total_seconds()),
                "best_bid": str(book.best_bid),
                "best_ask": str(book.best_ask),
                "spread": str(book.spread),
                "bid_size": str(book.bid_size),
                "ask_size": str(book.ask_size),
            },
            variant=direction,
        )


def each_market(rule: RuleSpec, universe: Universe, screened: list[Market] | None,
                check: Callable[[Market], Finding | None]) -> list[Finding]:
    """``check`` on every changed tradable market of the rule's scope — or on those a screen let
    through (``screened``; ``None``: no screen ran) — the findings in market order."""
    markets = universe.changed_tradable(rule.scope) if screened is None else screened
    return [f for m in markets if (f := check(m)) is not None]


def narrow_mid(universe: Universe, token_id: str, max_spread: Decimal) -> tuple[Decimal, datetime] | None:
    """(mid, book time) of the token's fresh quote when it is two-sided and no wider than
    ``max_spread`` (read from the top of the book: no book is built); ``None`` otherwise."""
    quote = universe.fresh_quote(token_id)
    if quote is None or quote[1] is None or quote[2] is None or quote[2] - quote[1] > max_spread:
        return None
    return (quote[1] + quote[2]) / 2, quote[0] or universe.as_of


def screen(rule: RuleSpec, params: SpikeParams, universe: Universe) -> list[Market] | None:
    """The changed markets that may have moved by ``min_move`` (``None``: no arrays to screen with,
    every changed market is checked). A superset of what :meth:`Spike._check` keeps: the same
    reference (the mid in force at the window's start, else the first one seen before the book's
    time), compared in exact micro-units with the thresholds rounded the lenient way."""
    tops, history = universe.tops, universe.history
    if tops is None or not tops.exact or not isinstance(history, MidHistory):
        return None
    in_force = history.in_force.get(params.window)
    if in_force is None:
        return None
    cols = scoped_columns(rule, universe)
    at, yes, mid2, now = cols.two_sided_quotes(cols.changed(universe.changed), params.max_spread, universe.as_of)
    ref2 = in_force.mid2[yes]
    first = history.first_ts[yes]
    fallback = (in_force.ts[yes] < 0) & (first >= 0) & (first < now)
    ref2 = np.where(fallback, history.first2[yes], ref2)
    has_ref = (in_force.ts[yes] >= 0) | fallback
    moved = np.abs(mid2 - ref2) >= floor_micro(2 * params.min_move)
    return [cols.markets[i] for i in at[has_ref & moved].tolist()]


def scoped_columns(rule: RuleSpec, universe: Universe) -> MarketColumns:
    """The rule's tradable in-scope markets as arrays (worked out once per run, ``universe.memo``)."""
    key = ("market-columns", rule.scope)
    found = universe.memo.get(key)
    if found is None:
        assert universe.tops is not None
        found = universe.memo[key] = MarketColumns(
            universe.tops, [m for m in universe.scoped_markets(rule.scope) if m.tradable])
    return found


def _ts(p: PricePoint) -> datetime:
    return p.ts


def price_in_force(history: Sequence[PricePoint], at: datetime, before: datetime | None = None) -> PricePoint | None:
    """The last point at or before ``at`` of an ascending history. When the token was first seen after
    ``at`` (and before ``before``), its first point stands in: the price it was first observed at."""
    i = bisect_right(history, at, key=_ts)
    if i:
        return history[i - 1]
    if history and before is not None and history[0].ts < before:
        return history[0]
    return None


def entry_for(market: Market, direction: str, universe: Universe) -> Entry | None:
    """What a position following a move would buy: YES at its best ask (up), NO at its (down)."""
    outcome = market.yes if direction == "up" else market.no
    if outcome is None:
        return None
    book = universe.fresh_book(outcome.token_id)
    if book is None or book.best_ask is None:
        return None
    return Entry(outcome.token_id, market.id, outcome.label, book.best_ask)
