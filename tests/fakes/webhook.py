"""A generic HTTP(S) sink: records every request and answers as scripted.

Used for the ``webhook`` channel and, with matching default answers, for the Slack, Telegram
and WeCom presets (:func:`slack_sink`, :func:`telegram_sink`, :func:`wecom_sink`).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.http import Answer, FakeServer, Request
from tests.fakes.tls import TlsFiles


class WebhookSink(FakeServer):
    """Records requests; answers scripted answers first, then ``default``.

    Args:
        default: The normal answer (``200 ok``).
        tls: Serve HTTPS with this certificate.
    """

    def __init__(self, default: Answer | None = None, tls: TlsFiles | None = None) -> None:
        super().__init__(tls=tls)
        self.default = default or Answer.text("ok")

    def handle(self, request: Request) -> Answer:
        """The default answer."""
        return self.default

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies received, in order."""
        return [request.json for request in self.requests]


def slack_sink() -> WebhookSink:
    """Answers like a Slack incoming webhook: ``200 ok``."""
    return WebhookSink(Answer.text("ok"))


def telegram_sink() -> WebhookSink:
    """Answers like the Bot API's ``sendMessage``."""
    return WebhookSink(Answer.json({"ok": True, "result": {"message_id": 42, "chat": {}}}))


def wecom_sink() -> WebhookSink:
    """Answers like a WeCom group robot."""
    return WebhookSink(Answer.json({"errcode": 0, "errmsg": "ok"}))
