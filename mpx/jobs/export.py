"""``mpx export``: ticks, signals, opportunities or order intents of a window ``(start, end]`` to one
Parquet or CSV file, for notebooks. Read-only, streamed (memory holds a batch or a row group, however
long the window), written to a temporary file next to ``out`` and renamed at the end, so a failed
export leaves no half file.

Ticks are one history: the days in the archive's manifest from their Parquet files, every other day
from PostgreSQL — never both for one day — read in one REPEATABLE READ snapshot taken before the
manifest, so an ``mpx archive`` running meanwhile cannot move a day out from under the export.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mpx.adapters import archive as files
from mpx.adapters.db import archive as db_archive
from mpx.adapters.db import export as db_export
from mpx.jobs.archive import archive_dir
from mpx.jobs.contract import Context, JobResult

WHAT = ("ticks", *db_export.TABLES)
FORMATS = ("parquet", "csv")
_ONE_US = timedelta(microseconds=1)


@dataclass
class ExportResult(JobResult):
    path: str = ""
    from_archive: int = 0
    from_db: int = 0


def run_export(ctx: Context[ExportResult], what: str, start: datetime, end: datetime, fmt: str,
               out: Path) -> ExportResult:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        result = _ticks(ctx, start, end, fmt, tmp) if what == "ticks" else _table(ctx, what, start, end, fmt, tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        ctx.conn.rollback()  # the read snapshot
    result.path = str(out)
    result.details = {"what": what, "format": fmt, "out": str(out), "from_archive": result.from_archive,
                      "from_db": result.from_db}
    return result


# --- ticks -----------------------------------------------------------------------------------

def _ticks(ctx: Context[ExportResult], start: datetime, end: datetime, fmt: str, tmp: Path) -> ExportResult:
    conn = ctx.conn
    db_archive.begin_snapshot(conn)
    days = [d.day for d in db_archive.archived_days(conn)]
    hypertable = db_archive.tick_is_hypertable(conn)
    oldest = db_archive.oldest_tick(conn, hypertable=hypertable)
    newest = db_archive.newest_tick(conn, hypertable=hypertable)
    result = ExportResult()
    sink = files.CsvTicks(tmp) if fmt == "csv" else _ParquetTicks(tmp)
    try:
        for kind, lo, hi in files.segments(days, start, end):
            if kind == "archive":
                where = str(archive_dir(ctx.settings))
                for batch in files.checked(files.scan(archive_dir(ctx.settings), days, lo, hi), where):
                    sink.write(batch)
                    result.from_archive += batch.num_rows
                continue
            if oldest is None or newest is None:
                continue
            lo, hi = max(lo, oldest - _ONE_US), min(hi, newest)  # never read hour by hour through years of nothing
            if lo >= hi:
                continue
            for batch in files.tick_batches(db_archive.stream_ticks_csv(conn, lo + _ONE_US, hi + _ONE_US,
                                                                          files.NUMERIC)):
                sink.write(batch)
                result.from_db += batch.num_rows
    finally:
        sink.close()
    result.rows = result.from_archive + result.from_db
    return result


class _ParquetTicks:
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.writer = files.parquet_writer(path, files.TICK_SCHEMA,
                                           sorting_columns=[pq.SortingColumn(0), pq.SortingColumn(1)])
        self.groups = files.RowGroups(self.writer)

    def write(self, batch: Any) -> None:
        self.groups.add(batch)

    def close(self) -> None:
        self.groups.close()
        self.writer.close()


# --- signals, opportunities, intents -------------------------------------------------------------

def _table(ctx: Context[ExportResult], what: str, start: datetime, end: datetime, fmt: str,
           tmp: Path) -> ExportResult:
    conn = ctx.conn
    result = ExportResult()
    conn.rollback()
    if fmt == "csv":
        with tmp.open("wb") as f:
            for chunk in db_export.copy_csv(conn, what, start, end):
                f.write(chunk)
        result.from_db = db_export.count(conn, what, start, end)
    else:
        result.from_db = _table_parquet(conn, what, start, end, tmp)
    result.rows = result.from_db
    return result


def _table_parquet(conn: Any, what: str, start: datetime, end: datetime, tmp: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = db_export.columns(conn, what, start, end)
    types = {c.name: _arrow_type(c) for c in cols}
    as_text = [c.name for c in cols if types[c.name] is None or c.type in ("json", "jsonb")]
    schema = pa.schema([(c.name, types[c.name] or pa.string()) for c in cols])
    n = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for rows in db_export.fetch(conn, what, cols, start, end, as_text):
            arrays = [pa.array(values, type=field.type) for values, field in zip(zip(*rows, strict=True), schema,
                                                                                     strict=True)]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            n += len(rows)
    return n


def _arrow_type(c: db_export.Column) -> Any:
    """The Arrow type of a PostgreSQL column (None: exported as its text)."""
    import pyarrow as pa

    simple = {"int8": pa.int64(), "int4": pa.int32(), "int2": pa.int16(), "float8": pa.float64(),
              "float4": pa.float32(), "bool": pa.bool_(), "text": pa.string(), "varchar": pa.string(),
              "timestamptz": pa.timestamp("us", tz="UTC"), "timestamp": pa.timestamp("us"), "date": pa.date32(),
              "interval": pa.duration("us"), "_text": pa.list_(pa.string()), "_int8": pa.list_(pa.int64())}
    if c.type == "numeric":  # exact: as many decimals as the window's values have
        if c.digits + c.scale > 38:
            return None
        return pa.decimal128(38, c.scale)
    return simple.get(c.type)
