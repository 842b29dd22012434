"""The Polymarket stand-in must speak the real wire shapes, or the source tests prove nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx

from stubs.polymarket import PolymarketStandIn, has_book, load_recorded_events, make_universe


def test_events_are_filtered_and_paged_like_gamma() -> None:
    events = load_recorded_events()
    live = [e for e in events if e.get("active") is True and e.get("closed") is not True]
    with PolymarketStandIn(events) as api:
        got: list[dict[str, object]] = []
        offset = 0
        while True:
            page = httpx.get(f"{api.url}/events", params={"active": "true", "closed": "false",
                                                          "limit": 3, "offset": offset}).json()
            got.extend(page)
            if len(page) < 3:
                break
            offset += 3
    assert [e["id"] for e in got] == [e["id"] for e in live]
    assert api.count("/events?") == len(live) // 3 + 1


def test_books_come_worst_first_with_string_prices_as_the_clob_sends_them() -> None:
    events = load_recorded_events()
    market = next(m for e in events for m in e["markets"] if has_book(m))
    yes, no = json.loads(market["clobTokenIds"])
    with PolymarketStandIn(events) as api:
        batch = httpx.post(f"{api.url}/books", json=[{"token_id": yes}, {"token_id": "nope"}, {"token_id": no}]).json()
        single = httpx.get(f"{api.url}/book", params={"token_id": yes})
        missing = httpx.get(f"{api.url}/book", params={"token_id": "nope"})
    assert [b["asset_id"] for b in batch] == [yes, no]  # unknown tokens are left out
    assert single.json() == batch[0] and missing.status_code == 404
    book = batch[0]
    bids = [Decimal(x["price"]) for x in book["bids"]]
    asks = [Decimal(x["price"]) for x in book["asks"]]
    assert all(isinstance(x["size"], str) for x in book["bids"] + book["asks"])
    assert bids == sorted(bids) and asks == sorted(asks, reverse=True)  # best level last
    assert bids[-1] < asks[-1] and book["market"] == market["conditionId"]


def test_faults_are_consumed_in_order_and_only_by_matching_requests() -> None:
    with PolymarketStandIn(load_recorded_events()) as api:
        api.fail("books", 429, times=1, retry_after=0.5, match="tok-b")
        api.truncate("events", times=1)
        first = httpx.post(f"{api.url}/books", json=[{"token_id": "tok-a"}])
        second = httpx.post(f"{api.url}/books", json=[{"token_id": "tok-b"}])
        third = httpx.post(f"{api.url}/books", json=[{"token_id": "tok-b"}])
        cut = httpx.get(f"{api.url}/events", params={"limit": 5})
    assert (first.status_code, second.status_code, third.status_code) == (200, 429, 200)
    assert second.headers["Retry-After"] == "0.5"
    assert cut.status_code == 200
    try:
        json.loads(cut.content)
        raise AssertionError("a truncated body must not parse")
    except ValueError:
        pass


def test_a_synthetic_universe_has_the_recorded_shape_and_unique_tokens() -> None:
    events = make_universe(500, seed=3)
    tokens = [t for e in events for m in e["markets"] for t in json.loads(m["clobTokenIds"])]
    assert len(tokens) >= 500 and len(set(tokens)) == len(tokens)
    recorded_keys = set(load_recorded_events()[0]["markets"][0])
    assert all(recorded_keys <= set(m) for e in events for m in e["markets"] if e["title"].startswith("Fed"))
    assert make_universe(500, seed=3) == events


def test_books_are_keyed_by_the_asset_ids_the_market_version_names() -> None:
    """v1 (the recorded NFL markets): the CLOB knows ``clobTokenIds`` — the recorded Lions book's
    ``asset_id`` is ``clobTokenIds[0]`` — and not the ``positionIds`` next to them; v2: the reverse."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "polymarket"
    for name, version in (("gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json", "v1"),
                          ("gamma_event_nfl-det-buf_v2_BUILT_from_docs.json", "v2")):
        events = json.loads((fixtures / name).read_text())
        m = events[0]["markets"][0]
        assert m["version"] == version
        clob_ids, position_ids = json.loads(m["clobTokenIds"]), m["positionIds"]
        served, unknown = (clob_ids, position_ids) if version == "v1" else (position_ids, clob_ids)
        with PolymarketStandIn(events) as api:
            for token in served:
                assert httpx.get(f"{api.url}/book", params={"token_id": token}).json()["asset_id"] == token
            for token in unknown:
                assert httpx.get(f"{api.url}/book", params={"token_id": token}).status_code == 404
            batch = httpx.post(f"{api.url}/books", json=[{"token_id": t} for t in clob_ids + position_ids]).json()
        assert [b["asset_id"] for b in batch] == served
    recorded = json.loads((fixtures / "clob_book_nfl-det-buf-2026-09-18_lions_2026-09-16.json").read_text())
    v1 = json.loads((fixtures / "gamma_event_nfl-det-buf-2026-09-18_trimmed_2026-09-16.json").read_text())
    assert recorded["asset_id"] == json.loads(v1[0]["markets"][0]["clobTokenIds"])[0]
