"""Refresh synonym groups and relations from ``MPX_SYNONYMS_FILE``, the stored market questions and
people's verdicts; list candidates; record verdicts.

Every ``mpx evaluate`` pass calls :func:`refresh_synonyms` with the universe it loaded. It rebuilds
only when something the build reads changed since the last build — the file's bytes, the builder's
version, any market's id, question, slug, outcomes, event, status, flags, end date, resolution
source or rules, an event's negRisk flag, or a verdict — a fingerprint kept in ``job_state``;
otherwise it loads what is stored (the same thing). ``mpx synonyms refresh`` forces a rebuild. The
caller commits.

A missing synonyms file is no groups from the file (the matcher still runs, with a warning) when
``MPX_SYNONYMS_FILE`` is unset; when it is set (environment or ``.env``) the file must exist
(:class:`~mpx.errors.ConfigError`, exit 78): a mistyped path must not silently drop every group.

Verdicts (``mpx synonyms confirm | reject``) are recorded against a stored candidate id with who
gave them (:func:`mpx.jobs.intents.actor`) and a fingerprint of both markets; they take effect at
the next build (the fingerprint above changes with them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import state
from mpx.adapters.db import synonyms as db_synonyms
from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, SynonymGroup
from mpx.domain.synonyms import (
    Built,
    CandidateKind,
    Decision,
    SynonymsConfig,
    Verdict,
    build,
    lapsed_because,
    load_config,
    member_fingerprint,
    proven_counts,
)
from mpx.errors import NotFoundError, UsageError
from mpx.jobs.contract import Context, JobResult
from mpx.jobs.intents import actor
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)
FINGERPRINT_KEY = "synonyms:fingerprint"
BUILDER_VERSION = "3"
"""Bump when :func:`mpx.domain.synonyms.build` changes what it finds: the next pass rebuilds."""


def load_synonyms_config(settings: Settings) -> SynonymsConfig:
    """The validated synonyms file (ConfigError, exit 78, when invalid, or missing though configured)."""
    return load_config(settings.mpx_synonyms_file, required="mpx_synonyms_file" in settings.model_fields_set)


def fingerprint(settings: Settings, markets: Mapping[str, Market], events: Mapping[str, Event],
                verdicts: Sequence[Verdict] = ()) -> str:
    h = hashlib.sha1(f"v{BUILDER_VERSION}\n".encode())
    path = settings.mpx_synonyms_file
    h.update(path.read_bytes() if path.exists() else b"-")
    for mid in sorted(markets):
        m = markets[mid]
        labels = ",".join(o.label for o in m.outcomes)
        h.update(f"\n{mid}|{m.question}|{m.slug}|{labels}|{m.event_id}|{m.status}|{m.active}|{m.neg_risk}|"
                 f"{m.neg_risk_other}|{m.end_date}|{m.resolution_source}|".encode())
        h.update(m.description.encode())
    for eid in sorted(events):
        e = events[eid]
        h.update(f"\n{eid}|{e.neg_risk}|{len(e.market_ids)}".encode())
    for v in verdicts:
        h.update(f"\nverdict|{v!r}".encode())
    return h.hexdigest()


def rebuild(conn: psycopg.Connection, settings: Settings, markets: Mapping[str, Market],
            events: Mapping[str, Event], config: SynonymsConfig | None = None,
            verdicts: Sequence[Verdict] | None = None) -> Built:
    """Build and store now (the caller commits); what was found, with the build's notes."""
    if config is None:
        config = load_synonyms_config(settings)
    if verdicts is None:
        verdicts = db_synonyms.verdicts(conn)
    if not settings.mpx_synonyms_file.exists():
        log.warning("no synonyms file: only the matcher's groups and ladders are used",
                    extra={"path": str(settings.mpx_synonyms_file)})
    built = build(config, markets, events, verdicts)
    db_synonyms.store(conn, built.groups, built.relations)
    db_synonyms.store_candidates(conn, built.candidates)
    state.set_state(conn, FINGERPRINT_KEY, fingerprint(settings, markets, events, verdicts))
    for note in built.notes[:20]:
        log.warning(f"synonyms: {note}")
    log.info("synonyms refreshed", extra={"groups": len(built.groups), "relations": len(built.relations),
                                          "candidates": len(built.candidates), "markets": len(markets)})
    return built


@dataclass
class RefreshResult(JobResult):
    built: Built | None = None
    markets: int = 0


def run_refresh(ctx: Context[RefreshResult], config: SynonymsConfig) -> RefreshResult:
    """``mpx synonyms refresh``: rebuild and store the groups, relations and candidates now, in one
    transaction."""
    markets, events = db_markets.load_reference(ctx.conn)
    built = rebuild(ctx.conn, ctx.settings, markets, events, config)
    ctx.conn.commit()
    proven_groups, proven_relations = proven_counts(built.groups, built.relations)
    for name, doc, value in (
        ("mpx_synonym_groups", "Synonym groups stored by the last refresh", len(built.groups)),
        ("mpx_synonym_groups_proven", "Proven synonym groups stored by the last refresh", proven_groups),
        ("mpx_market_relations", "Market relations stored by the last refresh", len(built.relations)),
        ("mpx_market_relations_proven", "Proven market relations stored by the last refresh", proven_relations),
        ("mpx_synonym_candidates", "Candidate pairs proposed by the last refresh", len(built.candidates)),
    ):
        ctx.metrics.gauge(name, doc).set(value)
    return RefreshResult(
        rows=len(built.groups) + len(built.relations), built=built, markets=len(markets),
        details={"groups": len(built.groups), "relations": len(built.relations), "proven_groups": proven_groups,
                 "proven_relations": proven_relations, "candidates": len(built.candidates),
                 "markets": len(markets), "notes": len(built.notes)})


@dataclass
class Refreshed:
    groups: list[SynonymGroup]
    relations: list[Relation]
    relinked: frozenset[str] = frozenset()
    """Markets whose groups or relations are new or changed (a verdict, a declaration, a proof): the
    rules look at them again now, although their books did not change — a trader who confirms a
    pair sees what it is worth at the next evaluate, not at the next tick."""

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``groups, relations = refresh_synonyms(...)``."""
        return iter((self.groups, self.relations))


def refresh_synonyms(conn: psycopg.Connection, settings: Settings, markets: Mapping[str, Market],
                     events: Mapping[str, Event], *, force: bool = False) -> Refreshed:
    """Groups and relations for this universe, stored (the caller commits). ConfigError (78) on an
    invalid synonyms file."""
    config = load_synonyms_config(settings)
    verdicts = db_synonyms.verdicts(conn)
    if not force and state.get_state(conn, FINGERPRINT_KEY) == fingerprint(settings, markets, events, verdicts):
        groups, relations = db_synonyms.load(conn)
        return Refreshed(groups, relations)
    old_groups, old_relations = db_synonyms.load(conn)
    built = rebuild(conn, settings, markets, events, config, verdicts)
    old = set(old_groups) | set(old_relations)
    relinked = {m for g in built.groups if g not in old for m in g.market_ids}
    relinked |= {m for r in built.relations if r not in old for m in (r.narrower, r.wider)}
    return Refreshed(built.groups, built.relations, frozenset(relinked))


# ------------------------------------------------------------------ candidates and verdicts


@dataclass
class Decided:
    verdict: Verdict
    candidate: dict[str, Any]
    markets: dict[str, Market]


def decide(conn: psycopg.Connection, candidate_id: int, decision: Decision, *, relation: CandidateKind | None = None,
           reverse: bool = False, note: str = "") -> Decided:
    """Record a person's verdict on a stored candidate (the caller commits). ``relation`` defaults to
    what the candidate proposes; ``implies`` means the candidate's first market implies the second,
    ``reverse`` the other way round. NotFoundError (exit 1) for an unknown id, UsageError (exit 2)
    for ``reverse`` without ``implies``."""
    cand = db_synonyms.candidate(conn, candidate_id)
    if cand is None:
        raise NotFoundError(f"no synonym candidate {candidate_id}",
                            hint="`mpx synonyms candidates` lists them with their ids (after `mpx synonyms refresh`)")
    a, b = cand["market_a"], cand["market_b"]
    markets = db_markets.load_markets(conn, [a, b])
    narrower: str | None = None
    if decision == "confirmed":
        relation = relation or cand["kind"]
        if relation == "implies":
            narrower = b if reverse else a
        elif reverse:
            raise UsageError("--reverse only goes with --relation implies (which market implies the other)")
    else:
        if relation is not None or reverse:
            raise UsageError("--relation and --reverse go with confirm, not reject")
    verdict = db_synonyms.add_verdict(conn, candidate_id, decision, relation if decision == "confirmed" else None,
                                      narrower, note, actor(),
                                      {mid: member_fingerprint(m) for mid, m in markets.items()})
    return Decided(verdict, cand, markets)


def candidate_listing(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every candidate the matcher proposes now or that has a verdict, each with both markets'
    question, end date, resolution source and whether their rules read the same, the matcher's
    reason, and its verdict state (open / confirmed / rejected / lapsed)."""
    rows = db_synonyms.candidate_rows(conn)
    markets = db_markets.load_markets(conn, [m for r in rows for m in (r["market_a"], r["market_b"])])
    out = []
    for r in rows:
        a, b = markets.get(r["market_a"]), markets.get(r["market_b"])
        v = db_synonyms.verdict_from_row(r)
        lapsed = lapsed_because(v, markets) if v is not None else None
        state_ = "open" if v is None else "lapsed" if lapsed else v.decision
        relation = "-"
        if v is not None and v.relation == "equivalent":
            relation = "a ≡ b"
        elif v is not None and v.relation == "implies":
            relation = "a ⇒ b" if v.narrower == r["market_a"] else "b ⇒ a"
        out.append({
            "id": r["id"], "state": state_, "proposed": "a ≡ b" if r["kind"] == "equivalent" else "a ⇒ b",
            "question_a": a.question if a else "?", "question_b": b.question if b else "?",
            "end_a": a.end_date if a else None, "end_b": b.end_date if b else None,
            "source_a": (a.resolution_source or "-") if a else "?",
            "source_b": (b.resolution_source or "-") if b else "?",
            "same_rules": bool(a and b and a.description and a.description == b.description
                               and a.resolution_source == b.resolution_source),
            "reason": r["reason"], "still_proposed": r["proposed"],
            "verdict": relation if v is not None and v.decision == "confirmed" else "-",
            "by": v.actor if v else "", "at": v.decided_at if v else None, "note": v.note if v else "",
            "lapsed_because": lapsed or "", "market_a": r["market_a"], "market_b": r["market_b"],
            "first_seen": r["first_seen"], "last_seen": r["last_seen"],
        })
    return out
