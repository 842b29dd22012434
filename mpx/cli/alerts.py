"""``mpx alerts test | flush | list``."""

from __future__ import annotations

from typing import Annotated

import typer
from psycopg.rows import dict_row

from mpx.adapters.db.connection import connect
from mpx.adapters.telegram import TelegramSender
from mpx.cli.common import FormatOption, OutputFormat, render, settings, truncate
from mpx.errors import ConfigError, TempFailError
from mpx.jobs import alerts

app = typer.Typer(help="Telegram alerts: send a test message, flush the outbox, list what was alerted.",
                  no_args_is_help=True)


@app.command("test")
def test(text: Annotated[str, typer.Option("--text", help="The message (sent as plain text).")] = "mpx: test alert",
         ) -> None:
    """Send one message now and print `sent` or `dry-run` (TELEGRAM_ENABLED=false or no token/chat).
    A refused message (bad token, bot blocked, chat not found) exits 78; Telegram unreachable 75."""
    s = settings()
    if not s.telegram_live:
        typer.echo("dry-run")
        return
    assert s.telegram_bot_token is not None and s.telegram_chat_id is not None
    from html import escape

    [result] = TelegramSender(s.telegram_bot_token.get_secret_value(), s.telegram_chat_id,
                              s.telegram_api_url).send([escape(text)])
    if result.outcome == "sent":
        typer.echo("sent")
    elif result.outcome == "rejected":
        raise ConfigError(f"telegram refused the message: {result.error}",
                          hint="check TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID (has the chat started the bot?)")
    else:
        raise TempFailError(f"telegram unavailable: {result.error}", hint="try again later")


@app.command("flush")
def flush(retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Requeue alerts Telegram refused "
                                                     "(after fixing the token or chat).")] = False) -> None:
    """Send every pending alert now (every `mpx evaluate` does this too)."""
    s = settings()
    with connect(s) as conn:
        if retry_failed:
            typer.echo(f"requeued {alerts.retry_failed(conn)} failed alert(s)")
        res = alerts.flush(conn, s)
    typer.echo(res.line)
    if res.errors:
        raise TempFailError(f"telegram: {res.errors[0]}", hint="pending alerts are retried by the next pass")


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="pending, sent, dry_run or failed.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most this many rows.")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The alert outbox, newest first: each alert's signal, status, attempts and last error."""
    with connect(settings()) as conn:
        rows = conn.cursor(row_factory=dict_row).execute(
            """SELECT o.id, o.created_at, o.level, coalesce(s.rule_id, 'intent ' || o.intent_id) AS rule_id, o.status,
                      o.attempts, o.sent_at, o.last_error, coalesce(s.message, o.text) AS message
               FROM alert_outbox o LEFT JOIN signal s ON s.id = o.signal_id
               WHERE %(st)s::text IS NULL OR o.status = %(st)s ORDER BY o.id DESC LIMIT %(n)s""",
            {"st": status, "n": limit}).fetchall()
    if fmt is OutputFormat.table:
        for r in rows:
            r["message"] = truncate(" ".join(str(r["message"] or "").split()), 50)
            r["last_error"] = truncate(r["last_error"], 40) if r["last_error"] else ""
    render(rows, fmt, ["id", "created_at", "level", "rule_id", "status", "attempts", "sent_at", "last_error",
                       "message"], empty="(no alerts)")
