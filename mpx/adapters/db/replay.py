"""The backtest read path: the stored ticks of a window, one pass at a time, parsed lazily.

Each pass comes back as *one* row: PostgreSQL joins the pass's ticks into one text (token, best
bid, best ask, then the last trade and the levels left as text) and lists the markets that
changed, so the per-row cost of the wire protocol is paid once per pass instead of once per tick;
Python splits it (``str.split``, in C) and files the whole pass into dicts with
``dict.update(zip(…))``. Memory holds one pass (plus the latest raw text of each token).

A tick's levels stay text until a rule asks for that token's book: :class:`LazyBooks` builds the
:class:`Book` on first access (then caches it until the token's next tick), and tells a book's
time and best ask without building it at all. Most books are never parsed.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from mpx.domain.models import Book, Level

COLUMNS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz"
"""The columns a tick is made of (what the raw ``COPY … TO STDOUT`` benchmark reads)."""

PASS_SQL = """
SELECT string_agg(DISTINCT market_id, ','),
       string_agg(concat_ws('|', token_id, coalesce(best_bid::text, ''), coalesce(best_ask::text, ''),
                            coalesce(last_trade::text, ''), bid_px::text, bid_sz::text, ask_px::text, ask_sz::text),
                  ';')
FROM tick WHERE ts > %s AND ts <= %s"""


COMPACT_AFTER = 4
"""Archive batches kept before the rows still referred to are copied into one (bounded memory)."""


def _nums(text: str) -> list[Decimal]:
    inner = text[1:-1]
    return [Decimal(x) for x in inner.split(",")] if inner else []


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text else None


class _Prices(dict[Any, Decimal | None]):
    """Price → Decimal, each distinct one converted once (a pass's best asks are a few hundred
    distinct prices repeated thousands of times): PostgreSQL's text (``""`` → None), or the
    archive's micro-units (an int; 0 → None)."""

    def __missing__(self, key: Any) -> Decimal | None:
        if len(self) > 100_000:
            self.clear()
        if type(key) is int:
            from mpx.adapters.parquet_replay import canonical

            value = canonical(Decimal(key).scaleb(-6)) if key else None
        else:
            value = Decimal(key) if key else None
        self[key] = value
        return value


def _levels(px: str, sz: str) -> tuple[Level, ...]:
    return tuple(Level(p, s) for p, s in zip(_nums(px), _nums(sz), strict=False))


class LazyBooks(Mapping[str, Book]):
    """token → latest Book; a pass's raw text is parsed on first access."""

    def __init__(self, initial: Mapping[str, Book], arrow: Any = None) -> None:
        self._books: dict[str, Book] = dict(initial)
        self._raw: dict[str, Any] = {}
        """token → its latest tick not parsed yet: PostgreSQL's text, or an archived tick's code."""
        self._arrow = arrow
        """The archive's batches (:class:`mpx.adapters.parquet_replay.ArrowBooks`) codes point into."""
        self._top: dict[str, tuple[datetime | None, Decimal | None]] = {
            token: (book.ts, book.best_ask) for token, book in self._books.items()}
        self._bids: dict[str, Decimal | None] = {token: book.best_bid for token, book in self._books.items()}
        self._prices = _Prices()
        self.price = self._prices.__getitem__
        """Price text → Decimal (cached: a window's prices are a few hundred distinct texts)."""
        self.ask_at: Callable[[str], tuple[datetime | None, Decimal | None] | None] = self._top.get
        """(book time, best ask) of a token without building its book (None: no book) — the
        rules' shortcut; a plain dict lookup, the hottest call of a backtest."""

    def put_pass(self, ts: datetime, tokens: Sequence[str], bids: Sequence[Any], asks: Sequence[Any],
                 rest: Sequence[Any]) -> None:
        """File one pass: every list is aligned with ``tokens``."""
        self._raw.update(zip(tokens, rest, strict=True))
        if self._arrow is not None and len(self._arrow.batches) > COMPACT_AFTER:
            self._arrow.compact(self._raw)
        self._top.update(zip(tokens, zip(itertools.repeat(ts), map(self.price, asks)), strict=False))
        self._bids.update(zip(tokens, map(self.price, bids), strict=False))

    def quote_at(self, token: str) -> tuple[datetime | None, Decimal | None, Decimal | None] | None:
        """(book time, best bid, best ask) of a token without building its book (None: no book)."""
        top = self._top.get(token)
        return None if top is None else (top[0], self._bids.get(token), top[1])

    def put_raw(self, token: str, ts: datetime, rest: str, bid: str, ask: str) -> None:
        self.put_pass(ts, [token], [bid], [ask], [rest])

    def __getitem__(self, token: str) -> Book:
        raw = self._raw.pop(token, None)
        if raw is not None:
            if isinstance(raw, str):  # PostgreSQL's text of the tick
                last, bpx, bsz, apx, asz = raw.split("|")
                book = Book(token, _levels(bpx, bsz), _levels(apx, asz), self._top[token][0], _dec(last))
            else:  # an archived tick: a code into the archive's batches
                book = self._arrow.book(token, raw, self._top[token][0])
            self._books[token] = book
            return book
        return self._books[token]

    def __contains__(self, token: object) -> bool:
        return token in self._raw or token in self._books

    def __iter__(self) -> Iterator[str]:
        return iter(set(self._books) | set(self._raw))

    def __len__(self) -> int:
        return len(set(self._books) | set(self._raw))

    def get(self, token: str, default: Any = None) -> Any:  # the hot path: no exception for a miss
        if token in self._raw or token in self._books:
            return self[token]
        return default


@dataclass(frozen=True, slots=True)
class PassTicks:
    """One pass's ticks as aligned lists (the text PostgreSQL sent, split)."""

    tokens: Sequence[str]
    markets: set[str]
    bids: Sequence[Any]
    asks: Sequence[Any]
    """Best bid and ask: PostgreSQL's text (``""``: none), or the archive's micro-units (0: none)."""
    rest: Sequence[Any]
    """PostgreSQL's text of each tick's levels, or an archived tick's (Arrow batch, row)."""


EMPTY = PassTicks((), set(), (), (), ())


def count_ticks(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    row = conn.execute("SELECT count(*) FROM tick WHERE ts > %s AND ts <= %s", (start, end)).fetchone()
    return int(row[0]) if row else 0


def passes(conn: psycopg.Connection, start: datetime, end: datetime
           ) -> list[tuple[datetime, frozenset[str], str | None]]:
    """The ingest passes in ``(start, end]`` with their missing tokens and venue; when none were
    recorded (ticks loaded by other means), every distinct tick time is a pass of every venue with
    nothing missing."""
    rows = conn.execute("SELECT ts, missing, venue FROM ingest_pass WHERE ts > %s AND ts <= %s ORDER BY ts",
                        (start, end)).fetchall()
    if rows:
        return [(r[0], frozenset(r[1]), r[2]) for r in rows]
    return [(r[0], frozenset(), None) for r in conn.execute(
        "SELECT DISTINCT ts FROM tick WHERE ts > %s AND ts <= %s ORDER BY ts", (start, end))]


def stream(conn: psycopg.Connection, steps: list[datetime], start: datetime,
           prefetch: int = 2) -> Iterator[tuple[datetime, PassTicks]]:
    """For each step time, the ticks with ``previous step < ts <= step`` (one query, one row each).

    A reader thread runs the queries ``prefetch`` passes ahead, so PostgreSQL builds the next pass
    while this thread splits the current one and the rules run on it (psycopg waits on the socket
    without holding the GIL). The connection is used only by that thread until this generator ends;
    a database error there is raised here."""
    results: queue.Queue[tuple[datetime, Any] | BaseException | None] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def read() -> None:
        try:
            prev = start
            with conn.cursor() as cur:
                for step in steps:
                    if stop.is_set():
                        return
                    row = cur.execute(PASS_SQL, (prev, step)).fetchone()
                    prev = step
                    results.put((step, row))
            results.put(None)
        except BaseException as exc:  # handed to the consumer
            results.put(exc)

    reader = threading.Thread(target=read, name="mpx-replay-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = results.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            step, row = item
            if row is None or row[1] is None:
                yield step, EMPTY
                continue
            markets, text = row
            tokens, bids, asks, rest = zip(*(line.split("|", 3) for line in text.split(";")), strict=True)
            yield step, PassTicks(tokens, set(markets.split(",")), bids, asks, rest)
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to put
            with contextlib.suppress(queue.Empty):
                results.get(timeout=0.05)


def raw_copy_seconds(conn: psycopg.Connection, start: datetime, end: datetime) -> tuple[float, int, int]:
    """The raw limit: ``COPY (same SELECT) TO STDOUT``, bytes drained and nothing parsed.
    Returns (seconds, rows, bytes)."""
    import time

    t = time.perf_counter()
    nbytes = rows = 0
    sql = f"COPY (SELECT {COLUMNS} FROM tick WHERE ts > %s AND ts <= %s ORDER BY ts) TO STDOUT"
    with conn.cursor() as cur, cur.copy(sql, (start, end)) as copy:
        for data in copy:
            nbytes += len(data)
            rows += bytes(data).count(b"\n")
    return time.perf_counter() - t, rows, nbytes
