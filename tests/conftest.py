"""Test harness: a real PostgreSQL cluster started by the test run itself (from the machine's
binaries, as the `postgres` OS user when run as root), one migrated template database, and a fresh
database cloned from it for every test that asks for one. Every test is isolated from the
operator's environment (MPX_*/POSTGRES_*/TELEGRAM_*/EXEC_* variables, .env in the working dir).

A test whose data takes commands to build (seed, ingest → evaluate cycles…) gets it with
``db.load(key, build)``: ``build()`` runs once per session into a database of its own, and every test
that asks for ``key`` gets a copy of that database (CREATE DATABASE … TEMPLATE), ids and all."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
_built: dict[str, tuple[str, datetime]] = {}  # key → (template database, built at)


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

    def load(self, key: str, build: Callable[[], None], *, max_age: timedelta | None = None) -> None:
        """Make this database a copy of what ``build()`` (``mpx`` commands, in this process) writes into
        a fresh migrated database: built once per session under ``key`` and kept as a template; built
        again on a new UTC day (KPIs count days) or once older than ``max_age`` (for data that must be
        recent, e.g. books a confirm requires fresh)."""
        now = datetime.now(UTC)
        template, built_at = _built.get(key, ("", now))
        if not template or built_at.date() != now.date() or (max_age is not None and now - built_at > max_age):
            template = f"tpl_{os.getpid()}_{next(_counter)}"
            _create(self.cluster, template, TEMPLATE)
            url = os.environ.get("MPX_DATABASE_URL")
            os.environ["MPX_DATABASE_URL"] = self.cluster.conninfo(template)
            try:
                build()
            finally:
                os.environ["MPX_DATABASE_URL"] = url or self.url
            if key in _built:
                _drop(self.cluster, _built.pop(key)[0])
            _built[key] = (template, now)
        _drop(self.cluster, self.name)
        _create(self.cluster, self.name, template)


def _create(cluster: LocalCluster, name: str, template: str) -> None:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _drop(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(pg_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDb]:
    """A fresh, migrated database; MPX_DATABASE_URL points at it."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    _create(pg_cluster, name, TEMPLATE)
    monkeypatch.setenv("MPX_DATABASE_URL", pg_cluster.conninfo(name))
    yield TestDb(pg_cluster, name)
    _drop(pg_cluster, name)


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
