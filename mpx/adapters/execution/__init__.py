"""Execution adapters: where a confirmed order intent is sent. Chosen by ``EXEC_MODE``.

* ``paper`` (default, :mod:`.paper`): fills against the stored order book — partial fills when the
  book is thin within the limit price, VWAP recorded, taker fees charged per level.
* ``live``: the place for a real exchange adapter (Polymarket's CLOB, signed orders). None ships in
  this build: ``EXEC_MODE=live`` is a configuration error (exit 78) rather than a silent paper fill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mpx.domain.models import Book, Market
from mpx.domain.risk import ExecutionReport, PlannedLeg
from mpx.errors import ConfigError


class ExecutionAdapter(Protocol):
    venue: str

    def execute(self, intent_id: int, legs: Sequence[PlannedLeg], markets: Mapping[str, Market],
                books: Mapping[str, Book]) -> ExecutionReport:
        """Send every leg as a limit order (at most ``leg.limit_price``) and report what filled.
        ``books`` are the latest stored books the risk checks priced against. Raising means the
        venue could not be reached: the intent is recorded as failed and nothing counts as spent."""
        ...


def adapter_for(mode: str) -> ExecutionAdapter:
    if mode == "paper":
        from mpx.adapters.execution.paper import PaperExecution

        return PaperExecution()
    raise ConfigError(f"EXEC_MODE={mode}: no live execution adapter is available in this build",
                      hint="use EXEC_MODE=paper; a live adapter plugs in at mpx/adapters/execution/")
