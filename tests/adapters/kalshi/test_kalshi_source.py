"""The Kalshi source against a local stand-in speaking Kalshi's API (recorded responses): a full
pass (events paged, series fees, every open market's book, bids turned into asks), the metadata
TTL, every fault (429 with and without Retry-After, 5xx, a timeout, truncated JSON, both book
shapes, one-sided books with sentinel quotes, a total outage), the rate limit, closed and settled
markets, and record → replay; then `mpx ingest --source kalshi` into PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpx.adapters.sources.kalshi.client import KalshiConfig
from mpx.adapters.sources.kalshi.source import KalshiReplaySource, KalshiSource
from mpx.domain.models import Level, Snapshot
from mpx.errors import UnavailableError

from conftest import TestDb
from helpers import invoke_mpx
from stubs.clock import FakeClock, within_rate
from stubs.kalshi import DETBUF, KalshiStandIn

DET, BUF = f"{DETBUF}-DET", f"{DETBUF}-BUF"
NOW = datetime(2026, 9, 16, 12, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[KalshiStandIn]:
    with KalshiStandIn(extra=210) as server:  # 212 events: two pages of 200
        yield server


class Sleeps:
    """The source's pauses, recorded instead of slept (no test waits for a backoff)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def source(api: KalshiStandIn, sleeps: Sleeps | None = None, **kw: Any) -> KalshiSource:
    # a generous read timeout: on a loaded machine (the suite runs three workers on two cores) the local
    # stand-in can take seconds to answer, and a timeout there is a retry the test did not plan; the
    # timeout test passes its own
    config = KalshiConfig(url=api.url, rate=kw.pop("rate", 10_000), timeout=kw.pop("timeout", 30.0),
                          retries=kw.pop("retries", 3), series=kw.pop("series", ()))
    return KalshiSource(config, now=lambda: NOW, sleep=kw.pop("sleep", None) or sleeps or Sleeps(), **kw)


class Stamped(httpx.AsyncBaseTransport):
    """The real transport, noting ``clock()`` as each request goes out."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._inner = httpx.AsyncHTTPTransport()
        self.times: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(self._clock())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def books(snap: Snapshot) -> dict[str, Any]:
    return {b.token_id: b for b in snap.books}


def test_a_full_pass_pages_events_fetches_fees_and_every_open_book(api: KalshiStandIn) -> None:
    snap, cursor = source(api).fetch(None)
    assert api.count("/events?") == 2 and "cursor=" in [ln for ln in api.log if ln.startswith("/events")][1]
    assert api.count("/series/KXNFLGAME") == 1 and api.count("/series/KXBENCH") == 1
    assert len(snap.markets) == 214 and len(snap.events) == 212 and cursor["metadata_at"] == NOW.isoformat()
    assert api.count("/markets/") == 214 and len(snap.books) == 428  # a YES and a NO book per market
    b = books(snap)
    det_yes, det_no = b[f"{DET}:yes"], b[f"{DET}:no"]
    assert det_yes.bids[0] == Level(D("0.32"), D("2070176.84")) and det_yes.asks[0] == Level(D("0.33"), D("8583872.44"))
    assert det_no.asks[0] == Level(D("0.68"), D("2070176.84"))
    det = next(m for m in snap.markets if m.id == DET)
    assert det.venue == "kalshi" and det.fee.rate == D("0.07") and det.fee.round_up
    bench = next(m for m in snap.markets if m.id == "KXBENCH-0000-Y")
    assert b["KXBENCH-0000-Y:yes"].asks[0].price == D("0.44") and bench.fee.rate == D("0.07")


def test_within_the_metadata_ttl_a_pass_fetches_only_the_known_books(api: KalshiStandIn) -> None:
    src = source(api, metadata_ttl=timedelta(minutes=5))
    snap, cursor = src.fetch(None)
    known = [o.token_id for m in snap.markets if m.tradable for o in m.outcomes]
    api.log.clear()
    snap2, cursor2 = src.fetch(cursor, lambda: known)
    assert api.count("/events") == 0 and api.count("/series") == 0 and api.count("/markets/") == 214
    assert snap2.markets == [] and len(snap2.books) == 428 and cursor2 == cursor


def test_a_series_filter_lists_only_that_series(api: KalshiStandIn) -> None:
    snap, _ = source(api, series=("KXNFLGAME",)).fetch(None)
    assert sorted(m.id for m in snap.markets) == sorted([DET, BUF, "KXNFLGAME-26OCT08TBDAL-DAL",
                                                         "KXNFLGAME-26OCT08TBDAL-TB"])
    assert all("series_ticker=KXNFLGAME" in ln for ln in api.log if ln.startswith("/events"))


def test_429_without_retry_after_backs_off_exponentially_and_with_it_waits_as_told(api: KalshiStandIn) -> None:
    api.fail("orderbook", 429, times=3, match=DET)
    sleeps = Sleeps()
    src = source(api, sleeps)
    snap, _ = src.fetch(None)
    assert f"{DET}:yes" in books(snap)  # the fourth attempt answered
    client = src.last_client
    assert client is not None and client.stats.throttled == 3
    assert len(client.waits) == 3 and client.waits[0] < client.waits[1] < client.waits[2]  # 0.25·2ⁿ + jitter
    assert all(0.25 * 2**n <= w <= 0.25 * 2**n + 0.25 for n, w in enumerate(client.waits))
    api.fail("orderbook", 429, times=1, retry_after=1.5, match=BUF)
    src2 = source(api, Sleeps())
    src2.fetch(None)
    assert src2.last_client is not None and src2.last_client.waits == [1.5], dict(src2.last_client.stats.requests)


def test_5xx_and_a_timeout_are_retried(api: KalshiStandIn) -> None:
    api.fail("events", 503, times=2)
    api.hang("orderbook", 2.5, match=DET)
    src = source(api, timeout=1.5)
    snap, _ = src.fetch(None)
    assert len(snap.markets) == 214 and f"{DET}:yes" in books(snap)
    stats = src.last_client.stats if src.last_client else None
    assert stats is not None and stats.requests[("events", "503")] == 2
    assert stats.requests[("orderbook", "timeout")] >= 1


def test_truncated_json_is_retried_and_a_book_that_stays_broken_is_reported_not_stored(api: KalshiStandIn) -> None:
    api.truncate("events")
    api.truncate("orderbook", times=4, match=BUF)  # every attempt
    snap, _ = source(api).fetch(None)
    assert len(snap.markets) == 214
    b = books(snap)
    assert f"{BUF}:yes" not in b and f"{DET}:yes" in b
    assert any("1 of 214 order books could not be fetched" in e for e in snap.errors)
    assert snap.stats["failed_tokens"] == 2


def test_cents_and_dollar_book_shapes_give_the_same_books(api: KalshiStandIn) -> None:
    api.set_book(DET, yes=[("0.45", "300"), ("0.44", "10")], no=[("0.53", "300")], shape="fp")
    api.set_book(BUF, yes=[("0.45", "300"), ("0.44", "10")], no=[("0.53", "300")], shape="legacy")
    b = books(source(api).fetch(None)[0])
    for side in ("yes", "no"):
        d, u = b[f"{DET}:{side}"], b[f"{BUF}:{side}"]
        assert [(lv.price, lv.size) for lv in d.bids] == [(lv.price, lv.size) for lv in u.bids]
        assert [(lv.price, lv.size) for lv in d.asks] == [(lv.price, lv.size) for lv in u.asks]
    assert b[f"{DET}:yes"].asks[0] == Level(D("0.47"), D(300)) and b[f"{DET}:no"].asks[0] == Level(D("0.55"), D(300))


def test_a_one_sided_book_with_sentinel_quotes_has_no_ask(api: KalshiStandIn) -> None:
    # an empty NO side, the market quoting the sentinels yes_ask 0 / no_bid 1 with size 0
    api.set_market(BUF, yes_ask_dollars="0.0000", yes_ask_size_fp="0.00", no_bid_dollars="1.0000")
    api.books.pop(BUF, None)
    b = books(source(api).fetch(None)[0])
    assert b[f"{BUF}:yes"].asks == () and b[f"{BUF}:no"].bids == ()  # never "free at 0"
    assert b[f"{BUF}:yes"].bids and b[f"{BUF}:no"].asks


def test_markets_that_close_or_settle_leave_the_open_listing_and_are_looked_up(api: KalshiStandIn) -> None:
    src = source(api, metadata_ttl=timedelta(0))
    snap, cursor = src.fetch(None)
    known = [o.token_id for m in snap.markets if m.tradable for o in m.outcomes]
    api.set_market(BUF, status="closed")
    api.set_market(DET, status="finalized", result="yes")  # the event has no open market: not listed any more
    api.log.clear()
    snap, _ = src.fetch(cursor, lambda: known)
    assert api.count(f"/markets/{DET}") == 1 and api.count(f"/markets/{BUF}") == 1  # GET /markets/{ticker}
    det = next(m for m in snap.markets if m.id == DET)
    buf = next(m for m in snap.markets if m.id == BUF)
    assert det.status == "resolved" and det.outcomes[0].settle_price == D(1) and det.outcomes[1].settle_price == D(0)
    assert buf.status == "closed" and not buf.tradable
    assert f"{DET}:yes" not in books(snap) and f"{BUF}:yes" not in books(snap)  # no book fetched for them
    assert api.count(f"/markets/{DET}/orderbook") == 0


def test_a_total_outage_is_unavailable_with_a_clear_message() -> None:
    with KalshiStandIn() as api:
        api.fail("events", 500, times=10)
        with pytest.raises(UnavailableError, match="Kalshi unavailable: could not list events"):
            source(api, retries=2).fetch(None)
    with KalshiStandIn() as api:
        api.fail("orderbook", 502, times=100)
        with pytest.raises(UnavailableError, match="no order book could be fetched"):
            source(api, retries=1).fetch(None)


def test_the_rate_limit_paces_requests() -> None:
    """1 events page + 2 series + 14 books = 17 reads. At MPX_KALSHI_RATE=8 the bucket lets a
    second's worth (8) through at once, then one every 1/8 s: the 17th read goes out exactly
    9 / 8 = 1.125 s after the first. On a fake clock (the pass's sleeps advance it): the times are
    exact and nothing really waits."""
    clock = FakeClock()
    sent = Stamped(clock)
    with KalshiStandIn(extra=10) as api:
        t0 = time.monotonic()
        source(api, sleep=clock.sleep, rate=8, clock=clock, transport=sent).fetch(None)
        assert len(api.arrivals) == 17 and time.monotonic() - t0 < 5
    assert len(sent.times) == 17 and sent.times[:8] == [sent.times[0]] * 8
    assert sent.times[-1] - sent.times[0] == pytest.approx(9 / 8)
    assert within_rate(sent.times, 8, 8)


def test_record_then_replay_gives_the_same_snapshot(api: KalshiStandIn, tmp_path: Path) -> None:
    api.fail("orderbook", 429, times=1, match=DET)
    recorded, _ = source(api, record_dir=tmp_path).fetch(None)
    api.fail("events", 500, times=50)  # the replay never asks the server
    replayed, cursor = KalshiReplaySource(tmp_path, KalshiConfig(url=api.url)).fetch(None)
    assert sorted(m.id for m in replayed.markets) == sorted(m.id for m in recorded.markets)
    assert ({b.token_id: (b.bids, b.asks) for b in replayed.books}
            == {b.token_id: (b.bids, b.asks) for b in recorded.books})
    assert replayed.ts == NOW and cursor["pass"] == 1
    with pytest.raises(UnavailableError, match="have been replayed"):
        KalshiReplaySource(tmp_path, KalshiConfig()).fetch(cursor)


def test_mpx_ingest_source_kalshi_stores_the_venue(db: TestDb, api: KalshiStandIn) -> None:
    res = invoke_mpx("ingest", "--source", "kalshi", env={"MPX_KALSHI_URL": api.url, "MPX_KALSHI_SERIES": "KXNFLGAME"})
    assert res.code == 0, res.stderr
    assert "ingest kalshi" in res.stdout and "8 books" in res.stdout
    with db.connect() as conn:
        assert conn.execute("SELECT count(*), min(venue), max(venue) FROM market").fetchone() == (4, "kalshi", "kalshi")
        assert conn.execute("SELECT venue, source, books FROM ingest_pass").fetchall() == [("kalshi", "kalshi", 8)]
        fee = conn.execute("SELECT fee_rate, fee_quantum, fee_round_up FROM market WHERE id = %s", (DET,)).fetchone()
    assert fee == (D("0.07"), D("0.01"), True)
    listed = invoke_mpx("markets", "list", "--venue", "kalshi", "--format", "csv")
    assert listed.code == 0 and DET in listed.stdout
    assert invoke_mpx("markets", "list", "--venue", "polymarket", "--format", "csv").stdout.count("\n") <= 1
