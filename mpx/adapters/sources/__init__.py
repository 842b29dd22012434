"""Data sources behind one protocol; ``make_source(settings)`` picks one by ``DATA_SOURCE``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mpx.adapters.sources.base import Source
from mpx.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from mpx.settings import Settings

__all__ = ["Source", "make_source"]


def make_source(settings: Settings, record_dir: Path | None = None) -> Source:
    """The configured source; ``record_dir`` keeps every raw response of the pass (real source)."""
    name = settings.source_name
    if record_dir is not None and name != "real":
        raise UsageError("--record works with DATA_SOURCE=real (it records Polymarket's raw responses)")
    if name == "mock":
        from mpx.adapters.sources.mock import MockSource

        return MockSource(seed=settings.mpx_mock_seed, latency_ms=settings.mpx_mock_latency_ms)
    from mpx.adapters.sources.polymarket.client import ClientConfig

    config = ClientConfig(
        gamma_url=settings.mpx_gamma_url, clob_url=settings.mpx_clob_url,
        concurrency=settings.mpx_http_concurrency, timeout=settings.mpx_http_timeout,
        retries=settings.mpx_http_retries, page_size=settings.mpx_gamma_page_size,
        batch_size=settings.mpx_books_batch,
    )
    if name == "real":
        from mpx.adapters.sources.polymarket.source import PolymarketSource

        return PolymarketSource(config, metadata_ttl=settings.mpx_metadata_ttl, deadline=settings.mpx_pass_deadline,
                                record_dir=record_dir)
    if settings.mpx_replay_dir is None:
        raise ConfigError("DATA_SOURCE=replay needs MPX_REPLAY_DIR",
                          hint="point it at a directory written by `mpx ingest --record DIR`")
    from mpx.adapters.sources.polymarket.source import ReplaySource

    return ReplaySource(settings.mpx_replay_dir, config)
