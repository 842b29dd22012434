"""``mpx stream --for DURATION``: one bounded pass of the websocket market channel into ticks."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from mpx.cli.common import settings


def _duration(value: str) -> timedelta:
    from mpx.domain.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def stream(
    duration: Annotated[timedelta, typer.Option(
        "--for", parser=_duration, metavar="DURATION",
        help="How long the pass streams, e.g. 60s, 1h (then it flushes and exits 0).")],
    evaluate: Annotated[bool, typer.Option(
        "--evaluate", help="Also run the rules on every flush in-process (the episode logic of `mpx evaluate`, "
        "holding its lock for the pass).")] = False,
) -> None:
    """Subscribe to the CLOB websocket market channel for every active market's outcome tokens
    (MPX_WS_URL, MPX_WS_ASSETS_PER_CONN per connection), keep their order books from snapshots and
    deltas, and every MPX_STREAM_FLUSH store the books that changed as an ordinary pass (COPY, one
    transaction), which `mpx evaluate` reads like an ingest pass. Books that go wrong are
    re-snapshotted over REST. Ends after DURATION or on SIGTERM with a last flush (exit 0); exits
    75 when another stream is running, no connection can be opened or the database is unavailable."""
    from mpx.jobs.contract import Job, run_job
    from mpx.jobs.stream import run_stream

    s = settings()
    rules = None
    if evaluate:
        from mpx.jobs.evaluate import load_rule_set
        from mpx.jobs.synonyms import load_synonyms_config

        rules = load_rule_set(s)  # invalid rules or synonyms exit 78 before anything runs
        load_synonyms_config(s)
    res = run_job(s, Job.stream, lambda ctx: run_stream(ctx, duration, rules))
    lag = "-" if res.lag_p99 is None else f"{res.lag_p50:.3f}/{res.lag_p99:.3f} s"
    typer.echo(f"stream {res.seconds:.1f} s: {res.messages} messages, {res.passes} passes, {res.rows} written, "
               f"lag p50/p99 {lag}")
    if "evaluate" in res.details:
        ev = res.details["evaluate"]
        typer.echo(f"evaluate: {ev['steps']} step(s), {ev['new_signals']} new signal(s); opportunities: "
                   f"{ev['opened']} opened, {ev['closed']} closed")
