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


#: Shorter values are not redacted: they cannot be a credential worth hiding, and replacing
#: every ``1`` or ``ops`` in a message would make it unreadable (``HTTP 40***``).
MIN_SECRET_CHARS = 4


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be a credential: the URL itself, query values, user info
    and long path segments (Slack, Feishu and Telegram keep their tokens in the path).

    User info also gives ``user:password``: httpx turns it into an ``Authorization: Basic``
    header, whose base64 form :func:`secret_forms` then covers.
    """
    from urllib.parse import unquote, unquote_plus, urlsplit

    parts = urlsplit(url)
    found = [url]
    for pair in parts.query.split("&"):
        # As written, and decoded both ways: a "+" may be a plus sign or a space.
        raw = pair.partition("=")[2]
        if len(raw) >= MIN_SECRET_CHARS:
            found.extend((raw, unquote(raw), unquote_plus(raw)))
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        found.extend((user, password, f"{user}:{password}"))
    found.extend(unquote(seg) for seg in parts.path.split("/") if len(seg) >= 16)
    return found


def secret_forms(value: str) -> list[str]:
    """The ways a server or a library may echo ``value`` back: as it is, percent-encoded,
    JSON-escaped, base64 (standard and URL-safe, with or without padding). A header value
    ``<scheme> <credentials>`` (``Bearer xyz``, ``Basic xyz``) adds the credentials, and Basic
    also its decoded ``user:password`` and the password."""
    import base64
    import binascii
    from urllib.parse import quote, quote_plus

    values = [value]
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if credentials and scheme.isalnum():
        values.append(credentials)
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            if pair:
                values.extend((pair, pair.partition(":")[2]))
    forms: list[str] = []
    for item in values:
        if len(item) < MIN_SECRET_CHARS:
            continue
        data = item.encode("utf-8")
        standard = base64.b64encode(data).decode("ascii")
        urlsafe = base64.urlsafe_b64encode(data).decode("ascii")
        escaped = json_escaped(item)
        forms.extend(
            (
                item,
                quote(item, safe=""),
                quote(item),
                quote_plus(item),
                quote_plus(item, safe="/"),
                escaped,
                escaped.replace("/", "\\/"),
                standard,
                standard.rstrip("="),
                urlsafe,
                urlsafe.rstrip("="),
            )
        )
    return forms


def json_escaped(text: str) -> str:
    """``text`` as it stands inside a JSON string (ASCII-escaped, as most servers write it)."""
    import json

    return json.dumps(text)[1:-1]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value, in every form of :func:`secret_forms`, replaced by
    ``***``. Longest first, and regardless of case (a server may write ``%2f`` for ``%2F``);
    over-redacting a different value that only differs in case costs nothing."""
    import re

    forms = {form for secret in secrets if secret for form in secret_forms(secret) if form}
    if not forms or not text:
        return text
    pattern = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.sub(pattern, "***", text, flags=re.IGNORECASE)


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
