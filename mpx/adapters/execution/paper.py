"""Paper venue: each order fills against the latest stored book as a taker order would.

* ``buy_fok``: the asks priced at or below the limit, best first, each level a separate fill
  charged the market's taker fee — all of the shares, or none when those asks hold fewer
  (fill-or-kill).
* ``sell``: the bids at or above the floor, best first, each level charged its taker fee, up to
  the shares; the rest is not sold (fill-and-kill).
* ``best_bid``: the book's best bid.
* ``collateral``: the paper wallet — ``balance`` (the job passes ``EXEC_PAPER_BALANCE`` + realised
  PnL − the cost of the positions held), no allowance.

The book is read from the injected ``book_source`` at each call, so a book that moved between two
legs is the one the second leg meets. A market whose fee rate is unknown is refused: a fill it
cannot price is not a fill (``VenueRefused``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from mpx.domain.execution import Funds, VenueFill, VenueRefused
from mpx.domain.models import ZERO, Book, Level, Market
from mpx.domain.money import taker_fee


class PaperVenue:
    name = "paper"

    def __init__(self, markets: Mapping[str, Market], book_source: Callable[[str], Book | None],
                 balance: Decimal | None = None) -> None:
        self.markets = markets
        self.book_source = book_source
        self.balance = balance

    def collateral(self) -> Funds:
        """The paper wallet (no allowance on paper); a venue built without a balance cannot tell."""
        if self.balance is None:
            raise VenueRefused("the paper venue was built without a balance")
        return Funds(self.balance, None, "paper wallet")

    def _market(self, market_id: str) -> Market:
        m = self.markets.get(market_id)
        if m is None:
            raise VenueRefused(f"market {market_id} is not stored")
        if not m.fee.known:
            raise VenueRefused(f"market {market_id} charges fees at an unknown rate: a paper fill cannot be priced")
        return m

    @staticmethod
    def _take(levels: list[Level], shares: Decimal, m: Market) -> VenueFill:
        remaining, cost, fee, taken = shares, ZERO, ZERO, []
        for lv in levels:
            if remaining <= 0:
                break
            take = min(remaining, lv.size)
            if take <= 0:
                continue
            cost += take * lv.price
            fee += taker_fee(take, lv.price, m.fee)
            taken.append(Level(lv.price, take))
            remaining -= take
        return VenueFill(shares - remaining, cost, fee, tuple(taken))

    def buy_fok(self, token_id: str, market_id: str, shares: Decimal, limit: Decimal) -> VenueFill:
        m = self._market(market_id)
        book = self.book_source(token_id)
        levels = [lv for lv in (book.asks if book else ()) if lv.price <= limit]
        if sum((lv.size for lv in levels), ZERO) < shares:
            return VenueFill()  # killed: fill-or-kill fills none
        return self._take(levels, shares, m)

    def sell(self, token_id: str, market_id: str, shares: Decimal, floor: Decimal) -> VenueFill:
        m = self._market(market_id)
        book = self.book_source(token_id)
        return self._take([lv for lv in (book.bids if book else ()) if lv.price >= floor], shares, m)

    def best_bid(self, token_id: str) -> Level | None:
        book = self.book_source(token_id)
        return book.bids[0] if book and book.bids else None
