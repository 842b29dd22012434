"""Schema migrations: ``sql/NNN_name.sql`` applied in order, each in its own transaction, recorded
with a checksum in ``schema_migrations``. An applied file that has changed stops everything.

A file whose first lines say ``-- requires: timescaledb`` is applied only where the extension is
active; on plain PostgreSQL it stays pending (``mpx db status`` says so) and applies later if the
extension is installed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import psycopg

from mpx.adapters.db.connection import lock_key
from mpx.errors import ConfigError, MpxError
from mpx.log import get_logger
from mpx.settings import SQL_DIR

log = get_logger(__name__)

_NAME = re.compile(r"^(\d{3})_[\w-]+\.sql$")
_REQUIRES = re.compile(r"^--\s*requires:\s*(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class MigrationFile:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str
    requires: frozenset[str]


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    state: str  # applied | pending | waiting (needs an extension) | changed | missing-file
    applied_at: datetime | None = None


def discover(directory: Path | None = None) -> list[MigrationFile]:
    """The migration files of ``directory`` (``MPX_SQL_DIR``; default: this checkout's ``sql/``)."""
    directory = directory or SQL_DIR
    if not directory.is_dir():
        raise ConfigError(f"MPX_SQL_DIR: migrations directory {directory} not found",
                          hint="set MPX_SQL_DIR to the sql/ directory of this version of mpx")
    files = []
    for path in sorted(directory.iterdir()):
        m = _NAME.match(path.name)
        if not m:
            continue
        text = path.read_text(encoding="utf-8")
        head = "\n".join(text.splitlines()[:5])
        files.append(MigrationFile(
            version=int(m.group(1)), name=path.name, path=path, sql=text,
            checksum=hashlib.sha256(text.encode()).hexdigest(),
            requires=frozenset(_REQUIRES.findall(head)),
        ))
    versions = [f.version for f in files]
    if len(versions) != len(set(versions)):
        raise ConfigError(f"two migration files share a version number in {directory}")
    return files


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def extensions(conn: psycopg.Connection) -> dict[str, str | None]:
    """Active extensions → version, plus ``timescaledb`` → None when installable but not active."""
    active: dict[str, str | None] = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    return active


def server_info(conn: psycopg.Connection) -> tuple[str, str | None]:
    """The server's version, and its data directory (``None`` when this user may not see it)."""
    version = conn.execute("SHOW server_version").fetchone()
    data_dir = conn.execute("SELECT current_setting('data_directory', true)").fetchone()
    return (version[0] if version else "?"), (data_dir[0] if data_dir else None)


def timescaledb_active(conn: psycopg.Connection) -> bool:
    return "timescaledb" in extensions(conn)


TimescaleState = Literal["active", "preloaded", "not preloaded", "not installed"]
ENABLE_HINT = ("add shared_preload_libraries = 'timescaledb' to the server's postgresql.conf and restart it "
               "(`mpx db up` does it for the local cluster), then `mpx db migrate`")


def timescaledb_state(conn: psycopg.Connection) -> TimescaleState:
    """Where TimescaleDB stands on this server: the extension created in this database (``active``),
    its library loaded at server start but the extension not created yet (``preloaded``), installed
    but not loaded (``not preloaded``: CREATE EXTENSION would fail), or absent."""
    if timescaledb_active(conn):
        return "active"
    if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone():
        return "not installed"
    row = conn.execute("SELECT current_setting('shared_preload_libraries', true)").fetchone()
    loaded = [lib.strip().strip('"') for lib in (row[0] if row and row[0] else "").split(",")]
    return "preloaded" if "timescaledb" in loaded else "not preloaded"


def try_enable_timescaledb(conn: psycopg.Connection) -> bool:
    """Create the extension when the server has it and preloads it. Never required: otherwise one
    warning says how to enable it, and mpx goes on with plain PostgreSQL on ``conn`` untouched — the
    extension is created on a connection of its own, so that a failure (it can end the session)
    never spoils the caller's."""
    state = timescaledb_state(conn)
    if state == "active":
        return True
    if state == "not installed":
        return False
    if state == "not preloaded":
        log.warning(f"timescaledb is installed but not preloaded; using plain PostgreSQL. To enable it: {ENABLE_HINT}")
        return False
    try:
        with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as own:
            own.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return True
    except psycopg.Error as exc:
        log.warning("timescaledb is preloaded but could not be created; using plain PostgreSQL",
                    extra={"error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})
        return False


def status(conn: psycopg.Connection, files: list[MigrationFile] | None = None) -> list[MigrationStatus]:
    files = discover() if files is None else files
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied: dict[int, tuple[str, str, datetime]] = {}
    if exists and exists[0]:
        for version, name, checksum, at in conn.execute(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
        ):
            applied[version] = (name, checksum, at)
    active = set(extensions(conn))
    out: list[MigrationStatus] = []
    for f in files:
        if f.version in applied:
            _, checksum, at = applied.pop(f.version)
            out.append(MigrationStatus(f.version, f.name, "applied" if checksum == f.checksum else "changed", at))
        elif f.requires - active:
            out.append(MigrationStatus(f.version, f.name, "waiting for " + ", ".join(sorted(f.requires - active))))
        else:
            out.append(MigrationStatus(f.version, f.name, "pending"))
    for version, (name, _, at) in sorted(applied.items()):
        out.append(MigrationStatus(version, name, "missing-file", at))
    return sorted(out, key=lambda s: s.version)


def migrate(conn: psycopg.Connection, files: list[MigrationFile] | None = None) -> list[str]:
    """Apply every pending migration whose requirements are met; return the names applied."""
    files = discover() if files is None else files
    conn.autocommit = True
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key("migrate"),)).fetchone()[0]:  # type: ignore[index]
        from mpx.errors import BusyError

        raise BusyError("migrate: another migration is running")
    try:
        _ensure_table(conn)
        try_enable_timescaledb(conn)
        current = status(conn, files)
        changed = [s.name for s in current if s.state == "changed"]
        if changed:
            raise ConfigError(
                "applied migration file(s) changed since they were applied: " + ", ".join(changed),
                hint="never edit an applied migration: restore it and add a new sql/NNN_*.sql",
            )
        by_version = {f.version: f for f in files}
        done: list[str] = []
        for s in current:
            if s.state != "pending":
                continue
            f = by_version[s.version]
            try:
                with conn.transaction():
                    conn.execute(f.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (f.version, f.name, f.checksum),
                    )
            except psycopg.OperationalError:
                raise  # the server went away (or cancelled the statement): retry later, exit 75
            except psycopg.Error as exc:
                raise MpxError(f"migration {f.name} failed and was rolled back: {str(exc).strip()}") from exc
            log.info("migration applied", extra={"migration": f.name})
            done.append(f.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key("migrate"),))
