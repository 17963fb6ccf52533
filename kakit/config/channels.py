"""The ``channels`` section and the rules that tie it to ``alerts`` and to the file's mode.

A channel is built through the notifier family's registry, like a check probe through the check
family's. Two rules need the whole file: every route names configured channels, and a secret
written inline is refused in a file that group or others can read.
"""

from __future__ import annotations

import os

from kakit.core.converters import Node, choice
from kakit.core.record import frozen
from kakit.exceptions import ConfigError, raise_collected

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.config.schema import Config

LANGUAGES = ("en", "zh")


@frozen
class ChannelSpec:
    """An alert channel: its name, type, language and validated options."""

    name: str
    type: str
    options: Any
    language: str = "en"


def channels_section(node: Node) -> dict[str, ChannelSpec]:
    """The ``channels`` section: each channel's options validated by its notifier type.

    Raises:
        ConfigError: An unknown type or invalid options, located in the file.
    """
    from kakit.notifiers import registry

    if node.value is None:
        return {}
    result = {}
    errors: list[ConfigError] = []
    for name, child in node.mapping("a mapping of channel names to channel settings").items():
        try:
            type_name, options = registry.build(child, skip=("language",))
            language = child.value.get("language")
            result[name] = ChannelSpec(
                name=name,
                type=type_name,
                options=options,
                language="en" if language is None else choice(*LANGUAGES)(language),
            )
        except ConfigError as exc:
            errors.append(exc)
    raise_collected(errors)
    return result


def check_routes(alerts: Node | None, channels: Node | None) -> None:
    """Every channel an ``alerts`` route names must be configured.

    Read from the nodes, not the built configuration, so that a file with other errors still
    gets this one reported: a channel counts as configured when its name is in ``channels``,
    valid or not (its own errors are reported where it is).

    Args:
        alerts: The ``alerts`` node.
        channels: The ``channels`` node.

    Raises:
        ConfigError: Routes name unknown channels (a ConfigErrors for several).
    """
    if alerts is None or not isinstance(alerts.value, list):
        return  # absent, or wrong in a way the schema reports
    configured = channels.value if channels is not None and isinstance(channels.value, dict) else {}
    known = ", ".join(sorted(configured)) or "none configured"
    errors: list[ConfigError] = []
    for route in alerts.value:
        names = route.value.get("channels") if isinstance(route.value, dict) else None
        if names is None or not isinstance(names.value, list):
            continue
        if any(
            isinstance(item.value, str) and item.value not in configured for item in names.value
        ):
            errors.append(names.error(f"names of configured channels (known: {known})"))
    raise_collected(errors)


def exposed_secrets(config: Config) -> list[str]:
    """Where the file itself holds a secret value: each place as ``file:line: key.path``.

    Every option declared ``secret=True`` counts unless it is a ``{file:}``/``{env:}``
    reference or a ``*_file`` key (header values included: :func:`kakit.core.secrets.secret_map`),
    and so does a URL with user info in any other option (Alertmanager's ``url``).
    """
    from kakit.core.record import fields, is_record
    from kakit.core.secrets import INLINE, Secret, mask_userinfo

    found: list[str] = []

    def visit(value: Any, where: str, secret: bool) -> None:
        if isinstance(value, Secret):
            if value.kind == INLINE:
                found.append(value.where or where)
        elif is_record(value) and not isinstance(value, type):
            for name, spec in fields(value).items():
                visit(getattr(value, name), f"{where}.{name}", secret or spec.secret)
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}.{key}", secret)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]", secret)
        elif isinstance(value, str) and (secret or mask_userinfo(value) != value):
            found.append(where)

    for name, channel in config.channels.items():
        visit(channel.options, f"{config.source}: channels.{name}", False)
    return found


def refuse_exposed_inline_secrets(config: Config, source: str) -> None:
    """A secret written inline is only acceptable in a file that group and others cannot read.

    Raises:
        ConfigError: An inline secret in a file with any group or other permission bit.
    """
    inline = exposed_secrets(config)
    if not inline:
        return
    try:
        mode = os.stat(source).st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        raise ConfigError(
            f"{inline[0]}: an inline secret in a file readable by group or others (mode {mode:04o}): "
            f"chmod 600 {source}, or use a *_file key, {{file: ...}} or {{env: ...}}"
            " (for credentials in a URL: an Authorization header from {file: ...})"
        )
