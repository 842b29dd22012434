"""``mpx signals``: stored signals, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.db import signals as db_signals
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, OutputFormat, render, settings, since_option, truncate
from mpx.errors import UsageError


def signals(
    level: Annotated[str | None, typer.Option("--level", help="P1, P2 or P3: that level and above.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only signals newer than this, e.g. 30m, 1h, 2d.")]
    = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule id or rule type.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List stored signals, newest first, each with its class: arbitrage (a net edge, legs whose payout
    is guaranteed in every state; `net_edge_bps`) or indicator (its own measure — a move, a break, a
    return if right, a gap — never a net edge; `measure`)."""
    if level is not None and level.upper() not in ("P1", "P2", "P3"):
        raise UsageError(f"--level must be P1, P2 or P3, not {level!r}")
    since_ts = since_option(since)
    with connect(settings()) as conn:
        rows = db_signals.query_signals(conn, level=level.upper() if level else None, since=since_ts,
                                        rule=rule, limit=limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(r["message"], 80)
            if r["measure"] is not None:
                r["measure"] = f"{r['measure']} {r['measure_value']}"
        render(rows, fmt, ["id", "ts", "level", "class", "rule_id", "net_edge_bps", "measure", "edge_score",
                           "message"], empty="(no signals)")
    else:
        render(rows, fmt)
