"""An async HTTP client for Kalshi's public market data (Trade API v2, no authentication).

Every request goes through one rate limit — Kalshi's read budget is a token bucket, about 20 reads
a second on the basic tier (``MPX_KALSHI_RATE``; :class:`TokenBucket`, holding one second of budget,
less than the two seconds Kalshi's basic read bucket holds) — and ``MPX_HTTP_CONCURRENCY`` at a
time, each with ``MPX_HTTP_TIMEOUT``; retried (``MPX_HTTP_RETRIES``) with exponential backoff and
jitter on 429, 5xx, timeouts, connection errors and malformed JSON, within the pass deadline.
Kalshi's 429 carries no ``Retry-After`` (API_NOTES §7): the backoff is ours, and a 429 also pauses
every request for that long (the bucket is shared); a ``Retry-After`` that does come is honoured.
Listings are cursor-paged until the cursor is ``""``, ``null`` or missing (a cursor seen twice is
an error, not a loop).

The clock and the sleep are injectable (``clock``, ``sleep``): the bucket, the backoff, a 429's
pause and the pass deadline all run on them, so a test drives a whole pass on a fake clock and never
sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mpx.adapters.sources.polymarket.client import Attempt, FetchError, FetchStats, answered, sent, with_retries

EVENTS_MAX_LIMIT = 200  # GET /events: default and maximum page size

_EPSILON = 1e-9
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A token bucket: ``burst`` tokens (default one second's worth, ``rate``), refilled at ``rate``
    per second of ``clock``; :meth:`acquire` takes one, sleeping (``sleep``) until one is there.
    Waiters are served in arrival order. Over any interval of T seconds at most ``burst + rate × T``
    acquisitions succeed — the property the tests check on a fake clock."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self.rate = float(rate)
        self.burst = max(1.0, float(burst) if burst is not None else self.rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp: float | None = None
        self._lock: asyncio.Lock | None = None  # made in the running loop (one per pass)
        self.waited = 0.0
        """Clock seconds spent waiting for tokens, in total."""

    def _refill(self) -> None:
        now = self._clock()
        if self._stamp is not None and now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now if self._stamp is None else max(self._stamp, now)

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1 - _EPSILON:  # float time: 0.05 s × 20 may come out as 0.99999…
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait = (1 - self._tokens) / self.rate
                self.waited += wait
                await self._sleep(wait)


@dataclass
class KalshiConfig:
    url: str = "https://external-api.kalshi.com/trade-api/v2"
    series: tuple[str, ...] = ()
    """Series to list (``series_ticker=``); empty: every open event."""
    rate: float = 20.0
    concurrency: int = 8
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.25
    page_size: int = EVENTS_MAX_LIMIT


class KalshiClient:
    def __init__(self, config: KalshiConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Sleep = asyncio.sleep, deadline: float | None = None, paced: bool = True,
                 clock: Clock = time.monotonic, bucket: TokenBucket | None = None) -> None:
        """``deadline``: a ``clock()`` value after which nothing new starts. ``bucket``: the rate
        limit (default: ``config.rate`` a second on ``clock``, waiting with ``sleep``)."""
        self.config = config
        self.stats = FetchStats()
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self.paced = paced  # the rate limit and backoff pauses; off when replaying a recording
        self._deadline = deadline
        self._http: httpx.AsyncClient | None = None
        self._sem = asyncio.Semaphore(config.concurrency)
        self.bucket = bucket or TokenBucket(config.rate, clock=clock, sleep=sleep)
        self._paused_until = 0.0
        self.waits: list[float] = []
        """Every backoff pause taken (seconds), in order (the tests read it)."""

    async def __aenter__(self) -> KalshiClient:
        self._http = httpx.AsyncClient(timeout=self.config.timeout, transport=self._transport,
                                       limits=httpx.Limits(max_connections=self.config.concurrency),
                                       headers={"User-Agent": "mpx (MarketPulse-X)", "Accept": "application/json"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - self._clock()

    async def get(self, endpoint: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET url/path`` with retries: the decoded JSON (numbers as Decimal) or FetchError."""
        assert self._http is not None, "use `async with KalshiClient(...)`"
        url = f"{self.config.url.rstrip('/')}/{path.lstrip('/')}"
        return await with_retries(endpoint, lambda: self._attempt(endpoint, url, params),
                                  retries=self.config.retries, backoff=self.config.backoff,
                                  remaining=self._remaining, sleep=self._wait, stats=self.stats,
                                  on_retry=self._throttled)

    def _throttled(self, what: str, wait: float) -> None:
        if what == "HTTP 429" and self.paced:  # the bucket is shared: everyone waits
            self._paused_until = max(self._paused_until, self._clock() + wait)

    async def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.paced:
            await self._sleep(seconds)

    async def _attempt(self, endpoint: str, url: str, params: dict[str, Any] | None) -> Attempt:
        assert self._http is not None
        if self.paced and (pause := self._paused_until - self._clock()) > 0:  # a 429 paused everyone
            remaining = self._remaining()
            if remaining is not None and pause >= remaining:
                raise FetchError(f"{endpoint}: throttled; waiting would pass the deadline")
            await self._sleep(pause)
        async with self._sem:
            if self.paced:
                await self.bucket.acquire()  # a token per request sent, retries included
            resp = await sent(endpoint, self.stats, self._http.get(url, params=params))
        return resp if isinstance(resp, tuple) else answered(endpoint, self.stats, resp)

    async def _paged(self, endpoint: str, path: str, key: str, params: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.get(endpoint, path, {**params, **({"cursor": cursor} if cursor else {})})
            if not isinstance(page, dict) or not isinstance(page.get(key), list):
                raise FetchError(f"{endpoint}: a page is a JSON {type(page).__name__} without a `{key}` list")
            out.extend(page[key])
            cursor = page.get("cursor") or None
            if cursor is None:
                return out
            if cursor in seen:
                raise FetchError(f"{endpoint}: the cursor {cursor[:20]}… came back twice")
            seen.add(cursor)

    async def events(self) -> list[Any]:
        """Every open event with its markets nested, for each configured series (or all)."""
        base: dict[str, Any] = {"status": "open", "with_nested_markets": "true",
                                "limit": max(1, min(self.config.page_size, EVENTS_MAX_LIMIT))}
        if not self.config.series:
            return await self._paged("events", "events", "events", base)
        out: list[Any] = []
        for series in self.config.series:
            out.extend(await self._paged("events", "events", "events", {**base, "series_ticker": series}))
        return out

    async def series(self, tickers: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """``GET /series/{ticker}`` for each: ({ticker: series object}, tickers that failed)."""
        return await self._objects("series", "series/{}", "series", tickers)

    async def markets(self, tickers: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """``GET /markets/{ticker}`` for each: ({ticker: market object}, tickers that failed)."""
        return await self._objects("market", "markets/{}", "market", tickers)

    async def _objects(self, endpoint: str, path: str, key: str, tickers: list[str]
                       ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """``GET path`` for each ticker, the object under ``key`` of each answer: ({ticker: object},
        tickers that failed or answered without one)."""
        async def one(t: str) -> tuple[str, dict[str, Any] | None]:
            try:
                body = await self.get(endpoint, path.format(t))
            except FetchError:
                return t, None
            found = body.get(key) if isinstance(body, dict) else None
            return t, found if isinstance(found, dict) else None

        got = await asyncio.gather(*(one(t) for t in tickers))
        return {t: o for t, o in got if o is not None}, [t for t, o in got if o is None]

    async def orderbooks(self, tickers: list[str]) -> tuple[dict[str, Any], list[str]]:
        """``GET /markets/{ticker}/orderbook`` for each (within the rate limit): ({ticker: answer},
        tickers that failed)."""
        async def one(t: str) -> tuple[str, Any]:
            try:
                return t, await self.get("orderbook", f"markets/{t}/orderbook")
            except FetchError:
                self.stats.failed_batches += 1
                return t, None

        got = await asyncio.gather(*(one(t) for t in tickers))
        return {t: body for t, body in got if body is not None}, [t for t, body in got if body is None]
