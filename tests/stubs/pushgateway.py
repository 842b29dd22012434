"""A real Prometheus Pushgateway (Debian's ``prometheus-pushgateway``) on loopback, for tests.

Started once per test session on a free port with the admin API on, wiped before every test;
:meth:`Pushgateway.samples` reads back what the jobs pushed, as Prometheus would scrape it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

BINARY_NAMES = ("prometheus-pushgateway", "pushgateway")


def find_binary() -> str | None:
    return next((p for p in (shutil.which(n) for n in BINARY_NAMES) if p), None)


class Pushgateway:
    def __init__(self) -> None:
        binary = find_binary()
        if binary is None:
            raise RuntimeError("prometheus-pushgateway is not installed: `apt-get install prometheus-pushgateway` "
                               "(make test does this when run as root)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="pushgateway-", suffix=".log", delete=False)  # noqa: SIM115
        self._proc = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-admin-api"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pushgateway did not start: {Path(self._log.name).read_text()[-2000:]}")
            time.sleep(0.1)

    def wipe(self) -> None:
        httpx.put(f"{self.url}/api/v1/admin/wipe", timeout=5).raise_for_status()

    def samples(self, job: str, **group: str) -> dict[str, float]:
        """``name{label="v",…}`` (labels sorted, without ``job``, ``instance`` and the ``group``
        labels) → value, for one job's group (``venue="polymarket"`` for ingest)."""
        out: dict[str, float] = {}
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.labels.get("job") != job or any(s.labels.get(k) != v for k, v in group.items()):
                    continue
                labels = {k: v for k, v in s.labels.items() if k not in ("job", "instance", *group)}
                key = s.name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
                out[key] = s.value
        return out

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
