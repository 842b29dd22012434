"""A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api), for tests.

Speaks what python-telegram-bot sends: ``POST /bot<token>/getMe`` and ``/bot<token>/sendMessage``
(form-encoded or JSON bodies), answering in the Bot API envelope ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": …}}``.

Faults are queued per method and consumed one request at a time: ``fail("sendMessage", 429,
retry_after=1)``, ``fail(..., 403)`` ("Forbidden: bot was blocked by the user"), ``fail(..., 400,
"Bad Request: chat not found")``, ``fail(..., 500)``. ``down()`` / ``up()`` make the server refuse
connections (the socket is closed) and come back on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
}


class TelegramStandIn:
    def __init__(self, token: str = "123456:TEST-token-never-logged") -> None:
        self.token = token
        self.sent: list[dict[str, Any]] = []  # every accepted sendMessage: chat_id, text, parse_mode
        self.requests: list[tuple[str, int]] = []  # (method, status)
        self._faults: dict[str, deque[tuple[int, str | None, int | None]]] = {}
        self._lock = threading.Lock()
        self._port = self._free_port()
        self._server: ThreadingHTTPServer | None = None

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_URL is set to: the token is appended by the client."""
        return f"http://127.0.0.1:{self._port}/bot"

    def __enter__(self) -> TelegramStandIn:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def fail(self, method: str, status: int, description: str | None = None, *, retry_after: int | None = None,
             times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).extend([(status, description, retry_after)] * times)

    def count(self, method: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for m, s in self.requests if m == method and (status is None or s == status))

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            queue = self._faults.get(method)
            fault = queue.popleft() if queue else None
        if fault is not None:
            status, description, retry_after = fault
            body: dict[str, Any] = {"ok": False, "error_code": status,
                                    "description": (description or DESCRIPTIONS.get(status, "Error")).format(
                                        retry_after=retry_after)}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return status, body
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "mpx test",
                                                "username": "mpx_test_bot", "can_join_groups": True,
                                                "can_read_all_group_messages": False,
                                                "supports_inline_queries": False}}
        if method == "sendMessage":
            if not params.get("chat_id") or not params.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            if len(str(params["text"])) > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            with self._lock:
                self.sent.append({k: params.get(k) for k in ("chat_id", "text", "parse_mode")})
                n = len(self.sent)
            return 200, {"ok": True, "result": {
                "message_id": n, "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]) if str(params["chat_id"]).lstrip("-").isdigit() else 1,
                         "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "mpx test"},
                "text": str(params["text"])}}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                prefix = f"/bot{stand_in.token}/"
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not parts.path.startswith(prefix):
                    status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                    method = parts.path.rsplit("/", 1)[-1]
                else:
                    method = parts.path[len(prefix):]
                    ctype = self.headers.get("Content-Type", "")
                    if "json" in ctype:
                        params = json.loads(raw or b"{}")
                    else:
                        params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    status, body = stand_in._answer(method, params)
                with stand_in._lock:
                    stand_in.requests.append((method, status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        return Handler
