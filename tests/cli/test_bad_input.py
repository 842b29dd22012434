"""Bad input is a clear error before any work, and a search means what it says: `mpx backtest`
output paths checked first (exit 2 naming the path), `mpx markets list --search` literal (`%` and
`_` are not wildcards) and an empty result that says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TestDb
from helpers import invoke_mpx


@pytest.mark.parametrize("option", ["--csv-out", "--plot"])
def test_backtest_output_in_a_missing_directory_is_exit_2_before_any_work(
        db: TestDb, tmp_path: Path, option: str) -> None:
    assert invoke_mpx("seed").code == 0
    target = tmp_path / "missing" / "dir" / "out.csv"
    res = invoke_mpx("backtest", "--rule", "SUM_LT_1", option, str(target))
    assert res.code == 2, res.stderr
    assert f"mpx: error: {option} {target}: directory {target.parent} does not exist" in res.stderr
    assert "internal error" not in res.stderr
    assert db.scalar("SELECT count(*) FROM job_run WHERE job = 'backtest'") == 0  # no replay ran
    res = invoke_mpx("backtest", "--rule", "SUM_LT_1", option, str(tmp_path))  # a directory, not a file
    assert res.code == 2 and f"{option} {tmp_path}: is a directory" in res.stderr


def _add_market(db: TestDb, market_id: str, question: str) -> None:
    with db.connect() as conn:
        conn.execute("INSERT INTO market (id, question, slug, tick_size) VALUES (%s, %s, %s, 0.01)",
                     (market_id, question, market_id))


def test_markets_search_is_literal_and_an_empty_result_says_nothing_matches(db: TestDb) -> None:
    assert invoke_mpx("markets", "list").stdout.strip() == "(no markets: run `mpx seed` or `mpx ingest`)"
    _add_market(db, "0xpct", "Will CPI top 3% in 2026?")
    _add_market(db, "0xthirty", "Will CPI top 35 in 2026?")
    _add_market(db, "0xunder", "Will snake_case win?")
    found = invoke_mpx("markets", "list", "--search", "top 3%", "--format", "csv")
    assert found.code == 0 and [ln.split(",")[0] for ln in found.stdout.splitlines()[1:]] == ["0xpct"]
    found = invoke_mpx("markets", "list", "--search", "snake_case", "--format", "csv")
    assert [ln.split(",")[0] for ln in found.stdout.splitlines()[1:]] == ["0xunder"]
    for text in ("top 3_", "CPI top %", "CPI_top"):  # wildcards would match the others
        res = invoke_mpx("markets", "list", "--search", text)
        assert res.code == 0, res.stderr
        assert res.stdout.strip() == f"(no market matches --search {text!r}; 3 market(s) stored)", res.stdout
    res = invoke_mpx("markets", "list", "--status", "resolved")
    assert res.stdout.strip() == "(no market matches --status resolved; 3 market(s) stored)"
    assert invoke_mpx("markets", "list", "--status", "finished").code == 2
    assert invoke_mpx("markets", "show", "0x%").code == 1  # an id prefix is literal too
