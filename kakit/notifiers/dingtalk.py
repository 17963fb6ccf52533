"""``dingtalk``: a DingTalk custom robot (自定义机器人), text or markdown, optionally signed (加签).

DingTalk answers HTTP 200 for business errors: success is ``errcode == 0`` in the body, never
the status alone (docs/architecture.md, "Alert platforms"). An ``@mobile`` only notifies when ``@<mobile>``
is also in the text, so the mentions are appended to it. Bodies over the 20000-byte limit are
shortened, not rejected: an alert cut short beats an alert refused with 460101.
"""

from __future__ import annotations

from kakit.core.converters import boolean, choice, list_of, string
from kakit.core.record import frozen, option
from kakit.notifiers.common import mobile
from kakit.notifiers.http import HttpRequest, fit_json
from kakit.notifiers.robot import RobotNotifier, SignedRobotOptions, refuse_code, retry_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.notifiers.base import Attempt, Message

#: DingTalk throttles a robot for 10 minutes after 20 messages in a minute.
THROTTLE_RETRY_AFTER = 60.0
#: What DingTalk's errcodes mean, beyond 0 (docs/architecture.md, "Alert platforms"). Security and
#: configuration errors are permanent: retrying cannot help until someone fixes the robot.
CODES = {
    # "send too fast, exceed 20 times per minute" and its newer code.
    130101: retry_code("robot rate limited", THROTTLE_RETRY_AFTER),
    410100: retry_code("robot rate limited", THROTTLE_RETRY_AFTER),
    -1: retry_code("platform busy"),  # 系统繁忙
    310000: refuse_code(
        "check the robot's security settings: signing secret, keywords, IP allowlist, clock"
    ),
    300001: refuse_code("the access token is unknown"),
    300005: refuse_code("the access token is unknown or the group is external"),
    400013: refuse_code("the group was dissolved"),
    400102: refuse_code("the robot is stopped"),
    400106: refuse_code("the robot does not exist"),
    400402: refuse_code("a required message field is missing"),
    460101: refuse_code("the message is too long"),
}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)).

    The result is the raw base64 text; it must be percent-encoded exactly once, as a query
    parameter (``HttpRequest(params=...)`` does that).
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


class DingtalkNotifier(RobotNotifier[DingtalkOptions]):
    """Posts to a DingTalk custom robot; success is ``errcode`` 0."""

    type_name = "dingtalk"
    rate_limit = (20, 60.0)
    platform = "DingTalk"
    codes = CODES

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

    def body(self, message: Message) -> tuple[bytes, str]:
        """The exact request body, shortened to ``max_bytes``; and the note saying so."""
        text = message.markdown if self.options.msgtype == "markdown" else message.text
        return fit_json(
            lambda part: self.payload(message, part),
            text,
            self.options.max_bytes,
            message.language,
        )

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The robot URL, signed (``timestamp``/``sign`` query parameters) when a secret is set."""
        url = self.reveal_url(self.options.url, attempt)
        params = self.options.signature(attempt, sign, per_second=1000)
        content, note = self.body(message)
        return HttpRequest(url, content, params=params, note=note)
