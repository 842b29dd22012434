"""Parsing real recorded Gamma and CLOB responses (tests/fixtures/polymarket, see its README)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mpx.adapters.sources.polymarket.parse import ParseReport, parse_book, parse_events, parse_market, parse_time
from mpx.domain.models import FeeSchedule

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def test_fed_event_markets_parse_json_in_strings_and_keep_token_ids_as_text() -> None:
    report = ParseReport()
    [event], markets = parse_events(load("gamma_events_fed_decision_march_2026.json"), report)
    assert event.title == "Fed decision in March?" and event.neg_risk and not event.neg_risk_augmented
    assert len(markets) == 4 and event.market_ids == tuple(m.id for m in markets)
    for m in markets:
        assert [o.label for o in m.outcomes] == ["Yes", "No"]
        assert all(o.token_id.isdigit() and 75 <= len(o.token_id) <= 78 for o in m.outcomes)
        assert m.neg_risk and m.end_date is not None and m.end_date.tzinfo is not None
        assert m.fee == FeeSchedule() and m.tick_size in (Decimal("0.01"), Decimal("0.001"))
    assert report.problems == [] and report.dropped_markets == 0


def test_augmented_event_keeps_placeholders_inactive_and_flags_other() -> None:
    events, markets = parse_events(load("gamma_events_midterms_2026_senate_house.json"), ParseReport())
    assert len(events) == 2 and all(e.neg_risk_augmented for e in events)
    placeholders = [m for m in markets if m.question.startswith("Will Party")]
    assert placeholders and all(not m.active and not m.tradable for m in placeholders)
    assert sum(m.neg_risk_other for m in markets) == 2


def test_closed_and_resolved_markets_are_kept_but_not_tradable() -> None:
    _, markets = parse_events(load("gamma_events_sample_2026-02.json"), ParseReport())
    statuses = {m.status for m in markets}
    assert "resolved" in statuses
    assert all(not m.tradable for m in markets if m.status != "active")


def test_resolved_markets_carry_what_each_outcome_paid() -> None:
    _, markets = parse_events(load("gamma_events_sample_2026-02.json"), ParseReport())
    resolved = [m for m in markets if m.status == "resolved"]
    assert len(resolved) == 4
    for m in resolved:  # the recorded outcomePrices are '["0", "1"]': No won
        assert [o.settle_price for o in m.outcomes] == [Decimal(0), Decimal(1)]
    assert all(o.settle_price is None for m in markets if m.status != "resolved" for o in m.outcomes)


@pytest.mark.parametrize("prices", ['["0.7", "0.4"]', '["1"]', '["x", "1"]', '["-1", "2"]', None])
def test_a_resolution_that_does_not_add_up_is_not_trusted(prices: str | None) -> None:
    raw = {"version": "v1", "conditionId": "0xabc", "question": "Q?", "clobTokenIds": '["1", "2"]',
           "outcomes": '["Yes", "No"]', "closed": True, "umaResolutionStatus": "resolved", "outcomePrices": prices}
    m = parse_market(raw, {"id": "e1"}, ParseReport())
    assert m is not None and m.status == "resolved"
    assert [o.settle_price for o in m.outcomes] == [None, None]


def test_fee_schedule_gives_rate_and_exponent_not_the_base_fee() -> None:
    market = load("gamma_market_btc5m_feeschedule_2026-03-22.json")
    parsed = parse_market(market, {"id": "e1"}, ParseReport())
    assert parsed is not None
    # takerBaseFee 1000 is a bps cap, not the rate
    assert parsed.fee == FeeSchedule(True, Decimal("0.25"), 2, taker_only=True, rebate_rate=Decimal("0.2"),
                                     fee_type="crypto_fees")


def test_fees_enabled_without_schedule_is_an_unknown_rate() -> None:
    market = load("gamma_market_btc5m_feeschedule_2026-03-22.json")
    market.pop("feeSchedule")
    parsed = parse_market(market, {"id": "e1"}, ParseReport())
    assert parsed is not None and parsed.fee == FeeSchedule(True, None, 1, fee_type="crypto_fees")
    assert not parsed.fee.known


def test_book_is_normalised_best_first_from_the_apis_worst_first_order() -> None:
    report = ParseReport()
    book = parse_book(load("clob_book_1_negrisk_2026-02-28.json"), report)
    assert book is not None
    assert book.best_bid == Decimal("0.994") and book.best_ask == Decimal("0.995")
    assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert book.last_trade == Decimal("0.006")
    assert book.ts == datetime(2026, 2, 28, 22, 37, 43, 27000, tzinfo=UTC)
    assert report.dropped_levels == 0


def test_one_sided_book_stays_one_sided() -> None:
    book = parse_book(load("clob_book_2_btc5m_2026-03-22.json"), ParseReport())
    assert book is not None and book.bids == () and book.mid is None and book.best_ask is not None


def test_truncated_ccxt_book_keeps_only_what_it_has() -> None:
    book = parse_book(load("clob_book_3_ccxt_truncated_2026-06-12.json"), ParseReport())
    assert book is not None and book.best_bid == Decimal("0.005") and book.best_ask == Decimal("0.995")


def test_invalid_levels_are_dropped_and_counted() -> None:
    report = ParseReport()
    book = parse_book({"asset_id": "123", "bids": [{"price": "0.4", "size": "10"}, {"price": "abc", "size": "1"},
                                                   {"price": "1.5", "size": "1"}, {"price": "0.3", "size": "0"}],
                       "asks": [{"price": "0.6", "size": "-3"}, {"size": "2"}, "junk", {"price": "0.7", "size": "2"}]},
                      report)
    assert book is not None
    assert [(lv.price, lv.size) for lv in book.bids] == [(Decimal("0.4"), Decimal("10"))]
    assert [(lv.price, lv.size) for lv in book.asks] == [(Decimal("0.7"), Decimal("2"))]
    assert report.dropped_levels == 6


@pytest.mark.parametrize("field, value", [
    ("clobTokenIds", "not json"), ("clobTokenIds", '["12", 34]'), ("clobTokenIds", None), ("conditionId", None),
    ("question", ""),
])
def test_unusable_markets_are_dropped_with_a_reason(field: str, value: object) -> None:
    [event] = load("gamma_events_fed_decision_march_2026.json")
    event["markets"][0][field] = value
    report = ParseReport()
    _, markets = parse_events([event], report)
    assert len(markets) == 3 and report.dropped_markets == 1 and report.problems


def test_wrongly_typed_optional_fields_fall_back_to_defaults() -> None:
    [event] = load("gamma_events_fed_decision_march_2026.json")
    m = event["markets"][0]
    m.update(orderPriceMinTickSize="wide", orderMinSize=None, endDate=12345, outcomes="{}", negRisk="yes")
    _, markets = parse_events([event], ParseReport())
    first = markets[0]
    assert first.tick_size == Decimal("0.01") and first.min_order_size == Decimal("5")
    assert [o.label for o in first.outcomes] == ["Yes", "No"]


def test_events_payload_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="not a list"):
        parse_events({"error": "rate limited"}, ParseReport())


def test_both_timestamp_forms() -> None:
    assert parse_time("2025-12-31T12:00:00Z") == datetime(2025, 12, 31, 12, tzinfo=UTC)
    assert parse_time("2025-08-21 19:44:00+00") == datetime(2025, 8, 21, 19, 44, tzinfo=UTC)
    assert parse_time("garbage") is None and parse_time(None) is None


def test_the_event_slug_is_kept_for_its_venue_page() -> None:
    [event], _ = parse_events(load("gamma_events_fed_decision_march_2026.json"), ParseReport())
    assert event.slug == "fed-decision-in-march-885"  # https://polymarket.com/event/fed-decision-in-march-885
    [no_slug], _ = parse_events([{**load("gamma_events_fed_decision_march_2026.json")[0], "slug": None}],
                                ParseReport())
    assert no_slug.slug == ""
