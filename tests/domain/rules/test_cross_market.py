"""CROSS_MARKET_MISPRICE: a narrower market's YES above the wider one's it implies; executable when
a bid of the narrower exceeds an ask of the wider (YES wider + NO narrower below 1 after fees)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from domain.rules.test_sum_lt_1 import T0, book, market, universe
from domain.rules.test_synonym_misprice import quotes

from mpx.domain.models import FeeSchedule, Market
from mpx.domain.rules.base import Finding, Relation, RelationKind, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.cross_market import CrossMarketMisprice, CrossMarketParams
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.engine import evaluate_rules

LEVELS: dict[SignalLevel, D] = {"P1": D(150), "P2": D(50), "P3": D(10)}
ROOT = Path(__file__).resolve().parents[3]


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="cross", type="CROSS_MARKET_MISPRICE", params=CrossMarketParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def u(narrow: str, wide: str, kind: RelationKind = "threshold", ms: list[Market] | None = None,
      proven: bool = True, **kw: Any) -> Universe:
    # N = "BTC above 80k" (narrower), W = "BTC above 70k" (wider)
    markets = ms or [market("N", question="Will Bitcoin be above $80,000 on December 31, 2026?"),
                     market("W", question="Will Bitcoin be above $70,000 on December 31, 2026?")]
    rel = Relation(key="rel:N>W", narrower="N", wider="W", kind=kind, note="80k ⊂ 70k", proven=proven,
                   basis="threshold ladder: same rules but for the threshold" if proven else "candidate")
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
    # The payout of YES W + NO N in every state "N YES ⇒ W YES" allows (N YES and W NO cannot happen):
    #   both YES: YES W pays 1, NO N 0 → 1;  W YES only: 1 + 1 → 2;  neither: NO N pays 1 → 1.
    assert f.arbitrage is not None
    assert [(s.state, s.payout) for s in f.arbitrage.states] == [
        ("YES: Will Bitcoin be above $70,000 on December 31, 2026?; Will Bitcoin be above $80,000 on December 31, "
         "2026?", D(1)),
        ("YES: Will Bitcoin be above $70,000 on December 31, 2026?", D(2)),
        ("every market NO", D(1))]
    assert f.arbitrage.payout_per_share == 1


def test_an_unproven_relation_is_never_arbitrage_whatever_the_prices() -> None:
    # The same books, but the relation is only a candidate: without "N ⇒ W" the state "N YES, W NO" stays
    # possible, and there YES W + NO N pays 0. So: an indicator (the gap), P3 at most, no legs.
    [f] = run(u("0.60", "0.50", proven=False))
    assert f.finding_class == "indicator" and f.arbitrage is None and f.max_level == "P3"
    assert f.measure is not None and (f.measure.name, f.measure.value) == ("gap_bps", D("1000.00"))
    assert "NOT proven" in f.message
    [s] = evaluate_rules([rule()], u("0.60", "0.50", proven=False))
    assert s.level == "P3" and s.estimated_edge_bps is None


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
    assert (g.metric, g.estimated_edge_bps, g.legs, g.max_level) == (D("250.00"), None, (), "P3")
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
                        relations=[Relation("rel:N>W", "N", "W", "threshold", proven=True)])) == []  # W unknown


def test_the_shipped_rule_file_validates() -> None:
    [r] = load_rules([ROOT / "rules" / "cross_market_misprice.yaml"])
    assert (r.id, r.type, r.enabled) == ("cross-market", "CROSS_MARKET_MISPRICE", True)
    assert r.params == CrossMarketParams(min_gap=D("0.02"), size=D(100))
    assert dict(r.levels) == {"P1": D(150), "P2": D(50), "P3": D(10)}


def rel_u(markets: list[Market], books: list[Any], kind: RelationKind = "threshold", **kw: Any) -> Universe:
    return universe(markets, books, relations=[Relation("rel:N>W", "N", "W", kind, "80k ⊂ 70k", proven=True,
                                                       basis="declared")], **kw)


def test_a_fee_on_a_leg_is_charged() -> None:
    # W (fee rate 0.02, exponent 1): YES 100 × 0.51 = 51, fee 100 × 0.02 × 0.51 × 0.49 = 0.4998;
    # N's NO 100 × 0.41 = 41 (no fee). cost 92.4998, payout ≥ 100 → profit 7.5002
    # → 7.5002 / 92.4998 × 10,000 = 810.8341… → 810.83 bps
    fee = FeeSchedule(True, D("0.02"), 1)
    [f] = run(u("0.60", "0.50", ms=[market("N"), market("W", fee=fee)]))
    assert f.metric == f.estimated_edge_bps == D("810.83") and f.max_level == "P1"
    assert f.executable_notional == D("92.4998") and [leg.fee for leg in f.legs] == [D("0.4998"), 0]
    assert f.arbitrage is not None and (f.arbitrage.fees, f.arbitrage.profit) == (D("0.4998"), D("7.5002"))
    assert f.arbitrage.fee_unknown is False and f.payload["limit_prices"] == ["0.51", "0.41"]


def test_depth_limits_the_size_and_the_best_size_is_reported() -> None:
    # W's YES ask holds 40 shares: S = 40 → 40 × 0.92 = 36.80 for 40 → 3.20 / 36.80 = 869.56 bps on 40 shares
    [f] = run(rel_u([market("N"), market("W")], quotes("0.60", token="N") + quotes("0.50", token="W", ask_size="40")))
    assert f.executable_shares == D(40) and f.executable_notional == D("36.80") and f.metric == D("869.56")
    # N's YES bids 0.59 × 60 then 0.50 × 340 (its NO asks 0.41 × 60, 0.50 × 340); W's YES ask 0.51 × 400.
    #   100 sh: 51 + 60 × 0.41 + 40 × 0.50 = 51 + 24.60 + 20 = 95.60 → profit 4.40
    #    60 sh: 30.60 + 24.60 = 55.20 → profit 4.80 (more) → 60 shares, 4.80 / 55.20 = 869.56 bps
    n = [book("N-yes", [("0.61", "400")], [("0.59", "60"), ("0.50", "340")]),
         book("N-no", [("0.41", "60"), ("0.50", "340")], [("0.39", "400")])]
    [g] = run(rel_u([market("N"), market("W")], n + quotes("0.50", token="W")))
    assert g.executable_shares == D(60) and g.executable_notional == D("55.20") and g.metric == D("869.56")
    assert g.payload["limit_prices"] == ["0.51", "0.41"]


def test_depth_below_the_minimum_order_size_is_information_only() -> None:
    # W's ask holds 40 shares, W's minimum order is 50: nothing can be bought. Mid gap 0.60 − 0.50 = 0.10
    # > 0.02 → metric 1000, estimated edge 0, no legs, P3 at most; edge_score min(0.5, 0.10 / 0.5) = 0.2
    ms = [market("N"), market("W", min_order_size=D(50))]
    [f] = run(rel_u(ms, quotes("0.60", token="N") + quotes("0.50", token="W", ask_size="40")))
    assert (f.metric, f.estimated_edge_bps, f.legs, f.max_level) == (D("1000.00"), None, (), "P3")
    assert f.executable_shares is None and f.payload["executable"] is False and f.edge_score == 0.2
    [s] = evaluate_rules([rule()], rel_u(ms, quotes("0.60", token="N") + quotes("0.50", token="W", ask_size="40")))
    assert s.level == "P3"


@pytest.mark.parametrize("kind", ["threshold", "date", "declared"])
def test_information_only_contradictions_whatever_the_relation(kind: RelationKind) -> None:
    # the same 25% fee case as above, for every relation kind: gap 0.025 → 250, P3
    fee = FeeSchedule(True, D("0.25"), 1)
    [g] = run(u("0.525", "0.50", kind, ms=[market("N", fee=fee), market("W", fee=fee)]))
    assert (g.metric, g.estimated_edge_bps, g.max_level, g.payload["relation"]) == (D(250), None, "P3", kind)
    assert run(u("0.45", "0.50", kind)) == []  # consistent


def test_the_engine_levels_an_executable_contradiction_p1_and_caps_unknown_fees_at_p2() -> None:
    [s] = evaluate_rules([rule()], u("0.60", "0.50"))
    assert (s.level, s.rule_type, s.estimated_edge_bps, s.market_id) == ("P1", "CROSS_MARKET_MISPRICE",
                                                                         D("869.56"), "N")
    [s] = evaluate_rules([rule()], u("0.60", "0.50", ms=[market("N"), market("W", fee=FeeSchedule(True, None, 1))]))
    assert s.level == "P2"


def test_stale_and_one_sided_books_are_skipped() -> None:
    # W's books last observed 6 minutes ago (max age 5)
    old = T0 - timedelta(minutes=6)
    assert run(u("0.60", "0.50", observed={"W-yes": old, "W-no": old})) == []
    # the book's own timestamp counts when no observation is recorded
    stale = [book(b.token_id, [(str(lv.price), str(lv.size)) for lv in b.asks],
                  [(str(lv.price), str(lv.size)) for lv in b.bids], ts=old) if b.token_id.startswith("N") else b
             for b in quotes("0.60", token="N") + quotes("0.50", token="W")]
    assert run(rel_u([market("N"), market("W")], stale)) == []
    # N's YES book has asks only (no bid to sell into, no mid)
    one_sided = [book("N-yes", [("0.61", "400")]), book("N-no", [("0.41", "400")]), *quotes("0.50", token="W")]
    assert run(rel_u([market("N"), market("W")], one_sided)) == []
    # W's YES book empty
    empty = [*quotes("0.60", token="N"), book("W-yes"), book("W-no")]
    assert run(rel_u([market("N"), market("W")], empty)) == []
