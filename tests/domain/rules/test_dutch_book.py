"""DUTCH_BOOK_DETECT: the YES bids of a complete negRisk event sum above 1 — bought as every NO for
less than the N − 1 the NO legs pay, at executable depth, after fees. Worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from domain.rules.test_sum_lt_1 import T0, book, fed_event, market, universe

from mpx.domain.models import FeeSchedule, Market
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.dsl import load_rules
from mpx.domain.rules.dutch_book import DutchBook, DutchBookParams
from mpx.domain.rules.engine import evaluate_rules

LEVELS: dict[SignalLevel, D] = {"P1": D(300), "P2": D(100), "P3": D(0)}
ROOT = Path(__file__).resolve().parents[3]


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="dutch", type="DUTCH_BOOK_DETECT", params=DutchBookParams(**params), levels=LEVELS,
                    scope=scope or Scope())


def run(u: Universe, r: RuleSpec | None = None) -> list[Finding]:
    return list(DutchBook().evaluate(r or rule(), u))


def markets(**a_kw: Any) -> list[Market]:
    return [market("A", event_id="E1", neg_risk=True, **a_kw), market("B", event_id="E1", neg_risk=True),
            market("C", event_id="E1", neg_risk=True)]


def books(a_no: list[tuple[str, str]] | None = None) -> list[Any]:
    # YES bids 0.45 / 0.35 / 0.25 (sum 1.05); NO asks mirror them: 0.55 / 0.65 / 0.75
    return [
        book("A-yes", [("0.46", "300")], [("0.45", "320")]),
        book("B-yes", [("0.36", "300")], [("0.35", "320")]),
        book("C-yes", [("0.26", "300")], [("0.25", "320")]),
        book("A-no", a_no or [("0.55", "320"), ("0.56", "500")]),
        book("B-no", [("0.65", "320"), ("0.66", "500")]),
        book("C-no", [("0.75", "320"), ("0.76", "500")]),
    ]


# 100 NO shares of each: 55 + 65 + 75 = 195 for a set paying 2 × 100 = 200 → profit 5
# edge = 5 / 195 × 10,000 = 256.4102… → 256.41 bps


def test_bids_above_one_are_bought_as_every_no_below_n_minus_one() -> None:
    [f] = run(universe(markets(), books(), [fed_event()]))
    assert (f.subject, f.group_key, f.market_id) == ("event:E1", "event:E1", None)
    assert f.estimated_edge_bps == D("256.41") and f.metric == D("256.41")
    assert f.executable_shares == D(100) and f.executable_notional == D(195)
    assert [(leg.token_id, leg.side, leg.shares, leg.cost) for leg in f.legs] == [
        ("A-no", "BUY", D(100), D("55.00")), ("B-no", "BUY", D(100), D("65.00")), ("C-no", "BUY", D(100), D("75.00"))]
    assert f.arbitrage is not None and f.arbitrage.payout == D(200) and f.arbitrage.profit == D(5)
    # The payout in every state: one market wins, its NO pays 0, the other two NOs pay 1 each.
    assert [(s.state, s.payout) for s in f.arbitrage.states] == [
        ("YES: Will A win?", D(2)), ("YES: Will B win?", D(2)), ("YES: Will C win?", D(2))]
    assert f.payload["sum_yes_bids"] == "1.05" and f.payload["market_ids"] == ["A", "B", "C"]
    assert f.payload["limit_prices"] == ["0.55", "0.65", "0.75"] and f.max_level == "P1"


def test_the_most_profitable_size_is_found_below_a_thin_first_level() -> None:
    # A's NO: 0.55 × 50 then 0.70 × 500. At 100 sh: A 27.50 + 35.00 = 62.50, B 65, C 75 → 202.50 > 200.
    # At A's boundary 50 sh: 27.50 + 32.50 + 37.50 = 97.50 for 100 → profit 2.50 → 256.41 bps
    [f] = run(universe(markets(), books([("0.55", "50"), ("0.70", "500")]), [fed_event()]))
    assert f.executable_shares == D(50) and f.estimated_edge_bps == D("256.41")


def test_fees_are_charged_per_fill_and_can_eat_the_edge() -> None:
    # 2% fee on A's NO: 100 × 0.02 × 0.55 × 0.45 = 0.495 → cost 195.495, profit 4.505 → 230.44 bps
    [f] = run(universe(markets(fee=FeeSchedule(True, D("0.02"), 1)), books(), [fed_event()]))
    assert f.estimated_edge_bps == D("230.44") and f.arbitrage is not None and f.arbitrage.fees == D("0.49500")
    # a 25% rate: 100 × 0.25 × 0.2475 = 6.1875 > the 5 of profit → nothing at any size
    assert run(universe(markets(fee=FeeSchedule(True, D("0.25"), 1)), books(), [fed_event()])) == []


def test_unknown_fee_rate_caps_at_p2() -> None:
    [f] = run(universe(markets(fee=FeeSchedule(True, None, 1)), books(), [fed_event()]))
    assert f.max_level == "P2" and f.arbitrage is not None and f.arbitrage.fee_unknown is True


def test_bids_summing_to_one_or_less_are_nothing() -> None:
    assert run(universe(markets(), books([("0.60", "320")]), [fed_event()])) == []  # 0.60 + 0.65 + 0.75 = 2.00


def test_incomplete_augmented_and_placeholder_events_are_not_outcome_sets() -> None:
    ms, bs = markets(), books()
    assert run(universe(ms, bs, [fed_event(neg_risk_augmented=True)])) == []
    assert run(universe([replace(ms[0], status="closed"), *ms[1:]], bs, [fed_event()])) == []
    assert run(universe(ms, bs, [fed_event(market_ids=("A", "B", "C", "D"))])) == []  # D is not there
    other = replace(ms[2], question="Other", neg_risk_other=True)
    assert run(universe([*ms[:2], other], bs, [fed_event()])) == []


def test_stale_missing_or_empty_no_books_and_unchanged_events_are_skipped() -> None:
    ms = markets()
    stale = [b if b.token_id != "B-no" else replace(b, ts=T0 - timedelta(minutes=10)) for b in books()]
    assert run(universe(ms, stale, [fed_event()])) == []
    assert run(universe(ms, books(), [fed_event()], unobserved=frozenset({"C-no"}))) == []
    assert run(universe(ms, [b for b in books() if b.token_id != "A-no"], [fed_event()])) == []
    assert run(universe(ms, books(), [fed_event()], changed=frozenset({"X"}))) == []
    assert len(run(universe(ms, books(), [fed_event()], changed=frozenset({"B"})))) == 1


def test_a_one_sided_no_book_is_skipped() -> None:
    # A's NO book has bids but no asks: no NO to buy, so no set
    ms, bs = markets(), books()
    one_sided = [b if b.token_id != "A-no" else book("A-no", [], [("0.54", "300")]) for b in bs]
    assert run(universe(ms, one_sided, [fed_event()])) == []


def test_minimum_order_size_applies_to_every_leg() -> None:
    # B's minimum order is 150 NO shares: size 100 cannot be placed → nothing
    ms = [markets()[0], market("B", event_id="E1", neg_risk=True, min_order_size=D(150)), markets()[2]]
    assert run(universe(ms, books(), [fed_event()])) == []
    # size 200: 200 × 1.95 = 390 for 200 × 2 = 400 → profit 10 → 10 / 390 = 256.41 bps
    [f] = run(universe(ms, books(), [fed_event()]), rule(size=200))
    assert f.executable_shares == D(200) and f.executable_notional == D(390)
    assert f.arbitrage is not None and f.arbitrage.profit == D(10) and f.estimated_edge_bps == D("256.41")
    # A's NO only 4 deep (below the default minimum order of 5) → nothing at any size
    assert run(universe(markets(), books([("0.55", "4")]), [fed_event()])) == []


def test_limit_prices_are_rounded_up_to_the_tick() -> None:
    # A trades on a 0.1 tick (contrived): its worst NO price 0.55 becomes a limit of 0.6
    [f] = run(universe(markets(tick_size=D("0.1")), books(), [fed_event()]))
    assert f.payload["limit_prices"] == ["0.6", "0.65", "0.75"]


def test_message_and_engine_level() -> None:
    u = universe(markets(), books(), [fed_event()])
    [f] = run(u)
    assert f.message == ("Fed decision in March?: 3 NO legs cost 1.9500/set, pay 2 in every state, at 100 sh "
                         "after fees → +256.4 bps net (YES bids sum 1.05)")
    # 256.41 bps: P2 with LEVELS (P1 300, P2 100)
    [signal] = evaluate_rules([rule()], u)
    assert signal.level == "P2" and signal.executable_notional == D(195)


def test_scope_must_admit_every_market_of_the_event() -> None:
    u = universe(markets(), books(), [fed_event()])
    assert run(u, rule(Scope(market_ids=("A", "B")))) == []
    assert len(run(u, rule(Scope(neg_risk=True)))) == 1


def test_the_shipped_rule_file_validates() -> None:
    [r] = load_rules([ROOT / "rules" / "dutch_book_detect.yaml"])
    assert r.type == "DUTCH_BOOK_DETECT" and isinstance(r.params, DutchBookParams)
