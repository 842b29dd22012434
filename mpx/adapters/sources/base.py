"""The source protocol. A source produces one :class:`Snapshot` per ingest pass.

Each pass is a separate process, so a source's position (the mock's frame, the replay's next
recorded pass) is a JSON-able *cursor* that the ingest job stores in PostgreSQL in the same
transaction as the pass's ticks, and hands back on the next pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mpx.domain.models import Snapshot

Cursor = dict[str, Any]


class Source(Protocol):
    name: str
    venue: str
    """The venue whose markets it produces (``polymarket``, ``kalshi``): its passes, cursor, lock
    and change digest are kept per venue, so one venue's outage never stalls another."""

    def fetch(self, cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None = None
              ) -> tuple[Snapshot, Cursor]:
        """One snapshot (books, plus events/markets when refreshed) and the cursor after it.

        ``known_tokens`` lists the stored tokens worth fetching, for a pass that does not refresh
        metadata. Raises :class:`mpx.errors.UnavailableError` when nothing could be fetched.
        """
        ...
