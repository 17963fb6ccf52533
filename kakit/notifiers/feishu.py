"""``feishu``: a Feishu (or Lark) custom bot, text message, optionally signed.

Feishu's signing is not DingTalk's: seconds, HMAC keyed with ``timestamp + "\\n" + secret`` over
an empty message, and ``timestamp``/``sign`` travel in the JSON body (docs/architecture.md, "Alert platforms").
Lark is the same API on ``open.larksuite.com``: only the URL differs.
"""

from __future__ import annotations

from kakit.core.record import frozen
from kakit.notifiers.http import HttpRequest, fit_json
from kakit.notifiers.robot import RobotNotifier, SignedRobotOptions, refuse_code, retry_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.notifiers.base import Attempt, Message

#: What Feishu's codes mean, beyond 0 (docs/architecture.md, "Alert platforms"). Any code that comes with
#: HTTP 429 or 5xx is retryable too.
CODES = {
    # Signature/timestamp, IP allowlist and keyword failures: configuration, not luck.
    19021: refuse_code("check the signing secret and this host's clock"),
    19022: refuse_code("this host's address is not in the bot's IP allowlist"),
    19024: refuse_code("the message lacks the bot's keywords"),
    # "too many request" and the frequency limit.
    9499: retry_code("rate limited or busy"),
    11232: retry_code("rate limited or busy"),
}


def sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=b""))."""
    import base64
    import hashlib
    import hmac

    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


@frozen
class FeishuOptions(SignedRobotOptions):
    """Settings of a Feishu/Lark bot channel (all of them from SignedRobotOptions).

    Attributes:
        url: The bot's webhook URL (``.../open-apis/bot/v2/hook/TOKEN``; a secret).
        secret: The signing secret, if the bot has signature verification on.
        secret_file: The same, read from a file.
        timeout: Seconds for the request.
        max_bytes: Largest request body (Feishu accepts 20 KB); longer texts are shortened.
    """


class FeishuNotifier(RobotNotifier[FeishuOptions]):
    """Posts a text message to a Feishu/Lark bot; success is ``code`` 0."""

    type_name = "feishu"
    rate_limit = (100, 60.0)
    platform = "Feishu"
    # The legacy API answered StatusCode/StatusMessage.
    code_keys = ("code", "StatusCode")
    message_keys = ("msg", "StatusMessage")
    codes = CODES
    # Feishu puts its code in the body also on some 4xx answers.
    codes_only_with_200 = False

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The text message, signed in the body (``timestamp``/``sign``) when a secret is set."""
        opts = self.options
        url = self.reveal_url(opts.url, attempt)
        signature = opts.signature(attempt, sign)

        def payload(text: str) -> dict[str, Any]:
            return {**signature, "msg_type": "text", "content": {"text": text}}

        content, note = fit_json(payload, message.text, opts.max_bytes, message.language)
        return HttpRequest(url, content, note=note)
