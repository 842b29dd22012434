"""Cross-venue pairs and their verdicts (``venue_pair``, ``venue_pair_verdict``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from mpx.domain.models import Market
from mpx.domain.venue_pairs import PairCandidate, PairVerdict, VenuePair, pair_state


def store_candidates(conn: psycopg.Connection, found: Sequence[PairCandidate]) -> tuple[int, int]:
    """Upsert what the matcher proposes now; pairs it no longer proposes keep their row (and
    verdict) with ``proposed = false``. Returns (new pairs, pairs proposed)."""
    before = _count(conn)
    conn.execute("UPDATE venue_pair SET proposed = false WHERE proposed")
    if found:
        conn.cursor().executemany(
            """INSERT INTO venue_pair (market_a, market_b, reason) VALUES (%s, %s, %s)
               ON CONFLICT (market_a, market_b) DO UPDATE SET proposed = true, reason = EXCLUDED.reason,
                   last_seen = now()""",
            [(c.market_a, c.market_b, c.reason) for c in found])
    return _count(conn) - before, len(found)


def _count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM venue_pair").fetchone()
    return int(row[0]) if row else 0


def pair_row(conn: psycopg.Connection, pair_id: int) -> dict[str, Any] | None:
    return conn.cursor(row_factory=dict_row).execute("SELECT * FROM venue_pair WHERE id = %s", (pair_id,)).fetchone()


def add_verdict(conn: psycopg.Connection, pair_id: int, decision: str, orientation: str | None, note: str,
                actor: str, fingerprints: Mapping[str, str]) -> None:
    conn.execute(
        """INSERT INTO venue_pair_verdict (pair_id, decision, orientation, note, actor, fingerprints)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (pair_id, decision, orientation, note, actor, Jsonb(dict(fingerprints))))


def ensure_pair(conn: psycopg.Connection, market_a: str, market_b: str, reason: str) -> int:
    """The id of the pair (market_a, market_b), stored now if new (a pair named by a person)."""
    row = conn.execute(
        """INSERT INTO venue_pair (market_a, market_b, reason, proposed) VALUES (%s, %s, %s, false)
           ON CONFLICT (market_a, market_b) DO UPDATE SET last_seen = venue_pair.last_seen RETURNING id""",
        (market_a, market_b, reason)).fetchone()
    assert row is not None
    return int(row[0])


def load_pairs(conn: psycopg.Connection, markets: Mapping[str, Market]) -> list[VenuePair]:
    """Every stored pair with its current state (the latest verdict checked against ``markets``)."""
    out = []
    for r in _rows(conn):
        out.append(pair_state(r["id"], r["market_a"], r["market_b"], _verdict(r), markets, r["reason"]))
    return out


def _rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT p.id, p.market_a, p.market_b, p.reason, p.proposed, p.first_seen, p.last_seen,
                  v.decision, v.orientation, v.note, v.actor, v.decided_at, v.fingerprints
           FROM venue_pair p
           LEFT JOIN LATERAL (SELECT * FROM venue_pair_verdict v WHERE v.pair_id = p.id
                              ORDER BY v.id DESC LIMIT 1) v ON true
           ORDER BY p.id""").fetchall()


def _verdict(r: Mapping[str, Any]) -> PairVerdict | None:
    if r["decision"] is None:
        return None
    return PairVerdict(r["decision"], r["orientation"], r["actor"], r["decided_at"], r["note"],
                       r["fingerprints"] or {})


def listing(conn: psycopg.Connection, markets: Mapping[str, Market]) -> list[tuple[VenuePair, dict[str, Any]]]:
    """Every pair with its state and its stored row (proposed, first/last seen)."""
    return [(pair_state(r["id"], r["market_a"], r["market_b"], _verdict(r), markets, r["reason"]), r)
            for r in _rows(conn)]
