"""``mpx telegram poll | actions``: one tap in Telegram (#16)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from mpx.cli.common import FormatOption, LimitOption, OutputFormat, render, settings, truncate

app = typer.Typer(
    help="One tap in Telegram: answer the Create intent / Confirm / Cancel buttons under the alerts "
    "(only TELEGRAM_ALLOWED_USERS may act; buttons expire after EXEC_CONFIRM_TTL), and list every tap.",
    no_args_is_help=True,
)


def _duration(value: str) -> timedelta:
    from mpx.domain.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("poll")
def poll(
    duration: Annotated[timedelta | None, typer.Option(
        "--for", parser=_duration, metavar="DURATION",
        help="Long-poll for this long (e.g. 10m) instead of one pass over what is pending.")] = None,
) -> None:
    """Read the button taps waiting in Telegram (getUpdates from the offset stored in PostgreSQL) and
    answer each: Create intent (`mpx intents create`), Confirm (every check of `mpx intents confirm`,
    then execution in EXEC_MODE; the message is edited with the verdict), Cancel. A user not in
    TELEGRAM_ALLOWED_USERS, a button older than EXEC_CONFIRM_TTL or one mpx did not sign is refused and
    recorded. A tap acts once. Exit 0; 75 when another poll runs or Telegram/the database is
    unavailable; 78 without a (valid) TELEGRAM_BOT_TOKEN."""
    from mpx.jobs.contract import Job, run_job
    from mpx.jobs.telegram import run_poll

    res = run_job(settings(), Job.telegram, lambda ctx: run_poll(ctx, for_=duration))
    typer.echo(f"telegram: {res.updates} update(s), {res.acted} acted on, {res.refused} refused")


@app.command("actions")
def actions(limit: LimitOption = 50, fmt: FormatOption = OutputFormat.table) -> None:
    """Every button tapped, newest first: who, what, on which signal or intent, and what came of it."""
    from mpx.adapters.db import telegram as db
    from mpx.adapters.db.connection import connect

    with connect(settings()) as conn:
        rows = db.actions(conn, limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["detail"] = truncate(r["detail"], 60)
    render(rows, fmt, ["id", "ts", "user_id", "username", "action", "target_id", "outcome", "detail"],
           empty="(no taps)")
