""":func:`build`: groups, relations and candidates for one universe, from ``synonyms.yml``, the
questions and people's verdicts."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpx.domain.models import Event, Market
from mpx.domain.rules.base import Relation, RelationKind, SynonymGroup
from mpx.domain.synonyms.config import GroupSpec, SynonymsConfig
from mpx.domain.synonyms.ladders import ladders
from mpx.domain.synonyms.normalise import FULL_DATE, normalise
from mpx.domain.synonyms.similar import similar_groups
from mpx.domain.synonyms.universe import MatchUniverse
from mpx.domain.synonyms.verdicts import Candidate, Verdict, lapsed_because

CANDIDATE = "a candidate until a person confirms it (mpx synonyms candidates)"


@dataclass
class Built:
    """What :func:`build` found. Unpacks as ``groups, relations = build(...)``."""

    groups: list[SynonymGroup] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    """Pairs proposed but not proven, one per pair, in pair order; rejected pairs included (a person
    sees them as rejected), confirmed ones not (they are proven)."""
    unknown: list[str] = field(default_factory=list)
    """Market ids/slugs named in synonyms.yml that are not in the universe."""
    notes: list[str] = field(default_factory=list)
    """Why something in synonyms.yml or a verdict was not used, and what the matcher skipped (not fatal)."""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.groups, self.relations))


def _digest(ids: Iterable[str]) -> str:
    return hashlib.sha1("|".join(sorted(ids)).encode()).hexdigest()[:12]


def group_key(prefix: str, ids: Iterable[str]) -> str:
    """``<prefix>:<sha1 of the sorted member ids, 12 hex>``."""
    return f"{prefix}:{_digest(ids)}"


def build(config: SynonymsConfig, markets: Mapping[str, Market], events: Mapping[str, Event],
          verdicts: Sequence[Verdict] = ()) -> Built:
    """Groups, relations and candidates for a universe. Deterministic: the same input gives the same
    keys, in key order.

    Proven: groups listed in ``synonyms.yml`` by market ids, declared relations, structurally proven
    ladders, and what people confirmed. Candidates (``proven=False``): keyword groups, similar-text
    groups and unproven ladders — minus the pairs people rejected. A verdict whose markets changed
    since it was given has lapsed: it counts for nothing (noted)."""
    out = Built()
    u = MatchUniverse.of(markets, events)
    current: dict[frozenset[str], Verdict] = {}
    for v in verdicts:
        why = lapsed_because(v, markets)
        if why is None:
            current[v.pair] = v
        elif v.market_a in markets and v.market_b in markets:
            out.notes.append(f"verdict on candidate {v.candidate_id} lapsed: {why}")
    # a pair rejected, or confirmed as an implication only, never sits in a candidate group again
    not_equivalent = {p for p, v in current.items() if v.decision == "rejected" or v.relation == "implies"}

    proven_groups: list[SynonymGroup] = []
    open_groups: list[SynonymGroup] = []
    for g in config.groups:
        if g.keywords is not None:
            group = _keyword_group(g, u, out)
            if group is not None:
                open_groups.append(group)
        elif (group := _list_group(g, u, out)) is not None:
            proven_groups.append(group)
    proven_groups.extend(_confirmed_groups(current, u, out))
    if config.matcher.similar:
        for ids in similar_groups(u, float(config.matcher.min_similarity), config.matcher.max_bucket, out.notes):
            members = tuple(sorted(ids))
            open_groups.append(SynonymGroup(group_key("auto", members), f"similar: {markets[members[0]].question[:60]}",
                                            "similar", members, proven=False, basis=f"similar text: {CANDIDATE}"))

    relations: dict[tuple[str, str], Relation] = {}
    if config.matcher.ladders:
        for rel in ladders(u):
            relations.setdefault((rel.narrower, rel.wider), rel)
    relations.update(_confirmed_relations(current, u, out))
    relations.update(_declared_relations(config, u, out))

    # what is proven needs no proposal; every other pair found is a candidate, whatever its verdict
    proven_pairs = {frozenset(p) for g in proven_groups for p in _pairs(g.market_ids)}
    proven_pairs |= {frozenset(k) for k, r in relations.items() if r.proven}
    out.candidates = _candidates(open_groups, [r for r in relations.values() if not r.proven], proven_pairs)

    # verdicts settle candidates: a pair with a current verdict is no longer an open proposal
    decided = set(current)
    for k, r in list(relations.items()):
        if not r.proven and frozenset(k) in decided:
            del relations[k]
    for open_group in open_groups:
        for part in _split(open_group, not_equivalent, out):
            if not any(set(part.market_ids) <= set(p.market_ids) for p in proven_groups):
                out.groups.append(part)  # not inside a proven group already
    out.groups.extend(proven_groups)
    for (n, w) in relations:
        if n < w and (w, n) in relations:
            out.notes.append(f"{markets[n].question!r} and {markets[w].question!r} imply each other")
    out.groups.sort(key=lambda g: g.key)
    out.relations = sorted(relations.values(), key=lambda r: r.key)
    return out


def _pairs(ids: Sequence[str]) -> Iterator[tuple[str, str]]:
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            yield a, b


def _candidates(groups: Sequence[SynonymGroup], relations: Sequence[Relation],
                proven: set[frozenset[str]]) -> list[Candidate]:
    found: dict[frozenset[str], Candidate] = {}
    for r in relations:  # a ladder is the more specific proposal: it names a direction
        pair = frozenset((r.narrower, r.wider))
        if pair not in proven and pair not in found:
            found[pair] = Candidate(r.narrower, r.wider, "implies", f"{r.basis} ({r.note})")
    for g in groups:
        for a, b in _pairs(sorted(g.market_ids)):
            pair = frozenset((a, b))
            if pair in proven:
                continue
            c = found.get(pair)
            if c is None:
                found[pair] = Candidate(a, b, "equivalent", f"{g.basis} ({g.key})")
            elif g.key not in c.reason:
                found[pair] = Candidate(c.first, c.second, c.kind, f"{c.reason}; {g.basis} ({g.key})")
    return sorted(found.values(), key=lambda c: tuple(sorted(c.pair)))


def _split(g: SynonymGroup, rejected: set[frozenset[str]], out: Built) -> list[SynonymGroup]:
    """A candidate group without the pairs people said are not equivalent: members of such a pair go to
    different parts (the member in most of them first); parts of fewer than 2 are dropped."""
    bad = [p for p in _pairs(g.market_ids) if frozenset(p) in rejected]
    if not bad:
        return [g]
    count: dict[str, int] = defaultdict(int)
    for a, b in bad:
        count[a] += 1
        count[b] += 1
    parts: list[list[str]] = []
    for mid in sorted(g.market_ids, key=lambda m: (-count[m], m)):
        for part in parts:
            if not any(frozenset((mid, other)) in rejected for other in part):
                part.append(mid)
                break
        else:
            parts.append([mid])
    kept = [tuple(sorted(p)) for p in parts if len(p) >= 2]
    out.notes.append(f"group {g.key}: split by {len(bad)} pair(s) a person said are not equivalent into "
                     f"{len(kept)} group(s)")
    return [SynonymGroup(group_key("auto", ids) if g.source == "similar" else f"{g.key}:{_digest(ids)}",
                         g.name, g.source, ids, proven=False, basis=g.basis) for ids in kept]


def _keyword_group(g: GroupSpec, u: MatchUniverse, out: Built) -> SynonymGroup | None:
    clauses = [[f" {normalise(alt, bare_comparators=True).text} " for alt in clause] for clause in g.keywords or ()]
    excluded = [f" {normalise(alt, bare_comparators=True).text} " for alt in g.exclude]
    ids = []
    for mid, n in u.norm.items():
        years = " ".join(m.group(1) for t in n.figures if (m := FULL_DATE.fullmatch(t)))
        padded = f" {n.text} {years} "
        if all(any(alt in padded for alt in clause) for clause in clauses) \
                and not any(alt in f" {n.text} " for alt in excluded):
            ids.append(mid)
    ids.sort()
    clash = u.clash(ids)
    if clash is not None:
        out.notes.append(f"group {g.name}: not built, its keywords match several outcomes of negRisk event {clash} "
                         "(mutually exclusive); add words or exclude")
        return None
    if len(ids) < 2:
        out.notes.append(f"group {g.name}: its keywords match {len(ids)} market(s)")
        return None
    return SynonymGroup(f"kw:{g.name}", g.name, "keywords", tuple(ids), proven=False,
                        basis=f"keywords of group {g.name} in synonyms.yml: {CANDIDATE}")


def _list_group(g: GroupSpec, u: MatchUniverse, out: Built) -> SynonymGroup | None:
    ids: set[str] = set()
    for ref in g.markets or ():
        mid = u.resolve(ref)
        if mid is None:
            out.unknown.append(ref)
            out.notes.append(f"group {g.name}: no market {ref!r} in the universe")
        elif len(u.markets[mid].outcomes) != 2:
            out.notes.append(f"group {g.name}: {ref!r} is not a binary market, left out")
        else:
            ids.add(mid)
    clash = u.clash(ids)
    if clash is not None:
        out.notes.append(f"group {g.name}: not built, it lists several outcomes of negRisk event {clash} "
                         "(mutually exclusive)")
        return None
    if len(ids) < 2:
        out.notes.append(f"group {g.name}: fewer than 2 of its markets are in the universe")
        return None
    return SynonymGroup(f"list:{g.name}", g.name, "list", tuple(sorted(ids)), proven=True,
                        basis=f"declared in synonyms.yml (list:{g.name})")


def _confirmed_groups(current: Mapping[frozenset[str], Verdict], u: MatchUniverse, out: Built) -> list[SynonymGroup]:
    """The union of confirmed equivalent pairs: one proven group per connected set."""
    confirmed = [v for v in current.values() if v.decision == "confirmed" and v.relation == "equivalent"]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for v in confirmed:
        parent[find(v.market_a)] = find(v.market_b)
    comps: dict[str, list[Verdict]] = defaultdict(list)
    for v in confirmed:
        comps[find(v.market_a)].append(v)
    groups = []
    for vs in comps.values():
        members = tuple(sorted({m for v in vs for m in (v.market_a, v.market_b)}))
        key = group_key("confirmed", members)
        clash = u.clash(members)
        contradicted = [p for p in _pairs(members)
                        if (other := current.get(frozenset(p))) is not None and other.decision == "rejected"]
        if clash is not None:
            out.notes.append(f"group {key}: not built, confirmed pairs join outcomes of negRisk event {clash} "
                             "(mutually exclusive)")
            continue
        if contradicted:
            out.notes.append(f"group {key}: not built, confirmed pairs join markets a person rejected as equivalent "
                             f"({contradicted[0][0]}, {contradicted[0][1]})")
            continue
        bases = [v.basis() for v in sorted(vs, key=lambda v: v.candidate_id)]
        basis = "; ".join(bases[:3]) + (f"; and {len(bases) - 3} more" if len(bases) > 3 else "")
        groups.append(SynonymGroup(key, f"confirmed: {u.markets[members[0]].question[:60]}", "confirmed", members,
                                   proven=True, basis=basis))
    return groups


def _confirmed_relations(current: Mapping[frozenset[str], Verdict], u: MatchUniverse,
                         out: Built) -> dict[tuple[str, str], Relation]:
    found: dict[tuple[str, str], Relation] = {}
    for v in current.values():
        if v.decision != "confirmed" or v.relation != "implies" or v.narrower is None or v.wider is None:
            continue
        n, w = v.narrower, v.wider
        if u.exclusive(n, w):
            out.notes.append(f"verdict on candidate {v.candidate_id}: not used, two outcomes of negRisk event "
                             f"{u.negrisk[n]} (mutually exclusive)")
            continue
        found[(n, w)] = Relation(f"rel:{n}>{w}", n, w, "confirmed", v.note or "confirmed by a person",
                                 proven=True, basis=v.basis())
    return found


def _declared_relations(config: SynonymsConfig, u: MatchUniverse, out: Built) -> dict[tuple[str, str], Relation]:
    found: dict[tuple[str, str], Relation] = {}
    for i, r in enumerate(config.relations):
        n, w = u.resolve(r.narrower), u.resolve(r.wider)
        if n is None or w is None:
            missing = [x for x, y in ((r.narrower, n), (r.wider, w)) if y is None]
            out.unknown.extend(missing)
            out.notes.append(f"relations.{i}: no market {', '.join(map(repr, missing))} in the universe")
            continue
        problem = ("the same market" if n == w else
                   "not binary" if len(u.markets[n].outcomes) != 2 or len(u.markets[w].outcomes) != 2 else
                   f"two outcomes of negRisk event {u.negrisk[n]} (mutually exclusive)" if u.exclusive(n, w) else None)
        if problem:
            out.notes.append(f"relations.{i}: skipped, {problem}")
            continue
        found[(n, w)] = Relation(f"rel:{n}>{w}", n, w, "declared", r.note, proven=True,
                                 basis=f"declared in synonyms.yml (relations.{i})")
    return found


def group_sources(groups: Sequence[SynonymGroup]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.source] = counts.get(g.source, 0) + 1
    return dict(sorted(counts.items()))


def relation_kinds(relations: Sequence[Relation]) -> dict[RelationKind, int]:
    counts: dict[RelationKind, int] = {}
    for r in relations:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    return dict(sorted(counts.items()))


def proven_counts(groups: Sequence[SynonymGroup], relations: Sequence[Relation]) -> tuple[int, int]:
    """How many groups and relations are proven."""
    return sum(g.proven for g in groups), sum(r.proven for r in relations)

