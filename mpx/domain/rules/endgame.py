"""ENDGAME — a market ending within H hours whose likely outcome still trades below a threshold:
buy it, hold to resolution; reports the return after fees and its annualised rate.

* Only markets with ``0 < end_date − as_of ≤ within``.
* The likely outcome is the outcome whose fresh, two-sided book has the highest mid (the first
  outcome on a tie); outcomes without such a book are not candidates. Its mid must be
  ``≥ min_probability`` and its best ask ``≤ max_price``.
* Buy ``S = min(size, depth of the asks priced ≤ max_price)`` shares, floored to 0.01 and not
  below ``min_order_size``, walking those asks with a taker fee per level fill. Levels above
  ``max_price`` are never bought: ``max_price`` is the most the rule pays for a share.
* A share pays 1 **if the outcome resolves as expected**, and 0 if not: this is a directional bet,
  not an arbitrage (at mid 0.90 the book itself says the other outcome wins about one time in ten,
  and then the whole cost is lost). So ENDGAME is an **indicator**: its measure
  ``return_if_right_bps = edge_bps(S − cost, cost)`` is the net return to resolution *if right*;
  the message and payload also state the loss if wrong (the cost incl. fees). It never becomes an
  order intent. The annualised return if right is *simple* (not compounded):
  ``profit / cost × (365 × 24 h / hours_left)``, rounded half-even to 4 places.
"""

from __future__ import annotations

import builtins
from bisect import bisect_right
from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.durations import Duration
from mpx.domain.findings import Entry, Measure
from mpx.domain.models import Book, Market, Outcome
from mpx.domain.money import depth, edge_bps, round_to_tick, walk_book
from mpx.domain.rules.base import Finding, RuleSpec, SignalLevel, Universe

SECONDS_PER_YEAR = Decimal(365 * 24 * 3600)
FULL_SCORE_BPS = Decimal(500)
"""A net return of 500 bps to resolution scores edge_score 1."""


class EndgameParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    within: Duration = Field(timedelta(hours=24), description="market ends within this")
    min_probability: Decimal = Field(
        Decimal("0.85"), gt=0, lt=1, description="the outcome's mid must be ≥ this"
    )
    max_price: Decimal = Field(Decimal("0.99"), gt=0, lt=1, description="…and its ask ≤ this")
    size: Decimal = Field(Decimal("100"), gt=0, description="target shares")


def _seconds(td: timedelta) -> Decimal:
    """A timedelta in seconds, exactly (no float rounding)."""
    return Decimal(td.days * 86400 + td.seconds) + Decimal(td.microseconds) / Decimal(1_000_000)


def _likely(market: Market, universe: Universe) -> tuple[Outcome, Book, Decimal] | None:
    best: tuple[Outcome, Book, Decimal] | None = None
    for outcome in market.outcomes:
        book = universe.fresh_book(outcome.token_id)
        if book is None or book.mid is None:
            continue
        if best is None or book.mid > best[2]:
            best = (outcome, book, book.mid)
    return best


class Endgame:
    type: ClassVar[str] = "ENDGAME"
    Params: ClassVar[builtins.type[BaseModel]] = EndgameParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, EndgameParams)
        findings: list[Finding] = []
        # Time-driven: a market drifts into the window with an unchanged book, so every market is
        # checked, not only the changed ones (the rule's cooldown keeps it from repeating).
        # only markets ending within the window can qualify: the tradable in-scope markets sorted by
        # end date once per run (``memo``), then a binary search per pass
        key = ("endgame-by-end", rule.scope)
        by_end = universe.memo.get(key)
        if by_end is None:
            dated = sorted((m for m in universe.scoped_markets(rule.scope) if m.tradable and m.end_date is not None),
                           key=lambda m: m.end_date or universe.as_of)
            by_end = universe.memo[key] = ([m.end_date for m in dated], dated)
        ends, dated = by_end
        lo = bisect_right(ends, universe.as_of)
        hi = bisect_right(ends, universe.as_of + params.within)
        for market in dated[lo:hi]:
            finding = self._check(market, params, universe)
            if finding is not None:
                findings.append(finding)
        return findings

    def _check(self, market: Market, params: EndgameParams, universe: Universe) -> Finding | None:
        if market.end_date is None:
            return None
        left = market.end_date - universe.as_of
        if not timedelta(0) < left <= params.within:
            return None
        likely = _likely(market, universe)
        if likely is None:
            return None
        outcome, book, mid = likely
        best_ask = book.best_ask
        if mid < params.min_probability or best_ask is None or best_ask > params.max_price:
            return None
        asks = tuple(lv for lv in book.asks if lv.price <= params.max_price)
        shares = min(params.size, depth(asks)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if shares <= 0 or shares < market.min_order_size:
            return None
        fill = walk_book(asks, shares, market.fee)
        cost = fill.total
        profit = shares - cost
        if not fill.complete or profit <= 0 or fill.vwap is None or fill.worst_price is None:
            return None
        bps = edge_bps(profit, cost)
        seconds_left = _seconds(left)
        hours_left = seconds_left / 3600
        annualized = (profit * SECONDS_PER_YEAR / (cost * seconds_left)).quantize(Decimal("0.0001"))
        fee_unknown = not market.fee.known
        max_level: SignalLevel = "P2" if fee_unknown else "P1"
        vwap = fill.vwap.quantize(Decimal("0.000001"))
        message = (
            f"{market.question}: {outcome.label} mid {mid}, ends in {hours_left:.1f}h — "
            f"{shares.normalize():f} sh at vwap {vwap:.4f} + fees {fill.fee}: {bps:+.1f} bps to resolution "
            f"if {outcome.label} wins ({annualized * 100:.1f}%/yr simple), −{cost:.2f} if it does not "
            f"(indicator: a directional bet)"
            + (" (fee rate unknown, priced as 0)" if fee_unknown else "")
        )
        return Finding(
            subject=f"market:{market.id}",
            message=message,
            edge_score=min(1.0, float(bps / FULL_SCORE_BPS)),
            measure=Measure("return_if_right_bps", bps),
            entry=Entry(outcome.token_id, market.id, outcome.label, vwap),
            market_id=market.id,
            group_key=f"market:{market.id}",
            payload={
                "outcome": outcome.label,
                "token_id": outcome.token_id,
                "mid": str(mid),
                "best_ask": str(best_ask),
                "shares": str(shares),
                "vwap": str(vwap),
                "cost": str(cost),
                "fees": str(fill.fee),
                "profit_if_right": str(profit),
                "loss_if_wrong": str(cost),
                "annualized_return": str(annualized),
                "annualized_basis": "simple",
                "hours_left": str(hours_left.quantize(Decimal("0.01"))),
                "end_date": market.end_date.isoformat(),
                "limit_price": str(round_to_tick(fill.worst_price, market.tick_size, up=True)),
                "fee_unknown": fee_unknown,
            },
            max_level=max_level,
            variant=outcome.label,
        )
