"""Text helpers every channel shares: redaction, printable endpoints, cutting texts to size.

A message about a channel names the channel and what the platform answered; it passes through
:func:`redact` so that a token echoed by a platform or a library never reaches a log, and shows
URLs as ``scheme://host[:port]`` only (:func:`endpoint`): the robots' URLs carry their access
tokens. Also the two converters more than one channel's options use (:func:`http_url`,
:func:`mobile`).

This module imports nothing heavy: the keepalived notify path imports the channel modules to
validate the configuration.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    import httpx

    from kakit.core.converters import Node

#: Appended to a text that was cut to fit a platform's size limit, by message language.
TRUNCATED = {"en": "\n… (truncated)", "zh": "\n…(内容过长, 已截断)"}

#: Error texts quoted from a platform are cut to this many characters.
SNIPPET_CHARS = 200


def marker(language: str) -> str:
    """What ends a text cut to fit, in the message's language (English when unknown)."""
    return TRUNCATED.get(language, TRUNCATED["en"])


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


def shorten(text: str, max_bytes: int, marker: str) -> str:
    """``text`` cut at a character boundary so that it and ``marker`` fit ``max_bytes`` of UTF-8."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    return data[:room].decode("utf-8", "ignore") + marker
