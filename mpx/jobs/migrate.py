"""``mpx db migrate``: apply the pending ``sql/NNN_*.sql`` of ``MPX_SQL_DIR``, each in its own
transaction (:mod:`mpx.adapters.db.migrate`), under the job contract: the ``migrate`` lock, a
``job_run`` row (recorded at the end when the database had no schema yet), metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from mpx.adapters.db import migrate as migrations
from mpx.jobs.contract import Context, JobResult
from mpx.settings import Settings


@dataclass
class MigrateResult(JobResult):
    applied: list[str] = field(default_factory=list)
    waiting: list[migrations.MigrationStatus] = field(default_factory=list)


def load_migrations(settings: Settings) -> list[migrations.MigrationFile]:
    """The files of ``MPX_SQL_DIR`` (ConfigError, exit 78, before anything touches the database)."""
    return migrations.discover(settings.mpx_sql_dir)


def run_migrate(ctx: Context[MigrateResult], files: list[migrations.MigrationFile]) -> MigrateResult:
    ctx.conn.commit()
    done = migrations.migrate(ctx.conn, files)  # autocommit: each file commits in its own transaction
    waiting = [r for r in migrations.status(ctx.conn, files) if r.state.startswith("waiting")]
    return MigrateResult(rows=len(done), applied=done, waiting=waiting,
                         details={"applied": done, "waiting": [r.name for r in waiting]})
