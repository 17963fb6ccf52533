"""``webhook``: a JSON POST (or PUT) to any URL, body from a template.

Without a ``template`` the body is ``{title, text, markdown, **alert}`` (the alert's fields). A template is any YAML
mapping or list; its strings may hold ``{field}`` placeholders (``{{`` and ``}}`` for literal
braces). A string that is exactly one placeholder takes the field's own JSON type (``"{hooks}"``
becomes a list, ``"{test}"`` a boolean); placeholders inside longer strings are replaced by text.
Placeholders are checked when the configuration is loaded, so a typo fails ``kakit config
check``, not the first alert.

TLS verification is on. ``ca_file`` trusts a private CA; ``verify: false`` is possible but
should stay a lab setting. Both need their own connection pool, so such a channel opens a
client of its own per send instead of using the worker's shared one.
"""

from __future__ import annotations

from kakit.alerts.alert import BODY_PLACEHOLDERS
from kakit.core.converters import absolute_path, boolean, choice, duration, optional, plain
from kakit.core.record import frozen, option
from kakit.core.secrets import Secret, secret_map, secret_ref
from kakit.notifiers.base import Notifier
from kakit.notifiers.common import (
    JSON_CONTENT_TYPE,
    check_url,
    dumps,
    endpoint,
    request,
    reveal,
    status_error,
    url_secrets,
    who,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from typing import Any

    import httpx

    from kakit.core.converters import Node
    from kakit.notifiers.base import Message

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
class WebhookOptions:
    """Settings of a generic JSON webhook channel.

    Attributes:
        url: Where to send (a plain string or a ``{file:}``/``{env:}`` secret).
        method: ``POST`` (default) or ``PUT``.
        headers: Extra headers; values may be ``{file:}``/``{env:}`` secrets.
        template: The JSON body as YAML with ``{field}`` placeholders (default: title, text,
            markdown and every field).
        timeout: Seconds for the request.
        verify: Verify the server's TLS certificate.
        ca_file: A CA bundle to verify it with (a private CA).
    """

    url: Secret = option(secret_ref, secret=True)
    method: str = option(choice("POST", "PUT"), default="POST")
    headers: dict[str, str | Secret] = option(secret_map, default={}, secret=True)
    template: Any = option(optional(template), default=None)
    timeout: float = option(duration(high=60.0), default=5.0)
    verify: bool = option(boolean, default=True)
    ca_file: str | None = option(optional(absolute_path), default=None)

    def __post_init__(self) -> None:
        check_url(self.url)
        if self.ca_file is not None and not self.verify:
            raise ValueError("ca_file only with verify: true")


class WebhookNotifier(Notifier):
    """Sends the message as JSON; any 2xx is success."""

    type_name = "webhook"
    options_class = WebhookOptions
    options: WebhookOptions

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

    def _client(
        self, shared: httpx.AsyncClient, label: str
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        """The worker's shared client, or a client of our own for ``verify``/``ca_file``."""
        import contextlib

        opts = self.options
        if opts.verify and opts.ca_file is None:
            return contextlib.nullcontext(shared)
        import httpx

        verify: Any = False
        if opts.ca_file is not None:
            import ssl

            try:
                verify = ssl.create_default_context(cafile=opts.ca_file)
            except OSError as exc:
                from kakit.notifiers.base import PermanentError

                raise PermanentError(
                    f"{label}: cannot read ca_file {opts.ca_file}: {exc.strerror or exc}"
                ) from exc
        return httpx.AsyncClient(verify=verify, trust_env=False)

    async def send(self, message: Message, client: httpx.AsyncClient) -> str:
        """Send the body.

        Raises:
            RetryableError: Transport or TLS error, timeout, 408, 429 (honouring
                ``Retry-After``), 5xx.
            PermanentError: Other statuses (4xx, redirects), an unreadable secret.
        """
        opts = self.options
        label = who(self)
        url = reveal(label, opts.url)
        secrets = url_secrets(url)
        headers = {"Content-Type": JSON_CONTENT_TYPE}
        for key, value in opts.headers.items():
            if isinstance(value, Secret):
                value = reveal(label, value)
                secrets.append(value)
            headers[key] = value
        content = dumps(self.body(message))
        async with self._client(client, label) as chosen:
            response = await request(
                chosen,
                label,
                opts.method,
                url,
                seconds=opts.timeout,
                secrets=secrets,
                content=content,
                headers=headers,
            )
        if not 200 <= response.status_code < 300:
            raise status_error(label, response, secrets)
        return f"HTTP {response.status_code} from {endpoint(url)}"
