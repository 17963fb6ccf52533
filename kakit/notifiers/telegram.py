"""``telegram``: a Telegram bot's ``sendMessage`` to one chat, HTML parse mode.

The bot token sits in the request path (``/bot<TOKEN>/sendMessage``), so it never appears in a
message: only ``scheme://host`` of the API is shown. Telegram answers ``{"ok": true}``; a 429
names the wait in ``parameters.retry_after``. The text is HTML-escaped (only ``&``, ``<`` and
``>`` matter to Telegram) and cut to Telegram's 4096 characters.
"""

from __future__ import annotations

from kakit.core.converters import boolean
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file
from kakit.notifiers.base import NotifierOptions
from kakit.notifiers.common import http_url, marker
from kakit.notifiers.http import HttpNotifier, HttpRequest, dumps, json_answer, retry_after

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

    from kakit.core.converters import Node
    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Attempt, Message

DEFAULT_API_URL = "https://api.telegram.org"
#: Telegram's limit on a message, in characters after entity parsing.
MAX_CHARS = 4096
#: Bad request, bad token, bot blocked or kicked, unknown chat: fix the configuration.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})


def chat_id(node: Node) -> int | str:
    """Converter: a numeric chat id (``-100123``) or a ``@channelusername``."""
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if text.startswith("@") and len(text) > 1:
            return text
    raise node.error("a chat id such as -1001234567890 or a @channelusername")


def html_escape(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@frozen
class TelegramOptions(NotifierOptions):
    """Settings of a Telegram bot channel.

    Attributes:
        bot_token: The bot's token from @BotFather (a secret).
        bot_token_file: The same, read from a file.
        chat_id: The chat to post to: a numeric id or ``@channelusername``.
        api_url: The Bot API base URL (changed for a local Bot API server or tests).
        disable_notification: Deliver silently.
        timeout: Seconds for the request.
    """

    chat_id: int | str = option(chat_id)
    bot_token: Secret | None = option(optional_secret, default=None, secret=True)
    bot_token_file: Secret | None = option(secret_file, default=None, secret=True)
    api_url: str = option(http_url, default=DEFAULT_API_URL)
    disable_notification: bool = option(boolean, default=False)

    def __post_init__(self) -> None:
        if either(self.bot_token, self.bot_token_file, "bot_token") is None:
            raise ValueError("bot_token or bot_token_file")

    def token(self) -> Secret:
        """The bot token reference, from ``bot_token`` or ``bot_token_file``."""
        found = either(self.bot_token, self.bot_token_file, "bot_token")
        if found is None:  # __post_init__ refused this already
            raise ValueError("bot_token or bot_token_file")
        return found


class TelegramNotifier(HttpNotifier[TelegramOptions]):
    """Sends the message through a Telegram bot; success is ``"ok": true``."""

    type_name = "telegram"
    # A bot may post about 20 messages a minute to one group.
    rate_limit = (20, 60.0)

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """``sendMessage`` (the token in the path), the text HTML-escaped and cut to fit."""
        opts = self.options
        token = attempt.reveal(opts.token())
        text = message.text
        if len(text) > MAX_CHARS:
            cut = marker(message.language)
            text = text[: MAX_CHARS - len(cut)] + cut
        payload = {
            "chat_id": opts.chat_id,
            "text": html_escape(text),
            "parse_mode": "HTML",
            "disable_notification": opts.disable_notification,
        }
        return HttpRequest(f"{opts.api_url}/bot{token}/sendMessage", dumps(payload))

    def read(self, response: httpx.Response, request: HttpRequest, attempt: Attempt) -> str:
        """Success is HTTP 200 with ``"ok": true``.

        Raises:
            RetryableError: 5xx, 429 (with ``parameters.retry_after``).
            PermanentError: 400, 401, 403, 404 and other refusals; an answer that is not JSON
                with a status that is not retryable.
        """
        answer = json_answer(response)
        if not isinstance(answer, dict):
            raise self.status_error(response, attempt)
        status = response.status_code
        if status == 200 and answer.get("ok") is True:
            result = answer.get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return "ok" + (f" message_id {message_id}" if message_id is not None else "")
        code = answer.get("error_code", status)
        said = f"error {code}: {attempt.quote(str(answer.get('description', '')))}"
        if code == 429 or status == 429:
            parameters = answer.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            seconds = float(wait) if isinstance(wait, int | float) else retry_after(response)
            raise attempt.retryable(said, seconds)
        if status >= 500:
            raise attempt.retryable(said, retry_after(response))
        if status in PERMANENT_STATUSES:
            raise attempt.permanent(said)
        raise attempt.permanent(f"{said} (HTTP {status})")
