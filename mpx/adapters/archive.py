"""The tick archive's files: whole UTC days of ticks as Parquet (zstd) under ``MPX_ARCHIVE_DIR``,
partitioned Hive-style — ``day=YYYY-MM-DD/part-0.parquet`` — written with pyarrow and read with
DuckDB. The manifest saying which days are archived lives in PostgreSQL
(:mod:`mpx.adapters.db.archive`).

Why these two: pyarrow's ``ParquetWriter`` writes row group by row group from Arrow batches, so a
day of tens of millions of ticks streams through in bounded memory, with exact decimals; DuckDB
reads Parquet as a stream of Arrow record batches, skips row groups by their ts statistics, reads
only the columns asked for, and reads the same layout from object storage (``httpfs``) when the
archive outgrows a disk — the same files Spark and Trino read.

**Schema** (:data:`TICK_SCHEMA`; add columns only, never change a type): ``ts``
``timestamp[us, tz=UTC]``, ``token_id`` and ``market_id`` strings, ``last_trade`` ``decimal128(18,
6)``, ``bid_px``/``bid_sz``/``ask_px``/``ask_sz`` ``list<decimal128(18, 6)>`` (best level first),
``book_digest`` int64. Rows are sorted by (ts, token_id). 18 digits with 6 decimals hold every value
the venues produce exactly — prices have at most 4 decimals (Polymarket's finest tick 0.0001, Kalshi's
dollar prices), sizes at most 6 (Polymarket's share and USDC amounts are integers of 10^-6; the
recorded books have 0 to 2) and stay far below 10^12 — and fit in 64 bits, so Parquet stores them
as INT64 and readers decode them as fast as integers (a ``decimal128(38, 10)`` measured the same
size on disk but decoded 2 to 18 times slower). A value with more decimals or digits stops the
archive of its day (it is never rounded); a venue that needs more would get new columns, never a
changed type.

**Verification.** While a day streams out of PostgreSQL, each row's canonical text is hashed as
PostgreSQL printed it; once the file is written it is read back and the same text is rebuilt from
the file's values. The checksum is the sum, modulo 2^64, of the first 8 bytes (big-endian) of the
md5 of each row's text ``ts_us|token_id|market_id|last_trade|bid_px|bid_sz|ask_px|ask_sz|book_digest``
— ``ts_us`` the time in integer microseconds since the epoch, every number with exactly 6 decimals
(``0.500000``), a missing last trade as ``\\N``, a level list as its numbers separated by single
spaces — order-independent, and reproducible from PostgreSQL alone
(``numeric(18,6)`` text, ``md5()``). Equal row counts and checksums prove the file holds exactly the
rows PostgreSQL held, every decimal included.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mpx.adapters.ahead import read_ahead
from mpx.errors import MpxError

T = TypeVar("T")

PRECISION, SCALE = 18, 6
NUMERIC = f"numeric({PRECISION},{SCALE})"
"""The PostgreSQL type every price and size is read out as (exactly SCALE decimals)."""
DECIMAL = pa.decimal128(PRECISION, SCALE)
TICK_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("token_id", pa.string(), nullable=False),
    pa.field("market_id", pa.string(), nullable=False),
    pa.field("last_trade", DECIMAL),
    pa.field("bid_px", pa.list_(DECIMAL), nullable=False),
    pa.field("bid_sz", pa.list_(DECIMAL), nullable=False),
    pa.field("ask_px", pa.list_(DECIMAL), nullable=False),
    pa.field("ask_sz", pa.list_(DECIMAL), nullable=False),
    pa.field("book_digest", pa.int64(), nullable=False),
])
LEVELS = ("bid_px", "bid_sz", "ask_px", "ask_sz")
FILE_NAME = "part-0.parquet"
TMP_NAME = ".part-0.parquet.tmp"
"""A day being written: hidden (Spark, Trino and the ``*.parquet`` glob skip it), removed by the
next run if a crash left it."""
ROW_GROUP_ROWS = 131_072
"""Rows per row group: about 100 MB of Arrow in memory while a group fills (the writer's bound), a
few MB on disk; the unit DuckDB skips by its ts statistics."""
ZSTD_LEVEL = 3
CHECKSUM_KIND = "md5sum64"
_CSV_BLOCK = 8 << 20
_HANDOVER = 1 << 20
_RAW_COLUMNS = ["ts_us", "token_id", "market_id", "last_trade", *LEVELS, "book_digest", "exact"]
_ONE_US = timedelta(microseconds=1)


class ArchiveError(MpxError):
    """The archive cannot be written or read as it must be (exit 1)."""


@contextlib.contextmanager
def unreadable_is_an_error(where: str) -> Iterator[None]:
    """DuckDB's, pyarrow's and the OS's errors reading the archive as one clear :class:`ArchiveError`
    (a file `mpx archive` wrote and verified that is truncated, changed or gone since)."""
    try:
        yield
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        raise ArchiveError(f"the tick archive cannot be read ({where}): {type(exc).__name__}: {exc}",
                           hint="a file `mpx archive` wrote and verified has changed since: restore it from a "
                                "backup; MPX_ARCHIVE_DIR must be the directory `mpx archive` wrote to") from exc


def checked(items: Iterable[T], where: str) -> Iterator[T]:
    """``items`` (batches read from the archive) with their read errors as :func:`unreadable_is_an_error`
    gives them — and only theirs: what the caller does with an item is not the archive's error."""
    with unreadable_is_an_error(where):
        yield from items


# --- layout ----------------------------------------------------------------------------------

def relative_path(day: date) -> str:
    return f"day={day.isoformat()}/{FILE_NAME}"


def day_file(archive_dir: Path | str, day: date) -> Path:
    return Path(archive_dir) / relative_path(day)


def temp_file(archive_dir: Path | str, day: date) -> Path:
    return Path(archive_dir) / f"day={day.isoformat()}" / TMP_NAME


def stray_temp_files(archive_dir: Path | str) -> list[Path]:
    """Temporary files a crash left behind (a finished day never has one)."""
    return sorted(Path(archive_dir).glob(f"day=*/{TMP_NAME}"))


def days_on_disk(archive_dir: Path | str) -> list[date]:
    """The days that have a final file (in the manifest or not)."""
    out = []
    for path in Path(archive_dir).glob(f"day=*/{FILE_NAME}"):
        try:
            out.append(date.fromisoformat(path.parent.name.removeprefix("day=")))
        except ValueError:
            continue
    return sorted(out)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename (or a new entry) in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- checksums ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Verified:
    """Row count and checksum of a set of ticks (see the module's docstring)."""

    rows: int
    checksum: int

    @property
    def text(self) -> str:
        return f"{CHECKSUM_KIND}:{self.checksum:016x}"

    def __add__(self, other: Verified) -> Verified:
        return Verified(self.rows + other.rows, (self.checksum + other.checksum) % 2**64)


NOTHING = Verified(0, 0)


def _hash(line: str) -> str:
    return f"('0x' || substr(md5({line}), 1, 16))::UBIGINT"


_RAW_LINE = ("concat_ws('|', ts_us::VARCHAR, token_id, market_id, coalesce(last_trade, '\\N'), bid_px, bid_sz, "
             "ask_px, ask_sz, book_digest::VARCHAR)")
"""A row's canonical text from PostgreSQL's own output (the CSV of :func:`stream_ticks_csv`)."""
_FILE_LINE = ("concat_ws('|', epoch_us(ts)::VARCHAR, token_id, market_id, coalesce(last_trade::VARCHAR, '\\N'), "
              + ", ".join(f"array_to_string({c}, ' ')" for c in LEVELS) + ", book_digest::VARCHAR)")
"""The same text rebuilt from a file's values (DuckDB prints a DECIMAL(18,6) with its 6 decimals, as
PostgreSQL prints a numeric(18,6))."""


def duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB: UTC, results in insertion order (a day file is sorted by ts)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _verified(row: Any) -> Verified:
    rows, total = row
    return Verified(int(rows), int(total or 0) % 2**64)


def checksum_file(path: Path) -> Verified | None:
    """Count and checksum of a day file read back from disk; None when it is not a readable file of
    the archive's schema (truncated, corrupt, another layout)."""
    try:
        if not _same_schema(pq.read_schema(path)):
            return None
        con = duck()
        try:
            return _verified(con.execute(f"SELECT count(*), sum({_hash(_FILE_LINE)}) FROM read_parquet(?)",
                                         [str(path)]).fetchall()[0])
        finally:
            con.close()
    except (OSError, pa.ArrowException, duckdb.Error):
        return None


def _same_schema(schema: pa.Schema) -> bool:
    def shape(t: pa.DataType) -> str:
        return f"list<{t.value_type}>" if pa.types.is_list(t) else str(t)

    return [(f.name, shape(f.type)) for f in schema] == [(f.name, shape(f.type)) for f in TICK_SCHEMA]


# --- PostgreSQL's CSV → Arrow ------------------------------------------------------------------

class _ChunkReader(io.RawIOBase):
    """A readable byte stream over an iterator of byte chunks (COPY's output)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = memoryview(next(self._it))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def prefetch(chunks: Iterable[bytes], depth: int = 8) -> Iterator[bytes]:
    """``chunks`` produced by a thread of their own, ``depth`` ahead: PostgreSQL formats the next
    window of COPY while this thread parses, hashes and writes the last one (psycopg waits on the
    socket without the GIL). The connection is the thread's until this generator ends; an error
    there is raised here."""
    return read_ahead(_handovers(chunks), depth, "mpx-archive-copy")


def _handovers(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """COPY sends a message per row: hand them over a megabyte at a time."""
    buf, size = [], 0
    for chunk in chunks:
        buf.append(chunk)
        size += len(chunk)
        if size >= _HANDOVER:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def _raw_batches(chunks: Iterable[bytes]) -> Iterator[pa.RecordBatch]:
    """The CSV of :func:`mpx.adapters.db.archive.stream_ticks_csv` as batches of its text."""
    stream = io.BufferedReader(_ChunkReader(prefetch(chunks)), buffer_size=1 << 20)
    types = {c: pa.string() for c in _RAW_COLUMNS}
    types.update(ts_us=pa.int64(), book_digest=pa.int64(), exact=pa.int8())
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=_RAW_COLUMNS, block_size=_CSV_BLOCK, use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return
        raise
    yield from reader


_EMPTY = pa.scalar([], pa.list_(pa.string()))
_NO_STRING = pa.scalar(None, pa.string())


def _typed(raw: pa.RecordBatch) -> pa.RecordBatch:
    """A batch of PostgreSQL's text as the archive's types (exact: the text has SCALE decimals)."""
    exact = raw.column("exact")
    if not pc.all(pc.equal(exact, 1)).as_py():
        i = pc.index(exact, 0).as_py()
        ts = datetime.fromtimestamp(raw.column("ts_us")[i].as_py() / 1e6, UTC)
        raise ArchiveError(f"the tick of {raw.column('token_id')[i]} at {ts.isoformat()} has a price or size "
                           f"with more than {SCALE} decimals (or beyond {PRECISION} digits): the archive stores "
                           f"decimal128({PRECISION},{SCALE}) and never rounds")

    def levels(name: str) -> pa.Array:
        text = raw.column(name)
        parts = pc.split_pattern(pc.if_else(pc.equal(text, ""), _NO_STRING, text), " ")
        return pc.cast(pc.coalesce(parts, _EMPTY), pa.list_(DECIMAL))

    try:
        return pa.RecordBatch.from_arrays([
            pc.cast(raw.column("ts_us"), pa.timestamp("us", tz="UTC")), raw.column("token_id"),
            raw.column("market_id"), pc.cast(raw.column("last_trade"), DECIMAL), *(levels(c) for c in LEVELS),
            raw.column("book_digest"),
        ], schema=TICK_SCHEMA)
    except pa.ArrowInvalid as exc:  # a NULL level (never written by mpx) or a value that does not fit
        raise ArchiveError(f"a tick cannot be stored in the archive's types: {exc}") from exc


def tick_batches(chunks: Iterable[bytes]) -> Iterator[pa.RecordBatch]:
    """Ticks streamed out of PostgreSQL (:func:`mpx.adapters.db.archive.stream_ticks_csv` with
    :data:`NUMERIC`) as record batches of :data:`TICK_SCHEMA`, in the order they came."""
    for raw in _raw_batches(chunks):
        if raw.num_rows:
            yield _typed(raw)


def checksum_rows(chunks: Iterable[bytes]) -> Verified:
    """Count and checksum of ticks streamed out of PostgreSQL, without writing anything."""
    con = duck()
    total = NOTHING
    try:
        for raw in _raw_batches(chunks):
            total += _raw_checksum(con, raw)
    finally:
        con.close()
    return total


def _raw_checksum(con: duckdb.DuckDBPyConnection, raw: pa.RecordBatch) -> Verified:
    con.register("raw_ticks", raw)
    try:
        return _verified(con.execute(f"SELECT count(*), sum({_hash(_RAW_LINE)}) FROM raw_ticks").fetchall()[0])
    finally:
        con.unregister("raw_ticks")


class RowGroups:
    """Batches in, row groups of :data:`ROW_GROUP_ROWS` out (the last one shorter)."""

    def __init__(self, writer: pq.ParquetWriter, rows: int = ROW_GROUP_ROWS) -> None:
        self.writer, self.rows = writer, rows
        self._buf: list[pa.RecordBatch] = []
        self._n = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._buf.append(batch)
        self._n += batch.num_rows
        if self._n >= self.rows:
            table = pa.Table.from_batches(self._buf)
            while table.num_rows >= self.rows:
                self.writer.write_table(table.slice(0, self.rows), row_group_size=self.rows)
                table = table.slice(self.rows)
            self._buf, self._n = table.to_batches(), table.num_rows

    def close(self) -> None:
        if self._n:
            self.writer.write_table(pa.Table.from_batches(self._buf), row_group_size=self.rows)
        self._buf, self._n = [], 0


def parquet_writer(path: Path | str, schema: pa.Schema, **kw: Any) -> pq.ParquetWriter:
    """zstd, decimals of up to 18 digits as INT64."""
    return pq.ParquetWriter(path, schema, compression="zstd", compression_level=ZSTD_LEVEL,
                            store_decimal_as_integer=True, **kw)


def write_day(chunks: Iterable[bytes], tmp: Path, *, day: date) -> Verified:
    """Write ticks streamed out of PostgreSQL to ``tmp`` (row group by row group) and fsync it;
    returns the count and checksum of the rows as PostgreSQL sent them."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    con = duck()
    total = NOTHING
    schema = TICK_SCHEMA.with_metadata({"mpx.table": "tick", "mpx.day": day.isoformat()})
    try:
        with parquet_writer(tmp, schema, sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(1)]) as writer:
            groups = RowGroups(writer)
            for raw in _raw_batches(chunks):
                if not raw.num_rows:
                    continue
                total += _raw_checksum(con, raw)
                groups.add(_typed(raw).replace_schema_metadata(schema.metadata))
            groups.close()
    finally:
        con.close()
    fsync_file(tmp)
    return total


def latest_ts_per_token(path: Path) -> list[tuple[str, datetime]]:
    """(token, its latest ts) over one day file."""
    con = duck()
    try:
        rows = con.execute("SELECT token_id, max(ts) FROM read_parquet(?) GROUP BY token_id ORDER BY token_id",
                           [str(path)]).fetchall()
    finally:
        con.close()
    return [(t, ts if ts.tzinfo else ts.replace(tzinfo=UTC)) for t, ts in rows]


_NUM = "rtrim(rtrim({}::VARCHAR, '0'), '.')"
"""A decimal as its shortest exact text (every archive decimal prints with its 6 decimals)."""
_CSV_SQL = ("SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') || '+00:00' AS ts, token_id, market_id, "
            f"{_NUM.format('last_trade')} AS last_trade, "
            + ", ".join(f"'{{' || array_to_string(list_transform({c}, lambda x: {_NUM.format('x')}), ',') || '}}' "
                        f"AS {c}" for c in LEVELS)
            + ", book_digest FROM batch")


class CsvTicks:
    """Batches of :data:`TICK_SCHEMA` to a CSV file: ISO times in UTC, exact decimals in their
    shortest form, the levels as ``{0.5,0.49}`` (PostgreSQL's array text)."""

    def __init__(self, path: Path) -> None:
        self.schema = pa.schema([(n, pa.int64() if n == "book_digest" else pa.string()) for n in TICK_SCHEMA.names])
        self.writer = pacsv.CSVWriter(str(path), self.schema)
        self.con = duck()

    def write(self, batch: pa.RecordBatch) -> None:
        self.con.register("batch", batch)
        try:
            table = _to_reader(self.con.sql(_CSV_SQL), 1 << 20).read_all()
        finally:
            self.con.unregister("batch")
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        self.writer.close()
        self.con.close()


# --- reading -----------------------------------------------------------------------------------

def _day_of(d: Any) -> date:
    day: date = d.day if hasattr(d, "day") and not isinstance(d, date) else d  # an ArchivedDay or a date
    return day


def _overlaps(day: date, start: datetime, end: datetime) -> bool:
    lo = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return lo <= end and lo + timedelta(days=1) > start + _ONE_US


def _to_reader(rel: Any, batch_rows: int) -> pa.RecordBatchReader:
    to_reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch  # DuckDB 2 / DuckDB 1
    reader: pa.RecordBatchReader = to_reader(batch_rows)
    return reader


def scan(archive_dir: Path | str, days: Iterable[Any], start: datetime, end: datetime, *,
         columns: Sequence[str] | None = None, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """The archived ticks with ``start < ts <= end`` (the backtest's window) from the files of
    ``days`` (dates or :class:`~mpx.adapters.db.archive.ArchivedDay` rows: pass the manifest, i.e.
    ``archived_days(conn)``; days outside the window are skipped unread) as Arrow record batches of
    :data:`TICK_SCHEMA` — or of ``columns`` only, in that order — ordered by (ts, token_id), at most
    ``batch_rows`` rows each. Read with DuckDB one day at a time, streaming: row groups outside the
    window are skipped by their statistics and memory holds a batch or so. A listed day whose file is
    missing raises :class:`ArchiveError` (the manifest and ``MPX_ARCHIVE_DIR`` disagree)."""
    cols = list(columns or TICK_SCHEMA.names)
    unknown = [c for c in cols if c not in TICK_SCHEMA.names]
    if unknown:
        raise ValueError(f"no such archive column(s): {', '.join(unknown)}")
    schema = pa.schema([TICK_SCHEMA.field(c) for c in cols])
    wanted = sorted({_day_of(d) for d in days if _overlaps(_day_of(d), start, end)})
    if not wanted:
        return
    select = ", ".join(f'"{c}"' for c in cols)
    con = duck()
    try:
        for day in wanted:
            path = day_file(archive_dir, day)
            if not path.is_file():
                raise ArchiveError(f"archived day {day} has no file at {path}",
                                   hint="MPX_ARCHIVE_DIR must be the directory `mpx archive` wrote to")
            rel = con.sql(f"SELECT {select} FROM read_parquet(?) WHERE ts > ? AND ts <= ?",
                          params=[str(path), start, end])
            for batch in _to_reader(rel, batch_rows):
                if batch.num_rows:
                    yield batch.cast(schema)
    finally:
        con.close()


def latest_per_token(archive_dir: Path | str, days: Iterable[Any], as_of: datetime, *,
                     since: datetime | None = None) -> pa.Table:
    """Each token's latest archived tick at or before ``as_of`` (and after ``since``, when given: a
    bound on how far back to look), as a table of :data:`TICK_SCHEMA` — the books a backtest
    starting at ``as_of`` inside the archive begins from (newer rows of PostgreSQL win over these)."""
    lo = since or datetime(1970, 1, 1, tzinfo=UTC)
    wanted = sorted({_day_of(d) for d in days if _overlaps(_day_of(d), lo, as_of)})
    if not wanted:
        return TICK_SCHEMA.empty_table()
    files = [str(day_file(archive_dir, d)) for d in wanted]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ArchiveError(f"archived day file missing: {missing[0]}",
                           hint="MPX_ARCHIVE_DIR must be the directory `mpx archive` wrote to")
    con = duck()
    try:
        rel = con.sql("SELECT * FROM read_parquet(?) WHERE ts > ? AND ts <= ? "
                      "QUALIFY row_number() OVER (PARTITION BY token_id ORDER BY ts DESC) = 1 ORDER BY token_id",
                      params=[files, lo, as_of])
        table = _to_reader(rel, 65_536).read_all()
    finally:
        con.close()
    return table.select(TICK_SCHEMA.names).cast(TICK_SCHEMA) if table.num_rows else TICK_SCHEMA.empty_table()


def segments(days: Iterable[Any], start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """Split the window ``(start, end]`` into consecutive pieces read from one place each:
    ``("archive", lo, hi)`` over archived days (:func:`scan`), ``("db", lo, hi)`` over the rest
    (PostgreSQL's ``tick``), each also ``(lo, hi]``, in time order, covering the window exactly. A
    day is read from one place only: an archived day's rows still in ``tick`` (its tokens' latest
    ticks) are never read from PostgreSQL. Piece boundaries sit one microsecond before midnight, so
    a tick at 00:00:00 belongs to its own day."""
    archived = {_day_of(d) for d in days}
    out: list[tuple[str, datetime, datetime]] = []
    lo = start
    while lo < end:
        first = (lo + _ONE_US).astimezone(UTC)  # the earliest instant in (lo, …]
        day = first.date()
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - _ONE_US
        hi = min(end, day_end)
        kind = "archive" if day in archived else "db"
        if out and out[-1][0] == kind and out[-1][2] == lo:
            out[-1] = (kind, out[-1][1], hi)
        else:
            out.append((kind, lo, hi))
        lo = hi
    return out
