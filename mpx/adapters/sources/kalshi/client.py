"""An async HTTP client for Kalshi's public market data (Trade API v2, no authentication).

Every request goes through one rate limit — Kalshi's read budget is a token bucket, about 20 reads
a second on the basic tier (``MPX_KALSHI_RATE``; aiolimiter's leaky bucket with a one-second
window) — and ``MPX_HTTP_CONCURRENCY`` at a time, each with ``MPX_HTTP_TIMEOUT``; retried
(``MPX_HTTP_RETRIES``) with exponential backoff and jitter on 429, 5xx, timeouts, connection errors
and malformed JSON, within the pass deadline. Kalshi's 429 carries no ``Retry-After``
(API_NOTES §7): the backoff is ours, and a 429 also pauses every request for that long (the bucket
is shared); a ``Retry-After`` that does come is honoured. Listings are cursor-paged until the
cursor is ``""``, ``null`` or missing (a cursor seen twice is an error, not a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from mpx.adapters.sources.polymarket.client import FetchError, FetchStats, retry_after_seconds

EVENTS_MAX_LIMIT = 200  # GET /events: default and maximum page size


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
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, deadline: float | None = None,
                 paced: bool = True) -> None:
        self.config = config
        self.stats = FetchStats()
        self._transport = transport
        self._sleep = sleep
        self.paced = paced  # the rate limit and backoff pauses; off when replaying a recording
        self._deadline = deadline
        self._http: httpx.AsyncClient | None = None
        self._sem = asyncio.Semaphore(config.concurrency)
        self._limiter = AsyncLimiter(max(config.rate, 0.1), 1.0)
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
        return None if self._deadline is None else self._deadline - time.monotonic()

    async def get(self, endpoint: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET url/path`` with retries: the decoded JSON (numbers as Decimal) or FetchError."""
        assert self._http is not None, "use `async with KalshiClient(...)`"
        url = f"{self.config.url.rstrip('/')}/{path.lstrip('/')}"
        last = "no attempt"
        for attempt in range(self.config.retries + 1):
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise FetchError(f"{endpoint}: pass deadline reached ({last})")
            ok, value, wait = await self._attempt(endpoint, url, params)
            if ok:
                return value
            last = value
            if attempt == self.config.retries:
                break
            if wait is None:
                wait = self.config.backoff * 2**attempt + random.uniform(0, self.config.backoff)
            if last == "HTTP 429" and self.paced:  # the bucket is shared: everyone waits
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
            remaining = self._remaining()
            if remaining is not None and wait >= remaining:
                raise FetchError(f"{endpoint}: {last}; retrying would pass the deadline")
            self.stats.retries += 1
            self.waits.append(wait)
            if self.paced:
                await self._sleep(wait)
        raise FetchError(f"{endpoint}: {last} after {self.config.retries + 1} attempts")

    async def _attempt(self, endpoint: str, url: str, params: dict[str, Any] | None
                       ) -> tuple[bool, Any, float | None]:
        assert self._http is not None
        if self.paced and (pause := self._paused_until - time.monotonic()) > 0:  # a 429 paused everyone
            remaining = self._remaining()
            if remaining is not None and pause >= remaining:
                raise FetchError(f"{endpoint}: throttled; waiting would pass the deadline")
            await self._sleep(pause)
        async with self._limiter if self.paced else contextlib.nullcontext(), self._sem:
            try:
                resp = await self._http.get(url, params=params)
            except httpx.TimeoutException:
                self.stats.requests[(endpoint, "timeout")] += 1
                return False, "timed out", None
            except httpx.TransportError as exc:
                self.stats.requests[(endpoint, "error")] += 1
                return False, f"connection error: {type(exc).__name__}", None
        status = resp.status_code
        self.stats.requests[(endpoint, str(status))] += 1
        if status == 200:
            try:
                return True, json.loads(resp.content, parse_float=Decimal), None
            except ValueError:
                return False, f"malformed JSON ({len(resp.content)} bytes)", None
        if status == 429 or status >= 500:
            if status == 429:
                self.stats.throttled += 1
            return False, f"HTTP {status}", retry_after_seconds(resp.headers.get("Retry-After"))
        raise FetchError(f"{endpoint}: HTTP {status}: {resp.text[:200]}", status=status)

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
        async def one(t: str) -> tuple[str, dict[str, Any] | None]:
            try:
                body = await self.get("series", f"series/{t}")
            except FetchError:
                return t, None
            s = body.get("series") if isinstance(body, dict) else None
            return t, s if isinstance(s, dict) else None

        got = await asyncio.gather(*(one(t) for t in tickers))
        return {t: s for t, s in got if s is not None}, [t for t, s in got if s is None]

    async def markets(self, tickers: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """``GET /markets/{ticker}`` for each: ({ticker: market object}, tickers that failed)."""
        async def one(t: str) -> tuple[str, dict[str, Any] | None]:
            try:
                body = await self.get("market", f"markets/{t}")
            except FetchError:
                return t, None
            m = body.get("market") if isinstance(body, dict) else None
            return t, m if isinstance(m, dict) else None

        got = await asyncio.gather(*(one(t) for t in tickers))
        return {t: m for t, m in got if m is not None}, [t for t, m in got if m is None]

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
