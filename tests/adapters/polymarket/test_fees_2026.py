"""The 2026 per-market fee schedules, per category: Gamma ``feesEnabled``/``feeType``/``feeSchedule``
{rate, exponent, takerOnly, rebateRate} parsed per market and charged by the one fee model,
``mpx.domain.money.taker_fee``: ``shares × rate × (p × (1 − p))^exponent``, floored to 0.00001.
Every expected fee below is worked by hand in the comment above it.

Recorded schedules: sports (the 2026-09 NFL market), crypto (the 2026-03 BTC 5-minute market) and
fee-free (the 2026-02 Fed market). Built (no recording of them is in the shared data): crypto_fees_v2
with the rate API_NOTES §7 quotes from a 2026-07 recording, and a politics-style schedule whose rate
is made up for the arithmetic — never a category's published rate: mpx reads the market's own.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from mpx.adapters.sources.polymarket.parse import ParseReport, parse_events, parse_market
from mpx.domain.models import FeeSchedule, Level, Market
from mpx.domain.money import taker_fee, walk_book

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=D)


def parsed(raw: dict[str, Any], report: ParseReport | None = None) -> Market:
    m = parse_market(raw, {"id": "e"}, report or ParseReport())
    assert m is not None
    return m


def nfl_moneyline() -> dict[str, Any]:
    [event] = load("gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json")
    return dict(event["markets"][0])


def btc_market() -> dict[str, Any]:
    raw: dict[str, Any] = load("gamma_market_btc5m_feeschedule_2026-03-22.json")
    raw.setdefault("version", "v1")  # updatedAt 2026-03-22 predates the field; explicit for clarity
    return raw


def with_schedule(fee_type: str, **schedule: Any) -> dict[str, Any]:
    raw = nfl_moneyline()
    raw.update(feesEnabled=True, feeType=fee_type, feeSchedule=schedule)
    return raw


def test_sports_recorded_nfl_schedule() -> None:
    fee = parsed(nfl_moneyline()).fee
    assert fee == FeeSchedule(True, D("0.05"), 1, taker_only=True, rebate_rate=D("0.15"), fee_type="sports_fees_v3")
    # 100 Lions at 0.34: 100 × 0.05 × 0.34 × 0.66 = 5 × 0.2244 = 1.122
    assert taker_fee(D(100), D("0.34"), fee) == D("1.12200")
    # 100 Bills at 0.67: 100 × 0.05 × 0.67 × 0.33 = 5 × 0.2211 = 1.1055
    assert taker_fee(D(100), D("0.67"), fee) == D("1.10550")
    # 7 at 0.5: 7 × 0.05 × 0.25 = 0.0875
    assert taker_fee(D(7), D("0.5"), fee) == D("0.08750")


def test_sports_fee_per_level_when_walking_the_recorded_lions_book() -> None:
    fee = parsed(nfl_moneyline()).fee
    # best asks of the recorded book: 0.34 × 127.5 (hypothetical size), then 0.35 × 1000
    fill = walk_book((Level(D("0.34"), D("127.5")), Level(D("0.35"), D(1000))), D(200), fee)
    # level 1: 127.5 × 0.05 × 0.34 × 0.66 = 6.375 × 0.2244 = 1.43055
    # level 2: 72.5 × 0.05 × 0.35 × 0.65 = 3.625 × 0.2275 = 0.8246875 → floored 0.82468
    assert fill.fee == D("1.43055") + D("0.82468") == D("2.25523")
    # cost 127.5 × 0.34 + 72.5 × 0.35 = 43.35 + 25.375 = 68.725
    assert fill.cost == D("68.725") and fill.total == D("70.98023")


def test_crypto_recorded_btc_schedule_exponent_2() -> None:
    fee = parsed(btc_market()).fee
    assert fee == FeeSchedule(True, D("0.25"), 2, taker_only=True, rebate_rate=D("0.2"), fee_type="crypto_fees")
    # 100 at 0.5: 100 × 0.25 × (0.5 × 0.5)² = 25 × 0.0625 = 1.5625
    assert taker_fee(D(100), D("0.5"), fee) == D("1.56250")
    # 100 at 0.34: (0.34 × 0.66)² = 0.2244² = 0.05035536; × 25 = 1.258884 → floored 1.25888
    assert taker_fee(D(100), D("0.34"), fee) == D("1.25888")
    # takerBaseFee 1000 (bps) is a cap, not the rate: 1000 bps would be 100 × 0.1 × … — not used


def test_crypto_v2_schedule_exponent_1() -> None:
    fee = parsed(with_schedule("crypto_fees_v2", rate=D("0.07"), exponent=1, takerOnly=True, rebateRate=D("0.2"))).fee
    assert (fee.rate, fee.exponent, fee.fee_type) == (D("0.07"), 1, "crypto_fees_v2")
    # 100 at 0.5: 100 × 0.07 × 0.25 = 1.75
    assert taker_fee(D(100), D("0.5"), fee) == D("1.75000")
    # 250 at 0.9: 250 × 0.07 × 0.9 × 0.1 = 17.5 × 0.09 = 1.575
    assert taker_fee(D(250), D("0.9"), fee) == D("1.57500")


def test_politics_style_schedule_with_makers_paying_too() -> None:
    fee = parsed(with_schedule("politics_fees", rate=D("0.04"), exponent=1, takerOnly=False,
                               rebateRate=D("0.25"))).fee
    assert fee.enabled and not fee.taker_only and fee.rebate_rate == D("0.25") and fee.fee_type == "politics_fees"
    # mpx only takes: the taker fee is the same formula whatever makers pay.
    # 37 at 0.62: 37 × 0.04 × 0.62 × 0.38 = 1.48 × 0.2356 = 0.348688 → floored 0.34868
    assert taker_fee(D(37), D("0.62"), fee) == D("0.34868")


def test_fee_free_recorded_market() -> None:
    [event] = load("gamma_events_fed_decision_march_2026.json")
    raw = event["markets"][0]
    assert raw.get("feesEnabled") is False
    fee = parsed(raw).fee
    assert fee == FeeSchedule() and fee.known
    # no fee at any price: 100 at 0.5 → 0
    assert taker_fee(D(100), D("0.5"), fee) == 0
    # a schedule on a market with fees off is not charged
    raw.update(feeSchedule={"rate": 0.05, "exponent": 1, "takerOnly": True, "rebateRate": 0.15})
    assert parsed(raw).fee == FeeSchedule()


@pytest.mark.parametrize("schedule", [
    None,  # no schedule at all
    "0.05",  # not an object
    {"exponent": 1, "takerOnly": True},  # no rate
    {"rate": "abc", "exponent": 1},
    {"rate": -0.05, "exponent": 1},
    {"rate": 1.5, "exponent": 1},
    {"rate": 0.05, "exponent": 1.5},  # a fractional exponent is not guessed as 1
    {"rate": 0.05},  # no exponent
    {"rate": 0.05, "exponent": -1},
])
def test_fees_enabled_without_a_usable_schedule_is_fee_unknown_and_counted(schedule: Any) -> None:
    raw = nfl_moneyline()
    if schedule is None:
        del raw["feeSchedule"]
    else:
        raw["feeSchedule"] = schedule
    report = ParseReport()
    fee = parsed(raw, report).fee
    assert fee.enabled and fee.rate is None and not fee.known and fee.fee_type == "sports_fees_v3"
    assert report.fee_unknown == 1 and any("fee rate unknown" in p for p in report.problems)
    assert taker_fee(D(100), D("0.5"), fee) == 0  # priced as 0, and so never P1 nor executable


def test_each_market_of_an_event_keeps_its_own_schedule() -> None:
    [event] = load("gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json")
    event["markets"][1]["feeSchedule"] = {"rate": 0.02, "exponent": 2, "takerOnly": True, "rebateRate": 0}
    event["markets"][2].update(feesEnabled=False, feeSchedule=None, feeType=None)
    _, markets = parse_events([event], ParseReport())
    got = [(m.fee.enabled, m.fee.rate, m.fee.exponent) for m in markets]
    assert got == [(True, D("0.05"), 1), (True, D("0.02"), 2), (False, None, 1)]
