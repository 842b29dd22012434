"""Test harness: a real PostgreSQL cluster started by the test run itself (from the machine's
binaries, as the `postgres` OS user when run as root), one migrated template database, and a fresh
database cloned from it for every test that asks for one. Every test is isolated from the
operator's environment (MPX_*/POSTGRES_*/TELEGRAM_*/EXEC_* variables, .env in the working dir).

A test whose data takes commands to build (seed, ingest → evaluate cycles…) gets it with
``db.load(key, build)``: ``build()`` runs once per session into a database of its own, and every test
that asks for ``key`` gets a copy of that database (CREATE DATABASE … TEMPLATE), ids and all.

**The TimescaleDB lane.** Where TimescaleDB is installed into the machine's PostgreSQL — or
``../shared/timescaledb/install.sh`` exists and this run may install it (root) — a second cluster
preloads it, and every test of the modules in ``STORAGE`` that uses ``db`` runs twice: on plain
PostgreSQL (``[postgres]``) and on TimescaleDB (``[timescaledb]``, where ``sql/002`` makes ``tick`` a
hypertable). The plain cluster never preloads it (so the "installed but not preloaded" fallback runs
there). The run ends with one line saying how many tests ran on TimescaleDB, or why the lane was
skipped. The product never needs ``../shared``: only the tests use it."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mpx.adapters.db import migrate
from mpx.adapters.db.cluster import LocalCluster, timescaledb_installed

REPO = Path(__file__).resolve().parents[1]
ENV_PREFIXES = ("MPX_", "POSTGRES_", "TELEGRAM_", "EXEC_", "PUSHGATEWAY_", "DATA_SOURCE")
TEMPLATE = "mpx_template"
_counter = itertools.count()
_built: dict[str, tuple[str, datetime]] = {}  # cluster + key → (template database, built at)

TS_INSTALL = REPO.parent / "shared" / "timescaledb" / "install.sh"
STORAGE = frozenset({
    "tests/adapters/db/test_migrate.py", "tests/adapters/test_metrics.py",
    "tests/jobs/test_ingest.py", "tests/jobs/test_evaluate.py", "tests/jobs/test_backtest.py",
    "tests/jobs/test_intents.py", "tests/jobs/test_health_run.py",
})
"""Modules whose tests touch storage (migrations, ingest, evaluate, backtest, kpi, intents, health,
metrics): on both lanes."""
TIMESCALEDB_ONLY = frozenset({"tests/adapters/db/test_timescale.py", "tests/adapters/db/test_timescale_archive.py"})
"""Modules about what TimescaleDB adds: on its lane only (skipped, with the lane's reason, without it)."""


def _timescaledb_lane() -> tuple[bool, str]:
    """(on?, why not): installed, else installed now when the run may, else skipped."""
    if timescaledb_installed():
        return True, ""
    if not TS_INSTALL.exists():
        return False, f"TimescaleDB is not installed and {TS_INSTALL} does not exist"
    if os.geteuid() != 0:
        return False, f"TimescaleDB is not installed and this run may not install it (not root): {TS_INSTALL}"
    import subprocess

    proc = subprocess.run(["bash", str(TS_INSTALL)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not timescaledb_installed():
        return False, f"{TS_INSTALL} failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return True, ""


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller installed it (or said why not)
        config.stash[_LANE] = (timescaledb_installed(), os.environ.get("MPX_TEST_TS_SKIPPED", ""))
        return
    on, why = _timescaledb_lane()
    if not on:
        os.environ["MPX_TEST_TS_SKIPPED"] = why  # the workers inherit it
    config.stash[_LANE] = (on, why)
    config.stash[_TS_RAN] = [0, 0]


_LANE = pytest.StashKey[tuple[bool, str]]()
_TS_RAN = pytest.StashKey[list[int]]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db" not in metafunc.fixturenames:
        return
    module = str(Path(metafunc.definition.fspath).relative_to(REPO))
    on, why = metafunc.config.stash[_LANE]
    lanes: list[Any]
    if module in TIMESCALEDB_ONLY:
        lanes = ["timescaledb"] if on else [pytest.param("timescaledb", marks=pytest.mark.skip(
            reason=f"TimescaleDB lane skipped: {why}"))]
    else:
        lanes = ["postgres", "timescaledb"] if module in STORAGE and on else ["postgres"]
    metafunc.parametrize("backend", lanes, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``postgres`` or ``timescaledb``: the cluster ``db`` lives in."""
    return str(getattr(request, "param", "postgres"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    ran = getattr(pytest_runtest_logreport, "counter", None)
    if report.when == "call" and "timescaledb" in report.keywords and ran is not None:
        ran[0 if report.passed else 1] += 1


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest_runtest_logreport.counter = session.config.stash[_TS_RAN]  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    on, why = config.stash[_LANE]
    if on:
        passed, failed = config.stash[_TS_RAN]
        terminalreporter.write_line(f"TimescaleDB lane: {passed + failed} test(s) ran on TimescaleDB "
                                    f"({passed} passed, {failed} failed), the storage tests on plain PostgreSQL too")
    else:
        terminalreporter.write_line(f"TimescaleDB lane skipped: {why}")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MPX_RULES_DIR", str(REPO / "rules"))
    monkeypatch.setenv("MPX_SQL_DIR", str(REPO / "sql"))
    monkeypatch.setenv("MPX_SYNONYMS_FILE", str(REPO / "synonyms.yml"))
    monkeypatch.chdir(tmp_path)  # no stray .env


def _test_cluster(prefix: str, timescaledb: bool) -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o755)
    cluster = LocalCluster(base / "data", server_options={
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
    }, timescaledb=timescaledb)
    cluster.start()
    cluster.ensure_database(TEMPLATE)
    with psycopg.connect(cluster.conninfo(TEMPLATE), autocommit=True) as conn:
        migrate.migrate(conn, migrate.discover(REPO / "sql"))
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        _seal(conn, TEMPLATE)
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """Plain PostgreSQL (TimescaleDB never preloaded, installed or not)."""
    yield from _test_cluster("mpx-test-pg-", False)


@pytest.fixture(scope="session")
def ts_cluster() -> Iterator[LocalCluster]:
    """PostgreSQL with TimescaleDB preloaded; its template has ``tick`` as a hypertable."""
    yield from _test_cluster("mpx-test-ts-", True)


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
        key = f"{self.cluster.data_dir}:{key}"  # one template per cluster (lane)
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
            with psycopg.connect(self.cluster.conninfo("postgres"), autocommit=True) as conn:
                _seal(conn, template)
            if key in _built:
                _drop(self.cluster, _built.pop(key)[0])
            _built[key] = (template, now)
        _drop(self.cluster, self.name)
        _create(self.cluster, self.name, template)


def new_database(cluster: LocalCluster) -> TestDb:
    """Another fresh, migrated database in ``cluster`` (dropped with the cluster)."""
    db = TestDb(cluster, f"t_{os.getpid()}_{next(_counter)}")
    _create(cluster, db.name, TEMPLATE)
    return db


def _create(cluster: LocalCluster, name: str, template: str) -> None:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        for attempt in range(5):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return
            except psycopg.errors.ObjectInUse:
                # TimescaleDB's background workers visit every database with the extension: keep them
                # out of the templates (they no longer accept connections) and end a visit in progress
                if attempt == 4:
                    raise
                _seal(conn, template)
                time.sleep(0.05 * (attempt + 1))  # a terminated backend takes a moment to leave


def _seal(conn: psycopg.Connection, template: str) -> None:
    """Make ``template`` a database nobody connects to any more (what is copied stays as it is)."""
    conn.execute(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false')
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                 "pg_backend_pid()", (template,))


def _drop(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDb]:
    """A fresh, migrated database on the test's lane; MPX_DATABASE_URL points at it."""
    cluster: LocalCluster = request.getfixturevalue("ts_cluster" if backend == "timescaledb" else "pg_cluster")
    name = f"t_{os.getpid()}_{next(_counter)}"
    _create(cluster, name, TEMPLATE)
    monkeypatch.setenv("MPX_DATABASE_URL", cluster.conninfo(name))
    yield TestDb(cluster, name)
    _drop(cluster, name)


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
