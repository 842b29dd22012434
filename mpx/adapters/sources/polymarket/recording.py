"""Record and replay at the HTTP layer, so a replayed pass runs the same client and parsing code.

A recorded session is a directory of passes, ``pass-000001/``, … each holding ``manifest.json``
(pass time, whether metadata was refreshed) and ``responses.jsonl`` (one raw response per line —
the body as text, so a truncated or malformed response replays as it came — or the transport
error). Responses are keyed by method, path, sorted query and a hash of the canonical JSON body,
so batches replay whatever order they are sent in; a key answered several times (a 429, then a
200) replays in the same order.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

import httpx

KEEP_HEADERS = ("retry-after", "content-type")


def request_key(request: httpx.Request) -> str:
    params = sorted(request.url.params.multi_items())
    key = f"{request.method} {request.url.path}?{urlencode(params)}"
    body = request.content
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, list):
                data = sorted(data, key=lambda x: json.dumps(x, sort_keys=True))
            canonical = json.dumps(data, sort_keys=True)
        except ValueError:
            canonical = body.decode("utf-8", "replace")
        key += " " + hashlib.sha1(canonical.encode()).hexdigest()[:16]
    return key


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` and writes every response (or transport error) to ``sink``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sink: TextIO) -> None:
        self._inner = inner
        self._sink = sink
        self.count = 0

    def _write(self, entry: dict[str, Any]) -> None:
        self._sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.count += 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request_key(request)
        try:
            resp = await self._inner.handle_async_request(request)
            content = b"".join([chunk async for chunk in resp.aiter_bytes()])
            await resp.aclose()
        except httpx.TimeoutException:
            self._write({"key": key, "url": str(request.url), "error": "timeout"})
            raise
        except httpx.TransportError as exc:
            self._write({"key": key, "url": str(request.url), "error": "connect", "detail": str(exc)})
            raise
        headers = {k: v for k, v in resp.headers.items() if k.lower() in KEEP_HEADERS}
        self._write({"key": key, "url": str(request.url), "status": resp.status_code, "headers": headers,
                     "text": content.decode("utf-8", "replace")})
        return httpx.Response(resp.status_code, headers=headers, content=content, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers requests from a recorded pass; a request that was never recorded is a connect error."""

    def __init__(self, responses_file: Path) -> None:
        self._entries: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        with responses_file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    entry = json.loads(line)
                    self._entries[entry["key"]].append(entry)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request_key(request)
        queue = self._entries.get(key)
        if not queue:
            raise httpx.ConnectError(f"replay: no recorded response for {key}", request=request)
        entry = queue.popleft() if len(queue) > 1 else queue[0]
        if entry.get("error") == "timeout":
            raise httpx.ReadTimeout("replay: recorded timeout", request=request)
        if "error" in entry:
            raise httpx.ConnectError(f"replay: recorded {entry['error']}", request=request)
        return httpx.Response(entry["status"], headers=entry.get("headers") or {},
                              content=entry["text"].encode("utf-8"), request=request)


def next_pass_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    n = len([p for p in root.iterdir() if p.is_dir() and p.name.startswith("pass-")])
    path = root / f"pass-{n + 1:06d}"
    path.mkdir()
    return path


def write_manifest(pass_dir: Path, ts: datetime, metadata: bool, requests: int, *, page_size: int,
                   batch_size: int, events_paging: str | None = None) -> None:
    """The pass time, whether metadata was fetched, how the events were paged (``"keyset"``, or
    ``"offset"`` after the keyset endpoint answered 404; ``null`` without a listing), and the request
    shapes (events page size, books batch size) a replay must reproduce to find the recorded
    responses."""
    (pass_dir / "manifest.json").write_text(json.dumps(
        {"ts": ts.isoformat(), "metadata_refreshed": metadata, "requests": requests,
         "page_size": page_size, "batch_size": batch_size, "events_paging": events_paging}, indent=2) + "\n")


def recorded_passes(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "manifest.json").exists())
