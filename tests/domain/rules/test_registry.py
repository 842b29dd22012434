"""One registry of rule kinds, read by the DSL, the engine and the CLI: a kind is one module and one
registration, nothing else."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from domain.rules.test_sum_lt_1 import T0, book, market, universe

from mpx.domain.rules import registry
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules
from mpx.errors import ConfigError

from helpers import invoke_mpx

RULE = """\
id: cheap-yes
type: CHEAP_YES
params:
  below: 0.20
levels:
  P3: 0
"""


@pytest.fixture
def throwaway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))  # undone after the test
    monkeypatch.setattr(registry, "_LOADED", {})
    registry.register("CHEAP_YES", "domain.rules.throwaway_kind:Cheap")


def test_the_shipped_kinds_are_the_registry(tmp_path: Path) -> None:
    assert registry.kind_types() == ("SUM_LT_1", "SPIKE", "ENDGAME", "DUTCH_BOOK_DETECT", "TREND_BREAKOUT",
                                     "SYNONYM_MISPRICE", "CROSS_MARKET_MISPRICE", "CROSS_VENUE")
    assert {t: k.type for t, k in registry.registry().items()} == {t: t for t in registry.kind_types()}
    (tmp_path / "r.yaml").write_text(RULE)
    with pytest.raises(ConfigError) as exc:  # not registered: unknown, and the message lists the known ones
        load_rules([tmp_path])
    assert "unknown rule type 'CHEAP_YES' (known: SUM_LT_1, SPIKE" in str(exc.value)


def test_a_kind_registered_once_is_validated_evaluated_and_listed(throwaway: None, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "cheap.yaml").write_text(RULE)
    [rule] = load_rules([rules_dir])  # the DSL validates its params with the kind's own model
    assert rule.type == "CHEAP_YES" and rule.params.below == D("0.20")  # type: ignore[attr-defined]
    u = universe([market("M")], [book("M-yes", [("0.16", "100")], [("0.14", "100")])])
    [s] = evaluate_rules([rule], u)  # the engine runs it
    assert (s.rule_type, s.level, s.measure.value if s.measure else None) == ("CHEAP_YES", "P3", D("500.00"))
    assert s.ts == T0
    out = invoke_mpx("rules", "list", "--format", "json", env={"MPX_RULES_DIR": str(rules_dir)})
    assert out.code == 0 and '"type": "CHEAP_YES"' in out.stdout  # the CLI lists it
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cheap.yaml").write_text(RULE.replace("below: 0.20", "above: 1"))
    with pytest.raises(ConfigError, match=r"params\.above: unknown key"):
        load_rules([bad])


def test_a_registration_must_name_a_class() -> None:
    with pytest.raises(ValueError, match=r"not 'package\.module:Class'"):
        registry.register("X", "just_a_module")
