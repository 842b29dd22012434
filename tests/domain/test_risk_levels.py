"""The three levels of risk (#16) and the canary against hand-computed numbers: the strategy level
(per rule: open intents, notional per UTC day), the account level (exposure over every open intent,
the venue's balance and allowance less what is in flight, the daily realised-loss limit that opens
the breaker until the next UTC day) and the canary's minimum size. The plan is the four YES legs
of ``test_risk``: 100 shares each at limits 0.27 + 0.31 + 0.22 + 0.15, no fees — a worst case of
95.00 USDC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from test_risk import BOOKS, FEE_2PCT, FRESH, LEGS, MARKETS, NOW, market, planned

from mpx.domain.risk import (
    Breaker,
    Funds,
    Policy,
    Usage,
    assess,
    breaker_open_until,
    canary_legs,
    next_utc_day,
    worst_case_cost,
)


def run(usage: Usage, policy: Policy = Policy(), legs=LEGS):  # type: ignore[no-untyped-def]
    return assess(legs, D(1), MARKETS, BOOKS, FRESH, usage, Breaker(), policy, NOW)


def check(usage: Usage, name: str, policy: Policy = Policy()):  # type: ignore[no-untyped-def]
    v = run(usage, policy)
    return v, {c.name: c for c in v.checks}[name]


def test_the_worst_case_is_95() -> None:
    assert worst_case_cost(LEGS, MARKETS) == D("95.00")  # 27 + 31 + 22 + 15


def test_strategy_open_intents_per_rule() -> None:
    p = Policy(rule_max_open_intents=2)
    v, c = check(Usage(0, D(0), D(0), rule_id="sum-lt-1", rule_open_intents=1), "rule_open_intents", p)
    assert v.ok and c.value == "1 open + 1" and c.limit == "2" and "rule sum-lt-1" in c.detail
    v, c = check(Usage(0, D(0), D(0), rule_id="sum-lt-1", rule_open_intents=2), "rule_open_intents", p)
    assert not c.ok and [f.name for f in v.failed] == ["rule_open_intents"]
    assert not v.counts_for_breaker  # a capacity limit: the limits working
    assert "rule_open_intents: 2 open + 1 (limit 2), rule sum-lt-1; EXEC_RULE_MAX_OPEN_INTENTS" in v.reason


def test_strategy_daily_notional_per_rule() -> None:
    p = Policy(rule_max_daily_notional=D(200))
    # 105 used + 95.00 = 200.00: exactly the limit passes
    v, c = check(Usage(0, D(0), D(0), rule_id="r", rule_day_notional=D(105)), "rule_daily_notional", p)
    assert v.ok and c.value == "105 used + 95.00 = 200.00 USDC" and c.limit == "200 USDC"
    # 105.01 + 95.00 = 200.01: one cent over
    v, c = check(Usage(0, D(0), D(0), rule_id="r", rule_day_notional=D("105.01")), "rule_daily_notional", p)
    assert not c.ok and c.value == "105.01 used + 95.00 = 200.01 USDC"
    assert [f.name for f in v.failed] == ["rule_daily_notional"] and not v.counts_for_breaker
    # the account-wide daily notional is another check: 900 used + 95 = 995 ≤ 1000 passes it
    _, c = check(Usage(0, D(900), D(0), rule_day_notional=D(0)), "daily_notional", p)
    assert c.ok and c.value == "900 used + 95.00 = 995.00 USDC"


def test_account_exposure_over_every_open_intent() -> None:
    p = Policy(max_exposure=D(300))
    v, c = check(Usage(0, D(0), D(0), exposure=D(205)), "exposure", p)
    assert v.ok and c.value == "205 open + 95.00 = 300.00 USDC" and c.limit == "300 USDC"
    v, c = check(Usage(0, D(0), D(0), exposure=D("205.01")), "exposure", p)
    assert not c.ok and c.value == "205.01 open + 95.00 = 300.01 USDC"
    assert [f.name for f in v.failed] == ["exposure"] and not v.counts_for_breaker


def test_account_collateral_balance_allowance_and_in_flight() -> None:
    # balance 150, allowance 120: 120 spendable − 25 in flight = 95 ≥ 95.00
    funds = Funds(D(150), D(120), "clob")
    v, c = check(Usage(0, D(0), D(0), funds=funds, in_flight=D(25)), "collateral")
    assert v.ok and c.value == "95 USDC available = balance 150, allowance 120 − 25 in flight"
    assert c.limit == "≥ 95.00 USDC"
    # 25.01 in flight: 94.99 available, short by a cent
    v, c = check(Usage(0, D(0), D(0), funds=funds, in_flight=D("25.01")), "collateral")
    assert not c.ok and c.value.startswith("94.99 USDC available")
    assert [f.name for f in v.failed] == ["collateral"] and not v.counts_for_breaker
    # no allowance (paper): the balance alone — 94.99 < 95.00
    _, c = check(Usage(0, D(0), D(0), funds=Funds(D("94.99"), None, "paper wallet")), "collateral")
    assert not c.ok and c.value == "94.99 USDC available = balance 94.99 − 0 in flight"
    # a venue that cannot tell: nothing is sent blind
    v, c = check(Usage(0, D(0), D(0), funds_error="HTTPError: 503"), "collateral")
    assert not c.ok and c.value == "unknown" and "HTTPError: 503" in c.detail
    # a venue without the capability: passes, and says it was not checked
    v, c = check(Usage(0, D(0), D(0)), "collateral")
    assert v.ok and c.value == "not reported by the venue"


def test_daily_realised_loss_opens_the_breaker_until_the_next_utc_day() -> None:
    p = Policy(max_daily_loss=D(30), breaker_max_loss=D(1000), breaker_cooldown=timedelta(minutes=30))
    v = run(Usage(0, D(0), D("-30.00"), day_pnl=D("-30.00")), p)
    assert [f.name for f in v.failed] == ["breaker"] and v.breaker_action == "open"
    assert v.failed[0].detail == ("daily realised loss 30.00 USDC on 2026-11-25 UTC (limit EXEC_MAX_DAILY_LOSS=30): "
                                  "closed until 2026-11-26 00:00Z")
    assert breaker_open_until(v.breaker_reason, p, NOW) == datetime(2026, 11, 26, tzinfo=UTC)
    assert run(Usage(0, D(0), D("-29.99"), day_pnl=D("-29.99")), p).ok
    # the rolling window is the other limit: 40 lost within 24 h but only 20 of it today — neither trips
    assert run(Usage(0, D(0), D("-40"), day_pnl=D("-20")), Policy(max_daily_loss=D(30), breaker_max_loss=D(50))).ok
    # at 23:50 the cooldown (to 00:20) outlasts the day
    late = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
    assert next_utc_day(late) == datetime(2026, 11, 26, tzinfo=UTC)
    assert breaker_open_until(v.breaker_reason, p, late) == datetime(2026, 11, 26, 0, 20, tzinfo=UTC)
    # any other reason: the cooldown alone
    assert breaker_open_until("3 consecutive rejections", p, NOW) == NOW + timedelta(minutes=30)


def test_canary_legs_at_the_minimum_order_size() -> None:
    legs = canary_legs(LEGS, MARKETS)  # min_order_size 5 on every market
    assert [lg.shares for lg in legs] == [D(5)] * 4
    assert [lg.cost for lg in legs] == [D("1.35000"), D("1.55000"), D("1.10000"), D("0.75000")]
    assert [lg.limit_price for lg in legs] == [lg.limit_price for lg in LEGS]  # the prices stay
    assert worst_case_cost(legs, MARKETS) == D("4.75")  # 0.95 × 5
    v = run(Usage(0, D(0), D(0)), legs=list(legs))
    assert v.ok and v.worst_cost == D("4.75")
    # the largest minimum among the legs' markets: 15 on c → every leg 15 (one set = one share of each)
    bigger = {**MARKETS, "c": market("c", min_size="15")}
    assert [lg.shares for lg in canary_legs(LEGS, bigger)] == [D(15)] * 4
    # fees at the limit: 5 × 0.48 + 5 × 0.02 × 0.48 × 0.52 = 2.40 + 0.02496
    fee_m = {"e": market("e", fee=FEE_2PCT)}
    (e,) = canary_legs([planned("e", "0.48", "0.48")], fee_m)
    assert e.shares == D(5) and e.max_cost == D("2.42496")
    # a plan at or below the minimum stays as it is
    small = [planned("a", "0.27", "0.27", shares="5")]
    assert canary_legs(small, MARKETS) == tuple(small)
