"""``DATA_SOURCE=real``: one pass = (metadata when older than ``MPX_METADATA_TTL``) + every book.

``DATA_SOURCE=replay``: the same code over a recorded session (``mpx ingest --record DIR``), one
recorded pass per ``mpx ingest``, at the recorded pass times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mpx.adapters.sources.base import Cursor
from mpx.adapters.sources.passes import HttpPassSource, next_recorded_pass, without_metadata
from mpx.adapters.sources.polymarket.client import ClientConfig, FetchError, FetchStats, PolymarketClient
from mpx.adapters.sources.polymarket.parse import ParseReport, parse_book, parse_events
from mpx.adapters.sources.polymarket.recording import ReplayTransport, recorded_passes
from mpx.domain.models import Book, Event, Market, Snapshot
from mpx.errors import UnavailableError
from mpx.log import get_logger

log = get_logger(__name__)


def fetchable_tokens(markets: Sequence[Market]) -> list[str]:
    """Tokens whose books are worth fetching: markets open for trading (closed, resolved, inactive
    and order-book-less markets are stored but have no book to fetch)."""
    return list(dict.fromkeys(o.token_id for m in markets if m.tradable for o in m.outcomes))


class PolymarketSource(HttpPassSource):
    name = "real"
    venue = "polymarket"

    def __init__(
        self, config: ClientConfig, *, metadata_ttl: timedelta = timedelta(minutes=5),
        deadline: timedelta = timedelta(seconds=60), record_dir: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None, now: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.metadata_ttl = metadata_ttl
        self.deadline = deadline
        self.record_dir = record_dir
        self._transport = transport
        self._now = now or (lambda: datetime.now(UTC))
        self._force_metadata: bool | None = None
        self._sleep: Callable[[float], Any] = asyncio.sleep
        self._paced = True
        self.events_paging: str | None = None  # "keyset" | "offset": how the last listing was paged

    def _manifest_fields(self) -> dict[str, Any]:
        return {"page_size": self.config.page_size, "batch_size": self.config.batch_size,
                "events_paging": self.events_paging}

    async def _fetch(
        self, now: datetime, refresh: bool, tokens: list[str], known_tokens: Callable[[], list[str]] | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> tuple[Snapshot, bool]:
        report = ParseReport()
        self.events_paging = None
        events: list[Event] = []
        markets: list[Market] = []
        refreshed = False
        deadline = time.monotonic() + self.deadline.total_seconds()
        async with PolymarketClient(self.config, transport=transport, sleep=self._sleep, deadline=deadline,
                                    paced=self._paced) as client:
            if refresh:
                try:
                    try:
                        listed = await client.events()
                    finally:
                        self.events_paging = client.events_paging
                    events, markets = parse_events(listed, report)
                    refreshed = True
                except (FetchError, ValueError) as exc:
                    tokens = without_metadata("Polymarket", exc, report, known_tokens,
                                              "check MPX_GAMMA_URL and the network; the next pass retries",
                                              doing="fetch events")
                if refreshed:
                    if not markets:
                        raise UnavailableError("Polymarket returned an empty universe (no active events)",
                                               hint="check MPX_GAMMA_URL; nothing was written")
                    tokens = fetchable_tokens(markets)
            raw_books, failed = await client.books(tokens) if tokens else ([], [])
            stats = client.stats
        by_token: dict[str, Book] = {}
        for obj in raw_books:
            book = parse_book(obj, report)
            if book is not None:
                by_token[book.token_id] = book  # a token answered twice: keep one book
        books = list(by_token.values())
        if tokens and not books:
            raise UnavailableError(
                f"Polymarket unavailable: no order book could be fetched ({len(failed)} of {len(tokens)} tokens "
                f"failed; {_summary(stats)})", hint="check MPX_CLOB_URL; the next pass retries")
        if failed:
            report.note(f"{len(failed)} of {len(tokens)} books could not be fetched "
                        f"({stats.failed_batches} failed batch(es)); the rest are stored")
        if report.dropped_levels:
            report.note(f"{report.dropped_levels} invalid book level(s) dropped")
        if report.dropped_markets:
            report.note(f"{report.dropped_markets} unusable market object(s) dropped")
        counters = stats.as_counters()
        counters.update(requests=stats.total, dropped_levels=report.dropped_levels,
                        dropped_markets=report.dropped_markets, dropped_books=report.dropped_books,
                        duplicate_events=report.duplicates, unversioned_v1_markets=report.unversioned_v1,
                        fee_unknown_markets=report.fee_unknown, failed_tokens=len(failed))
        counters.update({f"dropped_markets:{kind}": n for kind, n in report.dropped_by_reason.items()})
        snap = Snapshot(ts=now, books=books, events=events, markets=markets, errors=report.problems,
                        requested=list(tokens), stats=counters)
        return snap, refreshed


def _summary(stats: FetchStats) -> str:
    parts = [f"{ep} {status}: {n}" for (ep, status), n in sorted(stats.requests.items())]
    return ", ".join(parts) or "no requests"


class ReplaySource:
    """Replays a recorded session one pass per fetch, through :class:`PolymarketSource`."""

    name = "replay"
    venue = "polymarket"

    def __init__(self, root: Path, config: ClientConfig) -> None:
        self.root = root
        self.config = config

    def fetch(self, cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None = None
              ) -> tuple[Snapshot, Cursor]:
        done, pass_dir, manifest, ts = next_recorded_pass(
            self.root, cursor, "replay", "record more with `mpx ingest --record DIR`, or reset with `mpx seed --reset`"
            if recorded_passes(self.root) else "record a session with `mpx ingest --record DIR` first")

        async def no_wait(_: float) -> None:
            return None

        # the recorded request shapes, whatever this machine's MPX_BOOKS_BATCH / MPX_GAMMA_PAGE_SIZE say;
        # the events paging as recorded: a pass recorded before keyset paging (no "events_paging")
        # listed with offset paging only, so it replays that way; a newer one replays the keyset
        # probe (answered from the recording: its pages, or its 404 and then the offset pages)
        recorded_paging = manifest.get("events_paging", "offset") if manifest.get("metadata_refreshed") else None
        config = replace(self.config, page_size=int(manifest.get("page_size", self.config.page_size)),
                         batch_size=int(manifest.get("batch_size", self.config.batch_size)),
                         events_paging="offset" if "events_paging" not in manifest else "auto")
        source = PolymarketSource(config, transport=ReplayTransport(pass_dir / "responses.jsonl"),
                                  now=lambda: ts, deadline=timedelta(hours=1))
        source._force_metadata = bool(manifest.get("metadata_refreshed"))
        source._sleep = no_wait
        source._paced = False
        snapshot, inner = source.fetch(cursor, known_tokens)
        if recorded_paging is not None and source.events_paging != recorded_paging:
            raise UnavailableError(f"replay: {pass_dir} was listed with {recorded_paging} paging but replays with "
                                   f"{source.events_paging}: the recording is incomplete",
                                   hint="record the session again with `mpx ingest --record DIR`")
        log.info("pass replayed", extra={"dir": str(pass_dir), "events_paging": source.events_paging})
        return snapshot, {**inner, "pass": done + 1}
