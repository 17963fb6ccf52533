"""The notifier family: alert channel types by their YAML ``type:`` name.

Built-in types (:data:`REGISTRY`: class names, each in the module named after its type) are
imported only when a channel of that type is used. Third-party channels register through the
``kakit.notifiers`` entry-point group (``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.core.registry import Registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.notifiers.base import Notifier

REGISTRY: dict[str, str] = {
    "alertmanager": "AlertmanagerNotifier",
    "dingtalk": "DingtalkNotifier",
    "email": "EmailNotifier",
    "feishu": "FeishuNotifier",
    "slack": "SlackNotifier",
    "telegram": "TelegramNotifier",
    "webhook": "WebhookNotifier",
    "wecom": "WecomNotifier",
}


def _contract(found: object) -> str | None:
    """A channel class derives from Notifier, its options from NotifierOptions.

    The delivery worker relies on both (``send``, and the ``timeout`` every options record
    declares), so a plugin that breaks them is refused when the configuration is loaded.
    """
    from kakit.notifiers.base import Notifier, NotifierOptions

    options = getattr(found, "options_class", None)
    if (
        isinstance(found, type)
        and issubclass(found, Notifier)
        and isinstance(options, type)
        and issubclass(options, NotifierOptions)
    ):
        return None
    return "does not derive from Notifier with options derived from NotifierOptions"


registry: Registry[type[Notifier[Any]]] = Registry(
    __name__, REGISTRY, "channel types", contract=_contract
)
load = registry.load
