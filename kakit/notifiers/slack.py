"""``slack``: a Slack incoming webhook, one mrkdwn text.

The URL is the credential. Slack answers ``200 ok`` on success and a status with a plain-text
code otherwise (``400 invalid_payload``, ``403 invalid_token``, ``404 no_service``); a 429
carries ``Retry-After``. The message's markdown is rewritten into Slack's mrkdwn dialect
(``*bold*``, no headings) and ``&``, ``<``, ``>`` are escaped as Slack requires.
"""

from __future__ import annotations

from kakit.core.record import frozen
from kakit.notifiers.http import HttpNotifier, HttpRequest, UrlOptions, dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

    from kakit.notifiers.base import Attempt, Message


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
class SlackOptions(UrlOptions):
    """Settings of a Slack incoming-webhook channel (all of them from UrlOptions).

    Attributes:
        url: The webhook URL (``https://hooks.slack.com/services/...``; a secret).
        timeout: Seconds for the request.
    """


class SlackNotifier(HttpNotifier[SlackOptions]):
    """Posts ``{"text": ...}`` to a Slack incoming webhook; success is ``200 ok``."""

    type_name = "slack"
    # Slack allows about one message a second per webhook, with short bursts.
    rate_limit = (60, 60.0)

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The message's markdown as mrkdwn, to the webhook URL (its path is the credential)."""
        url = self.reveal_url(self.options.url, attempt)
        return HttpRequest(url, dumps({"text": to_mrkdwn(message.markdown)}))

    def read(self, response: httpx.Response, request: HttpRequest, attempt: Attempt) -> str:
        """Success is HTTP 200 with the body ``ok``.

        Raises:
            RetryableError: 5xx, 429 (with ``Retry-After``).
            PermanentError: Other 4xx (invalid token, archived channel...), another 200 body.
        """
        if response.status_code != 200:
            raise self.status_error(response, attempt)
        said = attempt.quote(response.text)
        if said != "ok":
            raise attempt.permanent(f"HTTP 200 but the answer is {said!r}, not 'ok'")
        return "HTTP 200 ok"
