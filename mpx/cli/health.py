"""``mpx health``, ``mpx metrics`` and ``mpx run``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from mpx.cli.common import settings
from mpx.domain.durations import parse_duration
from mpx.errors import MpxError, UsageError
from mpx.exit import ExitCode
from mpx.jobs.health import check, metrics_text


def health() -> None:
    """Print {"status", "db", "rules_heartbeat", "ingest", …} as JSON, with ages in seconds; exit 0
    when healthy, 1 when degraded (database unreachable, no successful evaluate within
    MPX_HEARTBEAT_MAX_AGE, no ingest pass within MPX_INGEST_MAX_AGE). Usable as a monitoring probe."""
    report = check(settings())
    typer.echo(json.dumps(report, indent=2))
    if report["status"] != "healthy":
        raise typer.Exit(int(ExitCode.FAILED))


def metrics() -> None:
    """Print the totals and freshness metrics from the database in Prometheus text format (signals
    by rule, ticks, last pass, Telegram failures, outbox, open opportunities, last success per job)."""
    typer.echo(metrics_text(settings()), nl=False)


def run(
    cycles: Annotated[int, typer.Option("--cycles", min=1, max=1_000_000, help="How many ingest → evaluate cycles.")]
    = 1,
    interval: Annotated[str | None, typer.Option("--interval", help="Pause between cycles, e.g. 5s, 1m.")] = None,
) -> None:
    """Chain ingest → evaluate (for local debugging; on a server schedule them separately). An
    ingest that fails does not stop the evaluate of the same cycle. Exits with the worst code."""
    from mpx.cli.evaluate import evaluate
    from mpx.cli.ingest import ingest

    try:
        pause = parse_duration(interval).total_seconds() if interval else 0.0
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    worst = 0
    for n in range(cycles):
        for step in (ingest, evaluate):
            try:
                step()
            except MpxError as exc:
                worst = max(worst, int(exc.exit_code))
                typer.echo(f"mpx run: {step.__name__} failed: {exc.message}", err=True)
                if int(exc.exit_code) == ExitCode.CONFIG:
                    raise
        if n + 1 < cycles and pause:
            time.sleep(pause)
    if worst:
        raise typer.Exit(worst)
