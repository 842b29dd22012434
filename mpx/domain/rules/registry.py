"""The rule kinds, by DSL ``type``. Adding a kind = one module + one line in ``_KINDS``."""

from __future__ import annotations

import importlib

from mpx.domain.rules.base import RuleKind

# type → (module under mpx.domain.rules, class name)
_KINDS: dict[str, tuple[str, str]] = {
    "SUM_LT_1": ("sum_lt_1", "SumLt1"),
    "SPIKE": ("spike", "Spike"),
    "ENDGAME": ("endgame", "Endgame"),
    "DUTCH_BOOK_DETECT": ("dutch_book", "DutchBook"),
    "TREND_BREAKOUT": ("trend_breakout", "TrendBreakout"),
    "SYNONYM_MISPRICE": ("synonym_misprice", "SynonymMisprice"),
    "CROSS_MARKET_MISPRICE": ("cross_market", "CrossMarketMisprice"),
}

KNOWN_TYPES = (
    "SUM_LT_1", "SPIKE", "ENDGAME", "SYNONYM_MISPRICE", "DUTCH_BOOK_DETECT",
    "CROSS_MARKET_MISPRICE", "TREND_BREAKOUT",
)


def _kinds() -> dict[str, RuleKind]:
    out: dict[str, RuleKind] = {}
    for type_, (module, cls) in _KINDS.items():
        kind = getattr(importlib.import_module(f"mpx.domain.rules.{module}"), cls)()
        assert kind.type == type_, (kind.type, type_)
        out[type_] = kind
    return out


_REGISTRY: dict[str, RuleKind] | None = None


def registry() -> dict[str, RuleKind]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _kinds()
    return _REGISTRY


def get_kind(rule_type: str) -> RuleKind:
    try:
        return registry()[rule_type]
    except KeyError:
        raise KeyError(f"no rule kind {rule_type!r}") from None
