"""Data sources behind one protocol, one registration each: ``SOURCES`` maps a ``DATA_SOURCE`` name
to its :class:`Registration` (the venue it produces, the factory that builds it from the settings,
whether it can record); ``make_sources(settings)`` builds the configured ones. A new source is one
module plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mpx.adapters.sources.base import Source
from mpx.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from mpx.adapters.sources.kalshi.client import KalshiConfig
    from mpx.adapters.sources.polymarket.client import ClientConfig
    from mpx.settings import Settings

__all__ = ["SOURCES", "Registration", "Source", "canonical", "make_sources", "polymarket_client_config"]


def _mock(settings: Settings, record_dir: Path | None) -> Source:
    from mpx.adapters.sources.mock import MockSource

    return MockSource(seed=settings.mpx_mock_seed, latency_ms=settings.mpx_mock_latency_ms)


def polymarket_client_config(settings: Settings) -> ClientConfig:
    """The REST client's settings (also the stream's re-snapshots over ``POST /books``)."""
    from mpx.adapters.sources.polymarket.client import ClientConfig

    return ClientConfig(
        gamma_url=settings.mpx_gamma_url, clob_url=settings.mpx_clob_url,
        concurrency=settings.mpx_http_concurrency, timeout=settings.mpx_http_timeout,
        retries=settings.mpx_http_retries, page_size=settings.mpx_gamma_page_size,
        batch_size=settings.mpx_books_batch,
    )


def _real(settings: Settings, record_dir: Path | None) -> Source:
    from mpx.adapters.sources.polymarket.source import PolymarketSource

    return PolymarketSource(polymarket_client_config(settings), metadata_ttl=settings.mpx_metadata_ttl,
                            deadline=settings.mpx_pass_deadline, record_dir=record_dir)


def _replay(settings: Settings, record_dir: Path | None) -> Source:
    from mpx.adapters.sources.polymarket.source import ReplaySource

    return ReplaySource(_replay_dir(settings, "replay", "mpx ingest --record DIR"),
                        polymarket_client_config(settings))


def _replay_dir(settings: Settings, source: str, records: str) -> Path:
    """MPX_REPLAY_DIR, which a replay source cannot go without (78 when it is not set)."""
    if settings.mpx_replay_dir is None:
        raise ConfigError(f"DATA_SOURCE={source} needs MPX_REPLAY_DIR",
                          hint=f"point it at a directory written by `{records}`")
    return settings.mpx_replay_dir


def kalshi_config(settings: Settings) -> KalshiConfig:
    from mpx.adapters.sources.kalshi.client import KalshiConfig

    return KalshiConfig(url=settings.mpx_kalshi_url, rate=settings.mpx_kalshi_rate,
                        series=tuple(s.strip() for s in settings.mpx_kalshi_series.split(",") if s.strip()),
                        concurrency=settings.mpx_http_concurrency, timeout=settings.mpx_http_timeout,
                        retries=settings.mpx_http_retries)


def _kalshi(settings: Settings, record_dir: Path | None) -> Source:
    from mpx.adapters.sources.kalshi.source import KalshiSource

    return KalshiSource(kalshi_config(settings), metadata_ttl=settings.mpx_metadata_ttl,
                        deadline=settings.mpx_pass_deadline, record_dir=record_dir)


def _kalshi_replay(settings: Settings, record_dir: Path | None) -> Source:
    from mpx.adapters.sources.kalshi.source import KalshiReplaySource

    return KalshiReplaySource(_replay_dir(settings, "kalshi_replay", "mpx ingest --source kalshi --record DIR"),
                              kalshi_config(settings))


@dataclass(frozen=True)
class Registration:
    venue: str
    """The venue whose markets the source produces (its lock, cursor and passes are that venue's)."""
    factory: Callable[[Settings, Path | None], Source]
    """factory(settings, record_dir) → the source."""
    records: bool = False
    """It can keep every raw response of a pass (``mpx ingest --record DIR``)."""


SOURCES: dict[str, Registration] = {
    "mock": Registration("polymarket", _mock),
    "real": Registration("polymarket", _real, records=True),
    "replay": Registration("polymarket", _replay),
    "kalshi": Registration("kalshi", _kalshi, records=True),
    "kalshi_replay": Registration("kalshi", _kalshi_replay),
}
"""``DATA_SOURCE`` name → registration (``polymarket`` is an alias of ``real``)."""

ALIASES = {"polymarket": "real"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def make_sources(settings: Settings, only: str | None = None, record_dir: Path | None = None) -> list[Source]:
    """The configured sources (``DATA_SOURCE``, one per venue), or just ``only`` (``mpx ingest
    --source NAME``: any registered source, configured or not). ``record_dir`` keeps every raw
    response of the pass; only a source that can record accepts it."""
    names = [canonical(only)] if only else settings.source_names
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise UsageError(f"--source {only}: no such source", hint=f"one of: {', '.join(SOURCES)}")
    if record_dir is not None:
        cannot = [n for n in names if not SOURCES[n].records]
        if cannot or len(names) > 1:
            able = ", ".join(n for n, r in SOURCES.items() if r.records)
            raise UsageError(f"--record works with DATA_SOURCE=real or one recording --source ({able}), "
                             f"not {', '.join(cannot or names)}", hint=f"record with --source one of: {able}")
    return [SOURCES[n].factory(settings, record_dir) for n in names]
