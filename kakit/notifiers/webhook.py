"""``webhook``: a JSON POST (or PUT) to any URL, body from a template.

Without a ``template`` the body is ``{title, text, markdown, **alert}`` (the alert's fields). A template is any YAML
mapping or list; its strings may hold ``{field}`` placeholders (``{{`` and ``}}`` for literal
braces). A string that is exactly one placeholder takes the field's own JSON type (``"{hooks}"``
becomes a list, ``"{test}"`` a boolean); placeholders inside longer strings are replaced by text.
Placeholders are checked when the configuration is loaded, so a typo fails ``kakit config
check``, not the first alert.

Every request carries ``Idempotency-Key: <the message's key>`` (IETF draft
"The Idempotency-Key HTTP Header Field"), the same on every re-send of one message: a receiver
that honours it turns the duplicates a retry or a dead worker may cause into one alert. A
configured ``Idempotency-Key`` header replaces it.

TLS verification is on. ``ca_file`` trusts a private CA; ``verify: false`` is possible but
should stay a lab setting. Both need their own connection pool, so such a channel opens a
client of its own per send instead of using the worker's shared one.
"""

from __future__ import annotations

from kakit.alerts.alert import BODY_PLACEHOLDERS
from kakit.core.converters import absolute_path, boolean, choice, optional, plain
from kakit.core.record import frozen, option
from kakit.core.secrets import secret_map
from kakit.notifiers.http import HttpNotifier, HttpRequest, UrlOptions, dumps, url_authorization

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.core.converters import Node
    from kakit.core.secrets import Secret
    from kakit.notifiers.base import Attempt, Message

#: The names a template may use: the rendered texts and the alert's fields.
PLACEHOLDERS = BODY_PLACEHOLDERS


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders of a template string.

    Raises:
        ValueError: Unbalanced braces, an unknown name, or a format spec, conversion,
            attribute or index (only plain ``{name}`` is supported).
    """
    from string import Formatter

    names = []
    for _, name, spec, conversion in Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"only plain {{name}} placeholders are supported, got {{{name}}}")
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}} (known: {', '.join(PLACEHOLDERS)})")
        names.append(name)
    return names


def template(node: Node) -> Any:
    """Converter: a YAML mapping or list whose strings are valid templates."""
    if not isinstance(node.value, dict | list):
        raise node.error("a mapping or list (the JSON body, strings may hold {field} placeholders)")

    def walk(child: Node) -> None:
        if isinstance(child.value, dict):
            for grandchild in child.value.values():
                walk(grandchild)
        elif isinstance(child.value, list):
            for grandchild in child.value:
                walk(grandchild)
        elif isinstance(child.value, str):
            try:
                placeholders(child.value)
            except ValueError as exc:
                raise child.error(f"a template string: {exc}") from None

    walk(node)
    return plain(node)


def message_values(message: Message) -> dict[str, Any]:
    """What placeholders resolve to: the alert's fields, then the texts."""
    alert = message.alert
    values: dict[str, Any] = alert.as_json()
    values.update(
        change=alert.change,
        title=message.title,
        text=message.text,
        markdown=message.markdown,
        language=message.language,
    )
    return values


def as_text(value: Any) -> str:
    """A field value inside a longer string: lists joined with ", ", None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(as_text(item) for item in value)
    return str(value)


def render(body: Any, values: dict[str, Any]) -> Any:
    """``body`` with every placeholder replaced from ``values`` (see the module docstring)."""
    if isinstance(body, dict):
        return {key: render(child, values) for key, child in body.items()}
    if isinstance(body, list):
        return [render(child, values) for child in body]
    if not isinstance(body, str):
        return body
    names = placeholders(body)
    if len(names) == 1 and body == f"{{{names[0]}}}":
        return values[names[0]]
    return body.format_map({name: as_text(values[name]) for name in names})


@frozen
class WebhookOptions(UrlOptions):
    """Settings of a generic JSON webhook channel.

    Attributes:
        url: Where to send (a plain string or a ``{file:}``/``{env:}`` secret).
        method: ``POST`` (default) or ``PUT``.
        headers: Extra headers; every value is a secret (``{file:}``/``{env:}``, or inline
            in a root-only file).
        template: The JSON body as YAML with ``{field}`` placeholders (default: title, text,
            markdown and every field).
        timeout: Seconds for the request.
        verify: Verify the server's TLS certificate.
        ca_file: A CA bundle to verify it with (a private CA).
    """

    method: str = option(choice("POST", "PUT"), default="POST")
    headers: dict[str, Secret] = option(secret_map, default={}, secret=True)
    template: Any = option(optional(template), default=None)
    verify: bool = option(boolean, default=True)
    ca_file: str | None = option(optional(absolute_path), default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ca_file is not None and not self.verify:
            raise ValueError("ca_file only with verify: true")
        if self.url.kind == "inline":
            url_authorization(self.url.ref, self.headers)


class WebhookNotifier(HttpNotifier[WebhookOptions]):
    """Sends the message as JSON; any 2xx is success."""

    type_name = "webhook"

    def body(self, message: Message) -> Any:
        """The JSON body: the rendered template or the default shape."""
        if self.options.template is None:
            return {
                "title": message.title,
                "text": message.text,
                "markdown": message.markdown,
                **message.alert.as_json(),
            }
        return render(self.options.template, message_values(message))

    def build(self, message: Message, attempt: Attempt) -> HttpRequest:
        """The body to the URL, with the message's ``Idempotency-Key`` and the configured
        headers."""
        opts = self.options
        url = self.reveal_url(opts.url, attempt)
        headers = {"Idempotency-Key": message.key} if message.key else {}
        headers.update(attempt.headers(opts.headers))
        return HttpRequest(url, dumps(self.body(message)), method=opts.method, headers=headers)

    def verify(self) -> bool | str:
        """``ca_file`` when set, else ``verify``."""
        return self.options.ca_file or self.options.verify
