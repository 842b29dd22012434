"""Alerts through the outbox: :func:`enqueue` (in the evaluate transaction that stores the signals)
and :func:`flush` (after it: send what is pending, so a failed alert is retried on a later pass).

Flushing takes the due rows ``FOR UPDATE SKIP LOCKED`` and marks each batch sent in its own commit
right after Telegram accepted it, so two flushers never send the same row and a crash between
send and commit is the only way a message can go twice (at-least-once, never lost).

What a failure does:
* ``RetryAfter`` (HTTP 429): the rows wait ``retry_after`` seconds; nothing else is sent now;
* timeouts, connection errors, 5xx: the rows stay pending for the next pass;
* ``Forbidden`` / ``BadRequest`` (bot blocked, chat not found, bad token): the rows are marked
  ``failed`` and not retried blindly — fix the configuration, then ``mpx alerts flush --retry-failed``.
Every failure counts in ``mpx_telegram_failures_total``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.adapters.db import state
from mpx.adapters.telegram import TelegramSender
from mpx.domain.alerts import LEVELS, at_least, batch, format_alert, format_execution_alert, message_text
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)
FAILURES_KEY = "telegram:failures"
MAX_ROWS_PER_FLUSH = 500


def transport(settings: Settings) -> str:
    return "telegram" if settings.telegram_live else "telegram-dry-run"


def enqueue(conn: psycopg.Connection, settings: Settings, after_id: int) -> int:
    """Outbox rows for the signals stored after ``after_id`` at or above MPX_ALERT_MIN_LEVEL, unless
    the same signature alerted within MPX_ALERT_COOLDOWN. Returns rows queued."""
    levels = [lv for lv in LEVELS if at_least(lv, settings.mpx_alert_min_level)]
    cur = conn.execute(
        """INSERT INTO alert_outbox (signal_id, signature, level)
           SELECT s.id, s.signature, s.level FROM signal s
           WHERE s.id > %(after)s AND s.level = ANY(%(levels)s)
             AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.signature = s.signature
                             AND o.created_at > now() - %(cooldown)s)
           ORDER BY s.id""",
        {"after": after_id, "levels": levels, "cooldown": settings.mpx_alert_cooldown})
    return cur.rowcount


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


def flush(conn: psycopg.Connection, settings: Settings) -> FlushResult:
    """Send (or record as dry-run) every due outbox row. Commits as it goes; never raises for a
    Telegram problem (it is logged, counted and retried later)."""
    res = FlushResult()
    if not settings.telegram_live:
        cur = conn.execute("""UPDATE alert_outbox SET status = 'dry_run', sent_at = now(), attempts = attempts + 1
                              WHERE status = 'pending'""")
        res.dry_run = cur.rowcount
        conn.commit()
        return res
    assert settings.telegram_bot_token is not None and settings.telegram_chat_id is not None
    token = settings.telegram_bot_token.get_secret_value()
    sender = TelegramSender(token, settings.telegram_chat_id, settings.telegram_api_url)
    cur = conn.cursor(row_factory=dict_row)
    rows: list[dict[str, Any]] = cur.execute(
        """SELECT o.id, o.signal_id, o.text, coalesce(s.level, o.level) AS level, s.rule_type, s.finding_class,
                  s.message, s.estimated_edge_bps, s.executable_shares, s.executable_notional, s.measure,
                  s.measure_value, s.payload
           FROM alert_outbox o LEFT JOIN signal s ON s.id = o.signal_id
           WHERE o.status = 'pending' AND o.next_attempt_at <= now()
           ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED""", (MAX_ROWS_PER_FLUSH,)).fetchall()
    if rows:
        blocks = [format_alert(r) if r["signal_id"] is not None else format_execution_alert(r) for r in rows]
        groups = batch(blocks)
        results = sender.send([message_text([blocks[i] for i in g]) for g in groups])
        for group, result in zip(groups, results, strict=False):
            ids = [rows[i]["id"] for i in group]
            if result.outcome == "sent":
                conn.execute("""UPDATE alert_outbox SET status = 'sent', sent_at = now(), message_id = %s,
                                attempts = attempts + 1, last_error = NULL WHERE id = ANY(%s)""",
                             (result.message_id, ids))
                res.sent += len(ids)
                res.messages += 1
                conn.commit()  # sent is sent: never re-send this batch, whatever happens next
                continue
            # the first failure stops this flush: mark what did not go, count, log
            left = [r["id"] for g in groups[groups.index(group):] for r in (rows[i] for i in g)]
            wait = timedelta(seconds=result.retry_after or 0)
            if result.outcome == "rejected":
                conn.execute("""UPDATE alert_outbox SET status = 'failed', attempts = attempts + 1, last_error = %s
                                WHERE id = ANY(%s)""", (result.error, left))
                res.failed += len(left)
            else:
                conn.execute("""UPDATE alert_outbox SET attempts = attempts + 1, last_error = %s,
                                next_attempt_at = now() + %s WHERE id = ANY(%s)""", (result.error, wait, left))
            _count_failure(conn)
            conn.commit()
            res.errors.append(result.error or result.outcome)
            hint = {"rejected": "check TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID, then `mpx alerts flush --retry-failed`",
                    "retry_after": f"Telegram asked to wait {wait.total_seconds():g} s; the next pass retries",
                    "unavailable": "the next pass retries"}[result.outcome]
            log.warning(f"telegram: {result.error}", extra={"job": "alerts", "alerts": len(left), "hint": hint})
            break
    conn.commit()
    pending = conn.execute("SELECT count(*) FROM alert_outbox WHERE status = 'pending'").fetchone()
    res.pending = int(pending[0]) if pending else 0
    return res


def retry_failed(conn: psycopg.Connection) -> int:
    cur = conn.execute("""UPDATE alert_outbox SET status = 'pending', next_attempt_at = now()
                          WHERE status = 'failed'""")
    conn.commit()
    return cur.rowcount
