"""``telegram``: a Telegram bot's ``sendMessage`` to one chat, HTML parse mode.

The bot token sits in the request path (``/bot<TOKEN>/sendMessage``), so it never appears in a
message: only ``scheme://host`` of the API is shown. Telegram answers ``{"ok": true}``; a 429
names the wait in ``parameters.retry_after``. The text is HTML-escaped (only ``&``, ``<`` and
``>`` matter to Telegram) and cut to Telegram's 4096 characters.
"""

from __future__ import annotations

from kakit.core.converters import boolean, duration
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file
from kakit.notifiers.base import Notifier, PermanentError, RetryableError
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    TRUNCATED,
    dumps,
    http_url,
    json_answer,
    redact,
    request,
    retry_after,
    reveal,
    snippet,
    status_error,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

    from kakit.core.converters import Node
    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Message

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
class TelegramOptions:
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
    timeout: float = option(duration(high=60.0), default=5.0)

    def __post_init__(self) -> None:
        if either(self.bot_token, self.bot_token_file, "bot_token") is None:
            raise ValueError("bot_token or bot_token_file")

    def token(self) -> Secret:
        """The bot token reference, from ``bot_token`` or ``bot_token_file``."""
        found = either(self.bot_token, self.bot_token_file, "bot_token")
        if found is None:  # __post_init__ refused this already
            raise ValueError("bot_token or bot_token_file")
        return found


class TelegramNotifier(Notifier):
    """Sends the message through a Telegram bot; success is ``"ok": true``."""

    type_name = "telegram"
    options_class = TelegramOptions
    options: TelegramOptions
    # A bot may post about 20 messages a minute to one group.
    rate_limit = (20, 60.0)

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Call ``sendMessage``.

        Raises:
            RetryableError: Transport error, timeout, 5xx, 429 (with ``retry_after``).
            PermanentError: 400, 401, 403, 404 and other refusals.
        """
        opts = self.options
        label = who(self)
        token = reveal(label, opts.token())
        secrets = [token]
        marker = TRUNCATED.get(message.language, TRUNCATED["en"])
        text = message.text
        if len(text) > MAX_CHARS:
            text = text[: MAX_CHARS - len(marker)] + marker
        payload = {
            "chat_id": opts.chat_id,
            "text": html_escape(text),
            "parse_mode": "HTML",
            "disable_notification": opts.disable_notification,
        }
        response = await request(
            client,
            label,
            "POST",
            f"{opts.api_url}/bot{token}/sendMessage",
            seconds=opts.timeout,
            secrets=secrets,
            content=dumps(payload),
            headers={"Content-Type": JSON_CONTENT_TYPE},
        )
        answer = json_answer(response)
        if not isinstance(answer, dict):
            raise status_error(label, response, secrets)
        if response.status_code == 200 and answer.get("ok") is True:
            result = answer.get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return "ok" + (f" message_id {message_id}" if message_id is not None else "")
        status = response.status_code
        code = answer.get("error_code", status)
        description = snippet(redact(str(answer.get("description", "")), secrets))
        said = f"{label}: error {code}: {description}"
        if code == 429 or status == 429:
            parameters = answer.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            seconds = float(wait) if isinstance(wait, int | float) else retry_after(response)
            raise RetryableError(said, retry_after=seconds)
        if status >= 500:
            raise RetryableError(said, retry_after=retry_after(response))
        if status in PERMANENT_STATUSES:
            raise PermanentError(said)
        raise PermanentError(f"{said} (HTTP {status})")
