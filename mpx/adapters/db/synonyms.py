"""Synonym groups and market relations (``sql/003_synonyms.sql``): replace-all refresh, loading them
back, and what the CLI shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mpx.adapters.db.connection import lock_key
from mpx.domain.rules.base import Relation, RelationKind, SynonymGroup

LOCK = "synonyms:store"
"""Transaction-level advisory lock: `mpx evaluate` and `mpx synonyms refresh` never write at once."""


def store(conn: psycopg.Connection, groups: Sequence[SynonymGroup], relations: Sequence[Relation]) -> None:
    """Make the tables hold exactly ``groups`` and ``relations``, inside the caller's transaction
    (which commits): groups and relations no longer found are deleted (members with them), current
    ones upserted; ``updated_at`` moves only when a row's content changed."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(LOCK),))
        cur.execute("DELETE FROM synonym_group WHERE NOT (key = ANY(%s))", ([g.key for g in groups],))
        cur.executemany(
            """INSERT INTO synonym_group (key, name, source) VALUES (%s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source, updated_at = now()
               WHERE (synonym_group.name, synonym_group.source) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.source)""",
            [(g.key, g.name, g.source) for g in groups])
        members = [(g.key, m) for g in groups for m in g.market_ids]
        # members: drop the pairs that went, add the new ones (keys of auto groups change with their
        # members, keyword groups keep theirs while markets come and go)
        cur.execute(
            """DELETE FROM synonym_group_member s WHERE NOT EXISTS (
                   SELECT 1 FROM unnest(%s::text[], %s::text[]) AS k(group_key, market_id)
                   WHERE k.group_key = s.group_key AND k.market_id = s.market_id)""",
            ([k for k, _ in members], [m for _, m in members]))
        cur.execute(
            """INSERT INTO synonym_group_member (group_key, market_id)
               SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING""",
            ([k for k, _ in members], [m for _, m in members]))
        cur.execute("DELETE FROM market_relation WHERE NOT (key = ANY(%s))", ([r.key for r in relations],))
        cur.executemany(
            """INSERT INTO market_relation (key, narrower, wider, kind, note) VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, note = EXCLUDED.note, updated_at = now()
               WHERE (market_relation.kind, market_relation.note) IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.note)""",
            [(r.key, r.narrower, r.wider, r.kind, r.note) for r in relations])


def load(conn: psycopg.Connection) -> tuple[list[SynonymGroup], list[Relation]]:
    """Every stored group (members sorted) and relation, in key order."""
    groups = [SynonymGroup(key, name, source, tuple(members)) for key, name, source, members in conn.execute(
        """SELECT g.key, g.name, g.source, array_agg(m.market_id ORDER BY m.market_id)
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           GROUP BY g.key HAVING count(*) >= 2 ORDER BY g.key""")]
    relations = [Relation(key, n, w, _kind(kind), note) for key, n, w, kind, note in conn.execute(
        "SELECT key, narrower, wider, kind, note FROM market_relation ORDER BY key")]
    return groups, relations


def listing(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Groups (one row per member, with its question) and relations, for `mpx synonyms list`."""
    cur = conn.cursor(row_factory=dict_row)
    groups = cur.execute(
        """SELECT g.key AS "group", g.name, g.source, m.market_id, mk.question, mk.status
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           JOIN market mk ON mk.id = m.market_id ORDER BY g.key, mk.question, m.market_id""").fetchall()
    relations = cur.execute(
        """SELECT r.kind, n.question AS narrower, w.question AS wider, r.key, r.narrower AS narrower_id,
                  r.wider AS wider_id, r.note
           FROM market_relation r JOIN market n ON n.id = r.narrower JOIN market w ON w.id = r.wider
           ORDER BY r.kind, n.question, r.key""").fetchall()
    return groups, relations


def of_market(conn: psycopg.Connection, market_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys of the groups a market is in, and the relations it takes part in (``role``:
    ``implies`` when it is the narrower market, ``implied by`` when the wider)."""
    groups = [r[0] for r in conn.execute(
        "SELECT group_key FROM synonym_group_member WHERE market_id = %s ORDER BY group_key", (market_id,))]
    cur = conn.cursor(row_factory=dict_row)
    relations = cur.execute(
        """SELECT r.kind, CASE WHEN r.narrower = %(m)s THEN 'implies' ELSE 'implied by' END AS role,
                  CASE WHEN r.narrower = %(m)s THEN w.question ELSE n.question END AS other,
                  CASE WHEN r.narrower = %(m)s THEN r.wider ELSE r.narrower END AS other_id,
                  r.key, r.note
           FROM market_relation r JOIN market n ON n.id = r.narrower JOIN market w ON w.id = r.wider
           WHERE r.narrower = %(m)s OR r.wider = %(m)s ORDER BY r.kind, r.key""", {"m": market_id}).fetchall()
    return groups, relations


def groups_of_market(conn: psycopg.Connection, market_id: str) -> list[dict[str, Any]]:
    """The groups a market is in, each with its other members (id, question), for `markets show`."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT g.key, g.name, g.source,
                  coalesce(json_agg(json_build_object('id', o.market_id, 'question', mk.question)
                                    ORDER BY mk.question) FILTER (WHERE o.market_id IS NOT NULL), '[]') AS others
           FROM synonym_group_member s JOIN synonym_group g ON g.key = s.group_key
           LEFT JOIN synonym_group_member o ON o.group_key = g.key AND o.market_id <> s.market_id
           LEFT JOIN market mk ON mk.id = o.market_id
           WHERE s.market_id = %s GROUP BY g.key ORDER BY g.key""", (market_id,)).fetchall()


def _kind(value: str) -> RelationKind:
    if value == "threshold":
        return "threshold"
    if value == "date":
        return "date"
    if value == "declared":
        return "declared"
    raise ValueError(f"unknown relation kind {value!r} in market_relation")
