"""SPIKE — a price move of at least Δ within a window, ignoring thin or wide books.

The current price is the YES token's fresh book mid; the book must be two-sided, no wider than
``max_spread`` and hold at least ``min_top_size`` shares at the best bid *and* the best ask. The
reference price is the history point inside ``[as_of − window, book ts)`` farthest from the
current mid (the earliest one on a tie), so a spike that already started to revert still counts.
The metric is ``|move| × 10,000`` (basis points of probability): a momentum signal, not an
arbitrage — nothing is priced for execution.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.books import is_liquid
from mpx.domain.durations import Duration
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


def _fmt_duration(td: timedelta) -> str:
    total = int(td.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class Spike:
    type: ClassVar[str] = "SPIKE"
    Params: ClassVar[builtins.type[BaseModel]] = SpikeParams

    def lookback(self, params: BaseModel) -> timedelta:
        assert isinstance(params, SpikeParams)
        return params.window

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, SpikeParams)
        findings: list[Finding] = []
        for market in universe.changed_tradable(rule.scope):
            finding = self._check(market, params, universe)
            if finding is not None:
                findings.append(finding)
        return findings

    def _check(self, market: Market, params: SpikeParams, universe: Universe) -> Finding | None:
        token = market.yes
        book = universe.fresh_book(token.token_id)
        if book is None or not is_liquid(book, params.max_spread, params.min_top_size):
            return None
        mid = book.mid
        assert mid is not None
        now = book.ts or universe.as_of
        start = universe.as_of - params.window
        points = [p for p in universe.history.get(token.token_id, []) if start <= p.ts < now]
        if not points:
            return None
        reference: PricePoint = points[0]
        for p in points[1:]:
            if abs(mid - p.price) > abs(mid - reference.price):
                reference = p
        move = mid - reference.price
        if abs(move) < params.min_move:
            return None
        size_bps = (abs(move) * BPS).quantize(Decimal("0.01"))
        direction = "up" if move > 0 else "down"
        elapsed = now - reference.ts
        message = (
            f"{market.question}: {token.label} mid {_fmt_price(reference.price)} → {_fmt_price(mid)} "
            f"({move * 100:+.1f} pts) in {_fmt_duration(elapsed)}; "
            f"spread {book.spread}, top {book.bid_size}/{book.ask_size} sh"
        )
        return Finding(
            subject=f"market:{market.id}",
            message=message,
            metric=size_bps,
            edge_score=min(1.0, float(abs(move) / FULL_SCORE_MOVE)),
            estimated_edge_bps=size_bps,
            market_id=market.id,
            group_key=f"market:{market.id}",
            payload={
                "kind": "momentum",
                "direction": direction,
                "token_id": token.token_id,
                "outcome": token.label,
                "from_price": str(reference.price),
                "to_price": str(mid),
                "move": str(move),
                "from_ts": reference.ts.isoformat(),
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
