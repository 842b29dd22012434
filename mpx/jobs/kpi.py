"""``mpx kpi``: roll signals and opportunities up into ``rule_kpi_daily`` (UTC days), then read the
last ``days`` back. Idempotent: re-running recomputes the same rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mpx.adapters.db import kpi as db
from mpx.jobs.contract import Context, JobResult


@dataclass
class KpiResult(JobResult):
    table: list[dict[str, Any]] = field(default_factory=list)


def run_kpi(ctx: Context[KpiResult], days: int) -> KpiResult:
    since = (datetime.now(UTC) - timedelta(days=days - 1)).date()
    written = db.rollup(ctx.conn, since)
    ctx.conn.commit()
    rows = db.query(ctx.conn, since)
    ctx.metrics.gauge("mpx_kpi_rows", "rule_kpi_daily rows the last rollup wrote").set(written)
    return KpiResult(rows=written, table=rows, details={"days": days, "since": since.isoformat()})
