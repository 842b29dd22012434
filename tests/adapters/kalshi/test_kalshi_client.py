"""The Kalshi client on a fake clock, in process (``httpx.MockTransport``): the token bucket keeps
requests within ``MPX_KALSHI_RATE``, the backoff after a 429 without ``Retry-After`` grows, a
``Retry-After`` is honoured, 5xx and timeouts are retried, retries stop at the pass deadline, and
cursor paging stops on ``""``, ``null`` or a missing cursor. Nothing here really sleeps."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mpx.adapters.sources.kalshi.client import KalshiClient, KalshiConfig, TokenBucket
from mpx.adapters.sources.polymarket.client import FetchError

from stubs.clock import FakeClock, within_rate

URL = "https://kalshi.test/trade-api/v2"


@pytest.fixture
def wall() -> Iterator[None]:
    t0 = time.monotonic()
    yield
    assert time.monotonic() - t0 < 2, "a fake-clock test must not really wait"


def test_the_bucket_lets_a_burst_through_then_one_every_1_over_rate(wall: None) -> None:
    clock = FakeClock()
    bucket = TokenBucket(20, clock=clock, sleep=clock.sleep)
    granted: list[float] = []

    async def take() -> None:
        await bucket.acquire()
        granted.append(clock())

    async def main() -> None:
        await asyncio.gather(*(take() for _ in range(200)))

    asyncio.run(main())
    assert len(granted) == 200
    assert granted[:20] == [1000.0] * 20  # the first second's worth at once
    assert granted[-1] - 1000.0 == pytest.approx(180 / 20)  # then 20 a second: 180 more take 9 s
    assert within_rate(granted, 20, 20)
    assert not within_rate(granted, 19, 20)  # and no slower than the rate either
    assert bucket.waited == pytest.approx(9.0)


def test_the_bucket_refills_while_idle_but_never_beyond_its_burst(wall: None) -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=5, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> list[float]:
        out = []
        for _ in range(n):
            await bucket.acquire()
            out.append(clock())
        return out

    first = asyncio.run(take(5))
    assert first == [1000.0] * 5 and clock.slept == []
    clock.t += 0.3  # idle: 3 tokens back
    second = asyncio.run(take(4))
    assert second[:3] == [1000.3] * 3 and second[3] == pytest.approx(1000.4)
    clock.t += 3600  # a long idle fills the bucket to its burst, no more
    third = asyncio.run(take(6))
    assert third[:5] == [third[0]] * 5 and third[5] == pytest.approx(third[0] + 0.1)
    with pytest.raises(ValueError):
        TokenBucket(0)


def mock(handler: Callable[[httpx.Request], httpx.Response], clock: FakeClock) -> tuple[httpx.MockTransport,
                                                                                          list[float]]:
    """A transport answering with ``handler``, noting the clock at every request it receives."""
    seen: list[float] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        seen.append(clock())
        return handler(request)

    return httpx.MockTransport(wrapped), seen


def run(clock: FakeClock, transport: httpx.AsyncBaseTransport, job: Callable[[KalshiClient], Any],
        deadline: float | None = None, **config: Any) -> tuple[Any, KalshiClient]:
    cfg = KalshiConfig(url=URL, **{"rate": 20.0, "retries": 3, "backoff": 0.25, **config})

    async def main() -> tuple[Any, KalshiClient]:
        async with KalshiClient(cfg, transport=transport, sleep=clock.sleep, clock=clock,
                                deadline=deadline) as client:
            return await job(client), client

    return asyncio.run(main())


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode())


def test_requests_stay_within_the_rate_whatever_the_concurrency(wall: None) -> None:
    clock = FakeClock()
    transport, seen = mock(lambda r: ok({"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}), clock)

    async def job(client: KalshiClient) -> list[Any]:
        return list(await asyncio.gather(*(client.get("orderbook", f"markets/M{i}/orderbook") for i in range(60))))

    got, _ = run(clock, transport, job, rate=20.0, concurrency=16)
    assert len(got) == 60 and len(seen) == 60
    assert seen.count(1000.0) == 20 and max(seen) - 1000.0 == pytest.approx(40 / 20)
    assert within_rate(seen, 20, 20)


def test_a_429_without_retry_after_backs_off_exponentially_with_jitter(wall: None) -> None:
    clock = FakeClock()
    answers = [httpx.Response(429, json={"error": "too many requests"})] * 3 + [ok({"series": {"ticker": "S"}})]
    transport, seen = mock(lambda r: answers.pop(0), clock)
    got, client = run(clock, transport, lambda c: c.get("series", "series/S"))
    assert got == {"series": {"ticker": "S"}} and len(seen) == 4
    assert clock.slept == client.waits and len(clock.slept) == 3  # the injected sleep got every backoff
    a, b, c = clock.slept
    assert 0.25 <= a < 0.5 <= b < 0.75 and 1.0 <= c < 1.25  # 0.25 × 2ⁿ + up to 0.25 of jitter: increasing
    assert client.stats.throttled == 3 and client.stats.retries == 3


def test_a_retry_after_is_honoured_and_pauses_every_request(wall: None) -> None:
    clock = FakeClock()
    first = [True]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/A/orderbook") and first[0]:
            first[0] = False
            return httpx.Response(429, headers={"Retry-After": "2.5"}, json={"error": "too many requests"})
        return ok({"orderbook_fp": {}})

    transport, seen = mock(handler, clock)

    async def job(client: KalshiClient) -> list[Any]:
        a = await client.get("orderbook", "markets/A/orderbook")
        b = await client.get("orderbook", "markets/B/orderbook")  # after the pause
        return [a, b]

    _, client = run(clock, transport, job)
    assert client.waits == [2.5] and seen == [1000.0, 1002.5, 1002.5]


def test_5xx_and_timeouts_are_retried_then_given_up(wall: None) -> None:
    clock = FakeClock()
    answers: list[Any] = [httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(500), ok({"x": 1})]

    def handler(request: httpx.Request) -> httpx.Response:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    got, client = run(clock, mock(handler, clock)[0], lambda c: c.get("market", "markets/X"))
    assert got == {"x": 1}
    assert client.stats.requests[("market", "503")] == 1 and client.stats.requests[("market", "timeout")] == 1
    with pytest.raises(FetchError, match=r"market: HTTP 502 after 3 attempts"):
        run(clock, mock(lambda r: httpx.Response(502), clock)[0], lambda c: c.get("market", "markets/X"), retries=2)
    with pytest.raises(FetchError, match="HTTP 404") as info:  # not retried
        run(clock, mock(lambda r: httpx.Response(404, json={"error": "not found"}), clock)[0],
            lambda c: c.get("market", "markets/NOPE"))
    assert info.value.status == 404


def test_retries_stop_at_the_pass_deadline(wall: None) -> None:
    clock = FakeClock()
    transport, seen = mock(lambda r: httpx.Response(429, json={"error": "too many requests"}), clock)
    with pytest.raises(FetchError, match="retrying would pass the deadline"):
        run(clock, transport, lambda c: c.get("events", "events"), deadline=1000.6, retries=10)
    assert len(seen) == 2  # 0.25–0.5 s of backoff fit before the deadline, the next 0.5–0.75 s does not


@pytest.mark.parametrize("last", ["", None, "missing"])
def test_cursor_paging_ends_on_an_empty_null_or_missing_cursor(wall: None, last: str | None) -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        assert request.url.params["limit"] == "200" and request.url.params["status"] == "open"
        assert request.url.params["with_nested_markets"] == "true"
        if cursor is None:
            return ok({"events": [{"event_ticker": "E1"}], "cursor": "CgYI8Kmw", "milestones": []})
        assert cursor == "CgYI8Kmw"
        page: dict[str, Any] = {"events": [{"event_ticker": "E2"}], "milestones": []}
        if last != "missing":
            page["cursor"] = last
        return ok(page)

    transport, seen = mock(handler, clock)
    got, _ = run(clock, transport, lambda c: c.events())
    assert [e["event_ticker"] for e in got] == ["E1", "E2"] and len(seen) == 2


def test_a_cursor_that_comes_back_is_an_error_not_a_loop_and_series_are_listed_one_by_one(wall: None) -> None:
    clock = FakeClock()
    transport, _ = mock(lambda r: ok({"events": [], "cursor": "same"}), clock)
    with pytest.raises(FetchError, match="came back twice"):
        run(clock, transport, lambda c: c.events())
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["series_ticker"])
        return ok({"events": [{"event_ticker": request.url.params["series_ticker"] + "-1"}], "cursor": ""})

    got, _ = run(clock, mock(handler, clock)[0], lambda c: c.events(), series=("KXNFLGAME", "KXFEDDECISION"))
    assert asked == ["KXNFLGAME", "KXFEDDECISION"] and [e["event_ticker"] for e in got] == [
        "KXNFLGAME-1", "KXFEDDECISION-1"]
