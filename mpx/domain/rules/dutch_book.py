"""DUTCH_BOOK_DETECT — the bid side of a negRisk event: its YES bids sum above 1.

Exactly one outcome of a complete negRisk event resolves YES, so one NO share of every outcome pays
``N − 1`` USDC whatever happens. When the YES bids sum above 1, the NO asks (1 − YES bid, where the
books mirror) sum below ``N − 1``: buying every NO for less than ``N − 1`` is the executable form of
"split a set and sell the YES legs". There is deliberately no variant that sells YES at the bids:
selling YES requires holding the split set (or the YES shares) first, while buying the NOs needs
only USDC — the same edge, executable from a cash account.

Priced with :func:`mpx.domain.rules.sets.price_set` over every outcome's **NO asks** (fresh books,
equal share counts, each level fill charged its taker fee, never below a market's minimum order
size, the most profitable size up to ``params.size``) with ``payout = N − 1`` per share:
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

from mpx.domain.models import ZERO
from mpx.domain.money import edge_bps, round_to_tick
from mpx.domain.rules.base import Finding, RuleSpec, SignalLevel, Universe
from mpx.domain.rules.sets import complete_neg_risk_markets, leg_books, make_leg, price_set


class DutchBookParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Decimal = Field(Decimal("100"), gt=0, description="target NO shares per outcome")


class DutchBook:
    type: ClassVar[str] = "DUTCH_BOOK_DETECT"
    Params: ClassVar[builtins.type[BaseModel]] = DutchBookParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, DutchBookParams)
        findings: list[Finding] = []
        for event in universe.events.values():
            markets = complete_neg_risk_markets(event, universe)
            if markets is None or not all(rule.scope.admits(m) for m in markets):
                continue
            if not any(universe.is_changed(m.id) for m in markets) or any(m.no is None for m in markets):
                continue
            legs = leg_books([(m, m.outcomes[1]) for m in markets], universe, Decimal(len(markets) - 1))
            if legs is None:
                continue
            payout = Decimal(len(legs) - 1)
            priced = price_set(legs, params.size, payout)
            if priced is None:
                continue
            yes_bids = [universe.fresh_book(m.yes.token_id) for m in markets]
            sum_bids = sum(((b.best_bid or ZERO) for b in yes_bids if b is not None), ZERO)
            bps = edge_bps(priced.profit, priced.cost)
            fee_unknown = any(not leg.market.fee.known for leg in legs)
            max_level: SignalLevel = "P2" if fee_unknown else "P1"
            fees = sum((f.fee for f in priced.fills), ZERO)
            per_set = (priced.cost / priced.shares).quantize(Decimal("0.000001"))
            shares_txt = f"{priced.shares.normalize():f}"
            message = (f"{event.title}: {len(legs)} NO legs cost {per_set:.4f}/set, pay {payout} at {shares_txt} sh "
                       f"after fees → {bps:+.1f} bps net (YES bids sum {sum_bids})"
                       + (" (fee rate unknown, priced as 0)" if fee_unknown else ""))
            findings.append(Finding(
                subject=f"event:{event.id}", message=message, metric=bps, edge_score=min(1.0, float(bps) / 1000),
                estimated_edge_bps=bps, market_id=None, group_key=f"event:{event.id}",
                executable_shares=priced.shares, executable_notional=priced.cost,
                legs=tuple(make_leg(leg, f) for leg, f in zip(legs, priced.fills, strict=True)),
                payload={
                    "kind": "arbitrage", "structure": "neg_risk_no_set", "event_id": event.id, "title": event.title,
                    "market_ids": [leg.market.id for leg in legs], "sum_yes_bids": str(sum_bids),
                    "shares": str(priced.shares), "target_size": str(params.size), "cost": str(priced.cost),
                    "fees": str(fees), "cost_per_set": str(per_set), "payout": str(priced.payout),
                    "profit": str(priced.profit),
                    "limit_prices": [str(round_to_tick(f.worst_price, leg.market.tick_size, up=True))
                                     for leg, f in zip(legs, priced.fills, strict=True) if f.worst_price is not None],
                    "fee_unknown": fee_unknown,
                },
                max_level=max_level,
            ))
        return findings
