"""A local stand-in for Polymarket's Gamma and CLOB HTTP APIs, for tests and benchmarks.

It speaks the real wire shapes (API_NOTES.md §1–4, API_NOTES_2026.md §1, §4): Gamma
``GET /events/keyset`` (``limit`` capped at 500, ``after_cursor`` = the previous page's opaque
``next_cursor``, which is absent on the last page; filters applied to every page as sent with it;
``offset`` rejected with 422; a parameter named ``cursor`` is ignored, so it answers page 1 again)
and ``GET /events`` (``active``/``closed`` filters, ``limit``/``offset`` paging, 422 beyond an
offset of 2,000) serving recorded events — ``keyset=False`` makes ``/events/keyset`` a 404, as on a
Gamma without it — CLOB ``POST /books`` (a JSON array of ``{"token_id": …}``) and
``GET /book?token_id=…`` (404 for an unknown token). Books are keyed by each market's asset ids as
the CLOB keys them: ``positionIds`` for a ``"version": "v2"`` market, ``clobTokenIds`` otherwise
(a v1 market's ``positionIds`` have no book). Books are in the
CLOB's own order — bids ascending, asks descending, best level *last* — with prices and sizes as
strings, synthesised deterministically per token around the market's ``outcomePrices`` for every
market that has a live order book (``set_book`` overrides or removes one).

``on_events`` (a callable, given the number of events pages served so far) runs before every
events page is answered: a test shifts the list between pages with it (``set_events``).

Faults are injected per endpoint (``"events"`` — both listing paths —, ``"books"``, ``"book"``) and consumed one request
at a time, in the order they were added: ``fail`` (an HTTP status, optionally with
``Retry-After``), ``hang`` (answer only after N seconds), ``truncate`` (a 200 with half the JSON),
``replace_body`` (a 200 with the given bytes).

    with PolymarketStandIn(load_recorded_events()) as api:
        api.fail("books", 429, times=3, retry_after=0.4)
        ... MPX_GAMMA_URL=api.url MPX_CLOB_URL=api.url ...
        assert api.count("/book?") == 0
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "polymarket"
EVENT_FILES = (
    "gamma_events_fed_decision_march_2026.json",
    "gamma_events_midterms_2026_senate_house.json",
    "gamma_events_sample_2026-02.json",
    "gamma_events_microstrategy_2026-02.json",
)


def load_recorded_events() -> list[dict[str, Any]]:
    """Every recorded Gamma event, in file order (a fresh deep copy each call). The MicroStrategy
    event appears twice, recorded at different times — as a real offset-paged listing can return
    an event twice when the list shifts between pages."""
    events: list[dict[str, Any]] = []
    for name in EVENT_FILES:
        data = json.loads((FIXTURES / name).read_text())
        events.extend(data if isinstance(data, list) else [data])
    return events


def has_book(market: dict[str, Any]) -> bool:
    """Whether the CLOB holds an order book for this Gamma market (as the real API does)."""
    return (market.get("active") is not False and market.get("closed") is not True
            and market.get("acceptingOrders") is not False and market.get("enableOrderBook") is not False)


KEYSET_MAX_LIMIT = 500
OFFSET_MAX = 2000  # Gamma answers 422 for an offset beyond this


def _tokens(market: dict[str, Any]) -> list[str]:
    """The market's asset ids as the CLOB knows them: ``positionIds`` (a JSON array) for a v2
    market, ``clobTokenIds`` (JSON text) for a v1 or unversioned one."""
    if market.get("version") == "v2":
        ids: Any = market.get("positionIds")
    else:
        try:
            ids = json.loads(market.get("clobTokenIds") or "[]")
        except (TypeError, ValueError):
            return []
    return [str(t) for t in ids] if isinstance(ids, list) else []


def _event_key(event: dict[str, Any]) -> tuple[int, str]:
    """The keyset order: numeric ids by value (Gamma ids are decimal strings), anything else after."""
    eid = str(event.get("id"))
    return (int(eid), "") if eid.isdigit() else (10**30, eid)


def _cursor(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _uncursor(text: str) -> tuple[int, str] | None:
    try:
        n, s = json.loads(base64.urlsafe_b64decode(text.encode()))
        return int(n), str(s)
    except (ValueError, TypeError):
        return None


def _prices(market: dict[str, Any]) -> list[Decimal]:
    try:
        return [Decimal(str(p)) for p in json.loads(market.get("outcomePrices") or "[]")]
    except (TypeError, ValueError, ArithmeticError):
        return []


def synth_book(token: str, market: dict[str, Any], price: Decimal | None, levels: int = 6) -> dict[str, Any]:
    """A deterministic CLOB book for ``token`` around ``price``, worst level first on both sides."""
    rng = random.Random(int(hashlib.sha256(token.encode()).hexdigest()[:16], 16))
    tick = Decimal(str(market.get("orderPriceMinTickSize") or "0.01"))
    lo, hi = tick, 1 - tick
    if price is None or not lo < price < hi:
        price = Decimal(rng.randint(10, 90)) / 100
    mid = (price / tick).to_integral_value() * tick
    best_bid = max(lo, min(mid - tick, hi - tick))
    best_ask = max(best_bid + tick, min(mid + tick, hi))
    bids = [best_bid - i * tick for i in range(levels) if best_bid - i * tick >= lo]
    asks = [best_ask + i * tick for i in range(levels) if best_ask + i * tick <= hi]

    def side(prices: list[Decimal]) -> list[dict[str, str]]:
        return [{"price": str(p), "size": f"{rng.randint(5, 5000)}.{rng.randint(0, 99):02d}"} for p in prices]

    book = {
        "market": market.get("conditionId", ""),
        "asset_id": token,
        "timestamp": str(1772318263027 + rng.randint(0, 10**6)),
        "bids": side(bids)[::-1],  # ascending: best bid last
        "asks": side(asks)[::-1],  # descending: best ask last
        "min_order_size": str(market.get("orderMinSize") or 5),
        "tick_size": str(tick),
        "neg_risk": bool(market.get("negRisk")),
        "last_trade_price": str(price),
    }
    book["hash"] = hashlib.sha1(json.dumps(book, sort_keys=True).encode()).hexdigest()
    return book


def quote_book(token: str, market: dict[str, Any], yes: bool, size: str = "100") -> dict[str, Any] | None:
    """A one-level CLOB book from the market's *recorded* Gamma quotes (``bestBid``/``bestAsk`` are
    the YES token's; the NO token's are their complements). Gamma records no depth, so every level
    holds ``size`` shares. ``None`` when the market recorded no quotes."""
    bid, ask = market.get("bestBid"), market.get("bestAsk")
    if bid is None or ask is None:
        return None
    b, a = Decimal(str(bid)), Decimal(str(ask))
    if not yes:
        b, a = 1 - a, 1 - b
    return {"market": market.get("conditionId", ""), "asset_id": token, "timestamp": "1772318263027",
            "bids": [{"price": str(b), "size": size}] if 0 < b < 1 else [],
            "asks": [{"price": str(a), "size": size}] if 0 < a < 1 else [],
            "min_order_size": str(market.get("orderMinSize") or 5),
            "tick_size": str(market.get("orderPriceMinTickSize") or "0.01"),
            "neg_risk": bool(market.get("negRisk")), "last_trade_price": str(market.get("lastTradePrice") or b),
            "hash": hashlib.sha1(f"{token}{b}{a}".encode()).hexdigest()}


def make_universe(n_tokens: int, seed: int = 0) -> list[dict[str, Any]]:
    """A synthetic Gamma universe of at least ``n_tokens`` outcome tokens, every event a clone of
    a recorded one (same shape and fields) with fresh ids, tokens and prices; all tradable."""
    rng = random.Random(seed)
    templates = [e for e in load_recorded_events() if e.get("markets")]
    events: list[dict[str, Any]] = []
    tokens = 0
    i = 0
    while tokens < n_tokens:
        ev = copy.deepcopy(templates[i % len(templates)])
        ev["id"] = str(900000 + i)
        ev["slug"] = f"{ev.get('slug', 'event')}-{i}"
        ev["title"] = f"{ev.get('title', 'Event')} #{i}"
        ev["active"], ev["closed"] = True, False
        n = len(ev["markets"])
        for j, m in enumerate(ev["markets"]):
            m["id"] = str(5000000 + i * 100 + j)
            m["conditionId"] = "0x" + hashlib.sha256(f"{seed}:{i}:{j}".encode()).hexdigest()
            m["questionID"] = "0x" + hashlib.sha256(f"q{seed}:{i}:{j}".encode()).hexdigest()
            m["question"] = f"{m.get('question', 'Market')} #{i}"
            m["slug"] = f"{m.get('slug', 'market')}-{i}"
            m["clobTokenIds"] = json.dumps([str(rng.getrandbits(250)) for _ in range(2)])
            p = Decimal(rng.randint(1, 99 // max(1, n) or 1)) / 100 if ev.get("negRisk") else \
                Decimal(rng.randint(5, 95)) / 100
            m["outcomePrices"] = json.dumps([str(p), str(1 - p)])
            m.update(active=True, closed=False, acceptingOrders=True, enableOrderBook=True)
            tokens += 2
        events.append(ev)
        i += 1
    return events


@dataclass
class _Fault:
    kind: str  # "status" | "hang" | "truncate" | "body"
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0
    body: bytes = b""
    match: str | None = None  # only requests whose target or body contains this


class PolymarketStandIn:
    """A threaded HTTP server on 127.0.0.1 (a free port) speaking Gamma + CLOB; a context manager.

    ``requests`` lists ``(method, path, query, status)`` for every answered request, ``status``
    being ``"hang"`` for a request held past the client's patience."""

    def __init__(self, events: list[dict[str, Any]], books: dict[str, dict[str, Any]] | None = None,
                 delay_ms: int = 0, book_source: str = "synth", keyset: bool = True) -> None:
        """``book_source``: ``"synth"`` synthesises 6-level books around ``outcomePrices``;
        ``"quotes"`` serves one-level books at the recorded Gamma ``bestBid``/``bestAsk``.
        ``keyset``: whether ``GET /events/keyset`` exists (False: 404, as before it did)."""
        self.delay = delay_ms / 1000
        self.keyset = keyset
        self.on_events: Callable[[int], None] | None = None
        self._events_pages = 0
        self.book_source = book_source
        self.requests: list[tuple[str, str, str, int | str]] = []
        self._lock = threading.Lock()
        self._faults: dict[str, deque[_Fault]] = {"events": deque(), "books": deque(), "book": deque()}
        self._overrides: dict[str, dict[str, Any] | None] = dict(books or {})
        self.set_events(events)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="polymarket-stand-in", daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> PolymarketStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- state -----------------------------------------------------------------------------
    def set_events(self, events: list[dict[str, Any]]) -> None:
        """Replace the universe; books are (re)synthesised for every market that has one."""
        books: dict[str, tuple[dict[str, Any], Decimal | None]] = {}
        for ev in events:
            for m in ev.get("markets") or []:
                if not isinstance(m, dict) or not has_book(m):
                    continue
                prices = _prices(m)
                for k, token in enumerate(_tokens(m)):
                    books[token] = (m, prices[k] if k < len(prices) else None)
        with self._lock:
            self._events = events
            self._book_src = books
            self._book_cache: dict[str, dict[str, Any]] = {}

    def set_book(self, token: str, book: dict[str, Any] | None) -> None:
        """Serve ``book`` for ``token`` from now on; ``None`` removes its book (404 / omitted)."""
        with self._lock:
            self._overrides[token] = book

    def book(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            if token in self._overrides:
                return self._overrides[token]
            if token not in self._book_src:
                return None
            if token not in self._book_cache:
                market, price = self._book_src[token]
                if self.book_source == "quotes":
                    quoted = quote_book(token, market, yes=_tokens(market)[:1] == [token])
                    if quoted is None:
                        return None
                    self._book_cache[token] = quoted
                else:
                    self._book_cache[token] = synth_book(token, market, price)
            return self._book_cache[token]

    def tokens(self) -> list[str]:
        """Tokens that currently have a book."""
        with self._lock:
            known = set(self._book_src) | {t for t, b in self._overrides.items() if b is not None}
            return sorted(t for t in known if self._overrides.get(t, True) is not None)

    # ---- faults ----------------------------------------------------------------------------
    # ``match``: the fault applies only to requests whose target or body contains it (a token id
    # picks one batch out of several in flight); faults for other requests stay queued.
    def fail(self, endpoint: str, status: int, times: int = 1, retry_after: float | None = None,
             match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("status", status=status, retry_after=retry_after, match=match))

    def hang(self, endpoint: str, seconds: float, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("hang", seconds=seconds, match=match))

    def truncate(self, endpoint: str, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("truncate", match=match))

    def replace_body(self, endpoint: str, body: bytes | str, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("body", body=body.encode() if isinstance(body, str) else body, match=match))

    def _add(self, endpoint: str, times: int, fault: _Fault) -> None:
        if endpoint not in self._faults:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(self._faults)}")
        with self._lock:
            self._faults[endpoint].extend(fault for _ in range(times))

    def _next_fault(self, endpoint: str, text: str) -> _Fault | None:
        with self._lock:
            q = self._faults[endpoint]
            for i, fault in enumerate(q):
                if fault.match is None or fault.match in text:
                    del q[i]
                    return fault
            return None

    # ---- inspection ------------------------------------------------------------------------
    def count(self, prefix: str) -> int:
        """Requests whose target (path, plus ``?query`` when there is one) starts with ``prefix``:
        ``count("/book?")`` counts GET /book but not POST /books."""
        with self._lock:
            return sum(1 for _, path, query, _ in self.requests
                       if (f"{path}?{query}" if query else path).startswith(prefix))

    # ---- HTTP ------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes
               ) -> tuple[str | None, int, Any]:
        """(endpoint, status, JSON payload) for a request, before faults."""
        if method == "GET" and path in ("/events", "/events/keyset"):
            if path == "/events/keyset" and not self.keyset:
                return None, 404, {"error": "not found"}
            with self._lock:
                served = self._events_pages
                self._events_pages += 1
            if self.on_events is not None:
                self.on_events(served)
            with self._lock:
                events = self._events
            if query.get("active") == ["true"]:
                events = [e for e in events if e.get("active") is True]
            if query.get("closed") == ["false"]:
                events = [e for e in events if e.get("closed") is not True]
            if path == "/events/keyset":
                return self._keyset_page(events, query)
            try:
                limit = int(query.get("limit", ["20"])[0])
                offset = int(query.get("offset", ["0"])[0])
            except ValueError:
                return "events", 400, {"error": "invalid limit or offset"}
            if offset > OFFSET_MAX:
                return "events", 422, {"error": f"offset must be at most {OFFSET_MAX}; use /events/keyset"}
            return "events", 200, events[offset:offset + limit]
        if method == "POST" and path == "/books":
            try:
                wanted = json.loads(body)
                ids = [str(item["token_id"]) for item in wanted]
            except (ValueError, TypeError, KeyError):
                return "books", 400, {"error": "Invalid payload"}
            found = [self.book(t) for t in ids]
            return "books", 200, [b for b in found if b is not None]
        if method == "GET" and path == "/book":
            token = query.get("token_id", [""])[0]
            book = self.book(token) if token else None
            if book is None:
                return "book", 404, {"error": "No orderbook exists for the requested token id"}
            return "book", 200, book
        return None, 404, {"error": "not found"}

    @staticmethod
    def _keyset_page(events: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[str, int, Any]:
        """One ``/events/keyset`` page: events after the cursor's key, in key order. The cursor names
        a position in the order, not an offset, so events added or removed elsewhere in the list
        between two pages neither shift nor repeat the rest. ``cursor=`` is not a parameter here."""
        if "offset" in query:
            return "events", 422, {"error": "offset is not supported by keyset pagination; use after_cursor"}
        try:
            limit = int(query.get("limit", ["20"])[0])
        except ValueError:
            return "events", 400, {"error": "invalid limit"}
        if limit < 1:
            return "events", 400, {"error": "invalid limit"}
        limit = min(limit, KEYSET_MAX_LIMIT)
        ordered = sorted(events, key=_event_key)
        if "after_cursor" in query:
            after = _uncursor(query["after_cursor"][0])
            if after is None:
                return "events", 400, {"error": "invalid after_cursor"}
            ordered = [e for e in ordered if _event_key(e) > after]
        page = ordered[:limit]
        body: dict[str, Any] = {"events": page}
        if len(ordered) > limit:
            body["next_cursor"] = _cursor(_event_key(page[-1]))
        return "events", 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                endpoint, status, payload = stand_in._route(method, parts.path, parse_qs(parts.query), body)
                data = json.dumps(payload).encode()
                headers: dict[str, str] = {}
                text = self.path + body.decode("utf-8", "replace")
                fault = stand_in._next_fault(endpoint, text) if endpoint else None
                if stand_in.delay:
                    time.sleep(stand_in.delay)
                recorded: int | str = status
                if fault is not None:
                    if fault.kind == "status":
                        status, data = fault.status, json.dumps({"error": f"injected {fault.status}"}).encode()
                        if fault.retry_after is not None:
                            headers["Retry-After"] = f"{fault.retry_after:g}"
                        recorded = status
                    elif fault.kind == "hang":
                        time.sleep(fault.seconds)
                        recorded = "hang"
                    elif fault.kind == "truncate":
                        status, data = 200, data[: max(1, len(data) // 2)]
                        recorded = 200
                    else:
                        status, data = 200, fault.body
                        recorded = 200
                with stand_in._lock:
                    stand_in.requests.append((method, parts.path, parts.query, recorded))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
