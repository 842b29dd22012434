"""Migrations: in order, one transaction each, checksummed, TimescaleDB parts optional."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from mpx.adapters.db import migrate
from mpx.errors import ConfigError, MpxError

from conftest import REPO, TestDb
from helpers import invoke_mpx as run_mpx


@pytest.fixture
def empty_db(db: TestDb) -> TestDb:
    with db.connect(autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return db


def _copy_sql(tmp_path: Path) -> Path:
    d = tmp_path / "sql"
    shutil.copytree(REPO / "sql", d)
    return d


def test_migrate_applies_in_order_and_records_checksums(empty_db: TestDb) -> None:
    with empty_db.connect(autocommit=True) as conn:
        done = migrate.migrate(conn)
        assert done[0] == "001_core.sql"
        states = {s.name: s.state for s in migrate.status(conn)}
        rows = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    assert states["001_core.sql"] == "applied"
    assert states["002_timescaledb.sql"] in ("applied", "waiting for timescaledb")
    assert rows[0][0] == 1 and len(rows[0][1]) == 64
    with empty_db.connect(autocommit=True) as conn:
        assert migrate.migrate(conn) == []  # idempotent


def test_both_lanes_get_the_same_tables_and_status_says_which(empty_db: TestDb, backend: str) -> None:
    with empty_db.connect(autocommit=True) as conn:
        migrate.migrate(conn)
        active = migrate.timescaledb_active(conn)
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
    assert {"event", "market", "outcome", "tick", "signal", "job_run", "job_state", "ingest_pass"} <= tables
    assert active == (backend == "timescaledb")
    status = run_mpx("db", "status")
    assert status.code == 0, status.stderr
    if active:
        assert "active (2." in status.stdout and "tick: hypertable" in status.stdout
        assert "waiting for timescaledb" not in status.stdout
    else:
        assert "(plain PostgreSQL)" in status.stdout and "waiting for timescaledb" in status.stdout


def test_installed_but_not_preloaded_falls_back_with_one_line_on_a_sound_connection(
        empty_db: TestDb, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    # The plain lane's server has TimescaleDB installed (where the lane runs) but never preloads it:
    # the most common mistake. Before, the failed CREATE EXTENSION ended the session and the fallback
    # reused the dead connection ("internal error: the connection is closed").
    if backend == "timescaledb":
        with empty_db.connect(autocommit=True) as conn:
            assert migrate.timescaledb_state(conn) in ("preloaded", "active")
        return
    with empty_db.connect(autocommit=True) as conn:
        state = migrate.timescaledb_state(conn)
        assert state in ("not preloaded", "not installed")
        done = migrate.migrate(conn)
        assert "001_core.sql" in done and "002_timescaledb.sql" not in done
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the caller's connection is sound
    if state == "not preloaded":
        [line] = [r.getMessage() for r in caplog.records if "timescaledb" in r.getMessage()]
        assert "installed but not preloaded" in line and "shared_preload_libraries = 'timescaledb'" in line
    res = run_mpx("db", "migrate")
    assert res.code == 0, res.stderr


def test_changed_applied_migration_refuses_to_run(empty_db: TestDb, tmp_path: Path) -> None:
    sql = _copy_sql(tmp_path)
    with empty_db.connect(autocommit=True) as conn:
        migrate.migrate(conn, migrate.discover(sql))
    (sql / "001_core.sql").write_text((sql / "001_core.sql").read_text() + "\n-- edited\n")
    (sql / "900_more.sql").write_text("CREATE TABLE must_not_exist (x int);")
    with empty_db.connect(autocommit=True) as conn, pytest.raises(ConfigError, match=r"001_core\.sql"):
        migrate.migrate(conn, migrate.discover(sql))
    assert empty_db.scalar("SELECT to_regclass('must_not_exist')") is None
    res = run_mpx("db", "migrate", env={"MPX_SQL_DIR": str(sql)})
    assert res.code == 78 and "changed since they were applied" in res.stderr


def test_failing_migration_rolls_back_entirely(empty_db: TestDb, tmp_path: Path) -> None:
    sql = _copy_sql(tmp_path)
    (sql / "900_broken.sql").write_text("CREATE TABLE half_done (x int);\nSELECT no_such_function();\n")
    with empty_db.connect(autocommit=True) as conn, pytest.raises(MpxError, match=r"900_broken\.sql"):
        migrate.migrate(conn, migrate.discover(sql))
    assert empty_db.scalar("SELECT to_regclass('half_done')") is None
    assert empty_db.scalar("SELECT count(*) FROM schema_migrations WHERE version = 900") == 0


def test_migrate_via_cli_then_status_lists_applied(empty_db: TestDb) -> None:
    res = run_mpx("db", "migrate")
    assert res.code == 0, res.stderr
    assert "applied: 001_core.sql" in res.stdout
    res = run_mpx("db", "status", "--format", "json")
    assert res.code == 0
    assert '"server_version": "15' in res.stdout or '"server_version": "1' in res.stdout
    with psycopg.connect(empty_db.url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1  # type: ignore[index]
