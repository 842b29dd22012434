"""Emptying the market data (``mpx seed --reset``)."""

from __future__ import annotations

import psycopg

DATA_TABLES = ("alert_outbox", "signal", "opportunity", "synonym_group_member", "synonym_group", "market_relation",
               "ingest_pass", "ingest_digest_state", "tick", "outcome", "market", "event", "job_state",
               "order_intent_event", "order_intent", "risk_event", "rule_kpi_daily", "tick_archive_day")


def reset_market_data(conn: psycopg.Connection) -> None:
    """Empty every market-data table (not job_run, not schema_migrations) and close the circuit
    breaker (the caller commits). CASCADE: a table added later that references these (an intent
    referencing a signal) is emptied with them."""
    conn.execute(f"TRUNCATE {', '.join(DATA_TABLES)} CASCADE")
    conn.execute("""UPDATE risk_state SET breaker = 'closed', opened_at = NULL, open_until = NULL, reason = NULL,
                                          consecutive_failures = 0, loss_since = NULL, updated_at = now()""")
