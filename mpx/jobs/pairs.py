"""Cross-venue pairs: propose candidates (a pass under the job contract), record people's verdicts,
list pairs with their state. See :mod:`mpx.domain.venue_pairs` for what a pair proves and when a
verdict lapses. The caller commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import pairs as db_pairs
from mpx.adapters.db import state
from mpx.domain.models import Market
from mpx.domain.venue_pairs import Orientation, VenuePair, fingerprints, propose
from mpx.errors import NotFoundError, UsageError
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.intents import actor


@dataclass
class ProposeResult(JobResult):
    new: int = 0
    proposed: int = 0
    pairs: list[dict[str, Any]] = field(default_factory=list)


def run_propose(ctx: Context[ProposeResult]) -> ProposeResult:
    """Run the matcher over every stored market and store what it proposes; returns every pair that
    waits for a verdict (candidate or lapsed) with both sides."""
    conn = ctx.conn
    markets, _ = db_markets.load_reference(conn)
    venues = sorted({m.venue for m in markets.values()})
    found = propose(markets, max_date_gap=ctx.settings.mpx_pair_max_date_gap)
    new, proposed = db_pairs.store_candidates(conn, found)
    conn.commit()
    waiting = [side_by_side(p, row, markets) for p, row in db_pairs.listing(conn, markets)
               if p.state in ("candidate", "lapsed") and row["proposed"]]
    warnings = [] if len(venues) > 1 else [f"only one venue stored ({', '.join(venues) or 'none'}): "
                                           "nothing to pair until a second venue is ingested"]
    return ProposeResult(rows=new, new=new, proposed=proposed, pairs=waiting, warnings=warnings,
                         details={"new": new, "proposed": proposed, "waiting": len(waiting), "venues": venues})


def side_by_side(pair: VenuePair, row: dict[str, Any], markets: dict[str, Market]) -> dict[str, Any]:
    """One pair for a person to judge: both markets' venue, question, outcomes, close time,
    resolution source and rules, the matcher's reason and the pair's state."""
    def side(mid: str) -> dict[str, Any]:
        m = markets.get(mid)
        if m is None:
            return {"market": mid, "venue": "?", "question": "(market gone)"}
        return {"market": m.id, "venue": m.venue, "question": m.question, "status": m.status,
                "outcome_0": m.outcomes[0].label if m.outcomes else "", "outcome_1":
                m.outcomes[1].label if len(m.outcomes) > 1 else "",
                "closes": m.end_date, "resolution_source": m.resolution_source or "-", "rules": m.description or "-"}
    return {"id": pair.id, "state": pair.state, "orientation": pair.orientation or "-", "basis": pair.basis,
            "reason": pair.reason, "proposed": row["proposed"], "a": side(pair.market_a), "b": side(pair.market_b)}


def listing(conn: psycopg.Connection, venues: frozenset[str] | None = None) -> list[dict[str, Any]]:
    markets, _ = db_markets.load_reference(conn)
    out = []
    for p, row in db_pairs.listing(conn, markets):
        entry = side_by_side(p, row, markets)
        if venues and not ({entry["a"]["venue"], entry["b"]["venue"]} & venues):
            continue
        out.append(entry)
    return out


@dataclass
class Decided:
    pair_id: int
    decision: str
    orientation: Orientation | None
    a: Market
    b: Market
    actor: str


def decide(conn: psycopg.Connection, pair_id: int, decision: str, orientation: Orientation | None,
           note: str = "") -> Decided:
    """Record a person's verdict on a stored pair (the caller commits). A confirm needs an
    orientation (exit 2 without one); both markets must still be stored (exit 1)."""
    row = db_pairs.pair_row(conn, pair_id)
    if row is None:
        raise NotFoundError(f"no cross-venue pair {pair_id}", hint="`mpx pairs list` shows them with their ids "
                                                                   "(`mpx pairs propose` finds new ones)")
    if decision == "confirmed" and orientation is None:
        raise UsageError("confirm needs --orientation same|inverted: is the second market's YES the first "
                         "market's outcome 0 (same) or its outcome 1 (inverted)?")
    if decision == "rejected" and orientation is not None:
        raise UsageError("--orientation goes with confirm, not reject")
    markets = db_markets.load_markets(conn, [row["market_a"], row["market_b"]])
    a, b = markets.get(row["market_a"]), markets.get(row["market_b"])
    if a is None or b is None:
        raise NotFoundError(f"pair {pair_id}: a market is no longer stored", hint="nothing was recorded")
    who = actor()
    db_pairs.add_verdict(conn, pair_id, decision, orientation, note, who, fingerprints(a, b))
    return Decided(pair_id, decision, orientation, a, b, who)


STATE_KEY = "pairs:states"


def refresh_pairs(conn: psycopg.Connection, markets: Mapping[str, Market]) -> tuple[list[VenuePair], set[str]]:
    """The stored pairs as they stand for this universe, and the markets of every pair whose state or
    orientation changed since the last evaluate (a pair confirmed a minute ago is priced at the next
    pass even if neither book moved). The caller commits."""
    pairs = db_pairs.load_pairs(conn, markets)
    now = {str(p.id): f"{p.state}:{p.orientation or '-'}" for p in pairs}
    before: dict[str, str] = state.get_state(conn, STATE_KEY) or {}
    changed = {m for p in pairs if before.get(str(p.id)) != now[str(p.id)] for m in (p.market_a, p.market_b)}
    if before != now:
        state.set_state(conn, STATE_KEY, now)
    return pairs, changed
