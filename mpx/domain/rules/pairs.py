"""What SYNONYM_MISPRICE and CROSS_MARKET_MISPRICE share: a market's usable YES quote, and the
"buy YES of one market + NO of another" set that pays at least 1 whatever happens, priced with
:func:`mpx.domain.rules.sets.price_set` (equal shares, fees per fill, minimum order sizes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mpx.domain.models import ZERO, Book, Market
from mpx.domain.money import edge_bps, round_to_tick
from mpx.domain.rules.base import Leg, Scope, SignalLevel, Universe
from mpx.domain.rules.sets import LegBook, PricedSet, cannot_profit, make_leg, price_set


@dataclass(frozen=True, slots=True)
class Quote:
    market: Market
    yes: Book  # fresh and two-sided
    mid: Decimal


def quote(market: Market | None, universe: Universe, scope: Scope) -> Quote | None:
    """A binary, tradable, in-scope market with a fresh two-sided YES book, else ``None``."""
    if market is None or not market.tradable or len(market.outcomes) != 2 or not scope.admits(market):
        return None
    book = universe.fresh_book(market.yes.token_id)
    if book is None or book.mid is None:
        return None
    return Quote(market, book, book.mid)


@dataclass(frozen=True, slots=True)
class PricedPair:
    priced: PricedSet
    legs: tuple[Leg, ...]
    bps: Decimal
    fee_unknown: bool
    payload: dict[str, Any]

    @property
    def max_level(self) -> SignalLevel:
        return "P2" if self.fee_unknown else "P1"


def price_yes_no(buy_yes: Market, buy_no: Market, universe: Universe, size: Decimal) -> PricedPair | None:
    """Buy YES of ``buy_yes`` and NO of ``buy_no`` in equal shares: profitable after fees, or ``None``."""
    no = buy_no.no
    if no is None or cannot_profit((buy_yes.yes, no), universe, Decimal(1)):
        return None
    yes_book = universe.fresh_book(buy_yes.yes.token_id)
    no_book = universe.fresh_book(no.token_id) if no is not None else None
    if no is None or yes_book is None or no_book is None or not yes_book.asks or not no_book.asks:
        return None
    legs = [LegBook(buy_yes, buy_yes.yes, yes_book.asks), LegBook(buy_no, no, no_book.asks)]
    priced = price_set(legs, size)
    if priced is None:
        return None
    bps = edge_bps(priced.profit, priced.cost)
    fee_unknown = any(not leg.market.fee.known for leg in legs)
    payload = {
        "shares": str(priced.shares), "target_size": str(size), "cost": str(priced.cost),
        "fees": str(sum((f.fee for f in priced.fills), ZERO)),
        "cost_per_set": str((priced.cost / priced.shares).quantize(Decimal("0.000001"))),
        "payout": str(priced.payout), "profit": str(priced.profit),
        "limit_prices": [str(round_to_tick(f.worst_price, leg.market.tick_size, up=True))
                         for leg, f in zip(legs, priced.fills, strict=True) if f.worst_price is not None],
        "fee_unknown": fee_unknown,
    }
    return PricedPair(priced, tuple(make_leg(leg, f) for leg, f in zip(legs, priced.fills, strict=True)), bps,
                      fee_unknown, payload)
