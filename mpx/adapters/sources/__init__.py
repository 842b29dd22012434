"""Data sources behind one protocol, one registration each: ``SOURCES`` maps a ``DATA_SOURCE`` name
to the factory that builds it from the settings; ``make_source(settings)`` picks one. A new source
is one module plus one line here (and its name in ``Settings.data_source``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mpx.adapters.sources.base import Source
from mpx.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from mpx.adapters.sources.polymarket.client import ClientConfig
    from mpx.settings import Settings

__all__ = ["SOURCES", "Source", "make_source", "polymarket_client_config"]


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
    if settings.mpx_replay_dir is None:
        raise ConfigError("DATA_SOURCE=replay needs MPX_REPLAY_DIR",
                          hint="point it at a directory written by `mpx ingest --record DIR`")
    from mpx.adapters.sources.polymarket.source import ReplaySource

    return ReplaySource(settings.mpx_replay_dir, polymarket_client_config(settings))


SOURCES: dict[str, Callable[[Settings, Path | None], Source]] = {
    "mock": _mock,
    "real": _real,
    "replay": _replay,
}
"""``DATA_SOURCE`` (``polymarket`` is an alias of ``real``) → factory(settings, record_dir)."""

RECORDS = frozenset({"real"})
"""Sources that can keep every raw response of a pass (``mpx ingest --record DIR``)."""


def make_source(settings: Settings, record_dir: Path | None = None) -> Source:
    """The configured source; ``record_dir`` keeps every raw response of the pass (real source)."""
    name = settings.source_name
    if record_dir is not None and name not in RECORDS:
        raise UsageError("--record works with DATA_SOURCE=real (it records Polymarket's raw responses)")
    try:
        factory = SOURCES[name]
    except KeyError:
        raise ConfigError(f"DATA_SOURCE={name}: no such source", hint=f"one of: {', '.join(SOURCES)}") from None
    return factory(settings, record_dir)
