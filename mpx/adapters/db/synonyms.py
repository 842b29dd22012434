"""Synonym groups and market relations (``sql/003_synonyms.sql``, ``sql/010_synonym_verdicts.sql``):
replace-all refresh, loading them back, the candidates the matcher proposed (ids stable per market
pair), people's verdicts on them, and what the CLI shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mpx.adapters.db.connection import lock_key
from mpx.domain.rules.base import Relation, RelationKind, SynonymGroup
from mpx.domain.synonyms import Candidate, CandidateKind, Decision, Verdict

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
            """INSERT INTO synonym_group (key, name, source, proven, basis) VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source,
                   proven = EXCLUDED.proven, basis = EXCLUDED.basis, updated_at = now()
               WHERE (synonym_group.name, synonym_group.source, synonym_group.proven, synonym_group.basis)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.source, EXCLUDED.proven, EXCLUDED.basis)""",
            [(g.key, g.name, g.source, g.proven, g.basis) for g in groups])
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
            """INSERT INTO market_relation (key, narrower, wider, kind, note, proven, basis)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, note = EXCLUDED.note, proven = EXCLUDED.proven,
                   basis = EXCLUDED.basis, updated_at = now()
               WHERE (market_relation.kind, market_relation.note, market_relation.proven, market_relation.basis)
                     IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.note, EXCLUDED.proven, EXCLUDED.basis)""",
            [(r.key, r.narrower, r.wider, r.kind, r.note, r.proven, r.basis) for r in relations])


def load(conn: psycopg.Connection) -> tuple[list[SynonymGroup], list[Relation]]:
    """Every stored group (members sorted) and relation, in key order."""
    groups = [SynonymGroup(key, name, source, tuple(members), proven, basis)
              for key, name, source, members, proven, basis in conn.execute(
        """SELECT g.key, g.name, g.source, array_agg(m.market_id ORDER BY m.market_id), g.proven, g.basis
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           GROUP BY g.key HAVING count(*) >= 2 ORDER BY g.key""")]
    relations = [Relation(key, n, w, _kind(kind), note, proven, basis)
                 for key, n, w, kind, note, proven, basis in conn.execute(
        "SELECT key, narrower, wider, kind, note, proven, basis FROM market_relation ORDER BY key")]
    return groups, relations


def listing(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Groups (one row per member, with its question) and relations, for `mpx synonyms list`."""
    cur = conn.cursor(row_factory=dict_row)
    groups = cur.execute(
        """SELECT g.key AS "group", g.name, g.source, g.proven, m.market_id, mk.question, mk.status, g.basis
           FROM synonym_group g JOIN synonym_group_member m ON m.group_key = g.key
           JOIN market mk ON mk.id = m.market_id ORDER BY g.key, mk.question, m.market_id""").fetchall()
    relations = cur.execute(
        """SELECT r.kind, r.proven, n.question AS narrower, w.question AS wider, r.key, r.narrower AS narrower_id,
                  r.wider AS wider_id, r.note, r.basis
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
                  r.key, r.note, r.proven, r.basis
           FROM market_relation r JOIN market n ON n.id = r.narrower JOIN market w ON w.id = r.wider
           WHERE r.narrower = %(m)s OR r.wider = %(m)s ORDER BY r.kind, r.key""", {"m": market_id}).fetchall()
    return groups, relations


def groups_of_market(conn: psycopg.Connection, market_id: str) -> list[dict[str, Any]]:
    """The groups a market is in, each with its other members (id, question), for `markets show`."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        """SELECT g.key, g.name, g.source, g.proven, g.basis,
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
    if value == "confirmed":
        return "confirmed"
    raise ValueError(f"unknown relation kind {value!r} in market_relation")


# ------------------------------------------------------------------ candidates and verdicts


def store_candidates(conn: psycopg.Connection, candidates: Sequence[Candidate]) -> None:
    """Upsert the build's candidates by market pair (a pair keeps its id, whichever order it is proposed
    in; its order, kind and reason follow the latest proposal); every other candidate is marked no
    longer proposed. Inside the caller's transaction."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(LOCK),))
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS _candidate (a text, b text, kind text, reason text) "
                    "ON COMMIT DROP")
        cur.execute("TRUNCATE _candidate")
        with cur.copy("COPY _candidate (a, b, kind, reason) FROM STDIN") as copy:
            for c in candidates:
                copy.write_row((c.first, c.second, c.kind, c.reason))
        cur.execute(
            """INSERT INTO synonym_candidate AS s (market_a, market_b, kind, reason)
               SELECT a, b, kind, reason FROM _candidate
               ON CONFLICT (least(market_a, market_b), greatest(market_a, market_b)) DO UPDATE SET
                   market_a = EXCLUDED.market_a, market_b = EXCLUDED.market_b, kind = EXCLUDED.kind,
                   reason = EXCLUDED.reason, proposed = true, last_seen = now()""")
        cur.execute(
            """UPDATE synonym_candidate s SET proposed = false WHERE proposed AND NOT EXISTS (
                   SELECT 1 FROM _candidate c WHERE least(c.a, c.b) = least(s.market_a, s.market_b)
                                                AND greatest(c.a, c.b) = greatest(s.market_a, s.market_b))""")


_LATEST = """SELECT DISTINCT ON (candidate_id) * FROM synonym_verdict ORDER BY candidate_id, id DESC"""


def verdicts(conn: psycopg.Connection) -> list[Verdict]:
    """The latest verdict of every candidate that has one, by candidate id."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        f"""SELECT v.*, c.market_a, c.market_b FROM ({_LATEST}) v JOIN synonym_candidate c ON c.id = v.candidate_id
            ORDER BY v.candidate_id""").fetchall()
    return [_verdict(r) for r in rows]


def _verdict(r: Mapping[str, Any]) -> Verdict:
    return Verdict(candidate_id=r["candidate_id"], market_a=r["market_a"], market_b=r["market_b"],
                   decision=_decision(r["decision"]),
                   relation=_candidate_kind(r["relation"]) if r["relation"] else None,
                   narrower=r["narrower"], actor=r["actor"], decided_at=r["decided_at"], note=r["note"],
                   fingerprints=dict(r["fingerprints"]))


def candidate(conn: psycopg.Connection, candidate_id: int) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute("SELECT * FROM synonym_candidate WHERE id = %s", (candidate_id,)).fetchone()


def add_verdict(conn: psycopg.Connection, candidate_id: int, decision: Decision, relation: CandidateKind | None,
                narrower: str | None, note: str, actor: str, fingerprints: Mapping[str, str]) -> Verdict:
    """Record a verdict (the caller commits); the stored verdict."""
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(
        """WITH v AS (INSERT INTO synonym_verdict
                          (candidate_id, decision, relation, narrower, note, actor, fingerprints)
                      VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *)
           SELECT v.*, c.market_a, c.market_b FROM v JOIN synonym_candidate c ON c.id = v.candidate_id""",
        (candidate_id, decision, relation, narrower, note, actor, Jsonb(dict(fingerprints)))).fetchone()
    assert row is not None
    return _verdict(row)


def candidate_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every candidate (proposed now, or with a verdict) with its latest verdict, for `mpx synonyms
    candidates`: ``id``, ``market_a``, ``market_b``, ``kind``, ``reason``, ``proposed``, ``first_seen``,
    ``last_seen`` and ``verdict`` (the latest verdict's columns as a dict, or None)."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        f"""SELECT c.*, CASE WHEN v.id IS NULL THEN NULL ELSE to_jsonb(v) END AS verdict
            FROM synonym_candidate c LEFT JOIN ({_LATEST}) v ON v.candidate_id = c.id
            WHERE c.proposed OR v.id IS NOT NULL ORDER BY c.id""").fetchall()


def verdict_from_row(row: Mapping[str, Any]) -> Verdict | None:
    """The latest verdict of a :func:`candidate_rows` row."""
    v = row.get("verdict")
    if not v:
        return None
    return _verdict({**v, "market_a": row["market_a"], "market_b": row["market_b"],
                     "decided_at": datetime.fromisoformat(v["decided_at"])})


def _decision(value: str) -> Decision:
    if value == "confirmed":
        return "confirmed"
    if value == "rejected":
        return "rejected"
    raise ValueError(f"unknown verdict {value!r} in synonym_verdict")


def _candidate_kind(value: str) -> CandidateKind:
    if value == "equivalent":
        return "equivalent"
    if value == "implies":
        return "implies"
    raise ValueError(f"unknown relation {value!r} in synonym_verdict")
