"""The backtest read path: a window of stored ticks streamed with ``COPY (SELECT …) TO STDOUT`` in
time chunks (memory stays bounded however long the window), parsed lazily.

A tick's levels stay text until a rule asks for that token's book: :class:`LazyBooks` keeps the
latest raw row per token and builds the :class:`Book` on first access (then caches it until the
token's next tick). Most ticks are superseded before any rule reads them, so most are never
parsed; timestamps are parsed once per pass, not once per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from mpx.domain.models import Book, Level

COLUMNS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz"
Raw = tuple[str, str, str, str, str, str]  # last_trade, bid_px, bid_sz, ask_px, ask_sz, ts text


def _nums(text: str) -> list[Decimal]:
    inner = text[1:-1]
    return [Decimal(x) for x in inner.split(",")] if inner else []


def _first(text: str) -> Decimal | None:
    if len(text) < 3:  # "{}"
        return None
    comma = text.find(",")
    return Decimal(text[1:comma if comma > 0 else -1])


def _levels(px: str, sz: str) -> tuple[Level, ...]:
    return tuple(Level(p, s) for p, s in zip(_nums(px), _nums(sz), strict=False))


class LazyBooks(Mapping[str, Book]):
    """token → latest Book; rows are parsed on first access."""

    def __init__(self, initial: Mapping[str, Book]) -> None:
        self._books: dict[str, Book] = dict(initial)
        self._raw: dict[str, tuple[datetime, tuple[str, ...]]] = {}

    def put_raw(self, token: str, ts: datetime, fields: tuple[str, ...]) -> None:
        self._raw[token] = (ts, fields)

    def __getitem__(self, token: str) -> Book:
        raw = self._raw.pop(token, None)
        if raw is not None:
            ts, (last, bpx, bsz, apx, asz) = raw
            book = Book(token, _levels(bpx, bsz), _levels(apx, asz), ts, None if last == "\\N" else Decimal(last))
            self._books[token] = book
            return book
        return self._books[token]

    def top(self, token: str) -> tuple[datetime | None, Decimal | None, Decimal | None] | None:
        """(book time, best bid, best ask) without parsing the levels (None: no book)."""
        raw = self._raw.get(token)
        if raw is not None:
            ts, f = raw
            return ts, _first(f[1]), _first(f[3])
        book = self._books.get(token)
        return None if book is None else (book.ts, book.best_bid, book.best_ask)

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


def count_ticks(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    row = conn.execute("SELECT count(*) FROM tick WHERE ts > %s AND ts <= %s", (start, end)).fetchone()
    return int(row[0]) if row else 0


def passes(conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple[datetime, frozenset[str]]]:
    """The ingest passes in ``(start, end]`` with their missing tokens; when none were recorded
    (ticks loaded by other means), every distinct tick time is a pass with nothing missing."""
    rows = conn.execute("SELECT ts, missing FROM ingest_pass WHERE ts > %s AND ts <= %s ORDER BY ts",
                        (start, end)).fetchall()
    if rows:
        return [(r[0], frozenset(r[1])) for r in rows]
    return [(r[0], frozenset()) for r in conn.execute(
        "SELECT DISTINCT ts FROM tick WHERE ts > %s AND ts <= %s ORDER BY ts", (start, end))]


def stream(conn: psycopg.Connection, steps: list[datetime], start: datetime, chunk_steps: int = 50,
           ) -> Iterator[tuple[datetime, list[tuple[str, str, tuple[str, ...]]]]]:
    """For each step time, the ticks with ``previous step < ts <= step`` as (token, market, raw
    fields), read ``chunk_steps`` passes per COPY so at most one chunk is in memory."""
    prev = start
    for i in range(0, len(steps), chunk_steps):
        block = steps[i:i + chunk_steps]
        by_step: dict[datetime, list[tuple[str, str, tuple[str, ...]]]] = {s: [] for s in block}
        ts_cache: dict[str, datetime] = {}
        pending = b""
        j = 0
        sql = f"COPY (SELECT {COLUMNS} FROM tick WHERE ts > %s AND ts <= %s ORDER BY ts) TO STDOUT"
        with conn.cursor() as cur, cur.copy(sql, (prev, block[-1])) as copy:
            for data in copy:
                buf = pending + bytes(data)
                lines = buf.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    f = line.decode().split("\t")
                    ts = ts_cache.get(f[0])
                    if ts is None:
                        ts = ts_cache[f[0]] = _parse_ts(f[0])
                    while block[j] < ts:
                        j += 1
                    by_step[block[j]].append((f[1], f[2], (f[3], f[4], f[5], f[6], f[7])))
        for s in block:
            yield s, by_step.pop(s)
        prev = block[-1]


def _parse_ts(text: str) -> datetime:
    # PostgreSQL's text form: "2026-11-25 10:49:36.123456+00"
    return datetime.fromisoformat(text + ":00" if len(text) > 3 and text[-3] in "+-" else text)


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


def window_bounds(conn: psycopg.Connection) -> tuple[datetime | None, datetime | None]:
    row = conn.execute("SELECT min(ts), max(ts) FROM tick").fetchone()
    return (row[0], row[1]) if row else (None, None)


ONE_US = timedelta(microseconds=1)
