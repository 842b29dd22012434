"""Order intents, their audit trail, the execution policy and the risk state row.

Locking (what makes the limits hold under concurrency): a confirm locks its intent's row, then the
single ``risk_state`` row, both ``FOR UPDATE``, always in that order. While it holds the risk row
no other confirm can check or reserve, so the usage it reads is complete and what it reserves is
counted by the next one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mpx.adapters.db.connection import lock_key
from mpx.domain.execution import EXECUTED, HELD, LIVE, OPEN, IntentStatus
from mpx.domain.models import Book
from mpx.domain.risk import Breaker, Policy


def current_policy(conn: psycopg.Connection, policy: Policy) -> int:
    """The version of ``policy``: the latest stored one when it matches, else a new version."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("execution_policy"),))
    row = conn.execute("SELECT version, fingerprint FROM execution_policy ORDER BY version DESC LIMIT 1").fetchone()
    fp = policy.fingerprint()
    if row is not None and row[1] == fp:
        return int(row[0])
    new = conn.execute("INSERT INTO execution_policy (params, fingerprint) VALUES (%s, %s) RETURNING version",
                       (Jsonb(policy.params()), fp)).fetchone()
    assert new is not None
    return int(new[0])


def policies(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT version, created_at, params FROM execution_policy ORDER BY version").fetchall()


def get_signal(conn: psycopg.Connection, signal_id: int) -> dict[str, Any] | None:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT id, ts, rule_id, rule_type, level, finding_class, market_id, message, estimated_edge_bps, measure, "
        "measure_value, payload FROM signal "
        "WHERE id = %s", (signal_id,)).fetchone()


def live_intent_for(conn: psycopg.Connection, signal_id: int) -> dict[str, Any] | None:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT id, status FROM order_intent WHERE signal_id = %s AND status = ANY(%s) ORDER BY id DESC LIMIT 1",
        (signal_id, list(LIVE))).fetchone()


def insert_intent(conn: psycopg.Connection, values: dict[str, Any], actor: str, reason: str) -> int | None:
    """The new intent's id, or ``None`` (the transaction rolled back) when its signal already has a
    live intent (``order_intent_one_live``: a concurrent create won)."""
    cols = list(values)
    try:
        row = conn.execute(
            f"INSERT INTO order_intent ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING id",
            [Jsonb(v) if isinstance(v, dict | list) and c not in ("market_ids", "venues") else v
             for c, v in values.items()],
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        conn.rollback()
        return None
    assert row is not None
    intent_id = int(row[0])
    record_event(conn, intent_id, None, "suggested", reason, actor, {"signal_id": values.get("signal_id")})
    return intent_id


def record_event(conn: psycopg.Connection, intent_id: int, from_status: str | None, to_status: str, reason: str,
                 actor: str, details: dict[str, Any] | None = None) -> None:
    conn.execute(
        """INSERT INTO order_intent_event (intent_id, from_status, to_status, reason, actor, details)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (intent_id, from_status, to_status, reason, actor, Jsonb(details or {})))


def lock_intent(conn: psycopg.Connection, intent_id: int, *, skip_locked: bool = False) -> dict[str, Any] | None:
    """The intent's row, locked ``FOR UPDATE`` (``skip_locked``: None when another transaction holds it)."""
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM order_intent WHERE id = %s FOR UPDATE" + (" SKIP LOCKED" if skip_locked else ""), (intent_id,)
    ).fetchone()


def get_intent(conn: psycopg.Connection, intent_id: int) -> dict[str, Any] | None:
    return conn.cursor(row_factory=dict_row).execute("SELECT * FROM order_intent WHERE id = %s",
                                                     (intent_id,)).fetchone()


def transition(conn: psycopg.Connection, intent: dict[str, Any], to_status: IntentStatus, reason: str, actor: str,
               details: dict[str, Any] | None = None, **fields: Any) -> None:
    """Move a (locked) intent to ``to_status``, updating ``fields``, and record it in the audit trail."""
    sets = {"status": to_status, "reason": reason, **fields}
    assignments = ", ".join(f"{k} = %s" for k in sets)
    conn.execute(f"UPDATE order_intent SET {assignments}, updated_at = now() WHERE id = %s",
                 [Jsonb(v) if isinstance(v, dict | list) else v for v in sets.values()] + [intent["id"]])
    record_event(conn, intent["id"], intent["status"], to_status, reason, actor, details)
    intent.update(sets)


def lock_risk(conn: psycopg.Connection) -> Breaker:
    row = conn.execute(
        """SELECT breaker, opened_at, open_until, reason, consecutive_failures, loss_since FROM risk_state
           WHERE id = 1 FOR UPDATE""").fetchone()
    assert row is not None, "risk_state row missing (migration 006)"
    return Breaker(row[0], row[1], row[2], row[3], row[4], row[5])


def read_breaker(conn: psycopg.Connection) -> Breaker:
    row = conn.execute(
        "SELECT breaker, opened_at, open_until, reason, consecutive_failures, loss_since FROM risk_state WHERE id = 1"
    ).fetchone()
    assert row is not None
    return Breaker(row[0], row[1], row[2], row[3], row[4], row[5])


def save_breaker(conn: psycopg.Connection, b: Breaker) -> None:
    conn.execute(
        """UPDATE risk_state SET breaker = %s, opened_at = %s, open_until = %s, reason = %s,
                  consecutive_failures = %s, loss_since = %s, updated_at = now() WHERE id = 1""",
        (b.state, b.opened_at, b.open_until, b.reason, b.consecutive_failures, b.loss_since))


def record_risk_event(conn: psycopg.Connection, action: str, reason: str, actor: str,
                      details: dict[str, Any] | None = None) -> None:
    conn.execute("INSERT INTO risk_event (action, reason, actor, details) VALUES (%s, %s, %s, %s)",
                 (action, reason, actor, Jsonb(details or {})))


def risk_events(conn: psycopg.Connection, limit: int = 10) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT ts, action, reason, actor FROM risk_event ORDER BY id DESC LIMIT %s", (limit,)).fetchall()


def usage(conn: psycopg.Connection, day: date, loss_since: datetime) -> tuple[int, Decimal, Decimal]:
    """(open intents, notional reserved or spent on ``day``, realised PnL since ``loss_since``)."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE status = ANY(%(open)s)),
                  coalesce(sum(reserved_notional) FILTER (WHERE reserved_day = %(day)s), 0),
                  coalesce(sum(pnl) FILTER (WHERE closed_at >= %(since)s), 0)
           FROM order_intent""",
        {"open": list(OPEN), "day": day, "since": loss_since}).fetchone()
    assert row is not None
    return int(row[0]), Decimal(row[1]), Decimal(row[2])


def risk_usage(conn: psycopg.Connection, rule_id: str, day: date, day_since: datetime) -> dict[str, Decimal | int]:
    """The strategy and account usage (#16): open intents and today's notional of ``rule_id``; the
    exposure of every open intent; what intents in flight (``sent``) reserved; the cost of the
    positions held; realised PnL since ``day_since`` (00:00 UTC, or a later reset) and in all."""
    row = conn.execute(
        """SELECT count(*) FILTER (WHERE status = ANY(%(open)s) AND rule_id = %(rule)s),
                  coalesce(sum(reserved_notional) FILTER (WHERE reserved_day = %(day)s AND rule_id = %(rule)s), 0),
                  coalesce(sum(reserved_notional) FILTER (WHERE status = ANY(%(open)s)), 0),
                  coalesce(sum(reserved_notional) FILTER (WHERE status = 'sent'), 0),
                  coalesce(sum(reserved_notional) FILTER (WHERE status = ANY(%(held)s)), 0),
                  coalesce(sum(pnl) FILTER (WHERE closed_at >= %(since)s), 0),
                  coalesce(sum(pnl), 0)
           FROM order_intent""",
        {"open": list(OPEN), "held": list(HELD), "rule": rule_id, "day": day, "since": day_since}).fetchone()
    assert row is not None
    return {"rule_open": int(row[0]), "rule_day": Decimal(row[1]), "exposure": Decimal(row[2]),
            "in_flight": Decimal(row[3]), "held_cost": Decimal(row[4]), "day_pnl": Decimal(row[5]),
            "realised": Decimal(row[6])}


def canary_due(conn: psycopg.Connection, mode: str, policy_version: int, day_start: datetime) -> bool:
    """No intent of ``mode`` was executed (sent, filled, settled, …; not failed, rejected or cancelled)
    under ``policy_version`` since ``day_start``: the next one is a canary."""
    row = conn.execute(
        """SELECT NOT EXISTS (SELECT 1 FROM order_intent WHERE mode = %s AND policy_version = %s
                                 AND confirmed_at >= %s AND status = ANY(%s))""",
        (mode, policy_version, day_start, list(EXECUTED))).fetchone()
    assert row is not None
    return bool(row[0])


def observed_at(conn: psycopg.Connection, books: dict[str, Book]) -> dict[str, datetime | None]:
    """When each token's book was last observed: its venue's latest ingest pass unless that pass
    missed the token (an unchanged book is not rewritten, so the tick's own time is when it last
    *changed*)."""
    rows = conn.execute(
        """SELECT o.token_id, p.ts, o.token_id = ANY(p.missing) FROM outcome o JOIN market m ON m.id = o.market_id
           CROSS JOIN LATERAL (SELECT ts, missing FROM ingest_pass WHERE venue = m.venue ORDER BY ts DESC LIMIT 1) p
           WHERE o.token_id = ANY(%s)""", (list(books),)).fetchall()
    last = {r[0]: r[1] for r in rows if not r[2]}
    out: dict[str, datetime | None] = {}
    for token, book in books.items():
        seen = last.get(token)
        if seen is not None and book.ts is not None and book.ts <= seen:
            out[token] = seen
        else:
            out[token] = book.ts
    return out


def open_intents(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Intents holding shares (filled, partially filled, unwinding)."""
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT * FROM order_intent WHERE status = ANY(%s) ORDER BY id", (list(HELD),)).fetchall()


def naked_intents(conn: psycopg.Connection) -> tuple[int, ...]:
    """Intents ``unwinding``: a leg was killed after others filled and not everything was sold back."""
    return tuple(int(r[0]) for r in conn.execute(
        "SELECT id FROM order_intent WHERE status = 'unwinding' ORDER BY id").fetchall())


def enqueue_execution_alert(conn: psycopg.Connection, intent_id: int, level: str, signature: str, text: str) -> int:
    """An alert about an execution (no signal): a row of the same outbox `mpx alerts flush` and every
    `mpx evaluate` send. ``text`` is plain text built from numbers and labels (never a secret)."""
    row = conn.execute(
        """INSERT INTO alert_outbox (signal_id, intent_id, signature, level, text) VALUES (NULL, %s, %s, %s, %s)
           RETURNING id""", (intent_id, signature, level, text)).fetchone()
    assert row is not None
    return int(row[0])


def settle_prices(conn: psycopg.Connection, tokens: Sequence[str]) -> dict[str, Decimal | None]:
    return dict(conn.execute("SELECT token_id, settle_price FROM outcome WHERE token_id = ANY(%s)",
                             (list(tokens),)).fetchall())


def list_intents(conn: psycopg.Connection, status: Sequence[str] | None, limit: int,
                 venue: str | None = None) -> list[dict[str, Any]]:
    """Intents, newest first; ``venue``: with a leg there."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT i.id, i.signal_id, i.status, i.created_at, i.updated_at, i.rule_id, i.level, i.mode, i.shares,
                  i.notional, i.max_notional, i.expected_edge_bps, i.expected_profit, i.filled_cost, i.pnl,
                  i.policy_version, i.canary, i.reason, i.legs, i.fills, i.unwind, i.verdict, s.message, i.venues
           FROM order_intent i JOIN signal s ON s.id = i.signal_id
           WHERE (%(st)s::text[] IS NULL OR i.status = ANY(%(st)s))
             AND (%(v)s::text IS NULL OR %(v)s = ANY(i.venues))
           ORDER BY i.id DESC LIMIT %(n)s""",
        {"st": list(status) if status else None, "n": limit, "v": venue}).fetchall()


def intent_events(conn: psycopg.Connection, intent_id: int) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT ts, from_status, to_status, reason, actor, details FROM order_intent_event WHERE intent_id = %s
           ORDER BY id""", (intent_id,)).fetchall()


def status_totals(conn: psycopg.Connection) -> dict[str, int]:
    """How many intents ever entered each status (from the append-only audit trail: monotonic). An
    event that records an attempt without a change of status (another unwind attempt) is not an
    entry."""
    return {s: int(n) for s, n in conn.execute(
        """SELECT to_status, count(*) FROM order_intent_event WHERE from_status IS DISTINCT FROM to_status
           GROUP BY to_status""").fetchall()}
