"""``job_run``: one row per run of a job (running → ok | failed | skipped | killed), and the queries
behind ``mpx runs``, ``mpx health`` and ``mpx metrics``.

A run holds a session-level advisory lock of its own (:func:`run_lock_key`) from the moment its row
exists until its connection closes. A ``running`` row whose lock nobody holds belongs to a process
that died before it could record how it ended (``kill -9``, the OOM killer, a systemd timeout, a
lost database session): :func:`mark_killed` marks such rows ``killed``. The lock is taken in the
transaction that inserts the row, so no other session can see the row before its lock is held.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

RUN_LOCK_BASE = 1 << 40
"""Run locks are ``RUN_LOCK_BASE + id``: above every job lock key (a crc32, below 2**32)."""

KILLED_ERROR = ("the run's process ended before it recorded how the run ended (killed: kill -9, out of memory, "
                "a timeout; or its database session was lost); what it had not committed was rolled back")



class RunStatus(StrEnum):
    """``job_run.status`` (the CHECK of sql/012_job_run_killed.sql)."""

    running = "running"
    ok = "ok"
    failed = "failed"
    skipped = "skipped"
    """Another run held the job's lock."""
    killed = "killed"
    """The run's process died before it recorded how the run ended; the job's next run marked it."""


def run_lock_key(run_id: int) -> int:
    return RUN_LOCK_BASE + run_id


def job_run_exists(conn: psycopg.Connection) -> bool:
    """Whether the schema has ``job_run`` yet (not before the first migration)."""
    row = conn.execute("SELECT to_regclass('job_run') IS NOT NULL").fetchone()
    return bool(row and row[0])


def start_run(conn: psycopg.Connection, job: str) -> int:
    """Insert the run's ``running`` row and take its run lock (the caller commits)."""
    row = conn.execute("INSERT INTO job_run (job) VALUES (%s) RETURNING id", (job,)).fetchone()
    assert row is not None
    run_id = int(row[0])
    conn.execute("SELECT pg_advisory_lock(%s)", (run_lock_key(run_id),))
    return run_id


def mark_killed(conn: psycopg.Connection, job: str, before: int) -> list[int]:
    """Mark ``killed`` every ``running`` row of ``job`` older than run ``before`` whose process is
    gone (nobody holds its run lock). Returns their ids (the caller commits)."""
    ids = [int(r[0]) for r in conn.execute(
        "SELECT id FROM job_run WHERE job = %s AND status = 'running' AND id < %s ORDER BY id", (job, before))]
    killed = []
    for run_id in ids:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (run_lock_key(run_id),)).fetchone()
        if not got or not got[0]:
            continue  # still running (an unlocked job's runs may overlap)
        conn.execute("""UPDATE job_run SET status = 'killed', error = %s,
                               finished_at = coalesce(finished_at, clock_timestamp())
                        WHERE id = %s AND status = 'running'""", (KILLED_ERROR, run_id))
        conn.execute("SELECT pg_advisory_unlock(%s)", (run_lock_key(run_id),))
        killed.append(run_id)
    return killed


def finish_run(
    conn: psycopg.Connection, run_id: int, status: str, rows: int | None = None,
    error: str | None = None, details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        """UPDATE job_run SET finished_at = clock_timestamp(), status = %s, rows = %s, error = %s,
                  details = %s WHERE id = %s""",
        (status, rows, error, Jsonb(details or {}), run_id),
    )


def record_finished(conn: psycopg.Connection, job: str, started_at: datetime, status: str, rows: int | None,
                    error: str | None, details: dict[str, Any] | None = None) -> int:
    """A run recorded only once it ended (``mpx db migrate`` on a database that had no ``job_run``)."""
    row = conn.execute(
        """INSERT INTO job_run (job, started_at, finished_at, status, rows, error, details)
           VALUES (%s, %s, clock_timestamp(), %s, %s, %s, %s) RETURNING id""",
        (job, started_at, status, rows, error, Jsonb(details or {}))).fetchone()
    assert row is not None
    return int(row[0])


def record_skipped(conn: psycopg.Connection, job: str, reason: str) -> None:
    conn.execute(
        """INSERT INTO job_run (job, finished_at, status, error) VALUES (%s, clock_timestamp(), 'skipped', %s)""",
        (job, reason),
    )


def list_runs(conn: psycopg.Connection, *, job: str | None = None, status: str | None = None,
              limit: int = 20) -> list[dict[str, Any]]:
    """Recent runs, newest first, with their duration in seconds."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT id, job, started_at, finished_at,
                  round(extract(epoch FROM finished_at - started_at)::numeric, 3) AS seconds, status, rows, error
           FROM job_run
           WHERE (%(job)s::text IS NULL OR job = %(job)s) AND (%(st)s::text IS NULL OR status = %(st)s)
           ORDER BY id DESC LIMIT %(n)s""", {"job": job, "st": status, "n": limit}).fetchall()


def last_success(conn: psycopg.Connection, job: str) -> datetime | None:
    row = conn.execute("SELECT max(finished_at) FROM job_run WHERE job = %s AND status = 'ok'", (job,)).fetchone()
    return row[0] if row else None


def last_success_by_job(conn: psycopg.Connection) -> dict[str, float]:
    """job → end of its last successful run (Unix seconds)."""
    return {job: float(ts) for job, ts in conn.execute(
        "SELECT job, extract(epoch FROM max(finished_at)) FROM job_run WHERE status = 'ok' GROUP BY job")}


_RUN_LOCK_HELD = """EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
                             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                             AND (l.classid::bigint << 32) + l.objid::bigint = %(base)s + r.id)"""


def running_and_killed(conn: psycopg.Connection, since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runs in progress now (their process alive), and the runs killed since ``since`` — marked
    ``killed``, or still ``running`` with their process gone (the job's next run marks them)."""
    rows = conn.cursor(row_factory=dict_row).execute(
        f"""SELECT r.id, r.job, r.started_at, r.status, {_RUN_LOCK_HELD} AS alive
            FROM job_run r
            WHERE r.status = 'running' OR (r.status = 'killed' AND r.started_at >= %(since)s)
            ORDER BY r.id""", {"base": RUN_LOCK_BASE, "since": since}).fetchall()
    running = [r for r in rows if r["status"] == "running" and r["alive"]]
    killed = [r for r in rows if r["status"] == "killed" or not r["alive"]]
    return running, killed
