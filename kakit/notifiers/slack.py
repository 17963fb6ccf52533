"""``slack``: a Slack incoming webhook, one mrkdwn text.

The URL is the credential. Slack answers ``200 ok`` on success and a status with a plain-text
code otherwise (``400 invalid_payload``, ``403 invalid_token``, ``404 no_service``); a 429
carries ``Retry-After``. The message's markdown is rewritten into Slack's mrkdwn dialect
(``*bold*``, no headings) and ``&``, ``<``, ``>`` are escaped as Slack requires.
"""

from __future__ import annotations

from kakit.core.converters import duration
from kakit.core.record import frozen, option
from kakit.core.secrets import secret_ref
from kakit.notifiers.base import Notifier, PermanentError
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    check_url,
    dumps,
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
    import httpx

    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Message


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn from the renderer's markdown subset.

    Headings become bold lines, ``**bold**`` becomes ``*bold*``, and ``&``, ``<``, ``>`` are
    escaped except a leading ``>`` that starts a quote.
    """
    lines = []
    for line in markdown.splitlines():
        quote = ""
        stripped = line.lstrip()
        if stripped.startswith(">"):
            quote, line = ">", stripped[1:]
        line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        heading = line.lstrip()
        if heading.startswith("#"):
            title = heading.lstrip("#").strip()
            line = f"*{title}*" if title else ""
        line = line.replace("**", "*")
        lines.append(quote + line)
    return "\n".join(lines)


@frozen
class SlackOptions:
    """Settings of a Slack incoming-webhook channel.

    Attributes:
        url: The webhook URL (``https://hooks.slack.com/services/...``; a secret).
        timeout: Seconds for the request.
    """

    url: Secret = option(secret_ref, secret=True)
    timeout: float = option(duration(high=60.0), default=5.0)

    def __post_init__(self) -> None:
        check_url(self.url)


class SlackNotifier(Notifier):
    """Posts ``{"text": ...}`` to a Slack incoming webhook; success is ``200 ok``."""

    type_name = "slack"
    options_class = SlackOptions
    options: SlackOptions
    # Slack allows about one message a second per webhook, with short bursts.
    rate_limit = (60, 60.0)

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Post the message.

        Raises:
            RetryableError: Transport error, timeout, 5xx, 429 (with ``Retry-After``).
            PermanentError: Other 4xx (invalid token, archived channel...).
        """
        opts = self.options
        label = who(self)
        url = reveal(label, opts.url)
        secrets = url_secrets(url)
        response = await request(
            client,
            label,
            "POST",
            url,
            seconds=opts.timeout,
            secrets=secrets,
            content=dumps({"text": to_mrkdwn(message.markdown)}),
            headers={"Content-Type": JSON_CONTENT_TYPE},
        )
        if response.status_code != 200:
            raise status_error(label, response, secrets)
        said = snippet(redact(response.text, secrets))
        if said != "ok":
            raise PermanentError(f"{label}: HTTP 200 but the answer is {said!r}, not 'ok'")
        return "HTTP 200 ok"
