"""``mpx runs``: the job runs recorded by the job contract (started, finished, status, rows, error)."""

from __future__ import annotations

from typing import Annotated

import typer
from psycopg.rows import dict_row

from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate


def runs(
    job: Annotated[str | None, typer.Option("--job", help="Only this job: ingest, evaluate, seed, …")] = None,
    status: Annotated[str | None, typer.Option("--status", help="running, ok, failed or skipped.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")] = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List recent job runs, newest first, with their duration, rows written and error."""
    with connect(settings()) as conn:
        rows = conn.cursor(row_factory=dict_row).execute(
            """SELECT id, job, started_at, round(extract(epoch FROM finished_at - started_at)::numeric, 3) AS seconds,
                      status, rows, error
               FROM job_run
               WHERE (%(job)s::text IS NULL OR job = %(job)s) AND (%(st)s::text IS NULL OR status = %(st)s)
               ORDER BY id DESC LIMIT %(n)s""", {"job": job, "st": status, "n": limit}).fetchall()
    if fmt is OutputFormat.table:
        for r in rows:
            r["error"] = truncate(r["error"], 70) if r["error"] else ""
    render(rows, fmt, ["id", "job", "started_at", "seconds", "status", "rows", "error"], empty="(no runs)")
