"""What ``mpx intents reconcile`` reads: the orders live intents sent, from their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


def venue_order_events(conn: psycopg.Connection, statuses: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """(intent id, event details) of every audit-trail event of a live intent in ``statuses`` that
    lists orders sent (``venue_orders``) or reconciled (``reconciled_orders``), oldest first."""
    rows = conn.execute(
        """SELECT e.intent_id, e.details FROM order_intent_event e JOIN order_intent i ON i.id = e.intent_id
           WHERE i.mode = 'live' AND i.status = ANY(%s)
             AND (e.details ? 'venue_orders' OR e.details ? 'reconciled_orders')
           ORDER BY e.intent_id, e.id""", (list(statuses),)).fetchall()
    return [(int(r[0]), r[1]) for r in rows]


def stuck_sent(conn: psycopg.Connection, older_than: datetime) -> list[dict[str, Any]]:
    """Live intents still ``sent`` (reserved, orders going out) since before ``older_than``: a confirm
    that died before recording its orders. Each with ``sent_at`` (its confirm time)."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT id, COALESCE(confirmed_at, updated_at) AS sent_at FROM order_intent
           WHERE mode = 'live' AND status = 'sent' AND COALESCE(confirmed_at, updated_at) < %s
           ORDER BY id""", (older_than,)).fetchall()


def recorded_order_ids(conn: psycopg.Connection, since: datetime) -> set[str]:
    """The order ids every intent's audit trail lists (sent or reconciled) since ``since``: trades of
    these orders belong to the intent that recorded them."""
    rows = conn.execute(
        """SELECT DISTINCT o->>'order_id' FROM order_intent_event e,
                  jsonb_array_elements(COALESCE(e.details->'venue_orders', '[]'::jsonb)
                                       || COALESCE(e.details->'reconciled_orders', '[]'::jsonb)) o
           WHERE e.ts >= %s AND o ? 'order_id'""", (since,)).fetchall()
    return {str(r[0]) for r in rows if r[0]}
