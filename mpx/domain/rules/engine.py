"""The rules engine: run every enabled rule over a universe and turn findings into signals (the
episodes module then decides which of them alert). Pure: the evaluate job and the backtest both
call :func:`evaluate_rules`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from mpx.domain.rules.base import Finding, RuleSpec, Signal, Universe, signature
from mpx.domain.rules.registry import get_kind


def lookback_for(rules: Iterable[RuleSpec]) -> timedelta:
    """The longest history window any enabled rule needs."""
    windows = [get_kind(r.type).lookback(r.params) for r in rules if r.enabled]
    return max(windows, default=timedelta(0))


def evaluate_rules(rules: Sequence[RuleSpec], universe: Universe) -> list[Signal]:
    """All signals the enabled rules raise on ``universe`` (before cooldown)."""
    signals: list[Signal] = []
    for rule in rules:
        if not rule.enabled:
            continue
        kind = get_kind(rule.type)
        for f in kind.evaluate(rule, universe):
            metric = f.metric
            level = rule.level_for(metric, f.max_level)
            if level is None:
                continue
            signals.append(
                Signal(
                    ts=universe.as_of,
                    rule_id=rule.id,
                    rule_type=rule.type,
                    level=level,
                    message=f.message,
                    edge_score=round(min(max(f.edge_score, 0.0), 1.0), 4),
                    signature=signature(rule.id, f.subject, f.variant),
                    arbitrage=f.arbitrage,
                    measure=f.measure,
                    entry=f.entry,
                    market_id=f.market_id,
                    group_key=f.group_key,
                    payload=stored_payload(f, metric),
                )
            )
    return signals


def stored_payload(f: Finding, metric: Decimal) -> dict[str, Any]:
    """The rule's details plus the typed finding as JSON: ``class``, then ``arbitrage`` (legs, the
    payout in every state, basis, size, cost, profit) or ``measure`` (and ``entry``)."""
    payload: dict[str, Any] = {"class": f.finding_class, **f.payload}
    if f.arbitrage is not None:
        payload["arbitrage"] = f.arbitrage.as_dict()
    if f.measure is not None:
        payload["measure"] = f.measure.as_dict()
    if f.entry is not None:
        payload["entry"] = f.entry.as_dict()
    payload["metric"] = str(metric)
    return payload
