"""The rule kinds, by DSL ``type``: the one list the DSL, the engine, the CLI and the tests read.

Adding a kind is one module under ``mpx/domain/rules/`` (a class with ``type``, ``Params``,
``lookback`` and ``evaluate``, see :class:`~mpx.domain.rules.base.RuleKind`) and one line in
``_KINDS`` — or one :func:`register` call for a kind that lives elsewhere (a plug-in, a test).
Modules are imported on first use.
"""

from __future__ import annotations

import importlib

from mpx.domain.rules.base import RuleKind

_KINDS: dict[str, str] = {
    "SUM_LT_1": "mpx.domain.rules.sum_lt_1:SumLt1",
    "SPIKE": "mpx.domain.rules.spike:Spike",
    "ENDGAME": "mpx.domain.rules.endgame:Endgame",
    "DUTCH_BOOK_DETECT": "mpx.domain.rules.dutch_book:DutchBook",
    "TREND_BREAKOUT": "mpx.domain.rules.trend_breakout:TrendBreakout",
    "SYNONYM_MISPRICE": "mpx.domain.rules.synonym_misprice:SynonymMisprice",
    "CROSS_MARKET_MISPRICE": "mpx.domain.rules.cross_market:CrossMarketMisprice",
    "CROSS_VENUE": "mpx.domain.rules.cross_venue:CrossVenue",
}
"""type → ``module:Class``."""

_LOADED: dict[str, RuleKind] = {}


def register(rule_type: str, target: str) -> None:
    """Make ``rule_type`` a rule kind, implemented by ``target`` (``package.module:Class``)."""
    module, sep, cls = target.partition(":")
    if not sep or not module or not cls:
        raise ValueError(f"rule kind {rule_type!r}: target {target!r} is not 'package.module:Class'")
    _KINDS[rule_type] = target
    _LOADED.pop(rule_type, None)


def kind_types() -> tuple[str, ...]:
    """Every registered type, in registration order."""
    return tuple(_KINDS)


def get_kind(rule_type: str) -> RuleKind:
    """The kind of ``rule_type`` (its module imported on first use); ``KeyError`` for an unknown type."""
    kind = _LOADED.get(rule_type)
    if kind is None:
        try:
            target = _KINDS[rule_type]
        except KeyError:
            raise KeyError(f"no rule kind {rule_type!r}") from None
        module, _, cls = target.partition(":")
        kind = getattr(importlib.import_module(module), cls)()
        if kind.type != rule_type:
            raise TypeError(f"{target} says its type is {kind.type!r}, registered as {rule_type!r}")
        _LOADED[rule_type] = kind
    return kind


def registry() -> dict[str, RuleKind]:
    """Every registered kind, loaded."""
    return {t: get_kind(t) for t in _KINDS}
