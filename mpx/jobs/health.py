"""``mpx health`` and ``mpx metrics``: the state of the pipeline as seen from PostgreSQL.

Health is ``healthy`` when the database answers, the last successful ``evaluate`` finished within
``MPX_HEARTBEAT_MAX_AGE`` (30 s), the last ingest pass is within ``MPX_INGEST_MAX_AGE`` (2 min)
and — once ``mpx stream`` has stored a pass — the last stream pass is within ``MPX_STREAM_MAX_AGE``;
otherwise ``degraded`` with the reasons. Ages are in seconds. ``runs`` lists the runs in progress and
those killed within 24 h (their process died mid-run: marked ``killed`` by the job's next run, or
not yet) — information, not a reason to be degraded: the job's next pass starts over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from mpx.adapters.db import alerts as db_alerts
from mpx.adapters.db import intents as intents_db
from mpx.adapters.db import opportunities as db_opps
from mpx.adapters.db import runs as db_runs
from mpx.adapters.db import signals as db_signals
from mpx.adapters.db import state as db_state
from mpx.adapters.db import ticks
from mpx.adapters.db.connection import connect
from mpx.adapters.sources import SOURCES
from mpx.errors import MpxError
from mpx.jobs import alerts
from mpx.jobs.contract import Job
from mpx.settings import Settings

EVALUATE_WATERMARK = "evaluate:watermark"  # mpx.jobs.evaluate.WATERMARK_KEY (not imported: it loads the rules)

KILLED_WINDOW = timedelta(hours=24)
clock: Callable[[], datetime] = partial(datetime.now, UTC)
"""The time ages are measured against (a test moves it on rather than sleeping)."""


def _age(ts: datetime | None, now: datetime) -> float | None:
    return None if ts is None else round((now - ts).total_seconds(), 3)


def check(settings: Settings) -> dict[str, Any]:
    now = clock()
    report: dict[str, Any] = {"status": "healthy", "checked_at": now.isoformat(), "reasons": []}
    try:
        with connect(settings) as conn:
            report["db"] = {"ok": True}
            last_eval = db_runs.last_success(conn, Job.evaluate)
            # `mpx stream --evaluate` runs the rules on every flush: its steps move evaluate's watermark
            live_eval = db_state.updated_at(conn, EVALUATE_WATERMARK)
            if live_eval is not None and (last_eval is None or live_eval > last_eval):
                last_eval = live_eval
            last_ingest = ticks.last_pass(conn)
            venue_passes = ticks.last_passes(conn)
            last_stream = ticks.last_pass_of(conn, "stream")
            outbox = db_alerts.status_counts(conn)
            running, killed = db_runs.running_and_killed(conn, now - KILLED_WINDOW)
    except (MpxError, psycopg.Error) as exc:
        message = exc.message if isinstance(exc, MpxError) else str(exc).splitlines()[0]
        report.update(status="degraded", db={"ok": False, "error": message}, rules_heartbeat=None, ingest=None)
        report["reasons"].append("database unavailable")
        return report
    hb_age, ingest_age = _age(last_eval, now), _age(last_ingest, now)
    hb_max, in_max = settings.mpx_heartbeat_max_age.total_seconds(), settings.mpx_ingest_max_age.total_seconds()
    report["rules_heartbeat"] = {"last_success": last_eval.isoformat() if last_eval else None, "age_s": hb_age,
                                 "max_age_s": hb_max, "ok": hb_age is not None and hb_age <= hb_max}
    # every venue DATA_SOURCE names must keep passing: one venue down degrades health even while
    # the other's passes keep the newest pass fresh
    venues: dict[str, Any] = {}
    for venue in dict.fromkeys(SOURCES[n].venue for n in settings.source_names):
        seen = venue_passes.get(venue, (None, frozenset()))[0]
        age = _age(seen, now)
        venues[venue] = {"last_pass": seen.isoformat() if seen else None, "age_s": age,
                         "ok": age is not None and age <= in_max}
    report["ingest"] = {"last_pass": last_ingest.isoformat() if last_ingest else None, "age_s": ingest_age,
                        "max_age_s": in_max, "ok": all(v["ok"] for v in venues.values()), "venues": venues}
    # the stream is optional: never having run is not a fault; once it has, its passes must keep coming
    st_age, st_max = _age(last_stream, now), settings.mpx_stream_max_age.total_seconds()
    report["stream"] = {"last_pass": last_stream.isoformat() if last_stream else None, "age_s": st_age,
                        "max_age_s": st_max, "ok": None if st_age is None else st_age <= st_max}
    report["alerts"] = {"pending": outbox.get("pending", 0), "failed": outbox.get("failed", 0)}
    report["runs"] = {
        "running": [{"job": r["job"], "run": r["id"], "age_s": _age(r["started_at"], now)} for r in running],
        "killed_24h": [{"job": r["job"], "run": r["id"], "started_at": r["started_at"].isoformat(),
                        "marked": r["status"] == "killed"} for r in killed],
    }
    if not report["rules_heartbeat"]["ok"]:
        report["reasons"].append("rules silent: no successful evaluate within "
                                 f"{hb_max:g} s" + ("" if hb_age is None else f" (last {hb_age:g} s ago)"))
    for venue, v in venues.items():
        if not v["ok"]:
            who = f"{venue} " if len(venues) > 1 or venue != "polymarket" else ""
            report["reasons"].append(f"ticks stale: no {who}ingest pass within {in_max:g} s"
                                     + ("" if v["age_s"] is None else f" (last {v['age_s']:g} s ago)"))
    if report["stream"]["ok"] is False:
        report["reasons"].append(f"stream stale: no stream pass within {st_max:g} s (last {st_age:g} s ago)")
    if report["reasons"]:
        report["status"] = "degraded"
    return report


def collect(conn: psycopg.Connection) -> CollectorRegistry:
    """The totals and freshness metrics, from the database (what `mpx metrics` prints)."""
    reg = CollectorRegistry()
    g = Gauge("mpx_signals_total", "Signals stored, by rule", ("rule",), registry=reg)
    for rule, n in db_signals.counts_by_rule(conn).items():
        g.labels(rule).set(n)
    Gauge("mpx_ingest_ticks_total", "Ticks written since the database was created", registry=reg).set(
        ticks.written_total(conn))
    last = ticks.last_pass(conn)
    if last is not None:
        Gauge("mpx_ingest_last_tick_timestamp", "Time of the last stored pass", registry=reg).set(last.timestamp())
    by_venue = Gauge("mpx_ingest_venue_last_pass_timestamp", "Time of each venue's last stored pass", ("venue",),
                     registry=reg)
    for venue, (seen, _) in ticks.last_passes(conn).items():
        by_venue.labels(venue).set(seen.timestamp())
    last_stream = ticks.last_pass_of(conn, "stream")
    if last_stream is not None:
        Gauge("mpx_stream_last_pass_timestamp", "Time of the last stream pass", registry=reg).set(
            last_stream.timestamp())
    Gauge("mpx_telegram_failures_total", "Telegram sends that failed", registry=reg).set(alerts.failures_total(conn))
    oi = Gauge("mpx_order_intents_total", "Order intents that entered each status (audit trail)", ("status",),
               registry=reg)
    for status, n in intents_db.status_totals(conn).items():
        oi.labels(status).set(n)
    o = Gauge("mpx_alert_outbox", "Alerts in the outbox, by status", ("status",), registry=reg)
    for status, n in db_alerts.status_counts(conn).items():
        o.labels(status).set(n)
    op = Gauge("mpx_opportunities_open", "Open opportunities, by rule", ("rule",), registry=reg)
    for rule, n in db_opps.open_by_rule(conn).items():
        op.labels(rule).set(n)
    success = Gauge("mpx_job_last_success_timestamp_seconds", "End of the last successful run", ("job",),
                    registry=reg)
    for job, ts in db_runs.last_success_by_job(conn).items():
        success.labels(f"mpx_{job}").set(ts)
    return reg


def metrics_text(settings: Settings) -> str:
    with connect(settings) as conn:
        return generate_latest(collect(conn)).decode()
