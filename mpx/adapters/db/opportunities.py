"""Opportunities (episodes): load the open ones, store what a pass changed, list them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.domain.rules.episodes import Opportunity

_COLUMNS = ("signature", "rule_id", "rule_type", "market_id", "group_key", "market_ids", "opened_at", "updated_at",
            "closed_at", "first_metric", "last_metric", "max_metric", "best_level", "max_executable_shares",
            "max_executable_notional", "alerted_metric", "alerted_level", "last_alert_at", "steps", "last_message",
            "finding_class", "measure")


_VENUES_OF = ("(SELECT coalesce(array_agg(DISTINCT venue ORDER BY venue), '{polymarket}') FROM market "
              "WHERE id = ANY(%s::text[]))")
"""The venues of an opportunity's markets (kept on the row for ``--venue``)."""


def load_open(conn: psycopg.Connection) -> dict[str, Opportunity]:
    """Every open opportunity, by signature."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM opportunity WHERE closed_at IS NULL").fetchall()
    out: dict[str, Opportunity] = {}
    for r in rows:
        r["market_ids"] = frozenset(r["market_ids"])
        out[r["signature"]] = Opportunity(**r, dirty=False)
    return out


def _values(o: Opportunity) -> tuple[Any, ...]:
    return tuple(sorted(o.market_ids) if c == "market_ids" else getattr(o, c) for c in _COLUMNS)


def save(conn: psycopg.Connection, opportunities: Iterable[Opportunity]) -> int:
    """Insert new and update changed opportunities (``dirty``); sets ``id`` on new ones."""
    n = 0
    with conn.cursor() as cur:
        for o in opportunities:
            if not o.dirty:
                continue
            if o.id is None:
                cur.execute(f"INSERT INTO opportunity ({', '.join(_COLUMNS)}, venues) "
                            f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}, {_VENUES_OF}) RETURNING id",
                            (*_values(o), sorted(o.market_ids)))
                row = cur.fetchone()
                assert row is not None
                o.id = int(row[0])
            else:
                sets = ", ".join(f"{c} = %s" for c in _COLUMNS)
                cur.execute(f"UPDATE opportunity SET {sets} WHERE id = %s", (*_values(o), o.id))
            o.dirty = False
            n += 1
    return n


def query(conn: psycopg.Connection, *, status: str = "open", since: datetime | None = None,
          rule: str | None = None, venue: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Opportunities, newest first. ``status``: open, closed or all; ``venue``: with a market there."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT id, rule_id, rule_type, coalesce(group_key, market_id) AS subject, best_level AS level,
                  opened_at, closed_at, coalesce(closed_at - opened_at, updated_at - opened_at) AS duration,
                  finding_class AS class, measure, first_metric, last_metric, max_metric, max_executable_shares,
                  max_executable_notional,
                  steps, last_message AS message, market_ids, venues
           FROM opportunity
           WHERE (%(status)s = 'all' OR (%(status)s = 'open') = (closed_at IS NULL))
             AND (%(since)s::timestamptz IS NULL OR opened_at >= %(since)s)
             AND (%(rule)s::text IS NULL OR rule_id = %(rule)s OR rule_type = %(rule)s)
             AND (%(venue)s::text IS NULL OR %(venue)s = ANY(venues))
           ORDER BY opened_at DESC, id DESC LIMIT %(limit)s""",
        {"status": status, "since": since, "rule": rule, "venue": venue, "limit": limit},
    ).fetchall()


def open_by_rule(conn: psycopg.Connection) -> dict[str, int]:
    """rule id → opportunities open now."""
    return {rule: int(n) for rule, n in conn.execute(
        "SELECT rule_id, count(*) FROM opportunity WHERE closed_at IS NULL GROUP BY rule_id")}
