"""Candidates the matcher proposes and the verdicts people give on them.

A *candidate* is a pair of markets the matcher thinks may be related but cannot prove: two members
of a keyword group or of a similar-text group (proposed as equivalent), or a ladder it found but
could not prove (proposed as an implication, ``first`` ⇒ ``second``). A person reads both questions
and their resolution rules and gives a :class:`Verdict` (``mpx synonyms confirm | reject``):

* confirmed *equivalent*: the pair is a proven group (the union of confirmed pairs is one group,
  ``confirmed:<hash of its members>``);
* confirmed *implies*: a proven relation ``narrower`` ⇒ ``wider`` of kind ``confirmed``;
* rejected: the pair is never proposed again, as a group or a relation.

A verdict holds for the markets as the person read them: it keeps a fingerprint of each market's
question, end date, resolution source and rules (:func:`member_fingerprint`). When one of those
changes, the verdict *lapses*: it proves nothing, rejects nothing, and the pair is proposed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mpx.domain.models import Market

CandidateKind = Literal["equivalent", "implies"]
Decision = Literal["confirmed", "rejected"]
VerdictState = Literal["open", "confirmed", "rejected", "lapsed"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposal: ``first`` and ``second`` may ask the same question (``equivalent``), or ``first``
    may imply ``second`` (``implies``). ``reason`` says why the matcher proposes it and, for an
    unproven ladder, what is missing for a proof."""

    first: str
    second: str
    kind: CandidateKind
    reason: str

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.first, self.second))


@dataclass(frozen=True, slots=True)
class Verdict:
    """A person's latest verdict on one candidate pair (as stored; see the module docstring)."""

    candidate_id: int
    market_a: str
    market_b: str
    decision: Decision
    relation: CandidateKind | None = None
    """``confirmed``: ``equivalent`` or ``implies``."""
    narrower: str | None = None
    """``implies``: the market whose YES implies the other's (one of the pair)."""
    actor: str = ""
    decided_at: datetime | None = None
    note: str = ""
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    """Market id → :func:`member_fingerprint` when the verdict was given."""

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.market_a, self.market_b))

    @property
    def wider(self) -> str | None:
        if self.narrower is None:
            return None
        return self.market_b if self.narrower == self.market_a else self.market_a

    def basis(self) -> str:
        """``confirmed by alice@host on 2026-12-01: note`` (or rejected …)."""
        when = f" on {self.decided_at.date().isoformat()}" if self.decided_at else ""
        note = f": {self.note}" if self.note else ""
        return f"{self.decision} by {self.actor or '?'}{when}{note} (candidate {self.candidate_id})"


def fingerprint_of(question: str, end_date: datetime | None, resolution_source: str, description: str) -> str:
    """What a verdict depends on: the question, the end date, the resolution source and rules."""
    text = "\x1f".join((question, end_date.isoformat() if end_date else "", resolution_source, description))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def member_fingerprint(m: Market) -> str:
    return fingerprint_of(m.question, m.end_date, m.resolution_source, m.description)


def lapsed_because(v: Verdict, markets: Mapping[str, Market]) -> str | None:
    """Why a verdict no longer holds (a market gone, or changed since the verdict), else None."""
    for mid in (v.market_a, v.market_b):
        m = markets.get(mid)
        if m is None:
            return f"market {mid} is gone"
        if v.fingerprints.get(mid) != member_fingerprint(m):
            return f"market {mid} changed (question, end date, resolution source or rules) since the verdict"
    return None


def state_of(v: Verdict | None, markets: Mapping[str, Market]) -> VerdictState:
    if v is None:
        return "open"
    return "lapsed" if lapsed_because(v, markets) is not None else v.decision
