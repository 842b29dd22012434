"""Sending an order intent's legs so that no execution path leaves a naked leg — pure, exact.

Everything that touches a venue goes through :class:`Venue`, a three-call protocol the paper venue
(:mod:`mpx.adapters.execution.paper`) implements today and a live CLOB adapter (fill-or-kill
orders on Polymarket's CLOB) implements the same way:

* ``buy_fok(token, market, shares, limit)`` — all of ``shares`` at prices at or below ``limit``, or
  nothing (fill-or-kill);
* ``sell(token, market, shares, floor)`` — as many of ``shares`` as the bids at or above ``floor``
  take now; the rest is cancelled (fill-and-kill);
* ``best_bid(token)`` — the best bid now (price and size), or ``None``.

A venue that cannot accept an order raises :class:`VenueRefused` (nothing executed). Any other
exception from a venue is treated the same way for the leg it happened on — the legs after it are
not sent and what filled before it is unwound — so a live adapter must raise only when the order
certainly did not execute, and return its fills otherwise.

:func:`execute` sends the legs in :func:`send_order` order — the leg with the least depth to spare
at its limit first: it is the one most likely to be killed, and a kill costs nothing while nothing
is held yet; the deepest legs go last, when the book they rely on is the likeliest to still be
there. The first leg killed (or refused) stops the sending: legs after it are never sent. If
nothing was bought the intent simply failed. If something was, :func:`unwind` sells it back.

:func:`unwind` sells every held position against the bids — at the best bid and down, never below
a floor price that keeps the realised loss within the cap (``EXEC_MAX_UNWIND_LOSS``, or the
``--max-loss`` of ``mpx intents unwind``). The loss still allowed is shared between the positions
in proportion to their cost; each position's floor is the lowest price on its market's tick grid at
which selling all of it recovers its share (:func:`floor_price`, fees included). Because a sale at
or above its floor never recovers less per share than its share of the allowance needs, the loss
over every attempt stays within the cap however the sales split. What cannot be sold within the cap
stays held: the intent is ``unwinding`` (naked) until a later attempt or a trader ends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from mpx.domain.codec import from_json, to_json
from mpx.domain.models import ONE, ZERO, FeeSchedule, Level, Market, Side
from mpx.domain.risk import Funds, PlannedLeg, depth_at_limit

TARGET_QUANTUM = Decimal("1e-12")

class IntentStatus(StrEnum):
    """Every status an order intent can have (``partially_filled``: intents executed before legs were
    sent fill-or-kill; no execution ends there now)."""

    SUGGESTED = "suggested"
    SENT = "sent"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    SETTLED = "settled"
    CLOSED = "closed"
    UNWOUND = "unwound"
    UNWINDING = "unwinding"


INTENT_STATUSES: tuple[IntentStatus, ...] = tuple(IntentStatus)
LIVE = frozenset(IntentStatus) - {IntentStatus.REJECTED, IntentStatus.CANCELLED, IntentStatus.FAILED}
"""One live intent per signal: a rejected, cancelled or failed one frees the signal."""
OPEN = frozenset({IntentStatus.SENT, IntentStatus.FILLED, IntentStatus.PARTIALLY_FILLED, IntentStatus.UNWINDING})
"""Count towards EXEC_MAX_CONCURRENT_ORDERS: sent, or a position not yet settled or closed."""
HELD = frozenset({IntentStatus.FILLED, IntentStatus.PARTIALLY_FILLED, IntentStatus.UNWINDING})
"""Hold shares: settled at resolution, closable by hand."""
EXECUTED = frozenset({IntentStatus.SENT, IntentStatus.FILLED, IntentStatus.PARTIALLY_FILLED, IntentStatus.SETTLED,
                      IntentStatus.CLOSED, IntentStatus.UNWOUND, IntentStatus.UNWINDING})
"""Confirmed already: confirming again does nothing."""


class VenueRefused(Exception):
    """The venue did not accept the order: nothing executed."""


@dataclass(frozen=True, slots=True)
class VenueFill:
    """What one order executed: ``cost`` is Σ price × size (paid for a buy, received for a sell),
    ``fee`` the taker fees charged on it."""

    shares: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    levels: tuple[Level, ...] = ()
    """What each price level filled (price, shares)."""

    @property
    def vwap(self) -> Decimal | None:
        return self.cost / self.shares if self.shares else None


class Venue(Protocol):
    name: str

    def buy_fok(self, token_id: str, market_id: str, shares: Decimal, limit: Decimal) -> VenueFill:
        """Buy exactly ``shares`` at prices ≤ ``limit``, or nothing (fill-or-kill)."""
        ...

    def sell(self, token_id: str, market_id: str, shares: Decimal, floor: Decimal) -> VenueFill:
        """Sell up to ``shares`` at prices ≥ ``floor`` now; the rest is cancelled (fill-and-kill)."""
        ...

    def best_bid(self, token_id: str) -> Level | None:
        """The best bid now, or ``None`` when nobody bids."""
        ...


@runtime_checkable
class ReportsFunds(Protocol):
    """An optional venue capability (account-level risk, #16): the USDC balance and the allowance the
    exchange may spend, asked before an intent is sent. The paper venue reports ``EXEC_PAPER_BALANCE``
    less what its positions hold; a live CLOB venue answers from ``GET /balance-allowance`` (asset
    type COLLATERAL). It raises when it cannot tell — the confirm is then rejected, nothing sent.
    A venue without it is not checked (the ``collateral`` check says so)."""

    def collateral(self) -> Funds:
        ...


__all__ = ["EXECUTED", "HELD", "INTENT_STATUSES", "LIVE", "OPEN", "Execution", "Funds", "IntentStatus", "LegFill",
           "Position", "ReportsFunds", "Unwind", "UnwindSell", "Venue", "VenueFill", "VenueRefused",
           "depth_at_limit", "execute", "floor_price", "incident_text", "positions_of", "send_order",
           "settle_positions", "share_of_target", "unwind"]


def send_order(legs: Sequence[PlannedLeg], depths: Mapping[str, Decimal]) -> tuple[int, ...]:
    """Leg indexes in sending order: least depth to spare at the limit (depth − shares) first, the
    plan's order between equals (see the module docstring for why)."""
    return tuple(sorted(range(len(legs)),
                        key=lambda i: (depths.get(legs[i].token_id, ZERO) - legs[i].shares, i)))


# --- what was bought ------------------------------------------------------------------------

LegOutcome = Literal["filled", "killed", "refused", "not_sent"]


@dataclass(frozen=True, slots=True)
class LegFill:
    """One leg as executed (``seq``: its place in the sending order, ``None`` when not sent)."""

    token_id: str
    market_id: str
    label: str
    side: Side
    requested: Decimal
    shares: Decimal
    vwap: Decimal | None
    cost: Decimal
    fee: Decimal
    limit_price: Decimal
    seq: int | None = None
    outcome: LegOutcome = "filled"
    note: str = ""

    @property
    def total(self) -> Decimal:
        return self.cost + self.fee

    def as_dict(self) -> dict[str, Any]:
        return to_json(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LegFill:
        return from_json(cls, d)


# --- what is held and how it is sold back ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Shares of one leg bought and not yet sold back."""

    token_id: str
    market_id: str
    label: str
    bought: Decimal
    cost: Decimal
    """What the ``bought`` shares cost, buy fees included."""
    sold: Decimal = ZERO
    proceeds: Decimal = ZERO
    """What the ``sold`` shares brought in, sell fees deducted."""

    @property
    def held(self) -> Decimal:
        return self.bought - self.sold

    @property
    def basis(self) -> Decimal:
        """What the shares still held cost (pro rata; exact while nothing was sold)."""
        if self.held == self.bought:
            return self.cost
        if self.bought <= 0:
            return ZERO
        return self.cost * self.held / self.bought

    def as_dict(self) -> dict[str, str]:
        return {**to_json(self), "held": str(self.held)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Position:
        return from_json(cls, d)


@dataclass(frozen=True, slots=True)
class UnwindSell:
    """One sell order of an unwind, or why it was not sent (``shares`` 0 and a ``note``)."""

    attempt: int
    token_id: str
    market_id: str
    label: str
    held: Decimal
    """Shares held when the order was decided."""
    target: Decimal
    """Net proceeds the held shares had to bring in to stay within the loss cap."""
    floor: Decimal | None
    best_bid: Decimal | None
    shares: Decimal = ZERO
    proceeds: Decimal = ZERO
    """Σ price × size received, before the sell fee."""
    fee: Decimal = ZERO
    note: str = ""

    @property
    def vwap(self) -> Decimal | None:
        return self.proceeds / self.shares if self.shares else None

    def as_dict(self) -> dict[str, Any]:
        vwap = self.vwap
        return {**to_json(self), "side": "SELL", "vwap": None if vwap is None else str(vwap)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UnwindSell:
        return from_json(cls, d)


@dataclass(frozen=True, slots=True)
class Unwind:
    """The unwind of an intent after its latest attempt."""

    max_loss: Decimal
    """The loss cap of the latest attempt (over the whole unwind, every attempt included)."""
    positions: tuple[Position, ...]
    sells: tuple[UnwindSell, ...]
    """Every attempt's orders, oldest first."""
    attempts: int

    @property
    def done(self) -> bool:
        return all(p.held <= 0 for p in self.positions)

    @property
    def spent(self) -> Decimal:
        return sum((p.cost for p in self.positions), ZERO)

    @property
    def recovered(self) -> Decimal:
        return sum((p.proceeds for p in self.positions), ZERO)

    @property
    def realised_loss(self) -> Decimal | None:
        """Cost of what was bought (fees included) − what selling it back brought in (fees
        deducted); ``None`` while shares are still held."""
        return self.spent - self.recovered if self.done else None

    @property
    def naked(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.held > 0)

    def as_dict(self) -> dict[str, Any]:
        loss = self.realised_loss
        return {"max_loss": str(self.max_loss), "attempts": self.attempts, "done": self.done,
                "spent": str(self.spent), "recovered": str(self.recovered),
                "realised_loss": None if loss is None else str(loss),
                "positions": [p.as_dict() for p in self.positions], "sells": [s.as_dict() for s in self.sells]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Unwind:
        return cls(Decimal(d["max_loss"]), tuple(Position.from_dict(p) for p in d["positions"]),
                   tuple(UnwindSell.from_dict(s) for s in d["sells"]), int(d["attempts"]))


def exact_fee(shares: Decimal, price: Decimal, fee: FeeSchedule) -> Decimal:
    """The taker fee before the venue floors it to 0.00001 (an upper bound of what it charges)."""
    if not fee.enabled or fee.rate is None or shares <= 0:
        return ZERO
    return shares * fee.rate * (price * (ONE - price)) ** fee.exponent


def floor_price(shares: Decimal, target: Decimal, fee: FeeSchedule, tick: Decimal) -> Decimal | None:
    """The lowest price on the tick grid at which selling ``shares`` brings in at least ``target``
    after the taker fee: ``shares × p − fee(shares, p) ≥ target``. ``None`` when no price below 1
    does, or the fee rate is unknown (a sale cannot be priced).

    Net proceeds per share ``p − rate × (p(1 − p))^e`` rise with ``p`` for any rate ≤ 1, so a sale
    at or above the floor never brings in less per share than the floor does."""
    if not fee.known:
        return None

    def net(steps: int) -> Decimal:
        p = tick * steps
        return shares * p - exact_fee(shares, p, fee)

    lo, hi = 1, int((ONE - tick) / tick)
    if net(hi) < target:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if net(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return tick * lo


def share_of_target(positions: Sequence[Position], i: int, max_loss: Decimal) -> Decimal:
    """Net proceeds position ``i``'s held shares must bring in: what every held share together must
    still recover to keep the loss within ``max_loss``, shared in proportion to cost (rounded up)."""
    required = sum((p.cost - p.proceeds for p in positions), ZERO) - max_loss
    if required <= 0:
        return ZERO
    held = [p for p in positions if p.held > 0]
    total = sum((p.basis for p in held), ZERO)
    mine = positions[i].basis
    if total <= 0 or mine == total:
        return required
    return (required * mine / total).quantize(TARGET_QUANTUM, rounding=ROUND_CEILING)


def unwind(positions: Sequence[Position], markets: Mapping[str, Market], venue: Venue, max_loss: Decimal, *,
           attempt: int = 1, history: Sequence[UnwindSell] = ()) -> Unwind:
    """One attempt to sell every held position back within ``max_loss`` (see the module docstring).
    The largest position goes first; each sale re-shares what the others must still recover."""
    pos = list(positions)
    sells = list(history)
    for i in sorted(range(len(pos)), key=lambda k: (-pos[k].basis, k)):
        p = pos[i]
        if p.held <= 0:
            continue
        target = share_of_target(pos, i, max_loss)

        def skipped(note: str, floor: Decimal | None = None, bid: Decimal | None = None,
                    p: Position = p, target: Decimal = target) -> UnwindSell:
            return UnwindSell(attempt, p.token_id, p.market_id, p.label, p.held, target, floor, bid, note=note)

        m = markets.get(p.market_id)
        if m is None:
            sells.append(skipped(f"market {p.market_id} is not stored: cannot price a sale"))
            continue
        if not m.tradable:
            sells.append(skipped(f"market {m.id} is {m.status}, not accepting orders: nothing can be sold (held to "
                                 "resolution, it settles)"))
            continue
        if not m.fee.known:
            sells.append(skipped(f"market {m.id} charges fees at an unknown rate: cannot price a sale"))
            continue
        floor = floor_price(p.held, target, m.fee, m.tick_size)
        if floor is None:
            sells.append(skipped(f"no price up to {ONE - m.tick_size} brings in {target} for {p.held} shares "
                                 f"within a loss of {max_loss}"))
            continue
        try:
            bid = venue.best_bid(p.token_id)
        except Exception as exc:  # the venue could not say: nothing sent
            sells.append(skipped(f"best bid unavailable: {type(exc).__name__}: {exc}", floor))
            continue
        if bid is None or bid.price < floor:
            why = "nobody bids" if bid is None else f"best bid {bid.price} is below the floor {floor}"
            sells.append(skipped(f"{why} (selling {p.held} shares for at least {target} keeps the loss within "
                                 f"{max_loss})", floor, None if bid is None else bid.price))
            continue
        try:
            f = venue.sell(p.token_id, p.market_id, p.held, floor)
        except Exception as exc:  # VenueRefused, or an adapter error: treated as not executed
            sells.append(skipped(f"sell refused: {type(exc).__name__}: {exc}", floor, bid.price))
            continue
        left = p.held - f.shares
        pos[i] = replace(p, sold=p.sold + f.shares, proceeds=p.proceeds + f.cost - f.fee)
        sells.append(UnwindSell(attempt, p.token_id, p.market_id, p.label, p.held, target, floor, bid.price,
                                f.shares, f.cost, f.fee,
                                "" if left <= 0 else f"{left} shares left: the bids at or above {floor} ran out"))
    return Unwind(max_loss, tuple(pos), tuple(sells), attempt)


# --- the whole execution --------------------------------------------------------------------

ExecutionStatus = Literal["filled", "failed", "unwound", "unwinding"]


@dataclass(frozen=True, slots=True)
class Execution:
    venue: str
    order: tuple[int, ...]
    """Leg indexes (plan order) in the order they were to be sent."""
    legs: tuple[LegFill, ...]
    """Every leg, in plan order."""
    unwind: Unwind | None = None

    @property
    def status(self) -> ExecutionStatus:
        if all(f.outcome == "filled" for f in self.legs):
            return "filled"
        if self.unwind is None:
            return "failed"
        return "unwound" if self.unwind.done else "unwinding"

    @property
    def spent(self) -> Decimal:
        """What the legs bought cost, fees included."""
        return sum((f.total for f in self.legs if f.shares > 0), ZERO)

    @property
    def stopped_at(self) -> LegFill | None:
        """The leg whose kill (or refusal) stopped the sending."""
        return next((f for f in sorted(self.legs, key=lambda f: f.seq or 0)
                     if f.seq is not None and f.outcome != "filled"), None)

    def sent_labels(self) -> list[str]:
        return [f"{f.seq}. {f.label} ({f.outcome})" for f in sorted(self.legs, key=lambda f: f.seq or 0)
                if f.seq is not None]


def execute(legs: Sequence[PlannedLeg], order: Sequence[int], markets: Mapping[str, Market], venue: Venue,
            max_unwind_loss: Decimal) -> Execution:
    """Send every leg fill-or-kill in ``order``; stop at the first that does not fill; unwind what
    filled before it (see the module docstring)."""
    out: list[LegFill | None] = [None] * len(legs)
    stopped = False
    seq = 0
    for i in order:
        leg = legs[i]
        if stopped:
            out[i] = LegFill(leg.token_id, leg.market_id, leg.label, leg.side, leg.shares, ZERO, None, ZERO, ZERO,
                             leg.limit_price, None, "not_sent", "not sent: an earlier leg did not fill")
            continue
        seq += 1
        try:
            f = venue.buy_fok(leg.token_id, leg.market_id, leg.shares, leg.limit_price)
        except Exception as exc:  # VenueRefused, or an adapter error: treated as not executed
            out[i] = LegFill(leg.token_id, leg.market_id, leg.label, leg.side, leg.shares, ZERO, None, ZERO, ZERO,
                             leg.limit_price, seq, "refused", f"{type(exc).__name__}: {exc}")
            stopped = True
            continue
        if f.shares == leg.shares:
            out[i] = LegFill(leg.token_id, leg.market_id, leg.label, leg.side, leg.shares, f.shares, f.vwap, f.cost,
                             f.fee, leg.limit_price, seq, "filled")
        else:  # killed: nothing filled (a venue that broke fill-or-kill: what it filled is unwound too)
            out[i] = LegFill(leg.token_id, leg.market_id, leg.label, leg.side, leg.shares, f.shares, f.vwap, f.cost,
                             f.fee, leg.limit_price, seq, "killed",
                             f"fill-or-kill: {leg.shares} shares not available at or below {leg.limit_price}")
            stopped = True
    fills = tuple(f for f in out if f is not None)
    held = positions_of(fills)
    if not stopped or not held:
        return Execution(venue.name, tuple(order), fills)
    return Execution(venue.name, tuple(order), fills, unwind(held, markets, venue, max_unwind_loss))


def positions_of(fills: Sequence[LegFill]) -> tuple[Position, ...]:
    """What the legs bought, as positions to sell back."""
    return tuple(Position(f.token_id, f.market_id, f.label, f.shares, f.total) for f in fills if f.shares > 0)


def settle_positions(positions: Sequence[Position], settle: Mapping[str, Decimal | None]) -> Decimal | None:
    """An unwinding intent whose markets resolved: what was sold back brought in its proceeds, what
    is still held pays what its outcome paid; minus what everything cost. ``None`` while a held
    outcome has not resolved."""
    total = ZERO
    for p in positions:
        total += p.proceeds - p.cost
        if p.held > 0:
            price = settle.get(p.token_id)
            if price is None:
                return None
            total += p.held * price
    return total


# --- what a trader is told ------------------------------------------------------------------


def _short(token: str) -> str:
    return token if len(token) <= 12 else f"{token[:10]}…"


def incident_text(intent_id: int, mode: str, legs: Sequence[LegFill] | None, result: Unwind,
                  breaker_note: str) -> str:
    """The P1 alert of an execution that had to unwind (plain text: numbers and labels only)."""
    lines: list[str] = []
    if legs:
        stop = next((f for f in sorted(legs, key=lambda f: f.seq or 0)
                     if f.seq is not None and f.outcome != "filled"), None)
        filled = [f for f in legs if f.shares > 0]
        if stop is not None:
            lines.append(f"Leg {stop.seq} of {len(legs)} ({stop.label}, {_short(stop.token_id)}) was {stop.outcome}: "
                         f"{stop.requested} at ≤ {stop.limit_price}" + (f" — {stop.note}" if stop.note else "") + ".")
        lines.append("Bought before it: " + "; ".join(
            f"{f.shares} {f.label} ({_short(f.token_id)}) for {f.total} USDC" for f in filled) + ".")
    if result.done:
        head = f"intent {intent_id} UNWOUND ({mode})"
        sold = [s for s in result.sells if s.attempt == result.attempts and s.shares > 0]
        if sold:
            lines.append("Sold back: " + "; ".join(f"{s.shares} {s.label} at {s.vwap} (floor {s.floor})"
                                                   for s in sold) + ".")
        lines.append(f"Realised loss {result.realised_loss} USDC = cost {result.spent} − proceeds "
                     f"{result.recovered} (fees included).")
    else:
        head = f"intent {intent_id} NAKED, unwinding ({mode})"
        for p in result.naked:
            why = next((s.note for s in reversed(result.sells) if s.token_id == p.token_id and s.note), "")
            lines.append(f"Still held: {p.held} {p.label} ({_short(p.token_id)}, market {_short(p.market_id)})"
                         + (f" — {why}" if why else "") + ".")
        lines.append(f"Could not sell within a loss of {result.max_loss} USDC. Retry with `mpx intents unwind "
                     f"{intent_id}` (--max-loss X) when bids return, or sell it yourself and "
                     f"`mpx intents close {intent_id} --pnl X`.")
    lines.append(breaker_note)
    return head + "\n" + "\n".join(lines)
