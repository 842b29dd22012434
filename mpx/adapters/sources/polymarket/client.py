"""An async HTTP client for Gamma and the CLOB: bounded concurrency, a leaky-bucket rate limit per
endpoint at Polymarket's published limits, per-request timeouts, and retries with exponential
backoff and jitter on 429, 5xx, timeouts, connection errors and malformed JSON, honouring
``Retry-After``. Every request is counted by endpoint and status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from aiolimiter import AsyncLimiter

# Published limits (docs.polymarket.com rate limits; API_NOTES §9), requests per 10 s. The
# client never sends faster than these, whatever the concurrency.
PUBLISHED_LIMITS: dict[str, int] = {"events": 500, "books": 500, "book": 1500}
WINDOW_SECONDS = 10.0


_NO_LIMIT = contextlib.nullcontext()


# Gamma event listing (API_NOTES §2, API_NOTES_2026 §4): keyset paging first; offset paging only
# where the keyset endpoint does not exist (404). Every page re-sends every filter.
EVENT_FILTERS: dict[str, str] = {"active": "true", "closed": "false"}
KEYSET_MAX_LIMIT = 500  # /events/keyset answers at most 500 events a page
Paging = Literal["auto", "keyset", "offset"]


class FetchError(Exception):
    """A request that failed after its retries (the message says how); ``status`` is the HTTP
    status of a non-retryable answer (a 404, a 422, …), ``None`` otherwise."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class FetchStats:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (endpoint, status) → n
    retries: int = 0
    throttled: int = 0  # 429 answers
    failed_batches: int = 0
    fallback_requests: int = 0
    keyset_pages: int = 0  # /events/keyset pages read
    offset_pages: int = 0  # /events?offset= pages read (only when keyset is unavailable)

    def as_counters(self) -> dict[str, int]:
        out = {f"requests:{ep}:{status}": n for (ep, status), n in self.requests.items()}
        out.update(retries=self.retries, throttled=self.throttled, failed_batches=self.failed_batches,
                   events_keyset_pages=self.keyset_pages, events_offset_pages=self.offset_pages)
        return out

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


Attempt = tuple[bool, Any, float | None]
"""One request's outcome: ``(True, decoded JSON, None)``, or ``(False, what went wrong, the wait the
server asked for — Retry-After — or None)`` for a failure worth retrying."""


async def with_retries(endpoint: str, attempt: Callable[[], Awaitable[Attempt]], *, retries: int, backoff: float,
                       remaining: Callable[[], float | None], sleep: Callable[[float], Awaitable[None]],
                       stats: FetchStats, on_retry: Callable[[str, float], None] | None = None) -> Any:
    """``attempt`` until it succeeds, ``retries`` more times at most: between tries the server's
    Retry-After, else exponential backoff with jitter; never past the pass deadline (``remaining``
    seconds, ``None``: none). ``on_retry(what went wrong, wait)`` hears of each wait before it is
    taken. What both sources' clients share; the decoded JSON or :class:`FetchError`."""
    last = "no attempt"
    for n in range(retries + 1):
        left = remaining()
        if left is not None and left <= 0:
            raise FetchError(f"{endpoint}: pass deadline reached ({last})")
        ok, value, wait = await attempt()
        if ok:
            return value
        last = value
        if n == retries:
            break
        if wait is None:
            wait = backoff * 2**n + random.uniform(0, backoff)
        if on_retry is not None:
            on_retry(last, wait)
        left = remaining()
        if left is not None and wait >= left:
            raise FetchError(f"{endpoint}: {last}; retrying would pass the deadline")
        stats.retries += 1
        await sleep(wait)
    raise FetchError(f"{endpoint}: {last} after {retries + 1} attempts")


async def sent(endpoint: str, stats: FetchStats, request: Awaitable[httpx.Response]) -> httpx.Response | Attempt:
    """The response, or the retryable failure of a request that timed out or lost its connection."""
    try:
        return await request
    except httpx.TimeoutException:
        stats.requests[(endpoint, "timeout")] += 1
        return False, "timed out", None
    except httpx.TransportError as exc:
        stats.requests[(endpoint, "error")] += 1
        return False, f"connection error: {type(exc).__name__}", None


def answered(endpoint: str, stats: FetchStats, resp: httpx.Response) -> Attempt:
    """A response as an :data:`Attempt`: 200 → its JSON (floats as ``Decimal``; malformed JSON is
    retried), 429 and 5xx → retried (with Retry-After), anything else → :class:`FetchError`."""
    status = resp.status_code
    stats.requests[(endpoint, str(status))] += 1
    if status == 200:
        try:
            return True, json.loads(resp.content, parse_float=Decimal), None
        except ValueError:
            return False, f"malformed JSON ({len(resp.content)} bytes)", None
    if status == 429 or status >= 500:
        if status == 429:
            stats.throttled += 1
        return False, f"HTTP {status}", retry_after_seconds(resp.headers.get("Retry-After"))
    raise FetchError(f"{endpoint}: HTTP {status}: {resp.text[:200]}", status=status)


@dataclass
class ClientConfig:
    gamma_url: str
    clob_url: str
    concurrency: int = 8
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.25
    page_size: int = 100
    batch_size: int = 100
    events_paging: Paging = "auto"  # auto: keyset, offset only when /events/keyset answers 404
    limits: dict[str, int] = field(default_factory=lambda: dict(PUBLISHED_LIMITS))


class PolymarketClient:
    def __init__(
        self, config: ClientConfig, *, transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, deadline: float | None = None,
        paced: bool = True,
    ) -> None:
        self.config = config
        self.stats = FetchStats()
        self._transport = transport
        self._sleep = sleep
        self.paced = paced  # rate limits and Retry-After pauses; off when replaying a recording
        self._deadline = deadline  # time.monotonic() value after which nothing new starts
        self._http: httpx.AsyncClient | None = None
        self._sem = asyncio.Semaphore(config.concurrency)
        self._limiters = {ep: AsyncLimiter(n, WINDOW_SECONDS) for ep, n in config.limits.items()}
        # A 429 with Retry-After pauses the whole endpoint, not only the request that got it:
        # the server asked *us* to slow down, and the other in-flight batches would hit it too.
        self._paused_until: dict[str, float] = {}
        self.events_paging: Literal["keyset", "offset"] | None = None  # what the last listing used

    async def __aenter__(self) -> PolymarketClient:
        self._http = httpx.AsyncClient(
            timeout=self.config.timeout, transport=self._transport,
            limits=httpx.Limits(max_connections=self.config.concurrency),
            headers={"User-Agent": "mpx (MarketPulse-X)"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    async def request_json(self, endpoint: str, method: str, url: str, **kw: Any) -> Any:
        """One request with retries; the decoded JSON (floats as Decimal) or FetchError."""
        assert self._http is not None, "use `async with PolymarketClient(...)`"
        return await with_retries(endpoint, lambda: self._attempt(endpoint, method, url, **kw),
                                  retries=self.config.retries, backoff=self.config.backoff,
                                  remaining=self._remaining, sleep=self._sleep, stats=self.stats)

    async def _attempt(self, endpoint: str, method: str, url: str, **kw: Any) -> Attempt:
        """One request once a slot is free and the endpoint is not paused (a 429 with Retry-After
        pauses its endpoint for every request)."""
        assert self._http is not None
        while True:
            if self.paced and (pause := self._paused_until.get(endpoint, 0.0) - time.monotonic()) > 0:
                remaining = self._remaining()
                if remaining is not None and pause >= remaining:
                    raise FetchError(f"{endpoint}: throttled (Retry-After); waiting would pass the deadline")
                await self._sleep(pause)
                continue
            async with self._limiters[endpoint] if self.paced else _NO_LIMIT, self._sem:
                if self.paced and self._paused_until.get(endpoint, 0.0) > time.monotonic():
                    continue  # a 429 arrived while this request queued for a slot: wait it out first
                resp = await sent(endpoint, self.stats, self._http.request(method, url, **kw))
            if isinstance(resp, tuple):
                return resp
            result = answered(endpoint, self.stats, resp)
            if resp.status_code == 429 and result[2] is not None:
                self._paused_until[endpoint] = max(self._paused_until.get(endpoint, 0.0), time.monotonic() + result[2])
            return result

    async def events(self) -> list[Any]:
        """Every active event. ``GET /events/keyset`` page after page (``after_cursor`` = the previous
        page's ``next_cursor``, every filter re-sent) until a page has no ``next_cursor``; only when
        that endpoint answers 404 on its first page, the offset-paged ``/events``. ``events_paging``
        says which was used. Raises FetchError if any page fails: metadata is complete or not at all.
        Events listed twice are kept once by the parser (``parse_events``)."""
        mode = self.config.events_paging
        self.events_paging = None
        if mode != "offset":
            try:
                out = await self._events_keyset()
            except FetchError as exc:
                if exc.status != 404 or mode == "keyset" or self.stats.keyset_pages:
                    raise
                # an older Gamma (or a proxy in front of it) without the keyset endpoint
            else:
                self.events_paging = "keyset"
                return out
        out = await self._events_offset()
        self.events_paging = "offset"
        return out

    async def _events_keyset(self) -> list[Any]:
        url = f"{self.config.gamma_url.rstrip('/')}/events/keyset"
        limit = max(1, min(self.config.page_size, KEYSET_MAX_LIMIT))
        out: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {**EVENT_FILTERS, "limit": limit}
            if cursor is not None:
                params["after_cursor"] = cursor  # not `cursor`: Gamma ignores that and answers page 1 again
            page = await self.request_json("events", "GET", url, params=params)
            if not isinstance(page, dict) or not isinstance(page.get("events"), list):
                raise FetchError(f"events: a keyset page is a JSON {type(page).__name__} without an `events` list")
            self.stats.keyset_pages += 1
            out.extend(page["events"])
            nxt = page.get("next_cursor")
            if nxt is None or nxt == "":
                return out
            if not isinstance(nxt, str | int) or isinstance(nxt, bool):
                raise FetchError(f"events: next_cursor is a JSON {type(nxt).__name__}, not a cursor")
            cursor = str(nxt)
            if cursor in seen:  # the server ignored the cursor: this would never end, and is not a listing
                raise FetchError(f"events: keyset next_cursor {cursor[:40]!r} came back twice; listing incomplete")
            seen.add(cursor)

    async def _events_offset(self) -> list[Any]:
        """``/events`` pages fetched ``concurrency`` at a time, until a short page. Gamma answers 422
        beyond an offset of about 2,000 (a FetchError), and a list that shifts between pages skips
        or repeats events: the fallback only."""
        size = self.config.page_size
        url = f"{self.config.gamma_url.rstrip('/')}/events"
        out: list[Any] = []
        offset = 0
        while True:
            offsets = [offset + i * size for i in range(self.config.concurrency)]
            pages = await asyncio.gather(*(
                self.request_json("events", "GET", url, params={**EVENT_FILTERS, "limit": size, "offset": o})
                for o in offsets
            ), return_exceptions=True)
            for page in pages:  # in order: a failure after the last (short) page does not matter
                if isinstance(page, BaseException):
                    raise page
                if not isinstance(page, list):
                    raise FetchError(f"events: a page is a JSON {type(page).__name__}, not a list")
                self.stats.offset_pages += 1
                out.extend(page)
                if len(page) < size:
                    return out
            offset = offsets[-1] + size

    async def books(self, token_ids: Sequence[str]) -> tuple[list[Any], list[str]]:
        """Books for ``token_ids`` via ``POST /books`` batches; a failed batch falls back to ``GET
        /book`` per token. Returns (book objects, tokens that could not be fetched)."""
        size = self.config.batch_size
        batches = [list(token_ids[i:i + size]) for i in range(0, len(token_ids), size)]
        results = await asyncio.gather(*(self._batch(b) for b in batches))
        books: list[Any] = []
        failed: list[str] = []
        for got, missed in results:
            books.extend(got)
            failed.extend(missed)
        return books, failed

    async def _batch(self, tokens: list[str]) -> tuple[list[Any], list[str]]:
        url = f"{self.config.clob_url.rstrip('/')}/books"
        try:
            payload = await self.request_json("books", "POST", url, json=[{"token_id": t} for t in tokens])
            if not isinstance(payload, list):
                raise FetchError(f"books: response is a JSON {type(payload).__name__}, not a list")
            return payload, []
        except FetchError:
            self.stats.failed_batches += 1
            if (self._remaining() or 1) <= 0:
                return [], tokens
        single = f"{self.config.clob_url.rstrip('/')}/book"

        async def one(token: str) -> Any:
            self.stats.fallback_requests += 1
            try:
                return await self.request_json("book", "GET", single, params={"token_id": token})
            except FetchError:
                return None

        got = await asyncio.gather(*(one(t) for t in tokens))
        return [g for g in got if isinstance(g, dict)], [t for t, g in zip(tokens, got, strict=True)
                                                         if not isinstance(g, dict)]
