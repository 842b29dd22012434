"""Reading ahead on a thread: what the archive, the archive's backtest stream and PostgreSQL's replay
stream share. The producer is an iterator consumed on its own thread; its items wait in a bounded
queue, so the database (psycopg on its socket, DuckDB on its threads: neither holds the GIL) makes
the next items while the caller works on the last one."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def read_ahead(items: Iterable[T], depth: int, name: str) -> Iterator[T]:
    """``items`` produced by a thread named ``name``, up to ``depth`` ahead. Whatever ``items`` uses
    (a connection, a cursor) is the thread's until this generator ends; an error there is raised
    here. Stopping early (``close``, an exception in the caller) stops the producer at its next item."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting to put
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
