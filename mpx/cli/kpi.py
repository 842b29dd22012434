"""``mpx kpi``: daily rule KPIs."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings
from mpx.jobs.contract import Job, run_job
from mpx.jobs.kpi import run_kpi


def kpi(
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="How many UTC days back, today included.")] = 7,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Roll signals up into rule_kpi_daily — per UTC day, rule and class: signals, P1 count, average
    gap between signals, opportunities (episodes) opened and their median duration; arbitrage rows
    also average the net edge (bps) and total the profit locked in at entry (USDC at the executable
    size); indicator rows average their own measure instead (a move, a break, a return if right, a
    gap: never an edge) — and print the last --days."""
    res = run_job(settings(), Job.kpi, lambda ctx: run_kpi(ctx, days))
    render(res.table, fmt, ["day", "rule_id", "class", "signals", "p1", "avg_gap_seconds", "avg_edge_bps",
                            "total_edge_usdc", "measure", "avg_measure", "episodes", "median_episode_seconds"],
           empty=f"(no signals in the last {days} day(s))")
