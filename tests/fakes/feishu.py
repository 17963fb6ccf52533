"""A Feishu/Lark custom-bot server: tokens, body signatures, keywords and a rate limit.

Answers HTTP 200 with ``{"code", "msg", "data"}`` like Feishu (docs/architecture.md, "Alert platforms").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import Answer, FakeServer, Request

HOOK_PREFIX = "/open-apis/bot/v2/hook/"
SIGN_ERROR = "sign match fail or timestamp is not within one hour from current time"


def feishu_sign(secret: str, timestamp: int | str) -> str:
    """The server side of Feishu's signature (key = timestamp + "\\n" + secret, empty msg)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def code(number: int, message: str) -> Answer:
    """Feishu's answer."""
    return Answer.json({"code": number, "msg": message, "data": {}})


@dataclass
class Bot:
    """One bot.

    Attributes:
        token: The hook token (last path segment).
        secret: The signing secret, if signature verification is on.
        keywords: Custom keywords, if that mode is on.
    """

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    window_start: float | None = None
    count: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)


class FakeFeishu(FakeServer):
    """Feishu's ``/open-apis/bot/v2/hook/<token>``.

    Args:
        limit: Messages per bot and window (Feishu: 100 a minute); then code 11232.
        window: The rate window in seconds.
        skew: Seconds added to this server's clock.
    """

    def __init__(self, limit: int = 100, window: float = 60.0, skew: float = 0.0) -> None:
        super().__init__()
        self.limit = limit
        self.window = window
        self.skew = skew
        self.bots: dict[str, Bot] = {}
        self.accepted: list[dict[str, Any]] = []
        self._rate_lock = threading.Lock()

    def add_bot(self, token: str, secret: str | None = None, keywords: tuple[str, ...] = ()) -> str:
        """Register a bot; returns its webhook URL."""
        self.bots[token] = Bot(token, secret, tuple(keywords))
        return self.url_for(token)

    def url_for(self, token: str) -> str:
        """The webhook URL of a bot (known or not)."""
        return f"{self.url}{HOOK_PREFIX}{token}"

    def handle(self, request: Request) -> Answer:
        """Check like Feishu: token, signature, body, keywords, rate."""
        if request.method != "POST" or not request.path.startswith(HOOK_PREFIX):
            return Answer.text("404 page not found", status=404)
        bot = self.bots.get(request.path.removeprefix(HOOK_PREFIX))
        if bot is None:
            return code(19001, "param invalid: incoming webhook access token invalid")
        payload = request.json
        if not isinstance(payload, dict):
            return code(9499, "Bad Request")
        if bot.secret is not None:
            timestamp = str(payload.get("timestamp", ""))
            if (
                not timestamp.isdigit()
                or abs(time.time() + self.skew - int(timestamp)) > 3600
                or not hmac.compare_digest(
                    str(payload.get("sign", "")), feishu_sign(bot.secret, timestamp)
                )
            ):
                return code(19021, SIGN_ERROR)
        content = payload.get("content")
        if payload.get("msg_type") != "text" or not isinstance(content, dict):
            return code(19002, "params error, msg_type need")
        text = str(content.get("text", ""))
        if bot.keywords and not any(word in text for word in bot.keywords):
            return code(19024, "Key Words Not Found")
        with self._rate_lock:
            now = time.monotonic()
            if bot.window_start is None or now - bot.window_start >= self.window:
                bot.window_start, bot.count = now, 0
            if bot.count >= self.limit:
                return code(11232, "frequency limited")
            bot.count += 1
            bot.accepted.append(payload)
            self.accepted.append(payload)
        return code(0, "success")
