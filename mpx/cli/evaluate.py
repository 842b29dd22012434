"""``mpx evaluate``: one pass of the rules over new ticks."""

from __future__ import annotations

import typer

from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.jobs.contract import Job, run_job
from mpx.jobs.evaluate import load_rule_set, run_evaluate
from mpx.jobs.synonyms import load_synonyms_config


def evaluate(fmt: FormatOption = OutputFormat.table) -> None:
    """Run the enabled rules in MPX_RULES_DIR over every ingest pass since the last evaluate.

    What the rules find is tracked as opportunities (episodes) that open, update and close; a
    signal is stored (and alerted) when one opens or improves materially — a higher level, or a
    metric (an arbitrage's net edge, an indicator's measure) MPX_EPISODE_IMPROVE_BPS above the last
    alert — never twice within the rule's cooldown. Invalid rules exit 78 before anything runs."""
    s = settings()
    rules = load_rule_set(s)
    load_synonyms_config(s)  # an invalid (or configured but missing) synonyms file exits 78 before anything runs
    res = run_job(s, Job.evaluate, lambda ctx: run_evaluate(ctx, rules))
    rows = [{"level": x.level, "class": x.finding_class, "rule": x.rule_id, "alert": x.payload.get("alert"),
             "net_edge_bps": x.estimated_edge_bps,
             "measure": None if x.measure is None else f"{x.measure.name} {x.measure.value}",
             "message": truncate(x.message, 90) if fmt is OutputFormat.table else x.message}
            for x in res.signals]
    if fmt is OutputFormat.table:
        typer.echo(f"evaluate: {res.steps} step(s), {res.rows} new signal(s); opportunities: {res.opened} opened, "
                   f"{res.closed} closed, {res.details.get('open', 0)} open")
        if res.alerts is not None and (res.alerts.sent or res.alerts.dry_run or res.alerts.pending
                                       or res.alerts.failed):
            typer.echo(res.alerts.line)
        if rows:
            render(rows, fmt)
    else:
        render(rows, fmt, ["level", "class", "rule", "alert", "net_edge_bps", "measure", "message"])
