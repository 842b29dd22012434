"""A local stand-in for the Telegram Bot API (https://core.telegram.org/bots/api), for tests.

Speaks what python-telegram-bot sends: ``POST /bot<token>/getMe`` and ``/bot<token>/sendMessage``
(form-encoded or JSON bodies), answering in the Bot API envelope ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": …, "description": …, "parameters": {"retry_after": …}}``.

One tap (#16): ``press(user_id, message_id, row)`` taps a button of a message mpx sent (or
``press_data`` sends any callback data, as a modified client can), queueing a ``callback_query``
update that ``getUpdates`` returns (``offset`` confirms the earlier ones, ``timeout`` long-polls).
``answerCallbackQuery`` (each query answered at most once) and ``editMessageText`` (the message must
exist and change) are recorded in ``answers`` and ``edits``. Checked as the real Bot API checks
them: ``reply_markup`` is ``{"inline_keyboard": [[{"text": …, "callback_data": …}, …], …]}`` with
non-empty labels and callback_data of 1-64 bytes (``BUTTON_DATA_INVALID`` otherwise).

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
        self.messages: dict[int, dict[str, Any]] = {}  # message_id → chat_id, text, reply_markup
        self.updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self.answers: list[dict[str, Any]] = []  # callback_query_id, text, show_alert
        self.edits: list[dict[str, Any]] = []  # message_id, text, reply_markup
        self._next_update = 1000
        self._next_query = 1
        self._answered: set[str] = set()
        self._queries: set[str] = set()
        self._new_update = threading.Condition(threading.Lock())
        self._issued: dict[int, str] = {}  # update_id → callback_query id
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

    # --- one tap ------------------------------------------------------------------------------
    def buttons(self, message_id: int) -> list[dict[str, Any]]:
        """The buttons under a message, row by row flattened."""
        markup = self.messages[message_id].get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def press(self, user_id: int, message_id: int, index: int = 0, username: str = "trader") -> int:
        """Tap button ``index`` of a message: a callback_query update; returns its update_id."""
        return self.press_data(user_id, message_id, str(self.buttons(message_id)[index]["callback_data"]), username)

    def press_data(self, user_id: int, message_id: int, data: str, username: str = "trader") -> int:
        msg = self.messages[message_id]
        with self._new_update:
            update_id, self._next_update = self._next_update, self._next_update + 1
            query_id, self._next_query = f"cbq{self._next_query}", self._next_query + 1
            self._queries.add(query_id)
            self.updates.append({"update_id": update_id, "callback_query": {
                "id": query_id, "chat_instance": "ci-1", "data": data,
                "from": {"id": user_id, "is_bot": False, "first_name": username.title(), "username": username},
                "message": {"message_id": message_id, "date": int(time.time()), "text": msg["text"],
                            "chat": {"id": _chat(msg["chat_id"]), "type": "private"}}}})
            self._new_update.notify_all()
        return update_id

    def duplicate(self, update_id: int) -> None:
        """Deliver an update again under a new update_id (what a lost offset looks like)."""
        with self._new_update:
            [u] = [u for u in self.updates if u["update_id"] == update_id]
            self.updates.append({**u, "update_id": self._next_update})
            self._next_update += 1
            self._new_update.notify_all()

    def answers_to(self, update_id: int) -> list[dict[str, Any]]:
        query = self._query_of(update_id)
        return [a for a in self.answers if a["callback_query_id"] == query]

    def _query_of(self, update_id: int) -> str:
        return self._issued[update_id]

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._new_update:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self._new_update.wait(deadline - time.monotonic())
            out = [u for u in self.updates if u["update_id"] >= offset][:limit]
        for u in out:
            self._issued[u["update_id"]] = u["callback_query"]["id"]
        return 200, {"ok": True, "result": out}

    @staticmethod
    def _markup_error(params: dict[str, Any]) -> str | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                return "Bad Request: can't parse reply keyboard markup JSON object"
            params["reply_markup"] = markup
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            return "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays"
        for row in rows:
            for b in row:
                if not isinstance(b, dict) or not isinstance(b.get("text"), str) or not b["text"]:
                    return "Bad Request: text buttons are unallowed in the inline keyboard"
                data = b.get("callback_data")
                if data is None and "url" not in b:
                    return "Bad Request: can't find field \"callback_data\""
                if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
                    return "Bad Request: BUTTON_DATA_INVALID"
        return None

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
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "answerCallbackQuery":
            qid = str(params.get("callback_query_id") or "")
            with self._lock:
                if qid not in self._queries or qid in self._answered:
                    return 400, {"ok": False, "error_code": 400, "description": "Bad Request: query is too old and "
                                 "response timeout expired or query ID is invalid"}
                self._answered.add(qid)
                self.answers.append({"callback_query_id": qid, "text": params.get("text"),
                                     "show_alert": params.get("show_alert") in (True, "true", "True")})
            return 200, {"ok": True, "result": True}
        if method in ("sendMessage", "editMessageText"):
            bad = self._markup_error(params)
            if bad:
                return 400, {"ok": False, "error_code": 400, "description": bad}
        if method == "editMessageText":
            mid = int(params.get("message_id") or 0)
            with self._lock:
                msg = self.messages.get(mid)
                if msg is None or str(params.get("chat_id")) != str(msg["chat_id"]):
                    return 400, {"ok": False, "error_code": 400,
                                 "description": "Bad Request: message to edit not found"}
                if not params.get("text"):
                    return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
                if len(str(params["text"])) > 4096:
                    return 400, {"ok": False, "error_code": 400, "description": "Bad Request: MESSAGE_TOO_LONG"}
                markup = params.get("reply_markup") or {"inline_keyboard": []}
                if params["text"] == msg["text"] and markup == (msg.get("reply_markup") or {"inline_keyboard": []}):
                    return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is not "
                                 "modified: specified new message content and reply markup are exactly the same"}
                msg.update(text=str(params["text"]), reply_markup=markup)
                self.edits.append({"message_id": mid, "text": msg["text"], "reply_markup": markup})
            return 200, {"ok": True, "result": {"message_id": mid, "date": int(time.time()), "text": msg["text"],
                                                "chat": {"id": _chat(msg["chat_id"]), "type": "private"}}}
        if method == "sendMessage":
            if not params.get("chat_id") or not params.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            if len(str(params["text"])) > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            with self._lock:
                self.sent.append({k: params.get(k) for k in ("chat_id", "text", "parse_mode", "reply_markup")})
                n = len(self.sent)
                self.messages[n] = {"chat_id": params["chat_id"], "text": str(params["text"]),
                                    "reply_markup": params.get("reply_markup")}
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


def _chat(chat_id: Any) -> int:
    return int(chat_id) if str(chat_id).lstrip("-").isdigit() else 1
