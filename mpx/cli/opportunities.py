"""``mpx opportunities``: episodes — what the rules found, from when it opened until it closed."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.db import opportunities as db_opps
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, since_option, truncate
from mpx.errors import UsageError


def opportunities(
    status: Annotated[str, typer.Option("--status", help="open, closed or all.")] = "open",
    since: Annotated[str | None, typer.Option("--since", help="Only opened within this, e.g. 30m, 1h, 2d.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id or rule type.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List opportunities (episodes of one signature), newest first: when each opened and closed,
    its duration, its class (arbitrage / indicator), first/last/max metric — the net edge in bps for
    arbitrage, the indicator's own measure (named in `measure`) otherwise — and max executable size."""
    if status not in ("open", "closed", "all"):
        raise UsageError(f"--status must be open, closed or all, not {status!r}")
    since_ts = since_option(since)
    with connect(settings()) as conn:
        rows = db_opps.query(conn, status=status, since=since_ts, rule=rule, limit=limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(r["message"], 60)
            r["duration"] = str(r["duration"]).split(".")[0]
        render(rows, fmt, ["id", "level", "class", "rule_id", "opened_at", "closed_at", "duration", "measure",
                           "max_metric", "last_metric", "max_executable_shares", "message"],
               empty=f"(no {status if status != 'all' else ''} opportunities)".replace("  ", " "))
    else:
        render(rows, fmt)
