"""The notifier family: alert channel types by their YAML ``type:`` name.

Built-in types are imported by module path only when a channel of that type is used (the
keepalived notify path must not import httpx or aiosmtplib). Third-party channels register
through the ``kakit.notifiers`` entry-point group (``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.notifiers.base import Notifier

REGISTRY: dict[str, str] = {
    "alertmanager": "kakit.notifiers.alertmanager:AlertmanagerNotifier",
    "dingtalk": "kakit.notifiers.dingtalk:DingtalkNotifier",
    "email": "kakit.notifiers.email:EmailNotifier",
    "feishu": "kakit.notifiers.feishu:FeishuNotifier",
    "slack": "kakit.notifiers.slack:SlackNotifier",
    "telegram": "kakit.notifiers.telegram:TelegramNotifier",
    "webhook": "kakit.notifiers.webhook:WebhookNotifier",
    "wecom": "kakit.notifiers.wecom:WecomNotifier",
}

_loaded: dict[str, type[Notifier]] = {}


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="kakit.notifiers")}


def type_names() -> list[str]:
    """Every known channel type, built-in and plugin."""
    return sorted({*REGISTRY, *_entry_points()})


def load(type_name: str) -> type[Notifier]:
    """The class implementing channel type ``type_name``.

    Raises:
        ConfigError: Unknown type (the caller adds the location).
    """
    cached = _loaded.get(type_name)
    if cached is not None:
        return cached
    target = REGISTRY.get(type_name) or _entry_points().get(type_name)
    if target is None:
        raise ConfigError(f"one of the channel types {', '.join(type_names())}")
    module_name, _, class_name = target.partition(":")
    module = __import__(module_name, fromlist=[class_name])
    cls: type[Notifier] = getattr(module, class_name)
    _loaded[type_name] = cls
    return cls
