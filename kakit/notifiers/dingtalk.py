"""``dingtalk``: a DingTalk custom robot (自定义机器人), text or markdown, optionally signed (加签).

DingTalk answers HTTP 200 for business errors: success is ``errcode == 0`` in the body, never
the status alone (docs/alerts.md section 1). An ``@mobile`` only notifies when ``@<mobile>``
is also in the text, so the mentions are appended to it. Bodies over the 20000-byte limit are
shortened, not rejected: an alert cut short beats an alert refused with 460101.
"""

from __future__ import annotations

from kakit.core.converters import boolean, choice, list_of, string
from kakit.core.record import frozen, option
from kakit.notifiers.base import Notifier, PermanentError, RetryableError
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    TRUNCATED,
    SignedRobotOptions,
    endpoint,
    fit_json,
    json_answer,
    mobile,
    redact,
    request,
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

#: Rate limited: "send too fast, exceed 20 times per minute" and its newer code.
THROTTLE_CODES = frozenset({130101, 410100})
#: "系统繁忙": transient.
BUSY_CODES = frozenset({-1})
#: Security or configuration errors: retrying cannot help until someone fixes the robot.
PERMANENT_CODES = {
    310000: "check the robot's security settings: signing secret, keywords, IP allowlist, clock",
    300001: "the access token is unknown",
    300005: "the access token is unknown or the group is external",
    400013: "the group was dissolved",
    400102: "the robot is stopped",
    400106: "the robot does not exist",
    400402: "a required message field is missing",
    460101: "the message is too long",
}
#: DingTalk throttles a robot for 10 minutes after 20 messages in a minute.
THROTTLE_RETRY_AFTER = 60.0


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)).

    The result is the raw base64 text; it must be percent-encoded exactly once, as a query
    parameter (``request(params=...)`` does that).
    """
    import base64
    import hashlib
    import hmac

    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def with_mentions(body: str, mentions: tuple[str, ...]) -> str:
    """``body`` with ``@<who>`` appended for each mention it does not already contain."""
    missing = [f"@{person}" for person in mentions if f"@{person}" not in body]
    return f"{body}\n\n{' '.join(missing)}" if missing else body


@frozen
class DingtalkOptions(SignedRobotOptions):
    """Settings of a DingTalk robot channel (the shared ones come from SignedRobotOptions).

    Attributes:
        url: The robot's webhook URL with its ``access_token`` (a secret).
        secret: The 加签 signing secret (``SEC...``), if the robot uses signing.
        secret_file: The same, read from a file.
        timeout: Seconds for the request.
        max_bytes: Largest request body; longer texts are shortened to fit.
        msgtype: ``markdown`` (default) or ``text``.
        at_mobiles: Phone numbers to @mention (also written into the text, or they do not
            notify).
        at_user_ids: DingTalk user ids to @mention.
        is_at_all: @everyone in the group.
    """

    msgtype: str = option(choice("markdown", "text"), default="markdown")
    at_mobiles: tuple[str, ...] = option(list_of(mobile), default=())
    at_user_ids: tuple[str, ...] = option(list_of(string), default=())
    is_at_all: bool = option(boolean, default=False)


class DingtalkNotifier(Notifier):
    """Posts to a DingTalk custom robot; success is ``errcode`` 0."""

    type_name = "dingtalk"
    options_class = DingtalkOptions
    options: DingtalkOptions
    rate_limit = (20, 60.0)

    def payload(self, message: Message, body: str) -> dict[str, Any]:
        """The JSON payload carrying ``body`` (the text or markdown, mentions appended)."""
        opts = self.options
        body = with_mentions(body, (*opts.at_mobiles, *opts.at_user_ids))
        at = {
            "atMobiles": list(opts.at_mobiles),
            "atUserIds": list(opts.at_user_ids),
            "isAtAll": opts.is_at_all,
        }
        if opts.msgtype == "text":
            return {"msgtype": "text", "text": {"content": body}, "at": at}
        title = message.title.strip() or "kakit"
        return {"msgtype": "markdown", "markdown": {"title": title, "text": body}, "at": at}

    def body(self, message: Message) -> tuple[bytes, bool]:
        """The exact request body, shortened to ``max_bytes``; and whether it was shortened."""
        text = message.markdown if self.options.msgtype == "markdown" else message.text
        marker = TRUNCATED.get(message.language, TRUNCATED["en"])
        return fit_json(
            lambda part: self.payload(message, part), text, self.options.max_bytes, marker
        )

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Post the message (signed when a secret is set) and check ``errcode``.

        Raises:
            RetryableError: Transport error, timeout, 5xx, 429, throttled (130101/410100) or
                busy (-1).
            PermanentError: Bad token, signature, keywords, IP, body; other 4xx.
        """
        import time

        opts = self.options
        label = who(self)
        url = reveal(label, opts.url)
        secrets = url_secrets(url)
        params: dict[str, str] = {}
        key_ref = opts.signing_secret()
        if key_ref is not None:
            key = reveal(label, key_ref)
            secrets.append(key)
            timestamp = int(time.time() * 1000)
            params = {"timestamp": str(timestamp), "sign": sign(key, timestamp)}
        content, shortened = self.body(message)
        response = await request(
            client,
            label,
            "POST",
            url,
            seconds=opts.timeout,
            secrets=secrets,
            content=content,
            headers={"Content-Type": JSON_CONTENT_TYPE},
            params=params,
        )
        if response.status_code != 200:
            raise status_error(label, response, secrets)
        answer = json_answer(response)
        if not isinstance(answer, dict) or not isinstance(answer.get("errcode"), int):
            said = snippet(redact(response.text, secrets))
            raise PermanentError(
                f"{label}: {endpoint(url)} answered HTTP 200 without a DingTalk errcode: {said!r}"
            )
        code: int = answer["errcode"]
        errmsg = redact(str(answer.get("errmsg", "")), secrets)
        if code == 0:
            note = f" (text shortened to fit {opts.max_bytes} bytes)" if shortened else ""
            return f"errcode 0 {errmsg}{note}"
        if code in THROTTLE_CODES:
            raise RetryableError(
                f"{label}: errcode {code} {errmsg} (robot rate limited)",
                retry_after=THROTTLE_RETRY_AFTER,
            )
        if code in BUSY_CODES:
            raise RetryableError(f"{label}: errcode {code} {errmsg} (platform busy)")
        hint = PERMANENT_CODES.get(code, "unexpected error code")
        raise PermanentError(f"{label}: errcode {code} {errmsg} ({hint})")
