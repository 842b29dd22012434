"""Logs for people on a terminal, JSON lines for machines (`MPX_LOG_FORMAT=auto|text|json`), secrets
redacted in both."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
import sys

import pytest

from mpx.log import JsonFormatter, TextFormatter, register_secret, resolve_format

from conftest import TestDb
from helpers import invoke_mpx

SECRET = "123456:log-test-token-never-printed"


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "mpx.test", "levelname": "WARNING", "levelno": logging.WARNING,
                                    "msg": msg, **extra})
    return record


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
def test_a_registered_secret_is_redacted_in_both_formats(formatter: logging.Formatter) -> None:
    register_secret(SECRET)
    line = formatter.format(_record(f"telegram said no to bot{SECRET}", job="alerts", url=f"https://x/bot{SECRET}/"))
    assert SECRET not in line and line.count("***") == 2


def test_text_is_one_readable_line_with_the_context_as_key_value() -> None:
    line = TextFormatter().format(_record("pass finished", job="ingest", run=12, note="two words", ids=[1, 2]))
    assert "WARNING" in line and "pass finished" in line
    assert "job=ingest run=12 note=\"two words\" ids=1,2" in line
    assert not line.lstrip().startswith("{")


def test_json_is_one_object_per_line() -> None:
    out = json.loads(JsonFormatter().format(_record("pass finished", job="ingest", run=12)))
    assert out["msg"] == "pass finished" and out["job"] == "ingest" and out["run"] == 12 and out["level"] == "warning"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_text_on_a_terminal_and_json_otherwise() -> None:
    assert resolve_format("auto", _Tty()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", _Tty()) == "json" and resolve_format("TEXT", io.StringIO()) == "text"


def test_the_cli_logs_in_the_chosen_format(db: TestDb) -> None:
    assert invoke_mpx("seed").code == 0
    text = invoke_mpx("ingest", env={"MPX_LOG_FORMAT": "text"})
    lines = [ln for ln in text.stderr.splitlines() if "pass finished" in ln]
    assert text.code == 0 and lines and not lines[0].startswith("{") and "job=ingest" in lines[0], text.stderr
    auto = invoke_mpx("ingest")  # stderr is not a terminal here: JSON
    finished = [json.loads(ln) for ln in auto.stderr.splitlines() if ln.startswith("{")]
    assert any(r["msg"] == "pass finished" and r["job"] == "ingest" for r in finished), auto.stderr
    bad = invoke_mpx("ingest", env={"MPX_LOG_FORMAT": "xml"})
    assert bad.code == 78 and "MPX_LOG_FORMAT" in bad.stderr


def test_on_a_terminal_the_default_is_text(db: TestDb) -> None:
    """The process boundary is the point: stderr is a real pseudo-terminal."""
    assert invoke_mpx("seed").code == 0
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "mpx", "ingest"], stdout=subprocess.PIPE, stderr=slave,
                              env=dict(os.environ), timeout=120)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0, err
    assert "pass finished" in err and "job=ingest" in err and '"msg"' not in err
