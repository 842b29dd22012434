"""What every rule kind shares: the rule spec, the universe a rule looks at, findings and signals.

A rule kind is one module in ``mpx/domain/rules/`` exposing a class with ``type``, ``Params``
(a pydantic model validating the rule's ``params``), ``lookback(params)`` (how much price history
it needs) and ``evaluate(rule, universe)`` returning :class:`Finding` objects. The engine turns
findings into :class:`Signal` objects: it applies the rule's scope and level thresholds and gives
each signal a stable signature. ``mpx evaluate`` and ``mpx backtest`` run the same code.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from mpx.domain.findings import Arbitrage, Entry, FindingClass, FindingError, Leg, Measure
from mpx.domain.models import Book, Event, Level, Market, PricePoint

if TYPE_CHECKING:
    from mpx.domain.columns import Tops
    from mpx.domain.venue_pairs import VenuePair

__all__ = ["Arbitrage", "Entry", "Finding", "FindingClass", "Leg", "Measure", "Relation", "RuleKind", "RuleSpec",
           "Scope", "Signal", "SynonymGroup", "Universe", "signature"]

SignalLevel = Literal["P1", "P2", "P3"]
LEVELS: tuple[SignalLevel, ...] = ("P1", "P2", "P3")


class Scope(BaseModel):
    """Which markets a rule looks at. Every given criterion must hold (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] | None = None
    neg_risk: bool | None = None
    market_ids: tuple[str, ...] | None = None
    event_ids: tuple[str, ...] | None = None
    min_liquidity: Decimal | None = None
    venues: tuple[Literal["polymarket", "kalshi"], ...] | None = None
    """Only markets on these venues (a cross-venue rule needs both sides of a pair admitted)."""

    def admits(self, market: Market) -> bool:
        if self.venues is not None and market.venue not in self.venues:
            return False
        if self.categories is not None and (market.category or "").lower() not in {
            c.lower() for c in self.categories
        }:
            return False
        if self.neg_risk is not None and market.neg_risk != self.neg_risk:
            return False
        if self.market_ids is not None and market.id not in self.market_ids:
            return False
        if self.event_ids is not None and market.event_id not in self.event_ids:
            return False
        return self.min_liquidity is None or (market.liquidity or Decimal(0)) >= self.min_liquidity


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One validated rule document from ``rules/*.yaml``."""

    id: str
    type: str
    params: BaseModel
    levels: Mapping[SignalLevel, Decimal]
    """Minimum value of the finding's ``metric`` for each level; absent levels are not emitted."""
    scope: Scope = field(default_factory=Scope)
    enabled: bool = True
    cooldown: timedelta = timedelta(minutes=10)
    description: str = ""
    source: str = ""
    """``file:line`` the rule was read from, for messages."""

    def level_for(self, metric: Decimal, cap: SignalLevel = "P1") -> SignalLevel | None:
        """The highest level whose threshold ``metric`` reaches, no higher than ``cap``."""
        allowed = LEVELS[LEVELS.index(cap):]
        for level in allowed:
            threshold = self.levels.get(level)
            if threshold is not None and metric >= threshold:
                return level
        return None


@dataclass(frozen=True, slots=True)
class SynonymGroup:
    """Markets that ask the same question in different words: their YES must trade alike."""

    key: str
    """Stable id (from ``synonyms.yml``: ``kw:<name>`` / ``list:<name>``; proposed by text
    similarity: ``auto:<hash of member ids>``); part of signal signatures."""
    name: str
    source: str  # "keywords" | "list" | "similar" | "confirmed"
    market_ids: tuple[str, ...]
    proven: bool = False
    """Every member asks the same question *proven*: declared in ``synonyms.yml`` by market ids (a
    ``markets:`` list), or confirmed by a person (``mpx synonyms confirm``). Only a proven group's gap
    can be arbitrage; any other group (similar text, keywords) is a candidate — "possibly related",
    an indicator, P3 at most."""
    basis: str = ""
    """One line: why it is proven (``declared in synonyms.yml (list:x)``, ``confirmed by bob@host on
    2026-12-01``) or why it was proposed (``similar text``, ``keywords of group x``)."""


RelationKind = Literal["threshold", "date", "declared", "confirmed"]


@dataclass(frozen=True, slots=True)
class Relation:
    """``narrower`` resolving YES implies ``wider`` resolves YES, so P(narrower) ≤ P(wider):
    "BTC above 80k" ⊂ "BTC above 70k" (threshold ladder), "by March" ⊂ "by June" (date ladder), or a
    relation declared in ``synonyms.yml``. Buying YES of ``wider`` + NO of ``narrower`` pays at
    least 1 whatever happens."""

    key: str
    """Stable id, part of signal signatures."""
    narrower: str  # market id
    wider: str  # market id
    kind: RelationKind
    note: str = ""
    """Human explanation, e.g. ``"Bitcoin above 80,000 ⊂ above 70,000 (Dec 31, 2026)"``."""
    proven: bool = False
    """The implication is proven: declared in ``synonyms.yml``, confirmed by a person, or a structural
    ladder the matcher proves (same template, subject, units, comparator and negation, same
    resolution rules, differing in one threshold or one date). Only a proven relation's
    contradiction can be arbitrage; an unproven one is a candidate (an indicator, P3 at most)."""
    basis: str = ""
    """One line: why it is proven, or why it was proposed and what is missing for a proof."""


@dataclass(slots=True)
class Universe:
    """Everything a rule may look at for one evaluation step, as of ``as_of``.

    ``books`` hold the latest book of every token at or before ``as_of``; ``history`` the mid-price
    points of each token inside the largest lookback any enabled rule asked for (ascending by time);
    ``changed`` the market ids with a new tick since the last evaluation: rules report only on
    markets (or events containing markets) that changed, so an unchanged market is not re-alerted.
    """

    as_of: datetime
    markets: Mapping[str, Market]
    events: Mapping[str, Event]
    books: Mapping[str, Book]
    history: Mapping[str, Sequence[PricePoint]] = field(default_factory=dict)
    changed: frozenset[str] | None = None
    """``None`` means every market counts as changed (first run, backtests, tests)."""
    max_book_age: timedelta = timedelta(minutes=5)
    observed: dict[str, datetime] = field(default_factory=dict)
    """When each token's book was last *observed* by an ingest pass. Unchanged books are not
    re-written as ticks, so a book's own ``ts`` is when it last changed; staleness is judged from
    this map where a token is in it, else from the book's ``ts``."""
    unobserved: frozenset[str] = frozenset()
    """Tokens the current ingest pass asked for but got no book for: their stored book is what the
    market looked like *before*, so it is stale now whatever its age."""
    observed_now: bool = False
    """True when every token not in ``unobserved`` was observed at ``as_of`` (a replayed pass saw
    them all): no book is stale by age, ``observed`` is not consulted."""
    groups: Sequence[SynonymGroup] = ()
    """Synonym groups (``synonyms.yml`` plus proposed candidates), refreshed each evaluate pass."""
    relations: Sequence[Relation] = ()
    """Implication relations between markets (ladders found in the questions, declared ones)."""
    venue_pairs: Sequence[VenuePair] = ()
    """Cross-venue pairs (``mpx pairs``): confirmed ones prove how two venues' markets relate; the
    rest are candidates (CROSS_VENUE)."""
    max_cross_venue_skew: timedelta = timedelta(seconds=30)
    """Two venues' books are compared only when observed within this of each other."""
    quote_at: Callable[[str], tuple[datetime | None, Decimal | None, Decimal | None] | None] | None = None
    """Optional: a token's (book time, best bid, best ask) without building its book (the backtest's
    lazily parsed books give one); :meth:`fresh_quote` uses it."""
    ask_at: Callable[[str], tuple[datetime | None, Decimal | None] | None] | None = None
    """Optional: a token's (book time, best ask) without building its book — the backtest's
    lazily parsed books give one; :meth:`fresh_best_ask` uses it."""
    venue_seen: dict[str, datetime] = field(default_factory=dict)
    """Each venue's latest pass so far. With ``observed_now`` and more than one venue, a token counts
    as observed at its own venue's latest pass (a replayed pass of one venue did not see another's
    books)."""
    tops: Tops | None = None
    """Optional: the top of every book as arrays (the backtest's): the kinds screen a whole step with
    it (:mod:`mpx.domain.columns`) before their exact code runs on what passes."""
    memo: dict[Any, Any] = field(default_factory=dict)
    """Derived data that depends only on ``markets``, ``events`` and a rule's scope (e.g. a rule's
    candidate markets), kept across the steps of one run. Evaluate and backtest keep one universe
    for a run and never replace its markets; whoever does must clear this."""

    def tokens(self, venue: str | None = None) -> list[str]:
        """Every outcome token of every market (of one venue; worked out once per run, see ``memo``)."""
        key = f"tokens:{venue}"
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = [o.token_id for m in self.markets.values()
                                      if venue is None or m.venue == venue for o in m.outcomes]
        return found

    def venue_of(self) -> dict[str, str]:
        """token id → its market's venue (worked out once per run)."""
        found = self.memo.get("venue_of")
        if found is None:
            found = self.memo["venue_of"] = {o.token_id: m.venue for m in self.markets.values() for o in m.outcomes}
        return found

    def market_of(self) -> dict[str, str]:
        """token id → market id (worked out once per run)."""
        found = self.memo.get("market_of")
        if found is None:
            found = self.memo["market_of"] = {o.token_id: m.id for m in self.markets.values() for o in m.outcomes}
        return found

    def is_changed(self, market_id: str) -> bool:
        return self.changed is None or market_id in self.changed

    def book(self, token_id: str) -> Book | None:
        return self.books.get(token_id)

    def _too_old(self, token_id: str, book_ts: datetime | None) -> bool:
        """Whether the token was last observed longer than ``max_book_age`` ago (from
        ``observed``, else the book's own time; with ``observed_now``, its venue's latest pass)."""
        if self.observed_now:
            return len(self.venue_seen) > 1 and self.as_of - self.seen_by_venue(token_id) > self.max_book_age
        seen = self.observed.get(token_id, book_ts)
        return seen is not None and self.as_of - seen > self.max_book_age

    def seen_by_venue(self, token_id: str) -> datetime:
        """When the token's venue last passed (``as_of`` when unknown: a single-venue replay)."""
        return self.venue_seen.get(self.venue_of().get(token_id, ""), self.as_of)

    def fresh_book(self, token_id: str) -> Book | None:
        """The token's book if it was observed in the current pass and no longer ago than
        ``max_book_age`` (stale books are ignored)."""
        book = self.books.get(token_id)
        if book is None or token_id in self.unobserved or self._too_old(token_id, book.ts):
            return None
        return book

    def fresh_asks(self, token_id: str) -> tuple[Level, ...] | None:
        """The asks of the token's fresh book (``None``: no fresh book) — what :meth:`fresh_book`
        would give, read without the rest of the book when the books can (``asks_of``: the
        backtest's, where a book's other columns cost a read)."""
        asks_of = getattr(self.books, "asks_of", None)
        if asks_of is None or self.quote_at is None:
            book = self.fresh_book(token_id)
            return None if book is None else book.asks
        found = self.quote_at(token_id)
        if found is None or token_id in self.unobserved or self._too_old(token_id, found[0]):
            return None
        asks: tuple[Level, ...] | None = asks_of(token_id)
        return asks

    def fresh_quote(self, token_id: str) -> tuple[datetime | None, Decimal | None, Decimal | None] | None:
        """(book time, best bid, best ask) of the token's fresh book — what :meth:`fresh_book` would
        give, without building the book when ``quote_at`` is set (``None``: no fresh book). The
        indicators screen every changed market with it and build a book only for a candidate."""
        if self.quote_at is None:
            book = self.fresh_book(token_id)
            return None if book is None else (book.ts, book.best_bid, book.best_ask)
        found = self.quote_at(token_id)
        if found is None or token_id in self.unobserved or self._too_old(token_id, found[0]):
            return None
        return found

    def fresh_best_ask(self, token_id: str) -> Decimal | None:
        """The best ask of the token's fresh book (``None``: no fresh book, or no asks) — what
        :meth:`fresh_book` would give, without building the book when ``ask_at`` is set."""
        if self.ask_at is None:
            book = self.fresh_book(token_id)
            return None if book is None else book.best_ask
        found = self.ask_at(token_id)
        if found is None or token_id in self.unobserved or self._too_old(token_id, found[0]):
            return None
        return found[1]

    def sum_fresh_asks(self, token_ids: Iterable[str]) -> Decimal | None:
        """Σ :meth:`fresh_best_ask` over ``token_ids``; ``None`` as soon as one has no fresh ask.
        The rules' hottest path (every set is first checked with it), hence written out."""
        total = Decimal(0)
        if self.ask_at is None:
            for token in token_ids:
                ask = self.fresh_best_ask(token)
                if ask is None:
                    return None
                total += ask
            return total
        ask_at, unobserved, seen_at = self.ask_at, self.unobserved, self.observed.get
        check_age = not self.observed_now
        by_venue = self.observed_now and len(self.venue_seen) > 1
        cutoff = self.as_of - self.max_book_age  # as_of − seen > max age  ⟺  seen < cutoff
        for token in token_ids:
            found = ask_at(token)
            if found is None or found[1] is None or token in unobserved:
                return None
            if check_age:
                seen = seen_at(token, found[0])
                if seen is not None and seen < cutoff:
                    return None
            elif by_venue and self.seen_by_venue(token) < cutoff:
                return None
            total += found[1]
        return total

    def scoped_markets(self, scope: Scope) -> Iterable[Market]:
        return (m for m in self.markets.values() if scope.admits(m))

    def changed_tradable(self, scope: Scope) -> Iterable[Market]:
        """Tradable in-scope markets with a new tick this step (what per-market kinds look at)."""
        return (m for m in self.scoped_markets(scope) if m.tradable and self.is_changed(m.id))

    def event_markets(self, event: Event) -> list[Market]:
        return [self.markets[mid] for mid in event.market_ids if mid in self.markets]


class Classed:
    """What a finding and the signal made of it both say about their class: an arbitrage (its net edge,
    legs and size) or an indicator (its measure; no edge, no legs, no size)."""

    __slots__ = ()
    arbitrage: Arbitrage | None
    measure: Measure | None

    @property
    def finding_class(self) -> FindingClass:
        return "arbitrage" if self.arbitrage is not None else "indicator"

    @property
    def metric(self) -> Decimal:
        """What the rule's levels compare: the net edge (arbitrage) or the measure (indicator)."""
        if self.arbitrage is not None:
            return self.arbitrage.net_edge_bps
        assert self.measure is not None
        return self.measure.value

    @property
    def estimated_edge_bps(self) -> Decimal | None:
        """The net edge: arbitrage only (an indicator has none)."""
        return None if self.arbitrage is None else self.arbitrage.net_edge_bps

    @property
    def legs(self) -> tuple[Leg, ...]:
        return () if self.arbitrage is None else self.arbitrage.legs

    @property
    def executable_shares(self) -> Decimal | None:
        return None if self.arbitrage is None else self.arbitrage.shares

    @property
    def executable_notional(self) -> Decimal | None:
        return None if self.arbitrage is None else self.arbitrage.cost


@dataclass(frozen=True, slots=True)
class Finding(Classed):
    """What a rule kind reports: an arbitrage (typed, with the payout in every state) or an indicator
    (its named measure). The engine decides the level from :attr:`metric`."""

    subject: str
    """What the finding is about, e.g. ``market:0xabc`` or ``event:123``: part of the signature."""
    message: str
    edge_score: float
    """Normalised 0–1 strength, comparable across kinds."""
    arbitrage: Arbitrage | None = None
    measure: Measure | None = None
    entry: Entry | None = None
    """Indicators: what a position taken at the signal would buy (backtests price it)."""
    market_id: str | None = None
    group_key: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    max_level: SignalLevel = "P1"
    """A cap on the level, e.g. P2 when a fee rate is unknown, P3 for a possible relation."""
    variant: str = ""
    """Distinguishes findings on one subject that are different signals (e.g. ``up``/``down``)."""

    def __post_init__(self) -> None:
        if (self.arbitrage is None) == (self.measure is None):
            raise FindingError("a finding is either an arbitrage or an indicator with a measure")
        if self.arbitrage is not None and self.entry is not None:
            raise FindingError("an arbitrage's legs are its entry")



@dataclass(frozen=True, slots=True)
class Signal(Classed):
    ts: datetime
    rule_id: str
    rule_type: str
    level: SignalLevel
    message: str
    edge_score: float
    signature: str
    arbitrage: Arbitrage | None = None
    measure: Measure | None = None
    entry: Entry | None = None
    market_id: str | None = None
    group_key: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    """The rule's details for display, plus ``class``, ``arbitrage`` / ``measure`` / ``entry`` as
    stored (the typed fields above are the truth)."""


def signature(rule_id: str, subject: str, variant: str = "") -> str:
    """Stable id of "the same signal": same rule, same subject, same variant."""
    return hashlib.sha1(f"{rule_id}|{subject}|{variant}".encode()).hexdigest()[:20]


class RuleKind(Protocol):
    type: ClassVar[str]
    Params: ClassVar[builtins.type[BaseModel]]

    def lookback(self, params: BaseModel) -> timedelta:
        """How much price history before ``as_of`` the kind needs (zero for book-only kinds)."""
        ...

    def evaluate(self, rule: RuleSpec, universe: Universe) -> Iterable[Finding]: ...
