"""Data sources behind one protocol; ``make_source(settings)`` picks one by ``DATA_SOURCE``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpx.adapters.sources.base import Source
from mpx.errors import ConfigError

if TYPE_CHECKING:
    from mpx.settings import Settings

__all__ = ["Source", "make_source"]


def make_source(settings: Settings) -> Source:
    name = settings.source_name
    if name == "mock":
        from mpx.adapters.sources.mock import MockSource

        return MockSource(seed=settings.mpx_mock_seed, latency_ms=settings.mpx_mock_latency_ms)
    raise ConfigError(
        f"DATA_SOURCE={settings.data_source} is not available in this version",
        hint="use DATA_SOURCE=mock",
    )
