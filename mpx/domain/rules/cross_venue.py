"""CROSS_VENUE — the same question on two venues (Polymarket and Kalshi), priced apart.

Only a pair a person **confirmed** (``mpx pairs confirm ID --orientation same|inverted``) whose
verdict still holds (neither market's question, close time, resolution source or rules changed) can
be arbitrage. Its orientation is the proven fact the payout rests on:

* ``same`` — Kalshi YES ≡ Polymarket outcome 0: buy Polymarket outcome 0 + Kalshi NO, or Polymarket
  outcome 1 + Kalshi YES;
* ``inverted`` — Kalshi YES ≡ Polymarket outcome 1: buy Polymarket outcome 0 + Kalshi YES, or
  Polymarket outcome 1 + Kalshi NO.

Either set pays exactly 1 in every state the fact allows (the payout table is in the signal). Both
directions are priced and the better one is reported: equal shares on both venues, each book
walked best-first for that many shares, every level fill charged its venue's taker fee —
Polymarket's per-market schedule (``shares × rate × (p(1 − p))^exponent``, floored to 0.00001),
Kalshi's ``0.07 × multiplier × C × P × (1 − P)`` rounded **up** to the cent per fill — at sizes
that are whole contracts where Kalshi trades whole contracts, no smaller than either venue's
minimum order. Both books must be fresh (observed within ``MPX_MAX_BOOK_AGE``, in their venue's
latest pass) and observed within ``MPX_MAX_CROSS_VENUE_SKEW`` of each other; otherwise nothing is
reported (a gap between a live book and a stale one is not a price).

Worked example (``rules/cross_venue.yaml``): Polymarket "Lions" ask 0.40 (fees off) and Kalshi
"Detroit wins" NO ask 0.55 (YES bid 0.45), orientation ``same``, 100 contracts: Polymarket leg 40.00,
Kalshi leg 55.00 + fee ceil_to_cent(0.07 × 100 × 0.55 × 0.45) = ceil(1.7325) = 1.74; cost 96.74,
payout 100 whatever happens (Lions win: the Polymarket leg pays 100, the Kalshi NO 0; Lions lose: 0
and 100) → profit 3.26 → 3.26 / 96.74 × 10,000 = +336.98 bps.

A pair that is not confirmed (a candidate, or a verdict that lapsed) is at most a P3 indicator with
the measure ``gap_bps``: the gap between the two YES mids under the orientation that makes them
closest (which reading is right is exactly what nobody has checked). A rejected pair is never priced.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.models import Market, Outcome
from mpx.domain.payout import guaranteed, payout_table
from mpx.domain.rules.base import Finding, RuleSpec, Scope, Universe
from mpx.domain.rules.pairs import gap_indicator
from mpx.domain.rules.sets import SHARE_QUANTUM, LegBook, PricedSet, leg_books, limit_prices, make_arbitrage, price_set
from mpx.domain.venue_pairs import VenuePair


class CrossVenueParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Decimal = Field(Decimal("100"), gt=0, description="target shares (contracts) per leg")
    min_gap: Decimal = Field(Decimal("0.03"), gt=0, lt=1,
                             description="candidates: YES mids must differ by more than this to be reported (P3)")


def share_step(market: Market) -> Decimal:
    """Kalshi markets without fractional trading take whole contracts (minimum order 1)."""
    return Decimal(1) if market.venue == "kalshi" and market.min_order_size >= 1 else SHARE_QUANTUM


class CrossVenue:
    type: ClassVar[str] = "CROSS_VENUE"
    Params: ClassVar[builtins.type[BaseModel]] = CrossVenueParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, CrossVenueParams)
        findings: list[Finding] = []
        for pair in universe.venue_pairs:
            if pair.state == "rejected":
                continue
            a, b = universe.markets.get(pair.market_a), universe.markets.get(pair.market_b)
            if not _usable(a, rule.scope) or not _usable(b, rule.scope):
                continue
            assert a is not None and b is not None
            if not (universe.is_changed(a.id) or universe.is_changed(b.id)):
                continue
            if not _in_step(universe, a, b):
                continue
            found = _arbitrage(pair, a, b, universe, params.size) if pair.proven else _candidate(
                pair, a, b, universe, params.min_gap)
            if found is not None:
                findings.append(found)
        return findings


def _usable(m: Market | None, scope: Scope) -> bool:
    return m is not None and m.tradable and len(m.outcomes) == 2 and scope.admits(m)


def _observed(universe: Universe, token: str) -> datetime | None:
    if universe.observed_now:
        return universe.seen_by_venue(token)
    book = universe.books.get(token)
    return universe.observed.get(token, book.ts if book else None)


def _in_step(universe: Universe, a: Market, b: Market) -> bool:
    """Both markets' books fresh and observed within the allowed skew of each other."""
    times = []
    for m in (a, b):
        if universe.fresh_book(m.outcomes[0].token_id) is None:
            return False
        seen = _observed(universe, m.outcomes[0].token_id)
        if seen is None:
            return False
        times.append(seen)
    return abs(times[0] - times[1]) <= universe.max_cross_venue_skew


def _directions(pair: VenuePair, a: Market, b: Market) -> list[tuple[Outcome, Outcome]]:
    """(a's outcome, b's outcome) to buy together, both ways round."""
    if pair.orientation == "same":  # b YES ≡ a outcome 0
        return [(a.outcomes[0], b.outcomes[1]), (a.outcomes[1], b.outcomes[0])]
    return [(a.outcomes[0], b.outcomes[0]), (a.outcomes[1], b.outcomes[1])]  # b YES ≡ a outcome 1


def _arbitrage(pair: VenuePair, a: Market, b: Market, universe: Universe, size: Decimal) -> Finding | None:
    fact = pair.fact()
    step = max(share_step(a), share_step(b))
    best: tuple[PricedSet, list[LegBook], tuple[Outcome, Outcome]] | None = None
    tried = []
    for oa, ob in _directions(pair, a, b):
        table = payout_table([oa.token_id, ob.token_id], [a, b], [fact])
        payout = guaranteed(table)
        assert payout == 1, f"pair {pair.id}: {oa.label} + {ob.label} does not pay 1 in every state"
        legs = leg_books([(a, oa), (b, ob)], universe, payout)
        tried.append(f"{oa.label}@{a.venue} + {ob.label}@{b.venue}")
        if legs is None:
            continue
        priced = price_set(legs, size, payout, step)
        if priced is not None and (best is None or priced.profit > best[0].profit):
            best = (priced, legs, (oa, ob))
    if best is None:
        return None
    priced, legs, (oa, ob) = best
    table = payout_table([oa.token_id, ob.token_id], [a, b], [fact])
    arb = make_arbitrage(legs, priced, table, [fact.basis])
    bps = arb.net_edge_bps
    cost_per_set = (arb.cost / arb.shares).quantize(Decimal("0.000001"))
    payload = {
        "pair": pair.id, "orientation": pair.orientation, "pair_basis": pair.basis,
        "market_ids": [a.id, b.id], "venues": [a.venue, b.venue],
        "buy": [{"venue": a.venue, "market": a.id, "outcome": oa.label, "token": oa.token_id},
                {"venue": b.venue, "market": b.id, "outcome": ob.label, "token": ob.token_id}],
        "directions_tried": tried, "target_size": str(size), "cost_per_set": str(cost_per_set),
        "limit_prices": limit_prices(legs, priced), "executable": True,
    }
    message = (f"{a.venue} {a.question!r} ↔ {b.venue} {b.question!r} (pair {pair.id}, {pair.orientation}): buy "
               f"{oa.label} on {a.venue} + {ob.label} on {b.venue} at {cost_per_set}/set incl. both venues' fees, "
               f"pays 1 in every state, {arb.shares.normalize():f} sh → {bps:+.1f} bps net")
    return Finding(subject=pair.key, edge_score=min(1.0, float(bps) / 1000), message=message, arbitrage=arb,
                   market_id=a.id, group_key=pair.key, payload=payload,
                   max_level="P2" if arb.fee_unknown else "P1")


def _candidate(pair: VenuePair, a: Market, b: Market, universe: Universe, min_gap: Decimal) -> Finding | None:
    book_a = universe.fresh_book(a.outcomes[0].token_id)
    book_b = universe.fresh_book(b.outcomes[0].token_id)
    if book_a is None or book_b is None or book_a.mid is None or book_b.mid is None:
        return None
    same = abs(book_a.mid - book_b.mid)
    inverted = abs((1 - book_a.mid) - book_b.mid)
    gap = min(same, inverted)
    if gap <= min_gap:
        return None
    payload = {"pair": pair.id, "state": pair.state, "pair_basis": pair.basis, "market_ids": [a.id, b.id],
               "venues": [a.venue, b.venue], "mid_a": str(book_a.mid), "mid_b": str(book_b.mid),
               "gap_if_same": str(same), "gap_if_inverted": str(inverted), "executable": False}
    head = (f"{a.venue} {a.question!r} ({a.outcomes[0].label} {book_a.mid}) ↔ {b.venue} {b.question!r} "
            f"(YES {book_b.mid}), gap {gap * 100:.1f} pts under either orientation")
    why = (f"pair {pair.id} is NOT confirmed ({pair.basis}): read both rules, then "
           f"`mpx pairs confirm {pair.id} --orientation same|inverted` or `mpx pairs reject {pair.id}`")
    # its own subject: confirming the pair opens a new (arbitrage) opportunity that alerts at once,
    # not a level rise of the candidate's indicator held back by its cooldown
    return gap_indicator(f"{pair.key}:candidate", f"{head}; {why}", gap, a.id, pair.key, payload)

