"""SUM_LT_1 — buy every YES of a negRisk event (or YES + NO of one binary market) for less than
the 1 USDC the set is certain to pay, after taker fees and at executable depth.

How a set is priced (all ``Decimal``, nothing guessed):

* every leg buys the same number of shares ``S`` by walking its token's asks (best-first), each
  level a separate fill charged its own taker fee (:func:`mpx.domain.money.walk_book`);
* ``S`` is at most ``params.size`` and at most the thinnest leg's total ask depth, floored to
  0.01 share, and never below the largest ``min_order_size`` among the legs;
* a set pays ``S`` USDC at resolution in every state of the world — shown, not assumed: the
  finding carries the payout table (:mod:`mpx.domain.payout`) of a complete negRisk event (exactly
  one market resolves YES: one YES leg pays 1 in each of the N states) or of a binary market (YES
  or NO: one leg pays 1 in each of the 2 states); ``profit = S − Σ leg cost incl. fees``. The sizes
  tried are ``S``, the largest minimum order size and every level boundary between (a depth where
  some leg's next share gets dearer), and the most profitable size is reported — the edge at the
  full size can be negative while the first levels are an arbitrage. Nothing is reported unless
  ``profit > 0``.

Guards (API_NOTES §3): negRisk events that are augmented, contain a placeholder/"Other" market,
list a market the source sent but we could not parse, or list more markets than are tradable are
not complete outcome sets and are skipped. A market whose fee is enabled at an unknown rate is
priced fee-free but caps the finding at P2 (and can never become an order intent).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpx.domain.columns import SetScreen
from mpx.domain.models import ONE, ZERO, Event, Market, Outcome
from mpx.domain.payout import Constraint, StatePayout, payout_table
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.sets import (
    BINARY_BASIS,
    LegBook,
    PricedSet,
    complete_events,
    exactly_one,
    leg_books,
    limit_prices,
    make_arbitrage,
    price_set,
)


class SumLt1Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: Decimal = Field(Decimal("100"), gt=0, description="target shares per leg")
    include_binary: bool = Field(True, description="also check YES + NO of single binary markets")
    include_neg_risk: bool = Field(True, description="check the YES legs of negRisk events")


Pairs = list[tuple[Market, Outcome]]


def _candidates(scope: Scope, universe: Universe) -> tuple[list[tuple[Event, Pairs, list[str], frozenset[str]]],
                                                           list[tuple[Market, Pairs, list[str]]]]:
    """What can ever be a complete set in this run, with its legs and their tokens: complete,
    unaugmented negRisk events whose markets are all in scope, and tradable in-scope binary
    markets outside negRisk events. Depends only on the markets and the scope, so it is worked out
    once per run (``universe.memo``)."""
    key = ("SUM_LT_1", scope)
    found = universe.memo.get(key)
    if found is None:
        events = []
        for event, markets in complete_events(scope, universe):
            pairs = [(m, m.yes) for m in markets]
            events.append((event, pairs, [o.token_id for _, o in pairs], frozenset(m.id for m in markets)))
        binaries = []
        for m in universe.scoped_markets(scope):
            if len(m.outcomes) == 2 and not m.neg_risk and m.tradable:
                pairs = [(m, o) for o in m.outcomes]
                binaries.append((m, pairs, [o.token_id for o in m.outcomes]))
        found = universe.memo[key] = (events, binaries)
    return found


def _touched(scope: Scope, universe: Universe) -> tuple[list[tuple[Event, Pairs, list[str], frozenset[str]]],
                                                        list[tuple[Market, Pairs, list[str]]]]:
    """The candidates with a market that changed this step, in candidate order: looked up from the
    changed markets (a step changes a fraction of them), not found by scanning every candidate."""
    events, binaries = _candidates(scope, universe)
    changed = universe.changed
    screened = _screen(scope, universe, events, binaries)
    if screened is not None:
        return screened
    if changed is None:
        return events, binaries
    key = ("SUM_LT_1:by-market", scope)
    index = universe.memo.get(key)
    if index is None:
        by_event: dict[str, list[int]] = {}
        for i, (_, _, _, market_ids) in enumerate(events):
            for mid in market_ids:
                by_event.setdefault(mid, []).append(i)
        index = universe.memo[key] = (by_event, {b[0].id: i for i, b in enumerate(binaries)})
    by_event, by_binary = index
    ev = sorted({i for mid in changed for i in by_event.get(mid, ())})
    bi = sorted(j for mid in changed if (j := by_binary.get(mid)) is not None)
    return [events[i] for i in ev], [binaries[j] for j in bi]


EventSet = tuple[Event, Pairs, list[str], frozenset[str]]
BinarySet = tuple[Market, Pairs, list[str]]


def _screen(scope: Scope, universe: Universe, events: list[EventSet], binaries: list[BinarySet]
            ) -> tuple[list[EventSet], list[BinarySet]] | None:
    """With the books' tops as arrays: only the sets with a changed market whose best asks sum below
    1 (every leg with an ask) — a superset of what :func:`_legs` lets through (it also drops stale
    books); ``None`` without the arrays."""
    tops = universe.tops
    if tops is None or not tops.exact:
        return None
    key = ("SUM_LT_1:screen", scope)
    screen = universe.memo.get(key)
    if screen is None:
        screen = universe.memo[key] = SetScreen(
            tops, [tokens for _, _, tokens, _ in events] + [tokens for _, _, tokens in binaries],
            [sorted(ids) for _, _, _, ids in events] + [[m.id] for m, _, _ in binaries],
            [ONE] * (len(events) + len(binaries)))
    found = screen.candidates(universe.changed)
    n = len(events)
    return [events[i] for i in found if i < n], [binaries[i - n] for i in found if i >= n]


def _legs(pairs: Pairs, tokens: list[str], universe: Universe) -> list[LegBook] | None:
    """The legs' fresh asks, unless the best asks already cost the payout of 1 (then no size profits)."""
    total = universe.sum_fresh_asks(tokens)
    if total is None or total >= ONE:
        return None
    return leg_books(pairs, universe)


def _table(key: Any, tokens: Sequence[str], markets: Sequence[Market], constraints: Sequence[Constraint],
           universe: Universe) -> tuple[StatePayout, ...]:
    """The set's payout in every state, worked out once per run (it depends only on the structure)."""
    memo_key = ("SUM_LT_1:table", key)
    table = universe.memo.get(memo_key)
    if table is None:
        table = universe.memo[memo_key] = payout_table(tokens, markets, constraints)
    return table


def _finding(
    *, subject: str, title: str, what: str, structure: str, legs: Sequence[LegBook],
    priced: PricedSet, size: Decimal, market_id: str | None, table: Sequence[StatePayout], basis: Sequence[str],
    extra: dict[str, Any],
) -> Finding:
    arb = make_arbitrage(legs, priced, table, basis)
    bps = arb.net_edge_bps
    per_set = (arb.cost / arb.shares).quantize(Decimal("0.000001"))
    max_level: SignalLevel = "P2" if arb.fee_unknown else "P1"
    shares_txt = f"{arb.shares.normalize():f}"
    message = (
        f"{title}: {what} cost {per_set:.4f}/set, pay {arb.payout_per_share} in every state, at {shares_txt} sh "
        f"after fees → {bps:+.1f} bps net" + (" (fee rate unknown, priced as 0)" if arb.fee_unknown else "")
    )
    payload: dict[str, Any] = {
        "structure": structure,
        **extra,
        "target_size": str(size),
        "cost_per_set": str(per_set),
        "sum_best_ask": str(sum((leg.asks[0].price for leg in legs), ZERO)),
        "min_order_size": str(max(leg.market.min_order_size for leg in legs)),
        "limit_prices": limit_prices(legs, priced),
    }
    return Finding(
        subject=subject,
        message=message,
        edge_score=min(1.0, float(bps) / 1000),
        arbitrage=arb,
        market_id=market_id,
        group_key=subject,
        payload=payload,
        max_level=max_level,
    )


class SumLt1:
    type: ClassVar[str] = "SUM_LT_1"
    Params: ClassVar[builtins.type[BaseModel]] = SumLt1Params

    def lookback(self, params: BaseModel) -> timedelta:
        return timedelta(0)

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]:
        params = rule.params
        assert isinstance(params, SumLt1Params)
        findings: list[Finding] = []
        events, binaries = _touched(rule.scope, universe)
        if params.include_neg_risk:
            for event, pairs, tokens, _market_ids in events:
                legs = _legs(pairs, tokens, universe)
                priced = price_set(legs, params.size) if legs else None
                if legs is None or priced is None:
                    continue
                markets = [m for m, _ in pairs]
                fact = exactly_one(event, markets)
                findings.append(_finding(
                    subject=f"event:{event.id}", title=event.title, what=f"{len(legs)} YES legs",
                    structure="neg_risk", legs=legs, priced=priced, size=params.size, market_id=None,
                    table=_table(("event", event.id), tokens, markets, [fact], universe), basis=[fact.basis],
                    extra={"event_id": event.id, "title": event.title,
                           "market_ids": [leg.market.id for leg in legs]},
                ))
        if params.include_binary:
            for market, pairs, tokens in binaries:
                legs = _legs(pairs, tokens, universe)
                priced = price_set(legs, params.size) if legs else None
                if legs is None or priced is None:
                    continue
                labels = "+".join(leg.outcome.label.upper() for leg in legs)
                findings.append(_finding(
                    subject=f"market:{market.id}", title=market.question, what=labels,
                    structure="binary", legs=legs, priced=priced, size=params.size, market_id=market.id,
                    table=_table(("market", market.id), tokens, [market], [], universe), basis=[BINARY_BASIS],
                    extra={"market_id": market.id, "question": market.question,
                           "event_id": market.event_id, "market_ids": [market.id]},
                ))
        return findings
