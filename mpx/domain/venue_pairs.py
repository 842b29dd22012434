"""Cross-venue pairs: the same question listed on two venues, proven equivalent by a person.

The matcher (:func:`propose`) only *proposes*: a market of one venue and a market of another whose
subject words, thresholds and dates agree — "Lions vs. Bills" on Polymarket and Kalshi's "Detroit
wins" (whose rules read "If Detroit wins the DET Lions vs BUF Bills Pro Football game…"), closing
within ``max_date_gap`` of each other, with the same numbers in their questions (an over/under
49.5 or a spread -1.5 never pairs with a moneyline). Similar text is never proof: venues word the
same game differently, invert YES and NO (Kalshi lists one market per team; Polymarket one market
whose outcome 0 is the away team), and resolve postponements differently. So a person reads both
questions, close times, resolution sources and rules side by side (``mpx pairs propose``) and gives
a verdict (``mpx pairs confirm ID --orientation same|inverted`` or ``mpx pairs reject ID``):

* ``same`` — the second market's YES is the first market's outcome 0 ("Detroit wins" YES ≡
  Polymarket "Lions"): the two resolve alike (:class:`~mpx.domain.payout.Equivalent`);
* ``inverted`` — the second market's YES is the first market's outcome 1 ("Buffalo wins" YES ≡
  "Bills", i.e. NOT "Lions"): exactly one resolves YES (:class:`~mpx.domain.payout.Complementary`).

A verdict keeps a fingerprint of both markets (question, close time, resolution source, rules text)
and lapses when either changes: the pair is a candidate again, and a candidate is at most a P3
indicator. Only a confirmed pair whose verdict holds can be priced as arbitrage (CROSS_VENUE).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from mpx.domain.models import Market
from mpx.domain.payout import Complementary, Constraint, Equivalent
from mpx.domain.synonyms.normalise import normalise
from mpx.domain.synonyms.verdicts import member_fingerprint

Orientation = Literal["same", "inverted"]
ORIENTATIONS: tuple[Orientation, ...] = ("same", "inverted")
PairState = Literal["candidate", "confirmed", "rejected", "lapsed"]

MIN_OVERLAP = 0.6
"""Share of the shorter side's subject words the other side's text must contain."""
_YES_NO = {"yes", "no"}


@dataclass(frozen=True, slots=True)
class PairVerdict:
    decision: Literal["confirmed", "rejected"]
    orientation: Orientation | None
    actor: str
    decided_at: datetime | None
    note: str = ""
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    def basis(self) -> str:
        when = f" on {self.decided_at.date().isoformat()}" if self.decided_at else ""
        note = f": {self.note}" if self.note else ""
        return f"{self.decision} by {self.actor}{when}{note}"


@dataclass(frozen=True, slots=True)
class VenuePair:
    """A stored pair with its current state (its verdict checked against the markets as they are)."""

    id: int
    market_a: str
    """The first market (Polymarket's, see :func:`ordered`): the orientation refers to its outcome 0."""
    market_b: str
    """The second venue's market: its YES is market_a's outcome 0 (``same``) or outcome 1 (``inverted``)."""
    state: PairState
    orientation: Orientation | None = None
    basis: str = ""
    """Why it is confirmed (who, when, note), or why not (proposed by the matcher, lapsed because…)."""
    reason: str = ""
    """What the matcher saw (shared words, date gap)."""

    @property
    def key(self) -> str:
        return f"pair:{self.id}"

    @property
    def proven(self) -> bool:
        return self.state == "confirmed" and self.orientation is not None

    def fact(self) -> Constraint:
        """The proven relation between the two markets' YES outcomes (only for a confirmed pair)."""
        if not self.proven:
            raise ValueError(f"pair {self.id} is not confirmed: it proves nothing")
        basis = f"cross-venue pair {self.id} {self.orientation}, {self.basis}"
        if self.orientation == "same":
            return Equivalent(self.market_a, self.market_b, basis)
        return Complementary(self.market_a, self.market_b, basis)


@dataclass(frozen=True, slots=True)
class PairCandidate:
    market_a: str
    market_b: str
    reason: str


def ordered(a: Market, b: Market) -> tuple[Market, Market]:
    """The pair's order: Polymarket (whose outcomes carry names, e.g. "Lions"/"Bills") first, the
    venue whose markets are YES/NO questions (Kalshi) second; otherwise by venue name."""
    if a.venue == b.venue:
        raise ValueError("a cross-venue pair needs markets of two venues")
    rank = {"polymarket": 0}
    return (a, b) if (rank.get(a.venue, 1), a.venue) <= (rank.get(b.venue, 1), b.venue) else (b, a)


def fingerprints(*markets: Market) -> dict[str, str]:
    return {m.id: member_fingerprint(m) for m in markets}


def lapsed_because(v: PairVerdict, markets: Mapping[str, Market], a: str, b: str) -> str | None:
    for mid in (a, b):
        m = markets.get(mid)
        if m is None:
            return f"market {mid} is gone"
        if v.fingerprints.get(mid) != member_fingerprint(m):
            return f"market {mid} changed (question, close time, resolution source or rules) since the verdict"
    return None


def pair_state(pair_id: int, a: str, b: str, verdict: PairVerdict | None, markets: Mapping[str, Market],
               reason: str = "") -> VenuePair:
    """The pair as it stands: confirmed/rejected while the verdict holds, else a candidate (lapsed
    says why)."""
    if verdict is None:
        return VenuePair(pair_id, a, b, "candidate", basis="proposed by the matcher, not confirmed", reason=reason)
    why = lapsed_because(verdict, markets, a, b)
    if why is not None:
        return VenuePair(pair_id, a, b, "lapsed", basis=f"verdict lapsed: {why}", reason=reason)
    return VenuePair(pair_id, a, b, verdict.decision, verdict.orientation if verdict.decision == "confirmed" else None,
                     verdict.basis(), reason)


# ------------------------------------------------------------------ the matcher


@dataclass(frozen=True, slots=True)
class _Side:
    market: Market
    words: frozenset[str]
    """Subject words of the question (and of non-Yes/No outcome labels)."""
    text_words: frozenset[str]
    """Every content word of the question, outcome labels and rules: what the other side is looked up in."""
    numbers: frozenset[str]
    """Non-date figures of the question (thresholds, lines)."""
    comparators: tuple[str, ...]


def _side(m: Market) -> _Side:
    q = normalise(m.question)
    labels = " ".join(o.label for o in m.outcomes if o.label.lower() not in _YES_NO)
    lab = normalise(labels) if labels else None
    rules = normalise(m.description[:1000]) if m.description else None
    words = q.words | (lab.words if lab else frozenset())
    text = words | (rules.words if rules else frozenset())
    numbers = frozenset(f for f in q.figures if not f.startswith("@"))
    comparators = tuple(t for t in q.skeleton if not t[:1].isalnum() and not t.startswith("@") and t not in numbers)
    return _Side(m, words, text, numbers, comparators)


def _eligible(m: Market) -> bool:
    return len(m.outcomes) == 2 and m.status == "active" and not m.neg_risk_other


def propose(markets: Mapping[str, Market], *, max_date_gap: timedelta = timedelta(days=3),
            known: frozenset[frozenset[str]] = frozenset()) -> list[PairCandidate]:
    """Pairs of binary markets on different venues that look like the same question: the subject
    words of each side's question are (at least :data:`MIN_OVERLAP` of them) in the other side's
    question, outcome names or rules; the numbers of both questions are the same; both close within
    ``max_date_gap`` of each other (both close dates known). ``known`` pairs are not proposed again.
    Candidates only: a person proves them (module docstring)."""
    by_venue: dict[str, list[_Side]] = {}
    for m in markets.values():
        if _eligible(m):
            by_venue.setdefault(m.venue, []).append(_side(m))
    venues = sorted(by_venue)
    found: dict[tuple[str, str], PairCandidate] = {}
    for i, va in enumerate(venues):
        for vb in venues[i + 1:]:  # looked up both ways: either side's words may be the other's rules
            for c in (*_match(by_venue[va], by_venue[vb], max_date_gap, known),
                      *_match(by_venue[vb], by_venue[va], max_date_gap, known)):
                found.setdefault((c.market_a, c.market_b), c)
    return sorted(found.values(), key=lambda c: (c.market_a, c.market_b))


def _match(left: Sequence[_Side], right: Sequence[_Side], max_gap: timedelta,
           known: frozenset[frozenset[str]]) -> Iterator[PairCandidate]:
    index: dict[str, list[_Side]] = {}
    for s in right:
        for w in s.text_words:
            index.setdefault(w, []).append(s)
    for a in left:
        if not a.words or a.market.end_date is None:
            continue
        seen: set[str] = set()
        for w in a.words:
            for b in index.get(w, ()):
                if b.market.id in seen:
                    continue
                seen.add(b.market.id)
                reason = _why(a, b, max_gap)
                if reason is None or frozenset((a.market.id, b.market.id)) in known:
                    continue
                first, second = ordered(a.market, b.market)
                yield PairCandidate(first.id, second.id, reason)


def _why(a: _Side, b: _Side, max_gap: timedelta) -> str | None:
    if b.market.end_date is None or a.market.end_date is None or not b.words:
        return None
    gap = abs(a.market.end_date - b.market.end_date)
    if gap > max_gap or a.numbers != b.numbers or a.comparators != b.comparators:
        return None
    a_in_b = len(a.words & b.text_words) / len(a.words)
    b_in_a = len(b.words & a.text_words) / len(b.words)
    if max(a_in_b, b_in_a) < MIN_OVERLAP:
        return None
    shared = sorted((a.words & b.text_words) | (b.words & a.text_words))
    hours = gap.total_seconds() / 3600
    nums = f"; numbers {', '.join(sorted(a.numbers))}" if a.numbers else ""
    return f"shared words {', '.join(shared[:8])}; close times {hours:.0f} h apart{nums}"
