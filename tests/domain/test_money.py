"""Exact money math: taker fees, walking a book, tick rounding, edge in bps. Every expectation is
worked out by hand in the comment beside it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mpx.domain.models import NO_FEES, FeeSchedule, Level
from mpx.domain.money import depth, edge_bps, round_to_tick, taker_fee, walk_book

FEE_2PCT = FeeSchedule(enabled=True, rate=D("0.02"), exponent=1)


def levels(*pairs: tuple[str, str]) -> tuple[Level, ...]:
    return tuple(Level(D(p), D(s)) for p, s in pairs)


def test_taker_fee_exponent_1() -> None:
    # 100 × 0.02 × 0.4 × 0.6 = 0.48
    assert taker_fee(D(100), D("0.4"), FEE_2PCT) == D("0.48")


def test_taker_fee_exponent_2() -> None:
    # BTC 5-min schedule {rate 0.25, exponent 2}: 100 × 0.25 × (0.4 × 0.6)² = 25 × 0.0576 = 1.44
    fee = FeeSchedule(enabled=True, rate=D("0.25"), exponent=2)
    assert taker_fee(D(100), D("0.4"), fee) == D("1.44")


def test_taker_fee_is_floored_to_5_decimals() -> None:
    # 3 × 0.07 × 0.333 × 0.667 = 3 × 0.07 × 0.222111 = 0.04664331 → floored to 0.00001: 0.04664
    fee = FeeSchedule(enabled=True, rate=D("0.07"), exponent=1)
    assert taker_fee(D(3), D("0.333"), fee) == D("0.04664")


def test_taker_fee_floors_rather_than_rounds_up() -> None:
    # 1 × 0.0001 × 0.5 × 0.5 = 0.000025 → 0.00002 (not 0.00003)
    fee = FeeSchedule(enabled=True, rate=D("0.0001"), exponent=1)
    assert taker_fee(D(1), D("0.5"), fee) == D("0.00002")


def test_taker_fee_disabled_is_zero() -> None:
    assert taker_fee(D(100), D("0.4"), NO_FEES) == 0
    # A rate on a disabled schedule is ignored.
    assert taker_fee(D(100), D("0.4"), FeeSchedule(enabled=False, rate=D("0.02"))) == 0


def test_taker_fee_unknown_rate_prices_as_zero() -> None:
    unknown = FeeSchedule(enabled=True, rate=None)
    assert not unknown.known
    assert taker_fee(D(100), D("0.4"), unknown) == 0


def test_walk_book_across_three_levels() -> None:
    asks = levels(("0.40", "50"), ("0.42", "30"), ("0.45", "100"))
    fill = walk_book(asks, D(100), FEE_2PCT)
    # 50 × 0.40 = 20.00   fee 50 × 0.02 × 0.40 × 0.60 = 0.24
    # 30 × 0.42 = 12.60   fee 30 × 0.02 × 0.42 × 0.58 = 0.14616
    # 20 × 0.45 =  9.00   fee 20 × 0.02 × 0.45 × 0.55 = 0.099
    # cost 41.60, fees 0.48516, total 42.08516, VWAP 41.60 / 100 = 0.416
    assert fill.shares == D(100)
    assert fill.complete
    assert fill.cost == D("41.60")
    assert fill.fee == D("0.48516")
    assert fill.total == D("42.08516")
    assert fill.vwap == D("0.416")
    assert fill.worst_price == D("0.45")
    assert fill.levels == 3


def test_walk_book_partial_fill_when_too_thin() -> None:
    asks = levels(("0.40", "50"), ("0.42", "30"))
    fill = walk_book(asks, D(200), NO_FEES)
    # only 80 shares: 20.00 + 12.60 = 32.60, VWAP 32.60 / 80 = 0.4075
    assert fill.requested == D(200)
    assert fill.shares == D(80)
    assert not fill.complete
    assert fill.cost == D("32.60")
    assert fill.fee == 0
    assert fill.vwap == D("0.4075")
    assert fill.worst_price == D("0.42")


def test_walk_book_charges_the_fee_per_level_fill() -> None:
    # Two 1-share fills at 0.50, rate 0.0001: each 0.000025 → 0.00002, together 0.00004
    # (one 2-share fill would be 0.00005).
    fee = FeeSchedule(enabled=True, rate=D("0.0001"), exponent=1)
    fill = walk_book(levels(("0.50", "1"), ("0.50", "1")), D(2), fee)
    assert fill.fee == D("0.00004")
    assert taker_fee(D(2), D("0.50"), fee) == D("0.00005")


def test_walk_book_empty_side() -> None:
    fill = walk_book((), D(10), NO_FEES)
    assert fill.shares == 0
    assert fill.vwap is None
    assert fill.worst_price is None


def test_depth() -> None:
    assert depth(levels(("0.4", "50"), ("0.5", "30.5"))) == D("80.5")
    assert depth(()) == 0


@pytest.mark.parametrize(
    ("price", "tick", "up", "expected"),
    [
        ("0.123", "0.01", True, "0.13"),
        ("0.123", "0.01", False, "0.12"),
        ("0.12", "0.01", True, "0.12"),  # already on the grid: unchanged either way
        ("0.12", "0.01", False, "0.12"),
        ("0.1234", "0.001", True, "0.124"),
        ("0.1234", "0.001", False, "0.123"),
    ],
)
def test_round_to_tick(price: str, tick: str, up: bool, expected: str) -> None:
    assert round_to_tick(D(price), D(tick), up=up) == D(expected)


def test_edge_bps() -> None:
    # 4.17688 / 95.82312 = 0.0435894802… → 435.894802… bps, floored to 2 decimals: 435.89
    assert edge_bps(D("4.17688"), D("95.82312")) == D("435.89")
    # 1 / 19 = 0.0526315… → 526.31
    assert edge_bps(D(1), D(19)) == D("526.31")
    assert edge_bps(D(-1), D(101)) == D("-99.00")  # -99.0099… floored toward zero
    assert edge_bps(D(1), D(0)) == 0
