"""``mpx opportunities``: episodes — what the rules found, from when it opened until it closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer

from mpx.adapters.db import opportunities as db_opps
from mpx.adapters.db.connection import connect
from mpx.cli.common import (
    FormatOption,
    LimitOption,
    OutputFormat,
    SinceOption,
    VenueOption,
    render,
    settings,
    truncate,
)
from mpx.domain.durations import format_duration


class Status(StrEnum):
    open = "open"
    closed = "closed"
    all = "all"


def lived(td: timedelta) -> str:
    """How long an episode lived: under a minute to the millisecond (``0.35s``, ``12.004s``: stream
    passes are a second apart or less), longer in whole units (``5m12s``)."""
    if td < timedelta(minutes=1):
        return f"{td.total_seconds():.3f}".rstrip("0").rstrip(".") + "s"
    return format_duration(td)


def opportunities(
    status: Annotated[Status, typer.Option("--status", help="Open, closed or all opportunities.")] = Status.open,
    since: SinceOption = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id or rule type.")] = None,
    venue: VenueOption = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List opportunities (episodes of one signature), newest first: when each opened and closed,
    its duration, its class (arbitrage / indicator), first/last/max metric — the net edge in bps for
    arbitrage, the indicator's own measure (named in `measure`) otherwise — and max executable size."""
    with connect(settings()) as conn:
        rows = db_opps.query(conn, status=status.value, since=since, rule=rule, venue=venue.value if venue else None,
                            limit=limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(r["message"], 60)
            r["duration"] = lived(r["duration"]) if r["duration"] is not None else ""
            for key in ("opened_at", "closed_at"):  # stream passes are sub-second apart: keep the milliseconds
                if isinstance(r.get(key), datetime):
                    r[key] = r[key].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        render(rows, fmt, ["id", "level", "class", "rule_id", "opened_at", "closed_at", "duration", "measure",
                           "max_metric", "last_metric", "max_executable_shares", "message"],
               empty="(no opportunities)" if status is Status.all else f"(no {status.value} opportunities)")
    else:
        render(rows, fmt)
