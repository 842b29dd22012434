"""Synonym groups and market relations: replace-all refresh, and loading them back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.domain.rules.base import Relation, RelationKind, SynonymGroup


def store(conn: psycopg.Connection, groups: Sequence[SynonymGroup], relations: Sequence[Relation]) -> None:
    """Make the tables hold exactly ``groups`` and ``relations`` (inside the caller's transaction)."""
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS _keep (key text PRIMARY KEY) ON COMMIT DROP")
        cur.execute("TRUNCATE _keep")
        cur.executemany("INSERT INTO _keep VALUES (%s) ON CONFLICT DO NOTHING", [(g.key,) for g in groups])
        cur.execute("DELETE FROM synonym_group WHERE key NOT IN (SELECT key FROM _keep)")
        cur.executemany(
            """INSERT INTO synonym_group (key, name, source) VALUES (%s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source, updated_at = now()
               WHERE (synonym_group.name, synonym_group.source) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.source)""",
            [(g.key, g.name, g.source) for g in groups])
        cur.execute("DELETE FROM synonym_group_member")
        cur.executemany("INSERT INTO synonym_group_member (group_key, market_id) VALUES (%s, %s)",
                        [(g.key, m) for g in groups for m in g.market_ids])
        cur.execute("TRUNCATE _keep")
        cur.executemany("INSERT INTO _keep VALUES (%s) ON CONFLICT DO NOTHING", [(r.key,) for r in relations])
        cur.execute("DELETE FROM market_relation WHERE key NOT IN (SELECT key FROM _keep)")
        cur.executemany(
            """INSERT INTO market_relation (key, narrower, wider, kind, note) VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, note = EXCLUDED.note, updated_at = now()
               WHERE (market_relation.kind, market_relation.note) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.note)""",
            [(r.key, r.narrower, r.wider, r.kind, r.note) for r in relations])


def load(conn: psycopg.Connection) -> tuple[list[SynonymGroup], list[Relation]]:
    groups = [SynonymGroup(key, name, source, tuple(members)) for key, name, source, members in conn.execute(
        """SELECT g.key, g.name, g.source, array_agg(m.market_id ORDER BY m.market_id)
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           GROUP BY g.key ORDER BY g.key""")]
    relations = [Relation(key, n, w, _kind(kind), note) for key, n, w, kind, note in conn.execute(
        "SELECT key, narrower, wider, kind, note FROM market_relation ORDER BY key")]
    return groups, relations


def listing(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Groups (one row per member, with its question) and relations, for `mpx synonyms list`."""
    cur = conn.cursor(row_factory=dict_row)
    groups = cur.execute(
        """SELECT g.key AS "group", g.source, m.market_id, mk.question
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           JOIN market mk ON mk.id = m.market_id ORDER BY g.key, mk.question""").fetchall()
    relations = cur.execute(
        """SELECT r.kind, n.question AS narrower, w.question AS wider, r.key
           FROM market_relation r JOIN market n ON n.id = r.narrower JOIN market w ON w.id = r.wider
           ORDER BY r.kind, n.question""").fetchall()
    return groups, relations


def of_market(conn: psycopg.Connection, market_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys of the groups a market is in, and the relations it takes part in."""
    groups = [r[0] for r in conn.execute(
        "SELECT group_key FROM synonym_group_member WHERE market_id = %s ORDER BY group_key", (market_id,))]
    cur = conn.cursor(row_factory=dict_row)
    relations = cur.execute(
        """SELECT r.kind, CASE WHEN r.narrower = %(m)s THEN 'implies' ELSE 'implied by' END AS role,
                  CASE WHEN r.narrower = %(m)s THEN w.question ELSE n.question END AS other
           FROM market_relation r JOIN market n ON n.id = r.narrower JOIN market w ON w.id = r.wider
           WHERE r.narrower = %(m)s OR r.wider = %(m)s ORDER BY r.kind""", {"m": market_id}).fetchall()
    return groups, relations


def _kind(value: str) -> RelationKind:
    assert value in ("threshold", "date", "declared")
    return value  # type: ignore[return-value]
