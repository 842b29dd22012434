"""Risk math against hand-computed examples: limit prices, sizing to the per-order limit, every
check of a verdict with its numbers (fee known, depth at the limits, the worst-case edge), the
breaker and settlement PnL. Each arbitrage carries its payout in every state of the world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from mpx.domain.findings import Arbitrage, Leg
from mpx.domain.models import Book, FeeSchedule, Level, Market, Outcome
from mpx.domain.payout import ExactlyOne, payout_table
from mpx.domain.risk import (
    CHECKS,
    Breaker,
    PlanError,
    PlannedLeg,
    Policy,
    Usage,
    assess,
    breaker_after,
    limit_price,
    plan_intent,
    settle_pnl,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FEE_2PCT = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)


def market(mid: str, *, tick: str = "0.01", fee: FeeSchedule | None = None, min_size: str = "5",
           status: str = "active") -> Market:
    return Market(mid, f"Q {mid}?", (Outcome(f"{mid}-yes", mid, "Yes", 0), Outcome(f"{mid}-no", mid, "No", 1)),
                  tick_size=D(tick), fee=fee or FeeSchedule(), min_order_size=D(min_size), status=status)  # type: ignore[arg-type]


def leg(mid: str, vwap: str, shares: str = "100", worst: str | None = None, fee: str = "0",
        outcome: str = "yes") -> Leg:
    return Leg(f"{mid}-{outcome}", mid, outcome.capitalize(), "BUY", D(shares), D(vwap), D(vwap) * D(shares), D(fee),
               D(worst or vwap))


def neg_risk_set(legs: list[Leg], markets: dict[str, Market], fee_unknown: bool = False) -> Arbitrage:
    """Every YES of a complete negRisk event: exactly one market resolves YES, so a set pays 1 in
    every state (the table is computed, not assumed)."""
    ms = [markets[lg.market_id] for lg in legs]
    states = payout_table([lg.token_id for lg in legs], ms, [ExactlyOne(tuple(m.id for m in ms), "complete event")])
    return Arbitrage(tuple(legs), legs[0].shares, states, ("complete event",), fee_unknown)


def binary_set(yes: Leg, no: Leg, m: Market) -> Arbitrage:
    """YES + NO of one binary market: 1 whichever way it resolves."""
    return Arbitrage((yes, no), yes.shares, payout_table([yes.token_id, no.token_id], [m]), ("binary",))


MARKETS = {m: market(m) for m in "abcd"}
SET = neg_risk_set([leg("a", "0.27"), leg("b", "0.31"), leg("c", "0.22"), leg("d", "0.15")], MARKETS)


def test_the_set_pays_one_in_every_state() -> None:
    assert [s.payout for s in SET.states] == [D(1)] * 4 and SET.payout_per_share == 1


def test_limit_price_adds_the_allowance_without_rounding_past_it() -> None:
    # 0.27 × 1.005 = 0.27135 → 0.27 on a 0.01 tick (0.28 would be 370 bps over the VWAP)
    assert limit_price(D("0.27"), D("0.27"), "BUY", 50, D("0.01")) == D("0.27")
    # a 0.001 tick keeps part of the allowance: 0.27135 → 0.271
    assert limit_price(D("0.27"), D("0.27"), "BUY", 50, D("0.001")) == D("0.271")
    # never below the worst level the planned fill takes: VWAP 0.495 over 0.49 and 0.50
    assert limit_price(D("0.495"), D("0.50"), "BUY", 50, D("0.01")) == D("0.50")
    # 300 bps: 0.40 × 1.03 = 0.412 → 0.41
    assert limit_price(D("0.40"), D("0.40"), "BUY", 300, D("0.01")) == D("0.41")
    # never above the last tick
    assert limit_price(D("0.98"), D("0.98"), "BUY", 500, D("0.01")) == D("0.99")
    # a sell mirrors it: 0.60 × 0.97 = 0.582 → 0.59 (up), never above the worst bid taken
    assert limit_price(D("0.60"), D("0.60"), "SELL", 300, D("0.01")) == D("0.59")


def test_plan_keeps_the_signal_size_when_it_fits() -> None:
    plan = plan_intent(SET, MARKETS, Policy(max_notional_per_order=D(100), slippage_bps=50))
    assert plan.shares == D("100")
    assert [lg.limit_price for lg in plan.legs] == [D("0.27"), D("0.31"), D("0.22"), D("0.15")]
    assert plan.notional == D("95")  # 27 + 31 + 22 + 15
    assert plan.max_notional == D("95")  # every leg at its limit
    assert plan.expected_profit == D("5")  # 100 sets pay 100 in every state
    assert plan.expected_edge_bps == D("526.31")  # 5 / 95 = 526.315… floored
    assert plan.payout_per_share == 1


def test_plan_sizes_down_to_the_per_order_limit() -> None:
    # 0.95 per set at the limits: 50 / 0.95 = 52.63 sets → 49.9985 USDC
    plan = plan_intent(SET, MARKETS, Policy(max_notional_per_order=D(50)))
    assert plan.shares == D("52.63")
    assert plan.max_notional == D("49.9985")
    assert plan.notional == D("49.99850")  # the signal's leg costs scaled by 52.63 / 100
    assert "sized down from 100 to 52.63" in plan.note


def test_plan_refuses_a_size_below_the_minimum_order() -> None:
    with pytest.raises(PlanError, match=r"buys only 3\.15 sets.*minimum order size 5"):
        plan_intent(SET, MARKETS, Policy(max_notional_per_order=D(3)))


def test_plan_counts_fees_at_the_limit_price() -> None:
    m = market("e", fee=FEE_2PCT)
    # YES 100 @ 0.48 + NO 100 @ 0.49, no slippage allowance: limits 0.48 and 0.49
    # fees at the limits: 100 × 0.02 × 0.48 × 0.52 = 0.4992 and 100 × 0.02 × 0.49 × 0.51 = 0.4998
    arb = binary_set(leg("e", "0.48", fee="0.4992"), leg("e", "0.49", fee="0.4998", outcome="no"), m)
    plan = plan_intent(arb, {"e": m}, Policy(slippage_bps=0))
    assert plan.max_notional == D("97.9990")  # 48 + 0.4992 + 49 + 0.4998
    assert plan.notional == D("97.99900")
    assert plan.expected_profit == D("2.00100")  # 100 − 97.999


def test_plan_refuses_what_cannot_be_priced() -> None:
    with pytest.raises(PlanError, match="unknown rate"):
        plan_intent(neg_risk_set(list(SET.legs), MARKETS, fee_unknown=True), MARKETS, Policy())
    unknown = {**MARKETS, "b": market("b", fee=FeeSchedule(enabled=True, rate=None))}
    with pytest.raises(PlanError, match="market b charges fees at an unknown rate"):
        plan_intent(SET, unknown, Policy())
    with pytest.raises(PlanError, match="not stored"):
        plan_intent(SET, {k: v for k, v in MARKETS.items() if k != "d"}, Policy())


def planned(mid: str, vwap: str, limit: str, shares: str = "100") -> PlannedLeg:
    cost = D(vwap) * D(shares)
    return PlannedLeg(f"{mid}-yes", mid, "Yes", "BUY", D(shares), D(vwap), D(limit), cost, D(limit) * D(shares))


def books(**asks: list[tuple[str, str]]) -> dict[str, Book]:
    return {f"{m}-yes": Book(f"{m}-yes", (Level(D("0.01"), D(1000)),),
                             tuple(Level(D(p), D(s)) for p, s in lv), NOW) for m, lv in asks.items()}


LEGS = [planned("a", "0.27", "0.27"), planned("b", "0.31", "0.31"), planned("c", "0.22", "0.22"),
        planned("d", "0.15", "0.15")]
FRESH = {f"{m}-yes": NOW - timedelta(seconds=5) for m in "abcd"}
BOOKS = books(a=[("0.27", "500")], b=[("0.31", "500")], c=[("0.22", "500")], d=[("0.15", "500")])


def run(legs: list[PlannedLeg] = LEGS, bks: dict[str, Book] = BOOKS, usage: Usage = Usage(0, D(0), D(0)),
        breaker: Breaker = Breaker(), policy: Policy = Policy(), observed: dict[str, datetime] = FRESH,
        markets: dict[str, Market] = MARKETS):  # type: ignore[no-untyped-def]
    return assess(legs, D(1), markets, bks, observed, usage, breaker, policy, NOW)  # type: ignore[arg-type]


def test_a_clean_verdict_names_every_check_with_its_numbers() -> None:
    v = run()
    assert v.ok and [c.name for c in v.checks] == list(CHECKS) == [
        "breaker", "market_open", "fee_known", "book_fresh", "depth_at_limit", "notional_per_order",
        "concurrent_orders", "daily_notional", "rule_open_intents", "rule_daily_notional", "exposure", "collateral",
        "slippage", "worst_case_edge", "edge"]
    by = {c.name: c for c in v.checks}
    assert by["edge"].value == "526.31 bps" and by["edge"].limit == "> 100 bps"
    assert by["daily_notional"].value == "0 used + 95.00 = 95.00 USDC"
    assert by["book_fresh"].value == "5 s old"
    # 500 offered at each limit, 100 needed: 400 to spare on every leg (the first, a, named)
    assert by["depth_at_limit"].value == "every leg holds its size; least to spare: Yes 400 shares"
    # 100 sets pay 100 in every state; every leg at its limit costs 95.00; the bar is 100 bps of 95.00 = 0.95
    assert by["worst_case_edge"].value == "payout 100 − worst-case cost 95.00 = 5.00 USDC"
    assert by["worst_case_edge"].limit == "≥ 0.95 USDC (100 bps of 95.00)"
    assert v.edge_bps == D("526.31") and v.worst_cost == D("95.00")
    assert v.depths == {f"{m}-yes": D(500) for m in "abcd"}


def binary_legs(yes_limit: str, no_limit: str, shares: str = "100") -> list[PlannedLeg]:
    y = PlannedLeg("x-yes", "x", "Yes", "BUY", D(shares), D(yes_limit), D(yes_limit), D(yes_limit) * D(shares),
                   D(yes_limit) * D(shares))
    n = PlannedLeg("x-no", "x", "No", "BUY", D(shares), D(no_limit), D(no_limit), D(no_limit) * D(shares),
                   D(no_limit) * D(shares))
    return [y, n]


def book(token: str, asks: list[tuple[str, str]], bids: list[tuple[str, str]] | None = None) -> Book:
    return Book(token, tuple(Level(D(p), D(s)) for p, s in bids or [("0.01", "1000")]),
                tuple(Level(D(p), D(s)) for p, s in asks), NOW)


X_FRESH = {"x-yes": NOW - timedelta(seconds=5), "x-no": NOW - timedelta(seconds=5)}


def test_a_leg_whose_book_is_thin_at_its_limit_is_rejected_before_anything_is_sent() -> None:
    # Planned: YES 100 @ 0.30 + NO 100 @ 0.65 of binary market x (pays 1 in both states).
    # The YES book is now 60 @ 0.28 and 40 @ 0.32. The old checks passed: the whole book's VWAP is
    # (60 × 0.28 + 40 × 0.32) / 100 = 0.296, *better* than 0.30 (slippage −133.33 bps), and the edge
    # at it is (100 − 29.60 − 65) / 94.60 = 570.82 bps. But a fill only takes asks at or below the
    # limit: 60 YES and 100 NO would fill — 40 NO naked. depth_at_limit sees it.
    # (slippage −133.33 bps on YES, 0.00 on NO: the check reports the worst leg, 0.00)
    legs = binary_legs("0.30", "0.65")
    bks = {"x-yes": book("x-yes", [("0.28", "60"), ("0.32", "40")]), "x-no": book("x-no", [("0.65", "500")])}
    v = run(legs, bks, observed=X_FRESH, markets={"x": market("x")})
    by = {c.name: c for c in v.checks}
    assert by["slippage"].ok and v.repriced[0].slippage_bps == D("-133.33")  # NO's 0.00 is the worst
    assert by["edge"].ok and by["edge"].value == "570.82 bps"
    assert [c.name for c in v.failed] == ["depth_at_limit"]
    assert by["depth_at_limit"].value == "1 of 2 leg(s) short: Yes (x-yes…) 60 of 100 at ≤ 0.30"
    assert v.depths == {"x-yes": D(60), "x-no": D(500)}
    assert v.counts_for_breaker


def test_the_worst_case_edge_is_every_leg_at_its_limit_plus_fees() -> None:
    # YES 100 @ ≤ 0.31 + NO 100 @ ≤ 0.66 on a market charging 2 % × p(1 − p):
    #   YES 31.00 + 100 × 0.02 × 0.31 × 0.69 = 31.00 + 0.4278 = 31.4278
    #   NO  66.00 + 100 × 0.02 × 0.66 × 0.34 = 66.00 + 0.4488 = 66.4488
    #   worst-case cost 97.8766; 100 sets pay 100 in both states → 2.1234 left
    # at 100 bps the bar is 0.978766 (passes); at 220 bps it is 2.1532852 (fails)
    legs = binary_legs("0.31", "0.66")
    bks = {"x-yes": book("x-yes", [("0.30", "500")]), "x-no": book("x-no", [("0.65", "500")])}
    mk = {"x": market("x", fee=FEE_2PCT)}
    v = run(legs, bks, observed=X_FRESH, markets=mk)
    c = next(c for c in v.checks if c.name == "worst_case_edge")
    assert c.ok and c.value == "payout 100 − worst-case cost 97.87660 = 2.12340 USDC"  # fees to 0.00001
    assert c.limit == "≥ 0.978766 USDC (100 bps of 97.87660)"
    v = run(legs, bks, observed=X_FRESH, markets=mk, policy=Policy(min_edge_bps=D(220), slippage_bps=10_000))
    assert [c.name for c in v.failed] == ["worst_case_edge"]
    assert v.failed[0].limit == "≥ 2.1532852 USDC (220 bps of 97.87660)"
    assert not v.counts_for_breaker  # the plan's limits against the policy's bar: the limits working
    # the per-order and daily limits count the same worst case
    assert next(c for c in v.checks if c.name == "notional_per_order").value == "97.87660 USDC"


def test_a_one_bp_edge_is_refused_under_the_default_minimum() -> None:
    # YES 0.4999 + NO 0.5000 on a 0.0001 tick: 100 sets cost 99.99 and pay 100 — 0.01 = 1.00 bps.
    # EXEC_MIN_EDGE_BPS used to default to 0 (1 bp > 0 executed); it is 100 bps now.
    assert Policy().min_edge_bps == D(100)
    legs = binary_legs("0.4999", "0.5000")
    bks = {"x-yes": book("x-yes", [("0.4999", "500")]), "x-no": book("x-no", [("0.5000", "500")])}
    mk = {"x": market("x", tick="0.0001")}
    v = run(legs, bks, observed=X_FRESH, markets=mk)
    assert {c.name for c in v.failed} == {"worst_case_edge", "edge"}
    by = {c.name: c for c in v.checks}
    assert by["edge"].value == "1.00 bps" and by["edge"].limit == "> 100 bps"
    assert by["worst_case_edge"].value == "payout 100 − worst-case cost 99.9900 = 0.0100 USDC"
    assert run(legs, bks, observed=X_FRESH, markets=mk, policy=Policy(min_edge_bps=D(0))).ok  # the old default


def test_a_fee_that_became_unknown_is_refused_at_confirm() -> None:
    unknown = {**MARKETS, "c": market("c", fee=FeeSchedule(enabled=True, rate=None))}
    v = run(markets=unknown)
    assert [c.name for c in v.failed] == ["fee_known"]
    assert v.failed[0].value == "1 of 4 leg market(s) charge fees at an unknown rate"
    assert v.failed[0].detail == "c: the fills cannot be priced"


def test_capacity_limits_reject_without_counting_for_the_breaker() -> None:
    v = run(usage=Usage(3, D("920"), D(0)), policy=Policy(max_notional_per_order=D(90)))
    failed = {c.name: c for c in v.failed}
    assert set(failed) == {"notional_per_order", "concurrent_orders", "daily_notional"}
    assert failed["concurrent_orders"].value == "3 open + 1" and failed["concurrent_orders"].limit == "3"
    assert failed["daily_notional"].value == "920 used + 95.00 = 1015.00 USDC"
    assert not v.counts_for_breaker
    assert "daily_notional: 920 used + 95.00 = 1015.00 USDC (limit 1000 USDC)" in v.reason


def test_slippage_is_the_worst_leg_against_its_planned_vwap() -> None:
    # leg a re-prices at 0.28: (0.28 − 0.27) / 0.27 = 370.37 bps; the set now costs 96 → edge 416.66 bps;
    # nothing is offered at a's limit 0.27 any more, so its fill-or-kill would be killed
    v = run(bks={**BOOKS, **books(a=[("0.28", "500")])})
    slip = next(c for c in v.checks if c.name == "slippage")
    assert not slip.ok and slip.value == "370.37 bps" and slip.limit == "50 bps"
    assert {c.name for c in v.failed} == {"slippage", "depth_at_limit"}
    assert v.edge_bps == D("416.66")
    assert v.counts_for_breaker


def test_an_edge_that_vanished_is_rejected() -> None:
    # b at 0.36: the set costs 1.00 → no edge at the book; b's limit is still 0.31 (nothing there)
    v = run(bks={**BOOKS, **books(b=[("0.36", "500")])}, policy=Policy(slippage_bps=10_000))
    edge = next(c for c in v.checks if c.name == "edge")
    assert not edge.ok and edge.value == "0.00 bps" and edge.limit == "> 100 bps"
    assert {c.name for c in v.failed} == {"edge", "depth_at_limit"}


def test_stale_missing_and_closed() -> None:
    old = {**FRESH, "a-yes": NOW - timedelta(minutes=5)}
    v = run(observed=old)
    # a stale book holds nothing a fill-or-kill order can rely on
    assert [c.name for c in v.failed] == ["book_fresh", "depth_at_limit"] and v.failed[0].value == "300 s old"
    assert "Yes (a-yes…) 0 of 100 at ≤ 0.27 (no fresh book)" in v.failed[1].value
    v = run(bks={k: b for k, b in BOOKS.items() if k != "d-yes"},
            observed={k: t for k, t in FRESH.items() if k != "d-yes"})
    assert {c.name for c in v.failed} == {"book_fresh", "depth_at_limit", "slippage", "edge"}
    v = run(markets={**MARKETS, "c": market("c", status="resolved")})
    assert [c.name for c in v.failed] == ["market_open"] and v.failed[0].detail == "c"


def test_the_breaker_open_closes_after_its_cooldown_and_opens_on_a_loss() -> None:
    open_b = Breaker("open", NOW - timedelta(minutes=10), NOW + timedelta(minutes=20), "3 consecutive", 3)
    v = run(breaker=open_b)
    assert [c.name for c in v.failed] == ["breaker"] and "3 consecutive" in v.failed[0].detail
    assert not v.counts_for_breaker
    expired = Breaker("open", NOW - timedelta(hours=1), NOW - timedelta(seconds=1), "x", 3)
    v = run(breaker=expired)
    assert v.ok and v.breaker_action == "close"
    v = run(usage=Usage(0, D(0), D("-50.00")))
    assert v.breaker_action == "open" and "realised loss 50.00 USDC within 1d (limit 50)" in v.failed[0].detail
    assert run(usage=Usage(0, D(0), D("-49.99"))).ok


def test_breaker_counts_consecutive_market_failures_and_resets_on_success() -> None:
    p = Policy(breaker_max_failures=3, breaker_cooldown=timedelta(minutes=30))
    b = Breaker()
    b, opened = breaker_after(b, True, False, p, NOW, "slippage")
    b, opened = breaker_after(b, False, False, p, NOW, "daily_notional")  # capacity: not counted
    assert b.consecutive_failures == 1 and opened is None
    b, _ = breaker_after(b, True, False, p, NOW, "edge")
    b, opened = breaker_after(b, True, False, p, NOW, "stale")
    assert b.state == "open" and b.open_until == NOW + timedelta(minutes=30)
    assert opened == "3 consecutive rejections/failures (last: stale)"
    b2, _ = breaker_after(Breaker(consecutive_failures=2), False, True, p, NOW, "")
    assert b2.consecutive_failures == 0


def test_a_naked_position_keeps_the_breaker_open_whatever_its_cooldown() -> None:
    expired = Breaker("open", NOW - timedelta(hours=1), NOW - timedelta(seconds=1), "intent 7 unwinding", 1)
    v = run(breaker=expired, usage=Usage(1, D(0), D(0), naked=(7,)))
    assert [c.name for c in v.failed] == ["breaker"] and v.breaker_action is None
    assert "naked position: intent(s) 7 unwinding" in v.failed[0].detail
    assert not run(usage=Usage(1, D(0), D(0), naked=(7,))).ok  # a reset breaker too


def test_settlement_pnl_by_hand() -> None:
    fills = [{"token_id": "a-yes", "side": "BUY", "shares": "100", "cost": "27", "fee": "0"},
             {"token_id": "b-yes", "side": "BUY", "shares": "100", "cost": "31", "fee": "0.5"}]
    assert settle_pnl(fills, {"a-yes": D(1), "b-yes": D(0)}) == D("41.5")  # 100 − 58.5
    assert settle_pnl(fills, {"a-yes": D(0), "b-yes": D(0)}) == D("-58.5")
    assert settle_pnl(fills, {"a-yes": D(1), "b-yes": None}) is None
