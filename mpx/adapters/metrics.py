"""Prometheus metrics for one job run, pushed to a Pushgateway when ``PUSHGATEWAY_URL`` is set.

A fresh ``CollectorRegistry`` per run, grouping key ``job``; duration, last-run and last-success
timestamps as gauges (Prometheus' batch-job guidance). ``_total`` series are set from counts kept in
PostgreSQL so they stay monotonic across runs. A Pushgateway that is down costs a warning, never
the job.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest, push_to_gateway, pushadd_to_gateway

from mpx.log import get_logger

log = get_logger(__name__)


class JobMetrics:
    def __init__(self, job: str, group: dict[str, str] | None = None) -> None:
        self.job = job
        self.group = dict(group or {})
        """Extra grouping labels (``venue`` for ingest): each group is its own Pushgateway group and
        its textfile series carry the labels, so two venues' runs never overwrite each other."""
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
            push(url, job=f"mpx_{self.job}", registry=self.registry, timeout=timeout, grouping_key=self.group)
            return True
        except Exception as exc:  # never fail the job because monitoring is down
            log.warning("pushgateway unavailable; metrics not pushed",
                        extra={"job": self.job, "error": f"{type(exc).__name__}: {exc}"})
            return False

    def write_textfile(self, path: Path | None) -> bool:
        """Write the run's metrics for node_exporter's textfile collector (atomically: temp file +
        rename), each series labelled ``job="mpx_<job>"`` so several jobs' files can sit side by
        side. A failure costs a warning, never the job."""
        if path is None:
            return False
        try:
            text = with_job_label(generate_latest(self.registry).decode(), f"mpx_{self.job}", self.group)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            return True
        except OSError as exc:
            log.warning("metrics textfile not written", extra={"job": self.job, "path": str(path),
                                                               "error": f"{type(exc).__name__}: {exc}"})
            return False


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?( .*)$")


def with_job_label(text: str, job: str, extra: dict[str, str] | None = None) -> str:
    """Prometheus text format with ``job="…"`` (and ``extra`` labels) added to every sample."""
    added = f'job="{job}"' + "".join(f',{k}="{v}"' for k, v in (extra or {}).items())
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line) if line and not line.startswith("#") else None
        if m is None:
            out.append(line)
            continue
        name, labels, rest = m.group(1), m.group(2), m.group(3)
        inner = added + ("," + labels[1:-1] if labels and labels != "{}" else "")
        out.append(f"{name}{{{inner}}}{rest}")
    return "\n".join(out) + "\n"
