"""Outcome ids chosen by the Gamma market ``version`` (API_NOTES_2026 §1): ``"v2"`` (Protocol V2) →
``positionIds`` (a real JSON array), ``"v1"`` → ``clobTokenIds`` (JSON text), even when both are
present; missing/unknown versions, ids that are not decimal and outcome counts that do not match are
rejected and counted. Fixtures: the recorded 2026-09 NFL event (v1, both id fields) and the BUILT v2
copy of it (tests/fixtures/polymarket/README.md)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mpx.adapters.sources.polymarket.parse import ParseReport, parse_book, parse_events

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
NFL_V1 = "gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json"
NFL_V2_BUILT = "gamma_event_nfl-det-buf_v2_BUILT_from_docs.json"
LIONS_BOOK = "clob_book_nfl-det-buf-2026-09-18_lions_2026-09-16.json"
PRE_V2_FILES = ("gamma_events_fed_decision_march_2026.json", "gamma_events_midterms_2026_senate_house.json",
                "gamma_events_sample_2026-02.json", "gamma_events_microstrategy_2026-02.json")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def test_recorded_v1_market_uses_clob_token_ids_although_position_ids_are_present() -> None:
    report = ParseReport()
    [_event], markets = parse_events(load(NFL_V1), report)
    assert len(markets) == 3 and report.dropped_markets == 0 and report.unversioned_v1 == 0
    raw = {m["conditionId"]: m for m in load(NFL_V1)[0]["markets"]}
    for m in markets:
        assert m.version == "v1"
        assert [o.token_id for o in m.outcomes] == json.loads(raw[m.id]["clobTokenIds"])
        assert not {o.token_id for o in m.outcomes} & set(raw[m.id]["positionIds"])
    moneyline = next(m for m in markets if m.question == "Lions vs. Bills")
    assert [o.label for o in moneyline.outcomes] == ["Lions", "Bills"]
    assert len(moneyline.outcomes[1].token_id) == 74  # the short id is kept as text, whole
    # the recorded CLOB book of the Lions is keyed by exactly that id
    book = parse_book(load(LIONS_BOOK), ParseReport())
    assert book is not None and book.token_id == moneyline.outcomes[0].token_id
    assert (book.best_bid, book.best_ask) == (Decimal("0.33"), Decimal("0.34"))


def test_v2_market_uses_position_ids_although_clob_token_ids_are_present() -> None:
    report = ParseReport()
    [_event], markets = parse_events(load(NFL_V2_BUILT), report)
    assert len(markets) == 3 and report.dropped_markets == 0
    raw = {m["conditionId"]: m for m in load(NFL_V2_BUILT)[0]["markets"]}
    for m in markets:
        assert m.version == "v2"
        assert [o.token_id for o in m.outcomes] == raw[m.id]["positionIds"]
        assert not {o.token_id for o in m.outcomes} & set(json.loads(raw[m.id]["clobTokenIds"]))
    moneyline = next(m for m in markets if m.question == "Lions vs. Bills")
    assert [o.token_id[-3:] for o in moneyline.outcomes] == ["216", "217"]  # consecutive position ids
    assert [o.label for o in moneyline.outcomes] == ["Lions", "Bills"]


def test_pre_v2_recordings_without_a_version_are_read_as_v1_and_counted() -> None:
    report = ParseReport()
    events = [e for name in PRE_V2_FILES for e in (lambda d: d if isinstance(d, list) else [d])(load(name))]
    listed = sum(len(e["markets"]) for e in events)
    assert all("version" not in m for e in events for m in e["markets"])
    _, markets = parse_events(events, report)
    assert report.dropped_markets == 0 and report.unversioned_v1 == listed == 46
    assert all(m.version == "v1" for m in markets)


def nfl(version_of_market: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = load(NFL_V2_BUILT)
    if version_of_market:
        events[0]["markets"][0].update(version_of_market)
    return events


@pytest.mark.parametrize("change, kind", [
    ({"version": None}, "version_missing"),
    ({"version": ""}, "version_missing"),
    ({"version": "v3"}, "version_unknown"),
    ({"version": "V2"}, "version_unknown"),
    ({"version": 2}, "version_unknown"),
    ({"positionIds": json.dumps(["1", "2"])}, "outcome_ids"),  # v2 ids are a real array, not JSON text
    ({"positionIds": None}, "outcome_ids"),  # a v2 market never falls back to clobTokenIds
    ({"positionIds": ["12", 34]}, "outcome_ids"),
    ({"positionIds": ["0x1f", "2"]}, "outcome_ids"),
    ({"positionIds": ["1.0", "2"]}, "outcome_ids"),
    ({"positionIds": ["-1", "2"]}, "outcome_ids"),
    ({"positionIds": ["²", "2"]}, "outcome_ids"),  # str.isdigit() says True: not a decimal id
    ({"positionIds": ["１２", "2"]}, "outcome_ids"),  # fullwidth digits
    ({"positionIds": ["7", "7"]}, "outcome_ids"),
    ({"positionIds": ["7"], "outcomes": '["Lions"]'}, "outcome_ids"),
    ({"positionIds": ["1", "2", "3"]}, "outcome_count"),
    ({"outcomes": '["Lions", "Bills", "Tie"]'}, "outcome_count"),
    ({"version": "v1", "clobTokenIds": "not json"}, "outcome_ids"),  # a v1 market never uses positionIds
    ({"version": "v1", "clobTokenIds": '["1", "2", "3"]'}, "outcome_count"),
])
def test_unusable_versions_and_ids_are_rejected_and_counted(change: dict[str, Any], kind: str) -> None:
    report = ParseReport()
    [event], markets = parse_events(nfl(change), report)
    assert len(markets) == 2 and report.dropped_markets == 1
    assert report.dropped_by_reason == {kind: 1}
    assert len(event.dropped) == 1 and not event.complete_listing  # the event records what it lost


def test_a_missing_version_key_is_rejected_on_objects_from_after_v2_went_live() -> None:
    events = nfl()
    del events[0]["markets"][0]["version"]  # updatedAt 2026-09-16: the field existed then
    undated = copy.deepcopy(events[0]["markets"][1])
    del undated["version"], undated["updatedAt"]
    events[0]["markets"][1] = undated
    report = ParseReport()
    _, markets = parse_events(events, report)
    assert len(markets) == 1 and report.dropped_by_reason == {"version_missing": 2}
    assert report.unversioned_v1 == 0
    assert any("no version" in p for p in report.problems)


def test_a_pre_v2_object_with_an_explicit_v2_is_still_v2() -> None:
    [event] = load("gamma_events_fed_decision_march_2026.json")
    m = event["markets"][0]
    m.update(version="v2", positionIds=["101", "102"])
    _, markets = parse_events([event], ParseReport())
    assert [o.token_id for o in markets[0].outcomes] == ["101", "102"]


def test_an_unusable_pre_v2_market_counts_as_dropped_not_as_read() -> None:
    [event] = load("gamma_events_fed_decision_march_2026.json")
    event["markets"][0]["clobTokenIds"] = '["12", "x"]'
    report = ParseReport()
    _, markets = parse_events([event], report)
    assert len(markets) == 3 and report.unversioned_v1 == 3
    assert report.dropped_by_reason == {"outcome_ids": 1}
