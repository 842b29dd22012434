"""Book helpers: liquidity checks and display."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from mpx.domain.models import Book

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[Decimal | float | None]) -> str:
    """Unicode sparkline of ``values`` (gaps as spaces); flat series draw at mid height."""
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
            continue
        if hi == lo:
            out.append(_BARS[len(_BARS) // 2])
        else:
            out.append(_BARS[round((float(v) - lo) / (hi - lo) * (len(_BARS) - 1))])
    return "".join(out)


def is_liquid(book: Book | None, max_spread: Decimal, min_top_size: Decimal) -> bool:
    """Two-sided, no wider than ``max_spread``, at least ``min_top_size`` at the best bid and ask."""
    if book is None or not book.two_sided:
        return False
    assert book.spread is not None and book.bid_size is not None and book.ask_size is not None
    return book.spread <= max_spread and min(book.bid_size, book.ask_size) >= min_top_size
