"""ENDGAME: buy the likely outcome of a market that ends soon, hold to resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from mpx.domain.models import Book, FeeSchedule, Level, Market, Outcome
from mpx.domain.rules.base import Finding, RuleSpec, Scope, SignalLevel, Universe
from mpx.domain.rules.endgame import Endgame, EndgameParams

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
P3_ONLY: dict[SignalLevel, D] = {"P3": D(0)}
HOUR = timedelta(hours=1)
FEE_2PCT = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)


def market(end: timedelta | None = 12 * HOUR, **kw: Any) -> Market:
    fields: dict[str, Any] = {
        "question": "Will the bill pass?",
        "outcomes": (Outcome("M-yes", "M", "Yes", 0), Outcome("M-no", "M", "No", 1)),
        "end_date": T0 + end if end is not None else None,
        "fee": FEE_2PCT,
    } | kw
    return Market(id="M", **fields)


def book(token: str, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> Book:
    return Book(token, tuple(Level(D(p), D(s)) for p, s in bids),
                tuple(Level(D(p), D(s)) for p, s in asks), T0)


# YES: bid 0.94; asks 0.95 × 40, 0.96 × 100 → mid 0.945 ≥ 0.85, best ask 0.95 ≤ 0.99
# NO:  bid 0.04; ask 0.06                    → mid 0.05
YES = book("M-yes", [("0.94", "100")], [("0.95", "40"), ("0.96", "100")])
NO = book("M-no", [("0.04", "100")], [("0.06", "100")])


def run(m: Market, books: Sequence[Book] = (YES, NO), scope: Scope | None = None,
        **params: Any) -> list[Finding]:
    u = Universe(as_of=T0, markets={m.id: m}, events={}, books={b.token_id: b for b in books})
    r = RuleSpec(id="end", type="ENDGAME", params=EndgameParams(**params), levels=P3_ONLY,
                 scope=scope or Scope())
    return list(Endgame().evaluate(r, u))


def test_likely_outcome_ending_soon_is_reported_with_return_and_annualised_rate() -> None:
    # S = min(100, 140) = 100 shares of YES, fee rate 0.02, exponent 1:
    #   40 × 0.95 = 38.00   fee 40 × 0.02 × 0.95 × 0.05 = 0.038
    #   60 × 0.96 = 57.60   fee 60 × 0.02 × 0.96 × 0.04 = 0.04608
    # cost 95.60 + fees 0.08408 = 95.68408; pays 100 → profit 4.31592
    # net return = 4.31592 / 95.68408 × 10,000 = 451.0598… → 451.05 bps; score 451.05 / 500 = 0.9021
    # annualised (simple) = 4.31592 / 95.68408 × (8760 h / 12 h) = 0.04510598… × 730
    #                     = 32.9273333… → 32.9273
    [f] = run(market())
    assert f.variant == "Yes"
    assert f.subject == "market:M"
    assert f.market_id == "M"
    assert f.metric == D("451.05")
    # A directional bet, not an arbitrage: YES resolves → the 100 shares pay 100 (+4.31592); NO resolves →
    # they pay 0 (−95.68408). Its measure is the return *if right*; it has no net edge and no legs.
    assert f.finding_class == "indicator" and f.arbitrage is None and f.estimated_edge_bps is None
    assert f.measure is not None and (f.measure.name, f.measure.value) == ("return_if_right_bps", D("451.05"))
    assert f.entry is not None and (f.entry.token_id, f.entry.price) == ("M-yes", D("0.956000"))
    assert f.edge_score == pytest.approx(0.9021)
    assert f.executable_shares is None and f.legs == ()
    assert f.max_level == "P1"
    p = f.payload
    assert p["outcome"] == "Yes"
    assert p["hours_left"] == "12.00"
    assert p["vwap"] == "0.956000"  # 95.60 / 100
    assert p["shares"] == "100.00" and p["cost"] == "95.68408"
    assert p["fees"] == "0.08408"
    assert p["profit_if_right"] == "4.31592" and p["loss_if_wrong"] == "95.68408"
    assert p["annualized_return"] == "32.9273"
    assert p["end_date"] == "2026-03-02T00:00:00+00:00"
    assert p["limit_price"] == "0.96"
    assert p["fee_unknown"] is False
    assert f.message == (
        "Will the bill pass?: Yes mid 0.945, ends in 12.0h — 100 sh at vwap 0.9560 + fees 0.08408:"
        " +451.0 bps to resolution if Yes wins (3292.7%/yr simple), −95.68 if it does not"  # 451.05 half-even
        " (indicator: a directional bet)"
    )


def test_no_can_be_the_likely_outcome() -> None:
    # YES mid (0.05 + 0.07) / 2 = 0.06; NO mid (0.92 + 0.94) / 2 = 0.93 → buy NO at 0.94
    # 50 × 0.94 = 47.00, no fees → profit 3.00, 3 / 47 → 638.29 bps
    yes = book("M-yes", [("0.05", "100")], [("0.07", "100")])
    no = book("M-no", [("0.92", "100")], [("0.94", "50")])
    [f] = run(market(fee=FeeSchedule()), [yes, no])
    assert f.variant == "No"
    assert f.payload["shares"] == "50.00"
    assert f.metric == D("638.29")


def test_asks_above_max_price_are_not_bought() -> None:
    # Size 500; asks 0.95 × 40, 0.96 × 100, 0.995 × 1000: only the 140 shares ≤ 0.99 are bought.
    yes = book("M-yes", [("0.94", "100")], [("0.95", "40"), ("0.96", "100"), ("0.995", "1000")])
    [f] = run(market(), [yes, NO], size=D(500))
    assert f.payload["shares"] == "140.00"
    assert f.payload["limit_price"] == "0.96"


def test_too_far_from_end_is_not_reported() -> None:
    assert run(market(end=30 * HOUR)) == []  # within 24h
    assert len(run(market(end=30 * HOUR), within="48h")) == 1


def test_exactly_at_the_window_edge_is_reported() -> None:
    assert len(run(market(end=24 * HOUR))) == 1


def test_already_ended_is_not_reported() -> None:
    assert run(market(end=-HOUR)) == []
    assert run(market(end=timedelta(0))) == []
    assert run(market(end=None)) == []


def test_best_ask_above_max_price_is_not_reported() -> None:
    yes = book("M-yes", [("0.99", "100")], [("0.995", "100")])
    assert run(market(), [yes, NO]) == []


def test_below_min_probability_is_not_reported() -> None:
    # mid (0.79 + 0.81) / 2 = 0.80 < 0.85
    yes = book("M-yes", [("0.79", "100")], [("0.81", "100")])
    no = book("M-no", [("0.18", "100")], [("0.20", "100")])
    assert run(market(), [yes, no]) == []
    assert len(run(market(), [yes, no], min_probability=D("0.8"))) == 1


def test_thin_ask_below_min_order_size_is_not_reported() -> None:
    yes = book("M-yes", [("0.94", "100")], [("0.95", "4")])
    assert run(market(), [yes, NO]) == []


def test_fees_eating_the_return_is_not_reported() -> None:
    # rate 0.25: 100 × 0.99 = 99.00 + fee 100 × 0.25 × 0.99 × 0.01 = 0.2475 → 99.2475 < 100: profit
    # rate 1.5:  fee 100 × 1.5 × 0.99 × 0.01 = 1.485 → 100.485 > 100: a loss
    yes = book("M-yes", [("0.98", "100")], [("0.99", "100")])
    assert len(run(market(fee=FeeSchedule(enabled=True, rate=D("0.25"))), [yes, NO])) == 1
    assert run(market(fee=FeeSchedule(enabled=True, rate=D("1.5"))), [yes, NO]) == []


def test_unknown_fee_rate_caps_at_p2() -> None:
    # fee priced as 0: cost 95.60, profit 4.40 → 4.40 / 95.60 → 460.25 bps
    [f] = run(market(fee=FeeSchedule(enabled=True, rate=None)))
    assert f.max_level == "P2"
    assert f.payload["fee_unknown"] is True
    assert f.metric == D("460.25")


def test_closed_stale_or_out_of_scope_is_not_reported() -> None:
    assert run(market(status="resolved")) == []
    assert run(market(), [replace(YES, ts=T0 - HOUR), NO]) == []
    assert run(market(), scope=Scope(categories=("sports",))) == []


def test_unchanged_market_drifting_into_the_window_is_reported() -> None:
    # ENDGAME is driven by time: the book did not change, the clock did
    m = market(end=30 * HOUR)
    u = Universe(as_of=T0, markets={m.id: m}, events={}, books={b.token_id: b for b in (YES, NO)},
                 changed=frozenset())
    r = RuleSpec(id="end", type="ENDGAME", params=EndgameParams(), levels=P3_ONLY)
    assert list(Endgame().evaluate(r, u)) == []  # 30 h left: outside the 24 h window
    u.as_of = T0 + 7 * HOUR
    u.max_book_age = timedelta(days=1)
    [f] = Endgame().evaluate(r, u)
    assert f.market_id == "M"
