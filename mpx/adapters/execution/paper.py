"""Paper execution: each leg fills against the stored book as a taker limit order would.

A buy takes the asks priced at or below its limit, best first, up to its shares (a sell the bids
at or above it); each level is a separate fill charged the market's taker fee. What the book
cannot give within the limit stays unfilled, so an intent can end ``partially_filled``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mpx.domain.models import Book, Market
from mpx.domain.money import walk_book
from mpx.domain.risk import ExecutionReport, LegFill, PlannedLeg


class PaperExecution:
    venue = "paper"

    def execute(self, intent_id: int, legs: Sequence[PlannedLeg], markets: Mapping[str, Market],
                books: Mapping[str, Book]) -> ExecutionReport:
        fills = []
        for leg in legs:
            book = books.get(leg.token_id)
            if leg.side == "BUY":
                levels = [lv for lv in (book.asks if book else ()) if lv.price <= leg.limit_price]
            else:
                levels = [lv for lv in (book.bids if book else ()) if lv.price >= leg.limit_price]
            f = walk_book(levels, leg.shares, markets[leg.market_id].fee)
            fills.append(LegFill(leg.token_id, leg.market_id, leg.side, leg.shares, f.shares, f.vwap, f.cost, f.fee,
                                 leg.limit_price))
        return ExecutionReport(tuple(fills), self.venue)
