"""``mpx seed``: write the mock universe's markets and its first frame of ticks."""

from __future__ import annotations

from dataclasses import dataclass

from mpx.adapters.db import state
from mpx.adapters.db.reset import reset_market_data
from mpx.adapters.sources.mock import MockSource
from mpx.jobs.contract import Context
from mpx.jobs.ingest import IngestResult, cursor_key, store_snapshot


@dataclass
class SeedResult(IngestResult):
    reset: bool = False


def run_seed(ctx: Context[SeedResult], source: MockSource, *, reset: bool) -> SeedResult:
    conn = ctx.conn
    if reset:
        reset_market_data(conn)
    snapshot, cursor = source.fetch(None)
    res = store_snapshot(ctx, source.name, snapshot)  # type: ignore[arg-type]
    state.set_state(conn, cursor_key(source), cursor)
    conn.commit()
    return SeedResult(rows=res.rows, ts=res.ts, books=res.books, unchanged=res.unchanged,
                      markets=res.markets, reset=reset, details={**res.details, "reset": reset},
                      warnings=res.warnings)
