"""A throwaway PostgreSQL for the benchmarks: a cluster from this machine's binaries in a
temporary directory, with the project's migrations applied; stopped and removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from mpx.adapters.db import migrate
from mpx.adapters.db.cluster import LocalCluster

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def scratch_database(timescaledb: bool | None = None) -> Iterator[str]:
    """Yield the conninfo of a fresh, migrated database ``bench`` (``timescaledb``: preload it — None:
    whenever it is installed, as ``mpx db up`` does)."""
    base = Path(tempfile.mkdtemp(prefix="mpx-bench-pg-"))
    base.chmod(0o755)
    cluster = LocalCluster(base / "data", timescaledb=timescaledb)
    cluster.start()
    try:
        cluster.ensure_database("bench")
        url = cluster.conninfo("bench")
        with psycopg.connect(url, autocommit=True) as conn:
            migrate.migrate(conn, migrate.discover(ROOT / "sql"))
        yield url
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
