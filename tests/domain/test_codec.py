"""Typed records to JSON and back (mpx.domain.codec): exact, by the dataclass's own types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Literal

import pytest

from mpx.domain.codec import CodecError, from_json, to_json
from mpx.domain.execution import LegFill, UnwindSell
from mpx.domain.findings import Leg
from mpx.domain.risk import PlannedLeg


@dataclass(frozen=True)
class Inner:
    price: D
    when: datetime | None = None


@dataclass(frozen=True)
class Outer:
    name: str
    side: Literal["BUY", "SELL"]
    inner: tuple[Inner, ...]
    count: int = 0
    note: str = field(default="")


def test_round_trip_is_exact() -> None:
    o = Outer("x", "SELL", (Inner(D("0.1000"), datetime(2026, 1, 2, tzinfo=UTC)), Inner(D("1E-7"))), 3)
    data = to_json(o)
    assert data == {"name": "x", "side": "SELL", "count": 3, "note": "",
                    "inner": [{"price": "0.1000", "when": "2026-01-02T00:00:00+00:00"},
                              {"price": "1E-7", "when": None}]}
    assert from_json(Outer, data) == o  # 0.1000 stays 0.1000: exact, not 0.1


def test_missing_keys_take_defaults_and_unknown_keys_are_ignored() -> None:
    assert from_json(Outer, {"name": "x", "side": "BUY", "inner": [], "later": 1}) == Outer("x", "BUY", ())


@pytest.mark.parametrize(("data", "why"), [
    ({"side": "BUY", "inner": []}, "Outer.name: missing"),
    ({"name": "x", "side": "HOLD", "inner": []}, "Outer.side: 'HOLD' is not one of 'BUY', 'SELL'"),
    ({"name": "x", "side": "BUY", "inner": [{"price": 0.1}]}, "Outer.inner: Inner.price: expected a decimal as text"),
    ({"name": "x", "side": "BUY", "inner": [{"price": "NaN"}]}, "not a finite number"),
    ({"name": "x", "side": "BUY", "inner": [{"price": "abc"}]}, "'abc' is not a number"),
    ({"name": "x", "side": "BUY", "inner": [], "count": True}, "Outer.count: expected int"),
])
def test_what_does_not_fit_says_which_field(data: dict[str, object], why: str) -> None:
    with pytest.raises(CodecError, match=why.replace(".", r"\.").replace("(", r"\(")):
        from_json(Outer, data)


def test_the_leg_records_keep_their_stored_shape() -> None:
    leg = Leg("t", "m", "Yes", "BUY", D(100), D("0.31"), D(31), D("0.1"), D("0.32"))
    assert leg.as_dict() == {"token_id": "t", "market_id": "m", "label": "Yes", "side": "BUY", "shares": "100",
                             "vwap": "0.31", "cost": "31", "fee": "0.1", "worst_price": "0.32"}
    planned = PlannedLeg("t", "m", "Yes", "BUY", D(100), D("0.31"), D("0.32"), D("31.1"), D("32.2"))
    assert PlannedLeg.from_dict(planned.as_dict()) == planned
    fill = LegFill("t", "m", "Yes", "BUY", D(100), D(0), None, D(0), D(0), D("0.32"), seq=1, outcome="killed")
    assert LegFill.from_dict(fill.as_dict()) == fill and fill.as_dict()["vwap"] is None
    sell = UnwindSell(1, "t", "m", "Yes", D(60), D("17.5"), D("0.29"), D("0.30"), D(60), D(18), D(0))
    assert sell.as_dict()["vwap"] == "0.3" and UnwindSell.from_dict(sell.as_dict()) == sell
