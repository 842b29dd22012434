"""What ``mpx intents reconcile`` reads: the orders live intents sent, from their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


def venue_order_events(conn: psycopg.Connection, statuses: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """(intent id, event details) of every audit-trail event of a live intent in ``statuses`` that
    lists orders sent (``venue_orders``) or reconciled (``reconciled_orders``), oldest first."""
    rows = conn.execute(
        """SELECT e.intent_id, e.details FROM order_intent_event e JOIN order_intent i ON i.id = e.intent_id
           WHERE i.mode = 'live' AND i.status = ANY(%s)
             AND (e.details ? 'venue_orders' OR e.details ? 'reconciled_orders')
           ORDER BY e.intent_id, e.id""", (list(statuses),)).fetchall()
    return [(int(r[0]), r[1]) for r in rows]
