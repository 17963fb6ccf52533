"""A DingTalk custom-robot server: tokens, 加签 signatures, keywords, size and rate limits.

It answers like DingTalk does (docs/architecture.md, "Alert platforms"): HTTP 200 with ``errcode``/``errmsg``
for every business outcome, the real errcodes and errmsg texts.
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

MAX_BODY_BYTES = 20000
#: ±1 hour, in milliseconds.
TIMESTAMP_WINDOW_MS = 3_600_000


def dingtalk_sign(secret: str, timestamp_ms: int | str) -> str:
    """The server side of 加签 (independent of kakit's implementation)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def errcode(code: int, message: str) -> Answer:
    """DingTalk's answer: always HTTP 200."""
    return Answer.json({"errcode": code, "errmsg": message})


@dataclass
class Robot:
    """One robot's security settings and rate window.

    Attributes:
        token: The ``access_token``.
        secret: The 加签 secret, if signing is on.
        keywords: Custom keywords (one must be in the message), if that mode is on.
    """

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    window_start: float | None = None
    count: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)


class FakeDingTalk(FakeServer):
    """DingTalk's ``/robot/send``.

    Args:
        limit: Messages accepted per robot and window (DingTalk: 20).
        window: The rate window in seconds (DingTalk: 60); past the limit every message in the
            rest of the window gets 130101.
        skew: Seconds added to this server's clock (to test the timestamp window).
    """

    def __init__(self, limit: int = 20, window: float = 60.0, skew: float = 0.0) -> None:
        super().__init__()
        self.limit = limit
        self.window = window
        self.skew = skew
        self.robots: dict[str, Robot] = {}
        self.accepted: list[dict[str, Any]] = []
        self._rate_lock = threading.Lock()

    def add_robot(
        self, token: str, secret: str | None = None, keywords: tuple[str, ...] = ()
    ) -> str:
        """Register a robot; returns its webhook URL."""
        self.robots[token] = Robot(token, secret, tuple(keywords))
        return self.url_for(token)

    def url_for(self, token: str) -> str:
        """The webhook URL of a robot (known or not)."""
        return f"{self.url}/robot/send?access_token={token}"

    def handle(self, request: Request) -> Answer:
        """Check like DingTalk: token, signature, size, fields, keywords, rate."""
        if request.method != "POST":
            return errcode(43002, "需要POST请求")
        if request.path != "/robot/send":
            return Answer.text("not found", status=404)
        token = request.query.get("access_token", "")
        if not token:
            return errcode(40035, "缺少参数 access_token")
        robot = self.robots.get(token)
        if robot is None:
            return errcode(300001, "token is not exist")
        if robot.secret is not None:
            refusal = self._check_signature(robot.secret, request.query)
            if refusal is not None:
                return refusal
        if len(request.body) > MAX_BODY_BYTES:
            return errcode(460101, "message too long, exceed 20000 bytes")
        payload = request.json
        if not isinstance(payload, dict):
            return errcode(400402, "参数 body 缺失")
        content = self._content(payload)
        if isinstance(content, Answer):
            return content
        if robot.keywords and not any(word in content for word in robot.keywords):
            return errcode(310000, "keywords not in content")
        with self._rate_lock:
            now = time.monotonic()
            if robot.window_start is None or now - robot.window_start >= self.window:
                robot.window_start, robot.count = now, 0
            if robot.count >= self.limit:
                return errcode(130101, "send too fast, exceed 20 times per minute")
            robot.count += 1
            robot.accepted.append(payload)
            self.accepted.append(payload)
        return errcode(0, "ok")

    def _check_signature(self, secret: str, query: dict[str, str]) -> Answer | None:
        timestamp = query.get("timestamp", "")
        if not timestamp.isdigit():
            return errcode(310000, "invalid timestamp")
        now_ms = (time.time() + self.skew) * 1000
        if abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
            return errcode(310000, "invalid timestamp")
        if not hmac.compare_digest(query.get("sign", ""), dingtalk_sign(secret, timestamp)):
            return errcode(310000, "sign not match")
        return None

    @staticmethod
    def _content(payload: dict[str, Any]) -> str | Answer:
        """The text to search for keywords, or the errcode for a malformed body."""
        msgtype = payload.get("msgtype")
        if msgtype == "text":
            text = payload.get("text")
            if not isinstance(text, dict) or not text.get("content"):
                return errcode(400402, "参数 text --> content 缺失")
            return str(text["content"])
        if msgtype == "markdown":
            markdown = payload.get("markdown")
            if not isinstance(markdown, dict) or not markdown.get("title"):
                return errcode(400402, "参数 markdown --> title 缺失")
            if not markdown.get("text"):
                return errcode(400402, "参数 markdown --> text 缺失")
            return f"{markdown['title']}\n{markdown['text']}"
        return errcode(40035, "缺少参数 msgtype")
