"""Live order-book state for the websocket stream: snapshots, deltas, and when a book can no longer
be trusted. Pure: no I/O.

A book is kept as two ``price → size`` maps. Every change carries the server's timestamp (ms):

- a **snapshot** (websocket ``book`` or REST ``POST /books``) replaces the book when the book is
  awaiting one, or when it is not older than what the book already reflects; the deltas buffered
  while it was awaited and newer than it are then replayed;
- a **delta** (one ``price_change`` item: side, price, new total size — ``0`` removes the level)
  is applied when it is newer than the book's snapshot; one not newer than the snapshot is already
  in it (skipped); one *older than a delta already applied* arrived out of order and the book is
  suspect → re-snapshot;
- after a delta the top of book must agree with the ``best_bid``/``best_ask`` the delta carries
  (an empty side is ``0`` bid / ``1`` ask on the wire) and must not be crossed; otherwise →
  re-snapshot;
- a delta for a book that has had no snapshot → re-snapshot.

While a re-snapshot is awaited, deltas are buffered (not lost) and the book is not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from mpx.domain.models import Book, Level

ZERO = Decimal(0)
ONE = Decimal(1)


class Verdict(StrEnum):
    applied = "applied"
    skipped = "skipped"  # already reflected in the book's snapshot
    buffered = "buffered"  # the book awaits a snapshot
    unknown = "unknown"  # no snapshot yet → re-snapshot
    out_of_order = "out_of_order"  # older than a delta already applied → re-snapshot
    crossed = "crossed"  # best bid ≥ best ask after the delta → re-snapshot
    disagrees = "disagrees"  # top of book ≠ the delta's best_bid/best_ask → re-snapshot

    @property
    def needs_snapshot(self) -> bool:
        return self in (Verdict.unknown, Verdict.out_of_order, Verdict.crossed, Verdict.disagrees)


@dataclass(frozen=True, slots=True)
class Delta:
    """One ``price_change`` item. ``side``: ``BUY`` = bid. ``best_bid``/``best_ask``: the server's
    top of book after the change (``None``: not given)."""

    asset_id: str
    side: str
    price: Decimal
    size: Decimal
    ts_ms: int
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


@dataclass(slots=True)
class BookState:
    token_id: str
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    snapshot_ms: int = -1  # server time of the snapshot the book is built on (-1: none yet)
    delta_ms: int = -1  # server time of the newest delta applied since
    last_trade: Decimal | None = None
    awaiting: bool = True  # no usable snapshot: deltas are buffered, the book is not written
    buffer: list[Delta] = field(default_factory=list)

    @property
    def as_of_ms(self) -> int:
        return max(self.snapshot_ms, self.delta_ms)

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    def crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def apply_snapshot(self, bids: list[Level] | tuple[Level, ...], asks: list[Level] | tuple[Level, ...],
                       ts_ms: int, last_trade: Decimal | None = None) -> bool:
        """Replace the book; False (ignored) when it is older than what a trusted book reflects.
        Buffered deltas newer than the snapshot are replayed; a replay that breaks the book leaves
        it awaiting another snapshot (returns True: the snapshot itself was taken)."""
        if not self.awaiting and ts_ms < self.as_of_ms:
            return False
        self.bids = {lv.price: lv.size for lv in bids if lv.size > 0}
        self.asks = {lv.price: lv.size for lv in asks if lv.size > 0}
        self.snapshot_ms, self.delta_ms = ts_ms, -1
        if last_trade is not None:
            self.last_trade = last_trade
        self.awaiting = False
        pending, self.buffer = sorted(self.buffer, key=lambda d: d.ts_ms), []
        for d in pending:
            if d.ts_ms > ts_ms and self.apply_delta(d).needs_snapshot:
                self.awaiting = True
                break
        return True

    def apply_delta(self, d: Delta) -> Verdict:
        if self.awaiting:
            self.buffer.append(d)
            return Verdict.unknown if self.snapshot_ms < 0 and len(self.buffer) == 1 else Verdict.buffered
        if d.ts_ms <= self.snapshot_ms:
            return Verdict.skipped
        if d.ts_ms < self.delta_ms:
            self._suspect(d)
            return Verdict.out_of_order
        side = self.bids if d.side == "BUY" else self.asks
        if d.size > 0:
            side[d.price] = d.size
        else:
            side.pop(d.price, None)
        self.delta_ms = d.ts_ms
        if self.crossed():
            self._suspect(None)
            return Verdict.crossed
        if not self._agrees(d):
            self._suspect(None)
            return Verdict.disagrees
        return Verdict.applied

    def _agrees(self, d: Delta) -> bool:
        if d.best_bid is not None and (self.best_bid() or ZERO) != d.best_bid:
            return False
        return d.best_ask is None or (self.best_ask() or ONE) == d.best_ask

    def _suspect(self, d: Delta | None) -> None:
        self.awaiting = True
        self.buffer = [d] if d is not None else []

    def to_book(self, ts: datetime | None = None) -> Book:
        """Best-first ``Book`` (the ts defaults to the server time the book reflects)."""
        if ts is None and self.as_of_ms >= 0:
            ts = datetime.fromtimestamp(self.as_of_ms / 1000, UTC)
        return Book(
            self.token_id,
            tuple(Level(p, self.bids[p]) for p in sorted(self.bids, reverse=True)),
            tuple(Level(p, self.asks[p]) for p in sorted(self.asks)),
            ts,
            self.last_trade,
        )
