"""``mpx export``: ticks, signals, opportunities or intents of a window to Parquet or CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mpx.cli.common import check_output_path, parse_when, settings
from mpx.errors import UsageError
from mpx.jobs.contract import Job, run_job
from mpx.jobs.export import run_export


class What(StrEnum):
    ticks = "ticks"
    signals = "signals"
    opportunities = "opportunities"
    intents = "intents"


class FileFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


def export(
    what: Annotated[What, typer.Option("--what", case_sensitive=False, help="What to export.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (refused if it exists, unless --force).")],
    start: Annotated[str | None, typer.Option("--start", help="After this: ISO time (UTC unless it says) or a "
                                              "duration ago (7d). Default: the beginning.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Up to and including this, same forms. "
                                            "Default: now.")] = None,
    file_format: Annotated[FileFormat, typer.Option(
        "--format", case_sensitive=False, help="parquet (zstd, exact decimals) or csv.")] = FileFormat.parquet,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
) -> None:
    """Export ticks, signals, opportunities or order intents with a time in (--start, --end] to one
    Parquet or CSV file, oldest first, for notebooks (README "Reading an export"). Ticks are one
    history: archived days from the Parquet archive, the rest from PostgreSQL. Streams however long
    the window; written to a temporary file and renamed, so a failed export leaves nothing. Signals
    select on ts, opportunities on opened_at, intents on created_at."""
    check_output_path(out, "--out")
    if out.exists() and not force:
        raise UsageError(f"--out {out}: exists", hint="choose another name, or --force to replace it")
    t_start = parse_when(start, "--start", datetime(1970, 1, 1, tzinfo=UTC))
    t_end = parse_when(end, "--end", datetime.now(UTC))
    if t_start >= t_end:
        raise UsageError(f"--start ({t_start:%Y-%m-%d %H:%M:%S}) must be before --end ({t_end:%Y-%m-%d %H:%M:%S})")
    res = run_job(settings(), Job.export,
                  lambda ctx: run_export(ctx, what.value, t_start, t_end, file_format.value, out), lock=False)
    where = (f"{res.from_archive:,} from the archive, {res.from_db:,} from PostgreSQL" if what is What.ticks
             else "from PostgreSQL")
    typer.echo(f"exported {res.rows:,} {what.value} ({where}) to {out}")
