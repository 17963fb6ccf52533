"""``wecom``: a WeCom (企业微信) group robot, markdown or text.

The ``key`` in the URL is the only credential. Like DingTalk, WeCom answers HTTP 200 with an
``errcode``. Markdown content is limited to 4096 bytes and text to 2048 (longer is refused with
40058), so the content is shortened to fit. Mentions by phone number exist only for text
messages; markdown mentions user ids as ``<@userid>``.
"""

from __future__ import annotations

from kakit.core.converters import choice, list_of, string
from kakit.core.record import frozen, option
from kakit.notifiers.common import marker, mobile, shorten
from kakit.notifiers.http import HttpRequest, UrlOptions, dumps
from kakit.notifiers.robot import RobotNotifier, retry_code

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.notifiers.base import Attempt, Message

#: Content limits in bytes of UTF-8, by msgtype.
MAX_CONTENT_BYTES = {"markdown": 4096, "text": 2048}
#: WeCom throttles a robot after 20 messages a minute.
THROTTLE_RETRY_AFTER = 60.0
#: The retryable errcodes; every other one is permanent (invalid key, content too long...).
CODES = {
    45009: retry_code("rate limited", THROTTLE_RETRY_AFTER),  # api freq out of limit
    -1: retry_code("platform busy"),  # system busy
}


@frozen
class WecomOptions(UrlOptions):
    """Settings of a WeCom group robot channel.

    Attributes:
        url: The robot's webhook URL (``.../cgi-bin/webhook/send?key=KEY``; a secret).
        msgtype: ``markdown`` (default) or ``text``.
        mentioned_mobile_list: Phone numbers to @mention (text messages only; ``@all`` for
            everyone).
        mentioned_list: User ids to @mention (``@all`` for everyone); in markdown written as
            ``<@userid>``.
        timeout: Seconds for the request.
    """

    msgtype: str = option(choice("markdown", "text"), default="markdown")
    mentioned_mobile_list: tuple[str, ...] = option(list_of(mobile), default=())
    mentioned_list: tuple[str, ...] = option(list_of(string), default=())

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.msgtype == "markdown" and self.mentioned_mobile_list:
            raise ValueError(
                "msgtype text with mentioned_mobile_list (markdown mentions user ids through"
                " mentioned_list)"
            )


class WecomNotifier(RobotNotifier[WecomOptions]):
    """Posts to a WeCom group robot; success is ``errcode`` 0."""

    type_name = "wecom"
    rate_limit = (20, 60.0)
    platform = "WeCom"
    codes = CODES

    def payload(self, message: Message) -> tuple[dict[str, Any], bool]:
        """The JSON payload, content shortened to the msgtype's limit; and whether it was."""
        opts = self.options
        cut = marker(message.language)
        if opts.msgtype == "markdown":
            tags = " ".join(
                "@all" if user == "@all" else f"<@{user}>" for user in opts.mentioned_list
            )
            suffix = f"\n{tags}" if tags else ""
            room = MAX_CONTENT_BYTES["markdown"] - len(suffix.encode("utf-8"))
            content = shorten(message.markdown, room, cut)
            return (
                {"msgtype": "markdown", "markdown": {"content": content + suffix}},
                content != message.markdown,
            )
        content = shorten(message.text, MAX_CONTENT_BYTES["text"], cut)
        text: dict[str, Any] = {"content": content}
        if opts.mentioned_list:
            text["mentioned_list"] = list(opts.mentioned_list)
        if opts.mentioned_mobile_list:
            text["mentioned_mobile_list"] = list(opts.mentioned_mobile_list)
        return {"msgtype": "text", "text": text}, content != message.text

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The robot URL (its ``key`` is the credential) and the payload."""
        url = self.reveal_url(self.options.url, attempt)
        payload, shortened = self.payload(message)
        return HttpRequest(url, dumps(payload), note=" (content shortened)" if shortened else "")
