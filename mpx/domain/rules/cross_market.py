"""CROSS_MARKET_MISPRICE — related markets that contradict each other.

Every :class:`~mpx.domain.rules.base.Relation` says "``narrower`` YES implies ``wider`` YES", so
P(narrower) ≤ P(wider): a threshold ladder (BTC above 80k ⊂ above 70k), a date ladder (by March ⊂
by June), a relation declared in ``synonyms.yml`` or confirmed by a person. A contradiction is
the narrower market's YES trading above the wider one's.

**Arbitrage only on a proven relation** (declared, confirmed, or a ladder the matcher proves
structurally — see ``mpx.domain.synonyms``), when a bid of the narrower YES exceeds an ask of the
wider YES: buy YES of ``wider`` + NO of ``narrower`` — a set that pays at least 1 in every state
(1 if both resolve alike, 2 if only the wider one does; "narrower YES, wider NO" cannot happen) —
for less than 1 after fees at executable depth (priced like SUM_LT_1: equal shares, each level
fill charged its taker fee, minimum order sizes, the most profitable size up to ``size``). The
metric is the net edge in bps (P2 at most when a fee rate is unknown). A contradiction of the
mids by more than ``min_gap`` that the books do not let anyone trade, and any contradiction on an
unproven (candidate) relation, is an **indicator**: measure ``gap_bps`` = mid gap × 10,000, no
legs, P3 at most.
Example: "above 80k" bid 0.59 vs "above 70k" ask 0.51: 0.51 + (1 − 0.59) = 0.92/set at 100 shares:
cost 92, payout at least 100 → 8 / 92 × 10,000 = +869.56 bps (P1 with the shipped levels). The
edge is counted on the guaranteed payout of 1 per set; the extra 1 when only the wider market
resolves YES is upside, not counted.

``edge_score``: arbitrage ``min(1, bps / 1000)`` (as SUM_LT_1); an indicator on a smaller
scale, ``min(0.5, gap / 0.5)`` — a 2.5-point contradiction scores 0.05, 25 points or more 0.5 — so
an untradable contradiction never outranks a tradable edge of 500 bps or more.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.payout import Implies
from mpx.domain.rules.base import Finding, RuleSpec, Universe
from mpx.domain.rules.pairs import gap_indicator, price_yes_no, quote


class CrossMarketParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_gap: Decimal = Field(Decimal("0.02"), gt=0, lt=1,
                             description="report a non-executable contradiction of the mids above this")
    size: Decimal = Field(Decimal("100"), gt=0, description="target shares per leg of the executable set")


class CrossMarketMisprice:
    type: ClassVar[str] = "CROSS_MARKET_MISPRICE"
    Params: ClassVar[builtins.type[BaseModel]] = CrossMarketParams

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, CrossMarketParams)
        findings: list[Finding] = []
        for rel in universe.relations:
            narrow = quote(universe.markets.get(rel.narrower), universe, rule.scope)
            wide = quote(universe.markets.get(rel.wider), universe, rule.scope)
            if narrow is None or wide is None:
                continue
            if not (universe.is_changed(rel.narrower) or universe.is_changed(rel.wider)):
                continue
            n_bid, w_ask = narrow.yes.best_bid, wide.yes.best_ask
            assert n_bid is not None and w_ask is not None
            pair = None
            if rel.proven and n_bid > w_ask:
                fact = Implies(rel.narrower, rel.wider, rel.basis or f"proven {rel.kind} relation {rel.key}")
                pair = price_yes_no(wide.market, narrow.market, universe, params.size, fact)
            gap = narrow.mid - wide.mid
            if pair is None and gap <= params.min_gap:
                continue
            payload = {
                "relation": rel.kind, "relation_key": rel.key, "proven": rel.proven, "relation_basis": rel.basis,
                "note": rel.note, "narrower": rel.narrower, "wider": rel.wider,
                "market_ids": [rel.narrower, rel.wider], "narrower_mid": str(narrow.mid), "wider_mid": str(wide.mid),
                "narrower_bid": str(n_bid), "narrower_ask": str(narrow.yes.best_ask),
                "wider_bid": str(wide.yes.best_bid), "wider_ask": str(w_ask), "gap": str(gap),
                "executable": pair is not None,
            }
            head = (f"{narrow.market.question} (YES {narrow.mid}) trades above {wide.market.question} "
                    f"(YES {wide.mid})")
            if pair is not None:
                findings.append(Finding(
                    subject=f"relation:{rel.key}", edge_score=min(1.0, float(pair.bps) / 1000),
                    message=f"{head}, which it implies (proven: {rel.basis}); YES wider + NO narrower "
                            f"{pair.payload['cost_per_set']}/set pays at least 1 in every state, at "
                            f"{pair.arbitrage.shares.normalize():f} sh after fees → {pair.bps:+.1f} bps net",
                    arbitrage=pair.arbitrage, market_id=rel.narrower, group_key=rel.key,
                    payload={**payload, **pair.payload}, max_level=pair.max_level,
                ))
                continue
            why = ("which it implies (proven), but not executable after fees and depth" if rel.proven else
                   f"which it may imply — NOT proven ({rel.basis or rel.kind}): confirm or reject with "
                   "`mpx synonyms candidates`")
            findings.append(gap_indicator(f"relation:{rel.key}", f"{head}, {why}", gap, rel.narrower, rel.key,
                                          payload))
        return findings
