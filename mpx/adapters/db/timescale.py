"""What TimescaleDB does to ``tick`` where it is active (``sql/002_timescaledb.sql`` and later):
the hypertable's chunks and their compression, and the background policies — for ``mpx db status``
and the tests. Nothing here is needed on plain PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mpx.domain.durations import format_duration


@dataclass(frozen=True, slots=True)
class Policy:
    kind: str
    """``compression``, ``retention`` or ``refresh`` (the continuous aggregate)."""
    target: str
    """The hypertable or continuous aggregate it works on."""
    schedule: timedelta
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hypertable:
    name: str
    chunk_interval: timedelta | None
    chunks: int
    compressed_chunks: int
    bytes_before: int | None
    """Size of the compressed chunks before compression (``None`` when none is compressed)."""
    bytes_after: int | None

    @property
    def ratio(self) -> float | None:
        """Compressed chunks' size before ÷ after (higher is better)."""
        if not self.bytes_before or not self.bytes_after:
            return None
        return self.bytes_before / self.bytes_after


_POLICY_KINDS = {"policy_compression": "compression", "policy_retention": "retention",
                 "policy_refresh_continuous_aggregate": "refresh"}


def hypertable(conn: psycopg.Connection, name: str = "tick") -> Hypertable | None:
    """The hypertable ``name`` with its chunks and compression, or ``None`` when it is a plain table."""
    row = conn.execute("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
                       (name,)).fetchone()
    if row is None:
        return None
    interval = conn.execute(
        """SELECT time_interval FROM timescaledb_information.dimensions
           WHERE hypertable_name = %s AND dimension_number = 1""", (name,)).fetchone()
    chunks, compressed = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks
           WHERE hypertable_name = %s""", (name,)).fetchone() or (0, 0)
    before, after = conn.execute(
        """SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes)
           FROM chunk_compression_stats(%s) WHERE compression_status = 'Compressed'""", (name,)).fetchone() or (
        None, None)
    return Hypertable(name, interval[0] if interval else None, int(chunks), int(compressed),
                      None if before is None else int(before), None if after is None else int(after))


def policies(conn: psycopg.Connection) -> list[Policy]:
    """The background policies (compression, retention, continuous aggregate refresh)."""
    rows = conn.execute(
        """SELECT proc_name, coalesce(hypertable_name, ''), schedule_interval, coalesce(config, '{}'::jsonb)
           FROM timescaledb_information.jobs WHERE proc_name = ANY(%s) ORDER BY job_id""",
        (list(_POLICY_KINDS),)).fetchall()
    return [Policy(_POLICY_KINDS[proc], target, schedule, dict(config)) for proc, target, schedule, config in rows]


def compress_all(conn: psycopg.Connection, name: str = "tick", older_than: timedelta | datetime | None = None) -> int:
    """Compress every chunk of ``name`` now, or those ending before ``older_than`` (a time, or an age);
    returns how many chunks that covered."""
    params: tuple[object, ...]
    if older_than is None:
        chunks, params = "show_chunks(%s)", (name,)
    else:  # show_chunks takes either; an untyped parameter matches neither
        cast = "interval" if isinstance(older_than, timedelta) else "timestamptz"
        chunks, params = f"show_chunks(%s, older_than => %s::{cast})", (name, older_than)
    rows = conn.execute(f"SELECT compress_chunk(c, if_not_compressed => true) FROM {chunks} c", params).fetchall()
    return len(rows)


def decompress_all(conn: psycopg.Connection, name: str = "tick") -> int:
    rows = conn.execute(
        """SELECT decompress_chunk(format('%%I.%%I', chunk_schema, chunk_name)::regclass, if_compressed => true)
           FROM timescaledb_information.chunks WHERE hypertable_name = %s AND is_compressed""", (name,)).fetchall()
    return len(rows)


def summary(conn: psycopg.Connection) -> str:
    """One line for ``mpx db status``: the hypertable, its chunks, compression and policies."""
    ht = hypertable(conn)
    if ht is None:
        return "tick is a plain table (the TimescaleDB migration is pending)"
    ratio = f", {ht.ratio:.1f}x smaller" if ht.ratio else ""
    interval = format_duration(ht.chunk_interval) if ht.chunk_interval else "?"
    parts = [f"tick: hypertable, {ht.chunks} chunk(s) of {interval}, {ht.compressed_chunks} compressed{ratio}"]
    for p in policies(conn):
        what = {"compression": "compress after", "retention": "drop after"}.get(p.kind)
        if what:
            parts.append(f"{what} {p.config.get('compress_after') or p.config.get('drop_after')}")
        else:
            parts.append(f"{p.target or 'tick_1m'} refreshed every {format_duration(p.schedule)}")
    return "; ".join(parts)
