"""``mpx kpi``: daily rule KPIs."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings
from mpx.jobs.contract import run_job
from mpx.jobs.kpi import run_kpi


def kpi(
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="How many UTC days back, today included.")] = 7,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Roll signals up into rule_kpi_daily — per UTC day and rule: signals, P1 count, average gap
    between signals, average net edge (bps) and total net edge (USDC at the executable size),
    opportunities (episodes) opened and their median duration — and print the last --days."""
    res = run_job(settings(), "kpi", lambda ctx: run_kpi(ctx, days))
    render(res.table, fmt, ["day", "rule_id", "signals", "p1", "avg_gap_seconds", "avg_edge_bps", "total_edge_usdc",
                            "episodes", "median_episode_seconds"], empty=f"(no signals in the last {days} day(s))")
