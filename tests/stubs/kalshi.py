"""A local stand-in for Kalshi's public Trade API v2 (market data), for tests and benchmarks.

It speaks the recorded wire shapes (``tests/fixtures/kalshi``, API_NOTES.md): ``GET /events``
(``status``, ``series_ticker``, ``with_nested_markets`` — markets inside each event —, ``limit``
capped at 200, opaque ``cursor`` paging whose last page answers ``"cursor": ""``), ``GET /markets``
(``event_ticker``, ``series_ticker``, ``tickers``, ``status``, ``mve_filter``, ``limit`` capped at
1000, the same paging), ``GET /series/{ticker}`` (fee_type, fee_multiplier), ``GET
/markets/{ticker}`` and ``GET /markets/{ticker}/orderbook`` (``depth``: the N best levels of a
side) — **bids only**, each side ascending (best last), in the current ``orderbook_fp`` shape
(dollar strings, fractional counts) or the legacy ``orderbook`` (integer cents) — and 404 for an
unknown ticker. Served under ``/trade-api/v2``. ``status`` filters take the filter values (``open``,
``unopened``, ``paused``, ``closed``, ``settled``) and select markets by their response status
(``active``, …); an event is listed when one of its markets is selected.

The universe is the recorded NFL game KXNFLGAME-26SEP17DETBUF (its two markets as recorded on
2026-09-16, wrapped in an event built from the recorded TB–DAL event's fields) plus the recorded
TB–DAL event itself, and optionally ``extra`` synthetic events for paging. Books: the recorded DET
(depth 5) and DAL (depth 3) books; every other market's from its recorded best bid and ask (a
quote whose ``_size_fp`` is 0 — Kalshi's sentinel ``yes_ask 0`` on an empty side — gives no level).

Faults are injected per endpoint (``"events"``, ``"markets"``, ``"series"``, ``"orderbook"``,
``"market"``) and consumed one request at a time, in order: ``fail`` (an HTTP status; a 429 answers
Kalshi's ``{"error": "too many requests"}`` with **no** ``Retry-After`` unless one is given),
``hang`` (answer after N seconds), ``truncate`` (a 200 with half the JSON), ``replace_body``.
``count(prefix)`` counts the requests whose path (after ``/trade-api/v2``) and query start with
``prefix``.

    with KalshiStandIn() as api:
        api.set_book("KXNFLGAME-26SEP17DETBUF-DET", yes=[("0.45", "300")], no=[("0.53", "300")])
        api.fail("orderbook", 429, times=2)
        ... MPX_KALSHI_URL=api.url ...
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kalshi"
PREFIX = "/trade-api/v2"
DETBUF = "KXNFLGAME-26SEP17DETBUF"
EVENTS_MAX_LIMIT = 200
MARKETS_MAX_LIMIT = 1000
STATUS_FILTER = {  # the filter values of GET /events and /markets → the market statuses they select
    "open": {"active"}, "unopened": {"initialized", "unopened", "inactive"}, "paused": {"paused"},
    "closed": {"closed", "disputed"}, "settled": {"determined", "amended", "finalized", "settled"},
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded_events() -> list[dict[str, Any]]:
    """The DET–BUF game (its recorded markets in an event built from the TB–DAL event's fields)
    and the recorded TB–DAL event with its nested markets."""
    tbdal = load("event_KXNFLGAME-26OCT08TBDAL_with_nested_markets_2026-10-06.json")["event"]
    detbuf = copy.deepcopy(tbdal)
    detbuf.update(event_ticker=DETBUF, title="DET Lions vs BUF Bills", sub_title="DET vs BUF (Sep 17)",
                  markets=load("markets_KXNFLGAME-26SEP17DETBUF_2026-09-16.json")["markets"])
    return [detbuf, tbdal]


def recorded_books() -> dict[str, dict[str, Any]]:
    return {f"{DETBUF}-DET": load("orderbook_KXNFLGAME-26SEP17DETBUF-DET_depth5_2026-09-16.json"),
            "KXNFLGAME-26OCT08TBDAL-DAL": load("orderbook_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json")}


def synthetic_events(n: int, series: str = "KXBENCH") -> list[dict[str, Any]]:
    """``n`` one-market events in ``series`` (for paging), each quoted 0.40 / 0.44."""
    out = []
    for i in range(n):
        ticker = f"{series}-{i:04d}"
        out.append({"event_ticker": ticker, "series_ticker": series, "title": f"Bench event {i}",
                    "category": "Bench", "mutually_exclusive": False, "markets": [{
                        "ticker": f"{ticker}-Y", "event_ticker": ticker, "market_type": "binary",
                        "title": f"Bench market {i}", "status": "active", "result": "",
                        "close_time": "2027-01-01T00:00:00Z", "rules_primary": f"Resolves Yes if bench {i}.",
                        "rules_secondary": "", "yes_bid_dollars": "0.4000", "yes_ask_dollars": "0.4400",
                        "yes_bid_size_fp": "100.00", "yes_ask_size_fp": "100.00",
                        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]}]})
    return out


def _series(ticker: str, fee_type: str = "quadratic", multiplier: Any = 1) -> dict[str, Any]:
    return {"ticker": ticker, "title": ticker, "fee_type": fee_type, "fee_multiplier": multiplier,
            "frequency": "custom", "category": "Sports"}


@dataclass
class _Fault:
    kind: str
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    body: bytes = b""
    match: str | None = None


class KalshiStandIn:
    """Kalshi's market-data API on 127.0.0.1 (``url`` ends in ``/trade-api/v2``)."""

    def __init__(self, events: list[dict[str, Any]] | None = None, extra: int = 0) -> None:
        self.events = events if events is not None else recorded_events() + synthetic_events(extra)
        recorded_series = load("series_KXNFLGAME_2026-09-16.json")["series"]
        self.series: dict[str, dict[str, Any]] = {"KXNFLGAME": recorded_series,
                                                  "KXBENCH": _series("KXBENCH")}
        self.books: dict[str, dict[str, Any]] = recorded_books()
        self.faults: dict[str, deque[_Fault]] = {}
        self.log: list[str] = []
        self.arrivals: list[float] = []
        """When each request arrived (``time.monotonic()``)."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # polled every 50 ms (not 0.5 s): leaving the context manager does not wait half a second
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def __enter__(self) -> KalshiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the universe
    def markets(self) -> list[dict[str, Any]]:
        return [m for e in self.events for m in e.get("markets") or []]

    def market(self, ticker: str) -> dict[str, Any] | None:
        return next((m for m in self.markets() if m.get("ticker") == ticker), None)

    def set_market(self, ticker: str, **fields: Any) -> None:
        """Change a market's fields (``status``, ``result``, ``rules_primary``, ``close_time``, …)."""
        with self._lock:
            market = self.market(ticker)
            assert market is not None, ticker
            market.update(fields)

    def set_series(self, ticker: str, fee_type: str = "quadratic", multiplier: Any = 1) -> None:
        self.series[ticker] = _series(ticker, fee_type, multiplier)

    def set_book(self, ticker: str, yes: Sequence[tuple[str, str]] = (), no: Sequence[tuple[str, str]] = (),
                 shape: str = "fp") -> None:
        """A market's book as Kalshi sends it: YES bids and NO bids ``(price, count)`` (any order
        here; served ascending, best last), in the ``fp`` (dollar strings) or ``legacy`` (cents) shape."""
        def asc(levels: Sequence[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
            return sorted((Decimal(p), Decimal(s)) for p, s in levels)

        y, n = asc(yes), asc(no)
        if shape == "legacy":
            book = {"orderbook": {"yes": [[int(p * 100), int(s)] for p, s in y],
                                  "no": [[int(p * 100), int(s)] for p, s in n]}}
        else:
            book = {"orderbook_fp": {"yes_dollars": [[f"{p:.4f}", f"{s:.2f}"] for p, s in y],
                                     "no_dollars": [[f"{p:.4f}", f"{s:.2f}"] for p, s in n]}}
        with self._lock:
            self.books[ticker] = book

    def book(self, ticker: str) -> dict[str, Any] | None:
        if ticker in self.books:
            return self.books[ticker]
        m = self.market(ticker)
        if m is None:
            return None
        # from the market's quote: YES bid → a YES level, YES ask a → a NO bid at 1 − a; a zero size
        # (an empty side, whatever sentinel price is quoted) gives no level
        yes, no = [], []
        bid, ask = Decimal(m.get("yes_bid_dollars") or 0), Decimal(m.get("yes_ask_dollars") or 0)
        if Decimal(m.get("yes_bid_size_fp") or 0) > 0 and 0 < bid < 1:
            yes.append([f"{bid:.4f}", m["yes_bid_size_fp"]])
        if Decimal(m.get("yes_ask_size_fp") or 0) > 0 and 0 < ask < 1:
            no.append([f"{1 - ask:.4f}", m["yes_ask_size_fp"]])
        return {"orderbook_fp": {"yes_dollars": yes, "no_dollars": no}}

    # --- faults
    def fail(self, endpoint: str, status: int, times: int = 1, retry_after: float | None = None,
             match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("fail", status=status, retry_after=retry_after, match=match))

    def hang(self, endpoint: str, seconds: float, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("hang", seconds=seconds, match=match))

    def truncate(self, endpoint: str, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("truncate", match=match))

    def replace_body(self, endpoint: str, body: bytes | str, times: int = 1, match: str | None = None) -> None:
        self._add(endpoint, times, _Fault("replace", body=body.encode() if isinstance(body, str) else body,
                                          match=match))

    def _add(self, endpoint: str, times: int, fault: _Fault) -> None:
        with self._lock:
            q = self.faults.setdefault(endpoint, deque())
            for _ in range(times):
                q.append(fault)

    def _next_fault(self, endpoint: str, text: str) -> _Fault | None:
        with self._lock:
            q = self.faults.get(endpoint)
            if not q:
                return None
            for i, f in enumerate(q):
                if f.match is None or f.match in text:
                    del q[i]
                    return f
            return None

    def count(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for line in self.log if line.startswith(prefix))

    # --- routing
    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[str, int, Any]:
        """(endpoint, status, body)."""
        parts = path[len(PREFIX):].strip("/").split("/") if path.startswith(PREFIX) else []
        if parts == ["events"]:
            return "events", 200, self._events_page(query)
        if len(parts) == 2 and parts[0] == "series":
            s = self.series.get(parts[1])
            return ("series", 200, {"series": s}) if s else ("series", 404, {"error": "not found"})
        if len(parts) == 3 and parts[0] == "markets" and parts[2] == "orderbook":
            book = self.book(parts[1])
            if book is None:
                return "orderbook", 404, {"error": "market not found"}
            depth = int(query.get("depth", ["0"])[0] or 0)
            if depth > 0:
                book = copy.deepcopy(book)
                for shape in ("orderbook_fp", "orderbook"):
                    for side in (book.get(shape) or {}).values():
                        if isinstance(side, list):
                            del side[:-depth]  # ascending: the best levels are the last
            return "orderbook", 200, book
        if parts == ["markets"]:
            return "markets", 200, self._markets_page(query)
        if len(parts) == 2 and parts[0] == "markets":
            m = self.market(parts[1])
            return ("market", 200, {"market": m}) if m else ("market", 404, {"error": "market not found"})
        return "other", 404, {"error": "not found"}

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, list[str]], max_limit: int, default: int
              ) -> tuple[list[dict[str, Any]], str]:
        """One page of ``items`` and the cursor of the next (``""`` on the last page); the cursor is
        opaque to the client (base64 of the next offset)."""
        limit = max(1, min(int(query.get("limit", [str(default)])[0] or default), max_limit))
        offset = int(base64.b64decode(query["cursor"][0]).decode()) if query.get("cursor") else 0
        page = items[offset:offset + limit]
        more = offset + limit < len(items)
        return page, base64.b64encode(str(offset + limit).encode()).decode() if more else ""

    def _events_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        status = query.get("status", [None])[0]
        series = query.get("series_ticker", [None])[0]
        nested = query.get("with_nested_markets", ["false"])[0] == "true"
        wanted = STATUS_FILTER.get(status or "")
        chosen = [e for e in self.events if (series is None or e.get("series_ticker") == series)
                  and (wanted is None or any(m.get("status") in wanted for m in e.get("markets") or []))]
        page, cursor = self._page(chosen, query, EVENTS_MAX_LIMIT, EVENTS_MAX_LIMIT)
        out = []
        for e in page:
            e = copy.deepcopy(e)
            if not nested:
                e.pop("markets", None)
            out.append(e)
        return {"cursor": cursor, "events": out, "milestones": []}

    def _markets_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        event = query.get("event_ticker", [None])[0]
        series = query.get("series_ticker", [None])[0]
        tickers = {t for v in query.get("tickers", []) for t in v.split(",") if t}
        wanted = STATUS_FILTER.get(query.get("status", [""])[0])
        exclude_mve = query.get("mve_filter", [""])[0] == "exclude"
        chosen = []
        for e in self.events:
            for m in e.get("markets") or []:
                if ((event is None or m.get("event_ticker") == event)
                        and (series is None or e.get("series_ticker") == series)
                        and (not tickers or m.get("ticker") in tickers)
                        and (wanted is None or m.get("status") in wanted)
                        and not (exclude_mve and (str(m.get("ticker", "")).startswith("KXMVE")
                                                  or m.get("mve_collection_ticker")))):
                    chosen.append(m)
        page, cursor = self._page(chosen, query, MARKETS_MAX_LIMIT, 100)
        return {"cursor": cursor, "markets": copy.deepcopy(page)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                text = url.path[len(PREFIX):] + ("?" + url.query if url.query else "")
                with stand_in._lock:
                    stand_in.log.append(text)
                    stand_in.arrivals.append(time.monotonic())
                endpoint, status, body = stand_in._route(url.path, parse_qs(url.query))
                fault = stand_in._next_fault(endpoint, text)
                payload = json.dumps(body).encode()
                headers = {"Content-Type": "application/json"}
                if fault is not None:
                    if fault.kind == "hang":
                        time.sleep(fault.seconds)
                    elif fault.kind == "fail":
                        status = fault.status
                        payload = json.dumps({"error": "too many requests"} if status == 429
                                             else {"error": "internal error"}).encode()
                        if fault.retry_after is not None:
                            headers["Retry-After"] = str(fault.retry_after)
                    elif fault.kind == "truncate":
                        status, payload = 200, payload[: len(payload) // 2]
                    elif fault.kind == "replace":
                        status, payload = 200, fault.body
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
