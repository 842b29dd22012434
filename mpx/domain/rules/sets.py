"""Pricing a set of legs bought in equal share counts — the executable core of every arbitrage kind.

* every leg buys the same number of shares ``S`` by walking its token's asks (best-first), each
  level a separate fill charged its own taker fee (:func:`mpx.domain.money.walk_book`);
* ``S`` is at most the rule's size and at most the thinnest leg's total ask depth, floored to
  0.01 share, and never below the largest ``min_order_size`` among the legs;
* the set pays ``S × payout`` USDC at resolution whatever happens (``payout`` is the smallest
  payout over every state of the world, :mod:`mpx.domain.payout`), so ``profit = S × payout −
  Σ leg cost incl. fees``. The sizes tried are ``S`` itself, the largest minimum order size of the
  legs, and every level boundary of every leg in between; the most profitable is reported. That
  is exact: each leg's cost is convex and piecewise linear in the size (asks get dearer level by
  level, fees are per share within a level), so the profit is concave and piecewise linear and
  its maximum sits at a boundary or at an end of the allowed range. Nothing is returned unless
  ``profit > 0``.

Also here: what makes a negRisk event a *complete* outcome set (API_NOTES §3) — no augmented
events, no placeholder/"Other" markets, every market the source lists parsed, present and
tradable — and :func:`make_arbitrage`, which turns a priced set and its payout table into the typed
:class:`~mpx.domain.findings.Arbitrage` every arbitrage kind reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from mpx.domain.findings import Arbitrage, Leg
from mpx.domain.models import ZERO, Event, Level, Market, Outcome
from mpx.domain.money import Fill, depth, round_to_tick, walk_book
from mpx.domain.payout import ExactlyOne, StatePayout
from mpx.domain.rules.base import Scope, Universe

SHARE_QUANTUM = Decimal("0.01")
"""Sizes are floored to whole cents of a share."""

_PLACEHOLDER_LABEL = re.compile(r"^(other|others|another|any other|someone else|anyone else)$")
_PLACEHOLDER_QUESTION = re.compile(r"^(other\??|will (another|any other|someone else|anyone else)\b.*)$")


@dataclass(frozen=True, slots=True)
class LegBook:
    """One leg to buy: a market's outcome token and that token's fresh asks (best-first)."""

    market: Market
    outcome: Outcome
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class PricedSet:
    shares: Decimal
    fills: tuple[Fill, ...]
    cost: Decimal  # Σ fill.total: prices plus fees
    payout_per_share: Decimal = Decimal(1)
    """What one share of every leg is certain to pay in total (1 for a complete YES set; N − 1 for
    the NO legs of an N-outcome negRisk event)."""

    @property
    def payout(self) -> Decimal:
        return self.shares * self.payout_per_share

    @property
    def profit(self) -> Decimal:
        return self.payout - self.cost


def floor_shares(shares: Decimal) -> Decimal:
    return shares.quantize(SHARE_QUANTUM, rounding=ROUND_DOWN)


def is_placeholder(market: Market) -> bool:
    """The "Other" market of an augmented event, or a market named like one (API_NOTES §3)."""
    if market.neg_risk_other:
        return True
    key = (market.id, market.question)
    found = _PLACEHOLDER_CACHE.get(key)
    if found is None:  # every pass asks again about the same markets: match each question once
        found = _PLACEHOLDER_CACHE[key] = (
            any(_PLACEHOLDER_LABEL.match(o.label.strip().lower()) for o in market.outcomes)
            or bool(_PLACEHOLDER_QUESTION.match(market.question.strip().lower())))
    return found


_PLACEHOLDER_CACHE: dict[tuple[str, str], bool] = {}


def price_set(legs: Sequence[LegBook], size: Decimal, payout: Decimal = Decimal(1),
              step: Decimal = SHARE_QUANTUM) -> PricedSet | None:
    """The most profitable equal-share purchase of every leg, or ``None`` if none is profitable.

    ``payout`` is what one share of every leg together is certain to pay at resolution. ``step``:
    sizes are multiples of it (0.01 share; 1 where a leg trades whole contracts only, as Kalshi's
    markets without fractional trading).

    Candidate sizes: ``S = min(size, thinnest depth)`` floored to 0.01, the largest minimum order
    size of the legs, and every cumulative level boundary of any leg between the two.
    Ties go to the larger size.
    """
    if not legs or any(not leg.asks for leg in legs):
        return None
    def floor(x: Decimal) -> Decimal:
        return floor_shares(x) if step == SHARE_QUANTUM else (x / step).to_integral_value(ROUND_DOWN) * step

    cap = floor(min(size, *(depth(leg.asks) for leg in legs)))
    min_size = max(leg.market.min_order_size for leg in legs)
    if cap <= 0 or cap < min_size:
        return None
    candidates = {cap}
    smallest = (min_size.quantize(SHARE_QUANTUM, rounding=ROUND_CEILING) if step == SHARE_QUANTUM
                else (min_size / step).to_integral_value(ROUND_CEILING) * step)
    if 0 < smallest <= cap:
        candidates.add(smallest)  # the minimum order itself: the cheapest levels may only cover it
    for leg in legs:
        cumulative = ZERO
        for level in leg.asks:
            cumulative += level.size
            boundary = floor(cumulative)
            if boundary >= cap:
                break
            if boundary > 0 and boundary >= min_size:
                candidates.add(boundary)
    candidates.discard(ZERO)
    best: PricedSet | None = None
    for shares in sorted(candidates, reverse=True):
        fills = tuple(walk_book(leg.asks, shares, leg.market.fee) for leg in legs)
        if not all(f.complete for f in fills):
            continue
        priced = PricedSet(shares, fills, sum((f.total for f in fills), ZERO), payout)
        if best is None or priced.profit > best.profit:
            best = priced
    return best if best is not None and best.profit > 0 else None


def make_leg(leg: LegBook, fill: Fill) -> Leg:
    assert fill.vwap is not None and fill.worst_price is not None
    return Leg(
        token_id=leg.outcome.token_id, market_id=leg.market.id, label=leg.outcome.label, side="BUY",
        shares=fill.shares, vwap=fill.vwap.quantize(Decimal("0.000001")), cost=fill.cost, fee=fill.fee,
        worst_price=fill.worst_price,
    )


def cannot_profit(outcomes: Sequence[Outcome], universe: Universe, payout: Decimal) -> bool:
    """True when the set cannot be profitable at any size: some leg has no fresh asks, or the best
    asks already sum to ``payout`` or more (every share costs at least its best ask and fees are
    never negative, so ``profit = S × payout − cost ≤ S × (payout − Σ best asks) ≤ 0``). Exact, and
    cheap: it reads only the top of each book, so most sets are dismissed before any depth is read."""
    total = universe.sum_fresh_asks([o.token_id for o in outcomes])
    return total is None or total >= payout


def leg_books(pairs: Sequence[tuple[Market, Outcome]], universe: Universe,
              payout: Decimal | None = None) -> list[LegBook] | None:
    """Each outcome's fresh asks; ``None`` if any book is missing, stale or has no asks — or, given
    the set's ``payout``, when :func:`cannot_profit` says no size can profit."""
    if payout is not None and cannot_profit([o for _, o in pairs], universe, payout):
        return None
    legs: list[LegBook] = []
    for market, outcome in pairs:
        asks = universe.fresh_asks(outcome.token_id)
        if not asks:
            return None
        legs.append(LegBook(market, outcome, asks))
    return legs


def incomplete_reason(event: Event, markets: Sequence[Market]) -> str | None:
    """Why a negRisk event is not a complete, mutually exclusive outcome set (``None``: it is).
    ``markets`` are the event's markets we hold. Compared with the source's own list: a market the
    source lists that could not be parsed leaves a state of the world (that market winning) that
    no set of the others covers."""
    if not event.neg_risk:
        return "not a negRisk event"
    if event.neg_risk_augmented:
        return "augmented negRisk event (open-ended outcome set)"
    if event.listed_markets is None:
        return "the source's market list for the event is not recorded (next metadata refresh)"
    if len(event.market_ids) != event.listed_markets:
        why = f"the source lists {event.listed_markets} market(s), {len(event.market_ids)} parsed"
        return why + (f" ({'; '.join(event.dropped[:3])})" if event.dropped else "")
    if len(markets) < len(event.market_ids):
        return f"{len(event.market_ids) - len(markets)} listed market(s) not stored"
    if len(markets) < 2:
        return "fewer than 2 markets"
    placeholder = [m for m in markets if is_placeholder(m)]
    if placeholder:
        return f"placeholder/\"Other\" market {placeholder[0].id}"
    closed = [m for m in markets if not m.tradable]
    if closed:
        return f"{len(closed)} of {len(markets)} market(s) not tradable (closed, resolved or not accepting orders)"
    return None


def complete_neg_risk_markets(event: Event, universe: Universe) -> list[Market] | None:
    """The markets of a negRisk event that is a complete, mutually exclusive outcome set, else
    ``None`` (see :func:`incomplete_reason`)."""
    if not event.neg_risk or event.neg_risk_augmented:
        return None
    markets = universe.event_markets(event)
    return None if incomplete_reason(event, markets) is not None else markets


def complete_events(scope: Scope, universe: Universe) -> list[tuple[Event, list[Market]]]:
    """The complete negRisk events (:func:`complete_neg_risk_markets`) whose markets are all in
    ``scope``, with those markets: depends only on the markets and the scope, so it is worked out
    once per run (``universe.memo``)."""
    key = ("complete-events", scope)
    found = universe.memo.get(key)
    if found is None:
        found = []
        for event in universe.events.values():
            markets = complete_neg_risk_markets(event, universe)
            if markets is not None and all(scope.admits(m) for m in markets):
                found.append((event, markets))
        universe.memo[key] = found
    return found


def exactly_one(event: Event, markets: Sequence[Market]) -> ExactlyOne:
    """The fact a complete negRisk event's sets rest on."""
    return ExactlyOne(tuple(m.id for m in markets),
                      f"negRisk event {event.id} is complete: the source lists {len(markets)} markets, all parsed, "
                      "tradable and none a placeholder — exactly one resolves YES")


BINARY_BASIS = "a binary market resolves to exactly one of YES and NO"


def make_arbitrage(legs: Sequence[LegBook], priced: PricedSet, table: Sequence[StatePayout],
                   basis: Sequence[str]) -> Arbitrage:
    """The typed finding for a priced set: its legs, size, the payout in every state and why."""
    arb = Arbitrage(legs=tuple(make_leg(leg, f) for leg, f in zip(legs, priced.fills, strict=True)),
                    shares=priced.shares, states=tuple(table), basis=tuple(basis),
                    fee_unknown=any(not leg.market.fee.known for leg in legs))
    assert arb.payout_per_share == priced.payout_per_share, "priced against another payout than the states give"
    return arb


def limit_prices(legs: Sequence[LegBook], priced: PricedSet) -> list[str]:
    """Each leg's worst fill rounded up onto its market's tick (display)."""
    return [str(round_to_tick(f.worst_price, leg.market.tick_size, up=True))
            for leg, f in zip(legs, priced.fills, strict=True) if f.worst_price is not None]
