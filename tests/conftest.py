"""Test harness: a real PostgreSQL cluster started by the test run itself (from the machine's
binaries, as the `postgres` OS user when run as root), one migrated template database, and a fresh
database cloned from it for every test that asks for one. Every test is isolated from the
operator's environment (MPX_*/POSTGRES_*/TELEGRAM_*/EXEC_* variables, .env in the working dir)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mpx.adapters.db import migrate
from mpx.adapters.db.cluster import LocalCluster

REPO = Path(__file__).resolve().parents[1]
ENV_PREFIXES = ("MPX_", "POSTGRES_", "TELEGRAM_", "EXEC_", "PUSHGATEWAY_", "DATA_SOURCE")
TEMPLATE = "mpx_template"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MPX_RULES_DIR", str(REPO / "rules"))
    monkeypatch.setenv("MPX_SQL_DIR", str(REPO / "sql"))
    monkeypatch.setenv("MPX_SYNONYMS_FILE", str(REPO / "synonyms.yml"))
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="mpx-test-pg-"))
    os.chmod(base, 0o755)
    cluster = LocalCluster(base / "data", server_options={
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
    })
    cluster.start()
    cluster.ensure_database(TEMPLATE)
    with psycopg.connect(cluster.conninfo(TEMPLATE), autocommit=True) as conn:
        migrate.migrate(conn, migrate.discover(REPO / "sql"))
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


@dataclass
class TestDb:
    __test__ = False

    cluster: LocalCluster
    name: str

    @property
    def url(self) -> str:
        return self.cluster.conninfo(self.name)

    def connect(self, **kw: object) -> psycopg.Connection:
        return psycopg.connect(self.url, **kw)  # type: ignore[arg-type]

    def scalar(self, sql: str, params: tuple[object, ...] = ()) -> object:
        with self.connect() as conn:
            row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
            return row[0] if row else None


@pytest.fixture
def db(pg_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDb]:
    """A fresh, migrated database; MPX_DATABASE_URL points at it."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    monkeypatch.setenv("MPX_DATABASE_URL", pg_cluster.conninfo(name))
    yield TestDb(pg_cluster, name)
    with psycopg.connect(pg_cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pushgateway() -> Iterator[Any]:
    from stubs.pushgateway import Pushgateway

    gw = Pushgateway()
    yield gw
    gw.stop()


@pytest.fixture
def gateway(_pushgateway: Any) -> Any:
    """The session's real Pushgateway, wiped: ``.url`` to push to, ``.samples(job)`` to read back."""
    _pushgateway.wipe()
    return _pushgateway
