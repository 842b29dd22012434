"""The job contract every command that runs a pass follows (``mpx ingest``, ``evaluate``, ``seed``,
``synonyms refresh``, ``alerts flush``, ``kpi``, ``intents …``, ``db migrate``, ``backtest``, ``archive``,
``export``).

- one pass, then exit; idempotent;
- no overlap: a PostgreSQL advisory lock per job, a held lock → :class:`BusyError` (exit 75);
- every run recorded in ``job_run`` (running → ok | failed | skipped | killed, rows, error); once it
  holds the job's lock, a run marks ``killed`` any older ``running`` row of its job whose process is
  gone (:func:`mpx.adapters.db.runs.mark_killed`);
- metrics pushed when ``PUSHGATEWAY_URL`` is set and written to ``MPX_METRICS_TEXTFILE`` — also when
  the run failed or was skipped; a Pushgateway that is down costs a warning;
- the database unavailable anywhere — connecting, taking the lock, writing the run record, mid-pass
  — is :class:`UnavailableError` (exit 75) with one line: the pass's open transaction is rolled
  back, so nothing is half-written, and the next pass starts over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import psycopg

from mpx.adapters.db import runs
from mpx.adapters.db.connection import advisory_lock, connect
from mpx.adapters.metrics import JobMetrics
from mpx.errors import BusyError, MpxError, UnavailableError
from mpx.exit import ExitCode
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)


class Job(StrEnum):
    """The jobs: the name of each one's ``job_run`` rows, advisory lock and metrics group (``mpx_<job>``)."""

    ingest = "ingest"
    evaluate = "evaluate"
    seed = "seed"
    synonyms = "synonyms"
    pairs = "pairs"
    alerts = "alerts"
    kpi = "kpi"
    settle = "settle"
    intents = "intents"
    backtest = "backtest"
    migrate = "migrate"
    stream = "stream"
    reconcile = "reconcile"
    telegram = "telegram"
    archive = "archive"
    export = "export"


@dataclass
class JobResult:
    rows: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


R = TypeVar("R", bound=JobResult)


@dataclass
class Context(Generic[R]):
    settings: Settings
    conn: psycopg.Connection
    metrics: JobMetrics


def run_job(settings: Settings, job: str, body: Callable[[Context[Any]], R], *, lock: bool | str = True,
            bootstrap: bool = False, group: dict[str, str] | None = None) -> R:
    """Run ``body`` once under the job contract and return its result (or raise an MpxError).

    ``lock``: ``True`` takes the job's own advisory lock, a job name takes that job's lock (``mpx
    seed`` takes ingest's), ``False`` none — for commands that may run side by side and serialise
    on row locks instead (``mpx intents confirm``: parallel confirms must each get a verdict, not
    exit 75). ``bootstrap``: the body may create ``job_run`` itself (``mpx db migrate`` on an empty
    database); the run is then recorded when it ends. ``group``: extra metric grouping labels
    (``{"venue": …}`` for ingest, whose venues run side by side)."""
    metrics = JobMetrics(job, group)
    started = time.monotonic()
    exit_code: int = ExitCode.FAILED
    result: R | None = None
    conn: psycopg.Connection | None = None
    run = _Run(job)
    try:
        conn = connect(settings)
        run.stage = "taking the lock"
        lock_name = job if lock is True else (lock or None)
        with advisory_lock(conn, lock_name) if lock_name else nullcontext():
            run.start(conn, bootstrap)
            try:
                run.stage = "mid-pass"
                result = body(Context(settings, conn, metrics))
                run.stage = "recording the run"
                run.finish(conn, result)
            except BaseException as exc:
                run.fail(conn, exc)
                raise
        exit_code = ExitCode.OK
        log.info("pass finished", extra={"job": job, "run": run.id, "rows": result.rows,
                                         "seconds": round(time.monotonic() - started, 3), **result.details})
        for w in result.warnings:
            log.warning(w, extra={"job": job})
        return result
    except psycopg.OperationalError as exc:
        err = run.unavailable(exc)
        exit_code = err.exit_code
        raise err from exc
    except BusyError as exc:
        exit_code = exc.exit_code
        if conn is not None:
            _record_skip(conn, job, exc.message)
        raise
    except MpxError as exc:
        exit_code = exc.exit_code
        raise
    finally:
        metrics.finish(exit_code, result.rows if result is not None and exit_code == ExitCode.OK else None)
        metrics.push(settings.pushgateway_url)
        metrics.write_textfile(settings.mpx_metrics_textfile)
        if conn is not None and not conn.closed:
            conn.close()


@dataclass
class _Run:
    """One run's ``job_run`` row and how far the run got (for the one-line message of exit 75)."""

    job: str
    id: int | None = None
    stage: str = "connecting"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def start(self, conn: psycopg.Connection, bootstrap: bool) -> None:
        """The ``running`` row (and its run lock); older runs of the job whose process is gone are
        marked ``killed``. With ``bootstrap`` and no ``job_run`` yet, the run is recorded at the end."""
        self.stage = "starting the run"
        if bootstrap and not runs.job_run_exists(conn):
            conn.rollback()
            log.info("pass started", extra={"job": self.job})
            return
        self.id = runs.start_run(conn, self.job)
        killed = runs.mark_killed(conn, self.job, self.id)
        conn.commit()
        log.info("pass started", extra={"job": self.job, "run": self.id})
        if killed:
            log.warning(f"{len(killed)} earlier run(s) of {self.job} never finished (process gone): marked killed",
                        extra={"job": self.job, "run": self.id, "killed": killed})

    def finish(self, conn: psycopg.Connection, result: JobResult) -> None:
        if self.id is not None:
            runs.finish_run(conn, self.id, "ok", result.rows, None, result.details)
        elif runs.job_run_exists(conn):
            self.id = runs.record_finished(conn, self.job, self.started_at, "ok", result.rows, None, result.details)
        conn.commit()

    def fail(self, conn: psycopg.Connection, exc: BaseException) -> None:
        if self.id is None:
            return
        try:
            conn.rollback()
            runs.finish_run(conn, self.id, "failed", None, _describe(exc))
            conn.commit()
        except psycopg.Error:
            log.warning("could not record the failed run (database unavailable); the job's next run marks it "
                        "killed", extra={"job": self.job, "run": self.id})

    def unavailable(self, exc: psycopg.OperationalError) -> UnavailableError:
        why = _describe(exc)
        what = {
            "connecting": f"database unavailable ({why})",
            "taking the lock": f"database connection lost while taking the lock ({why}); the pass did not run",
            "starting the run": f"database connection lost while recording the run's start ({why}); "
                                "the pass did not run",
            "mid-pass": f"database connection lost mid-pass ({why}); its open transaction was rolled back",
            "recording the run": f"database connection lost while recording the run's end ({why})",
        }[self.stage]
        return UnavailableError(f"{self.job}: {what}", hint="the next pass starts over; check the database server")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _record_skip(conn: psycopg.Connection, job: str, reason: str) -> None:
    try:
        conn.rollback()
        runs.record_skipped(conn, job, reason)
        conn.commit()
    except psycopg.Error:
        pass  # the database is gone: the skip is still logged and exits 75
