"""``mpx archive``: move whole UTC days of old ticks into the Parquet archive."""

from __future__ import annotations

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings
from mpx.jobs.archive import run_archive
from mpx.jobs.contract import Job, run_job


def archive(fmt: FormatOption = OutputFormat.table) -> None:
    """Move whole UTC days of ticks older than MPX_ARCHIVE_AFTER (2d) from PostgreSQL into Parquet
    (zstd) under MPX_ARCHIVE_DIR, day=YYYY-MM-DD/part-0.parquet: each day written to a temporary file,
    read back and checked (row count and checksum) against PostgreSQL, renamed, then deleted from
    PostgreSQL and recorded in one transaction (each token's latest tick stays: it is its current
    book). A crash at any point loses and duplicates nothing; nothing to do is a no-op. Backtests and
    `mpx export` read archived days from the files."""
    res = run_job(settings(), Job.archive, run_archive)
    if not res.days:
        typer.echo(res.note)
        return
    render(res.days, fmt, ["day", "action", "rows", "kept_in_db", "bytes", "seconds", "rows_per_s"])
    if fmt is OutputFormat.table and res.swept:
        typer.echo(f"{res.swept} superseded tick(s) of archived days deleted")
