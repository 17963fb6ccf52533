"""``wecom``: a WeCom (企业微信) group robot, markdown or text.

The ``key`` in the URL is the only credential. Like DingTalk, WeCom answers HTTP 200 with an
``errcode``. Markdown content is limited to 4096 bytes and text to 2048 (longer is refused with
40058), so the content is shortened to fit. Mentions by phone number exist only for text
messages; markdown mentions user ids as ``<@userid>``.
"""

from __future__ import annotations

from kakit.core.converters import choice, duration, list_of, string
from kakit.core.record import frozen, option
from kakit.core.secrets import secret_ref
from kakit.notifiers.base import Notifier, PermanentError, RetryableError
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    TRUNCATED,
    check_url,
    dumps,
    endpoint,
    json_answer,
    mobile,
    redact,
    request,
    reveal,
    shorten,
    snippet,
    status_error,
    url_secrets,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import httpx

    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Message

#: Content limits in bytes of UTF-8, by msgtype.
MAX_CONTENT_BYTES = {"markdown": 4096, "text": 2048}
#: "api freq out of limit" (20 messages a minute per robot) and "system busy".
RETRYABLE_CODES = frozenset({45009, -1})
THROTTLE_RETRY_AFTER = 60.0


@frozen
class WecomOptions:
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

    url: Secret = option(secret_ref, secret=True)
    msgtype: str = option(choice("markdown", "text"), default="markdown")
    mentioned_mobile_list: tuple[str, ...] = option(list_of(mobile), default=())
    mentioned_list: tuple[str, ...] = option(list_of(string), default=())
    timeout: float = option(duration(high=60.0), default=5.0)

    def __post_init__(self) -> None:
        check_url(self.url)
        if self.msgtype == "markdown" and self.mentioned_mobile_list:
            raise ValueError(
                "msgtype text with mentioned_mobile_list (markdown mentions user ids through"
                " mentioned_list)"
            )


class WecomNotifier(Notifier):
    """Posts to a WeCom group robot; success is ``errcode`` 0."""

    type_name = "wecom"
    options_class = WecomOptions
    options: WecomOptions
    rate_limit = (20, 60.0)

    def payload(self, message: Message) -> tuple[dict[str, Any], bool]:
        """The JSON payload, content shortened to the msgtype's limit; and whether it was."""
        opts = self.options
        marker = TRUNCATED.get(message.language, TRUNCATED["en"])
        if opts.msgtype == "markdown":
            tags = " ".join(
                "@all" if user == "@all" else f"<@{user}>" for user in opts.mentioned_list
            )
            suffix = f"\n{tags}" if tags else ""
            room = MAX_CONTENT_BYTES["markdown"] - len(suffix.encode("utf-8"))
            content = shorten(message.markdown, room, marker)
            return (
                {"msgtype": "markdown", "markdown": {"content": content + suffix}},
                content != message.markdown,
            )
        content = shorten(message.text, MAX_CONTENT_BYTES["text"], marker)
        text: dict[str, Any] = {"content": content}
        if opts.mentioned_list:
            text["mentioned_list"] = list(opts.mentioned_list)
        if opts.mentioned_mobile_list:
            text["mentioned_mobile_list"] = list(opts.mentioned_mobile_list)
        return {"msgtype": "text", "text": text}, content != message.text

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Post the message and check ``errcode``.

        Raises:
            RetryableError: Transport error, timeout, 5xx, 429, 45009 (rate limited), -1.
            PermanentError: Any other errcode (invalid key, too long...) or 4xx.
        """
        opts = self.options
        label = who(self)
        url = reveal(label, opts.url)
        secrets = url_secrets(url)
        payload, shortened = self.payload(message)
        response = await request(
            client,
            label,
            "POST",
            url,
            seconds=opts.timeout,
            secrets=secrets,
            content=dumps(payload),
            headers={"Content-Type": JSON_CONTENT_TYPE},
        )
        if response.status_code != 200:
            raise status_error(label, response, secrets)
        answer = json_answer(response)
        if not isinstance(answer, dict) or not isinstance(answer.get("errcode"), int):
            said = snippet(redact(response.text, secrets))
            raise PermanentError(
                f"{label}: {endpoint(url)} answered HTTP 200 without a WeCom errcode: {said!r}"
            )
        code: int = answer["errcode"]
        errmsg = snippet(redact(str(answer.get("errmsg", "")), secrets))
        if code == 0:
            return f"errcode 0 {errmsg}" + (" (content shortened)" if shortened else "")
        if code in RETRYABLE_CODES:
            raise RetryableError(
                f"{label}: errcode {code} {errmsg} (rate limited or busy)",
                retry_after=THROTTLE_RETRY_AFTER if code == 45009 else None,
            )
        raise PermanentError(f"{label}: errcode {code} {errmsg}")
