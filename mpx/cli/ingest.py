"""``mpx ingest``: one pass of the source into ticks."""

from __future__ import annotations

import typer

from mpx.adapters.sources import make_source
from mpx.cli.common import settings
from mpx.jobs.contract import run_job
from mpx.jobs.ingest import run_ingest


def ingest() -> None:
    """Fetch one snapshot of markets and order books from DATA_SOURCE and store the books that
    changed as ticks (COPY, one transaction). Exits 75 when another ingest is running or the
    source/database is unavailable."""
    s = settings()
    source = make_source(s)
    res = run_job(s, "ingest", lambda ctx: run_ingest(ctx, source))
    when = f"{res.ts:%Y-%m-%d %H:%M:%S}" if res.ts else "-"
    typer.echo(f"ingest {when}: {res.books} books, {res.rows} written, {res.unchanged} unchanged")
