"""The states of the world a set of legs can meet, and what the set pays in each.

A *state* says which outcome of every market involved resolves (wins). Without anything known
about how the markets relate, every combination is a state: two binary markets have four. What is
*proven* about them removes states — each fact is a :data:`Constraint` with the reason it holds:

* :class:`ExactlyOne` — a complete negRisk event (every market the source lists is present and
  tradable, none a placeholder): exactly one of its markets resolves YES;
* :class:`Equivalent` — two markets ask the same question (declared by market ids or confirmed
  by a person): both resolve alike;
* :class:`Implies` — ``narrower`` YES implies ``wider`` YES (declared, confirmed, or a structural
  ladder): the state "narrower YES, wider NO" cannot happen;
* :class:`Complementary` — one market's YES is the other's NO (a cross-venue pair a person
  confirmed with orientation ``inverted``): exactly one of the two resolves YES.

:func:`payout_table` enumerates the states that remain and sums, for each, what one share of every
leg pays (1 for a leg whose outcome wins, 0 otherwise). A set is an *arbitrage* only when the
smallest of those payouts — paid in **every** state — exceeds what the legs cost. Nothing here
guesses: an equivalence suggested by similar text is not a constraint, so the states where the two
markets disagree stay in the table and the set's guaranteed payout drops accordingly.

Not modelled: a market voided and resolved 50-50 (each outcome paying 0.5).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mpx.domain.codec import to_json
from mpx.domain.models import Market

MAX_STATES = 100_000
"""A set whose markets leave more states than this is not enumerated (no rule builds one)."""


@dataclass(frozen=True, slots=True)
class ExactlyOne:
    """Exactly one of ``market_ids`` resolves YES (outcome 0); every other resolves NO."""

    market_ids: tuple[str, ...]
    basis: str


@dataclass(frozen=True, slots=True)
class Equivalent:
    """``a`` and ``b`` resolve alike: both YES or both NO."""

    a: str
    b: str
    basis: str


@dataclass(frozen=True, slots=True)
class Implies:
    """``narrower`` resolving YES implies ``wider`` resolves YES."""

    narrower: str
    wider: str
    basis: str


@dataclass(frozen=True, slots=True)
class Complementary:
    """``a`` resolves YES exactly when ``b`` resolves NO (and the other way round)."""

    a: str
    b: str
    basis: str


Constraint = ExactlyOne | Equivalent | Implies | Complementary


class PayoutError(ValueError):
    """Legs or constraints that do not describe a set of outcome tokens of the given markets."""


@dataclass(frozen=True, slots=True)
class StatePayout:
    """What one set (one share of every leg) pays in one state of the world."""

    state: str
    """Which markets resolve YES in this state, e.g. ``YES: Will Lab A ship first?``."""
    payout: Decimal

    def as_dict(self) -> dict[str, str]:
        return to_json(self)  # type: ignore[no-any-return]


def _yes(assignment: Mapping[str, int], market_id: str) -> bool:
    return assignment[market_id] == 0


def _consistent(assignment: Mapping[str, int], constraints: Sequence[Constraint], final: bool) -> bool:
    """No constraint is broken by the (partial) assignment; with ``final``, every one is met."""
    for c in constraints:
        if isinstance(c, ExactlyOne):
            seen = [m for m in c.market_ids if m in assignment]
            yes = sum(1 for m in seen if _yes(assignment, m))
            if yes > 1 or (len(seen) == len(c.market_ids) and yes != 1):
                return False
        elif isinstance(c, Equivalent):
            if c.a in assignment and c.b in assignment and _yes(assignment, c.a) != _yes(assignment, c.b):
                return False
        elif isinstance(c, Complementary):
            if c.a in assignment and c.b in assignment and _yes(assignment, c.a) == _yes(assignment, c.b):
                return False
        elif c.narrower in assignment and c.wider in assignment and _yes(assignment, c.narrower) \
                and not _yes(assignment, c.wider):
            return False
    return True


def states(markets: Sequence[Market], constraints: Sequence[Constraint] = ()) -> Iterator[dict[str, int]]:
    """Every assignment market id → index of its winning outcome that the constraints allow, in a
    stable order (markets as given, outcome 0 first). Each market resolves to exactly one outcome."""
    ids = [m.id for m in markets]
    known = set(ids)
    for c in constraints:
        named = c.market_ids if isinstance(c, ExactlyOne) else (c.a, c.b) if isinstance(
            c, Equivalent | Complementary) else (c.narrower, c.wider)
        unknown = [m for m in named if m not in known]
        if unknown:
            raise PayoutError(f"constraint {c} names markets not in the set: {unknown}")
    count = 0
    assignment: dict[str, int] = {}

    def walk(i: int) -> Iterator[dict[str, int]]:
        nonlocal count
        if i == len(markets):
            if _consistent(assignment, constraints, True):
                count += 1
                if count > MAX_STATES:
                    raise PayoutError(f"more than {MAX_STATES} states")
                yield dict(assignment)
            return
        for outcome in range(len(markets[i].outcomes)):
            assignment[ids[i]] = outcome
            if _consistent(assignment, constraints, False):
                yield from walk(i + 1)
            del assignment[ids[i]]

    yield from walk(0)


def _label(assignment: Mapping[str, int], markets: Sequence[Market]) -> str:
    parts = []
    for m in markets:
        won = assignment[m.id]
        if len(m.outcomes) == 2:
            if won == 0:
                parts.append(m.question)
        else:
            parts.append(f"{m.question} = {m.outcomes[won].label}")
    binary = all(len(m.outcomes) == 2 for m in markets)
    if binary:
        return "YES: " + "; ".join(parts) if parts else "every market NO"
    return "; ".join(parts)


def payout_table(leg_tokens: Sequence[str], markets: Sequence[Market],
                 constraints: Sequence[Constraint] = ()) -> tuple[StatePayout, ...]:
    """What one share of each token in ``leg_tokens`` pays together, in every state the constraints
    allow. ``markets`` are the markets the legs belong to (each token must be an outcome of one)."""
    where: dict[str, tuple[str, int]] = {}
    for m in markets:
        for o in m.outcomes:
            where[o.token_id] = (m.id, o.index)
    legs = []
    for token in leg_tokens:
        if token not in where:
            raise PayoutError(f"token {token[:20]}… is not an outcome of the set's markets")
        legs.append(where[token])
    table = []
    for assignment in states(markets, constraints):
        paid = sum((Decimal(1) for market_id, index in legs if assignment[market_id] == index), Decimal(0))
        table.append(StatePayout(_label(assignment, markets), paid))
    if not table:
        raise PayoutError("the constraints leave no state of the world (they contradict each other)")
    return tuple(table)


def guaranteed(table: Sequence[StatePayout]) -> Decimal:
    """What the set pays whatever happens: the smallest payout over every state."""
    return min(s.payout for s in table)
