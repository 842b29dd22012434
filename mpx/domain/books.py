"""Book display helpers."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

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
