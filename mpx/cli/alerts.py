"""``mpx alerts test | flush | list``."""

from __future__ import annotations

from typing import Annotated

import typer

from mpx.adapters.db import alerts as db_alerts
from mpx.adapters.db.connection import connect
from mpx.cli.common import FormatOption, LimitOption, OutputFormat, render, settings, truncate
from mpx.jobs import alerts
from mpx.jobs.contract import Job, run_job

app = typer.Typer(help="Alerts (Telegram, or the channel MPX_NOTIFIER names): send a test message, flush the "
                       "outbox, list what was alerted.", no_args_is_help=True)


@app.command("test")
def test(text: Annotated[str, typer.Option("--text", help="The message (sent as plain text).")] = "mpx: test alert",
         ) -> None:
    """Send one message now and print `sent` or `dry-run` (TELEGRAM_ENABLED=false or no token/chat).
    A refused message (bad token, bot blocked, chat not found) exits 78; Telegram unreachable 75."""
    typer.echo(alerts.send_test(settings(), text))


@app.command("flush")
def flush(retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Requeue alerts Telegram refused "
                                                     "(after fixing the token or chat).")] = False) -> None:
    """Send every pending alert now (every `mpx evaluate` does this too), under the job contract (the
    `alerts` lock, a job_run row, metrics). Telegram unavailable or refusing is a warning, as in
    `mpx evaluate`: exit 0, the alerts stay pending (refused ones are marked failed)."""
    res = run_job(settings(), Job.alerts, lambda ctx: alerts.run_flush(ctx, requeue_failed=retry_failed))
    if res.requeued is not None:
        typer.echo(f"requeued {res.requeued} failed alert(s)")
    typer.echo(res.flushed.line)


@app.command("list")
def list_(
    status: Annotated[db_alerts.OutboxStatus | None,
                      typer.Option("--status", help="Only alerts in this status.")] = None,
    limit: LimitOption = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The alert outbox, newest first: each alert's signal, status, attempts and last error."""
    with connect(settings()) as conn:
        rows = db_alerts.list_outbox(conn, status.value if status else None, limit)
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(" ".join(str(r["message"] or "").split()), 50)
            r["last_error"] = truncate(r["last_error"], 40) if r["last_error"] else ""
    render(rows, fmt, ["id", "created_at", "level", "rule_id", "status", "attempts", "sent_at", "last_error",
                       "message"], empty="(no alerts)")
