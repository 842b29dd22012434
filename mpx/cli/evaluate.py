"""``mpx evaluate``: one pass of the rules over new ticks."""

from __future__ import annotations

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.jobs.contract import run_job
from mpx.jobs.evaluate import load_rule_set, run_evaluate


def evaluate(fmt: FormatOption = OutputFormat.table) -> None:
    """Run the enabled rules in MPX_RULES_DIR over every ingest pass since the last evaluate and
    store new signals (each once: signature + cooldown). Invalid rules exit 78 before anything runs."""
    s = settings()
    rules = load_rule_set(s)
    res = run_job(s, "evaluate", lambda ctx: run_evaluate(ctx, rules))
    rows = [{"level": x.level, "rule": x.rule_id, "edge_bps": x.estimated_edge_bps,
             "message": truncate(x.message, 90) if fmt is OutputFormat.table else x.message}
            for x in res.signals]
    if fmt is OutputFormat.table:
        typer.echo(f"evaluate: {res.steps} step(s), {res.rows} new signal(s)")
        if rows:
            render(rows, fmt)
    else:
        render(rows, fmt, ["level", "rule", "edge_bps", "message"])
