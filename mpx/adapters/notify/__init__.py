"""Alert channels (notifiers): one module each in this package, one line each in :data:`NOTIFIERS`.

``MPX_NOTIFIER`` (default ``telegram``) chooses the channel alerts go to. A notifier module provides

- ``configured(settings) -> bool``: whether the channel is enabled and has its credentials —
  when not, alerts are recorded as dry-run (cheap: imports no client library);
- ``from_settings(settings) -> Notifier``: the channel, built from its settings;

and the :class:`Notifier` it returns sends texts in order until one fails, returning what happened
to each (:class:`SendResult`). A channel problem is never an exception: it is a result, sorted into
what to do next (retry later, wait, or stop until a person fixes the configuration), with every
secret redacted from its error. Callers also guard against a notifier that raises anyway: the
failure is logged and counted and never changes the outcome of the job that was notifying
(borgmatic's monitoring hooks work the same way).

Adding a channel (Slack, a webhook): ``mpx/adapters/notify/<name>.py`` with ``configured``,
``from_settings`` and its settings, plus one line in :data:`NOTIFIERS`. Texts are the alert HTML of
:mod:`mpx.domain.alerts` (``<b>``, ``<i>`` and escaped text); a channel with another markup
converts it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mpx.settings import Settings

NOTIFIERS: dict[str, str] = {
    "telegram": "mpx.adapters.notify.telegram",
}
"""Channel name → its module (imported only when chosen)."""

Outcome = Literal["sent", "retry_after", "rejected", "unavailable"]
"""``sent``; ``retry_after``: the channel asked to wait (``retry_after`` seconds); ``rejected``: it
refused the message and retrying will not help (bad token, chat not found, bot blocked);
``unavailable``: timeouts, connection errors, 5xx — retry later."""


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None


class Notifier(Protocol):
    name: str
    limit: int
    """Longest message the channel takes, in characters (alerts are batched within it)."""

    def send(self, texts: Sequence[str]) -> list[SendResult]:
        """Send ``texts`` in order, stopping at the first that is not sent; one result per text tried."""
        ...


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button under a message: its label and the data handed back when it is tapped."""

    text: str
    data: str


Keyboard = Sequence[Sequence[Button]]
"""Rows of buttons under one message (empty: none)."""


@runtime_checkable
class ButtonNotifier(Protocol):
    """A channel that can put buttons under a message (Telegram's inline keyboards, #16)."""

    def send_with_buttons(self, texts: Sequence[str], keyboards: Sequence[Keyboard]) -> list[SendResult]:
        """Like :meth:`Notifier.send`, the message ``i`` carrying ``keyboards[i]``."""
        ...


def configured(settings: Settings) -> bool:
    """Whether the chosen channel is enabled and has its credentials (otherwise: dry-run)."""
    return bool(_module(settings).configured(settings))


def notifier_for(settings: Settings) -> Notifier | None:
    """The chosen channel, or ``None`` when it is not configured (dry-run)."""
    if not configured(settings):
        return None
    notifier: Notifier = _module(settings).from_settings(settings)
    return notifier


def transport(settings: Settings) -> str:
    """What a signal's payload records as its alert transport: ``telegram`` or ``telegram-dry-run``."""
    return settings.mpx_notifier if configured(settings) else f"{settings.mpx_notifier}-dry-run"


def _module(settings: Settings) -> ModuleType:
    return importlib.import_module(NOTIFIERS[settings.mpx_notifier])
