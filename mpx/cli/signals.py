"""``mpx signals``: stored signals, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.db import signals as db_signals
from mpx.adapters.db.connection import connect
from mpx.cli.common import (
    FormatOption,
    Level,
    LimitOption,
    OutputFormat,
    SinceOption,
    VenueOption,
    render,
    settings,
    truncate,
)


def signals(
    level: Annotated[Level | None, typer.Option("--level", case_sensitive=False,
                                                help="That level and above (P2: P1 and P2).")] = None,
    since: SinceOption = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id or rule type.")] = None,
    venue: VenueOption = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List stored signals, newest first, each with its class: arbitrage (a net edge, legs whose payout
    is guaranteed in every state; `net_edge_bps`) or indicator (its own measure — a move, a break, a
    return if right, a gap — never a net edge; `measure`)."""
    with connect(settings()) as conn:
        rows = db_signals.query_signals(conn, level=level.value if level else None, since=since, rule=rule,
                                        venue=venue.value if venue else None, limit=limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(r["message"], 80)
            if r["measure"] is not None:
                r["measure"] = f"{r['measure']} {r['measure_value']}"
        render(rows, fmt, ["id", "ts", "level", "class", "rule_id", "net_edge_bps", "measure", "edge_score",
                           "message"], empty="(no signals)")
    else:
        render(rows, fmt)
