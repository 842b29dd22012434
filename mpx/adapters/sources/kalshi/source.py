"""``DATA_SOURCE=kalshi``: one pass = (events with their markets, and each series' fees, when older
than ``MPX_METADATA_TTL``) + the order book of every open market, within Kalshi's rate limit.

``DATA_SOURCE=kalshi_replay``: the same code over a session recorded with ``mpx ingest --source
kalshi --record DIR``, one recorded pass per ``mpx ingest``, at the recorded pass times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mpx.adapters.sources.base import Cursor
from mpx.adapters.sources.kalshi.client import Clock, KalshiClient, KalshiConfig, Sleep
from mpx.adapters.sources.kalshi.parse import fee_schedule, parse_events, parse_market, parse_orderbook, ticker_of
from mpx.adapters.sources.passes import HttpPassSource, next_recorded_pass, without_metadata
from mpx.adapters.sources.polymarket.client import FetchError
from mpx.adapters.sources.polymarket.parse import ParseReport
from mpx.adapters.sources.polymarket.recording import ReplayTransport
from mpx.domain.models import KALSHI, Book, Event, FeeSchedule, Market, Snapshot
from mpx.errors import UnavailableError
from mpx.log import get_logger

log = get_logger(__name__)


class KalshiSource(HttpPassSource):
    name = "kalshi"
    venue = KALSHI

    def __init__(self, config: KalshiConfig, *, metadata_ttl: timedelta = timedelta(minutes=5),
                 deadline: timedelta = timedelta(seconds=60), record_dir: Path | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, now: Callable[[], datetime] | None = None,
                 sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic) -> None:
        """``sleep`` and ``clock`` pace the pass (rate limit, backoff, deadline): a test passes a
        fake clock whose sleep advances it, and nothing really waits."""
        self.config = config
        self.metadata_ttl = metadata_ttl
        self.deadline = deadline
        self.record_dir = record_dir
        self._transport = transport
        self._now = now or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._clock = clock
        self._force_metadata: bool | None = None
        self._paced = True
        self.last_client: KalshiClient | None = None

    def _manifest_fields(self) -> dict[str, Any]:
        return {"page_size": self.config.page_size, "batch_size": 1}

    async def _fetch(self, now: datetime, refresh: bool, tokens: list[str],
                     known_tokens: Callable[[], list[str]] | None, transport: httpx.AsyncBaseTransport | None
                     ) -> tuple[Snapshot, bool]:
        report = ParseReport()
        failed_series = 0
        events: list[Event] = []
        markets: list[Market] = []
        refreshed = False
        deadline = self._clock() + self.deadline.total_seconds()
        async with KalshiClient(self.config, transport=transport, sleep=self._sleep, deadline=deadline,
                                paced=self._paced, clock=self._clock) as client:
            self.last_client = client
            if refresh:
                try:
                    listed = await client.events()
                    series = sorted({e["series_ticker"] for e in listed
                                     if isinstance(e, dict) and isinstance(e.get("series_ticker"), str)})
                    found, failed = await client.series(series)
                    failed_series = len(failed)
                    if failed:
                        report.note(f"fees of {len(failed)} series could not be fetched ({', '.join(failed[:5])}); "
                                    "their markets' fee rate is unknown this pass")
                    fees = {t: fee_schedule(s) for t, s in found.items()}
                    events, markets = parse_events(listed, fees, report)
                    markets += await self._gone(client, markets, known_tokens, fees, report)
                    refreshed = True
                except (FetchError, ValueError) as exc:
                    tokens = without_metadata("Kalshi", exc, report, known_tokens,
                                              "check MPX_KALSHI_URL and the network; the next pass retries")
                if refreshed:
                    if not markets:
                        raise UnavailableError("Kalshi returned no open market"
                                               + (f" in series {', '.join(self.config.series)}"
                                                  if self.config.series else ""),
                                               hint="check MPX_KALSHI_SERIES and MPX_KALSHI_URL; nothing was written")
                    tokens = [o.token_id for m in markets if m.tradable for o in m.outcomes]
            tickers = list(dict.fromkeys(ticker_of(t) for t in tokens))
            answers, failed_books = await client.orderbooks(tickers) if tickers else ({}, [])
            stats = client.stats
        books: list[Book] = []
        for ticker, body in answers.items():
            pair = parse_orderbook(ticker, body, report)
            if pair is not None:
                books.extend(pair)
        if tickers and not books:
            raise UnavailableError(f"Kalshi unavailable: no order book could be fetched ({len(failed_books)} of "
                                   f"{len(tickers)} markets failed)",
                                   hint="check MPX_KALSHI_URL; the next pass retries")
        if failed_books:
            report.note(f"{len(failed_books)} of {len(tickers)} order books could not be fetched; the rest are stored")
        if report.dropped_levels:
            report.note(f"{report.dropped_levels} invalid book level(s) dropped")
        counters = stats.as_counters()
        counters.update(requests=stats.total, dropped_levels=report.dropped_levels,
                        dropped_markets=report.dropped_markets, dropped_books=report.dropped_books,
                        duplicate_events=report.duplicates, fee_unknown_markets=report.fee_unknown,
                        failed_tokens=2 * len(failed_books), failed_series=failed_series)
        counters.update({f"dropped_markets:{kind}": n for kind, n in report.dropped_by_reason.items()})
        snap = Snapshot(ts=now, books=books, events=events, markets=markets, errors=report.problems,
                        requested=list(tokens), stats=counters)
        return snap, refreshed


    @staticmethod
    async def _gone(client: KalshiClient, listed: list[Market], known_tokens: Callable[[], list[str]] | None,
                    fees: dict[str, FeeSchedule], report: ParseReport) -> list[Market]:
        """Stored open markets the open listing no longer shows — closed, settled or halted since —
        looked up one by one (``GET /markets/{ticker}``), so their status reaches the database and a
        pair on one of them stops at once instead of trading on its last book."""
        if known_tokens is None:
            return []
        have = {m.id for m in listed}
        missing = sorted({ticker_of(t) for t in known_tokens()} - have)
        if not missing:
            return []
        found, failed = await client.markets(missing)
        if failed:
            report.note(f"{len(failed)} stored market(s) left the open listing and could not be looked up "
                        f"({', '.join(failed[:5])}); the next pass retries")
        out: list[Market] = []
        for raw in found.values():
            event_ticker = str(raw.get("event_ticker") or "")
            fee = fees.get(event_ticker.split("-", 1)[0]) or fee_schedule(None)
            market = parse_market(raw, {"event_ticker": event_ticker}, fee, report)
            if market is not None:
                out.append(market)
        return out


class KalshiReplaySource:
    """Replays a recorded Kalshi session one pass per fetch, through :class:`KalshiSource`."""

    name = "kalshi_replay"
    venue = KALSHI

    def __init__(self, root: Path, config: KalshiConfig) -> None:
        self.root = root
        self.config = config

    def fetch(self, cursor: Cursor | None, known_tokens: Callable[[], list[str]] | None = None
              ) -> tuple[Snapshot, Cursor]:
        done, pass_dir, manifest, ts = next_recorded_pass(
            self.root, cursor, "kalshi replay", "record more with `mpx ingest --source kalshi --record DIR`")
        source = KalshiSource(KalshiConfig(**{**self.config.__dict__, "page_size": int(manifest.get(
            "page_size", self.config.page_size))}), transport=ReplayTransport(pass_dir / "responses.jsonl"),
            now=lambda: ts, deadline=timedelta(hours=1))
        source._force_metadata = bool(manifest.get("metadata_refreshed"))
        source._paced = False
        snapshot, inner = source.fetch(cursor, known_tokens)
        log.info("pass replayed", extra={"dir": str(pass_dir)})
        return snapshot, {**inner, "pass": done + 1}
