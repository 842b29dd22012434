"""SYNONYM_MISPRICE — markets in one synonym group whose YES prices disagree.

For each group (``synonyms.yml``, confirmed pairs, and candidates the matcher proposes) the usable
members are binary, tradable, in-scope markets with a fresh two-sided YES book; their YES mids are
compared. When the highest (``leader``) and lowest (``laggard``) differ by more than ``min_gap`` a
finding is made, with ``gap = leader mid − laggard mid``.

**Arbitrage only on a proven equivalence.** A group is *proven* when its markets are declared in
``synonyms.yml`` by market ids or a person confirmed them (``mpx synonyms confirm``). Then buying
YES of the laggard + NO of the leader pays exactly 1 in every state (both resolve YES: the YES leg
pays; both NO: the NO leg pays; the states where they disagree cannot happen), and when that set
costs less than 1 after fees at executable depth (priced like SUM_LT_1: equal shares, each level
fill charged its taker fee, minimum order sizes, the most profitable size up to ``size``) the
finding is an arbitrage: metric = net edge in bps, legs, size and the payout table; P2 at most
when a fee rate is unknown.
Example: YES 0.62 vs 0.55; laggard YES ask 0.56 + leader NO ask 0.39 = 0.95/set at 100 shares:
cost 95, payout 100 in both states, profit 5 → 5 / 95 × 10,000 = +526.31 bps.

Everything else is an **indicator** with the measure ``gap_bps`` (gap × 10,000, bps of
probability), no legs, P3 at most: a proven group the books do not let anyone trade, and every
*candidate* group (similar text, keyword matches) — "possibly related": "Will Kanye West release an
album in 2026?" and "…a gospel album in 2026?" are not the same question (a non-gospel album pays
the first and not the second), so a gap between them is never an edge.

``edge_score``: arbitrage ``min(1, bps / 1000)`` (as SUM_LT_1); indicator ``min(0.5, gap / 0.5)`` —
a 7-point gap scores 0.14, 25 points or more 0.5 — so an untradable or unproven gap never outranks
a tradable edge of 500 bps or more.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.payout import Equivalent
from mpx.domain.rules.base import Finding, RuleSpec, Universe
from mpx.domain.rules.pairs import gap_indicator, price_yes_no, quote


class SynonymMispriceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_gap: Decimal = Field(Decimal("0.025"), gt=0, lt=1, description="YES mids must differ by more than this")
    size: Decimal = Field(Decimal("100"), gt=0, description="target shares per leg of the executable set")


class SynonymMisprice:
    type: ClassVar[str] = "SYNONYM_MISPRICE"
    Params: ClassVar[builtins.type[BaseModel]] = SynonymMispriceParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, SynonymMispriceParams)
        findings: list[Finding] = []
        for group in universe.groups:
            quotes = [q for q in (quote(universe.markets.get(mid), universe, rule.scope) for mid in group.market_ids)
                      if q is not None]
            if len(quotes) < 2 or not any(universe.is_changed(q.market.id) for q in quotes):
                continue
            leader = max(quotes, key=lambda q: q.mid)
            laggard = min(quotes, key=lambda q: q.mid)
            gap = leader.mid - laggard.mid
            if gap <= params.min_gap:
                continue
            pair = None
            if group.proven:
                fact = Equivalent(laggard.market.id, leader.market.id, group.basis or f"proven group {group.key}")
                pair = price_yes_no(laggard.market, leader.market, universe, params.size, fact)
            payload = {
                "group": group.key, "group_name": group.name, "group_source": group.source, "proven": group.proven,
                "group_basis": group.basis, "market_ids": [q.market.id for q in quotes],
                "leader": leader.market.id, "laggard": laggard.market.id, "gap": str(gap),
                "leader_mid": str(leader.mid), "laggard_mid": str(laggard.mid),
                "laggard_yes_ask": str(laggard.yes.best_ask), "leader_yes_bid": str(leader.yes.best_bid),
                "mids": {q.market.id: str(q.mid) for q in quotes}, "executable": pair is not None,
            }
            head = (f"{group.name}: YES {leader.mid} ({leader.market.question}) vs {laggard.mid} "
                    f"({laggard.market.question}), gap {gap * 100:.1f} pts")
            if pair is not None:
                findings.append(Finding(
                    subject=f"group:{group.key}", edge_score=min(1.0, float(pair.bps) / 1000),
                    message=f"{head}; proven equivalent ({group.basis}): YES laggard + NO leader "
                            f"{pair.payload['cost_per_set']}/set pays 1 in every state, at "
                            f"{pair.arbitrage.shares.normalize():f} sh after fees → {pair.bps:+.1f} bps net",
                    arbitrage=pair.arbitrage, market_id=laggard.market.id, group_key=group.key,
                    payload={**payload, **pair.payload}, max_level=pair.max_level,
                ))
                continue
            why = ("proven equivalent, but not executable after fees and depth" if group.proven else
                   f"possibly related, NOT a proven equivalence ({group.basis or group.source}): "
                   "confirm or reject with `mpx synonyms candidates`")
            findings.append(gap_indicator(f"group:{group.key}", f"{head}; {why}", gap, laggard.market.id, group.key,
                                          payload))
        return findings
