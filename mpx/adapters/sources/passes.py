"""What every HTTP source's pass shares: whether metadata is due (``MPX_METADATA_TTL``, or no known
token to fetch), recording the raw responses of the pass (``mpx ingest --record DIR``), and the
cursor after it (``metadata_at`` when the metadata was refreshed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from mpx.adapters.sources.base import Cursor
from mpx.adapters.sources.polymarket.recording import RecordingTransport, next_pass_dir
from mpx.domain.models import Snapshot
from mpx.log import get_logger

log = get_logger(__name__)

PassFetch = Callable[[bool, list[str], httpx.AsyncBaseTransport | None], tuple[Snapshot, bool]]
"""fetch(refresh metadata?, tokens to fetch when not, transport) → (snapshot, metadata refreshed?)."""


def decimal_or_none(value: Any) -> Decimal | None:
    """A JSON number or numeric string as a finite Decimal; ``None`` for none, ``""``, a bool or junk."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def run_pass(cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None, *, now: datetime,
             ttl: timedelta, force: bool | None, record_dir: Path | None,
             transport: httpx.AsyncBaseTransport | None, fetch: PassFetch,
             manifest: Callable[[Path, bool, Snapshot], None]) -> tuple[Snapshot, Cursor]:
    """One pass of a source: metadata when due (``force`` overrides: a replayed pass does what was
    recorded), else the books of the known tokens; every raw response kept under ``record_dir``."""
    meta_at = datetime.fromisoformat(cursor["metadata_at"]) if cursor and cursor.get("metadata_at") else None
    tokens: list[str] = []
    refresh = force if force is not None else meta_at is None or now - meta_at >= ttl
    if not refresh:
        tokens = known_tokens() if known_tokens else []
        refresh = not tokens
    sink = None
    pass_dir = None
    if record_dir is not None:
        pass_dir = next_pass_dir(record_dir)
        sink = (pass_dir / "responses.jsonl").open("w", encoding="utf-8")
        transport = RecordingTransport(transport or httpx.AsyncHTTPTransport(), sink)
    try:
        snapshot, refreshed = fetch(refresh, tokens, transport)
    finally:
        if sink is not None:
            sink.close()
    if pass_dir is not None:
        manifest(pass_dir, refreshed, snapshot)
        log.info("pass recorded", extra={"dir": str(pass_dir)})
    new_cursor: Cursor = dict(cursor or {})
    if refreshed:
        new_cursor["metadata_at"] = now.isoformat()
    return snapshot, new_cursor


class HttpPassSource:
    """What both HTTP sources' ``fetch`` is: one :func:`run_pass` around the source's own async
    ``_fetch(now, refresh, tokens, known_tokens, transport)``, recording a pass with its manifest
    (the request shapes a replay needs: :meth:`_manifest_fields`). The subclass sets ``config``,
    ``metadata_ttl``, ``record_dir``, ``_transport``, ``_now`` and ``_force_metadata``."""

    config: Any
    metadata_ttl: timedelta
    record_dir: Path | None
    _transport: httpx.AsyncBaseTransport | None
    _now: Callable[[], datetime]
    _force_metadata: bool | None

    def fetch(self, cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None = None
              ) -> tuple[Snapshot, Cursor]:
        import asyncio

        from mpx.adapters.sources.polymarket.recording import write_manifest

        now = self._now()

        def fetch(refresh: bool, tokens: list[str], transport: httpx.AsyncBaseTransport | None
                  ) -> tuple[Snapshot, bool]:
            return asyncio.run(self._fetch(now, refresh, tokens, known_tokens, transport))

        def manifest(pass_dir: Path, refreshed: bool, snapshot: Snapshot) -> None:
            write_manifest(pass_dir, now, refreshed, snapshot.stats.get("requests", 0), **self._manifest_fields())

        return run_pass(cursor, known_tokens, now=now, ttl=self.metadata_ttl, force=self._force_metadata,
                        record_dir=self.record_dir, transport=self._transport, fetch=fetch, manifest=manifest)

    async def _fetch(self, now: datetime, refresh: bool, tokens: list[str],
                     known_tokens: Callable[[], list[str]] | None, transport: httpx.AsyncBaseTransport | None
                     ) -> tuple[Snapshot, bool]:
        raise NotImplementedError

    def _manifest_fields(self) -> dict[str, Any]:
        """``page_size``, ``batch_size`` (and ``events_paging``) for :func:`write_manifest`."""
        raise NotImplementedError


def without_metadata(venue: str, exc: Exception, notes: Any, known_tokens: Callable[[], list[str]] | None,
                     hint: str, doing: str = "list events") -> list[str]:
    """A metadata refresh failed: note it and go on with the stored tokens' books; with none stored
    there is nothing to fetch — the venue is unavailable this pass (exit 75, the next pass retries)."""
    from mpx.errors import UnavailableError

    notes.note(f"metadata refresh failed: {exc}")
    tokens = known_tokens() if known_tokens else []
    if not tokens:
        raise UnavailableError(f"{venue} unavailable: could not {doing} ({exc})", hint=hint) from None
    return tokens


def next_recorded_pass(root: Path, cursor: Cursor | None, what: str, hint: str
                       ) -> tuple[int, Path, dict[str, Any], datetime]:
    """The recorded pass a replay reads next: (passes done, its directory, its manifest, its time);
    every pass replayed already → :class:`~mpx.errors.UnavailableError` with ``hint``."""
    import json

    from mpx.adapters.sources.polymarket.recording import recorded_passes
    from mpx.errors import UnavailableError

    passes = recorded_passes(root)
    done = int(cursor.get("pass", 0)) if cursor else 0
    if done >= len(passes):
        raise UnavailableError(f"{what}: all {len(passes)} recorded pass(es) in {root} have been replayed", hint=hint)
    manifest = json.loads((passes[done] / "manifest.json").read_text())
    return done, passes[done], manifest, datetime.fromisoformat(manifest["ts"])
