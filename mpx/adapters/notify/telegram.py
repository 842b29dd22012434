"""Telegram through python-telegram-bot, with errors sorted into what to do next.

Settings: ``TELEGRAM_ENABLED``, ``TELEGRAM_BOT_TOKEN`` (secret), ``TELEGRAM_CHAT_ID``,
``TELEGRAM_API_URL`` (a local stand-in in tests). The bot token is part of every Bot API URL; it
never leaves this module in a message: errors are passed through :func:`redact` before they are
logged or stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mpx.adapters.notify import Keyboard, SendResult

if TYPE_CHECKING:
    from mpx.settings import Settings

NAME = "telegram"
LIMIT = 4096
"""Characters per message (Bot API ``sendMessage``)."""


def configured(settings: Settings) -> bool:
    """Enabled, with a token and a chat id; otherwise alerts are dry-run."""
    token = settings.telegram_bot_token
    return bool(settings.telegram_enabled and token and token.get_secret_value() and settings.telegram_chat_id)


def from_settings(settings: Settings) -> TelegramNotifier:
    assert settings.telegram_bot_token is not None and settings.telegram_chat_id is not None
    return TelegramNotifier(settings.telegram_bot_token.get_secret_value(), settings.telegram_chat_id,
                            settings.telegram_api_url)


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
        if ":" in token:
            text = text.replace(token.split(":", 1)[1], "***")
    return text


class TelegramNotifier:
    """Sends HTML texts in order until one fails; what failed and why is in the results."""

    name = NAME
    limit = LIMIT

    def __init__(self, token: str, chat_id: str, base_url: str, timeout: float = 10.0) -> None:
        self._token = token
        self._chat_id = chat_id
        self._base_url = base_url
        self._timeout = timeout

    def send(self, texts: Sequence[str]) -> list[SendResult]:
        return asyncio.run(self._send(texts, [()] * len(texts)))

    def send_with_buttons(self, texts: Sequence[str], keyboards: Sequence[Keyboard]) -> list[SendResult]:
        return asyncio.run(self._send(texts, keyboards))

    async def _send(self, texts: Sequence[str], keyboards: Sequence[Keyboard]) -> list[SendResult]:
        from telegram import Bot
        from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
        from telegram.request import HTTPXRequest

        request = HTTPXRequest(connect_timeout=self._timeout, read_timeout=self._timeout,
                               write_timeout=self._timeout, pool_timeout=self._timeout)
        results: list[SendResult] = []
        try:
            async with Bot(self._token, base_url=self._base_url, request=request) as bot:
                for text, keyboard in zip(texts, keyboards, strict=True):
                    result = await self._one(bot, text, keyboard)
                    results.append(result)
                    if result.outcome != "sent":
                        break
        except (InvalidToken, Forbidden) as exc:
            results.append(SendResult("rejected", error=self._why(exc)))
        except RetryAfter as exc:
            results.append(SendResult("retry_after", retry_after=_seconds(exc.retry_after), error=self._why(exc)))
        except (NetworkError, TelegramError) as exc:  # getMe on start-up failed
            results.append(SendResult("unavailable", error=self._why(exc)))
        return results

    async def _one(self, bot: Any, text: str, keyboard: Keyboard = ()) -> SendResult:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        from telegram.constants import ParseMode
        from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

        try:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in row]
                                           for row in keyboard]) if keyboard else None
            msg = await bot.send_message(chat_id=self._chat_id, text=text, parse_mode=ParseMode.HTML,
                                         disable_web_page_preview=True, reply_markup=markup)
            return SendResult("sent", message_id=msg.message_id)
        except RetryAfter as exc:
            return SendResult("retry_after", retry_after=_seconds(exc.retry_after), error=self._why(exc))
        except (Forbidden, BadRequest, InvalidToken) as exc:
            return SendResult("rejected", error=self._why(exc))
        except (NetworkError, TelegramError) as exc:  # timeouts, connection errors, 5xx
            return SendResult("unavailable", error=self._why(exc))

    def _why(self, exc: Exception) -> str:
        return redact(f"{type(exc).__name__}: {exc}", self._token)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class BotApiError(Exception):
    """A Bot API call that failed: ``status`` 0 when the server could not be reached; the text is
    redacted (never the token)."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"{method}: {description}" + (f" (HTTP {status})" if status else ""))
        self.method = method
        self.status = status
        self.description = description


class BotApi:
    """The few Bot API calls ``mpx telegram poll`` makes (getUpdates, answerCallbackQuery,
    editMessageText, sendMessage), synchronous over httpx: a pass is a handful of calls between
    database work. Every error is a :class:`BotApiError` with the token redacted."""

    def __init__(self, token: str, base_url: str, timeout: float = 10.0) -> None:
        import httpx

        self._token = token
        self._url = f"{base_url}{token}/"
        self._client = httpx.Client(timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> BotApi:
        assert settings.telegram_bot_token is not None
        return cls(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_url)

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, params: dict[str, Any], *, timeout: float | None = None) -> Any:
        import httpx

        try:
            resp = self._client.post(self._url + method, json=params,
                                      timeout=None if timeout is None else timeout + 10.0)
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotApiError(method, 0, redact(f"{type(exc).__name__}: {exc}", self._token)) from None
        if not isinstance(body, dict) or not body.get("ok"):
            desc = str(body.get("description") if isinstance(body, dict) else body)
            raise BotApiError(method, resp.status_code, redact(desc, self._token))
        return body.get("result")

    def get_updates(self, offset: int | None, timeout: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"timeout": timeout, "limit": limit, "allowed_updates": ["callback_query"]}
        if offset is not None:
            params["offset"] = offset
        result = self.call("getUpdates", params, timeout=timeout)
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []

    def answer_callback(self, callback_id: str, text: str, *, alert: bool = False) -> None:
        self.call("answerCallbackQuery", {"callback_query_id": callback_id, "text": text[:200], "show_alert": alert})

    def edit_message(self, chat_id: int | str, message_id: int, text: str, keyboard: Keyboard = ()) -> None:
        self.call("editMessageText", {"chat_id": chat_id, "message_id": message_id, "text": text[:LIMIT],
                                      "parse_mode": "HTML", "disable_web_page_preview": True,
                                      "reply_markup": markup(keyboard)})

    def send_message(self, chat_id: int | str, text: str, keyboard: Keyboard = (),
                     reply_to: int | None = None) -> int:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text[:LIMIT], "parse_mode": "HTML",
                                  "disable_web_page_preview": True, "reply_markup": markup(keyboard)}
        if reply_to is not None:
            params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        result = self.call("sendMessage", params)
        return int(result["message_id"])


def markup(keyboard: Keyboard) -> dict[str, Any]:
    """An InlineKeyboardMarkup (an empty one removes the buttons of an edited message)."""
    return {"inline_keyboard": [[{"text": b.text, "callback_data": b.data} for b in row] for row in keyboard]}
