"""The backtest's read path over the tick archive (``mpx archive``): Parquet files, one directory
per UTC day (``day=YYYY-MM-DD/``), read with DuckDB.

DuckDB scans the days of the window in file order (each file was written in tick-time order, and
DuckDB keeps insertion order), pulls out the best bid and ask as text, and hands Arrow record
batches over; Python splits each batch at the pass times with one ``searchsorted`` and files a
pass with ``dict.update(zip(…))``, as the PostgreSQL path does. A tick's levels stay in the Arrow
batch until a rule asks for that token's book (:class:`mpx.adapters.db.replay.LazyBooks` builds it
from ``(batch, row)``); most books are never built. Memory holds a batch or two.

Numbers come back in canonical form (no trailing zeros: ``0.45``, ``100``), whatever scale the
archive stores them at.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from mpx.adapters.db.replay import PassTicks
from mpx.domain.models import Book, Level, PricePoint

LOOK_BACK_DAYS = 7
"""How far before a window's start a book in force is looked for in the archive."""

MEMORY_LIMIT = "256MB"
"""DuckDB's own buffers while streaming (a scan needs little: row groups go by)."""

BATCH_ROWS = 1 << 16

SLICE_ROWS = 1 << 18
"""About this many rows per query (see :meth:`ArchiveReader._slices`): memory per slice stays bounded."""
"""Rows per Arrow batch DuckDB hands over (a few passes of a large universe)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def canonical(value: Decimal) -> Decimal:
    """``0.4500000000`` → ``0.45``, ``100.0000000000`` → ``100`` (never ``1E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _text(column: str) -> str:
    """SQL: the canonical text of a decimal (``0.4500000000`` → ``0.45``; NULL stays NULL)."""
    return (f"CASE WHEN contains({column}::VARCHAR, '.') THEN rtrim(rtrim({column}::VARCHAR, '0'), '.') "
            f"ELSE {column}::VARCHAR END")


def _day_of(path: str) -> str:
    """``…/day=2026-11-01/part-0.parquet`` → ``2026-11-01``."""
    return path.rsplit("day=", 1)[1][:10]


def day_files(archive_dir: Path, days: Sequence[date]) -> list[str]:
    """The Parquet files of ``days``, in day order (each day's parts in name order)."""
    out: list[str] = []
    for day in sorted(days):
        out.extend(str(p) for p in sorted((archive_dir / f"day={day.isoformat()}").glob("*.parquet")))
    return out


def _micros(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


LEVELS = ("last_trade", "bid_px", "bid_sz", "ask_px", "ask_sz")
"""The columns a book is built from (kept in Arrow until a rule asks for the book)."""

ROW_BITS = 32
"""An archived tick is referred to by one int: its batch's number << ROW_BITS | its row."""


def _exact(x: float) -> Decimal:
    """A level read as a double back to its exact decimal: the archive holds at most 6 decimals
    and well under 15 significant digits, so the shortest repr of the double is the decimal."""
    return canonical(Decimal(repr(x)))


def book_of(token: str, batch: Any, row: int, ts: datetime | None) -> Book:
    """The book of one archived tick (row ``row`` of an Arrow batch with the level columns)."""
    def levels(px: str, sz: str) -> tuple[Level, ...]:
        prices = batch.column(px)[row].as_py() or []
        sizes = batch.column(sz)[row].as_py() or []
        return tuple(Level(_exact(p), _exact(s)) for p, s in zip(prices, sizes, strict=False))

    last = batch.column("last_trade")[row].as_py()
    return Book(token, levels("bid_px", "bid_sz"), levels("ask_px", "ask_sz"), ts,
                None if last is None else _exact(last))


class ArrowBooks:
    """The Arrow batches archived ticks still point into, by number; :meth:`compact` copies the rows
    still referred to into one batch, so memory holds about one row per token however long the
    window (a batch is freed once no token's latest tick is in it)."""

    def __init__(self) -> None:
        self.batches: dict[int, Any] = {}
        self._next = 0

    def add(self, batch: Any) -> int:
        """Keep a batch's level columns; the base of its rows' codes."""
        n = self._next
        self._next += 1
        self.batches[n] = batch.select(list(LEVELS))
        return n << ROW_BITS

    def book(self, token: str, code: int, ts: datetime | None) -> Book:
        return book_of(token, self.batches[code >> ROW_BITS], code & ((1 << ROW_BITS) - 1), ts)

    def compact(self, refs: dict[str, Any]) -> None:
        """Re-point the int codes in ``refs`` (token → code) that point into older batches into one
        new batch of just those rows, and free the older batches. The two newest batches stay as
        they are: the stream is still filing passes out of them."""
        import pyarrow as pa

        keep = {n for n in self.batches if n >= self._next - 2}
        by_batch: dict[int, tuple[list[int], list[str]]] = {}
        for token, code in refs.items():
            if type(code) is int and (n := code >> ROW_BITS) not in keep:
                rows, tokens = by_batch.setdefault(n, ([], []))
                rows.append(code & ((1 << ROW_BITS) - 1))
                tokens.append(token)
        parts, order = [], []
        for number, (rows, tokens) in by_batch.items():
            parts.append(self.batches[number].take(pa.array(rows, pa.int32())))
            order += tokens
        for n in [n for n in self.batches if n not in keep]:
            del self.batches[n]
        if parts:
            base = self.add(pa.concat_batches(parts))
            refs.update(zip(order, range(base, base + len(order)), strict=True))


class ArchiveReader:
    """Reads archived ticks of some days (the days the manifest lists as archived)."""

    def __init__(self, archive_dir: Path | str, days: Sequence[date], threads: int | None = None) -> None:
        import duckdb

        self.files = day_files(Path(archive_dir), days)
        self.arrow = ArrowBooks()
        """The batches the streamed ticks' books are built from (give it to LazyBooks)."""
        self.con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": True})
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def _sql(self, query: str, params: list[Any]) -> Any:
        """A DuckDB relation (``.to_arrow_reader(n)``, ``.fetchall()``: no extra copy of the rows)."""
        return self.con.sql(query, params=params)

    def _source(self) -> str:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in self.files)
        return f"read_parquet([{listed}])"

    def count(self, start: datetime, end: datetime) -> int:
        if not self.files:
            return 0
        row = self._sql(f"SELECT count(*) FROM {self._source()} WHERE ts > $1 AND ts <= $2",
                           params=[start, end]).fetchall()[0]
        return int(row[0]) if row else 0

    def _recent(self, at: datetime, days_back: int) -> str:
        """The files of the ``days_back + 1`` days up to ``at``'s day (where a book in force at ``at``
        is looked for: a book unchanged for longer is stale whatever the rules say)."""
        first = (at - timedelta(days=days_back)).date().isoformat()
        last = at.date().isoformat()
        files = [f for f in self.files if first <= _day_of(f) <= last]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return f"read_parquet([{listed}])" if files else ""

    def latest_before(self, at: datetime, days_back: int = LOOK_BACK_DAYS) -> dict[str, Book]:
        """Each token's last archived book at or before ``at`` (the books in force at a window's start)."""
        src = self._recent(at, days_back)
        if not src:
            return {}
        sql = (f"SELECT token_id, max(ts) AS ts, arg_max(last_trade, ts) AS last_trade, "
               f"arg_max(bid_px, ts) AS bid_px, arg_max(bid_sz, ts) AS bid_sz, arg_max(ask_px, ts) AS ask_px, "
               f"arg_max(ask_sz, ts) AS ask_sz FROM {src} WHERE ts <= $1 GROUP BY token_id")
        out: dict[str, Book] = {}
        for batch in self._sql(sql, params=[at]).to_arrow_table().to_batches():
            names = batch.column("token_id").to_pylist()
            times = batch.column("ts").to_pylist()
            for i, token in enumerate(names):
                out[token] = book_of(token, batch, i, times[i])
        return out

    def price_history(self, since: datetime, until: datetime, tokens: set[str],
                      days_back: int = LOOK_BACK_DAYS) -> dict[str, list[PricePoint]]:
        """Mid-price points of ``tokens``: the one in force at ``since`` (the last two-sided tick at or
        before it), then every two-sided tick with ``since < ts <= until``; ascending."""
        out: dict[str, list[PricePoint]] = {}
        cache: dict[str, Decimal] = {}

        def mid(bid: str, ask: str) -> Decimal:
            b = cache.get(bid) or cache.setdefault(bid, Decimal(bid))
            a = cache.get(ask) or cache.setdefault(ask, Decimal(ask))
            return (b + a) / 2

        two_sided = "len(bid_px) > 0 AND len(ask_px) > 0"
        src = self._recent(since, days_back)
        if src:
            sql = (f"SELECT token_id, max(ts), arg_max({_text('bid_px[1]')}, ts), arg_max({_text('ask_px[1]')}, ts) "
                   f"FROM {src} WHERE ts <= $1 AND {two_sided} GROUP BY token_id")
            for token, ts, bid, ask in self._sql(sql, params=[since]).fetchall():
                if token in tokens:
                    out[token] = [PricePoint(ts, mid(bid, ask))]
        if self.files:
            sql = (f"SELECT token_id, ts, {_text('bid_px[1]')} AS bid, {_text('ask_px[1]')} AS ask "
                   f"FROM {self._source()} WHERE ts > $1 AND ts <= $2 AND {two_sided}")
            for batch in self._sql(sql, params=[since, until]).to_arrow_reader(BATCH_ROWS):
                for token, ts, bid, ask in zip(*(batch.column(i).to_pylist() for i in range(4)), strict=True):
                    if token in tokens:
                        out.setdefault(token, []).append(PricePoint(ts, mid(bid, ask)))
        return out

    def _slices(self, sql: str, steps: Sequence[datetime], start: datetime) -> Iterator[Any]:
        """The query's batches for ``(start, steps[-1]]``, run one slice of passes at a time: DuckDB
        hands a result over in batches but holds all of it, so a slice is sized to about
        ``SLICE_ROWS`` rows from the ticks per pass seen so far (row groups skipped by their ts
        statistics: each slice reads only its own)."""
        per_pass = 1_000.0
        i, prev = 0, start
        while i < len(steps):
            n = max(1, int(_slice_rows() / max(per_pass, 1.0)))
            until = steps[min(i + n, len(steps)) - 1]
            rows = 0
            for batch in self._sql(sql, params=[prev, until]).to_arrow_reader(BATCH_ROWS):
                rows += batch.num_rows
                yield batch
            taken = min(n, len(steps) - i)
            per_pass = max(rows / taken, 1.0)
            i += taken
            prev = until

    def stream(self, steps: Sequence[datetime], start: datetime) -> Iterator[tuple[datetime, PassTicks]]:
        """For each step time, the archived ticks with ``previous step < ts <= step``."""
        if not steps:
            return
        if not self.files:
            for step in steps:
                yield step, PassTicks((), set(), (), (), ())
            return
        # the best bid and ask as micro-units (0: none — a price is never 0), the levels as doubles
        # (exact back to decimals, see _exact): ints and floats cross into Python cheaply
        sql = (f"SELECT ts, token_id, market_id, coalesce(CAST(bid_px[1] * 1000000 AS BIGINT), 0) AS bid, "
               f"coalesce(CAST(ask_px[1] * 1000000 AS BIGINT), 0) AS ask, CAST(last_trade AS DOUBLE) AS last_trade, "
               f"CAST(bid_px AS DOUBLE[]) AS bid_px, CAST(bid_sz AS DOUBLE[]) AS bid_sz, "
               f"CAST(ask_px AS DOUBLE[]) AS ask_px, CAST(ask_sz AS DOUBLE[]) AS ask_sz "
               f"FROM {self._source()} WHERE ts > $1 AND ts <= $2")
        import numpy as np
        import pyarrow as pa

        reader = self._slices(sql, steps, start)
        bounds = [_micros(s) for s in steps]
        k = 0  # the step being filled
        parts: list[tuple[int, int, list[str], list[str], list[int], list[int], int]] = []
        for batch in reader:
            if batch.num_rows == 0:
                continue
            times = batch.column("ts").cast(pa.int64()).to_numpy()
            tokens = batch.column("token_id").to_pylist()
            markets = batch.column("market_id").to_pylist()
            bids = batch.column("bid").to_numpy().tolist()
            asks = batch.column("ask").to_numpy().tolist()
            base = self.arrow.add(batch)
            lo = 0
            n = len(tokens)
            while lo < n:
                hi = int(np.searchsorted(times, bounds[k], side="right"))
                if hi > lo:
                    parts.append((lo, hi, tokens, markets, bids, asks, base))
                if hi >= n:
                    break  # the step may go on in the next batch
                yield steps[k], _pass(parts)
                parts = []
                k += 1
                lo = hi
        while k < len(steps):
            yield steps[k], _pass(parts)
            parts = []
            k += 1


def _slice_rows() -> int:
    return SLICE_ROWS


def _pass(parts: list[tuple[int, int, list[str], list[str], list[int], list[int], int]]) -> PassTicks:
    if not parts:
        return PassTicks((), set(), (), (), ())
    if len(parts) == 1:
        lo, hi, tok, mkt, bid, ask, base = parts[0]
        return PassTicks(tok[lo:hi], set(mkt[lo:hi]), bid[lo:hi], ask[lo:hi], range(base + lo, base + hi))
    tokens: list[str] = []
    markets: set[str] = set()
    bids: list[int] = []
    asks: list[int] = []
    rest: list[int] = []
    for lo, hi, tok, mkt, bid, ask, base in parts:
        tokens += tok[lo:hi]
        markets.update(mkt[lo:hi])
        bids += bid[lo:hi]
        asks += ask[lo:hi]
        rest += range(base + lo, base + hi)
    return PassTicks(tokens, markets, bids, asks, rest)
