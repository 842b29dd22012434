"""Signals: insert (idempotent), last-seen times for cooldowns, and queries for `mpx signals`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mpx.domain.rules.base import Signal


def insert_signals(conn: psycopg.Connection, signals: Sequence[Signal],
                   links: Sequence[tuple[int | None, str | None]] | None = None) -> int:
    """Insert signals; a (signature, ts) already stored is skipped. ``links`` gives each signal's
    (opportunity id, reason). Returns rows inserted."""
    inserted = 0
    with conn.cursor() as cur:
        for i, s in enumerate(signals):
            opp, reason = links[i] if links else (None, None)
            arb = s.arbitrage
            cur.execute(
                """INSERT INTO signal (ts, rule_id, rule_type, level, market_id, group_key, message, edge_score,
                                       finding_class, estimated_edge_bps, payout_per_share, executable_shares,
                                       executable_notional, measure, measure_value, payload, signature,
                                       opportunity_id, reason, venues)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                           coalesce((SELECT venues FROM opportunity WHERE id = %s),
                                    (SELECT ARRAY[venue] FROM market WHERE id = %s), '{polymarket}'))
                   ON CONFLICT (signature, ts) DO NOTHING""",
                (s.ts, s.rule_id, s.rule_type, s.level, s.market_id, s.group_key, s.message, s.edge_score,
                 s.finding_class, s.estimated_edge_bps, None if arb is None else arb.payout_per_share,
                 s.executable_shares, s.executable_notional, None if s.measure is None else s.measure.name,
                 None if s.measure is None else s.measure.value, Jsonb(dict(s.payload)), s.signature, opp, reason,
                 opp, s.market_id),
            )
            inserted += cur.rowcount
    return inserted


def last_seen(conn: psycopg.Connection, signatures: Sequence[str]) -> dict[str, datetime]:
    if not signatures:
        return {}
    rows = conn.execute(
        "SELECT signature, max(ts) FROM signal WHERE signature = ANY(%s) GROUP BY signature",
        (list(set(signatures)),),
    ).fetchall()
    return dict(rows)


def query_signals(
    conn: psycopg.Connection, *, level: str | None = None, since: datetime | None = None,
    rule: str | None = None, venue: str | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    """Signals, newest first. ``level`` P2 means P2 and above (P1, P2); ``venue``: with a market there."""
    levels = {"P1": ["P1"], "P2": ["P1", "P2"], "P3": ["P1", "P2", "P3"]}.get(level or "P3")
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT id, ts, level, finding_class AS class, rule_id, rule_type, market_id, group_key,
                  estimated_edge_bps AS net_edge_bps, payout_per_share, measure, measure_value, edge_score,
                  executable_shares, executable_notional, message, payload, venues
           FROM signal
           WHERE level = ANY(%(levels)s)
             AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s)
             AND (%(rule)s::text IS NULL OR rule_id = %(rule)s OR rule_type = %(rule)s)
             AND (%(venue)s::text IS NULL OR %(venue)s = ANY(venues))
           ORDER BY ts DESC, id DESC LIMIT %(limit)s""",
        {"levels": levels, "since": since, "rule": rule, "venue": venue, "limit": limit},
    ).fetchall()


def max_id(conn: psycopg.Connection) -> int:
    """The newest signal's id (0 with none): what was stored after it is this pass's."""
    row = conn.execute("SELECT coalesce(max(id), 0) FROM signal").fetchone()
    return int(row[0]) if row else 0


def counts_by_rule(conn: psycopg.Connection) -> dict[str, int]:
    """Signals stored per rule id, ever (a monotonic total for the metrics)."""
    return {rule: int(n) for rule, n in conn.execute("SELECT rule_id, count(*) FROM signal GROUP BY rule_id")}
