"""``mpx stream --for DURATION``: one bounded pass over the websocket market channel.

The active universe (the stored outcome tokens of active markets) is split over ⌈tokens /
``MPX_WS_ASSETS_PER_CONN``⌉ connections. ``book`` snapshots and ``price_change`` deltas update
in-memory books (:mod:`mpx.domain.stream`); every ``MPX_STREAM_FLUSH`` the books that changed go
through ingest's write path (:func:`mpx.jobs.ingest.store_snapshot`: COPY + an ``ingest_pass`` row
with source ``stream``), one transaction per flush, so ``mpx evaluate`` reads stream passes like any
other. A book that cannot be trusted (a delta for a book with no snapshot, out of order, crossed,
or disagreeing with the top of book the delta carries) and every asset of a reconnected connection
is re-snapshotted over REST (``POST /books``); until then it is not written and its pass lists it
as missing. ``tick_size_change``, ``new_market`` and ``market_resolved`` update the stored market in
the next flush. The pass ends after DURATION or on SIGTERM with a last flush (exit 0); it exits 75
when no connection could be opened at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db.connection import advisory_lock
from mpx.adapters.sources import polymarket_client_config
from mpx.adapters.sources.polymarket import ws
from mpx.adapters.sources.polymarket.client import PolymarketClient
from mpx.adapters.sources.polymarket.parse import ParseReport, parse_book
from mpx.domain.models import POLYMARKET, Book, Market, Outcome, Snapshot
from mpx.domain.rules.base import RuleSpec
from mpx.domain.stream import BookState, Verdict
from mpx.errors import UnavailableError
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.evaluate import LiveEvaluator
from mpx.jobs.ingest import IngestResult, store_snapshot
from mpx.log import get_logger

log = get_logger(__name__)

SOURCE = "stream"
LAG_SAMPLES = 100_000


@dataclass
class StreamResult(JobResult):
    passes: int = 0
    messages: int = 0
    seconds: float = 0.0
    lag_p50: float | None = None
    lag_p99: float | None = None


@dataclass
class _Lag:
    """A uniform sample of message lags (arrival − the message's server timestamp), bounded."""

    samples: list[float] = field(default_factory=list)
    seen: int = 0

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.samples) < LAG_SAMPLES:
            self.samples.append(value)
        else:
            j = random.randrange(self.seen)
            if j < LAG_SAMPLES:
                self.samples[j] = value

    def quantile(self, q: float) -> float | None:
        if not self.samples:
            return None
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))]


class Streamer:
    def __init__(self, ctx: Context[Any], tokens: list[str], duration: timedelta,
                 on_flush: Callable[[datetime], None] | None = None, live: LiveEvaluator | None = None) -> None:
        self.ctx = ctx
        self.live = live
        s = ctx.settings
        self.duration = duration.total_seconds()
        self.flush_every = s.mpx_stream_flush.total_seconds()
        self.per_conn = s.mpx_ws_assets_per_conn
        self.on_flush = on_flush
        self.books = {t: BookState(t) for t in tokens}
        self.dirty: set[str] = set()
        self.updates: list[tuple[str, Any]] = []
        self.messages: Counter[str] = Counter()
        self.resnapshots: Counter[str] = Counter()
        self.lag = _Lag()
        self.steady_lag = _Lag()  # after the first flush (which holds every book of the initial dump)
        self.report = ParseReport()
        self.want: set[str] = set()
        self.want_event = asyncio.Event()
        self.wsc = ws.WsConfig(url=s.mpx_ws_url, ping_interval=s.mpx_ws_ping.total_seconds(),
                               stale=s.mpx_ws_stale.total_seconds(),
                               connect_timeout=s.mpx_ws_connect_timeout.total_seconds())
        self.stats = ws.WsStats()
        self.conns = [ws.MarketConnection(i, tokens[k:k + self.per_conn], self.wsc, self.stats, self.on_frame,
                                          self.on_reconnect)
                      for i, k in enumerate(range(0, len(tokens), self.per_conn))]
        self.passes = self.written = 0
        self.flush_seconds: list[float] = []
        self.tasks: list[asyncio.Task[Any]] = []
        self.stop = asyncio.Event()

    # ---- messages ------------------------------------------------------------------------
    def on_frame(self, text: str, arrival: float) -> None:
        try:
            msgs = ws.decode(text)
        except ValueError:
            self.messages["malformed"] += 1
            return
        for m in msgs:
            et = ws.event_type(m)
            self.messages[et] += 1
            ts = ws.ts_ms(m.get("timestamp"))
            if ts is not None and et != "book":  # a book's timestamp is its state's, not when it was sent
                self.lag.add(arrival - ts / 1000)
                if self.passes:
                    self.steady_lag.add(arrival - ts / 1000)
            if et == "price_change":
                self._deltas(m)
            elif et == "book":
                self._snapshot(m, "ws")
            elif et == "last_trade_price":
                st = self.books.get(str(m.get("asset_id")))
                price = ws._dec(m.get("price"))
                if st is not None and price is not None and 0 <= price <= 1 and st.last_trade != price:
                    st.last_trade = price
                    self.dirty.add(st.token_id)
            elif et == "tick_size_change":
                tick = ws._dec(m.get("new_tick_size"))
                if isinstance(m.get("market"), str) and tick is not None and 0 < tick < 1:
                    self.updates.append(("tick", (m["market"], tick)))
            elif et == "new_market":
                self._new_market(m)
            elif et == "market_resolved":
                self._resolved(m)

    def _deltas(self, m: dict[str, Any]) -> None:
        items, bad = ws.deltas(m)
        if bad:
            self.messages["invalid_items"] += bad
        for d in items:
            st = self.books.get(d.asset_id)
            if st is None:
                self.messages["foreign_asset"] += 1
                continue
            v = st.apply_delta(d)
            if v is Verdict.applied:
                self.dirty.add(d.asset_id)
            elif v.needs_snapshot:
                self._want(d.asset_id, v.value)

    def _snapshot(self, obj: Any, origin: str) -> None:
        book = parse_book(obj, self.report)
        if book is None:
            return
        st = self.books.get(book.token_id)
        if st is None:
            return
        ts = ws.ts_ms(obj.get("timestamp")) or int(time.time() * 1000)
        if st.apply_snapshot(book.bids, book.asks, ts, book.last_trade):
            if st.awaiting:  # a buffered delta replayed onto it broke it
                self._want(st.token_id, "replay")
            else:
                self.dirty.add(st.token_id)

    def _want(self, token: str, why: str) -> None:
        self.resnapshots[why] += 1
        self.want.add(token)
        self.want_event.set()

    def _new_market(self, m: dict[str, Any]) -> None:
        market_id = m.get("market")
        tokens = ws.str_list(m.get("assets_ids")) or ws.str_list(m.get("clob_token_ids"))
        if not isinstance(market_id, str) or not market_id or not tokens:
            self.messages["invalid_new_market"] += 1
            return
        labels = ws.str_list(m.get("outcomes"))
        if len(labels) != len(tokens):
            labels = ["Yes", "No"] if len(tokens) == 2 else [str(i) for i in range(len(tokens))]
        tick = ws._dec(m.get("order_price_min_tick_size")) or ws._dec(m.get("tick_size"))
        market = Market(
            id=market_id, question=str(m.get("question") or ""), slug=str(m.get("slug") or ""),
            outcomes=tuple(Outcome(t, market_id, lab, i) for i, (t, lab) in enumerate(zip(tokens, labels,
                                                                                           strict=True))),
            tick_size=tick if tick is not None and 0 < tick < 1 else Decimal("0.01"),
        )
        self.updates.append(("new", market))
        fresh = [t for t in tokens if t not in self.books]
        for t in fresh:
            self.books[t] = BookState(t)
        if fresh:
            conn = min(self.conns, key=lambda c: len(c.assets))
            if len(conn.assets) + len(fresh) > self.per_conn:
                conn = ws.MarketConnection(len(self.conns), [], self.wsc, self.stats, self.on_frame,
                                           self.on_reconnect)
                self.conns.append(conn)
                conn.assets.extend(fresh)
                self.tasks.append(asyncio.get_running_loop().create_task(conn.run(self.stop)))
            else:
                self.tasks.append(asyncio.get_running_loop().create_task(conn.subscribe(fresh)))

    def _resolved(self, m: dict[str, Any]) -> None:
        market_id = m.get("market")
        if not isinstance(market_id, str) or not market_id:
            self.messages["invalid_market_resolved"] += 1
            return
        winner = m.get("winning_asset_id")
        self.updates.append(("resolved", (market_id, winner if isinstance(winner, str) else None)))
        gone = ws.str_list(m.get("assets_ids"))
        for t in gone:
            if t in self.books and t not in self.dirty:
                self.books.pop(t, None)
        for c in self.conns:
            self.tasks.append(asyncio.get_running_loop().create_task(c.unsubscribe(gone)))

    def on_reconnect(self, conn: ws.MarketConnection) -> None:
        """A connection came back: what it missed meanwhile is unknown, so its books wait for a
        snapshot (the channel's own on subscribe, or REST's, whichever comes first)."""
        for t in conn.assets:
            st = self.books.get(t)
            if st is not None:
                st.awaiting = True
                st.buffer = []
                self._want(t, "reconnect")

    # ---- REST re-snapshots ---------------------------------------------------------------
    async def _resnapshot_loop(self, client: PolymarketClient) -> None:
        while True:
            await self.want_event.wait()
            self.want_event.clear()
            batch = [t for t in self.want if t in self.books]
            self.want.clear()
            if not batch:
                continue
            try:
                payload, failed = await client.books(batch)
            except Exception as exc:  # a failed batch is asked again, never the end of the pass
                log.warning("re-snapshot failed", extra={"tokens": len(batch), "error": str(exc)[:200]})
                payload, failed = [], batch
            for obj in payload:
                self._snapshot(obj, "rest")
            still = [t for t in batch if t in self.books and self.books[t].awaiting]
            if failed or still:
                await asyncio.sleep(min(1.0, self.flush_every))
                for t in {*failed, *still}:
                    if t in self.books and self.books[t].awaiting:
                        self.want.add(t)
                self.want_event.set()

    # ---- flushes -------------------------------------------------------------------------
    async def flush(self) -> None:
        changed: list[Book] = []
        for t in list(self.dirty):
            st = self.books.get(t)
            if st is None:
                self.dirty.discard(t)
            elif not st.awaiting:
                changed.append(st.to_book())
                self.dirty.discard(t)
        updates, self.updates = self.updates, []
        if not changed and not updates:
            return
        awaiting = [t for t, st in self.books.items() if st.awaiting]
        started = time.monotonic()
        now = datetime.now(UTC)
        res = await asyncio.to_thread(self._write, now, changed, awaiting, updates)
        self.flush_seconds.append(time.monotonic() - started)
        self.passes += 1
        self.written += res.rows
        if self.on_flush is not None and res.ts is not None:
            await asyncio.to_thread(self.on_flush, res.ts)

    def _write(self, now: datetime, books: list[Book], awaiting: list[str],
               updates: list[tuple[str, Any]]) -> IngestResult:
        conn = self.ctx.conn
        new = [u[1] for u in updates if u[0] == "new"]
        if new:
            db_markets.upsert_metadata(conn, [], new)
        for kind, arg in updates:
            if kind == "tick":
                db_markets.set_tick_size(conn, *arg)
            elif kind == "resolved":
                db_markets.resolve_market(conn, *arg)
        snap = Snapshot(ts=now, books=books, requested=[b.token_id for b in books] + awaiting)
        res = store_snapshot(self.ctx, SOURCE, snap)
        if self.live is not None and res.ts is not None:
            self.live.step(res.ts, books, awaiting)
        conn.commit()
        return res

    # ---- the pass ------------------------------------------------------------------------
    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, self.stop.set)
        client = PolymarketClient(polymarket_client_config(self.ctx.settings), paced=True)
        try:
            async with client:
                self.tasks = [loop.create_task(c.run(self.stop)) for c in self.conns]
                rest = loop.create_task(self._resnapshot_loop(client))
                try:
                    await self._until_connected()
                    await self._flush_until_done(loop)
                finally:
                    self.stop.set()
                    rest.cancel()
                    await asyncio.wait([rest, *self.tasks], timeout=5)
                    for t in self.tasks:
                        t.cancel()
        finally:
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.remove_signal_handler(signal.SIGTERM)

    async def _until_connected(self) -> None:
        """Until one connection is open; UnavailableError when every one failed its first attempts."""
        while True:
            if any(c.connected.is_set() for c in self.conns):
                return
            if all(c.failed_first.is_set() for c in self.conns):
                raise UnavailableError(f"stream: could not connect to {self.wsc.url} "
                                       f"({self.stats.connect_failures} attempts failed)",
                                       hint="check MPX_WS_URL and the network; the next pass tries again")
            if self.stop.is_set():
                return
            await asyncio.sleep(0.05)

    async def _flush_until_done(self, loop: asyncio.AbstractEventLoop) -> None:
        end = loop.time() + self.duration
        next_flush = loop.time() + self.flush_every
        while not self.stop.is_set():
            wait = min(next_flush, end) - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), wait)
            if self.stop.is_set() or loop.time() >= end:
                break
            await self.flush()
            next_flush = max(next_flush + self.flush_every, loop.time())
        await self.flush()


def run_stream(ctx: Context[StreamResult], duration: timedelta, rules: Sequence[RuleSpec] | None = None,
               on_flush: Callable[[datetime], None] | None = None) -> StreamResult:
    """The pass; with ``rules`` (``--evaluate``) the rules run on every flush in-process, under the
    ``evaluate`` lock held for the whole pass (a scheduled ``mpx evaluate`` meanwhile exits 75)."""
    if rules is None:
        return _run_stream(ctx, duration, None, on_flush)
    with advisory_lock(ctx.conn, "evaluate"):
        live = LiveEvaluator(ctx, rules)
        return _run_stream(ctx, duration, live, on_flush)


def _run_stream(ctx: Context[StreamResult], duration: timedelta, live: LiveEvaluator | None,
                on_flush: Callable[[datetime], None] | None) -> StreamResult:
    conn = ctx.conn
    tokens = db_markets.active_tokens(conn, POLYMARKET)  # the stream is Polymarket's market channel
    conn.commit()
    if not tokens:
        raise UnavailableError("stream: no active markets stored", hint="run `mpx ingest` first")
    started = time.monotonic()
    streamer = Streamer(ctx, tokens, duration, on_flush, live)
    # The flush thread (formatting, COPY) and the event loop (frames) share the GIL: a shorter switch
    # interval lets the loop in sooner while a big flush runs (the first one holds every book).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        asyncio.run(streamer.main())
    finally:
        sys.setswitchinterval(switch)
    seconds = time.monotonic() - started
    _metrics(ctx, streamer)
    total = sum(v for k, v in streamer.messages.items() if k not in ("malformed",))
    p50, p99 = streamer.lag.quantile(0.5), streamer.lag.quantile(0.99)
    warnings = []
    if streamer.messages.get("malformed"):
        warnings.append(f"{streamer.messages['malformed']} malformed frame(s) ignored")
    return StreamResult(
        rows=streamer.written, passes=streamer.passes, messages=total, seconds=seconds, lag_p50=p50, lag_p99=p99,
        warnings=warnings,
        details={"passes": streamer.passes, "written": streamer.written, "assets": len(tokens),
                 "connections": len(streamer.conns), "messages": dict(streamer.messages),
                 "resnapshots": dict(streamer.resnapshots), "reconnects": streamer.stats.reconnects,
                 "stale_disconnects": streamer.stats.stale_disconnects, "pong_timeouts": streamer.stats.pong_timeouts,
                 "dropped": streamer.stats.dropped, "connect_failures": streamer.stats.connect_failures,
                 "lag_p50_s": None if p50 is None else round(p50, 4),
                 "lag_p99_s": None if p99 is None else round(p99, 4),
                 **{f"steady_lag_p{round(q * 100)}_s": None if v is None else round(v, 4)
                    for q in (0.5, 0.99) for v in [streamer.steady_lag.quantile(q)]},
                 "flush_max_s": round(max(streamer.flush_seconds, default=0.0), 4),
                 "flush_first_s": round(streamer.flush_seconds[0], 4) if streamer.flush_seconds else None,
                 "flush_p50_s": round(sorted(streamer.flush_seconds)[len(streamer.flush_seconds) // 2], 4)
                 if streamer.flush_seconds else None,
                 "seconds": round(seconds, 3),
                 **({} if live is None else {
                     "evaluate": {"steps": live.steps, "opened": live.opened, "closed": live.closed,
                                  "new_signals": live.signals,
                                  "step_p50_s": round(sorted(live.seconds)[len(live.seconds) // 2], 4)
                                  if live.seconds else None,
                                  "step_max_s": round(max(live.seconds, default=0.0), 4)}})},
    )


def _metrics(ctx: Context[StreamResult], s: Streamer) -> None:
    m = ctx.metrics
    g = m.gauge("mpx_stream_messages_total", "Websocket messages handled in the pass, by event type", ("type",))
    for k, v in s.messages.items():
        g.labels(k).set(v)
    m.gauge("mpx_stream_reconnects_total", "Websocket reconnects in the pass").set(s.stats.reconnects)
    m.gauge("mpx_stream_stale_disconnects_total", "Connections dropped as stale (no data or no PONG)").set(
        s.stats.stale_disconnects + s.stats.pong_timeouts)
    r = m.gauge("mpx_stream_resnapshots_total", "REST re-snapshots asked for, by reason", ("reason",))
    for k, v in s.resnapshots.items():
        r.labels(k).set(v)
    m.gauge("mpx_stream_passes_total", "Flushes that stored a pass").set(s.passes)
    f = m.gauge("mpx_stream_flush_seconds", "Time to write one flush", ("stat",))
    if s.flush_seconds:
        f.labels("mean").set(sum(s.flush_seconds) / len(s.flush_seconds))
        f.labels("max").set(max(s.flush_seconds))
    lag = m.gauge("mpx_stream_lag_seconds", "Message lag: arrival − the message's server timestamp", ("quantile",))
    for q in (0.5, 0.99):
        value = s.lag.quantile(q)
        if value is not None:
            lag.labels(str(q)).set(value)
