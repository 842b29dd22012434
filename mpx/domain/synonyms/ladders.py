"""Structural ladders: questions that differ in one threshold or one date — and when that is a proof.

**Threshold ladders** — the same normalised question with another number right after a comparator.
A comparator states a set of outcomes monotone in its number: for ``>``, ``>=`` and ``reach>`` the
higher threshold is narrower ("above $80,000" ⊂ "above $70,000"), for ``<``, ``<=`` and ``dip<``
the lower one. The number keeps its unit (``$80000`` ≠ ``80000``, ``3%`` ≠ ``3``) and the
comparator its class, both part of the template, so only like is compared with like.

**Date ladders** — the same question with another date (or month, or year) after "by" or "before":
the earlier date is narrower ("by March 31" ⊂ "by June 30"). "in 2026" and "on June 30" are not
ladders (another period, not a deadline).

**Negation.** A question with exactly one negation word (not, n't, no, never, fail to) before the
number or date, written in lower case, is the complement of the plain one: its ladder runs the other
way ("not reach $100k" ⊂ "not reach $150k"). Two negations, a negation after the number, or one
that is part of a name ("No Labels") leave the direction unproven.

**Proof.** A ladder relation is *proven* (arbitrage may be built on it) only when, on top of the
template, both markets have the same resolution source, non-empty resolution rules that are
identical once each market's own threshold or date is taken out (normalised like questions: "on
the date specified in the title", or the same text repeating the figure), an unambiguous negation,
for a date ladder rules that read as a deadline ("by … the date", "between … and <the date>": an
event by a deadline, not a state on a date), and — for a threshold ladder — the same end date. A
ladder missing any of these is still returned, unproven, with a basis naming what is missing: a
candidate for a person to confirm.

Ladders relate neighbouring levels only (sorted by threshold or date; every market of one level with
every market of the next): a contradiction anywhere in a ladder shows between neighbours. A level
whose markets are all closed or resolved does not break the chain: the live levels on either side
of it are related too. Two outcomes of one negRisk event are never related.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TypeVar

from mpx.domain.rules.base import Relation
from mpx.domain.synonyms.normalise import DIP, GE, GT, LE, LT, NEGATIONS, REACH, UPWARD
from mpx.domain.synonyms.universe import MatchUniverse

_THRESHOLD = re.compile(r"(?<!\S)(>=|<=|reach>|dip<|>|<) ([$€£]?)(-?\d+(?:\.\d+)?)(%?)(?= |$)")
_BY_DATE = re.compile(r"(?<!\S)(by|before) (@\d{4}-\d{2}-\d{2}|@\d{4}-\d{2}|@\d{2}-\d{2}|(?:19|20)\d{2})(?= |$)")
_WORDS = {GT: "above", GE: "at least", REACH: "reaching", LT: "below", LE: "at most", DIP: "dipping to"}
VALUE = "<value>"


@dataclass(frozen=True, slots=True)
class _Ladder:
    kind: str  # "threshold" | "date"
    template: str
    comparator: str  # a comparator token, or "by" / "before"
    unit: tuple[str, str]  # (currency, percent) of a threshold
    negations: int
    negation_first: bool
    """The one negation word comes before the value."""

    @property
    def flipped(self) -> bool:
        return self.negations % 2 == 1

    @property
    def negation_problem(self) -> str | None:
        if self.negations == 0 or (self.negations == 1 and self.negation_first):
            return None
        return (f"negation ambiguous ({self.negations} negation words)" if self.negations > 1
                else "negation ambiguous (after the value)")


def _ladder(kind: str, text: str, m: re.Match[str], comparator: str, unit: tuple[str, str],
            names: Callable[[], frozenset[str]]) -> _Ladder:
    template = f"{text[:m.start()]}{m.group(1)} {VALUE}{text[m.end():]}"
    tokens = template.split()
    at = tokens.index(VALUE)
    negs = [i for i, t in enumerate(tokens) if t in NEGATIONS]
    if negs:
        named = names()
        negs = [i for i in negs if tokens[i] not in named]  # "No Labels" is a name
    return _Ladder(kind, template, comparator, unit, len(negs), bool(negs) and negs[0] < at)


def ladders(u: MatchUniverse) -> Iterator[Relation]:
    """Every ladder relation between neighbouring levels, proven or not (see the module docstring)."""
    thresholds: dict[tuple[_Ladder, str], list[tuple[Decimal, str]]] = defaultdict(list)
    dates: dict[tuple[_Ladder, str, int], list[tuple[str, str]]] = defaultdict(list)
    values: dict[tuple[str, _Ladder], str] = {}
    for mid, n in u.norm.items():
        ctx = u.context(mid)
        for m in _THRESHOLD.finditer(n.text):
            lad = _ladder("threshold", n.text, m, m.group(1), (m.group(2), m.group(4)), partial(u.names, mid))
            thresholds[(lad, ctx)].append((Decimal(m.group(3)), mid))
            values[(mid, lad)] = f"{m.group(2)}{m.group(3)}{m.group(4)}"
        for m in _BY_DATE.finditer(n.text):
            lad = _ladder("date", n.text, m, m.group(1), ("", ""), partial(u.names, mid))
            dates[(lad, ctx, len(m.group(2)))].append((m.group(2).lstrip("@"), mid))
            values[(mid, lad)] = m.group(2)
    for (lad, ctx), members in thresholds.items():
        # "> x": the higher threshold is the narrower outcome; "< x": the lower one; negated: reversed
        reverse = (lad.comparator in UPWARD) != lad.flipped
        for (nv, narrower), (wv, wider) in _neighbours(u, members, reverse=reverse):
            yield _relation(u, lad, ctx, narrower, wider, _threshold_note(lad, nv, wv), values)
    for (lad, ctx, _), members_d in dates.items():
        for (nd, narrower), (wd, wider) in _neighbours(u, members_d, reverse=lad.flipped):
            neg = "not " if lad.flipped else ""
            yield _relation(u, lad, ctx, narrower, wider, f"{neg}{lad.comparator} {nd} ⊂ {neg}{lad.comparator} {wd}",
                            values)


def _threshold_note(lad: _Ladder, nv: Decimal, wv: Decimal) -> str:
    cur, pct = lad.unit
    word = ("not " if lad.flipped else "") + _WORDS[lad.comparator]
    return f"{word} {cur}{nv:,f}{pct} ⊂ {word} {cur}{wv:,f}{pct}"


def _relation(u: MatchUniverse, lad: _Ladder, ctx: str, narrower: str, wider: str, note: str,
              values: dict[tuple[str, _Ladder], str]) -> Relation:
    missing = _unproven(u, lad, ctx, narrower, wider, values)
    what = "threshold" if lad.kind == "threshold" else "date"
    if missing:
        basis = f"{what} ladder, unproven: {'; '.join(missing)}"
    else:
        basis = f"{what} ladder: same template, rules identical but for the {what}"
        if lad.negations:
            basis += " (negated: the ladder runs the other way)"
    return Relation(f"rel:{narrower}>{wider}", narrower, wider, "threshold" if lad.kind == "threshold" else "date",
                    f"{note}: {u.markets[narrower].question}", proven=not missing, basis=basis)


def _unproven(u: MatchUniverse, lad: _Ladder, ctx: str, a: str, b: str,
              values: dict[tuple[str, _Ladder], str]) -> list[str]:
    """What is missing for a proof (nothing: proven)."""
    ma, mb = u.markets[a], u.markets[b]
    missing = []
    problem = lad.negation_problem
    if problem is None and not NEGATIONS.isdisjoint(u.names(a) | u.names(b)):
        problem = "negation ambiguous (a negation word written as a name)"  # read as a name, not proven
    if problem:
        missing.append(problem)
    if ma.resolution_source.strip() != mb.resolution_source.strip():
        missing.append("different resolution sources")
    if not ma.description.strip() or not mb.description.strip():
        missing.append("no resolution rules to compare")
    else:
        rules_a = _without(u.rules(a), values[(a, lad)], ctx)
        if rules_a != _without(u.rules(b), values[(b, lad)], ctx):
            missing.append(f"resolution rules differ beyond the {lad.kind}")
        elif lad.kind == "date" and not _deadline(rules_a):
            missing.append("the rules state no deadline (by/before the date, or a window ending on it)")
    if lad.kind == "threshold" and (ma.end_date is None or ma.end_date != mb.end_date):
        missing.append("end dates differ" if ma.end_date and mb.end_date else "end date unknown")
    return missing


_DEADLINE = frozenset({"by", "before", "until", "till"})
_DATE_WORDS = frozenset({VALUE, "date", "day", "year", "deadline"})


def _deadline(rules: tuple[str, ...]) -> bool:
    """The rules read as a deadline — "by 11:59 PM ET on the date specified in the title", "by the
    listed date", "between January 1, 2026 and <the date>" — not as a state on the date ("is president
    on the date specified"): only an event by a deadline grows with the deadline."""
    for i, tok in enumerate(rules):
        if tok in _DEADLINE and not _DATE_WORDS.isdisjoint(rules[i + 1:i + 9]):
            return True
        if tok == "between" and VALUE in rules[i + 1:i + 12]:
            return True
    return False


def _without(rules: tuple[str, ...], value: str, ctx: str) -> tuple[str, ...]:
    """The rules with the market's own threshold or date (in any of its spellings) taken out."""
    forms = {value}
    if re.fullmatch(r"(?:19|20)\d{2}", value):
        forms.add(f"@{value}-12-31")  # "by 2030": by December 31, 2030
    elif m := re.fullmatch(r"@(\d{4})-(\d{2})", value):
        y, mo = int(m.group(1)), int(m.group(2))
        forms.add(f"@{y}-{mo:02d}-{calendar.monthrange(y, mo)[1]:02d}")  # "by March 2026": by March 31
    elif (m := re.fullmatch(r"@(\d{2})-(\d{2})", value)) and ctx.isdigit():
        forms.add(f"@{ctx}-{m.group(1)}-{m.group(2)}")  # "by March 31" read in the end date's year
    return tuple(VALUE if t in forms else t for t in rules)


T = TypeVar("T", Decimal, str)


def _neighbours(u: MatchUniverse, members: Sequence[tuple[T, str]], *,
                reverse: bool) -> Iterator[tuple[tuple[T, str], tuple[T, str]]]:
    """(narrower, wider) pairs between neighbouring levels, narrowest level first; a level of only
    closed/resolved markets is bridged (its live neighbours are related too)."""
    levels: dict[T, list[str]] = defaultdict(list)
    for value, mid in members:
        if mid not in levels[value]:
            levels[value].append(mid)
    if len(levels) < 2:
        return
    order = sorted(levels, reverse=reverse)
    for i, value in enumerate(order):
        for j in range(i + 1, len(order)):
            for a in levels[value]:
                for b in levels[order[j]]:
                    if not u.exclusive(a, b):
                        yield (value, a), (order[j], b)
            if any(u.markets[m].status == "active" for m in levels[order[j]]):
                break
