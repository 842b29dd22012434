"""``mpx archive``: move whole UTC days of ticks older than ``MPX_ARCHIVE_AFTER`` out of PostgreSQL
into Parquet files under ``MPX_ARCHIVE_DIR`` (:mod:`mpx.adapters.archive`), one day at a time:

1. stream the day out of PostgreSQL (one snapshot, window by window, in (ts, token_id) order) into a
   temporary file next to the final one, counting the rows and summing their checksum as they come;
   fsync it;
2. read the file back and check its count and checksum equal PostgreSQL's;
3. rename it to ``day=YYYY-MM-DD/part-0.parquet``; fsync the directory;
4. in one transaction, delete the day's rows from ``tick`` — except each token's latest tick, its
   current book, which stays until a newer one exists — checking the delete removed exactly the
   rows the file holds, and insert the day's ``tick_archive_day`` row.

A crash anywhere loses and duplicates nothing: until step 4 commits, the day is PostgreSQL's (readers
follow the manifest); a temporary file left behind is removed by the next run; a final file without
a manifest row is verified again against the rows still in PostgreSQL — equal: step 4; different:
written again. Nothing left to do is a no-op.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from mpx.adapters import archive as files
from mpx.adapters.db import archive as db
from mpx.errors import ConfigError
from mpx.jobs.contract import Context, JobResult
from mpx.log import get_logger

log = get_logger(__name__)

RETENTION_MARGIN = timedelta(days=2)
"""Ticks must outlive MPX_ARCHIVE_AFTER by this much: a day is archivable once its *end* is
MPX_ARCHIVE_AFTER old (its first ticks are a day older), and a daily run may come up to a day later."""


@dataclass
class ArchiveResult(JobResult):
    days: list[dict[str, Any]] = field(default_factory=list)
    swept: int = 0
    note: str = ""


def archive_dir(settings: Any) -> Path:
    """MPX_ARCHIVE_DIR as a local directory (ConfigError, exit 78, when it cannot be one)."""
    raw = str(settings.mpx_archive_dir)
    if "://" in raw:
        raise ConfigError(f"MPX_ARCHIVE_DIR {raw}: mpx archive writes to a local directory",
                          hint="archive locally and copy the day directories to object storage (docs/scale.md)")
    return Path(raw)


def run_archive(ctx: Context[ArchiveResult], *, now: datetime | None = None) -> ArchiveResult:
    conn, settings = ctx.conn, ctx.settings
    after: timedelta = settings.mpx_archive_after
    now = now or datetime.now(UTC)
    limit = (now - after).astimezone(UTC).date()  # days before this one ended at least `after` ago
    hypertable = db.tick_is_hypertable(conn)
    retention = db.tick_retention(conn)
    if retention is not None and retention < after + RETENTION_MARGIN:
        raise ConfigError(
            f"TimescaleDB's retention policy drops tick chunks after {retention}, but MPX_ARCHIVE_AFTER is "
            f"{after}: ticks must be kept at least {after + RETENTION_MARGIN} (a day is archived once its end "
            "is MPX_ARCHIVE_AFTER old, by a daily run), or the policy drops them unarchived",
            hint="lengthen the policy (remove_retention_policy('tick'), then add_retention_policy('tick', "
                 "interval '180 days')) or lower MPX_ARCHIVE_AFTER")
    root = _prepare(archive_dir(settings))
    result = ArchiveResult()
    for stray in files.stray_temp_files(root):
        stray.unlink()
        result.warnings.append(f"removed {stray}: a temporary file an interrupted run left behind")
    manifest = {d.day: d for d in db.archived_days(conn)}
    conn.commit()
    for day in sorted(manifest):
        if not files.day_file(root, day).is_file():
            result.warnings.append(f"archived day {day} has no file at {files.day_file(root, day)}: its ticks are "
                                   "lost unless the file is restored (MPX_ARCHIVE_DIR changed?)")
    for day in _candidates(conn, root, manifest, limit, hypertable):
        report = _archive_day(ctx, root, day, hypertable, result)
        if report:
            result.days.append(report)
    result.swept = db.sweep_superseded(conn, hypertable=hypertable)
    conn.commit()
    result.rows = sum(d["rows"] for d in result.days)
    if not result.days:
        result.note = "nothing to archive" + (f" ({result.swept} superseded tick(s) of archived days deleted)"
                                              if result.swept else "")
    ctx.metrics.gauge("mpx_archive_days", "days this run archived").set(len(result.days))
    ctx.metrics.gauge("mpx_archive_rows", "ticks this run moved to the archive").set(result.rows)
    ctx.metrics.gauge("mpx_archive_bytes", "bytes of Parquet this run wrote").set(
        sum(d["bytes"] for d in result.days))
    result.details = {"days": len(result.days), "before": limit.isoformat(), "swept": result.swept,
                      "dir": str(root)}
    return result


def _prepare(root: Path) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"MPX_ARCHIVE_DIR {root}: cannot create it: {exc.strerror or exc}",
                          hint="point MPX_ARCHIVE_DIR at a directory this user may write") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ConfigError(f"MPX_ARCHIVE_DIR {root}: not writable",
                          hint="point MPX_ARCHIVE_DIR at a directory this user may write")
    return root


def _candidates(conn: Any, root: Path, manifest: dict[date, Any], limit: date, hypertable: bool) -> list[date]:
    """Days before ``limit`` not yet archived that have ticks, or a final file from an interrupted run."""
    days = {d for d in files.days_on_disk(root) if d < limit and d not in manifest}
    oldest = db.oldest_tick(conn, hypertable=hypertable)
    if oldest is not None:
        day = oldest.astimezone(UTC).date()
        while day < limit:
            if day not in manifest and day not in days and db.has_ticks(conn, *db.day_bounds(day)):
                days.add(day)
            day += timedelta(days=1)
    conn.commit()
    return sorted(days)


def _archive_day(ctx: Context[ArchiveResult], root: Path, day: date, hypertable: bool,
                 result: ArchiveResult) -> dict[str, Any] | None:
    conn = ctx.conn
    t0 = time.monotonic()
    lo, hi = db.day_bounds(day)
    final, tmp = files.day_file(root, day), files.temp_file(root, day)
    action = "archived"
    steps: dict[str, float] = {}
    if final.is_file():  # an earlier run renamed it, then stopped before the delete committed
        on_disk = files.checksum_file(final)
        db.begin_snapshot(conn)
        in_db = files.checksum_rows(db.stream_ticks_csv(conn, lo, hi, files.NUMERIC))
        conn.commit()
        if in_db.rows == 0:
            result.warnings.append(f"{final} has no manifest row and PostgreSQL has no ticks of {day}: left as it "
                                   "is and not read (check it, then delete it or restore its ticks)")
            return None
        if on_disk == in_db:
            action, verified = "verified again", in_db
        else:
            action = "written again"
            found = f"{on_disk.rows} rows" if on_disk else "unreadable"
            result.warnings.append(f"{final} has no manifest row and does not match the {in_db.rows} ticks of {day} "
                                   f"in PostgreSQL ({found}): writing it again")
    if action != "verified again":
        t = time.monotonic()
        db.begin_snapshot(conn)
        verified = files.write_day(db.stream_ticks_csv(conn, lo, hi, files.NUMERIC), tmp, day=day)
        conn.commit()
        if verified.rows == 0:
            tmp.unlink()
            return None
        steps["write_s"] = time.monotonic() - t
        t = time.monotonic()
        read_back = files.checksum_file(tmp)
        steps["verify_s"] = time.monotonic() - t
        if read_back != verified:
            tmp.unlink()
            raise files.ArchiveError(f"day {day}: the file written does not read back as written ({read_back} "
                                     f"!= {verified}); nothing deleted")
        os.replace(tmp, final)
        files.fsync_dir(final.parent)
        files.fsync_dir(root)
    t = time.monotonic()
    kept = _commit_day(conn, day, final, verified, hypertable)
    steps["delete_s"] = time.monotonic() - t
    seconds = time.monotonic() - t0
    size = final.stat().st_size
    log.info(f"day {day} {action}", extra={"job": "archive", "day": day.isoformat(), "rows": verified.rows,
                                           "kept": kept, "bytes": size, "seconds": round(seconds, 3),
                                           **{k: round(v, 3) for k, v in steps.items()}})
    return {"day": day, "action": action, "rows": verified.rows, "kept_in_db": kept, "bytes": size,
            "seconds": round(seconds, 2), "rows_per_s": round(verified.rows / seconds) if seconds else None,
            **{k: round(v, 2) for k, v in steps.items()}}


def _commit_day(conn: Any, day: date, final: Path, verified: files.Verified, hypertable: bool) -> int:
    """Delete the day's archived rows and record the day, in one transaction; returns how many rows
    stay in PostgreSQL as their token's latest tick."""
    lo, hi = db.day_bounds(day)
    conn.commit()
    latest = files.latest_ts_per_token(final)
    later = db.tokens_with_later_ticks(conn, [t for t, _ in latest], hi)
    keep = [(t, ts) for t, ts in latest if t not in later]
    deleted = db.delete_day(conn, lo, hi, keep, hypertable=hypertable)
    if deleted != verified.rows - len(keep):
        conn.rollback()
        raise files.ArchiveError(
            f"day {day}: PostgreSQL's ticks changed since the file was written (the delete would remove {deleted}, "
            f"the file holds {verified.rows} of which {len(keep)} stay): nothing deleted; the next run checks the "
            "day again")
    db.record_day(conn, day, files.relative_path(day), verified.rows, verified.text, final.stat().st_size)
    conn.commit()
    return len(keep)
