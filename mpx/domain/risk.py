"""Order intents and the risk checks they must pass — pure functions, exact Decimal math.

* :func:`plan_intent` turns an arbitrage finding into an order: every leg's limit price is its
  VWAP plus the slippage allowance (``EXEC_SLIPPAGE_BPS``) rounded onto the market's tick without
  exceeding the allowance, but never short of the planned fill's worst level (:func:`limit_price`);
  the number of sets is the finding's, reduced until every leg at its limit price plus fees fits
  ``EXEC_MAX_NOTIONAL_PER_ORDER``.
* :func:`assess` runs every check against the stored markets and the latest books — the verdict
  names each check with its value and limit, whether it passed or not. Two of them make sure no
  leg can be left naked by the book or the prices: ``depth_at_limit`` (every leg's fresh book holds
  its full size at or below its limit, so a fill-or-kill order can fill) and ``worst_case_edge``
  (every leg filled at its limit, taker fees included, still leaves the minimum edge).
* :func:`settle_pnl` is what a filled intent made once its markets resolved.

How the legs are then sent (fill-or-kill, in which order, and the unwind when a later leg is
killed) is :mod:`mpx.domain.execution`. The job (``mpx.jobs.intents``) holds the PostgreSQL locks
that make check-and-reserve atomic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from mpx.domain.codec import from_json, to_json
from mpx.domain.durations import format_duration
from mpx.domain.findings import Arbitrage
from mpx.domain.models import NO_FEES, ONE, ZERO, Book, Level, Market, Side
from mpx.domain.money import BPS, Fill, edge_bps, round_to_tick, taker_fee, walk_book

SHARE_QUANTUM = Decimal("0.01")
USD = Decimal("0.00001")

CheckName = Literal["breaker", "market_open", "fee_known", "book_fresh", "depth_at_limit", "notional_per_order",
                    "concurrent_orders", "daily_notional", "rule_open_intents", "rule_daily_notional", "exposure",
                    "collateral", "slippage", "worst_case_edge", "edge"]
CHECKS: tuple[CheckName, ...] = ("breaker", "market_open", "fee_known", "book_fresh", "depth_at_limit",
                                 "notional_per_order", "concurrent_orders", "daily_notional", "rule_open_intents",
                                 "rule_daily_notional", "exposure", "collateral", "slippage", "worst_case_edge",
                                 "edge")
"""The three levels of risk (issue #16): **amount** — ``notional_per_order``, ``daily_notional``
(and ``concurrent_orders``); **strategy** — ``rule_open_intents``, ``rule_daily_notional`` (per
rule id); **account** — ``exposure`` (every open position), ``collateral`` (the venue's balance and
allowance less what is in flight) and the daily realised-loss limit, which trips the breaker
(``breaker``)."""
MARKET_CHECKS: frozenset[str] = frozenset({"market_open", "fee_known", "book_fresh", "depth_at_limit", "slippage",
                                           "edge"})
"""Rejections that say something is wrong with the market or our prices: they count towards the
circuit breaker. Hitting a capacity limit (per-order, concurrent, daily) or the worst-case edge bar
(the plan's limits against ``EXEC_MIN_EDGE_BPS``: it moves only when the policy or a fee changes)
is the limits working, and a rejection by the open breaker itself must not keep it open: those do
not count. The strategy and account limits are capacity limits too: they do not count."""

DEFAULT_MIN_EDGE_BPS = Decimal(100)
"""``EXEC_MIN_EDGE_BPS``: what the pricing does not model must fit in it — gas to merge or redeem
the set (~0.01–0.05 USDC a transaction on Polygon: 1–5 bps of a 100 USDC order, 10–50 bps of a
10 USDC one), the expected cost of an unwind (a later leg killed in, say, 1 confirm of 10, selling
the filled legs back a tick or two under cost: ~10–20 bps), and the capital locked until the
markets resolve (~40 bps a month at 5 % a year). 100 bps covers a month's lock with the rest; a
longer-dated set deserves a higher bar."""
DEFAULT_MAX_UNWIND_LOSS = Decimal(5)
"""``EXEC_MAX_UNWIND_LOSS`` (USDC): 5 % of the default per-order limit — a one-leg unwind of a
50 USDC leg may give up 10 cents a share before the position is left naked for a trader."""


DAILY_LOSS = "daily realised loss"
"""How the reason of a breaker opened by ``EXEC_MAX_DAILY_LOSS`` begins (it stays open until the next UTC day)."""


class PlanError(ValueError):
    """A signal that cannot become an intent (why, in one line)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The ``EXEC_*`` limits in force (stored, versioned, in ``execution_policy``)."""

    mode: str = "paper"
    max_notional_per_order: Decimal = Decimal(100)
    max_concurrent_orders: int = 3
    max_daily_notional: Decimal = Decimal(1000)
    slippage_bps: int = 50
    min_edge_bps: Decimal = DEFAULT_MIN_EDGE_BPS
    max_unwind_loss: Decimal = DEFAULT_MAX_UNWIND_LOSS
    max_book_age: timedelta = timedelta(minutes=2)
    breaker_max_failures: int = 3
    breaker_max_loss: Decimal = Decimal(50)
    breaker_window: timedelta = timedelta(hours=24)
    breaker_cooldown: timedelta = timedelta(minutes=30)
    rule_max_daily_notional: Decimal = Decimal(1000)
    rule_max_open_intents: int = 3
    max_exposure: Decimal = Decimal(1000)
    max_daily_loss: Decimal = Decimal(50)
    canary: bool = False

    def params(self) -> dict[str, Any]:
        """JSON-able, exact (Decimals and durations as strings / seconds)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            out[name] = str(v) if isinstance(v, Decimal) else v.total_seconds() if isinstance(v, timedelta) else v
        return out

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(self.params(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    token_id: str
    market_id: str
    label: str
    side: Side
    shares: Decimal
    vwap: Decimal
    """The signal's VWAP: what the leg was expected to cost per share."""
    limit_price: Decimal
    cost: Decimal
    """Expected cost incl. fees at ``shares`` (the signal's leg cost, scaled)."""
    max_cost: Decimal
    """Every share at ``limit_price``, plus the fee at that price: the most the leg can spend."""

    def as_dict(self) -> dict[str, str]:
        return to_json(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlannedLeg:
        return from_json(cls, d)


@dataclass(frozen=True, slots=True)
class Plan:
    legs: tuple[PlannedLeg, ...]
    shares: Decimal
    payout_per_share: Decimal
    notional: Decimal
    max_notional: Decimal
    expected_profit: Decimal
    expected_edge_bps: Decimal
    note: str = ""


def limit_price(vwap: Decimal, worst: Decimal, side: Side, slippage_bps: int, tick: Decimal) -> Decimal:
    """A buy's limit: ``vwap × (1 + slippage)`` rounded *down* onto the tick grid (so the allowance
    is never exceeded by rounding), but never below ``worst`` — the highest level the planned fill
    takes — and never above ``1 − tick``. A sell mirrors it."""
    allowance = Decimal(slippage_bps) / BPS
    if side == "BUY":
        return min(max(round_to_tick(vwap * (ONE + allowance), tick, up=False), worst), ONE - tick)
    return max(min(round_to_tick(vwap * (ONE - allowance), tick, up=True), worst), tick)


def _max_cost(shares: Decimal, limit: Decimal, market: Market, side: Side) -> Decimal:
    if side == "SELL":  # a sell spends nothing; what it gives up is the shares, sized elsewhere
        return ZERO
    return shares * limit + taker_fee(shares, limit, market.fee)


def plan_intent(arb: Arbitrage, markets: Mapping[str, Market], policy: Policy) -> Plan:
    """The order for an arbitrage finding: its legs with limit prices, sized to fit the per-order
    limit. The payout per set is the arbitrage's own — the smallest payout over every state of the
    world — never assumed. An unknown fee rate cannot be priced, so it cannot become an order."""
    if arb.fee_unknown:
        raise PlanError("a leg's market charges fees at an unknown rate: the edge cannot be priced, so it "
                        "cannot become an order")
    for leg in arb.legs:
        m = markets.get(leg.market_id)
        if m is None:
            raise PlanError(f"market {leg.market_id} of a leg is not stored")
        if leg.token_id not in {o.token_id for o in m.outcomes}:
            raise PlanError(f"token {leg.token_id[:16]}… is not an outcome of market {leg.market_id}")
        if not m.fee.known:
            raise PlanError(f"market {m.id} charges fees at an unknown rate: the edge cannot be priced")
    signal_shares = arb.shares
    pps = arb.payout_per_share
    legs = [(leg.token_id, leg.market_id, leg.label, leg.side, leg.shares, leg.vwap, leg.cost + leg.fee,
             leg.worst_price) for leg in arb.legs]
    limits = [limit_price(vwap, worst, side, policy.slippage_bps, markets[mid].tick_size)
              for _t, mid, _l, side, _s, vwap, _c, worst in legs]

    def spend(shares: Decimal) -> Decimal:
        return sum((_max_cost(shares, lim, markets[leg[1]], leg[3]) for leg, lim in zip(legs, limits, strict=True)),
                   ZERO)

    shares = signal_shares
    per_set = spend(ONE)
    note = ""
    if spend(shares) > policy.max_notional_per_order:
        shares = (policy.max_notional_per_order / per_set).quantize(SHARE_QUANTUM, rounding=ROUND_DOWN)
        while shares > 0 and spend(shares) > policy.max_notional_per_order:
            shares -= SHARE_QUANTUM
        note = (f"sized down from {signal_shares} to {shares} sets to fit EXEC_MAX_NOTIONAL_PER_ORDER="
                f"{policy.max_notional_per_order}")
    min_size = max(markets[leg[1]].min_order_size for leg in legs)
    if shares < min_size:
        raise PlanError(f"EXEC_MAX_NOTIONAL_PER_ORDER={policy.max_notional_per_order} buys only {max(shares, ZERO)} "
                        f"sets at the limit prices, below the minimum order size {min_size}")
    scale = shares / signal_shares
    planned = tuple(
        PlannedLeg(token, mid, label, side, shares, vwap, lim, (cost * scale).quantize(USD),
                   _max_cost(shares, lim, markets[mid], side))
        for (token, mid, label, side, _s, vwap, cost, _w), lim in zip(legs, limits, strict=True))
    notional = sum((leg.cost for leg in planned), ZERO)
    max_notional = sum((leg.max_cost for leg in planned), ZERO)
    profit = shares * pps - notional
    return Plan(planned, shares, pps, notional, max_notional, profit, edge_bps(profit, notional), note)


# --- the checks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    name: CheckName
    ok: bool
    value: str
    limit: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "value": self.value, "limit": self.limit, "detail": self.detail}

    @property
    def line(self) -> str:
        text = f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.value} (limit {self.limit})"
        return text + (f" — {self.detail}" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Breaker:
    state: Literal["closed", "open"] = "closed"
    opened_at: datetime | None = None
    open_until: datetime | None = None
    reason: str | None = None
    consecutive_failures: int = 0
    loss_since: datetime | None = None
    """Losses before this time no longer count (set by a reset)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What is already committed, read under the risk lock."""

    open_intents: int
    day_notional: Decimal
    window_pnl: Decimal
    """Realised PnL of intents settled, closed or unwound within the loss window (negative: a loss)."""
    naked: tuple[int, ...] = ()
    """Intents ``unwinding``: shares still held after a leg was killed. The breaker stays open
    while there is one, whatever its cooldown or a reset says."""
    rule_id: str = ""
    rule_open_intents: int = 0
    """Open intents (sent, filled, unwinding) of the same rule."""
    rule_day_notional: Decimal = ZERO
    """Notional reserved or spent today (UTC) by intents of the same rule."""
    exposure: Decimal = ZERO
    """Σ reserved or spent notional of every open intent (sent, filled, unwinding): what is at risk now."""
    day_pnl: Decimal = ZERO
    """Realised PnL of intents settled, closed or unwound since 00:00 UTC today (after a reset: since it)."""
    funds: Funds | None = None
    """What the venue reports it can spend; ``None``: the venue does not report a balance."""
    funds_error: str = ""
    """The venue was asked and could not say (the check fails: nothing is sent blind)."""
    in_flight: Decimal = ZERO
    """Reserved by intents ``sent`` whose fills are not recorded yet: the venue's balance may not show them."""


@dataclass(frozen=True, slots=True)
class Funds:
    """A venue's collateral (USDC): the balance, and the allowance the exchange may spend of it
    (``None``: no allowance applies, as on paper)."""

    balance: Decimal
    allowance: Decimal | None = None
    source: str = ""

    @property
    def spendable(self) -> Decimal:
        return self.balance if self.allowance is None else min(self.balance, self.allowance)


@dataclass(frozen=True, slots=True)
class Repriced:
    leg: PlannedLeg
    fill: Fill
    """The whole leg walked against the latest book (may be short when the book is thin)."""
    slippage_bps: Decimal | None
    """How much worse than planned the re-priced VWAP is (negative: better)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    checks: tuple[Check, ...]
    repriced: tuple[Repriced, ...] = ()
    edge_bps: Decimal | None = None
    breaker_action: Literal["open", "close"] | None = None
    breaker_reason: str = ""
    worst_cost: Decimal = ZERO
    """Every leg filled at its limit price plus the taker fee there, at the market's fee now: the
    most the intent can spend (what ``notional_per_order`` and ``daily_notional`` check and what
    is reserved)."""
    depths: Mapping[str, Decimal] = field(default_factory=dict)
    """Shares each leg's fresh book offers at or below its limit (0 for a stale or missing book)."""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def counts_for_breaker(self) -> bool:
        return any(c.name in MARKET_CHECKS for c in self.failed)

    @property
    def reason(self) -> str:
        if self.ok:
            return "every check passed"
        return "; ".join(f"{c.name}: {c.value} (limit {c.limit})" + (f", {c.detail}" if c.detail else "")
                         for c in self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks],
                "edge_bps": None if self.edge_bps is None else str(self.edge_bps),
                "worst_cost": str(self.worst_cost), "depths": {t: str(d) for t, d in self.depths.items()}}


def _slip_bps(planned: Decimal, now: Decimal, side: Side) -> Decimal:
    if planned <= 0:
        return ZERO
    worse = now - planned if side == "BUY" else planned - now
    return (worse / planned * BPS).quantize(Decimal("0.01"))


def reprice(leg: PlannedLeg, book: Book | None, market: Market) -> Repriced:
    levels: Sequence[Level] = () if book is None else (book.asks if leg.side == "BUY" else book.bids)
    fill = walk_book(levels, leg.shares, market.fee)
    slip = None if fill.vwap is None else _slip_bps(leg.vwap, fill.vwap, leg.side)
    return Repriced(leg, fill, slip)


BreakerAction = Literal["open", "close"] | None


def breaker_check(b: Breaker, usage: Usage, policy: Policy, now: datetime) -> tuple[Check, BreakerAction, str]:
    """The breaker before anything else: open until its cooldown ends; opened now by a realised
    loss within the window."""
    action: BreakerAction = None
    if usage.naked:
        ids = ", ".join(str(i) for i in usage.naked)
        return (Check("breaker", False, "open", "closed",
                      f"naked position: intent(s) {ids} unwinding — `mpx intents unwind ID` or `mpx intents close "
                      "ID --pnl X` first" + (f"; {b.reason}" if b.state == "open" and b.reason else "")), None, "")
    if b.state == "open" and b.open_until is None:  # `mpx intents breaker --trip`: open until reset by hand
        return (Check("breaker", False, "open", "closed",
                      f"tripped by hand: {b.reason or '?'}; `mpx intents breaker --reset`"), None, "")
    if b.state == "open" and b.open_until is not None and now < b.open_until:
        return (Check("breaker", False, "open", "closed",
                      f"until {b.open_until:%Y-%m-%d %H:%M:%S}Z: {b.reason or '?'}; `mpx intents breaker --reset`"),
                None, "")
    if b.state == "open":
        action = "close"
    loss = -usage.window_pnl
    if loss >= policy.breaker_max_loss:
        why = (f"realised loss {loss} USDC within {format_duration(policy.breaker_window)} "
               f"(limit {policy.breaker_max_loss})")
        return Check("breaker", False, "open", "closed", why), "open", why
    day_loss = -usage.day_pnl
    if day_loss >= policy.max_daily_loss:
        why = (f"{DAILY_LOSS} {day_loss} USDC on {now:%Y-%m-%d} UTC (limit EXEC_MAX_DAILY_LOSS="
               f"{policy.max_daily_loss}): closed until {next_utc_day(now):%Y-%m-%d} 00:00Z")
        return Check("breaker", False, "open", "closed", why), "open", why
    return Check("breaker", True, "closed", "closed", "cooldown elapsed: closed again" if action else ""), action, (
        "cooldown elapsed" if action else "")


def next_utc_day(now: datetime) -> datetime:
    """00:00 UTC of the day after ``now`` (an aware datetime)."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)


def breaker_open_until(why: str, policy: Policy, now: datetime) -> datetime:
    """How long a breaker opened now stays open: the cooldown — or, tripped by the daily realised-loss
    limit, until the next UTC day (whichever is later)."""
    until = now + policy.breaker_cooldown
    if why.startswith(DAILY_LOSS):
        until = max(until, next_utc_day(now))
    return until


def canary_legs(legs: Sequence[PlannedLeg], markets: Mapping[str, Market]) -> tuple[PlannedLeg, ...]:
    """The legs at the minimum size: the largest ``min_order_size`` among the legs' markets (shares),
    costs scaled, each leg's most it can spend recomputed at its limit. Legs already at or below it
    are unchanged (a plan never goes below it)."""
    known = [markets[leg.market_id] for leg in legs if leg.market_id in markets]
    if not known:
        return tuple(legs)
    size = max(m.min_order_size for m in known)
    out = []
    for leg in legs:
        if leg.shares <= size:
            out.append(leg)
            continue
        m = markets.get(leg.market_id)
        max_cost = _max_cost(size, leg.limit_price, m, leg.side) if m is not None else leg.max_cost * size / leg.shares
        out.append(replace(leg, shares=size, cost=(leg.cost * size / leg.shares).quantize(USD), max_cost=max_cost))
    return tuple(out)


def worst_case_cost(legs: Sequence[PlannedLeg], markets: Mapping[str, Market]) -> Decimal:
    """Σ limit × shares + the taker fee of the whole leg at its limit, at each market's fee now.

    An upper bound of what the legs can cost however a fill at or below the limits splits over
    price levels: a share's cost with its fee, ``p + rate × (p(1 − p))^e``, rises with ``p`` for
    any rate ≤ 1 (the fee alone does not: it peaks at 0.5)."""
    total = ZERO
    for leg in legs:
        m = markets.get(leg.market_id)
        total += _max_cost(leg.shares, leg.limit_price, m, leg.side) if m is not None else leg.max_cost
    return total


def depth_at_limit(levels: Sequence[Level], limit: Decimal, side: Side = "BUY") -> Decimal:
    """Shares offered at or better than ``limit``: asks ≤ limit for a buy, bids ≥ limit for a sell."""
    if side == "BUY":
        return sum((lv.size for lv in levels if lv.price <= limit), ZERO)
    return sum((lv.size for lv in levels if lv.price >= limit), ZERO)


def _leg_depth(leg: PlannedLeg, book: Book | None) -> Decimal:
    if book is None:
        return ZERO
    return depth_at_limit(book.asks if leg.side == "BUY" else book.bids, leg.limit_price, leg.side)


def assess(plan_legs: Sequence[PlannedLeg], payout_per_share: Decimal, markets: Mapping[str, Market],
           books: Mapping[str, Book], observed: Mapping[str, datetime | None], usage: Usage, breaker: Breaker,
           policy: Policy, now: datetime) -> Verdict:
    """Every check, in order; none is skipped because an earlier one failed."""
    checks: list[Check] = []
    b_check, action, why = breaker_check(breaker, usage, policy, now)
    checks.append(b_check)

    leg_markets = list(dict.fromkeys(leg.market_id for leg in plan_legs))
    closed = [m for m in leg_markets if m not in markets or not markets[m].tradable]
    checks.append(Check("market_open", not closed, f"{len(closed)} of {len(leg_markets)} leg market(s) not tradable",
                        "0", ", ".join(closed)))
    unknown = [m for m in leg_markets if m in markets and not markets[m].fee.known]
    checks.append(Check("fee_known", not unknown,
                        f"{len(unknown)} of {len(leg_markets)} leg market(s) charge fees at an unknown rate", "0",
                        (", ".join(unknown) + ": the fills cannot be priced") if unknown else ""))

    ages: list[tuple[str, float | None]] = []
    for leg in plan_legs:
        seen = observed.get(leg.token_id)
        ages.append((leg.token_id, None if seen is None else (now - seen).total_seconds()))
    missing = [t for t, a in ages if a is None]
    worst = max((a for _, a in ages if a is not None), default=None)
    limit_s = policy.max_book_age.total_seconds()
    fresh = not missing and worst is not None and worst <= limit_s
    checks.append(Check("book_fresh", fresh, "no book" if missing else f"{worst:.0f} s old", f"{limit_s:.0f} s",
                        f"{len(missing)} leg(s) without a stored book" if missing else ""))

    # a fill-or-kill order fills only when the book holds the whole leg at or below its limit; a
    # book not observed within EXEC_MAX_BOOK_AGE holds nothing we can rely on
    depths: dict[str, Decimal] = {}
    short: list[str] = []
    for leg, (_, age) in zip(plan_legs, ages, strict=True):
        is_fresh = age is not None and age <= limit_s
        d = _leg_depth(leg, books.get(leg.token_id)) if is_fresh else ZERO
        depths[leg.token_id] = d
        if d < leg.shares:
            short.append(f"{leg.label} ({leg.token_id[:10]}…) {d} of {leg.shares} at "
                         f"{'≤' if leg.side == 'BUY' else '≥'} {leg.limit_price}"
                         + ("" if is_fresh else " (no fresh book)"))
    spare = min(((depths[leg.token_id] - leg.shares, leg) for leg in plan_legs), key=lambda x: x[0], default=None)
    checks.append(Check(
        "depth_at_limit", not short,
        f"{len(short)} of {len(plan_legs)} leg(s) short: " + "; ".join(short) if short else
        f"every leg holds its size; least to spare: {spare[1].label} {spare[0]} shares" if spare else "no legs",
        "each leg's full size at or below its limit",
        "fill-or-kill: a short leg would be killed" if short else ""))

    worst_cost = worst_case_cost(plan_legs, markets)
    checks.append(Check("notional_per_order", worst_cost <= policy.max_notional_per_order,
                        f"{worst_cost} USDC", f"{policy.max_notional_per_order} USDC",
                        "every leg at its limit price, fees included"))
    checks.append(Check("concurrent_orders", usage.open_intents + 1 <= policy.max_concurrent_orders,
                        f"{usage.open_intents} open + 1", str(policy.max_concurrent_orders)))
    day_total = usage.day_notional + worst_cost
    checks.append(Check("daily_notional", day_total <= policy.max_daily_notional,
                        f"{usage.day_notional} used + {worst_cost} = {day_total} USDC",
                        f"{policy.max_daily_notional} USDC", "per UTC day"))
    rule = usage.rule_id or "?"
    checks.append(Check("rule_open_intents", usage.rule_open_intents + 1 <= policy.rule_max_open_intents,
                        f"{usage.rule_open_intents} open + 1", str(policy.rule_max_open_intents),
                        f"rule {rule}; EXEC_RULE_MAX_OPEN_INTENTS"))
    rule_total = usage.rule_day_notional + worst_cost
    checks.append(Check("rule_daily_notional", rule_total <= policy.rule_max_daily_notional,
                        f"{usage.rule_day_notional} used + {worst_cost} = {rule_total} USDC",
                        f"{policy.rule_max_daily_notional} USDC",
                        f"rule {rule}, per UTC day; EXEC_RULE_MAX_DAILY_NOTIONAL"))
    exposure = usage.exposure + worst_cost
    checks.append(Check("exposure", exposure <= policy.max_exposure,
                        f"{usage.exposure} open + {worst_cost} = {exposure} USDC", f"{policy.max_exposure} USDC",
                        "every open intent's reserved or spent notional; EXEC_MAX_EXPOSURE"))
    checks.append(collateral_check(usage, worst_cost))

    repriced = tuple(reprice(leg, books.get(leg.token_id), markets[leg.market_id]) if leg.market_id in markets
                     else Repriced(leg, walk_book((), leg.shares, NO_FEES), None) for leg in plan_legs)
    slips = [r.slippage_bps for r in repriced]
    if any(s is None for s in slips):
        checks.append(Check("slippage", False, "no price", f"{policy.slippage_bps} bps",
                            "a leg has nothing on its side of the book"))
    else:
        worst_slip = max(s for s in slips if s is not None)
        thin = [r for r in repriced if not r.fill.complete]
        checks.append(Check("slippage", worst_slip <= policy.slippage_bps, f"{worst_slip} bps",
                            f"{policy.slippage_bps} bps",
                            "worst leg's re-priced VWAP against the planned one"
                            + (f"; {len(thin)} leg(s) thinner than the order" if thin else "")))

    sets = min((leg.shares for leg in plan_legs), default=ZERO)
    payout = sets * payout_per_share
    min_edge = policy.min_edge_bps * worst_cost / BPS
    checks.append(Check("worst_case_edge", worst_cost <= payout - min_edge,
                        f"payout {payout} − worst-case cost {worst_cost} = {payout - worst_cost} USDC",
                        f"≥ {min_edge} USDC ({policy.min_edge_bps} bps of {worst_cost})",
                        "every leg filled at its limit price, taker fee there included"))

    cost = sum((r.fill.total for r in repriced), ZERO)
    filled_sets = min((r.fill.shares for r in repriced), default=ZERO)
    edge = edge_bps(filled_sets * payout_per_share - cost, cost) if cost > 0 else None
    checks.append(Check("edge", edge is not None and edge > policy.min_edge_bps,
                        "none" if edge is None else f"{edge} bps", f"> {policy.min_edge_bps} bps",
                        "" if edge is None else
                        f"{filled_sets} sets pay {filled_sets * payout_per_share}, cost {cost} incl. fees"))
    return Verdict(tuple(checks), repriced, edge, action, why, worst_cost, depths)


def collateral_check(usage: Usage, worst_cost: Decimal) -> Check:
    """The venue's balance (and allowance) less what intents in flight reserved must cover the worst
    case. A venue that cannot say fails it; one that does not report a balance passes, named."""
    if usage.funds_error:
        return Check("collateral", False, "unknown", f"{worst_cost} USDC",
                     f"the venue could not report its balance: {usage.funds_error}")
    f = usage.funds
    if f is None:
        return Check("collateral", True, "not reported by the venue", f"{worst_cost} USDC",
                     "this venue has no balance()/collateral(): not checked")
    available = f.spendable - usage.in_flight
    allowance = "" if f.allowance is None else f", allowance {f.allowance}"
    return Check("collateral", worst_cost <= available,
                 f"{available} USDC available = balance {f.balance}{allowance} − {usage.in_flight} in flight",
                 f"≥ {worst_cost} USDC", f"{f.source or 'venue'}: the worst case must be covered before sending")


def breaker_after(b: Breaker, counted_failure: bool, succeeded: bool, policy: Policy, now: datetime,
                  last_reason: str) -> tuple[Breaker, str | None]:
    """The breaker after a confirm: consecutive market rejections / execution failures open it at
    ``breaker_max_failures``; a successful execution resets the count. Returns (new state, reason
    it opened now or None)."""
    if succeeded:
        return Breaker("closed", None, None, None, 0, b.loss_since) if b.state == "closed" else b, None
    if not counted_failure:
        return b, None
    n = b.consecutive_failures + 1
    if n >= policy.breaker_max_failures and b.state == "closed":
        why = f"{n} consecutive rejections/failures (last: {last_reason})"
        return Breaker("open", now, now + policy.breaker_cooldown, why, n, b.loss_since), why
    return Breaker(b.state, b.opened_at, b.open_until, b.reason, n, b.loss_since), None


def settle_pnl(fills: Sequence[Mapping[str, Any]], settle: Mapping[str, Decimal | None]) -> Decimal | None:
    """Σ filled shares × what each share paid at resolution − what the fills cost incl. fees;
    ``None`` while any leg's outcome has not resolved."""
    payout = ZERO
    cost = ZERO
    for f in fills:
        price = settle.get(str(f["token_id"]))
        if price is None:
            return None
        shares = Decimal(f["shares"])
        if f.get("side", "BUY") == "BUY":
            payout += shares * price
            cost += Decimal(f["cost"]) + Decimal(f["fee"])
        else:
            payout += Decimal(f["cost"]) - Decimal(f["fee"]) - shares * price
    return payout - cost
