"""``mpx runs``: the job runs recorded by the job contract (started, finished, status, rows, error)."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.db import runs as db_runs
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, LimitOption, OutputFormat, render, settings, truncate
from mpx.jobs.contract import Job


def runs(
    job: Annotated[Job | None, typer.Option("--job", help="Only this job's runs.")] = None,
    status: Annotated[db_runs.RunStatus | None, typer.Option(
        "--status", help="Only runs in this status (killed: the process died before the run ended; the job's "
                         "next run marks it).")] = None,
    limit: LimitOption = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List recent job runs, newest first, with their duration, rows written and error: running, ok,
    failed, skipped (another run held the lock) or killed (its process died mid-run — kill -9, out of
    memory, a timeout — and the job's next run marked it)."""
    with connect(settings()) as conn:
        rows = db_runs.list_runs(conn, job=job.value if job else None, status=status.value if status else None,
                                 limit=limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["error"] = truncate(r["error"], 70) if r["error"] else ""
    render(rows, fmt, ["id", "job", "started_at", "seconds", "status", "rows", "error"], empty="(no runs)")
