"""The rule kinds, by DSL ``type``. Adding a kind = one module + one line here."""

from __future__ import annotations

from mpx.domain.rules.base import RuleKind

KNOWN_TYPES = (
    "SUM_LT_1", "SPIKE", "ENDGAME", "SYNONYM_MISPRICE", "DUTCH_BOOK_DETECT",
    "CROSS_MARKET_MISPRICE", "TREND_BREAKOUT",
)


def _kinds() -> dict[str, RuleKind]:
    from mpx.domain.rules.endgame import Endgame
    from mpx.domain.rules.spike import Spike
    from mpx.domain.rules.sum_lt_1 import SumLt1

    return {k.type: k for k in (SumLt1(), Spike(), Endgame())}


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
