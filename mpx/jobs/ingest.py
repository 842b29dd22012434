"""``mpx ingest``: one pass — source snapshot → ticks for the books that changed (COPY), all in one
transaction together with the source's cursor and the pass record.

Each source is one venue's; its pass runs under that venue's lock (``ingest:<venue>``) with its own
cursor, and its pass record, change digests and missing books are its venue's, so one venue's outage
never stalls another. Pass times are global (``ingest_pass.ts`` is the key): a pass takes the next
one under a row lock at the end, so two venues writing at once queue for a moment, not a pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mpx.adapters.db import markets as db_markets
from mpx.adapters.db import state, ticks
from mpx.adapters.sources.base import Source
from mpx.domain.models import POLYMARKET, Snapshot
from mpx.errors import MpxError, UnavailableError
from mpx.exit import ExitCode
from mpx.jobs.contract import Context, Job, JobResult, run_job
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)

LAST_TS_KEY = "ingest:last_ts"
COUNTERS_KEY = "ingest:counters"


def cursor_key(source: Source) -> str:
    return f"source_cursor:{source.name}"


SEVERITY = {ExitCode.CONFIG: 3, ExitCode.FAILED: 2, ExitCode.TEMPFAIL: 1}
"""When several sources fail, the worst decides the exit code: a configuration error (78) before a
failure (1) before a temporary one (75)."""


def ingest_sources(settings: Settings, sources: Sequence[Source],
                   on_done: Callable[[Source, IngestResult], None]) -> list[MpxError]:
    """One pass of each source, each under the job contract with its venue's lock and metrics group
    (one textfile per venue when there are several); a source that fails does not stop the others.
    Returns the failures, the worst first (its message names the venue when there are several)."""
    several = len(sources) > 1
    failures: list[MpxError] = []
    for src in sources:
        run_settings = settings
        if several and settings.mpx_metrics_textfile is not None:
            path = settings.mpx_metrics_textfile
            run_settings = settings.model_copy(update={"mpx_metrics_textfile": path.with_name(
                f"{path.stem}.{src.venue}{path.suffix}")})
        try:
            res = run_job(run_settings, Job.ingest, lambda ctx, src=src: run_ingest(ctx, src),  # type: ignore[misc]
                          lock=lock_name(src.venue), group={"venue": src.venue})
        except MpxError as exc:
            if several:
                exc.message = f"{src.venue} ({src.name}): {exc.message}"
            failures.append(exc)
            continue
        on_done(src, res)
    return sorted(failures, key=lambda e: -SEVERITY.get(e.exit_code, 2))


def lock_name(venue: str) -> str:
    """The advisory lock of a venue's ingest (``mpx seed`` takes Polymarket's)."""
    return f"ingest:{venue}"


@dataclass
class IngestResult(JobResult):
    ts: datetime | None = None
    books: int = 0
    unchanged: int = 0
    markets: int = 0


def run_ingest(ctx: Context[IngestResult], source: Source) -> IngestResult:
    conn = ctx.conn
    fetch_started = datetime.now().astimezone()
    cursor = state.get_state(conn, cursor_key(source))
    conn.commit()
    snapshot, new_cursor = source.fetch(cursor, lambda: db_markets.active_tokens(conn, source.venue))
    if not snapshot.books and not snapshot.markets:
        raise UnavailableError(f"source {source.name!r} returned nothing this pass")
    latency_ms = (datetime.now().astimezone() - fetch_started).total_seconds() * 1000
    result = store_snapshot(ctx, source.name, snapshot, venue=source.venue)
    state.set_state(conn, cursor_key(source), new_cursor)
    conn.commit()
    ctx.metrics.gauge("mpx_ingest_latency_ms", "Source fetch latency of the last pass", ("source",)).labels(
        source.name).set(latency_ms)
    if result.ts is not None:
        ctx.metrics.gauge("mpx_ingest_last_tick_timestamp", "Time of the venue's last stored pass").set(
            result.ts.timestamp())
    _metrics(ctx, source.name)
    conn.commit()
    return result


def _metrics(ctx: Context[IngestResult], source_name: str) -> None:
    """Totals from the counters kept in PostgreSQL, so they stay monotonic across runs."""
    conn = ctx.conn
    ctx.metrics.gauge("mpx_ingest_ticks_total", "Ticks written since the database was created").set(
        ticks.written_total(conn))
    counters: dict[str, int] = state.get_state(conn, COUNTERS_KEY) or {}
    requests = ctx.metrics.gauge("mpx_source_requests_total", "Source HTTP requests by endpoint and status",
                                 ("source", "endpoint", "status"))
    for key, n in counters.items():
        if key.startswith("requests:"):
            _, endpoint, status = key.split(":", 2)
            requests.labels(source_name, endpoint, status).set(n)
    for key, name, doc in (
        ("retries", "mpx_source_retries_total", "Source requests retried"),
        ("throttled", "mpx_source_throttled_total", "Source answers with HTTP 429"),
        ("failed_batches", "mpx_source_failed_batches_total", "Book batches that failed (then fetched one by one)"),
        ("dropped_levels", "mpx_ingest_dropped_levels_total", "Book levels dropped as invalid"),
        ("dropped_markets", "mpx_ingest_dropped_markets_total", "Market objects dropped as unusable"),
    ):
        ctx.metrics.gauge(name, doc, ("source",)).labels(source_name).set(counters.get(key, 0))


def store_snapshot(ctx: Context[IngestResult], source_name: str, snapshot: Snapshot,
                   venue: str = POLYMARKET) -> IngestResult:
    """Write a venue's snapshot inside the current transaction (the caller commits). A book is kept
    only for a token of that venue's markets; the books missing are counted over its tokens."""
    conn = ctx.conn
    if snapshot.markets:
        db_markets.upsert_metadata(conn, snapshot.events, snapshot.markets)
    market_of = db_markets.token_markets(conn, venue)
    known = set(market_of)
    # last: the pass-time row lock is held from here to the commit (a short COPY), not the fetch
    ts = _pass_time(snapshot.ts, state.get_state_for_update(conn, LAST_TS_KEY))
    wr = ticks.write_ticks(conn, ts, snapshot.books, market_of, ctx.settings.mpx_book_depth, venue=venue)
    observed = {b.token_id for b in snapshot.books}
    asked = known if snapshot.requested is None else set(snapshot.requested)
    missing = sorted(asked - observed)
    ticks.record_pass(conn, ts, source_name, len(snapshot.books), wr.written, missing, venue=venue)
    state.set_state(conn, LAST_TS_KEY, ts.isoformat())
    state.set_state(conn, ticks.TICKS_TOTAL_KEY, ticks.written_total(conn) + wr.written)
    if snapshot.stats:
        counters: dict[str, int] = state.get_state(conn, COUNTERS_KEY) or {}
        for key, n in snapshot.stats.items():
            counters[key] = counters.get(key, 0) + n
        state.set_state(conn, COUNTERS_KEY, counters)
    warnings = list(snapshot.errors)
    if wr.unknown_token:
        warnings.append(f"{wr.unknown_token} book(s) for tokens of no known market were dropped")
    if missing:
        warnings.append(f"{len(missing)} known token(s) had no book this pass")
    return IngestResult(
        rows=wr.written, ts=ts, books=len(snapshot.books), unchanged=wr.unchanged,
        markets=len(snapshot.markets), warnings=warnings,
        details={"books": len(snapshot.books), "written": wr.written, "unchanged": wr.unchanged,
                 "markets": len(snapshot.markets), "missing": len(missing),
                 **{k: v for k, v in snapshot.stats.items() if not k.startswith("requests:")}},
    )


def _pass_time(ts: datetime, last_iso: str | None) -> datetime:
    """The pass's tick time: the snapshot time, moved forward if needed so passes strictly increase."""
    if last_iso:
        last = datetime.fromisoformat(last_iso)
        if ts <= last:
            return last + timedelta(microseconds=1)
    return ts
