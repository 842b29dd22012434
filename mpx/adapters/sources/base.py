"""The source protocol. A source produces one :class:`Snapshot` per ingest pass.

Each pass is a separate process, so a source's position (the mock's frame, the replay's next
recorded pass) is a JSON-able *cursor* that the ingest job stores in PostgreSQL in the same
transaction as the pass's ticks, and hands back on the next pass.
"""

from __future__ import annotations

from typing import Any, Protocol

from mpx.domain.models import Snapshot

Cursor = dict[str, Any]


class Source(Protocol):
    name: str

    def fetch(self, cursor: Cursor | None) -> tuple[Snapshot, Cursor]:
        """One snapshot (books, plus events/markets when refreshed) and the cursor after it.

        Raises :class:`mpx.errors.UnavailableError` when nothing could be fetched.
        """
        ...
