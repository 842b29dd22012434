"""``mpx seed``: write the mock universe's markets and its first frame of ticks."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mpx.adapters.db import state
from mpx.adapters.sources.mock import MockSource
from mpx.jobs.contract import Context
from mpx.jobs.ingest import IngestResult, cursor_key, store_snapshot

DATA_TABLES = ("alert_outbox", "signal", "opportunity", "synonym_group_member", "synonym_group", "market_relation",
               "ingest_pass", "ingest_digest_state", "tick", "outcome", "market", "event", "job_state",
               "order_intent_event", "order_intent", "risk_event", "rule_kpi_daily")


@dataclass
class SeedResult(IngestResult):
    reset: bool = False


def reset_market_data(conn: psycopg.Connection) -> None:
    """Empty every market-data table (not job_run, not schema_migrations). CASCADE: a table added
    later that references these (an intent referencing a signal) is emptied with them."""
    conn.execute(f"TRUNCATE {', '.join(DATA_TABLES)} CASCADE")
    conn.execute("""UPDATE risk_state SET breaker = 'closed', opened_at = NULL, open_until = NULL, reason = NULL,
                                          consecutive_failures = 0, loss_since = NULL, updated_at = now()""")


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
