"""The similarity matcher: questions that look like restatements of each other — *candidates* only.

Two questions are proposed as synonyms when they have the same skeleton (figures with their units,
comparator classes, negations and time words, in order), one question's content words are
contained in the other's with a Jaccard similarity ≥ ``min_similarity``, the shared words come in
the same order ("Lakers beat Celtics" is not "Celtics beat Lakers"), neither names a subject the
other does not ("Donald Trump Jr." is not "Donald Trump", "Party A" is not "Party B"), and their end
dates are at most 31 days apart. A substituted word (Senate/House, Democratic/Republican) is a
different question, however long the rest. Pairs come from an inverted index over each question's
rarest words inside its skeleton (prefix filtering): a 20,000-market universe is never compared pair
by pair (``bench/synonyms.py``). Similar text proves nothing: every group found here is a candidate
for a person to confirm or reject.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from mpx.domain.synonyms.universe import MatchUniverse

SIMILAR_MAX_END_GAP = timedelta(days=31)
"""Proposed synonyms end at most this far apart (a series asks the same words about another period)."""


def similar_groups(u: MatchUniverse, threshold: float, max_bucket: int, notes: list[str]) -> list[frozenset[str]]:
    """Connected groups of questions that look alike (see the module docstring)."""
    cands = {mid: n for mid, n in u.norm.items() if n.words and mid not in u.negrisk}
    df = Counter(w for n in cands.values() for w in n.words)
    index: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for mid, n in cands.items():
        ordered = sorted(n.words, key=lambda w: (df[w], w))  # rarest first
        prefix = len(ordered) - math.ceil(threshold * len(ordered) - 1e-9) + 1
        sig = (n.skeleton, u.context(mid))
        for w in ordered[:max(1, prefix)]:
            index[(sig, w)].append(mid)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    compared: set[tuple[str, str]] = set()
    joined: set[str] = set()
    skipped = 0
    for members in index.values():
        if len(members) > max_bucket:
            skipped += 1
            continue
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pair = (a, b) if a < b else (b, a)
                if pair in compared:
                    continue
                compared.add(pair)
                if same_question(u, a, b, threshold):
                    parent[find(a)] = find(b)
                    joined.update(pair)
    if skipped:
        notes.append(f"similarity: {skipped} bucket(s) of more than {max_bucket} questions skipped")
    comps: dict[str, set[str]] = defaultdict(set)
    for mid in joined:
        comps[find(mid)].add(mid)
    result = []
    for comp in comps.values():
        events = [u.markets[m].event_id for m in comp if u.markets[m].event_id]
        if len(events) != len(set(events)):
            notes.append(f"similarity: a group of {len(comp)} questions spanning two markets of one event dropped")
            continue
        result.append(frozenset(comp))
    return result


def same_question(u: MatchUniverse, a: str, b: str, threshold: float) -> bool:
    ma, mb = u.markets[a], u.markets[b]
    if ma.event_id is not None and ma.event_id == mb.event_id:
        return False  # one event lists different questions
    na, nb = u.norm[a], u.norm[b]
    small, big = (na, nb) if len(na.words) <= len(nb.words) else (nb, na)
    if not small.words <= big.words or len(small.words) / len(big.words) < threshold:
        return False  # a substituted word is another question; too many added words
    if [w for w in na.content if w in small.words] != [w for w in nb.content if w in small.words]:
        return False  # "A beat B" is not "B beat A"
    if not (u.names(a) <= set(nb.tokens) and u.names(b) <= set(na.tokens)):
        return False  # another named subject: "Trump Jr." is not "Trump", "Party A" is not "Party B"
    return not (ma.end_date and mb.end_date and abs(ma.end_date - mb.end_date) > SIMILAR_MAX_END_GAP)
