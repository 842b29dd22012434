"""The tick archive's PostgreSQL side: the manifest (``tick_archive_day``), a day's ticks streamed out
with ``COPY`` in the archive's exact text form, and the transaction that deletes an archived day's
rows and records it. The Parquet side is :mod:`mpx.adapters.archive`.

Every time range here is half-open, ``[lo, hi)`` (a UTC day is ``[00:00, next 00:00)``); callers
with ``(start, end]`` windows shift both ends by one microsecond, the resolution of ``timestamptz``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg

READ_WINDOW = timedelta(hours=1)
"""A day is read in windows of this length, each sorted by PostgreSQL on its own (a sort of a whole
day of a busy universe would spill gigabytes to disk)."""


@dataclass(frozen=True, slots=True)
class ArchivedDay:
    day: date
    path: str
    """The day's file, relative to ``MPX_ARCHIVE_DIR`` (``day=YYYY-MM-DD/part-0.parquet``)."""
    rows: int
    checksum: str
    bytes: int | None
    archived_at: datetime


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[lo, hi)`` of a UTC day."""
    lo = datetime.combine(day, time(0), tzinfo=UTC)
    return lo, lo + timedelta(days=1)


# --- the manifest ----------------------------------------------------------------------------

def archived_days(conn: psycopg.Connection) -> list[ArchivedDay]:
    """Every archived day, oldest first. A day listed here is read from its Parquet file only; the
    rows of that day still in ``tick`` (each token's latest tick, kept as its current book) are
    copies of rows in the file and must not be read from PostgreSQL for that day."""
    rows = conn.execute("SELECT day, path, rows, checksum, bytes, archived_at FROM tick_archive_day "
                        "ORDER BY day").fetchall()
    return [ArchivedDay(*r) for r in rows]


def record_day(conn: psycopg.Connection, day: date, path: str, rows: int, checksum: str, size: int) -> None:
    conn.execute("INSERT INTO tick_archive_day (day, path, rows, checksum, bytes) VALUES (%s, %s, %s, %s, %s)",
                 (day, path, rows, checksum, size))


# --- finding what to archive -------------------------------------------------------------------

def timescaledb_active(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def tick_is_hypertable(conn: psycopg.Connection) -> bool:
    if not timescaledb_active(conn):
        return False
    row = conn.execute("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'tick'"
                       ).fetchone()
    return row is not None


def tick_retention(conn: psycopg.Connection) -> timedelta | None:
    """``drop_after`` of TimescaleDB's retention policy on ``tick`` (None: no policy, or plain PostgreSQL)."""
    if not timescaledb_active(conn):
        return None
    row = conn.execute(
        """SELECT min((config->>'drop_after')::interval) FROM timescaledb_information.jobs
           WHERE proc_name = 'policy_retention' AND hypertable_name = 'tick'""").fetchone()
    return row[0] if row else None


def oldest_tick(conn: psycopg.Connection, *, hypertable: bool) -> datetime | None:
    """The time of the oldest stored tick, cheaply: a hypertable answers from its newest-first chunk
    index; plain PostgreSQL (a BRIN index on ts, which cannot answer min) takes the oldest tick of
    each outcome token from the (token_id, ts DESC) index, one probe per token."""
    if hypertable:
        row = conn.execute("SELECT min(ts) FROM tick").fetchone()
    else:
        row = conn.execute(
            """SELECT min(t.ts) FROM outcome o
               CROSS JOIN LATERAL (SELECT ts FROM tick WHERE tick.token_id = o.token_id ORDER BY ts LIMIT 1) t"""
        ).fetchone()
    return row[0] if row else None


def newest_tick(conn: psycopg.Connection, *, hypertable: bool) -> datetime | None:
    """The time of the newest stored tick (the same cheap paths as :func:`oldest_tick`)."""
    if hypertable:
        row = conn.execute("SELECT max(ts) FROM tick").fetchone()
    else:
        row = conn.execute(
            """SELECT max(t.ts) FROM outcome o
               CROSS JOIN LATERAL (SELECT ts FROM tick WHERE tick.token_id = o.token_id ORDER BY ts DESC LIMIT 1) t"""
        ).fetchone()
    return row[0] if row else None


def has_ticks(conn: psycopg.Connection, lo: datetime, hi: datetime) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM tick WHERE ts >= %s AND ts < %s)", (lo, hi)).fetchone()
    return bool(row and row[0])


# --- reading a day out ---------------------------------------------------------------------------

def _copy_sql(numeric: str) -> str:
    """One window of ticks in the archive's text form, as CSV: the time as integer microseconds since
    the epoch, every price and size as ``numeric(P,S)`` (so each has exactly S decimals: what the
    Parquet decimal holds and what DuckDB prints it back as), the level arrays space-separated, and
    ``exact``: 1 when that cast lost nothing (``numeric`` equality ignores trailing zeros)."""
    n, arr = numeric, f"{numeric}[]"
    return f"""COPY (
    SELECT (extract(epoch FROM ts) * 1000000)::bigint, token_id, market_id, last_trade::{n},
           array_to_string(bid_px::{arr}, ' ', 'NULL'), array_to_string(bid_sz::{arr}, ' ', 'NULL'),
           array_to_string(ask_px::{arr}, ' ', 'NULL'), array_to_string(ask_sz::{arr}, ' ', 'NULL'),
           book_digest,
           (last_trade IS NOT DISTINCT FROM last_trade::{n} AND bid_px = bid_px::{arr} AND bid_sz = bid_sz::{arr}
            AND ask_px = ask_px::{arr} AND ask_sz = ask_sz::{arr})::int
    FROM tick WHERE ts >= %s AND ts < %s ORDER BY ts, token_id
) TO STDOUT (FORMAT csv)"""


def stream_ticks_csv(conn: psycopg.Connection, lo: datetime, hi: datetime, numeric: str,
                     window: timedelta = READ_WINDOW) -> Iterator[bytes]:
    """The ticks with ``lo <= ts < hi`` as CSV (columns: see :func:`_copy_sql`), in (ts, token_id)
    order, read window by window with ``COPY … TO STDOUT``. Callers run it inside one transaction
    (REPEATABLE READ for one snapshot of the whole range)."""
    sql = _copy_sql(numeric)
    a = lo
    while a < hi:
        b = min(a + window, hi)
        with conn.cursor() as cur, cur.copy(sql, (a, b)) as copy:
            for data in copy:
                yield bytes(data)
        a = b


def begin_snapshot(conn: psycopg.Connection) -> None:
    """Start a read-only REPEATABLE READ transaction: every window of a day read from one snapshot."""
    conn.commit()
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


# --- deleting an archived day ------------------------------------------------------------------

def _allow_compressed_dml(conn: psycopg.Connection, hypertable: bool) -> None:
    """TimescaleDB refuses DML that decompresses more than 100,000 tuples in one transaction
    (``timescaledb.max_tuples_decompressed_per_dml_transaction``); a day's delete from a compressed
    chunk decompresses all of them. 0 = no limit, for this transaction only."""
    if hypertable:
        conn.execute("SET LOCAL timescaledb.max_tuples_decompressed_per_dml_transaction = 0")


def tokens_with_later_ticks(conn: psycopg.Connection, tokens: Sequence[str], after: datetime) -> set[str]:
    """Which of ``tokens`` have a tick at or after ``after`` (one index probe each)."""
    rows = conn.execute(
        """SELECT o.token_id FROM unnest(%s::text[]) AS o(token_id)
           WHERE EXISTS (SELECT 1 FROM tick WHERE tick.token_id = o.token_id AND tick.ts >= %s)""",
        (list(tokens), after)).fetchall()
    return {r[0] for r in rows}


def delete_day(conn: psycopg.Connection, lo: datetime, hi: datetime, keep: Sequence[tuple[str, datetime]], *,
               hypertable: bool) -> int:
    """Delete the ticks with ``lo <= ts < hi`` except the (token, ts) rows of ``keep``; returns how
    many were deleted. Runs in the caller's transaction."""
    _allow_compressed_dml(conn, hypertable)
    cur = conn.execute(
        """DELETE FROM tick WHERE ts >= %s AND ts < %s
           AND NOT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::timestamptz[]) AS k(token_id, ts)
                           WHERE k.token_id = tick.token_id AND k.ts = tick.ts)""",
        (lo, hi, [k[0] for k in keep], [k[1] for k in keep]))
    return cur.rowcount


def sweep_superseded(conn: psycopg.Connection, *, hypertable: bool) -> int:
    """Delete the ticks kept in archived days as their token's latest once a newer tick of the token
    exists (they are in the day's file). Runs in the caller's transaction; returns how many."""
    row = conn.execute("SELECT min(day), max(day) FROM tick_archive_day").fetchone()
    if row is None or row[0] is None:
        return 0
    lo, _ = day_bounds(row[0])
    _, hi = day_bounds(row[1])
    _allow_compressed_dml(conn, hypertable)
    cur = conn.execute(
        """DELETE FROM tick t WHERE t.ts >= %s AND t.ts < %s
           AND (t.ts AT TIME ZONE 'UTC')::date IN (SELECT day FROM tick_archive_day)
           AND EXISTS (SELECT 1 FROM tick n WHERE n.token_id = t.token_id AND n.ts > t.ts)""", (lo, hi))
    return cur.rowcount
