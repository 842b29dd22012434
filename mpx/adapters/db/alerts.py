"""``alert_outbox``: the alerts waiting to be sent, sent, recorded as dry-run or refused.

A row is a signal's alert (``signal_id``) or an execution alert (``intent_id`` and its own
``text``). Statuses: ``pending`` (due at ``next_attempt_at``), ``sent``, ``dry_run``, ``failed``
(the channel refused it: not retried until ``mpx alerts flush --retry-failed``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    dry_run = "dry_run"
    failed = "failed"


SIGNAL_LINKS = """(
    SELECT coalesce(jsonb_agg(jsonb_build_object('question', l.label, 'slug', l.slug) ORDER BY l.label), '[]')
    FROM (SELECT CASE WHEN count(*) = 1 THEN min(m.question) ELSE min(e.title) END AS label, min(e.slug) AS slug
          FROM market m JOIN event e ON e.id = m.event_id
          WHERE e.slug <> '' AND m.id IN (
              SELECT s.market_id
              UNION SELECT jsonb_path_query(s.payload, 'lax $.**.market_id') #>> '{}'
              UNION SELECT jsonb_path_query(s.payload, 'lax $.**.market_ids[*]') #>> '{}')
          GROUP BY e.id) l) AS links"""
"""The events of the markets a signal (``s``) names — its own market and every ``market_id`` in its
payload — as ``[{question, slug}]``: the market's question, or the event's title when several of its
markets are named. Events without a slug (stored before #16) are left out."""


def enqueue_signals(conn: psycopg.Connection, after_id: int, levels: Sequence[str], cooldown: timedelta) -> int:
    """Rows for the signals stored after ``after_id`` at one of ``levels``, unless the same signature
    was queued within ``cooldown``. Returns rows queued."""
    cur = conn.execute(
        """INSERT INTO alert_outbox (signal_id, signature, level)
           SELECT s.id, s.signature, s.level FROM signal s
           WHERE s.id > %(after)s AND s.level = ANY(%(levels)s)
             AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.signature = s.signature
                             AND o.created_at > now() - %(cooldown)s)
           ORDER BY s.id""",
        {"after": after_id, "levels": list(levels), "cooldown": cooldown})
    return cur.rowcount


def mark_pending_dry_run(conn: psycopg.Connection) -> int:
    """Every pending row recorded as dry-run (no channel configured). Returns rows."""
    return conn.execute("""UPDATE alert_outbox SET status = 'dry_run', sent_at = now(), attempts = attempts + 1
                           WHERE status = 'pending'""").rowcount


def lock_due(conn: psycopg.Connection, limit: int) -> list[dict[str, Any]]:
    """The due pending rows, oldest first, with their signal's fields (and ``links``: its markets' events,
    see :data:`SIGNAL_LINKS`), locked ``FOR UPDATE SKIP
    LOCKED`` (two flushers never take the same row)."""
    return conn.cursor(row_factory=dict_row).execute(
        f"""SELECT o.id, o.signal_id, o.text, coalesce(s.level, o.level) AS level, s.rule_type, s.finding_class,
                  s.message, s.estimated_edge_bps, s.executable_shares, s.executable_notional, s.measure,
                  s.measure_value, s.payload, {SIGNAL_LINKS}
           FROM alert_outbox o LEFT JOIN signal s ON s.id = o.signal_id
           WHERE o.status = 'pending' AND o.next_attempt_at <= now()
           ORDER BY o.id LIMIT %s FOR UPDATE OF o SKIP LOCKED""", (limit,)).fetchall()


def mark_sent(conn: psycopg.Connection, ids: Sequence[int], message_id: int | None) -> None:
    conn.execute("""UPDATE alert_outbox SET status = 'sent', sent_at = now(), message_id = %s,
                    attempts = attempts + 1, last_error = NULL WHERE id = ANY(%s)""", (message_id, list(ids)))


def mark_failed(conn: psycopg.Connection, ids: Sequence[int], error: str | None) -> None:
    conn.execute("""UPDATE alert_outbox SET status = 'failed', attempts = attempts + 1, last_error = %s
                    WHERE id = ANY(%s)""", (error, list(ids)))


def defer(conn: psycopg.Connection, ids: Sequence[int], error: str | None, wait: timedelta) -> None:
    """The rows stay pending, due again after ``wait``."""
    conn.execute("""UPDATE alert_outbox SET attempts = attempts + 1, last_error = %s,
                    next_attempt_at = now() + %s WHERE id = ANY(%s)""", (error, wait, list(ids)))


def count_pending(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM alert_outbox WHERE status = 'pending'").fetchone()
    return int(row[0]) if row else 0


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {status: int(n) for status, n in conn.execute("SELECT status, count(*) FROM alert_outbox GROUP BY status")}


def requeue_failed(conn: psycopg.Connection) -> int:
    return conn.execute("""UPDATE alert_outbox SET status = 'pending', next_attempt_at = now()
                           WHERE status = 'failed'""").rowcount


def list_outbox(conn: psycopg.Connection, status: str | None, limit: int) -> list[dict[str, Any]]:
    """The outbox, newest first (what ``mpx alerts list`` prints)."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT o.id, o.created_at, o.level, coalesce(s.rule_id, 'intent ' || o.intent_id) AS rule_id, o.status,
                  o.attempts, o.sent_at, o.last_error, coalesce(s.message, o.text) AS message
           FROM alert_outbox o LEFT JOIN signal s ON s.id = o.signal_id
           WHERE %(st)s::text IS NULL OR o.status = %(st)s ORDER BY o.id DESC LIMIT %(n)s""",
        {"st": status, "n": limit}).fetchall()
