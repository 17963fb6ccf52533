"""What the HTTP channels share: one request with its errors translated, answers, shortening.

Every message built here names the channel (``dingtalk channel 'ops-ding'``) and what the
platform answered, and passes through :func:`redact` so that a token echoed by a platform or a
library never reaches a log. URLs are shown as ``scheme://host[:port]`` only (:func:`endpoint`):
the robots' URLs carry their access tokens.

httpx and json are imported inside the functions: the keepalived notify path imports the channel
modules to validate the configuration and must not pay for them.
"""

from __future__ import annotations

from kakit.core.converters import duration, integer
from kakit.core.record import frozen, option
from kakit.core.secrets import either, optional_secret, secret_file, secret_ref
from kakit.exceptions import ConfigError
from kakit.notifiers.base import PermanentError, RetryableError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    import httpx

    from kakit.core.converters import Node
    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Notifier

#: DingTalk requires the charset ("必须将字符集编码设置成UTF-8"); the others accept it.
JSON_CONTENT_TYPE = "application/json;charset=utf-8"

#: Appended to a text that was cut to fit a platform's size limit, by message language.
TRUNCATED = {"en": "\n… (truncated)", "zh": "\n…(内容过长, 已截断)"}

#: Error texts quoted from a platform are cut to this many characters.
SNIPPET_CHARS = 200


def who(notifier: Notifier) -> str:
    """How messages name a channel: ``dingtalk channel 'ops-ding'``."""
    return f"{notifier.type_name} channel {notifier.name!r}"


def reveal(label: str, secret: Secret) -> str:
    """The secret's value; an unreadable secret file is a permanent failure of the channel.

    Raises:
        PermanentError: The file or variable is missing or empty (the message names the
            reference, never a value).
    """
    try:
        return secret.reveal()
    except ConfigError as exc:
        raise PermanentError(f"{label}: {exc}") from exc


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be a credential: the URL itself, query values, user info
    and long path segments (Slack, Feishu and Telegram keep their tokens in the path)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(url)
    found = [url]
    found.extend(value for _, value in parse_qsl(parts.query) if len(value) >= 4)
    if parts.password:
        found.append(unquote(parts.password))
    found.extend(unquote(seg) for seg in parts.path.split("/") if len(seg) >= 16)
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def endpoint(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` of a URL: what may be printed about it."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def check_url(secret: Secret, what: str = "url") -> None:
    """Refuse an inline URL that is not http(s) (a reference is checked when it is read).

    Raises:
        ValueError: Worded to follow "expected" in the ConfigError; it does not repeat the
            value, which holds the token.
    """
    if secret.kind == "inline" and not secret.ref.strip().startswith(("https://", "http://")):
        raise ValueError(f"{what} to start with https:// or http://")


def http_url(node: Node) -> str:
    """Converter: an http(s) URL that holds no secret (Alertmanager's base URL)."""
    value = node.value
    if not isinstance(value, str) or not value.strip().startswith(("http://", "https://")):
        raise node.error("an http:// or https:// URL")
    return value.strip().rstrip("/")


def mobile(node: Node) -> str:
    """Converter: a phone number, written as a YAML number or a string (``+852-12345678``)."""
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip() and not any(ch.isspace() for ch in value.strip()):
        return value.strip()
    raise node.error("a phone number such as '13800000000'")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes sent (so size limits can be checked on them)."""
    import json

    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def shorten(text: str, max_bytes: int, marker: str) -> str:
    """``text`` cut at a character boundary so that it and ``marker`` fit ``max_bytes`` of UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    return data[:room].decode("utf-8", "ignore") + marker


def fit_json(
    build: Callable[[str], Any], text: str, max_bytes: int, marker: str
) -> tuple[bytes, bool]:
    """The JSON body ``build(text)``, with ``text`` shortened as little as needed to fit.

    JSON escaping makes the body grow unevenly with the text (a newline costs two bytes, a
    quote two), so the longest fitting cut is found by bisection on the text's byte budget.
    When even an empty text does not fit, the smallest body is returned and the platform
    will refuse it.

    Returns:
        The body and whether the text was shortened.
    """
    body = dumps(build(text))
    if len(body) <= max_bytes:
        return body, False
    low, high = 0, len(text.encode("utf-8"))
    best = dumps(build(shorten(text, 0, marker)))
    while low < high:
        middle = (low + high + 1) // 2
        candidate = dumps(build(shorten(text, middle, marker)))
        if len(candidate) <= max_bytes:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best, True


def json_answer(response: httpx.Response) -> Any:
    """The response body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if any."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(
    label: str, response: httpx.Response, secrets: Iterable[str], detail: str | None = None
) -> RetryableError | PermanentError:
    """The error for a non-success HTTP status: 408, 429 and 5xx retryable, the rest permanent.

    Args:
        label: The channel (:func:`who`).
        response: The answer.
        secrets: Values to redact from the quoted body.
        detail: What the platform said, when the caller parsed it (default: the body text).
    """
    status = response.status_code
    said = detail if detail is not None else response.text
    said = snippet(redact(said, secrets))
    text = f"{label}: HTTP {status} {response.reason_phrase}" + (f": {said}" if said else "")
    if status in (408, 429) or status >= 500:
        return RetryableError(text, retry_after=retry_after(response))
    return PermanentError(text)


async def request(
    client: httpx.AsyncClient,
    label: str,
    method: str,
    url: str | httpx.URL,
    *,
    seconds: float,
    secrets: Iterable[str],
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One HTTP request with httpx's errors translated (nothing is retried here).

    ``seconds`` is the channel's timeout, given to httpx for this request (connect, read,
    write and pool wait each), so one shared client serves channels with different timeouts.

    ``params`` are *added* to the URL's query: httpx's own ``params=`` replaces the query, which
    would drop DingTalk's ``access_token``. Values are percent-encoded exactly once.

    Raises:
        RetryableError: Timeout, connection refused, TLS failure, broken connection.
        PermanentError: The URL cannot be requested at all (bad scheme or syntax).
    """
    import httpx

    secrets = list(secrets)
    where = endpoint(url)
    try:
        target = httpx.URL(url)
        if params:
            target = target.copy_merge_params(params)
        return await client.request(
            method, target, content=content, headers=headers, timeout=seconds
        )
    except httpx.TimeoutException as exc:
        raise RetryableError(
            f"{label}: no answer from {where} within {seconds:g} s ({type(exc).__name__})"
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentError(
            f"{label}: cannot request {where}: {redact(str(exc), secrets)}"
        ) from exc
    except httpx.HTTPError as exc:
        reason = redact(str(exc), secrets) or type(exc).__name__
        raise RetryableError(f"{label}: request to {where} failed: {reason}") from exc


# --- shared settings ---------------------------------------------------------------------------


@frozen
class SignedRobotOptions:
    """Settings shared by the IM robots that sign their requests (DingTalk, Feishu).

    Attributes:
        url: The robot's webhook URL, with its token (a secret).
        secret: The signing secret, if the robot uses signing.
        secret_file: The same, read from a file.
        timeout: Seconds for the request.
        max_bytes: Largest request body; longer texts are shortened to fit.
    """

    url: Secret = option(secret_ref, secret=True)
    secret: Secret | None = option(optional_secret, default=None, secret=True)
    secret_file: Secret | None = option(secret_file, default=None, secret=True)
    timeout: float = option(duration(high=60.0), default=5.0)
    max_bytes: int = option(integer(1000, 20000), default=20000)

    def __post_init__(self) -> None:
        check_url(self.url)
        either(self.secret, self.secret_file, "secret")

    def signing_secret(self) -> Secret | None:
        """The signing secret, from ``secret`` or ``secret_file``."""
        return either(self.secret, self.secret_file, "secret")
