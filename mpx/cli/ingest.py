"""``mpx ingest``: one pass of the source into ticks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpx.adapters.sources import make_source
from mpx.cli.common import settings
from mpx.jobs.contract import Job, run_job
from mpx.jobs.ingest import run_ingest


def ingest(
    record: Annotated[Path | None, typer.Option(
        "--record", help="Keep every raw Polymarket response of this pass under DIR (DATA_SOURCE=real); "
        "replay later with DATA_SOURCE=replay MPX_REPLAY_DIR=DIR.", metavar="DIR")] = None,
) -> None:
    """Fetch one snapshot of markets and order books from DATA_SOURCE and store the books that
    changed as ticks (COPY, one transaction). A partial fetch stores what arrived and warns; exits
    75 when another ingest is running or nothing could be fetched, or the database is unavailable."""
    s = settings()
    source = make_source(s, record_dir=record)
    res = run_job(s, Job.ingest, lambda ctx: run_ingest(ctx, source))
    when = f"{res.ts:%Y-%m-%d %H:%M:%S}" if res.ts else "-"
    typer.echo(f"ingest {when}: {res.books} books, {res.rows} written, {res.unchanged} unchanged")
