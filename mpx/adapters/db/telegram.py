"""``telegram_action``: every button tapped (#16) — who, what, on which signal or intent, what came
of it — and the update offset of ``mpx telegram poll`` (in ``job_state``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.adapters.db import state

OFFSET_KEY = "telegram:update_offset"


def get_offset(conn: psycopg.Connection) -> int | None:
    value = state.get_state(conn, OFFSET_KEY)
    return int(value) if value is not None else None


def set_offset(conn: psycopg.Connection, offset: int) -> None:
    """Never moves back (an older pass finishing late)."""
    current = get_offset(conn)
    if current is None or offset > current:
        state.set_state(conn, OFFSET_KEY, offset)


def claim(conn: psycopg.Connection, callback_id: str, update_id: int, user_id: int | None, username: str | None,
          action: str | None, target_id: int | None) -> int | None:
    """The action's row, or ``None`` when this callback query was claimed before (delivered twice)."""
    row = conn.execute(
        """INSERT INTO telegram_action (callback_id, update_id, user_id, username, action, target_id)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (callback_id) DO NOTHING RETURNING id""",
        (callback_id, update_id, user_id, username, action, target_id)).fetchone()
    return int(row[0]) if row else None


def finish(conn: psycopg.Connection, action_id: int, outcome: str, detail: str | None) -> None:
    conn.execute("UPDATE telegram_action SET outcome = %s, detail = %s WHERE id = %s", (outcome, detail, action_id))


def actions(conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM telegram_action ORDER BY id DESC LIMIT %s", (limit,)).fetchall()


def market_links(conn: psycopg.Connection, market_ids: Sequence[str]) -> list[dict[str, Any]]:
    """``[{question, slug}]`` for the events of these markets (as in the alerts)."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT CASE WHEN count(*) = 1 THEN min(m.question) ELSE min(e.title) END AS question, min(e.slug) AS slug
           FROM market m JOIN event e ON e.id = m.event_id
           WHERE m.id = ANY(%s) AND e.slug <> '' GROUP BY e.id ORDER BY 1""", (list(market_ids),)).fetchall()
