"""Risk math against hand-computed examples: limit prices, sizing to the per-order limit, every
check of a verdict with its numbers, the breaker, paper fills and settlement PnL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from mpx.adapters.execution.paper import PaperExecution
from mpx.domain.models import Book, FeeSchedule, Level, Market, Outcome
from mpx.domain.risk import (
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


def market(mid: str, *, tick: str = "0.01", fee: FeeSchedule | None = None, min_size: str = "5",
           status: str = "active") -> Market:
    return Market(mid, f"Q {mid}?", (Outcome(f"{mid}-yes", mid, "Yes", 0), Outcome(f"{mid}-no", mid, "No", 1)),
                  tick_size=D(tick), fee=fee or FeeSchedule(), min_order_size=D(min_size), status=status)  # type: ignore[arg-type]


def leg(mid: str, vwap: str, shares: str = "100", worst: str | None = None, fee: str = "0") -> dict[str, str]:
    cost = D(vwap) * D(shares)
    return {"token_id": f"{mid}-yes", "market_id": mid, "label": "Yes", "side": "BUY", "shares": shares, "vwap": vwap,
            "cost": str(cost), "fee": fee, "worst_price": worst or vwap}


SET = {"legs": [leg("a", "0.27"), leg("b", "0.31"), leg("c", "0.22"), leg("d", "0.15")], "payout": "100",
       "shares": "100"}
MARKETS = {m: market(m) for m in "abcd"}


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
    assert plan.expected_profit == D("5")  # 100 sets pay 100
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
    fee = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)
    m = {"e": market("e", fee=fee)}
    # ENDGAME-like: one leg, 100 sh at 0.50; fee at the limit 0.50 = 100 × 0.02 × 0.5 × 0.5 = 0.5
    plan = plan_intent({"legs": [leg("e", "0.50", fee="0.5")]}, m, Policy(slippage_bps=0))
    assert plan.max_notional == D("50.5")
    assert plan.notional == D("50.50000")
    assert plan.expected_profit == D("49.5")  # a share pays 1 when it resolves as expected


def test_plan_rejects_signals_without_legs_or_with_bad_legs() -> None:
    with pytest.raises(PlanError, match="no executable legs"):
        plan_intent({"move": "0.2"}, MARKETS, Policy())
    with pytest.raises(PlanError, match="leg 1 of the signal is malformed"):
        plan_intent({"legs": [{"token_id": "x"}]}, MARKETS, Policy())
    with pytest.raises(PlanError, match="not stored"):
        plan_intent({"legs": [leg("zz", "0.5")]}, MARKETS, Policy())


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
        markets: dict[str, Market] = MARKETS, max_notional: str = "95"):  # type: ignore[no-untyped-def]
    return assess(legs, D(1), D(max_notional), markets, bks, observed, usage, breaker, policy, NOW)  # type: ignore[arg-type]


def test_a_clean_verdict_names_every_check_with_its_numbers() -> None:
    v = run()
    assert v.ok and [c.name for c in v.checks] == ["breaker", "market_open", "book_fresh", "notional_per_order",
                                                    "concurrent_orders", "daily_notional", "slippage", "edge"]
    by = {c.name: c for c in v.checks}
    assert by["edge"].value == "526.31 bps"
    assert by["daily_notional"].value == "0 used + 95 = 95 USDC"
    assert by["book_fresh"].value == "5 s old"
    assert v.edge_bps == D("526.31")


def test_capacity_limits_reject_without_counting_for_the_breaker() -> None:
    v = run(usage=Usage(3, D("920"), D(0)), policy=Policy(max_notional_per_order=D(90)))
    failed = {c.name: c for c in v.failed}
    assert set(failed) == {"notional_per_order", "concurrent_orders", "daily_notional"}
    assert failed["concurrent_orders"].value == "3 open + 1" and failed["concurrent_orders"].limit == "3"
    assert failed["daily_notional"].value == "920 used + 95 = 1015 USDC"
    assert not v.counts_for_breaker
    assert "daily_notional: 920 used + 95 = 1015 USDC (limit 1000 USDC)" in v.reason


def test_slippage_is_the_worst_leg_against_its_planned_vwap() -> None:
    # leg a re-prices at 0.28: (0.28 − 0.27) / 0.27 = 370.37 bps; the set now costs 96 → edge 416.66 bps
    v = run(bks={**BOOKS, **books(a=[("0.28", "500")])})
    slip = next(c for c in v.checks if c.name == "slippage")
    assert not slip.ok and slip.value == "370.37 bps" and slip.limit == "50 bps"
    assert v.edge_bps == D("416.66")
    assert v.counts_for_breaker


def test_an_edge_that_vanished_is_rejected() -> None:
    # every leg 1 tick up: 0.99 per set → 1.01 % left; with b at 0.36 the set costs 1.00 → no edge
    v = run(bks={**BOOKS, **books(b=[("0.36", "500")])}, policy=Policy(slippage_bps=10_000))
    edge = next(c for c in v.checks if c.name == "edge")
    assert not edge.ok and edge.value == "0.00 bps" and edge.limit == "> 0 bps"
    assert [c.name for c in v.failed] == ["edge"]


def test_stale_missing_and_closed() -> None:
    old = {**FRESH, "a-yes": NOW - timedelta(minutes=5)}
    v = run(observed=old)
    assert [c.name for c in v.failed] == ["book_fresh"] and v.failed[0].value == "300 s old"
    v = run(bks={k: b for k, b in BOOKS.items() if k != "d-yes"},
            observed={k: t for k, t in FRESH.items() if k != "d-yes"})
    assert {c.name for c in v.failed} == {"book_fresh", "slippage", "edge"}
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


def test_paper_fills_only_within_the_limit_and_charges_fees_per_level() -> None:
    fee = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)
    m = {"e": market("e", fee=fee)}
    bk = books(e=[("0.50", "60"), ("0.51", "30"), ("0.53", "500")])
    rep = PaperExecution().execute(1, [planned("e", "0.505", "0.51")], m, bk)
    [f] = rep.fills
    # 60 @ 0.50 + 30 @ 0.51 = 45.30; fees 60 × 0.02 × 0.25 = 0.3 and 30 × 0.02 × 0.51 × 0.49 = 0.14994
    assert (f.shares, f.cost, f.fee) == (D("90"), D("45.30"), D("0.44994"))
    assert f.vwap == D("45.30") / D("90")
    assert rep.status == "partially_filled" and rep.total == D("45.74994")
    assert PaperExecution().execute(1, [planned("e", "0.40", "0.40")], m, bk).status == "failed"


def test_settlement_pnl_by_hand() -> None:
    fills = [{"token_id": "a-yes", "side": "BUY", "shares": "100", "cost": "27", "fee": "0"},
             {"token_id": "b-yes", "side": "BUY", "shares": "100", "cost": "31", "fee": "0.5"}]
    assert settle_pnl(fills, {"a-yes": D(1), "b-yes": D(0)}) == D("41.5")  # 100 − 58.5
    assert settle_pnl(fills, {"a-yes": D(0), "b-yes": D(0)}) == D("-58.5")
    assert settle_pnl(fills, {"a-yes": D(1), "b-yes": None}) is None
