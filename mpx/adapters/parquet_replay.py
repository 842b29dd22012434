"""The backtest's read path over the tick archive (``mpx archive``): Parquet files, one directory
per UTC day (``day=YYYY-MM-DD/``).

The stream: DuckDB scans the days of the window in file order (each file was written in tick-time
order, and DuckDB keeps insertion order), one slice of passes per query, on a reader thread, and
hands over narrow columns — the time, the token as a number (an ``ENUM`` of the universe's tokens:
DuckDB maps it from the Parquet dictionary on its own threads; the text only for a token outside
the universe), the best bid and ask as integer micro-units and the row in the file. Python splits
each Arrow batch at the pass times with one ``searchsorted`` and the pass is filed with NumPy
scatters (:class:`mpx.domain.columns.Tops`): nothing per tick runs in Python.

The levels stay in Parquet until a rule asks for a book (:class:`ArchiveLevels`): the row group
holding the tick is read then (pyarrow, the level columns only), kept as integers, and the next
two are read ahead. Most row groups are never read by the kinds that screen on the top of the book.

Numbers come back in canonical form (no trailing zeros: ``0.45``, ``100``), whatever scale the
archive stores them at.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from mpx.adapters.ahead import read_ahead
from mpx.adapters.archive import unreadable_is_an_error
from mpx.adapters.db.replay import ColumnarPass
from mpx.domain.columns import Tops, canonical, micros
from mpx.domain.models import Book, Level, PricePoint

T = TypeVar("T")

LOOK_BACK_DAYS = 7
"""How far before a window's start a book in force is looked for in the archive."""

MEMORY_LIMIT = "256MB"
"""DuckDB's own buffers while streaming (a scan needs little: row groups go by)."""

BATCH_ROWS = 1 << 16
"""Rows per Arrow batch DuckDB hands over (a few passes of a large universe)."""

SLICE_ROWS = 1 << 21
"""About this many rows per query (see :meth:`ArchiveReader._slices`): memory per slice stays bounded
(the stream reads six narrow columns: ~40 bytes a row, 80 MB a slice)."""


def _text(column: str) -> str:
    """SQL: the canonical text of a decimal (``0.4500000000`` → ``0.45``; NULL stays NULL)."""
    return (f"CASE WHEN contains({column}::VARCHAR, '.') THEN rtrim(rtrim({column}::VARCHAR, '0'), '.') "
            f"ELSE {column}::VARCHAR END")


def _day_of(path: str) -> str:
    """``…/day=2026-11-01/part-0.parquet`` → ``2026-11-01``."""
    return path.rsplit("day=", 1)[1][:10]


def day_files(archive_dir: Path, days: Sequence[date]) -> list[str]:
    """The Parquet files of ``days``, in day order (each day's parts in name order). A day the
    manifest lists without a file is an error, never a silent gap in the history."""
    from mpx.adapters.archive import ArchiveError

    out: list[str] = []
    for day in sorted(days):
        found = sorted((archive_dir / f"day={day.isoformat()}").glob("*.parquet"))
        if not found:
            raise ArchiveError(f"the archived day {day.isoformat()} has no file under {archive_dir}",
                               hint="MPX_ARCHIVE_DIR must be the directory `mpx archive` wrote to (the manifest "
                                    "tick_archive_day lists the days moved there)")
        out.extend(str(p) for p in found)
    return out



ROW_BITS = 40
"""An archived tick is referred to by one int: its file's number << ROW_BITS | its row in the file."""

GROUPS_KEPT = 2
"""Row groups of levels kept in memory (a pass's books sit in one or two), besides those read ahead."""

READ_AHEAD = 2
"""Row groups read ahead on a thread once a book was asked for (a kind that asks for books asks in
every stretch of the window)."""

SCALE = 6
"""The archive's decimals are decimal128(18, 6) (``mpx.adapters.archive.SCALE``)."""


def _reading(method: Callable[..., T]) -> Callable[..., T]:
    """An :class:`ArchiveReader` method whose read errors are :func:`unreadable_is_an_error`'s."""
    @functools.wraps(method)
    def read(self: ArchiveReader, *args: Any, **kw: Any) -> T:
        with unreadable_is_an_error(", ".join(self.files)):
            return method(self, *args, **kw)

    return read


def _exact(x: Any) -> Decimal:
    """A level as the exact decimal: DuckDB and pyarrow give ``Decimal`` (canonical form), a double
    read of the archive (at most 6 decimals, well under 15 digits) is exact as its shortest repr."""
    return canonical(x) if isinstance(x, Decimal) else canonical(Decimal(repr(x)))


def book_of(token: str, batch: Any, row: int, ts: datetime | None) -> Book:
    """The book of one archived tick (row ``row`` of an Arrow batch with the level columns)."""
    def levels(px: str, sz: str) -> tuple[Level, ...]:
        prices = batch.column(px)[row].as_py() or []
        sizes = batch.column(sz)[row].as_py() or []
        return tuple(Level(_exact(p), _exact(s)) for p, s in zip(prices, sizes, strict=False))

    last = batch.column("last_trade")[row].as_py()
    return Book(token, levels("bid_px", "bid_sz"), levels("ask_px", "ask_sz"), ts,
                None if last is None else _exact(last))


ASKS = ("ask_px", "ask_sz")
REST = ("bid_px", "bid_sz", "last_trade")
"""A row group's level columns come in two parts: the asks (all that the set kinds price with,
:meth:`ArchiveLevels.asks`) and the rest of a book; each part is read only when first needed."""


class _Group:
    """The level columns of one row group as integer micro-units, each part (:data:`ASKS`,
    :data:`REST`) read when first needed: for each list column its offsets and values (a
    decimal128 stored at scale 6 is its own micro-unit count), ``last_trade`` with its validity —
    half the memory of the decimals, and nothing built until a book is asked for."""

    __slots__ = ("cols", "g", "last", "last_ok", "reader")

    def __init__(self, reader: Any, g: int) -> None:
        self.reader, self.g = reader, g
        self.cols: dict[str, tuple[Any, Any]] = {}
        self.last: Any = None
        self.last_ok: Any = None

    def load(self, part: tuple[str, ...]) -> _Group:
        import numpy as np

        if part[0] in self.cols:
            return self
        table = self.reader.read_row_group(self.g, columns=list(part), use_threads=True)
        for name in part:
            arr = table.column(name).combine_chunks()
            if name == "last_trade":
                self.last = _micro_values(arr)
                self.last_ok = np.ones(len(arr), bool) if arr.null_count == 0 else arr.is_valid().to_numpy(
                    zero_copy_only=False)
            else:
                self.cols[name] = (arr.offsets.to_numpy(), _micro_values(arr.values))
        return self

    def levels(self, px: str, sz: str, row: int) -> tuple[Level, ...]:
        offsets, prices = self.cols[px]
        lo, hi = offsets.item(row), offsets.item(row + 1)
        sizes = self.cols[sz][1]
        return tuple(Level(_decimal(p), _decimal(q)) for p, q in zip(prices[lo:hi].tolist(), sizes[lo:hi].tolist(),
                                                                      strict=True))

    def book(self, token: str, row: int, ts: datetime | None) -> Book:
        self.load(ASKS).load(REST)
        last = _decimal(self.last.item(row)) if self.last_ok.item(row) else None
        return Book(token, self.levels("bid_px", "bid_sz", row), self.levels("ask_px", "ask_sz", row), ts, last)


def _micro_values(arr: Any) -> Any:
    """A decimal128 array at scale 6 (non-negative, below 2**63) as int64 micro-units (no copy)."""
    import numpy as np

    assert arr.type.scale == SCALE, f"archive levels at scale {arr.type.scale}, expected {SCALE}"
    buf = np.frombuffer(arr.buffers()[1], dtype="<i8")
    return buf[2 * arr.offset: 2 * (arr.offset + len(arr)): 2]


_DECIMALS: dict[int, Decimal] = {}


def _decimal(micro: int) -> Decimal:
    found = _DECIMALS.get(micro)
    if found is None:
        if len(_DECIMALS) > 500_000:
            _DECIMALS.clear()
        found = _DECIMALS[micro] = canonical(Decimal(micro).scaleb(-SCALE))
    return found


class ArchiveLevels:
    """An archived tick's levels, read when its book is asked for: the row group holding the tick
    is read (its level columns only, with pyarrow) and kept while the stream is near it; once a
    row group was needed, the next one is read ahead on a thread (the stream moves forward, and a
    kind that asks for books asks in every stretch of the window)."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files = list(files)
        self._starts: dict[int, Any] = {}
        self._groups: OrderedDict[tuple[int, int], _Group] = OrderedDict()
        self._readers: dict[int, Any] = {}
        self._ahead: dict[tuple[int, int], Any] = {}
        self._parts: list[tuple[str, ...]] = []
        """The parts of a group asked for so far (what is read ahead)."""
        self._pool: Any = None
        self.groups_read = 0

    def _reader(self, f: int) -> Any:
        found = self._readers.get(f)
        if found is None:
            import numpy as np
            import pyarrow.parquet as pq

            found = self._readers[f] = pq.ParquetFile(self.files[f])
            md = found.metadata
            self._starts[f] = np.cumsum([0] + [md.row_group(g).num_rows for g in range(md.num_row_groups)])
        return found

    def _read(self, key: tuple[int, int], parts: tuple[tuple[str, ...], ...]) -> _Group:
        self.groups_read += 1
        group = _Group(self._reader(key[0]), key[1])
        for part in parts:
            group.load(part)
        return group

    def _group(self, key: tuple[int, int]) -> _Group:
        kept = self._groups.get(key)
        if kept is not None:
            self._groups.move_to_end(key)
            return kept
        pending = self._ahead.pop(key, None)
        group: _Group = pending.result() if pending is not None else self._read(key, ())
        self._groups[key] = group
        while len(self._groups) > GROUPS_KEPT:
            self._groups.popitem(last=False)
        self._read_ahead(key)
        return group

    def _read_ahead(self, key: tuple[int, int]) -> None:
        """Start reading the ``READ_AHEAD`` row groups after ``key`` (across files) on the thread."""
        f, g = key
        ahead = {}
        for _ in range(READ_AHEAD):
            f, g = (f, g + 1) if g + 1 < len(self._starts[f]) - 1 else (f + 1, 0)
            if f >= len(self.files):
                break
            self._reader(f)
            if (f, g) in self._groups:
                continue
            pending = self._ahead.get((f, g))
            if pending is None:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="mpx-archive-levels")
                pending = self._pool.submit(self._read, (f, g), tuple(self._parts))
            ahead[(f, g)] = pending
        self._ahead = ahead  # what fell behind is not waited for (its reading finishes unused)

    def _locate(self, code: int, *parts: tuple[str, ...]) -> tuple[_Group, int]:
        """The row group of an archived tick with ``parts`` read, and the tick's row in it."""
        import numpy as np

        for part in parts:
            if part not in self._parts:
                self._parts.append(part)
        f, row = code >> ROW_BITS, code & ((1 << ROW_BITS) - 1)
        with unreadable_is_an_error(self.files[f]):
            self._reader(f)
            starts = self._starts[f]
            g = int(np.searchsorted(starts, row, side="right")) - 1
            group = self._group((f, g))
            for part in parts:
                group.load(part)
        return group, row - int(starts[g])

    def book(self, token: str, code: int, ts: datetime | None) -> Book:
        group, row = self._locate(code, ASKS, REST)
        return group.book(token, row, ts)

    def asks(self, code: int) -> tuple[Level, ...]:
        """Only the asks of an archived tick (all a set is priced with): half the columns of a book."""
        group, row = self._locate(code, ASKS)
        return group.levels("ask_px", "ask_sz", row)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class ArchiveReader:
    """Reads archived ticks of some days (the days the manifest lists as archived)."""

    def __init__(self, archive_dir: Path | str, days: Sequence[date], threads: int | None = None) -> None:
        import duckdb

        self.archive_dir, self.days = Path(archive_dir), list(days)
        self.files = day_files(self.archive_dir, days)
        self.levels = ArchiveLevels(self.files)
        """Where a streamed tick's levels are read when its book is asked for (give it to LazyBooks)."""
        self.con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": True})
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def _token_enum(self, tops: Tops) -> Any:
        """(Re)create the ENUM type ``mpx_token`` of the tokens ``tops`` numbers; the array mapping
        an ENUM code to the token's number."""
        import numpy as np
        import pyarrow as pa

        self.con.execute("DROP TYPE IF EXISTS mpx_token")
        self.con.register("mpx_tokens", pa.table({"token_id": pa.array(tops.tokens, pa.string())}))
        try:
            self.con.execute("CREATE TYPE mpx_token AS ENUM (SELECT token_id FROM mpx_tokens)")
            values = self.con.sql("SELECT unnest(enum_range(NULL::mpx_token))").fetchall()
        finally:
            self.con.unregister("mpx_tokens")
        return np.fromiter((tops.index[v] for (v,) in values), np.int64, len(values))

    def close(self) -> None:
        self.levels.close()
        self.con.close()

    def _sql(self, query: str, params: list[Any]) -> Any:
        """A DuckDB relation (``.to_arrow_reader(n)``, ``.fetchall()``: no extra copy of the rows)."""
        return self.con.sql(query, params=params)

    def _source(self) -> str:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in self.files)
        return f"read_parquet([{listed}])"

    @_reading
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

    @_reading
    def latest_before(self, at: datetime, days_back: int = LOOK_BACK_DAYS) -> dict[str, Book]:
        """Each token's last archived book at or before ``at`` (the books in force at a window's start),
        looked for ``days_back`` days back (a book unchanged for longer is stale whatever the rules say)."""
        from mpx.adapters.archive import latest_per_token

        table = latest_per_token(self.archive_dir, self.days, at, since=at - timedelta(days=days_back))
        out: dict[str, Book] = {}
        for batch in table.to_batches():
            names = batch.column("token_id").to_pylist()
            times = batch.column("ts").to_pylist()
            for i, token in enumerate(names):
                out[token] = book_of(token, batch, i, times[i])
        return out

    @_reading
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

    def _slices(self, sql: str, steps: Sequence[datetime], start: datetime) -> Iterator[tuple[int, Any]]:
        """(file number, batch) of the query for ``(start, steps[-1]]``, file by file (a day's file
        holds its ticks in time order), one slice of passes at a time: DuckDB hands a result over
        in batches but holds all of it, so a slice is sized to about ``SLICE_ROWS`` rows from the
        ticks per pass seen so far (row groups are skipped by their ts statistics: each slice reads
        only its own)."""
        per_pass = 1_000.0
        i, prev = 0, start
        while i < len(steps):
            n = max(1, int(_slice_rows() / max(per_pass, 1.0)))
            until = steps[min(i + n, len(steps)) - 1]
            rows = 0
            first, last = prev.astimezone(UTC).date().isoformat(), until.astimezone(UTC).date().isoformat()
            for f, path in enumerate(self.files):
                if not first <= _day_of(path) <= last:
                    continue
                src = "read_parquet('" + path.replace("'", "''") + "', file_row_number = true)"
                for batch in self._sql(sql.format(src=src), params=[prev, until]).to_arrow_reader(BATCH_ROWS):
                    rows += batch.num_rows
                    yield f, batch
            taken = min(n, len(steps) - i)
            per_pass = max(rows / taken, 1.0)
            i += taken
            prev = until

    def stream(self, steps: Sequence[datetime], start: datetime, tops: Tops) -> Iterator[tuple[datetime, ColumnarPass]]:
        """For each step time, the archived ticks with ``previous step < ts <= step`` as arrays:
        token numbers in ``tops`` (new tokens are numbered), best bid and ask in micro-units (0:
        none) and each tick's code for :class:`ArchiveLevels`. Nothing per tick runs in Python."""
        with unreadable_is_an_error(", ".join(self.files)):
            yield from self._stream(steps, start, tops)

    def _stream(self, steps: Sequence[datetime], start: datetime, tops: Tops
                ) -> Iterator[tuple[datetime, ColumnarPass]]:
        import numpy as np
        import pyarrow as pa

        empty = ColumnarPass(*(np.zeros(0, np.int64) for _ in range(4)))
        if not steps:
            return
        if not self.files:
            for step in steps:
                yield step, empty
            return
        # the token as a DuckDB ENUM of the universe's tokens: DuckDB maps each row's token (on its own
        # threads, from the Parquet dictionary) and hands over small integer codes; a token outside
        # the universe comes as text (rare) and is numbered here
        remap = self._token_enum(tops)
        sql = ("SELECT epoch_us(ts) AS us, TRY_CAST(token_id AS mpx_token) AS token, "
               "CASE WHEN TRY_CAST(token_id AS mpx_token) IS NULL THEN token_id END AS other, "
               "coalesce(CAST(bid_px[1] * 1000000 AS BIGINT), 0) AS bid, "
               "coalesce(CAST(ask_px[1] * 1000000 AS BIGINT), 0) AS ask, file_row_number AS row "
               "FROM {src} WHERE ts > $1 AND ts <= $2")
        bounds = np.fromiter((micros(s) for s in steps), np.int64, len(steps))
        k = 0  # the step being filled
        parts: list[tuple[np.ndarray, ...]] = []
        for f, batch in read_ahead(self._slices(sql, steps, start), 4, "mpx-archive-reader"):
            n = batch.num_rows
            if n == 0:
                continue
            codes = batch.column("token")
            idx = remap[codes.indices.fill_null(0).to_numpy()] if len(remap) else np.zeros(n, np.int64)
            if codes.null_count:  # tokens outside the universe: numbered as they come
                other = batch.column("other")
                missing = np.flatnonzero(codes.is_null().to_numpy(zero_copy_only=False))
                idx[missing] = tops.numbers(other.take(pa.array(missing)).to_pylist())
            cols = (idx, batch.column("bid").to_numpy(), batch.column("ask").to_numpy(),
                    batch.column("row").to_numpy() + (f << ROW_BITS))
            times = batch.column("us").to_numpy()
            ends = np.searchsorted(times, bounds[k:], side="right")
            lo = 0
            for hi in ends.tolist():
                if hi > lo:
                    parts.append(tuple(c[lo:hi] for c in cols))
                if hi >= n:
                    break  # the step may go on in the next batch
                yield steps[k], _joined(parts, empty)
                parts = []
                k += 1
                lo = hi
        while k < len(steps):
            yield steps[k], _joined(parts, empty)
            parts = []
            k += 1


def _slice_rows() -> int:
    return SLICE_ROWS


def _joined(parts: list[tuple[Any, ...]], empty: ColumnarPass) -> ColumnarPass:
    import numpy as np

    if not parts:
        return empty
    if len(parts) == 1:
        return ColumnarPass(*parts[0])
    return ColumnarPass(*(np.concatenate(c) for c in zip(*parts, strict=True)))
