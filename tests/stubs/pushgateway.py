"""A recorder for what a job pushes to a Pushgateway (method, path, body). Issue #5 replaces it in
the tests with the real `prometheus-pushgateway`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, str]]] = []

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


class PushRecorder:
    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []
        handler = type("Handler", (_Recorder,), {"received": self.received})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> PushRecorder:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
