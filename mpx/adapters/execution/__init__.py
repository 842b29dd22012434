"""Execution venues: where a confirmed order intent's legs are sent. Chosen by ``EXEC_MODE``.

Every venue implements :class:`mpx.domain.execution.Venue`: a fill-or-kill buy at or below a limit,
a fill-and-kill sell at or above a floor, and the best bid. The decisions — which leg goes first,
stopping at the first leg killed, unwinding what filled — are :mod:`mpx.domain.execution`'s, so a
venue only has to execute one order at a time.

* ``paper`` (default, :mod:`.paper`): orders fill against the latest stored book, read per order
  at the moment it is sent (a book that moved between legs is seen).
* ``live`` (:mod:`.live`), Polymarket only (:data:`LIVE_VENUES`): Polymarket's CLOB V2 through the
  official SDK — FOK buys, FAK sells, orders signed with the wallet key of ``EXEC_KEY_FILE``
  (checked when the venue is chosen: a key file missing, readable by others or owned by someone
  else is a configuration error, exit 78, before anything changes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from mpx.domain.execution import Venue
from mpx.domain.models import Book, Market
from mpx.errors import ConfigError
from mpx.settings import Settings

BookSource = Callable[[str], Book | None]
"""The latest book of a token, read when it is called."""
VenueFactory = Callable[[Mapping[str, Market], BookSource], Venue]


LIVE_VENUES = frozenset({"polymarket"})
"""Market venues a live adapter can trade on (``EXEC_MODE=live``); paper trades on every venue, each
leg against its own venue's stored book with its venue's fees, tick and minimum size."""


def check_live_venues(mode: str, venues: Collection[str]) -> None:
    """ConfigError (exit 78) when ``EXEC_MODE=live`` and a leg is on a venue without a live adapter:
    nothing is reserved or sent — half of a cross-venue set would be a naked leg."""
    missing = sorted(set(venues) - LIVE_VENUES)
    if mode == "live" and missing:
        raise ConfigError(f"EXEC_MODE=live: no live execution adapter for {', '.join(missing)} "
                          f"(live venues: {', '.join(sorted(LIVE_VENUES))}); nothing was reserved or sent",
                          hint="run this intent with EXEC_MODE=paper, or trade that leg by hand")


def venue_for(mode: str, settings: Settings | None = None) -> VenueFactory:
    """The venue factory of ``EXEC_MODE`` (ConfigError, exit 78, for a mode without an adapter, or
    live without usable credentials)."""
    if mode == "paper":
        from mpx.adapters.execution.paper import PaperVenue

        return PaperVenue
    if mode == "live" and settings is not None:
        from mpx.adapters.execution.live import live_factory, load_credentials

        load_credentials(settings.exec_key_file)  # exit 78 now, before an intent is reserved
        return live_factory(settings)
    raise ConfigError(f"EXEC_MODE={mode}: no live execution adapter is available in this build",
                      hint="use EXEC_MODE=paper; a live adapter plugs in at mpx/adapters/execution/")
