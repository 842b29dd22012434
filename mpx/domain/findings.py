"""What a rule finds, typed: an :class:`Arbitrage` or an indicator's :class:`Measure`.

* An **arbitrage** is a set of legs bought in equal share counts whose payout is guaranteed in
  every state of the world. It carries the payout in every state (:attr:`Arbitrage.states`, from
  :func:`mpx.domain.payout.payout_table`), the facts those states rest on (:attr:`Arbitrage.basis`),
  the legs with their executable size, cost and fees, and so its net edge. There is no default
  payout anywhere: a set whose table is missing is not an arbitrage. Only arbitrage can become an
  order intent.
* An **indicator** (a spike, a breakout, an endgame setup, a possible relation) carries its own
  named :class:`Measure` — a move, a break, a return if the likely outcome wins, a gap — and never a
  net edge; optionally the :class:`Entry` a position taken at the signal would have bought (what
  backtests price).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from mpx.domain.codec import CodecError, from_json, to_json
from mpx.domain.models import ZERO, Side
from mpx.domain.money import edge_bps
from mpx.domain.payout import StatePayout, guaranteed

FindingClass = Literal["arbitrage", "indicator"]


class FindingError(ValueError):
    """A finding that does not hold together (a rule bug), or a stored one that cannot be read back."""


@dataclass(frozen=True, slots=True)
class Leg:
    token_id: str
    market_id: str
    label: str
    side: Side
    shares: Decimal
    vwap: Decimal
    cost: Decimal
    fee: Decimal
    worst_price: Decimal

    def as_dict(self) -> dict[str, Any]:
        return to_json(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Leg:
        try:
            return from_json(cls, d)
        except CodecError as exc:
            raise FindingError(f"stored leg is malformed: {exc}") from None


@dataclass(frozen=True, slots=True)
class Arbitrage:
    """Legs whose payout is guaranteed in every state (see the module docstring)."""

    legs: tuple[Leg, ...]
    shares: Decimal
    """Sets: every leg buys this many shares."""
    states: tuple[StatePayout, ...]
    """What one set pays in every state of the world the basis allows."""
    basis: tuple[str, ...]
    """The facts the states rest on, one line each (a complete negRisk event, a declared or
    confirmed equivalence, a proven ladder, a binary market's two outcomes)."""
    fee_unknown: bool = False
    """A leg's market charges fees at an unknown rate: its fee is priced as 0 (never P1, never an
    intent)."""

    def __post_init__(self) -> None:
        if not self.legs:
            raise FindingError("an arbitrage needs legs")
        if not self.states:
            raise FindingError("an arbitrage needs the payout in every state")
        if any(leg.shares != self.shares for leg in self.legs):
            raise FindingError("every leg of an arbitrage buys the same number of shares")
        if any(leg.side != "BUY" for leg in self.legs):
            raise FindingError("an arbitrage buys every leg")
        if self.payout_per_share <= 0:
            raise FindingError("a set that pays nothing in some state is not an arbitrage")

    @property
    def payout_per_share(self) -> Decimal:
        """What one set pays whatever happens: the smallest payout over every state."""
        return guaranteed(self.states)

    @property
    def payout(self) -> Decimal:
        return self.shares * self.payout_per_share

    @property
    def cost(self) -> Decimal:
        """What the legs cost, fees included."""
        return sum((leg.cost + leg.fee for leg in self.legs), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((leg.fee for leg in self.legs), ZERO)

    @property
    def profit(self) -> Decimal:
        """Locked in at entry: guaranteed payout − cost incl. fees."""
        return self.payout - self.cost

    @property
    def net_edge_bps(self) -> Decimal:
        return edge_bps(self.profit, self.cost)

    @property
    def market_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(leg.market_id for leg in self.legs))

    def as_dict(self) -> dict[str, Any]:
        return {
            "shares": str(self.shares), "payout_per_share": str(self.payout_per_share),
            "payout": str(self.payout), "cost": str(self.cost), "fees": str(self.fees),
            "profit": str(self.profit), "net_edge_bps": str(self.net_edge_bps), "fee_unknown": self.fee_unknown,
            "legs": [leg.as_dict() for leg in self.legs], "states": [s.as_dict() for s in self.states],
            "basis": list(self.basis),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Arbitrage:
        """Read a stored arbitrage back, strictly: the payout per share it claims must be the one its
        own states give (no default, no trust in a stored number)."""
        if not isinstance(d, Mapping):
            raise FindingError("no arbitrage in the signal (no legs with a payout in every state)")
        try:
            arb = cls(
                legs=tuple(Leg.from_dict(x) for x in d["legs"]),
                shares=Decimal(d["shares"]),
                states=tuple(from_json(StatePayout, s) for s in d["states"]),
                basis=tuple(str(b) for b in d["basis"]),
                fee_unknown=bool(d["fee_unknown"]),
            )
        except FindingError:
            raise
        except (KeyError, TypeError, ArithmeticError, ValueError) as exc:  # CodecError is a ValueError
            raise FindingError(f"stored arbitrage is malformed ({type(exc).__name__}: {exc})") from None
        claimed = d.get("payout_per_share")
        if claimed is not None and Decimal(claimed) != arb.payout_per_share:
            raise FindingError(f"stored payout per share {claimed} is not what its states give "
                               f"({arb.payout_per_share})")
        return arb


MeasureName = Literal["move_bps", "break_bps", "return_if_right_bps", "gap_bps"]
MEASURES: dict[str, str] = {
    "move_bps": "mid move in bps of probability",
    "break_bps": "distance beyond the window's range in bps of probability",
    "return_if_right_bps": "net return to resolution if the likely outcome wins, in bps (a directional bet)",
    "gap_bps": "price gap in bps of probability between markets that may be related (not a proven edge)",
}


@dataclass(frozen=True, slots=True)
class Measure:
    """An indicator's strength, named (never a net edge)."""

    name: MeasureName
    value: Decimal

    @property
    def meaning(self) -> str:
        return MEASURES[self.name]

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "value": str(self.value), "meaning": self.meaning}


@dataclass(frozen=True, slots=True)
class Entry:
    """The outcome token a position taken at an indicator's signal would buy, at ``price`` (its best
    ask, or the VWAP the rule priced). Backtests value it at resolution or at the window's end."""

    token_id: str
    market_id: str
    label: str
    price: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"token_id": self.token_id, "market_id": self.market_id, "label": self.label,
                "price": str(self.price)}
