"""Prometheus metrics for one job run, pushed to a Pushgateway when ``PUSHGATEWAY_URL`` is set.

A fresh ``CollectorRegistry`` per run, grouping key ``job``; duration, last-run and last-success
timestamps as gauges (Prometheus' batch-job guidance). ``_total`` series are set from counts kept in
PostgreSQL so they stay monotonic across runs. A Pushgateway that is down costs a warning, never
the job.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, pushadd_to_gateway

from mpx.log import get_logger

log = get_logger(__name__)


class JobMetrics:
    def __init__(self, job: str) -> None:
        self.job = job
        self.registry = CollectorRegistry()
        self.exit_code: int | None = None
        self._started = time.time()
        self.duration = Gauge("mpx_job_duration_seconds", "Duration of the last run", registry=self.registry)
        self.last_run = Gauge("mpx_job_last_run_timestamp_seconds", "End of the last run", registry=self.registry)
        self.rows = Gauge("mpx_job_rows", "Rows the last run wrote", registry=self.registry)
        self.status = Gauge("mpx_job_exit_code", "Exit code of the last run", registry=self.registry)
        # registered only when the run succeeds, so a failed run never overwrites it
        self.last_success = Gauge(
            "mpx_job_last_success_timestamp_seconds", "End of the last successful run", registry=None
        )

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labelnames=labels, registry=self.registry)

    def finish(self, exit_code: int, rows: int | None) -> None:
        now = time.time()
        self.exit_code = exit_code
        self.duration.set(now - self._started)
        self.last_run.set(now)
        self.status.set(exit_code)
        if rows is not None:
            self.rows.set(rows)
        if exit_code == 0:
            self.last_success.set(now)
            self.registry.register(self.last_success)

    def push(self, url: str | None, timeout: float = 3.0) -> bool:
        """Push to the gateway (PUT after a success; POST after a failure, keeping the group's
        last-success time); on any failure log one warning and return False."""
        if not url:
            return False
        push = push_to_gateway if self.exit_code == 0 else pushadd_to_gateway
        try:
            push(url, job=f"mpx_{self.job}", registry=self.registry, timeout=timeout)
            return True
        except Exception as exc:  # never fail the job because monitoring is down
            log.warning("pushgateway unavailable; metrics not pushed",
                        extra={"job": self.job, "error": f"{type(exc).__name__}: {exc}"})
            return False
