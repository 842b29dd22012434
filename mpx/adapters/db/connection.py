"""Connections and advisory locks.

Which server: ``MPX_DATABASE_URL`` if set; else ``POSTGRES_HOST`` (+ port, db, user, password);
else the embedded local cluster under ``MPX_PG_DIR``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import make_conninfo

from mpx.adapters.db.cluster import LocalCluster
from mpx.errors import BusyError, UnavailableError
from mpx.settings import Settings


@dataclass(frozen=True)
class DbTarget:
    conninfo: str
    description: str
    """Where, for messages: never includes the password."""
    local: LocalCluster | None = None


def resolve_target(settings: Settings) -> DbTarget:
    if settings.mpx_database_url is not None:
        from mpx.settings import redact_conninfo

        url = settings.mpx_database_url.get_secret_value()
        return DbTarget(url, f"MPX_DATABASE_URL ({redact_conninfo(url)})")
    if settings.postgres_host:
        params: dict[str, str | int] = {
            "host": settings.postgres_host, "port": settings.postgres_port,
            "dbname": settings.postgres_db, "user": settings.postgres_user,
        }
        if settings.postgres_password is not None:
            params["password"] = settings.postgres_password.get_secret_value()
        where = f"{settings.postgres_user}@{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
        return DbTarget(make_conninfo(**params), where)  # type: ignore[arg-type]
    cluster = LocalCluster(settings.mpx_pg_dir)
    return DbTarget(cluster.conninfo(settings.postgres_db), f"local cluster {cluster.data_dir}", cluster)


def connect(settings: Settings, *, autocommit: bool = False, target: DbTarget | None = None) -> psycopg.Connection:
    target = target or resolve_target(settings)
    try:
        return psycopg.connect(
            target.conninfo, autocommit=autocommit, connect_timeout=settings.mpx_db_connect_timeout,
            application_name="mpx",
        )
    except psycopg.OperationalError as exc:
        hint = ("start it with `mpx db up` (then `mpx db migrate`)" if target.local
                else "check that the server is up and the POSTGRES_*/MPX_DATABASE_URL settings")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnavailableError(f"database unavailable at {target.description}: {first}", hint=hint) from None


def lock_key(name: str) -> int:
    """A stable advisory lock key for ``name``: the crc32 of the namespaced name, a 32-bit value
    (0 ≤ key < 2**32) in PostgreSQL's 64-bit key space. Run locks live above it
    (:data:`mpx.adapters.db.runs.RUN_LOCK_BASE`)."""
    return zlib.crc32(f"mpx:{name}".encode())


@contextmanager
def advisory_lock(conn: psycopg.Connection, name: str) -> Iterator[None]:
    """Hold the session-level advisory lock ``name`` or raise BusyError (exit 75) at once."""
    key = lock_key(name)
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.autocommit:
        conn.commit()
    if not row or not row[0]:
        raise BusyError(f"{name}: another run holds the lock; skipping this pass")
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            try:
                conn.rollback()
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                conn.commit()
            except psycopg.Error:
                pass  # the session is gone: so is its lock
