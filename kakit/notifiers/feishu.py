"""``feishu``: a Feishu (or Lark) custom bot, text message, optionally signed.

Feishu's signing is not DingTalk's: seconds, HMAC keyed with ``timestamp + "\\n" + secret`` over
an empty message, and ``timestamp``/``sign`` travel in the JSON body (docs/alerts.md section 2).
Lark is the same API on ``open.larksuite.com``: only the URL differs.
"""

from __future__ import annotations

from kakit.core.record import frozen
from kakit.notifiers.base import Notifier, PermanentError, RetryableError
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    TRUNCATED,
    SignedRobotOptions,
    endpoint,
    fit_json,
    json_answer,
    redact,
    request,
    retry_after,
    reveal,
    snippet,
    status_error,
    url_secrets,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import httpx

    from kakit.notifiers.base import Message

#: Signature/timestamp, IP allowlist and keyword failures: configuration, not luck.
PERMANENT_CODES = {
    19021: "check the signing secret and this host's clock",
    19022: "this host's address is not in the bot's IP allowlist",
    19024: "the message lacks the bot's keywords",
}
#: "too many request" and the frequency limit.
RETRYABLE_CODES = frozenset({9499, 11232})


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


class FeishuNotifier(Notifier):
    """Posts a text message to a Feishu/Lark bot; success is ``code`` 0."""

    type_name = "feishu"
    options_class = FeishuOptions
    options: FeishuOptions
    rate_limit = (100, 60.0)

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Post the message (signed in the body when a secret is set) and check ``code``.

        Raises:
            RetryableError: Transport error, timeout, 5xx, 429, codes 9499/11232.
            PermanentError: Signature, IP, keyword or token errors; other 4xx.
        """
        import time

        opts = self.options
        label = who(self)
        url = reveal(label, opts.url)
        secrets = url_secrets(url)
        signature: dict[str, str] = {}
        key_ref = opts.signing_secret()
        if key_ref is not None:
            key = reveal(label, key_ref)
            secrets.append(key)
            timestamp = int(time.time())
            signature = {"timestamp": str(timestamp), "sign": sign(key, timestamp)}

        def payload(text: str) -> dict[str, Any]:
            return {**signature, "msg_type": "text", "content": {"text": text}}

        marker = TRUNCATED.get(message.language, TRUNCATED["en"])
        content, shortened = fit_json(payload, message.text, opts.max_bytes, marker)
        response = await request(
            client,
            label,
            "POST",
            url,
            seconds=opts.timeout,
            secrets=secrets,
            content=content,
            headers={"Content-Type": JSON_CONTENT_TYPE},
        )
        answer = json_answer(response)
        if not isinstance(answer, dict):
            answer = {}
        # Feishu puts the code in the body, also on some 4xx answers; the legacy API used
        # StatusCode/StatusMessage.
        code = answer.get("code", answer.get("StatusCode"))
        if not isinstance(code, int):
            if response.status_code != 200:
                raise status_error(label, response, secrets)
            said = snippet(redact(response.text, secrets))
            raise PermanentError(
                f"{label}: {endpoint(url)} answered HTTP 200 without a Feishu code: {said!r}"
            )
        msg = redact(str(answer.get("msg", answer.get("StatusMessage", ""))), secrets)
        if code == 0:
            note = f" (text shortened to fit {opts.max_bytes} bytes)" if shortened else ""
            return f"code 0 {msg}{note}"
        if code in RETRYABLE_CODES or response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(
                f"{label}: code {code} {msg} (rate limited or busy)",
                retry_after=retry_after(response),
            )
        hint = PERMANENT_CODES.get(code, "unexpected error code")
        raise PermanentError(f"{label}: code {code} {msg} ({hint})")
