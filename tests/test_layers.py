"""Calls go one way (cli → jobs → domain/adapters) and SQL lives in mpx/adapters/db/ only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|TRUNCATE|WITH|SHOW|CREATE|ALTER|DROP|COPY)\b")
NOT_YET: set[str] = set()
"""Files allowed SQL for now: none."""


def _sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.strip().splitlines()[0]}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute":
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: .execute(…)")
    return found


def test_no_sql_in_jobs_or_cli() -> None:
    files = [p for d in ("mpx/jobs", "mpx/cli") for p in sorted((REPO / d).glob("*.py"))
             if str(p.relative_to(REPO)) not in NOT_YET]
    found = [hit for p in files for hit in _sql_in(p)]
    assert not found, "SQL belongs in mpx/adapters/db/:\n" + "\n".join(found)


def test_domain_imports_no_io_libraries() -> None:
    banned = ("typer", "httpx", "psycopg", "telegram", "prometheus_client")
    for path in sorted((REPO / "mpx" / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in banned, f"{path.relative_to(REPO)} imports {name}"
