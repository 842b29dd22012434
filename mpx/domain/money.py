"""Exact money math: taker fees, walking a book to a VWAP, tick rounding.

All arithmetic is ``Decimal``. Prices are probabilities in [0, 1]; a share pays 1 USDC if its
outcome resolves YES.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from mpx.domain.models import ONE, ZERO, FeeSchedule, Level

FEE_QUANTUM = Decimal("0.00001")  # fees are charged in 0.00001 USDC
BPS = Decimal(10_000)


def taker_fee(shares: Decimal, price: Decimal, fee: FeeSchedule) -> Decimal:
    """Taker fee of one fill: ``shares × rate × (p × (1 − p))^exponent``, floored to the schedule's
    quantum (Polymarket: 0.00001 USDC), or rounded *up* to it where the venue does (Kalshi: to the
    cent, ``ceil_to_cent(0.07 × multiplier × C × P × (1 − P))``).

    Zero when fees are disabled. With fees enabled at an unknown rate the fee cannot be priced:
    callers must check ``fee.known`` first (such edges are never P1); this returns zero for them.
    """
    if not fee.enabled or fee.rate is None or shares <= 0:
        return ZERO
    raw = shares * fee.rate * (price * (ONE - price)) ** fee.exponent
    return raw.quantize(fee.quantum, rounding=ROUND_CEILING if fee.round_up else ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class Fill:
    """The result of walking one side of a book for ``shares``."""

    requested: Decimal
    shares: Decimal  # filled; less than requested when the book is too thin
    cost: Decimal  # Σ price × size, before fees
    fee: Decimal  # Σ taker fee per level fill
    worst_price: Decimal | None
    levels: int

    @property
    def complete(self) -> bool:
        return self.shares == self.requested

    @property
    def vwap(self) -> Decimal | None:
        return self.cost / self.shares if self.shares else None

    @property
    def total(self) -> Decimal:
        """Cost including fees (what a buyer pays / what a seller gives up)."""
        return self.cost + self.fee


def walk_book(levels: Sequence[Level], shares: Decimal, fee: FeeSchedule) -> Fill:
    """Take ``shares`` from ``levels`` (best-first), each level a separate fill charged its own fee."""
    remaining = shares
    cost = ZERO
    fees = ZERO
    worst: Decimal | None = None
    used = 0
    for level in levels:
        if remaining <= 0:
            break
        take = min(remaining, level.size)
        if take <= 0:
            continue
        cost += take * level.price
        fees += taker_fee(take, level.price, fee)
        remaining -= take
        worst = level.price
        used += 1
    return Fill(shares, shares - remaining, cost, fees, worst, used)


def depth(levels: Sequence[Level]) -> Decimal:
    return sum((lv.size for lv in levels), ZERO)


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """Round a price onto the market's tick grid (up for a buy limit, down for a sell limit)."""
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick


def edge_bps(profit: Decimal, cost: Decimal) -> Decimal:
    """Net profit over the cost of the legs, in basis points (2 decimals)."""
    if cost <= 0:
        return ZERO
    return (profit / cost * BPS).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
