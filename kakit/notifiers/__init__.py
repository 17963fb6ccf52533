"""The notifier family: alert channel types by their YAML ``type:`` name.

Built-in types are imported by module path only when a channel of that type is used. Third-party
channels register through the ``kakit.notifiers`` entry-point group
(``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.core.registry import Registry
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

_registry = Registry(REGISTRY, "kakit.notifiers", "channel types")


def type_names() -> list[str]:
    """Every known channel type, built-in and plugin."""
    return _registry.names()


def load(type_name: str) -> type[Notifier]:
    """The class implementing channel type ``type_name``.

    A plugin is checked against the contract here, when the configuration is loaded, rather
    than failing in the delivery worker: the class derives from ``Notifier`` and its options
    from ``NotifierOptions`` (which carry the ``timeout`` the worker relies on).

    Raises:
        ConfigError: Unknown type, or a class that breaks the contract (the caller adds the
            location).
    """
    from kakit.notifiers.base import Notifier, NotifierOptions

    found = _registry.load(type_name)
    if (
        isinstance(found, type)
        and issubclass(found, Notifier)
        and isinstance(getattr(found, "options_class", None), type)
        and issubclass(found.options_class, NotifierOptions)
    ):
        return found
    raise ConfigError(
        f"a channel type whose class derives from Notifier and whose options_class from"
        f" NotifierOptions ({type_name!r} is {found!r})"
    )
