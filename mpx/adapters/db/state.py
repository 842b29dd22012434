"""Job bookkeeping: ``job_state`` (cursors, watermarks) and ``job_run`` (one row per run)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def get_state(conn: psycopg.Connection, key: str) -> Any:
    row = conn.execute("SELECT value FROM job_state WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def set_state(conn: psycopg.Connection, key: str, value: Any) -> None:
    conn.execute(
        """INSERT INTO job_state (key, value, updated_at) VALUES (%s, %s, now())
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
        (key, Jsonb(value)),
    )


def delete_state(conn: psycopg.Connection, prefix: str) -> None:
    conn.execute("DELETE FROM job_state WHERE key LIKE %s", (prefix + "%",))


def start_run(conn: psycopg.Connection, job: str) -> int:
    row = conn.execute("INSERT INTO job_run (job) VALUES (%s) RETURNING id", (job,)).fetchone()
    assert row is not None
    return int(row[0])


def finish_run(
    conn: psycopg.Connection, run_id: int, status: str, rows: int | None = None,
    error: str | None = None, details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        """UPDATE job_run SET finished_at = clock_timestamp(), status = %s, rows = %s, error = %s,
                  details = %s WHERE id = %s""",
        (status, rows, error, Jsonb(details or {}), run_id),
    )


def record_skipped(conn: psycopg.Connection, job: str, reason: str) -> None:
    conn.execute(
        """INSERT INTO job_run (job, finished_at, status, error) VALUES (%s, clock_timestamp(), 'skipped', %s)""",
        (job, reason),
    )


def recent_runs(conn: psycopg.Connection, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(
        """SELECT id, job, started_at, finished_at, status, rows, error FROM job_run
           WHERE %(job)s::text IS NULL OR job = %(job)s ORDER BY id DESC LIMIT %(limit)s""",
        {"job": job, "limit": limit},
    ).fetchall()
