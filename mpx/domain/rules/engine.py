"""The rules engine: run every enabled rule over a universe and turn findings into signals (the
episodes module then decides which of them alert). Pure: the evaluate job and the backtest both
call :func:`evaluate_rules`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from mpx.domain.rules.base import RuleSpec, Signal, Universe, signature
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
            level = rule.level_for(f.metric, f.max_level)
            if level is None:
                continue
            payload = dict(f.payload)
            if f.legs:
                payload["legs"] = [leg.as_dict() for leg in f.legs]
            payload["metric"] = str(f.metric)
            signals.append(
                Signal(
                    ts=universe.as_of,
                    rule_id=rule.id,
                    rule_type=rule.type,
                    level=level,
                    message=f.message,
                    edge_score=round(min(max(f.edge_score, 0.0), 1.0), 4),
                    estimated_edge_bps=f.estimated_edge_bps,
                    signature=signature(rule.id, f.subject, f.variant),
                    market_id=f.market_id,
                    group_key=f.group_key,
                    executable_shares=f.executable_shares,
                    executable_notional=f.executable_notional,
                    payload=payload,
                )
            )
    return signals
