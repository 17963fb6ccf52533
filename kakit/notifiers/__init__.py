"""The notifier family: alert channel types by their YAML ``type:`` name.

Built-in types are imported by module path only when a channel of that type is used. Third-party
channels register through the ``kakit.notifiers`` entry-point group
(``name = "package.module:Class"``).
"""

from __future__ import annotations

from kakit.core.registry import Registry

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

registry: Registry[type[Notifier]] = Registry(REGISTRY, "kakit.notifiers", "channel types")
load = registry.load
type_names = registry.names
