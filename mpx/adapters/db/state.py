"""Small durable state of the jobs: ``job_state`` (cursors, watermarks, counters). Runs are in
:mod:`mpx.adapters.db.runs`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def get_state(conn: psycopg.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM job_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def get_state_for_update(conn: psycopg.Connection, key: str) -> Any:
    """``get_state`` holding the row's lock until the transaction ends (writers of the same key
    queue behind it: two venues' ingest passes take their pass times one after the other). The row
    is created first if missing, so there is always a row to lock."""
    conn.execute("INSERT INTO job_state (key, value, updated_at) VALUES (%s, 'null', now()) ON CONFLICT DO NOTHING",
                 (key,))
    row = conn.execute("SELECT value FROM job_state WHERE key = %s FOR UPDATE", (key,)).fetchone()
    return row[0] if row else None


def set_state(conn: psycopg.Connection, key: str, value: Any) -> None:
    conn.execute(
        """INSERT INTO job_state (key, value, updated_at) VALUES (%s, %s, now())
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        (key, Jsonb(value)),
    )


def updated_at(conn: psycopg.Connection, key: str) -> datetime | None:
    """When ``key`` was last written (None: never)."""
    row = conn.execute("SELECT updated_at FROM job_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None
