"""The CLOB websocket market channel (``/ws/market``, API_NOTES_2026 §3): connections, keep-alive,
reconnects, and the decoding of its messages.

One :class:`MarketConnection` holds up to ``MPX_WS_ASSETS_PER_CONN`` assets: it subscribes with
``{"type": "market", "assets_ids": […], "custom_feature_enabled": true}``, sends the text ``PING``
every ``ping_interval`` and expects ``PONG``; a connection with no data for ``stale`` seconds (a
socket can answer PING and send nothing for hours) or no PONG for as long is dropped and opened
again, and its owner is told (it then re-snapshots those assets over REST). Frames are handed over
as text with their arrival time; :func:`decode` turns one into messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from mpx.adapters.sources.passes import decimal_or_none
from mpx.domain.stream import Delta
from mpx.log import get_logger

log = get_logger(__name__)


@dataclass
class WsConfig:
    url: str
    ping_interval: float = 10.0
    stale: float = 30.0
    connect_timeout: float = 10.0
    backoff: float = 0.5
    max_backoff: float = 10.0


@dataclass
class WsStats:
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    stale_disconnects: int = 0  # no data within `stale`
    pong_timeouts: int = 0  # no PONG within `stale`
    dropped: int = 0  # closed by the server or the network


# --- decoding -------------------------------------------------------------------------------

_dec = decimal_or_none


def ts_ms(value: Any) -> int | None:
    d = _dec(value)
    return int(d) if d is not None and d > 0 else None


def decode(text: str | bytes) -> list[dict[str, Any]]:
    """A frame → its message objects (a frame is one JSON object or a list of them). Raises
    ``ValueError`` for a frame that is not JSON or holds something else."""
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(x, dict) for x in items):
        raise ValueError("a frame holds something other than JSON objects")
    return items


def event_type(msg: dict[str, Any]) -> str:
    """The message's ``event_type``; an initial book without one (reported) is a ``book``."""
    et = msg.get("event_type")
    if isinstance(et, str) and et:
        return et
    return "book" if "bids" in msg and "asks" in msg and "asset_id" in msg else "unknown"


def deltas(msg: dict[str, Any]) -> tuple[list[Delta], int]:
    """The valid items of a ``price_change`` (current shape, and the pre-2025-09-15 one with
    top-level ``asset_id`` and ``changes``) and how many items were dropped as invalid."""
    ts = ts_ms(msg.get("timestamp")) or 0
    items = msg.get("price_changes")
    legacy = items is None
    if legacy:
        items = msg.get("changes")
    if not isinstance(items, list):
        return [], 1
    out: list[Delta] = []
    bad = 0
    for it in items:
        if not isinstance(it, dict):
            bad += 1
            continue
        asset = msg.get("asset_id") if legacy else it.get("asset_id")
        price, size, side = _dec(it.get("price")), _dec(it.get("size")), it.get("side")
        if (not isinstance(asset, str) or not asset or price is None or size is None or size < 0
                or not Decimal(0) <= price <= 1 or side not in ("BUY", "SELL")):
            bad += 1
            continue
        out.append(Delta(asset, side, price, size, ts, _dec(it.get("best_bid")), _dec(it.get("best_ask"))))
    return out, bad


def str_list(value: Any) -> list[str]:
    """A list of ids, given as a JSON array or as JSON text of one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [str(v) for v in value] if isinstance(value, list) else []


# --- connections ----------------------------------------------------------------------------

FrameHandler = Callable[[str, float], None]
"""Called with each data frame's text and its arrival time (``time.time()``)."""
ReconnectHandler = Callable[["MarketConnection"], None]


@dataclass
class MarketConnection:
    index: int
    assets: list[str]
    config: WsConfig
    stats: WsStats
    on_frame: FrameHandler
    on_reconnect: ReconnectHandler
    sessions: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    failed_first: asyncio.Event = field(default_factory=asyncio.Event)
    _ws: ClientConnection | None = None

    async def run(self, stop: asyncio.Event, first_attempts: int = 3) -> None:
        """Hold the connection open until ``stop`` is set, reconnecting as needed. Until it has
        connected once, ``failed_first`` is set after ``first_attempts`` failed attempts (it keeps
        trying)."""
        failures = 0
        while not stop.is_set():
            try:
                ws = await asyncio.wait_for(
                    connect(self.config.url, ping_interval=None, close_timeout=1, max_size=2**24,
                            open_timeout=self.config.connect_timeout),
                    timeout=self.config.connect_timeout + 1)
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI,
                    websockets.ConnectionClosed) as exc:
                self.stats.connect_failures += 1
                failures += 1
                if self.sessions == 0 and failures >= first_attempts:
                    self.failed_first.set()
                log.warning("websocket connect failed", extra={"conn": self.index, "error": type(exc).__name__,
                                                                "attempt": failures})
                await _sleep_or_stop(stop, min(self.config.max_backoff, self.config.backoff * 2 ** min(failures, 8)))
                continue
            failures = 0
            self.sessions += 1
            self.stats.connects += 1
            if self.sessions > 1:
                self.stats.reconnects += 1
            self._ws = ws
            try:
                await ws.send(json.dumps({"type": "market", "assets_ids": self.assets,
                                          "custom_feature_enabled": True}))
                if self.sessions > 1:
                    self.on_reconnect(self)
                self.connected.set()
                why = await self._session(ws, stop)
            except websockets.ConnectionClosed:
                why = "dropped"
            finally:
                self._ws = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 2)
            if why == "stop":
                return
            if why == "stale":
                self.stats.stale_disconnects += 1
            elif why == "pong":
                self.stats.pong_timeouts += 1
            else:
                self.stats.dropped += 1
            log.warning("websocket connection lost; reconnecting", extra={"conn": self.index, "why": why})
            await _sleep_or_stop(stop, self.config.backoff)

    async def _session(self, ws: ClientConnection, stop: asyncio.Event) -> str:
        last_data = last_pong = time.monotonic()

        async def receive() -> str:
            nonlocal last_data, last_pong
            async for frame in ws:
                now = time.monotonic()
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                if text == "PONG":
                    last_pong = now
                    continue
                last_data = now
                self.on_frame(text, time.time())
            return "dropped"

        async def watchdog() -> str:
            while True:
                await ws.send("PING")
                await asyncio.sleep(min(self.config.ping_interval, self.config.stale / 2))
                now = time.monotonic()
                if now - last_data > self.config.stale:
                    return "stale"
                if now - last_pong > self.config.stale:
                    return "pong"

        async def stopped() -> str:
            await stop.wait()
            return "stop"

        tasks = [asyncio.create_task(c) for c in (receive(), watchdog(), stopped())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
        for t in done:
            exc = t.exception()
            if isinstance(exc, websockets.ConnectionClosed):
                return "dropped"
            if exc is not None:
                raise exc
        return str(next(iter(done)).result())

    async def subscribe(self, assets: Iterable[str]) -> list[str]:
        """Add assets on the open connection (never one it already holds: the server rejects a
        second subscription). Returns those added; they are kept for reconnects either way."""
        new = [a for a in dict.fromkeys(assets) if a not in set(self.assets)]
        if not new:
            return []
        self.assets.extend(new)
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(json.dumps({"operation": "subscribe", "assets_ids": new}))
        return new

    async def unsubscribe(self, assets: Iterable[str]) -> None:
        gone = [a for a in assets if a in set(self.assets)]
        if not gone:
            return
        self.assets = [a for a in self.assets if a not in set(gone)]
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(json.dumps({"operation": "unsubscribe", "assets_ids": gone}))


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
