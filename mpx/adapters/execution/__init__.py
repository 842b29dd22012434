"""Execution venues: where a confirmed order intent's legs are sent. Chosen by ``EXEC_MODE``.

Every venue implements :class:`mpx.domain.execution.Venue`: a fill-or-kill buy at or below a limit,
a fill-and-kill sell at or above a floor, and the best bid. The decisions — which leg goes first,
stopping at the first leg killed, unwinding what filled — are :mod:`mpx.domain.execution`'s, so a
venue only has to execute one order at a time.

* ``paper`` (default, :mod:`.paper`): orders fill against the latest stored book, read per order
  at the moment it is sent (a book that moved between legs is seen).
* ``live``: the place for a real exchange adapter (Polymarket's CLOB V2: FOK buys, FAK sells,
  signed orders). None ships in this build: ``EXEC_MODE=live`` is a configuration error (exit 78)
  rather than a silent paper fill.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mpx.domain.execution import Venue
from mpx.domain.models import Book, Market
from mpx.errors import ConfigError

BookSource = Callable[[str], Book | None]
"""The latest book of a token, read when it is called."""
VenueFactory = Callable[[Mapping[str, Market], BookSource], Venue]


def venue_for(mode: str) -> VenueFactory:
    """The venue factory of ``EXEC_MODE`` (ConfigError, exit 78, for a mode without an adapter)."""
    if mode == "paper":
        from mpx.adapters.execution.paper import PaperVenue

        return PaperVenue
    raise ConfigError(f"EXEC_MODE={mode}: no live execution adapter is available in this build",
                      hint="use EXEC_MODE=paper; a live adapter plugs in at mpx/adapters/execution/")
