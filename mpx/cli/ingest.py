"""``mpx ingest``: one pass of each configured source into ticks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mpx.adapters.sources import SOURCES, make_sources
from mpx.adapters.sources.base import Source
from mpx.cli.common import settings
from mpx.jobs.ingest import IngestResult, ingest_sources


def ingest(
    source: Annotated[str | None, typer.Option(
        "--source", help="Ingest only this source (one of: " + ", ".join(SOURCES) + "; `polymarket` = real), "
        "configured in DATA_SOURCE or not — for a timer per venue.", metavar="NAME")] = None,
    record: Annotated[Path | None, typer.Option(
        "--record", help="Keep every raw response of this pass under DIR (a recording source: DATA_SOURCE=real or "
        "--source real|kalshi); replay later with DATA_SOURCE=replay (or kalshi_replay) MPX_REPLAY_DIR=DIR.",
        metavar="DIR")] = None,
) -> None:
    """Fetch one snapshot of markets and order books from each source of DATA_SOURCE (a comma list,
    one source per venue) and store the books that changed as ticks (COPY, one transaction per
    source). Each venue ingests under its own lock and cursor: one venue that is down or busy does
    not stop the others. A partial fetch stores what arrived and warns; exits 75 when a venue's
    ingest is already running or nothing could be fetched from it, or the database is unavailable
    (with several sources, the worst exit code of them: 78, then 1, then 75)."""
    s = settings()
    sources = make_sources(s, only=source, record_dir=record)
    several = len(sources) > 1

    def done(src: Source, res: IngestResult) -> None:
        when = f"{res.ts:%Y-%m-%d %H:%M:%S}" if res.ts else "-"
        label = f" {src.venue}" if several or src.venue != "polymarket" else ""
        typer.echo(f"ingest{label} {when}: {res.books} books, {res.rows} written, {res.unchanged} unchanged")

    failures = ingest_sources(s, sources, done)
    if failures:
        worst, *others = failures
        for other in others:  # the worst is reported by the CLI as it exits
            sys.stderr.write(f"mpx: error: {other.message}\n" + (f"hint: {other.hint}\n" if other.hint else ""))
        raise worst
