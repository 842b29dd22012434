"""SUM_LT_1: a complete set (all YES of a negRisk event, or YES + NO of a binary market) bought
below the 1 USDC it pays, at executable depth, after fees. Expectations are worked out by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from mpx.domain.models import NO_FEES, Book, Event, FeeSchedule, Level, Market, Outcome
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.engine import evaluate_rules
from mpx.domain.rules.sum_lt_1 import SumLt1, SumLt1Params

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEE_2PCT = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)
UNKNOWN_FEE = FeeSchedule(enabled=True, rate=None)
LEVELS: dict[SignalLevel, D] = {"P1": D(300), "P2": D(100), "P3": D(0)}


def market(mid: str, **kw: Any) -> Market:
    outcomes = (Outcome(f"{mid}-yes", mid, "Yes", 0), Outcome(f"{mid}-no", mid, "No", 1))
    fields: dict[str, Any] = {"question": f"Will {mid} win?", "outcomes": outcomes} | kw
    return Market(id=mid, **fields)


def book(token: str, asks: Sequence[tuple[str, str]] = (), bids: Sequence[tuple[str, str]] = (),
         ts: datetime = T0) -> Book:
    return Book(token, tuple(Level(D(p), D(s)) for p, s in bids),
                tuple(Level(D(p), D(s)) for p, s in asks), ts)


def universe(markets: Iterable[Market], books: Iterable[Book], events: Iterable[Event] = (),
             **kw: Any) -> Universe:
    return Universe(
        as_of=T0,
        markets={m.id: m for m in markets},
        events={e.id: e for e in events},
        books={b.token_id: b for b in books},
        **kw,
    )


def rule(scope: Scope | None = None, **params: Any) -> RuleSpec:
    return RuleSpec(id="sum", type="SUM_LT_1", params=SumLt1Params(**params), levels=LEVELS,
                    scope=scope or Scope())


def run(u: Universe, r: RuleSpec | None = None) -> list[Finding]:
    return list(SumLt1().evaluate(r or rule(), u))


# --- a 3-outcome negRisk event ---------------------------------------------------------------
#
# YES asks (best first), size 100:
#   A: 0.30 × 60, 0.31 × 100   (fees on: rate 0.02, exponent 1)
#   B: 0.33 × 200
#   C: 0.32 × 150
# S = min(100, depths 160, 200, 150) = 100 ≥ min order 5.
#   A: 60 × 0.30 = 18.00 (fee 60 × 0.02 × 0.30 × 0.70 = 0.252)
#      40 × 0.31 = 12.40 (fee 40 × 0.02 × 0.31 × 0.69 = 0.17112)  → 30.40 + 0.42312 fees
#   B: 100 × 0.33 = 33.00
#   C: 100 × 0.32 = 32.00
# cost = 30.40 + 0.42312 + 33.00 + 32.00 = 95.82312; payout 100; profit 4.17688
# edge = 4.17688 / 95.82312 × 10,000 = 435.8948… → 435.89 bps
# (The other candidate size, A's level boundary at 60 shares, costs 18 + 0.252 + 19.80 + 19.20
#  = 57.252 for a profit of 2.748 < 4.17688, so 100 shares are reported.)


def fed_event(**kw: Any) -> Event:
    fields: dict[str, Any] = {"title": "Fed decision in March?", "market_ids": ("A", "B", "C"),
                              "neg_risk": True} | kw
    fields.setdefault("listed_markets", len(fields["market_ids"]))  # the source listed exactly these
    return Event(id="E1", **fields)


def fed_markets(a_fee: FeeSchedule = FEE_2PCT) -> list[Market]:
    return [
        market("A", event_id="E1", neg_risk=True, fee=a_fee),
        market("B", event_id="E1", neg_risk=True),
        market("C", event_id="E1", neg_risk=True),
    ]


def fed_books() -> list[Book]:
    return [
        book("A-yes", [("0.30", "60"), ("0.31", "100")]),
        book("B-yes", [("0.33", "200")]),
        book("C-yes", [("0.32", "150")]),
        # Cheap NO books: YES + NO of a negRisk market would look like an arbitrage if the rule
        # (wrongly) treated the event's markets as binaries.
        book("A-no", [("0.10", "500")]),
        book("B-no", [("0.10", "500")]),
        book("C-no", [("0.10", "500")]),
    ]


def test_neg_risk_event_below_one_is_reported_with_exact_edge() -> None:
    [f] = run(universe(fed_markets(), fed_books(), [fed_event()]))
    assert f.subject == "event:E1"
    assert f.group_key == "event:E1"
    assert f.market_id is None
    assert f.estimated_edge_bps == D("435.89")
    assert f.metric == D("435.89")
    assert f.edge_score == pytest.approx(0.43589)  # 435.89 / 1000
    assert f.executable_shares == D("100.00")
    assert f.executable_notional == D("95.82312")
    assert f.max_level == "P1"
    assert [(leg.token_id, leg.shares, leg.cost, leg.fee, leg.worst_price) for leg in f.legs] == [
        ("A-yes", D(100), D("30.40"), D("0.42312"), D("0.31")),
        ("B-yes", D(100), D("33.00"), D(0), D("0.33")),
        ("C-yes", D(100), D("32.00"), D(0), D("0.32")),
    ]
    assert f.legs[0].vwap == D("0.304")  # 30.40 / 100
    arb = f.arbitrage
    assert arb is not None and f.finding_class == "arbitrage"
    # The payout in every state: exactly one of A, B, C resolves YES; its YES leg pays 1.
    assert [(s.state, s.payout) for s in arb.states] == [
        ("YES: Will A win?", D(1)), ("YES: Will B win?", D(1)), ("YES: Will C win?", D(1))]
    assert arb.payout_per_share == 1 and arb.payout == D(100)
    assert arb.profit == D("4.17688") and arb.cost == D("95.82312") and arb.fees == D("0.42312")
    assert "negRisk event E1 is complete" in arb.basis[0]
    assert f.payload["cost_per_set"] == "0.958231"
    assert f.payload["sum_best_ask"] == "0.95"  # 0.30 + 0.33 + 0.32
    assert arb.fee_unknown is False
    assert f.payload["limit_prices"] == ["0.31", "0.33", "0.32"]
    assert f.message == (
        "Fed decision in March?: 3 YES legs cost 0.9582/set, pay 1 in every state, at 100 sh after fees "
        "→ +435.9 bps net"
    )


def test_binary_yes_plus_no_below_one() -> None:
    # YES 0.47 × 100; NO 0.50 × 40, 0.51 × 100; S = min(100, 100, 140) = 100
    # YES 47.00 + NO (20.00 + 60 × 0.51 = 30.60) = 97.60; profit 2.40
    # edge = 2.40 / 97.60 × 10,000 = 245.9016… → 245.90 bps
    # (candidate 40 sh: 18.80 + 20.00 = 38.80, profit 1.20 < 2.40)
    m = market("M", question="Will it rain?")
    u = universe([m], [book("M-yes", [("0.47", "100")]), book("M-no", [("0.50", "40"), ("0.51", "100")])])
    [f] = run(u)
    assert f.subject == "market:M"
    assert f.market_id == "M"
    assert f.estimated_edge_bps == D("245.90")
    assert f.executable_shares == D("100.00")
    assert f.executable_notional == D("97.60")
    assert f.payload["structure"] == "binary"
    # YES resolves: the YES leg pays 1; NO resolves: the NO leg pays 1.
    assert f.arbitrage is not None
    assert [(s.state, s.payout) for s in f.arbitrage.states] == [("YES: Will it rain?", D(1)),
                                                                  ("every market NO", D(1))]
    assert f.message == ("Will it rain?: YES+NO cost 0.9760/set, pay 1 in every state, at 100 sh after fees "
                         "→ +245.9 bps net")


def test_smaller_size_at_a_level_boundary_is_reported_when_full_size_loses() -> None:
    # YES 0.45 × 20, 0.60 × 100; NO 0.50 × 200; size 100
    # at 100 sh: YES 9.00 + 80 × 0.60 = 57.00; NO 50.00 → 107.00 > 100: a loss
    # at YES's level boundary, 20 sh: 9.00 + 10.00 = 19.00; profit 1.00
    # edge = 1 / 19 × 10,000 = 526.3157… → 526.31 bps
    m = market("M")
    u = universe([m], [book("M-yes", [("0.45", "20"), ("0.60", "100")]), book("M-no", [("0.50", "200")])])
    [f] = run(u)
    assert f.executable_shares == D("20.00")
    assert f.executable_notional == D("19.00")
    assert f.estimated_edge_bps == D("526.31")


def test_skips_augmented_event() -> None:
    assert run(universe(fed_markets(), fed_books(), [fed_event(neg_risk_augmented=True)])) == []


def test_skips_event_with_neg_risk_other_market() -> None:
    markets = fed_markets()
    markets[2] = replace(markets[2], neg_risk_other=True)
    assert run(universe(markets, fed_books(), [fed_event()])) == []


def test_skips_event_with_placeholder_named_market() -> None:
    markets = fed_markets()
    markets[2] = replace(markets[2], question="Will another party control the Senate?")
    assert run(universe(markets, fed_books(), [fed_event()])) == []
    markets[2] = replace(markets[2], question="Other")
    assert run(universe(markets, fed_books(), [fed_event()])) == []


def test_skips_event_listing_an_inactive_market() -> None:
    # D is listed by the event but inactive: buying A + B + C is not a complete set.
    d = market("D", event_id="E1", neg_risk=True, active=False)
    event = fed_event(market_ids=("A", "B", "C", "D"))
    books = [*fed_books(), book("D-yes", [("0.01", "1000")])]
    assert run(universe([*fed_markets(), d], books, [event])) == []


def test_skips_event_listing_a_market_it_does_not_know() -> None:
    event = fed_event(market_ids=("A", "B", "C", "X"))
    assert run(universe(fed_markets(), fed_books(), [event])) == []


def test_skips_stale_book() -> None:
    books = fed_books()
    books[2] = replace(books[2], ts=T0 - timedelta(minutes=10))  # max_book_age 5 min
    assert run(universe(fed_markets(), books, [fed_event()])) == []


def test_book_unchanged_but_recently_observed_is_fresh() -> None:
    books = fed_books()
    books[2] = replace(books[2], ts=T0 - timedelta(minutes=10))
    u = universe(fed_markets(), books, [fed_event()], observed={"C-yes": T0 - timedelta(seconds=30)})
    assert len(run(u)) == 1


def test_skips_closed_market() -> None:
    m = market("M", status="closed")
    u = universe([m], [book("M-yes", [("0.40", "100")]), book("M-no", [("0.40", "100")])])
    assert run(u) == []
    markets = fed_markets()
    markets[1] = replace(markets[1], accepting_orders=False)
    assert run(universe(markets, fed_books(), [fed_event()])) == []


def test_skips_empty_asks() -> None:
    books = fed_books()
    books[2] = book("C-yes", asks=[], bids=[("0.31", "100")])
    assert run(universe(fed_markets(), books, [fed_event()])) == []


def test_skips_missing_book() -> None:
    books = [b for b in fed_books() if b.token_id != "C-yes"]
    assert run(universe(fed_markets(), books, [fed_event()])) == []


def test_skips_depth_below_min_order_size() -> None:
    # YES + NO = 0.80 would be a fat edge, but only 4 YES shares are offered (< min order 5).
    m = market("M")
    u = universe([m], [book("M-yes", [("0.40", "4")]), book("M-no", [("0.40", "100")])])
    assert run(u) == []
    # The largest min_order_size of the legs applies.
    m2 = market("M", min_order_size=D(50))
    u2 = universe([m2], [book("M-yes", [("0.40", "40")]), book("M-no", [("0.40", "100")])])
    assert run(u2) == []


def test_fees_can_turn_the_edge_negative() -> None:
    yes, no = book("M-yes", [("0.49", "100")]), book("M-no", [("0.50", "100")])
    # No fees: 49 + 50 = 99, profit 1 → 1 / 99 → 101.01 bps
    [f] = run(universe([market("M")], [yes, no]))
    assert f.estimated_edge_bps == D("101.01")
    # Rate 0.03: fees 100 × 0.03 × 0.49 × 0.51 = 0.7497 and 100 × 0.03 × 0.5 × 0.5 = 0.75
    # → cost 100.4997 > 100 at every size (single levels: per-share cost is constant)
    fee = FeeSchedule(enabled=True, rate=D("0.03"), exponent=1)
    assert run(universe([market("M", fee=fee)], [yes, no])) == []


def test_unknown_fee_rate_caps_at_p2_and_prices_fee_as_zero() -> None:
    # As the Fed event, but A's fee rate is unknown and priced as 0:
    # cost 30.40 + 33.00 + 32.00 = 95.40; profit 4.60; 4.60 / 95.40 → 482.18 bps
    u = universe(fed_markets(a_fee=UNKNOWN_FEE), fed_books(), [fed_event()])
    [f] = run(u)
    assert f.estimated_edge_bps == D("482.18")
    assert f.max_level == "P2"
    assert f.arbitrage is not None and f.arbitrage.fee_unknown is True
    assert "fee rate unknown" in f.message
    # 482.18 reaches the P1 threshold (300) but the engine caps it at P2.
    [signal] = evaluate_rules([rule()], u)
    assert signal.level == "P2"


def test_unchanged_event_is_not_reported() -> None:
    u = universe(fed_markets(), fed_books(), [fed_event()], changed=frozenset({"Z"}))
    assert run(u) == []
    # One changed market is enough for the event.
    u = universe(fed_markets(), fed_books(), [fed_event()], changed=frozenset({"B"}))
    assert len(run(u)) == 1


def test_unchanged_binary_is_not_reported() -> None:
    m = market("M")
    books = [book("M-yes", [("0.40", "100")]), book("M-no", [("0.40", "100")])]
    assert run(universe([m], books, changed=frozenset())) == []


def test_out_of_scope_is_not_reported() -> None:
    # An event is checked only when every one of its markets is in scope.
    u = universe(fed_markets(), fed_books(), [fed_event()])
    assert run(u, rule(Scope(market_ids=("A", "B")))) == []
    assert len(run(u, rule(Scope(event_ids=("E1",))))) == 1
    m = market("M", category="politics")
    u2 = universe([m], [book("M-yes", [("0.40", "100")]), book("M-no", [("0.40", "100")])])
    assert run(u2, rule(Scope(categories=("sports",)))) == []
    assert len(run(u2, rule(Scope(categories=("Politics",))))) == 1


def test_include_flags() -> None:
    m = market("M")
    u = universe([*fed_markets(), m], [*fed_books(), book("M-yes", [("0.40", "100")]),
                                      book("M-no", [("0.40", "100")])], [fed_event()])
    assert {f.subject for f in run(u)} == {"event:E1", "market:M"}
    assert {f.subject for f in run(u, rule(include_binary=False))} == {"event:E1"}
    assert {f.subject for f in run(u, rule(include_neg_risk=False))} == {"market:M"}


def test_no_edge_when_set_costs_one_or_more() -> None:
    m = market("M", fee=NO_FEES)
    u = universe([m], [book("M-yes", [("0.50", "100")]), book("M-no", [("0.50", "100")])])
    assert run(u) == []
