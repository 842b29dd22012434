"""The market data model every layer shares. Prices and sizes are ``Decimal``: money math is exact.

Books are normalised **best-first** on both sides (bids highest first, asks lowest first), whatever
order the source delivered them in (Polymarket's CLOB sends the best level *last*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

ZERO = Decimal(0)
ONE = Decimal(1)

MarketStatus = Literal["active", "closed", "resolved"]
POLYMARKET = "polymarket"
KALSHI = "kalshi"
VENUES = (POLYMARKET, KALSHI)
"""The venues mpx knows (a rule's ``scope.venues``, ``--venue``)."""
"""The venue of every market that does not say otherwise (all data before #17)."""
Side = Literal["BUY", "SELL"]


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A token's mid price at a time (price history)."""

    ts: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class Book:
    """One outcome token's order book at ``ts``; ``bids``/``asks`` best-first."""

    token_id: str
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    ts: datetime | None = None
    last_trade: Decimal | None = None

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def bid_size(self) -> Decimal | None:
        return self.bids[0].size if self.bids else None

    @property
    def ask_size(self) -> Decimal | None:
        return self.asks[0].size if self.asks else None

    @property
    def two_sided(self) -> bool:
        return bool(self.bids) and bool(self.asks)

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of the best bid and ask; ``None`` for a one-sided or empty book (never guessed)."""
        if not self.two_sided:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.two_sided:
            return None
        return self.asks[0].price - self.bids[0].price

    def top(self, depth: int) -> Book:
        return Book(self.token_id, self.bids[:depth], self.asks[:depth], self.ts, self.last_trade)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A market's taker fee: ``fee = shares × rate × (p × (1 − p))^exponent`` (API_NOTES §7), read
    per market from its Gamma ``feeSchedule`` (never assumed from its category).

    ``enabled`` with ``rate is None`` means fees apply at an unknown rate: such a market never
    yields a P1 signal. ``taker_only`` (makers pay nothing) and ``rebate_rate`` (the share of taker
    fees paid back to makers) are kept as the venue states them; mpx only ever takes liquidity, so
    neither changes what it pays — the taker fee above.
    """

    enabled: bool = False
    rate: Decimal | None = None
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: Decimal | None = None
    fee_type: str | None = None  # Gamma ``feeType``, e.g. "sports_fees_v3", "crypto_fees_v2"; Kalshi's series fee_type
    quantum: Decimal = Decimal("0.00001")
    """The unit each fill's fee is charged in: Polymarket 0.00001 USDC (floored), Kalshi one cent."""
    round_up: bool = False
    """Kalshi rounds each fill's fee *up* to ``quantum`` (``ceil_to_cent``); Polymarket floors it."""

    @property
    def known(self) -> bool:
        return not self.enabled or self.rate is not None


NO_FEES = FeeSchedule()


@dataclass(frozen=True, slots=True)
class Outcome:
    token_id: str
    market_id: str
    label: str
    index: int
    settle_price: Decimal | None = None
    """What one share paid at resolution (1 or 0; 0.5 on a 50-50); ``None`` until resolved."""


@dataclass(frozen=True, slots=True)
class Market:
    id: str  # condition id
    question: str
    outcomes: tuple[Outcome, ...]
    event_id: str | None = None
    slug: str = ""
    end_date: datetime | None = None
    status: MarketStatus = "active"
    accepting_orders: bool = True
    active: bool = True
    fee: FeeSchedule = NO_FEES
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal("5")
    category: str | None = None
    neg_risk: bool = False
    neg_risk_other: bool = False
    """The "Other" market of an augmented negRisk event."""
    liquidity: Decimal | None = None
    description: str = ""
    """The market's resolution rules as the source states them (Gamma ``description``)."""
    resolution_source: str = ""
    """The source the rules name (Gamma ``resolutionSource``; often empty, the rules then say it)."""
    version: str | None = None
    """Polymarket market version ("v1", or "v2" for Protocol V2): which id field the outcome token
    ids came from (``clobTokenIds`` or ``positionIds``); ``None`` when not from Polymarket."""
    venue: str = POLYMARKET
    """Where the market trades: ``polymarket`` or ``kalshi``. Ids are the venue's own (a Kalshi market
    id is its ticker, its outcome tokens ``<ticker>:yes`` / ``<ticker>:no``)."""

    @property
    def tradable(self) -> bool:
        """Open for trading: active, not closed or resolved, accepting orders."""
        return self.active and self.status == "active" and self.accepting_orders

    @property
    def yes(self) -> Outcome:
        return self.outcomes[0]

    @property
    def no(self) -> Outcome | None:
        return self.outcomes[1] if len(self.outcomes) > 1 else None


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    title: str
    market_ids: tuple[str, ...] = ()
    neg_risk: bool = False
    neg_risk_augmented: bool = False
    end_date: datetime | None = None
    category: str | None = None
    listed_markets: int | None = None
    """How many markets the source lists for the event, parsed or not (``None``: not recorded). An
    event whose ``market_ids`` are fewer is incomplete: a market the source lists could not be
    parsed, and no outcome set built from the rest covers every state of the world."""
    dropped: tuple[str, ...] = ()
    """Why listed markets were not parsed (one line each), for ``mpx markets show``."""
    slug: str = ""
    """The event's page on the venue: ``https://polymarket.com/event/<slug>`` (Gamma ``slug``)."""
    venue: str = POLYMARKET

    @property
    def complete_listing(self) -> bool:
        """Every market the source lists for the event was parsed (and the count is known)."""
        return self.listed_markets is not None and len(self.market_ids) == self.listed_markets


@dataclass(slots=True)
class Snapshot:
    """What a source returns for one pass: books (always) and metadata (when it was refreshed)."""

    ts: datetime
    books: list[Book]
    events: list[Event] = field(default_factory=list)
    markets: list[Market] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Problems the source survived (a failed batch, a dropped invalid level); logged and counted."""
    requested: list[str] | None = None
    """The tokens the source tried to fetch books for (None: every known token)."""
    stats: dict[str, int] = field(default_factory=dict)
    """Counters of the fetch (requests by endpoint and status, retries, 429s, dropped levels, …)."""
