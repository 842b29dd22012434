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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any, Literal

from mpx.domain.alerts import TELEGRAM_LIMIT, venue_links

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


def _links(links: Sequence[Mapping[str, Any]]) -> str:
    return "".join("\n" + line for line in venue_links(links))


def intent_text(intent: Mapping[str, Any], links: Sequence[Mapping[str, Any]] = ()) -> str:
    """The intent's message (Telegram HTML): what *Confirm* would send, with its numbers."""
    legs = "\n".join(f"• {escape(str(leg.get('side', 'buy')))} {leg.get('shares')} {escape(str(leg.get('label')))} "
                     f"≤ {leg.get('limit_price')}" for leg in intent.get("legs") or [])
    return (f"<b>Intent {intent['id']}: {escape(str(intent['status']))}</b> ({escape(str(intent['mode']))}) — "
            f"{escape(str(intent['level']))} signal {intent['signal_id']} ({escape(str(intent['rule_id']))})\n"
            f"{intent['shares']} sets · notional {intent['notional']} USDC (at most {intent['max_notional']}) · "
            f"expected edge {intent['expected_edge_bps']} bps = {intent['expected_profit']} USDC\n{legs}"
            + _links(links))


def verdict_text(intent: Mapping[str, Any], outcome: str, checks: Sequence[str], who: str, at: datetime,
                 links: Sequence[Mapping[str, Any]] = ()) -> str:
    """The intent's message once a button acted: the outcome, every check with its numbers, the fills."""
    lines = [f"<b>Intent {intent['id']}: {escape(outcome.upper())}</b> ({escape(str(intent['mode']))}) — "
             f"{escape(str(intent['level']))} signal {intent['signal_id']} ({escape(str(intent['rule_id']))})",
             escape(str(intent.get("reason") or ""))]
    lines += [("✅ " if c.startswith("ok") else "❌ ") + escape(c) for c in checks]
    for f in intent.get("fills") or []:
        lines.append(f"• leg {f.get('seq')} {escape(str(f.get('label')))}: {escape(str(f.get('outcome')))} "
                     f"{f.get('shares')} @ {f.get('vwap')} = {f.get('cost')} USDC (fee {f.get('fee')})")
    if intent.get("filled_cost") is not None and outcome in ("filled", "unwound", "unwinding"):
        lines.append(f"spent {intent['filled_cost']} USDC for {intent['shares']} sets paying "
                     f"{intent['payout_per_share']} each")
    lines.append(f"<i>{escape(who)} at {at:%Y-%m-%d %H:%M:%S}Z</i>")
    text = "\n".join(line for line in lines if line) + _links(links)
    return text if len(text) <= TELEGRAM_LIMIT else text[: TELEGRAM_LIMIT - 1] + "…"
