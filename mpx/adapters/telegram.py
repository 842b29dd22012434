"""Sending Telegram messages through python-telegram-bot, with errors sorted into what to do next.

The bot token is part of every Bot API URL; it never leaves this module in a message: errors are
passed through :func:`redact` before they are logged or stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # python-telegram-bot is imported when a message is sent (~0.2 s an `mpx evaluate` start)
    from telegram import Bot

Outcome = Literal["sent", "retry_after", "rejected", "unavailable"]


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
        if ":" in token:
            text = text.replace(token.split(":", 1)[1], "***")
    return text


class TelegramSender:
    """Sends texts in order until one fails; what failed and why is in the results."""

    def __init__(self, token: str, chat_id: str, base_url: str, timeout: float = 10.0) -> None:
        self._token = token
        self._chat_id = chat_id
        self._base_url = base_url
        self._timeout = timeout

    def send(self, texts: Sequence[str]) -> list[SendResult]:
        return asyncio.run(self._send(texts))

    async def _send(self, texts: Sequence[str]) -> list[SendResult]:
        from telegram import Bot
        from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
        from telegram.request import HTTPXRequest

        request = HTTPXRequest(connect_timeout=self._timeout, read_timeout=self._timeout,
                               write_timeout=self._timeout, pool_timeout=self._timeout)
        results: list[SendResult] = []
        try:
            async with Bot(self._token, base_url=self._base_url, request=request) as bot:
                for text in texts:
                    result = await self._one(bot, text)
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

    async def _one(self, bot: Bot, text: str) -> SendResult:
        from telegram.constants import ParseMode
        from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

        try:
            msg = await bot.send_message(chat_id=self._chat_id, text=text, parse_mode=ParseMode.HTML,
                                         disable_web_page_preview=True)
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
