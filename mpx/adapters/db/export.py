"""What ``mpx export`` reads from PostgreSQL besides ticks: signals, opportunities and order intents,
whole rows in time order, streamed (COPY for CSV, a server-side cursor for Parquet)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

TABLES: dict[str, tuple[str, str]] = {
    "signals": ("signal", "ts"),
    "opportunities": ("opportunity", "opened_at"),
    "intents": ("order_intent", "created_at"),
}
"""``--what`` → (table, the time its window selects on)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    """PostgreSQL's ``udt_name``: int8, numeric, timestamptz, jsonb, _text…"""
    scale: int = 0
    """numeric only: the most decimals a value in the window has."""
    digits: int = 0
    """numeric only: the most integer digits a value in the window has."""


def _where(table: str, time_col: str) -> sql.Composed:
    return sql.SQL("FROM {} WHERE {} > %s AND {} <= %s").format(
        sql.Identifier(table), sql.Identifier(time_col), sql.Identifier(time_col))


def columns(conn: psycopg.Connection, what: str, start: datetime, end: datetime) -> list[Column]:
    """The table's columns in order; numeric ones with the widest scale and integer part found in
    the window ``(start, end]`` (an exact decimal type is chosen from them)."""
    table, time_col = TABLES[what]
    cols = [Column(n, t) for n, t in conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()]
    numeric = [c.name for c in cols if c.type == "numeric"]
    if not numeric:
        return cols
    parts = [sql.SQL("coalesce(max(scale({c})), 0), coalesce(max(length(trunc(abs({c}))::text)), 1)").format(
        c=sql.Identifier(n)) for n in numeric]
    row = conn.execute(sql.SQL("SELECT {} ").format(sql.SQL(", ").join(parts)) + _where(table, time_col),
                       (start, end)).fetchone()
    assert row is not None
    shape = {n: (int(row[2 * i]), int(row[2 * i + 1])) for i, n in enumerate(numeric)}
    return [Column(c.name, c.type, *shape[c.name]) if c.name in shape else c for c in cols]


def _select(cols: Sequence[Column], as_text: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{}::text AS {}").format(sql.Identifier(c.name), sql.Identifier(c.name))
        if c.name in as_text else sql.Identifier(c.name) for c in cols)


def copy_csv(conn: psycopg.Connection, what: str, start: datetime, end: datetime) -> Iterator[bytes]:
    """The rows of the window ``(start, end]`` as CSV with a header, as PostgreSQL prints them
    (times in UTC, JSON as text, arrays as ``{a,b}``), oldest first."""
    table, time_col = TABLES[what]
    conn.execute("SET LOCAL TimeZone = 'UTC'")
    query = sql.SQL("COPY (SELECT * {} ORDER BY {}, id) TO STDOUT WITH (FORMAT csv, HEADER)").format(
        _where(table, time_col), sql.Identifier(time_col))
    with conn.cursor() as cur, cur.copy(query, (start, end)) as copy:
        for data in copy:
            yield bytes(data)


def fetch(conn: psycopg.Connection, what: str, cols: Sequence[Column], start: datetime, end: datetime,
          as_text: Sequence[str] = (), batch: int = 10_000) -> Iterator[list[tuple[object, ...]]]:
    """The rows of the window ``(start, end]``, oldest first, ``batch`` at a time from a server-side
    cursor; the columns of ``as_text`` as PostgreSQL's text."""
    table, time_col = TABLES[what]
    query = sql.SQL("SELECT {} {} ORDER BY {}, id").format(_select(cols, as_text), _where(table, time_col),
                                                           sql.Identifier(time_col))
    with conn.cursor(name="mpx_export") as cur:
        cur.itersize = batch
        cur.execute(query, (start, end))
        while rows := cur.fetchmany(batch):
            yield rows


def count(conn: psycopg.Connection, what: str, start: datetime, end: datetime) -> int:
    table, time_col = TABLES[what]
    row = conn.execute(sql.SQL("SELECT count(*) ") + _where(table, time_col), (start, end)).fetchone()
    return int(row[0]) if row else 0
