"""Partial failures of a Kalshi pass are survived, noted in ``Snapshot.errors`` and counted in
``Snapshot.stats``: a series whose fees cannot be fetched, a listing that stays broken while known
books can still be fetched, a book answer that is not a book. On the stand-in, four markets, a fake
clock (no backoff really waits)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mpx.adapters.sources.kalshi.client import KalshiConfig
from mpx.adapters.sources.kalshi.source import KalshiSource
from mpx.errors import UnavailableError

from stubs.clock import FakeClock
from stubs.kalshi import DETBUF, KalshiStandIn

DET, BUF = f"{DETBUF}-DET", f"{DETBUF}-BUF"
NOW = datetime(2026, 9, 16, 12, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[KalshiStandIn]:
    with KalshiStandIn() as server:
        yield server


def source(api: KalshiStandIn, clock: FakeClock | None = None, **config: Any) -> KalshiSource:
    clock = clock or FakeClock()
    cfg = KalshiConfig(url=api.url, **{"rate": 50.0, "timeout": 2.0, "retries": 2, **config})
    return KalshiSource(cfg, now=lambda: NOW, sleep=clock.sleep, clock=clock)


def test_a_series_whose_fees_fail_leaves_its_fee_rate_unknown_and_is_counted(api: KalshiStandIn) -> None:
    api.fail("series", 503, times=3)  # every attempt (retries=2)
    clock = FakeClock()
    snap, _ = source(api, clock).fetch(None)
    assert len(snap.markets) == 4 and len(snap.books) == 8  # the books are fetched all the same
    assert all(m.fee.enabled and m.fee.rate is None for m in snap.markets)  # never P1 on them this pass
    assert snap.stats["failed_series"] == 1 and snap.stats["fee_unknown_markets"] == 4
    assert snap.stats["requests:series:503"] == 3 and snap.stats["retries"] == 2
    assert any("fees of 1 series could not be fetched (KXNFLGAME)" in e for e in snap.errors)
    assert len(clock.slept) == 2 and clock.slept[0] < clock.slept[1]  # the backoff, on the fake clock


def test_a_listing_that_stays_broken_still_fetches_the_known_books(api: KalshiStandIn) -> None:
    api.replace_body("events", '{"events": "not a list", "cursor": ""}', times=1)
    with pytest.raises(UnavailableError, match=r"Kalshi unavailable: could not list events .*without a `events` list"):
        source(api).fetch(None)  # nothing known yet: nothing to fall back on
    api.truncate("events", times=3)
    known = [f"{DET}:yes", f"{DET}:no"]
    snap, cursor = source(api).fetch({"metadata_at": "2026-09-16T00:00:00+00:00"}, lambda: known)
    assert snap.markets == [] and sorted(b.token_id for b in snap.books) == sorted(known)
    assert any(e.startswith("metadata refresh failed: events: malformed JSON") for e in snap.errors)
    assert cursor == {"metadata_at": "2026-09-16T00:00:00+00:00"}  # not refreshed: the next pass tries again


def test_a_book_answer_that_is_not_a_book_is_dropped_and_counted(api: KalshiStandIn) -> None:
    api.replace_body("orderbook", "[]", match=BUF)
    api.replace_body("orderbook", '{"orderbook_fp": {"yes_dollars": [["0.5000", "-3.00"], ["1.2", "1"]],'
                                  ' "no_dollars": [["0.4000", "7.00"]]}}', match=DET)
    snap, _ = source(api).fetch(None)
    by_token = {b.token_id: b for b in snap.books}
    assert f"{BUF}:yes" not in by_token and snap.stats["dropped_books"] == 1
    assert by_token[f"{DET}:yes"].bids == () and by_token[f"{DET}:yes"].asks[0].price == 1 - by_token[
        f"{DET}:no"].bids[0].price
    assert snap.stats["dropped_levels"] == 2 and any("2 invalid book level(s) dropped" in e for e in snap.errors)
    assert any(f"{BUF}: an order book that is not an object" in e for e in snap.errors)
