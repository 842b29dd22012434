"""Gamma event listing: ``/events/keyset`` paging (``after_cursor``, filters re-sent, stop when
``next_cursor`` is absent), the offset fallback only when that endpoint answers 404, and faults
handled as for every other request — against the stand-in, which pages as Gamma does."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from mpx.adapters.sources.polymarket.client import ClientConfig, FetchError, Paging, PolymarketClient
from mpx.adapters.sources.polymarket.parse import ParseReport, parse_events

from stubs.polymarket import OFFSET_MAX, PolymarketStandIn


def universe(n_events: int) -> list[dict[str, Any]]:
    """Active events with Gamma-style decimal ids (100000, 100001, …); paging never looks inside."""
    return [{"id": str(100000 + i), "title": f"Event {i}", "active": True, "closed": False, "markets": []}
            for i in range(n_events)]


def listing(api: PolymarketStandIn, page_size: int = 5, paging: Paging = "auto", retries: int = 2,
            concurrency: int = 8) -> tuple[list[Any], PolymarketClient]:
    config = ClientConfig(gamma_url=api.url, clob_url=api.url, page_size=page_size, retries=retries,
                          backoff=0.01, timeout=30, events_paging=paging, concurrency=concurrency)  # no
    # timeout on a loaded machine: the retries counted are the faults planted

    async def run() -> tuple[list[Any], PolymarketClient]:
        async with PolymarketClient(config, paced=False) as client:
            return await client.events(), client

    return asyncio.run(run())


def ids(events: list[Any]) -> list[str]:
    return [str(e["id"]) for e in events]


def test_keyset_pages_until_next_cursor_is_absent_resending_every_filter() -> None:
    events = universe(23)
    events[3]["closed"] = True  # filtered out on whichever page it would be
    events[17]["active"] = False
    with PolymarketStandIn(events) as api:
        got, client = listing(api, page_size=5)
        assert client.events_paging == "keyset" and client.stats.keyset_pages == 5  # 21 events: 5+5+5+5+1
        pages = [q for _, path, q, _ in api.requests if path == "/events/keyset"]
    assert sorted(ids(got)) == sorted(ids(events[:3] + events[4:17] + events[18:]))
    for i, query in enumerate(pages):
        params = dict(p.split("=", 1) for p in query.split("&"))
        assert params["active"] == "true" and params["closed"] == "false" and params["limit"] == "5"
        assert ("after_cursor" in params) == (i > 0) and "offset" not in params and "cursor" not in params
    assert api.count("/events?") == 0  # no offset request at all


def test_keyset_over_a_list_that_shifts_between_pages_loses_and_repeats_nothing() -> None:
    events = universe(30)
    extra = copy.deepcopy(events[:4])
    for k, e in enumerate(extra):
        e["id"] = str(50000 + k) if k < 2 else str(990000 + k)  # two before every cursor, two after
    present_throughout = {str(e["id"]) for e in events} - {events[2]["id"], events[25]["id"]}

    def shift(served: int) -> None:
        if served == 1:  # between pages 1 and 2: insert ahead of and behind the cursor, remove two
            api.set_events([extra[0], extra[2]] + [e for e in events if e["id"] not in
                                                   (events[2]["id"], events[25]["id"])])
        if served == 3:
            api.set_events([extra[0], extra[1], extra[2], extra[3]] + [e for e in events if e["id"] not in
                                                                       (events[2]["id"], events[25]["id"])])

    with PolymarketStandIn(events) as api:
        api.on_events = shift
        got, client = listing(api, page_size=7)
    counts = Counter(ids(got))
    assert client.events_paging == "keyset"
    assert max(counts.values()) == 1  # nothing listed twice
    assert present_throughout <= set(counts)  # nothing that was there all along is lost
    assert {extra[2]["id"], extra[3]["id"]} <= set(counts)  # inserted ahead of the cursor: seen this pass
    assert events[25]["id"] not in counts  # removed before its page was read


def test_offset_paging_over_the_same_shifting_list_would_skip_and_repeat() -> None:
    """Why keyset: the same shifts under offset paging (one page at a time) lose and repeat events."""
    events = universe(30)

    def shift(served: int) -> None:
        if served == 1:  # remove an event already listed on page 1: everything after moves up one
            api.set_events(events[:2] + events[3:])
        if served == 2:  # insert one at the front: everything moves down one
            api.set_events([dict(events[0], id="1"), *events[:2], *events[3:]])

    with PolymarketStandIn(events, keyset=False) as api:
        api.on_events = shift
        got, client = listing(api, page_size=7, paging="offset", concurrency=1)  # pages in order
    assert client.events_paging == "offset"
    counts = Counter(ids(got))
    lost = {str(e["id"]) for e in events} - {events[2]["id"]} - set(counts)
    assert lost and max(counts.values()) == 2  # offset paging dropped and repeated events
    report = ParseReport()
    parsed, _ = parse_events(got, report)
    assert report.duplicates >= 1 and len({e.id for e in parsed}) == len(parsed)  # kept once when parsed


def test_offset_fallback_only_when_the_keyset_endpoint_answers_404() -> None:
    events = universe(12)
    with PolymarketStandIn(events, keyset=False) as api:
        got, client = listing(api, page_size=5)
        statuses = [(path, status) for _, path, _, status in api.requests]
    assert client.events_paging == "offset" and sorted(ids(got)) == sorted(ids(events))
    assert statuses[0] == ("/events/keyset", 404) and client.stats.keyset_pages == 0
    assert {p for p, _ in statuses[1:]} == {"/events"} and client.stats.offset_pages >= 3


def test_a_404_on_a_later_keyset_page_is_an_error_not_a_silent_fallback() -> None:
    with PolymarketStandIn(universe(12)) as api:
        api.fail("events", 404, match="after_cursor")
        with pytest.raises(FetchError, match="HTTP 404"):
            listing(api, page_size=5)
        assert api.count("/events?") == 0


def test_keyset_only_paging_never_falls_back() -> None:
    with PolymarketStandIn(universe(3), keyset=False) as api, pytest.raises(FetchError, match="HTTP 404"):
        listing(api, paging="keyset")


def test_offset_paging_is_refused_beyond_2000_and_the_listing_fails_whole() -> None:
    events = universe(2100)
    with PolymarketStandIn(events, keyset=False) as api, pytest.raises(FetchError, match="HTTP 422"):
        listing(api, page_size=100, paging="offset")
    with PolymarketStandIn(events) as api:  # keyset has no such limit
        got, client = listing(api, page_size=500)
    assert client.events_paging == "keyset" and len(got) == 2100 and client.stats.keyset_pages == 5


@pytest.mark.parametrize("status", [500, 502, 429])
def test_a_failing_keyset_page_is_retried_and_nothing_is_lost(status: int) -> None:
    events = universe(12)
    with PolymarketStandIn(events) as api:
        api.fail("events", status, times=2, retry_after=0.05 if status == 429 else None, match="after_cursor")
        got, client = listing(api, page_size=5)
    assert sorted(ids(got)) == sorted(ids(events)) and client.stats.retries == 2
    assert client.stats.requests[("events", str(status))] == 2
    assert client.stats.throttled == (2 if status == 429 else 0)


def test_a_truncated_keyset_page_is_retried_then_reported() -> None:
    events = universe(12)
    with PolymarketStandIn(events) as api:
        api.truncate("events", times=1, match="after_cursor")
        got, _ = listing(api, page_size=5)
        assert sorted(ids(got)) == sorted(ids(events))
        api.truncate("events", times=3)
        with pytest.raises(FetchError, match="malformed JSON"):
            listing(api, page_size=5, retries=2)


@pytest.mark.parametrize("body, message", [
    ("[]", "without an `events` list"),  # the offset endpoint's shape
    ('{"data": []}', "without an `events` list"),
    ('{"events": [], "next_cursor": {"k": 1}}', "not a cursor"),
])
def test_a_keyset_page_of_the_wrong_shape_fails_the_listing(body: str, message: str) -> None:
    with PolymarketStandIn(universe(3)) as api:
        api.replace_body("events", body)
        with pytest.raises(FetchError, match=message):
            listing(api)


def test_a_cursor_the_server_ignores_is_caught_rather_than_looping() -> None:
    """A server answering page 1 again (what Gamma does with a parameter named ``cursor``) sends the
    same next_cursor twice: the client stops with an error instead of listing forever."""
    with PolymarketStandIn(universe(12)) as api:
        first = httpx.get(f"{api.url}/events/keyset", params={"limit": 5}).text
        api.replace_body("events", first, times=2, match="after_cursor")
        with pytest.raises(FetchError, match="came back twice"):
            listing(api, page_size=5)


def test_stand_in_keyset_rules_like_gamma() -> None:
    events = universe(600)
    with PolymarketStandIn(events) as api:
        page1 = httpx.get(f"{api.url}/events/keyset", params={"limit": 1000}).json()
        assert len(page1["events"]) == 500 and "next_cursor" in page1  # limit capped at 500
        ignored = httpx.get(f"{api.url}/events/keyset", params={"limit": 500, "cursor": page1["next_cursor"]})
        assert ignored.json() == page1  # `cursor` is not a parameter: page 1 again
        page2 = httpx.get(f"{api.url}/events/keyset", params={"limit": 500, "after_cursor": page1["next_cursor"]})
        assert len(page2.json()["events"]) == 100 and "next_cursor" not in page2.json()
        assert httpx.get(f"{api.url}/events/keyset", params={"offset": 0}).status_code == 422
        assert httpx.get(f"{api.url}/events/keyset", params={"after_cursor": "%%%"}).status_code == 400
        assert httpx.get(f"{api.url}/events", params={"offset": OFFSET_MAX}).status_code == 200
        assert httpx.get(f"{api.url}/events", params={"offset": OFFSET_MAX + 1}).status_code == 422
    seen = ids(page1["events"]) + ids(page2.json()["events"])
    assert sorted(seen) == sorted(ids(events)) and json.dumps(seen)
