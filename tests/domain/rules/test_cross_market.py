"""CROSS_MARKET_MISPRICE: a narrower market's YES above the wider one's it implies; executable when
a bid of the narrower exceeds an ask of the wider (YES wider + NO narrower below 1 after fees)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from domain.rules.test_sum_lt_1 import market, universe
from domain.rules.test_synonym_misprice import quotes

from mpx.domain.models import FeeSchedule, Market
from mpx.domain.rules.base import Finding, Relation, RelationKind, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.cross_market import CrossMarketMisprice, CrossMarketParams
from mpx.domain.rules.dsl import load_rules

LEVELS: dict[SignalLevel, D] = {"P1": D(150), "P2": D(50), "P3": D(10)}
ROOT = Path(__file__).resolve().parents[3]


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="cross", type="CROSS_MARKET_MISPRICE", params=CrossMarketParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def u(narrow: str, wide: str, kind: RelationKind = "threshold", ms: list[Market] | None = None,
      **kw: Any) -> Universe:
    # N = "BTC above 80k" (narrower), W = "BTC above 70k" (wider)
    markets = ms or [market("N", question="Will Bitcoin be above $80,000 on December 31, 2026?"),
                     market("W", question="Will Bitcoin be above $70,000 on December 31, 2026?")]
    rel = Relation(key="rel:N>W", narrower="N", wider="W", kind=kind, note="80k ⊂ 70k")
    return universe(markets, quotes(narrow, token="N") + quotes(wide, token="W"), relations=[rel], **kw)


def run(x: Universe, r: RuleSpec | None = None) -> list[Finding]:
    return list(CrossMarketMisprice().evaluate(r or rule(), x))


# N mid 0.60 (bid 0.59), W mid 0.50 (ask 0.51): the narrower bid exceeds the wider ask.
# Buy YES W at 0.51 + NO N at 1 − 0.59 = 0.41 → 0.92/set; 100 sh: 92 for ≥ 100 → 8 / 92 = 869.5652… → 869.56


@pytest.mark.parametrize("kind", ["threshold", "date", "declared"])
def test_an_executable_contradiction_is_priced_whatever_the_relation(kind: RelationKind) -> None:
    [f] = run(u("0.60", "0.50", kind))
    assert (f.subject, f.group_key, f.market_id) == ("relation:rel:N>W", "rel:N>W", "N")
    assert f.metric == D("869.56") and f.estimated_edge_bps == D("869.56") and f.max_level == "P1"
    assert [(leg.token_id, leg.cost) for leg in f.legs] == [("W-yes", D("51.00")), ("N-no", D("41.00"))]
    assert f.executable_shares == D(100) and f.executable_notional == D(92)
    assert f.payload["relation"] == kind and f.payload["executable"] is True
    assert f.payload["market_ids"] == ["N", "W"] and f.payload["gap"] == "0.10"


def test_a_consistent_ladder_is_nothing() -> None:
    assert run(u("0.40", "0.50")) == []
    assert run(u("0.50", "0.50")) == []


def test_overlapping_quotes_are_information_only_above_min_gap() -> None:
    # N mid 0.53 (bid 0.52), W mid 0.50 (ask 0.51): bid 0.52 > ask 0.51, set 0.51 + 0.48 = 0.99 → executable 101.01 bps
    [f] = run(u("0.53", "0.50"))
    assert f.estimated_edge_bps == D("101.01")
    # N mid 0.525 (bid 0.515), W mid 0.50 (ask 0.51): 0.515 > 0.51 but a 25% fee eats the 0.5 cent → information:
    # gap 0.025 > 0.02 → metric 250, P3 at most, no legs
    fee = FeeSchedule(True, D("0.25"), 1)
    [g] = run(u("0.525", "0.50", ms=[market("N", fee=fee), market("W", fee=fee)]))
    assert (g.metric, g.estimated_edge_bps, g.legs, g.max_level) == (D("250.000"), 0, (), "P3")
    # mids 0.515 vs 0.50: bid 0.505 < ask 0.51 and the gap 0.015 is below min_gap → nothing
    assert run(u("0.515", "0.50")) == []


def test_unknown_fee_caps_at_p2_and_skips_are_honoured() -> None:
    [f] = run(u("0.60", "0.50", ms=[market("N", fee=FeeSchedule(True, None, 1)), market("W")]))
    assert f.max_level == "P2"
    assert run(u("0.60", "0.50", ms=[market("N"), market("W", status="resolved")])) == []
    assert run(u("0.60", "0.50", changed=frozenset({"X"}))) == []
    assert len(run(u("0.60", "0.50", changed=frozenset({"W"})))) == 1
    assert run(u("0.60", "0.50", unobserved=frozenset({"W-yes"}))) == []
    assert run(u("0.60", "0.50"), rule(Scope(market_ids=("N",)))) == []
    assert run(universe([market("N")], quotes("0.60", token="N"),
                        relations=[Relation("rel:N>W", "N", "W", "threshold")])) == []  # W unknown


def test_the_shipped_rule_file_validates() -> None:
    [r] = load_rules([ROOT / "rules" / "cross_market_misprice.yaml"])
    assert r.type == "CROSS_MARKET_MISPRICE"
