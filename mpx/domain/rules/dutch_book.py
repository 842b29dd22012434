"""DUTCH_BOOK_DETECT — the bid side of a negRisk event: its YES bids sum above 1.

Exactly one outcome of a complete negRisk event resolves YES, so one NO share of every outcome pays
``N − 1`` USDC whatever happens. When the YES bids sum above 1, the NO asks (1 − YES bid, where the
books mirror) sum below ``N − 1``: buying every NO for less than ``N − 1`` is the executable form of
"split a set and sell the YES legs". There is deliberately no variant that sells YES at the bids:
selling YES requires holding the split set (or the YES shares) first, while buying the NOs needs
only USDC — the same edge, executable from a cash account.

Priced with :func:`mpx.domain.rules.sets.price_set` over every outcome's **NO asks** (fresh books,
equal share counts, each level fill charged its taker fee, never below a market's minimum order
size, the most profitable size up to ``params.size``) with ``payout = N − 1`` per share — the
smallest payout of the set's table over the N states (in each, one market wins and its NO pays 0,
the other N − 1 NOs pay 1):
``profit = S × (N − 1) − Σ cost incl. fees``; the metric is ``edge_bps(profit, cost)``.
Example: 3 outcomes, NO asks 0.55 / 0.65 / 0.75 × 300 → 100 shares cost 195, pay 200 →
5 / 195 = +256.41 bps. Skipped like SUM_LT_1: augmented events, placeholder/"Other" markets,
events listing more markets than are tradable, stale or empty NO books, unchanged events, events
with a market outside the rule's scope. A fee enabled at an unknown rate caps the signal at P2.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.columns import SetScreen
from mpx.domain.models import ZERO, Event, Market
from mpx.domain.payout import guaranteed, payout_table
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.sets import (
    complete_events,
    exactly_one,
    leg_books,
    limit_prices,
    make_arbitrage,
    price_set,
)


class DutchBookParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Decimal = Field(Decimal("100"), gt=0, description="target NO shares per outcome")


def _candidates(scope: Scope, universe: Universe) -> list[tuple[Event, list[Market]]]:
    """The complete negRisk events in scope whose every market has a NO outcome (once per run)."""
    key = ("DUTCH_BOOK", scope)
    found = universe.memo.get(key)
    if found is None:
        found = universe.memo[key] = [(e, ms) for e, ms in complete_events(scope, universe)
                                      if all(m.no is not None for m in ms)]
    return found


def _touched(scope: Scope, universe: Universe) -> list[tuple[Event, list[Market]]]:
    """The candidate events with a changed market; with the books' tops as arrays, only those whose
    NO asks sum below the N − 1 a set pays (every leg with an ask) — a superset of what
    :func:`leg_books` lets through."""
    events = _candidates(scope, universe)
    tops = universe.tops
    if tops is not None and tops.exact:
        key = ("DUTCH_BOOK:screen", scope)
        screen = universe.memo.get(key)
        if screen is None:
            screen = universe.memo[key] = SetScreen(
                tops, [[m.outcomes[1].token_id for m in markets] for _, markets in events],
                [[m.id for m in markets] for _, markets in events], [Decimal(len(ms) - 1) for _, ms in events])
        return [events[i] for i in screen.candidates(universe.changed)]
    return [(e, ms) for e, ms in events if any(universe.is_changed(m.id) for m in ms)]


class DutchBook:
    type: ClassVar[str] = "DUTCH_BOOK_DETECT"
    Params: ClassVar[builtins.type[BaseModel]] = DutchBookParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, DutchBookParams)
        findings: list[Finding] = []
        for event, markets in _touched(rule.scope, universe):
            legs = leg_books([(m, m.outcomes[1]) for m in markets], universe, Decimal(len(markets) - 1))
            if legs is None:
                continue
            fact = exactly_one(event, markets)
            key = ("DUTCH_BOOK:table", event.id)
            table = universe.memo.get(key)
            if table is None:
                table = universe.memo[key] = payout_table([leg.outcome.token_id for leg in legs], markets, [fact])
            payout = guaranteed(table)  # N − 1: every state is one market winning, its NO losing
            priced = price_set(legs, params.size, payout)
            if priced is None:
                continue
            arb = make_arbitrage(legs, priced, table, [fact.basis])
            yes_bids = [universe.fresh_book(m.yes.token_id) for m in markets]
            sum_bids = sum(((b.best_bid or ZERO) for b in yes_bids if b is not None), ZERO)
            bps = arb.net_edge_bps
            max_level: SignalLevel = "P2" if arb.fee_unknown else "P1"
            per_set = (arb.cost / arb.shares).quantize(Decimal("0.000001"))
            shares_txt = f"{arb.shares.normalize():f}"
            message = (f"{event.title}: {len(legs)} NO legs cost {per_set:.4f}/set, pay {payout} in every state, at "
                       f"{shares_txt} sh after fees → {bps:+.1f} bps net (YES bids sum {sum_bids})"
                       + (" (fee rate unknown, priced as 0)" if arb.fee_unknown else ""))
            findings.append(Finding(
                subject=f"event:{event.id}", message=message, edge_score=min(1.0, float(bps) / 1000), arbitrage=arb,
                market_id=None, group_key=f"event:{event.id}",
                payload={
                    "structure": "neg_risk_no_set", "event_id": event.id, "title": event.title,
                    "market_ids": [leg.market.id for leg in legs], "sum_yes_bids": str(sum_bids),
                    "target_size": str(params.size), "cost_per_set": str(per_set),
                    "limit_prices": limit_prices(legs, priced),
                },
                max_level=max_level,
            ))
        return findings
