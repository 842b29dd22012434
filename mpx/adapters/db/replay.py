"""The backtest read path: the stored ticks of a window, one pass at a time, parsed lazily.

Each pass comes back from PostgreSQL as *one* row: the pass's ticks joined into one text (token,
best bid, best ask, then the last trade and the levels left as text), so the per-row cost of the
wire protocol is paid once per pass instead of once per tick; Python splits it (``str.split``, in
C). The archive's passes come as arrays (:mod:`mpx.adapters.parquet_replay`, :class:`ColumnarPass`).

Either way :class:`LazyBooks` files the top of each book into arrays (:class:`~mpx.domain.columns.Tops`)
and keeps the rest of the tick where it is — PostgreSQL's text, or a code saying where the archive
holds its levels — until a rule asks for that book; most books are never built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
import psycopg

from mpx.adapters.ahead import read_ahead
from mpx.domain.columns import Tops
from mpx.domain.models import Book, Level

COLUMNS = "ts, token_id, market_id, last_trade, bid_px, bid_sz, ask_px, ask_sz"
"""The columns a tick is made of (what the raw ``COPY … TO STDOUT`` benchmark reads)."""

PASS_SQL = """
SELECT string_agg(concat_ws('|', token_id, coalesce(best_bid::text, ''), coalesce(best_ask::text, ''),
                            coalesce(last_trade::text, ''), bid_px::text, bid_sz::text, ask_px::text, ask_sz::text),
                  ';')
FROM tick WHERE ts > %s AND ts <= %s"""


def _nums(text: str) -> list[Decimal]:
    inner = text[1:-1]
    return [Decimal(x) for x in inner.split(",")] if inner else []


def _dec(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _levels(px: str, sz: str) -> tuple[Level, ...]:
    return tuple(Level(p, s) for p, s in zip(_nums(px), _nums(sz), strict=False))


class LevelSource(Protocol):
    """Where an archived tick's levels are read when its book is asked for."""

    def book(self, token: str, code: int, ts: datetime | None) -> Book: ...

    def asks(self, code: int) -> tuple[Level, ...]: ...


_TEXT = -2
"""A token's latest tick is PostgreSQL's text (in ``LazyBooks._raw``)."""
_BUILT = -1
"""A token's latest book is already a :class:`Book` (from before the window)."""


class LazyBooks(Mapping[str, Book]):
    """token → latest Book, built on first access from what the pass filed: PostgreSQL's text of
    the tick, or an archived tick's code (its levels are read from the archive only then). The
    top of every book lives in :attr:`tops` (arrays), which the rules read without building a
    book (``ask_at``/``quote_at``) and the kinds' screens read whole."""

    def __init__(self, initial: Mapping[str, Book], tops: Tops | None = None, levels: LevelSource | None = None
                 ) -> None:
        self.tops = tops if tops is not None else Tops((), (), ())
        self._levels = levels
        self._books: dict[str, Book] = {}
        self._raw: dict[str, str] = {}
        n = len(self.tops.bid)
        self._code = np.full(n, _BUILT, np.int64)
        """Each token's latest tick: an archive code (≥ 0), PostgreSQL's text, or a built book."""
        self._version = np.zeros(n, np.int64)
        self._built = np.zeros(n, np.int64)
        self._passes = 0
        self._text_micros: dict[str, int] = {"": 0}
        for token, book in initial.items():
            self.tops.put_one(token, book.ts, book.best_bid, book.best_ask)
            self._books[token] = book
        self._room()
        self.ask_at: Callable[[str], tuple[datetime | None, Decimal | None] | None] = self.tops.ask_at
        """(book time, best ask) of a token without building its book (None: no book)."""
        self.quote_at: Callable[[str], tuple[datetime | None, Decimal | None, Decimal | None] | None] = (
            self.tops.quote_at)
        """(book time, best bid, best ask) of a token without building its book (None: no book)."""

    def _room(self) -> None:
        n = len(self.tops.bid)
        if len(self._code) < n:
            grow = n - len(self._code)
            self._code = np.concatenate([self._code, np.full(grow, _BUILT, np.int64)])
            self._version = np.concatenate([self._version, np.zeros(grow, np.int64)])
            self._built = np.concatenate([self._built, np.zeros(grow, np.int64)])

    def put_columns(self, ts: datetime, idx: np.ndarray, bid: np.ndarray, ask: np.ndarray, code: np.ndarray) -> None:
        """File one pass given as arrays (token numbers, micro-unit tops, the ticks' codes)."""
        keep = self.tops.put(ts, idx, bid, ask)
        if keep is not None:
            idx, code = idx[keep], code[keep]
        self._room()
        self._passes += 1
        self._code[idx] = code
        self._version[idx] = self._passes

    def put_pass(self, ts: datetime, tokens: Sequence[str], bids: Sequence[str], asks: Sequence[str],
                 rest: Sequence[str]) -> np.ndarray:
        """File one pass of PostgreSQL's text (aligned lists); the token numbers, as filed."""
        idx = self.tops.numbers(tokens)
        micro = self._text_micro
        bid = np.fromiter(map(micro, bids), np.int64, len(idx))
        ask = np.fromiter(map(micro, asks), np.int64, len(idx))
        self._raw.update(zip(tokens, rest, strict=True))
        self.put_columns(ts, idx, bid, ask, np.full(len(idx), _TEXT, np.int64))
        return idx

    def _text_micro(self, text: str) -> int:
        found = self._text_micros.get(text)
        if found is None:
            found = self._text_micros[text] = self.tops.micro(Decimal(text))
        return found

    def put_raw(self, token: str, ts: datetime, rest: str, bid: str, ask: str) -> None:
        self.put_pass(ts, [token], [bid], [ask], [rest])

    def __getitem__(self, token: str) -> Book:
        i = self.tops.index.get(token)
        if i is None or not self.tops.has.item(i):
            raise KeyError(token)
        version = self._version.item(i)
        if self._built.item(i) == version:
            return self._books[token]
        code = self._code.item(i)
        ts = self.tops.time(self.tops.ts.item(i))
        if code == _TEXT:
            last, bpx, bsz, apx, asz = self._raw.pop(token).split("|")
            book = Book(token, _levels(bpx, bsz), _levels(apx, asz), ts, _dec(last))
        else:
            assert self._levels is not None, "an archived tick without the archive to read it from"
            book = self._levels.book(token, code, ts)
        self._books[token] = book
        self._built[i] = version
        return book

    def asks_of(self, token: str) -> tuple[Level, ...] | None:
        """The asks of the token's latest book (``None``: no book) — all a set is priced with, read
        without the rest of the book where that is cheaper (an archived tick: half its columns)."""
        i = self.tops.index.get(token)
        if i is None or not self.tops.has.item(i):
            return None
        if self._built.item(i) == self._version.item(i):
            return self._books[token].asks
        code = self._code.item(i)
        if code == _TEXT:
            _, _, _, apx, asz = self._raw[token].split("|")
            return _levels(apx, asz)
        assert self._levels is not None, "an archived tick without the archive to read it from"
        return self._levels.asks(code)

    def __contains__(self, token: object) -> bool:
        i = self.tops.index.get(token) if isinstance(token, str) else None
        return i is not None and bool(self.tops.has.item(i))

    def __iter__(self) -> Iterator[str]:
        tokens = self.tops.tokens
        return (tokens[i] for i in np.flatnonzero(self.tops.has).tolist())

    def __len__(self) -> int:
        return int(self.tops.has.sum())

    def get(self, token: str, default: Any = None) -> Any:  # the hot path: no exception for a miss
        if token in self:
            return self[token]
        return default


@dataclass(frozen=True, slots=True)
class PassTicks:
    """One pass's ticks as PostgreSQL sent them: aligned lists of text (the markets that changed
    come from the tokens, :meth:`~mpx.domain.columns.Tops.changed_markets`)."""

    tokens: Sequence[str]
    bids: Sequence[str]
    asks: Sequence[str]
    """Best bid and ask as text (``""``: none)."""
    rest: Sequence[str]
    """The text of each tick's last trade and levels (parsed only when its book is asked for)."""


@dataclass(frozen=True, slots=True)
class ColumnarPass:
    """One pass's ticks as arrays (the archive's read path): token numbers (:class:`Tops`), best bid
    and ask in micro-units (0: none), and each tick's code (where its levels are read from)."""

    idx: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    code: np.ndarray


EMPTY = PassTicks((), (), (), ())


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
    for step, row in read_ahead(_pass_rows(conn, steps, start), prefetch, "mpx-replay-reader"):
        if row is None or row[0] is None:
            yield step, EMPTY
            continue
        tokens, bids, asks, rest = zip(*(line.split("|", 3) for line in row[0].split(";")), strict=True)
        yield step, PassTicks(tokens, bids, asks, rest)


def _pass_rows(conn: psycopg.Connection, steps: list[datetime], start: datetime) -> Iterator[tuple[datetime, Any]]:
    prev = start
    with conn.cursor() as cur:
        for step in steps:
            row = cur.execute(PASS_SQL, (prev, step)).fetchone()
            prev = step
            yield step, row


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
