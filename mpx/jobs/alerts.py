"""Alerts through the outbox: :func:`enqueue` (in the evaluate transaction that stores the signals)
and :func:`flush` (after it: send what is pending, so a failed alert is retried on a later pass),
through the channel ``MPX_NOTIFIER`` chooses (:mod:`mpx.adapters.notify`; Telegram by default).

Flushing takes the due rows ``FOR UPDATE SKIP LOCKED`` and marks each batch sent in its own commit
right after the channel accepted it, so two flushers never send the same row and a crash between
send and commit is the only way a message can go twice (at-least-once, never lost).

What a failure does:
* ``retry_after`` (Telegram's HTTP 429): the rows wait ``retry_after`` seconds; nothing else is sent now;
* timeouts, connection errors, 5xx — or a notifier that raised: the rows stay pending for the next pass;
* ``rejected`` (bot blocked, chat not found, bad token): the rows are marked ``failed`` and not
  retried blindly — fix the configuration, then ``mpx alerts flush --retry-failed``.
Every failure is a warning (never the outcome of the job that flushes: ``mpx evaluate`` and
``mpx alerts flush`` exit 0) and counts in ``mpx_telegram_failures_total``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import psycopg

from mpx.adapters import notify
from mpx.adapters.db import alerts as db
from mpx.adapters.db import state
from mpx.adapters.notify import Button, ButtonNotifier, Keyboard, Notifier, SendResult
from mpx.domain.alerts import LEVELS, at_least, batch, format_alert, format_execution_alert, message_text
from mpx.domain.telegram import LABELS, callback_data, key_from_token
from mpx.errors import ConfigError, TempFailError
from mpx.jobs.contract import Context, JobResult
from mpx.log import get_logger, redact
from mpx.settings import Settings

log = get_logger(__name__)
FAILURES_KEY = "telegram:failures"
MAX_ROWS_PER_FLUSH = 500


def transport(settings: Settings) -> str:
    """``telegram`` or ``telegram-dry-run`` (the chosen channel, and whether it is configured)."""
    return notify.transport(settings)


def enqueue(conn: psycopg.Connection, settings: Settings, after_id: int) -> int:
    """Outbox rows for the signals stored after ``after_id`` at or above MPX_ALERT_MIN_LEVEL, unless
    the same signature alerted within MPX_ALERT_COOLDOWN. Returns rows queued."""
    levels = [lv for lv in LEVELS if at_least(lv, settings.mpx_alert_min_level)]
    return db.enqueue_signals(conn, after_id, levels, settings.mpx_alert_cooldown)


@dataclass
class FlushResult:
    sent: int = 0
    messages: int = 0
    dry_run: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        parts = [f"{self.sent} sent in {self.messages} message(s)"]
        if self.dry_run:
            parts.append(f"{self.dry_run} dry-run")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{self.pending} pending")
        return "alerts: " + ", ".join(parts)


def failures_total(conn: psycopg.Connection) -> int:
    return int(state.get_state(conn, FAILURES_KEY) or 0)


def _count_failure(conn: psycopg.Connection) -> None:
    state.set_state(conn, FAILURES_KEY, failures_total(conn) + 1)


def _send(notifier: Notifier, texts: list[str]) -> list[SendResult]:
    """The notifier's results; one that raises is a channel that is unavailable, never the job's failure."""
    try:
        return notifier.send(texts)
    except Exception as exc:
        return [SendResult("unavailable", error=redact(_one_line(exc)))]


def _send_buttons(notifier: ButtonNotifier, texts: list[str], keyboards: list[Keyboard]) -> list[SendResult]:
    try:
        return notifier.send_with_buttons(texts, keyboards)
    except Exception as exc:
        return [SendResult("unavailable", error=redact(_one_line(exc)))]


def create_buttons(settings: Settings, rows: Sequence[dict[str, Any]], now: datetime | None = None) -> Keyboard:
    """A *Create intent* button per P1/P2 arbitrage signal of a message (#16), when the bot token is
    set (it keys the buttons' MAC: :mod:`mpx.domain.telegram`). Tapped, ``mpx telegram poll`` acts."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if not token:
        return []
    key, issued = key_from_token(token), now or datetime.now(UTC)
    return [[Button(f"{LABELS['create']} · {r['level']} {r['rule_type']} #{r['signal_id']}",
                    callback_data(key, "create", int(r["signal_id"]), issued))]
            for r in rows if r.get("signal_id") is not None and r.get("finding_class") == "arbitrage"
            and r.get("level") in ("P1", "P2")]


def _notifier(settings: Settings) -> Notifier | None:
    """The chosen channel (``None``: dry-run); one that cannot even be built is logged and counts as
    unavailable (:class:`_Broken`)."""
    try:
        return notify.notifier_for(settings)
    except Exception as exc:
        return _Broken(settings.mpx_notifier, redact(_one_line(exc)))


@dataclass
class _Broken:
    name: str
    error: str
    limit: int = 4096

    def send(self, texts: Sequence[str]) -> list[SendResult]:
        return [SendResult("unavailable", error=self.error)]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def flush(conn: psycopg.Connection, settings: Settings) -> FlushResult:
    """Send (or record as dry-run) every due outbox row. Commits as it goes; never raises for a
    channel problem (it is logged, counted and retried later)."""
    res = FlushResult()
    notifier = _notifier(settings)
    if notifier is None:
        res.dry_run = db.mark_pending_dry_run(conn)
        conn.commit()
        return res
    rows = db.lock_due(conn, MAX_ROWS_PER_FLUSH)
    if rows:
        blocks = [format_alert(r) if r["signal_id"] is not None else format_execution_alert(r) for r in rows]
        groups = batch(blocks, notifier.limit)
        texts = [message_text([blocks[i] for i in g]) for g in groups]
        keyboards = [create_buttons(settings, [rows[i] for i in g]) for g in groups]
        if any(keyboards) and isinstance(notifier, ButtonNotifier):
            results = _send_buttons(notifier, texts, keyboards)
        else:
            results = _send(notifier, texts)
        for n, (group, result) in enumerate(zip(groups, results, strict=False)):
            ids = [rows[i]["id"] for i in group]
            if result.outcome == "sent":
                db.mark_sent(conn, ids, result.message_id)
                res.sent += len(ids)
                res.messages += 1
                conn.commit()  # sent is sent: never re-send this batch, whatever happens next
                continue
            # the first failure stops this flush: mark what did not go, count, log
            left = [rows[i]["id"] for g in groups[n:] for i in g]
            wait = timedelta(seconds=result.retry_after or 0)
            if result.outcome == "rejected":
                db.mark_failed(conn, left, result.error)
                res.failed += len(left)
            else:
                db.defer(conn, left, result.error, wait)
            _count_failure(conn)
            conn.commit()
            res.errors.append(result.error or result.outcome)
            hint = {"rejected": f"check the {notifier.name} settings (TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID), then "
                                "`mpx alerts flush --retry-failed`",
                    "retry_after": f"{notifier.name} asked to wait {wait.total_seconds():g} s; the next pass retries",
                    "unavailable": "the next pass retries"}[result.outcome]
            log.warning(f"{notifier.name}: {result.error}", extra={"job": "alerts", "alerts": len(left), "hint": hint})
            break
    conn.commit()
    res.pending = db.count_pending(conn)
    return res


def retry_failed(conn: psycopg.Connection) -> int:
    n = db.requeue_failed(conn)
    conn.commit()
    return n


@dataclass
class AlertsFlushResult(JobResult):
    flushed: FlushResult = field(default_factory=FlushResult)
    requeued: int | None = None


def run_flush(ctx: Context[AlertsFlushResult], *, requeue_failed: bool = False) -> AlertsFlushResult:
    """``mpx alerts flush``: requeue the refused alerts if asked, then send what is due. A channel
    problem is a warning (exit 0); the rows stay pending (or ``failed`` when refused)."""
    requeued = retry_failed(ctx.conn) if requeue_failed else None
    flushed = flush(ctx.conn, ctx.settings)
    ctx.metrics.gauge("mpx_telegram_failures_total", "Telegram sends that failed, since the database was created"
                      ).set(failures_total(ctx.conn))
    ctx.conn.commit()
    warnings = [f"{flushed.line} ({flushed.errors[0]})"] if flushed.errors else []
    return AlertsFlushResult(
        rows=flushed.sent + flushed.dry_run + flushed.failed, flushed=flushed, requeued=requeued, warnings=warnings,
        details={"sent": flushed.sent, "messages": flushed.messages, "dry_run": flushed.dry_run,
                 "failed": flushed.failed, "pending": flushed.pending, "requeued": requeued or 0})


def send_test(settings: Settings, text: str) -> str:
    """``mpx alerts test``: send one plain-text message now. ``sent``, or ``dry-run`` when the channel
    is not configured; ConfigError (78) when it refuses the message, TempFailError (75) when it is
    unavailable."""
    notifier = _notifier(settings)
    if notifier is None:
        return "dry-run"
    [result] = _send(notifier, [escape(text)])
    if result.outcome == "sent":
        return "sent"
    if result.outcome == "rejected":
        raise ConfigError(f"{notifier.name} refused the message: {result.error}",
                          hint="check TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID (has the chat started the bot?)")
    raise TempFailError(f"{notifier.name} unavailable: {result.error}", hint="try again later")
