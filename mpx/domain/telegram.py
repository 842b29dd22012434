"""One tap in Telegram (#16): the buttons' callback data, and the texts of an intent's message.

Callback data (Telegram allows 1-64 bytes, and hands back whatever the button carried) is
``<action>:<id>:<issued>:<mac>`` — ``c`` create (the id is a signal's), ``f`` confirm, ``x`` cancel
(the id is an intent's); ``issued`` is when the button was made (Unix seconds, base 36) and ``mac``
the first 12 bytes of HMAC-SHA256 over ``<action>:<id>:<issued>``, base64url (16 characters). The
longest is about 40 bytes.

Why an HMAC and not a stored token: a client can send any callback data it likes (the Bot API
only relays it), so the data must not be trusted to name the intent a button was made for. With a
MAC keyed by a secret only this bot holds (derived from the bot token: :func:`key_from_token`), a
tap can only ever carry an (action, id, time) triple mpx itself issued: no one can turn a *Cancel*
into a *Confirm*, point a button at another intent, or make an old button young again. It needs no
table and no lookup, survives a database restore, and each button's age is in the data itself (the
EXEC_CONFIRM_TTL check). Rotating the bot token invalidates every outstanding button, which is the
safe direction. Who may tap at all is TELEGRAM_ALLOWED_USERS, checked before any of this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Action = Literal["create", "confirm", "cancel"]
_CODES: dict[Action, str] = {"create": "c", "confirm": "f", "cancel": "x"}
_ACTIONS: dict[str, Action] = {v: k for k, v in _CODES.items()}
MAX_CALLBACK_DATA = 64
"""Bytes of callback_data the Bot API accepts."""
LABELS: dict[Action, str] = {"create": "Create intent", "confirm": "Confirm", "cancel": "Cancel"}


def key_from_token(token: str) -> bytes:
    """The MAC key: derived from the bot token (never the token itself, never stored)."""
    return hmac.new(token.encode(), b"mpx one-tap callback v1", hashlib.sha256).digest()


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _mac(key: bytes, body: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:12]).decode()


def callback_data(key: bytes, action: Action, target: int, issued: datetime) -> str:
    body = f"{_CODES[action]}:{target}:{_b36(int(issued.timestamp()))}"
    data = f"{body}:{_mac(key, body)}"
    assert len(data.encode()) <= MAX_CALLBACK_DATA, data
    return data


@dataclass(frozen=True, slots=True)
class Tap:
    action: Action
    target: int
    issued: datetime

    def expired(self, now: datetime, ttl: timedelta) -> bool:
        return now - self.issued > ttl


def parse_callback(key: bytes, data: str) -> Tap | None:
    """The button's (action, id, issue time), or ``None`` when the data is not one mpx issued (its
    MAC does not match: forged, altered, or made with another bot token)."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] not in _ACTIONS:
        return None
    body = ":".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body), parts[3]):
        return None
    try:
        target, issued = int(parts[1]), int(parts[2], 36)
    except ValueError:
        return None
    return Tap(_ACTIONS[parts[0]], target, datetime.fromtimestamp(issued, UTC))


def polymarket_url(event_slug: str) -> str:
    return f"https://polymarket.com/event/{event_slug}"
