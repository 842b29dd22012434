"""What SYNONYM_MISPRICE and CROSS_MARKET_MISPRICE share: a market's usable YES quote, and the
"buy YES of one market + NO of another" set that pays at least 1 whatever happens — *given a proven
fact relating the two* (:mod:`mpx.domain.payout`) — priced with
:func:`mpx.domain.rules.sets.price_set` (equal shares, fees per fill, minimum order sizes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mpx.domain.findings import Arbitrage, Measure
from mpx.domain.models import Book, Market
from mpx.domain.money import BPS
from mpx.domain.payout import Constraint, guaranteed, payout_table
from mpx.domain.rules.base import Finding, Scope, SignalLevel, Universe
from mpx.domain.rules.sets import LegBook, PricedSet, cannot_profit, limit_prices, make_arbitrage, price_set


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
    arbitrage: Arbitrage
    payload: dict[str, Any]

    @property
    def bps(self) -> Decimal:
        return self.arbitrage.net_edge_bps

    @property
    def max_level(self) -> SignalLevel:
        return "P2" if self.arbitrage.fee_unknown else "P1"


def price_yes_no(buy_yes: Market, buy_no: Market, universe: Universe, size: Decimal,
                 fact: Constraint) -> PricedPair | None:
    """Buy YES of ``buy_yes`` and NO of ``buy_no`` in equal shares, given the proven ``fact`` that
    relates the two (an equivalence or an implication): profitable after fees in every state the fact
    allows, or ``None``. The payout is what the set's table gives — 1 when the fact holds; a fact
    that does not relate them this way leaves a state that pays 0, and nothing is returned."""
    no = buy_no.no
    if no is None or cannot_profit((buy_yes.yes, no), universe, Decimal(1)):
        return None
    table = payout_table([buy_yes.yes.token_id, no.token_id], [buy_yes, buy_no], [fact])
    payout = guaranteed(table)
    if payout <= 0:
        return None
    yes_book = universe.fresh_book(buy_yes.yes.token_id)
    no_book = universe.fresh_book(no.token_id)
    if yes_book is None or no_book is None or not yes_book.asks or not no_book.asks:
        return None
    legs = [LegBook(buy_yes, buy_yes.yes, yes_book.asks), LegBook(buy_no, no, no_book.asks)]
    priced = price_set(legs, size, payout)
    if priced is None:
        return None
    arb = make_arbitrage(legs, priced, table, [fact.basis])
    payload = {
        "target_size": str(size),
        "cost_per_set": str((arb.cost / arb.shares).quantize(Decimal("0.000001"))),
        "limit_prices": limit_prices(legs, priced),
    }
    return PricedPair(priced, arb, payload)


INFO_FULL_SCORE_GAP = Decimal("0.25")
"""A gap of 25 points or more scores 0.5 as an indicator, the most it can (arbitrage scores
bps / 1000, up to 1)."""


def gap_indicator(subject: str, message: str, gap: Decimal, market_id: str, group_key: str,
                  payload: dict[str, Any]) -> Finding:
    """A gap between two markets that is not (or not yet) a tradable, proven edge: an indicator with
    the measure ``gap_bps`` (gap × 10,000), P3 at most, scored on a smaller scale than an arbitrage
    (``min(0.5, gap / 0.5)``) so it never outranks a tradable edge of 500 bps or more. Its variant
    ``indicator`` keeps it a signal (and an opportunity) of its own: the same subject's arbitrage —
    a proven pair once executable — is never continued, re-measured or re-alerted by a gap."""
    return Finding(subject=subject, edge_score=min(0.5, float(gap / INFO_FULL_SCORE_GAP) / 2),
                   message=f"{message} (indicator)", measure=Measure("gap_bps", (gap * BPS).quantize(Decimal("0.01"))),
                   market_id=market_id, group_key=group_key, payload=payload, max_level="P3", variant="indicator")
