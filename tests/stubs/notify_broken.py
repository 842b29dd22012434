"""A notifier that raises instead of returning results (a channel module with a bug): registered in
``mpx.adapters.notify.NOTIFIERS`` by a test, it must cost a warning, never the job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SECRET = "broken-channel-secret-4711"


def configured(settings: Any) -> bool:
    return True


def from_settings(settings: Any) -> Any:
    return Broken()


class Broken:
    name = "broken"
    limit = 4096

    def send(self, texts: Sequence[str]) -> list[Any]:
        raise RuntimeError(f"boom while sending with {SECRET}")
