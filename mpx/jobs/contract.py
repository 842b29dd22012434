"""The job contract every scheduled command follows.

- one pass, then exit; idempotent;
- no overlap: a PostgreSQL advisory lock per job, a held lock → :class:`BusyError` (exit 75);
- every run recorded in ``job_run`` (running → ok | failed | skipped, rows, error);
- metrics pushed when ``PUSHGATEWAY_URL`` is set; a Pushgateway that is down costs a warning;
- a database that goes away mid-pass → :class:`UnavailableError` (exit 75): the pass's
  transaction is rolled back, so nothing is half-written, and the next pass starts over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg

from mpx.adapters.db import state
from mpx.adapters.db.connection import advisory_lock, connect
from mpx.adapters.metrics import JobMetrics
from mpx.errors import BusyError, MpxError, UnavailableError
from mpx.exit import ExitCode
from mpx.log import get_logger
from mpx.settings import Settings

log = get_logger(__name__)


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


def run_job(settings: Settings, job: str, body: Callable[[Context[Any]], R], *, lock: bool = True) -> R:
    """Run ``body`` once under the job contract and return its result (or raise an MpxError).

    ``lock=False`` is for commands that may run side by side and serialise on row locks instead
    (``mpx intents``: parallel confirms must each get a verdict, not exit 75)."""
    metrics = JobMetrics(job)
    started = time.monotonic()
    exit_code: int = ExitCode.FAILED
    result: R | None = None
    conn = connect(settings)
    try:
        with advisory_lock(conn, job) if lock else nullcontext():
            run_id = state.start_run(conn, job)
            conn.commit()
            log.info("pass started", extra={"job": job, "run": run_id})
            try:
                result = body(Context(settings, conn, metrics))
            except BaseException as exc:
                error = _describe(exc)
                _record_failure(conn, run_id, error)
                if isinstance(exc, psycopg.OperationalError):
                    raise UnavailableError(
                        f"{job}: database connection lost mid-pass ({error}); nothing of this pass was committed",
                        hint="the next pass starts over; check the database server",
                    ) from exc
                raise
            state.finish_run(conn, run_id, "ok", result.rows, None, result.details)
            conn.commit()
            exit_code = ExitCode.OK
            log.info("pass finished", extra={"job": job, "run": run_id, "rows": result.rows,
                                             "seconds": round(time.monotonic() - started, 3), **result.details})
            for w in result.warnings:
                log.warning(w, extra={"job": job})
            return result
    except BusyError as exc:
        exit_code = exc.exit_code
        _record_skip(conn, job, exc.message)
        raise
    except MpxError as exc:
        exit_code = exc.exit_code
        raise
    finally:
        metrics.finish(exit_code, result.rows if result else None)
        metrics.push(settings.pushgateway_url)
        metrics.write_textfile(settings.mpx_metrics_textfile)
        if not conn.closed:
            conn.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _record_failure(conn: psycopg.Connection, run_id: int, error: str) -> None:
    try:
        conn.rollback()
        state.finish_run(conn, run_id, "failed", None, error)
        conn.commit()
    except psycopg.Error:
        log.warning("could not record the failed run (database unavailable)", extra={"run": run_id})


def _record_skip(conn: psycopg.Connection, job: str, reason: str) -> None:
    try:
        conn.rollback()
        state.record_skipped(conn, job, reason)
        conn.commit()
    except psycopg.Error:
        pass  # the database is gone: the skip is still logged and exits 75
