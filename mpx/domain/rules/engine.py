"""The rules engine: run every enabled rule over a universe, turn findings into signals, apply
cooldowns. Pure: the evaluate job and the backtest both call :func:`evaluate_rules`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

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


def apply_cooldown(
    signals: Iterable[Signal],
    last_seen: Mapping[str, datetime],
    cooldowns: Mapping[str, timedelta],
) -> list[Signal]:
    """Drop a signal whose signature was already signalled within its rule's cooldown.

    ``last_seen`` maps signature → time of the latest stored signal; ``cooldowns`` rule id →
    cooldown. Within one batch the first signal of a signature wins.
    """
    seen = dict(last_seen)
    kept: list[Signal] = []
    for s in signals:
        prev = seen.get(s.signature)
        if prev is not None and s.ts - prev < cooldowns.get(s.rule_id, timedelta(0)):
            continue
        seen[s.signature] = s.ts
        kept.append(s)
    return kept
