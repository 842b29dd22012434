"""A local stand-in for Polymarket's websocket market channel (``/ws/market``) and the CLOB's
``POST /books``, for tests and the stream benchmark. Loopback only; the ``websockets`` library.

It speaks the channel (API_NOTES_2026 §3): the first message ``{"type": "market", "assets_ids": [...]}``
is answered with one frame holding a JSON list of ``book`` snapshots (CLOB order: bids ascending,
asks descending, values as strings, ``timestamp`` in ms); ``{"operation": "subscribe" |
"unsubscribe", ...}`` changes a connection's assets — subscribing to an asset the connection already
holds is rejected (an error text frame, nothing changes), and a connection asking for more than
``cap`` assets is closed (code 1008). The text ``PING`` is answered ``PONG``. Changes go out as
``price_change`` messages with the asset's ``best_bid``/``best_ask`` after the change (an empty
side is ``0``/``1``). Every asset keeps its authoritative book (:meth:`final_books`), with the server
time (ms, strictly increasing per asset) of its last change — the ``timestamp`` ``POST /books``
answers with.

Faults: :meth:`go_silent` (no data, PINGs still answered), ``no_pong``, :meth:`drop_connections`,
:meth:`send_raw` (e.g. malformed JSON), ``withhold`` (assets whose snapshot on subscribe is not
sent: their deltas then reach a client that never saw the book), :meth:`delta_for_foreign_asset`,
:meth:`out_of_order_pair` (two changes of one level sent in the wrong order).

A scenario (an ``async def`` taking the stand-in) runs on its loop once ``start_after`` assets are
subscribed; ``scenario_done`` is set when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

TICK = Decimal("0.01")
Scenario = Callable[["WsStandIn"], Awaitable[None]]


@dataclass
class AssetBook:
    market: str
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    ts: int = 0

    def best_bid(self) -> Decimal:
        return max(self.bids) if self.bids else Decimal(0)

    def best_ask(self) -> Decimal:
        return min(self.asks) if self.asks else Decimal(1)

    def wire(self, asset: str) -> dict[str, Any]:
        return {"event_type": "book", "market": self.market, "asset_id": asset,
                "bids": [{"price": str(p), "size": str(self.bids[p])} for p in sorted(self.bids)],
                "asks": [{"price": str(p), "size": str(self.asks[p])} for p in sorted(self.asks, reverse=True)],
                "timestamp": str(self.ts), "hash": f"{hash((asset, self.ts)) & 0xFFFFFFFF:08x}",
                "tick_size": "0.01", "min_order_size": "5", "neg_risk": False}

    def top(self, depth: int = 10) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids best-first, asks best-first), ``depth`` levels each."""
        return ([(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:depth]],
                [(p, self.asks[p]) for p in sorted(self.asks)[:depth]])


def make_books(markets: dict[str, list[str]], seed: int = 0, levels: int = 5,
               complementary: bool = False) -> dict[str, AssetBook]:
    """Books for every token of ``markets`` (market id → token ids): ``levels`` a side around a mid.
    ``complementary``: a two-outcome market's second book mirrors its first (its bids at 1 − the
    first's asks and the other way round), as real YES/NO books do — YES ask + NO ask > 1, so the
    rules find nothing until the books drift apart; otherwise each book is drawn on its own."""
    rng = random.Random(seed)
    out: dict[str, AssetBook] = {}
    for market, tokens in markets.items():
        if complementary and len(tokens) == 2:
            mid = rng.randint(20, 80)
            first = AssetBook(
                market,
                {Decimal(mid - 1 - i) / 100: Decimal(rng.randint(100, 99999)) / 100 for i in range(levels)},
                {Decimal(mid + 1 + i) / 100: Decimal(rng.randint(100, 99999)) / 100 for i in range(levels)},
                int(time.time() * 1000) - 60_000)
            out[tokens[0]] = first
            out[tokens[1]] = AssetBook(market, {1 - p: s for p, s in first.asks.items()},
                                       {1 - p: s for p, s in first.bids.items()}, first.ts)
            continue
        for token in tokens:
            mid = rng.randint(20, 80)
            out[token] = AssetBook(
                market,
                {Decimal(mid - 1 - i) / 100: Decimal(rng.randint(100, 99999)) / 100 for i in range(levels)},
                {Decimal(mid + 1 + i) / 100: Decimal(rng.randint(100, 99999)) / 100 for i in range(levels)},
                int(time.time() * 1000) - 60_000,
            )
    return out


class WsStandIn:
    def __init__(self, books: dict[str, AssetBook], *, cap: int = 500, seed: int = 0,
                 scenario: Scenario | None = None, start_after: int | None = None) -> None:
        self.books = books
        self._assets = list(books)  # to pick from without copying 20,000 keys a change
        self.first_subscribed_at: float | None = None  # time.monotonic() of the first subscription
        self.cap = cap
        self.rng = random.Random(seed)
        self.scenario = scenario
        self.start_after = len(books) if start_after is None else start_after
        self.lock = threading.Lock()  # the books: changed on the loop, read by POST /books
        self.subs: dict[ServerConnection, set[str]] = {}
        self.holder: dict[str, ServerConnection] = {}
        self.silent = False
        self.no_pong = False
        self.withhold: set[str] = set()
        self.scenario_done = threading.Event()
        self.scenario_error: BaseException | None = None
        self.stats: dict[str, int] = {"connections": 0, "subscribe_frames": 0, "rejected_duplicates": 0,
                                      "cap_closures": 0, "pings": 0, "price_changes": 0, "rest_books": 0}
        self.loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._scenario_started = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="polymarket-ws-stand-in", daemon=True)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._rest_handler())
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> WsStandIn:
        self._thread.start()
        self._http_thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        fut = asyncio.run_coroutine_threadsafe(self._close(), self.loop)
        with contextlib.suppress(Exception):
            fut.result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None, max_size=2**24)
            self._ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws/market"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # ---- the channel -----------------------------------------------------------------------
    async def _handle(self, conn: ServerConnection) -> None:
        self.stats["connections"] += 1
        self.subs[conn] = set()
        try:
            async for frame in conn:
                if frame == "PING":
                    self.stats["pings"] += 1
                    if not self.no_pong:
                        await conn.send("PONG")
                    continue
                try:
                    msg = json.loads(frame)
                except ValueError:
                    await conn.send("INVALID MESSAGE")
                    continue
                ids = [str(a) for a in msg.get("assets_ids") or []]
                if msg.get("type") == "market" or msg.get("operation") == "subscribe":
                    await self._subscribe(conn, ids)
                elif msg.get("operation") == "unsubscribe":
                    for a in ids:
                        self.subs[conn].discard(a)
                        if self.holder.get(a) is conn:
                            del self.holder[a]
        except ConnectionClosed:
            pass
        finally:
            for a in self.subs.pop(conn, set()):
                if self.holder.get(a) is conn:
                    del self.holder[a]

    async def _subscribe(self, conn: ServerConnection, ids: list[str]) -> None:
        self.stats["subscribe_frames"] += 1
        held = self.subs[conn]
        dup = [a for a in ids if a in held]
        if dup:
            self.stats["rejected_duplicates"] += 1
            await conn.send(json.dumps({"error": "already subscribed", "assets_ids": dup}))
            return
        new = list(dict.fromkeys(ids))
        if len(held) + len(new) > self.cap:
            self.stats["cap_closures"] += 1
            await conn.close(1008, f"at most {self.cap} assets per connection")
            return
        if self.first_subscribed_at is None:
            self.first_subscribed_at = time.monotonic()
        held.update(new)
        for a in new:
            self.holder[a] = conn
        with self.lock:
            dump = [self.books[a].wire(a) for a in new if a in self.books and a not in self.withhold]
        if dump and not self.silent:
            await conn.send(json.dumps(dump))
        if not self._scenario_started and len(self.holder) >= self.start_after and self.scenario is not None:
            self._scenario_started = True
            asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        assert self.scenario is not None
        try:
            await self.scenario(self)
        except BaseException as exc:
            self.scenario_error = exc
            raise
        finally:
            self.scenario_done.set()

    async def wait_subscribed(self, n: int | None = None, timeout: float = 10) -> None:
        n = len(self.books) if n is None else n
        deadline = time.monotonic() + timeout
        while len(self.holder) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.holder)} of {n} assets subscribed")
            await asyncio.sleep(0.01)

    async def _send(self, asset: str, text: str) -> None:
        conn = self.holder.get(asset)
        if conn is None or self.silent:
            return
        with contextlib.suppress(ConnectionClosed):
            await conn.send(text)

    # ---- changes ---------------------------------------------------------------------------
    def _stamp(self, b: AssetBook) -> int:
        b.ts = max(int(time.time() * 1000), b.ts + 1)
        return b.ts

    def set_level(self, asset: str, side: str, price: Decimal, size: Decimal) -> dict[str, Any]:
        """Change one level of the authoritative book; the ``price_change`` message (not sent)."""
        with self.lock:
            b = self.books[asset]
            levels = b.bids if side == "BUY" else b.asks
            if size > 0:
                levels[price] = size
            else:
                levels.pop(price, None)
            ts = self._stamp(b)
            return {"event_type": "price_change", "market": b.market, "timestamp": str(ts),
                    "price_changes": [{"asset_id": asset, "price": str(price), "size": str(size), "side": side,
                                       "hash": f"{ts:x}", "best_bid": str(b.best_bid()),
                                       "best_ask": str(b.best_ask())}]}

    def random_change(self, asset: str | None = None) -> tuple[str, dict[str, Any]]:
        """A random change that keeps the book uncrossed and both sides non-empty."""
        rng = self.rng
        asset = asset or rng.choice(self._assets)
        b = self.books[asset]
        side = rng.choice(("BUY", "SELL"))
        levels = b.bids if side == "BUY" else b.asks
        roll = rng.random()
        if roll < 0.5 and levels:
            price = rng.choice(list(levels))
            size = Decimal(rng.randint(100, 99999)) / 100
        elif roll < 0.75 and len(levels) > 1:
            price, size = rng.choice(list(levels)), Decimal(0)
        else:
            lo, hi = (TICK, b.best_ask() - TICK) if side == "BUY" else (b.best_bid() + TICK, 1 - TICK)
            price = rng.choice(list(levels)) if hi < lo else lo + TICK * rng.randint(0, int((hi - lo) / TICK))
            size = Decimal(rng.randint(100, 99999)) / 100
        return asset, self.set_level(asset, side, price, size)

    async def changes(self, n: int, rate: float = 1000.0, assets: list[str] | None = None) -> None:
        """``n`` random changes at about ``rate`` a second, each sent to the asset's connection."""
        batch = max(1, int(rate / 100))
        started = time.monotonic()
        for i in range(n):
            asset, msg = self.random_change(self.rng.choice(assets) if assets else None)
            self.stats["price_changes"] += 1
            await self._send(asset, json.dumps(msg))
            if (i + 1) % batch == 0:
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))

    async def send_all(self, text: str) -> None:
        for conn in list(self.subs):
            with contextlib.suppress(ConnectionClosed):
                await conn.send(text)

    async def send_raw(self, asset: str, text: str) -> None:
        await self._send(asset, text)

    async def out_of_order_pair(self, asset: str) -> None:
        """Two changes of the same level of ``asset``, sent newest first."""
        b = self.books[asset]
        price = max(b.bids)
        first = self.set_level(asset, "BUY", price, Decimal("11.11"))
        second = self.set_level(asset, "BUY", price, Decimal("22.22"))
        await self._send(asset, json.dumps(second))
        await self._send(asset, json.dumps(first))

    async def delta_for_foreign_asset(self, via: str) -> None:
        await self._send(via, json.dumps({
            "event_type": "price_change", "market": "0xforeign", "timestamp": str(int(time.time() * 1000)),
            "price_changes": [{"asset_id": "999", "price": "0.5", "size": "10", "side": "BUY", "hash": "x",
                               "best_bid": "0.5", "best_ask": "1"}]}))

    async def custom(self, via: str, msg: dict[str, Any]) -> None:
        """Send a custom-feature or other message (``timestamp`` added) on ``via``'s connection."""
        await self._send(via, json.dumps({"timestamp": str(int(time.time() * 1000)), **msg}))

    def go_silent(self, silent: bool = True) -> None:
        self.silent = silent

    async def drop_connections(self) -> None:
        for conn in list(self.subs):
            conn.transport.abort()

    def add_asset(self, asset: str, book: AssetBook) -> None:
        with self.lock:
            self.books[asset] = book
            self._assets.append(asset)

    # ---- what tests compare ----------------------------------------------------------------
    def final_books(self, assets: Iterable[str] | None = None, depth: int = 10) -> dict[str, Any]:
        with self.lock:
            return {a: self.books[a].top(depth) for a in (assets or self.books)}

    # ---- POST /books -----------------------------------------------------------------------
    def _rest_handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    wanted = [str(x["token_id"]) for x in json.loads(body)]
                except (ValueError, KeyError, TypeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                with stand_in.lock:
                    books = [stand_in.books[t].wire(t) for t in wanted if t in stand_in.books]
                stand_in.stats["rest_books"] += len(books)
                for b in books:
                    del b["event_type"]
                data = json.dumps(books).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
