"""Turning an :class:`~kakit.alerts.alert.Alert` into the message people read, in English or Chinese.

A message covers one event, or several events of the same instance that were collapsed
because they happened inside the coalescing window (a flap MASTER -> BACKUP -> MASTER becomes
one message that says so). Templates use ``str.format`` placeholders named after the alert's
fields (:data:`kakit.alerts.alert.TEXT_PLACEHOLDERS`); user templates are validated when the
configuration is loaded.
"""

from __future__ import annotations

from kakit.alerts.alert import TEXT_PLACEHOLDERS, iso_time
from kakit.core.record import frozen
from kakit.notifiers.base import Message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kakit.alerts.alert import Alert

__all__ = [
    "BFD_DEFAULTS",
    "CHECK_DEFAULTS",
    "DEFAULTS",
    "LVS_DEFAULTS",
    "PRIORITY_DEFAULTS",
    "Templates",
    "check_template",
    "iso_time",
    "message_key",
    "render",
]

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] {label}: {change}",
        "text": "{node}: {label} {change}\npriority: {priority}\naddresses: {vips}\ntime: {time}\nhooks: {hooks}{note}",
        "markdown": "#### [{node}] {label}: {change}\n\n- **node**: {node}\n- **priority**: {priority}\n- **addresses**: {vips}\n- **time**: {time}\n- **hooks**: {hooks}{note}",
    },
    "zh": {
        "title": "[{node}] {label} 状态切换: {change}",
        "text": "节点: {node}\n实例: {label}\n状态: {change}\n优先级: {priority}\n地址: {vips}\n时间: {time}\n钩子: {hooks}{note}",
        "markdown": "#### [{node}] {label} 状态切换: {change}\n\n- **节点**: {node}\n- **优先级**: {priority}\n- **地址**: {vips}\n- **时间**: {time}\n- **钩子**: {hooks}{note}",
    },
}
#: The defaults for what kacheck did (an alert of kind ``CHECK``); user templates apply to both.
CHECK_DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] {check}: {action}",
        "text": "{node}: check {check} {action}\ncause: {cause}\naddresses: {vips}\ntime: {time}{note}",
        "markdown": "#### [{node}] {check}: {action}\n\n- **node**: {node}\n- **cause**: {cause}\n- **addresses**: {vips}\n- **time**: {time}{note}",
    },
    "zh": {
        "title": "[{node}] {check} 检查: {action}",
        "text": "节点: {node}\n检查: {check}\n事件: {action}\n原因: {cause}\n地址: {vips}\n时间: {time}{note}",
        "markdown": "#### [{node}] {check} 检查: {action}\n\n- **节点**: {node}\n- **原因**: {cause}\n- **地址**: {vips}\n- **时间**: {time}{note}",
    },
}
#: The defaults for an LVS server going up or down (kinds ``VS`` and ``RS``).
LVS_DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] {label}: {action}",
        "text": "{node}: {label} {action}\nvirtual server: {virtual}\nreal server: {real}\ntime: {time}{note}",
        "markdown": "#### [{node}] {label}: {action}\n\n- **node**: {node}\n- **virtual server**: {virtual}\n- **real server**: {real}\n- **time**: {time}{note}",
    },
    "zh": {
        "title": "[{node}] {label}: {action}",
        "text": "节点: {node}\n虚拟服务: {virtual}\n真实服务器: {real}\n事件: {action}\n时间: {time}{note}",
        "markdown": "#### [{node}] {label}: {action}\n\n- **节点**: {node}\n- **虚拟服务**: {virtual}\n- **真实服务器**: {real}\n- **时间**: {time}{note}",
    },
}
#: The defaults for a priority change (kind ``PRIORITY``), alerted only where a rule asks.
PRIORITY_DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] {label}: priority {priority}",
        "text": "{node}: {label} priority {priority}\ncause: {cause}\ntime: {time}{note}",
        "markdown": "#### [{node}] {label}: priority {priority}\n\n- **node**: {node}\n- **cause**: {cause}\n- **time**: {time}{note}",
    },
    "zh": {
        "title": "[{node}] {label} 优先级: {priority}",
        "text": "节点: {node}\n实例: {label}\n优先级: {priority}\n原因: {cause}\n时间: {time}{note}",
        "markdown": "#### [{node}] {label} 优先级: {priority}\n\n- **节点**: {node}\n- **原因**: {cause}\n- **时间**: {time}{note}",
    },
}

#: The defaults for what a kaprobe BFD session did (an alert of kind ``BFD``).
BFD_DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] BFD {label}: {action}",
        "text": "{node}: BFD session {label} {action}\ncause: {cause}\naddresses: {vips}\ntime: {time}{note}",
        "markdown": "#### [{node}] BFD {label}: {action}\n\n- **node**: {node}\n- **cause**: {cause}\n- **addresses**: {vips}\n- **time**: {time}{note}",
    },
    "zh": {
        "title": "[{node}] BFD {label}: {action}",
        "text": "节点: {node}\nBFD 会话: {label}\n事件: {action}\n原因: {cause}\n地址: {vips}\n时间: {time}{note}",
        "markdown": "#### [{node}] BFD {label}: {action}\n\n- **节点**: {node}\n- **原因**: {cause}\n- **地址**: {vips}\n- **时间**: {time}{note}",
    },
}

_WORDS = {
    "en": {
        "none": "none",
        "unknown": "not recorded (the notify process was interrupted)",
        "flap": "\nflapped: {count} changes in {seconds:.1f} s, now {state}",
        "late": "\narrived late: a newer state was already applied, hooks skipped",
        "test": "\nTEST ALERT from kakit: no state changed",
        "group": "group {name}",
        "test_title": "[TEST] ",
        "no_vips": "unknown",
        "covers": "\ncovers: {events}",
        "restart": "restarted",
        "restart_failed": "restart failed",
        "give_up": "gave up restarting",
        "latch": "latched",
        "escalate": "escalated: keepalived stopped",
        "vs_up": "UP",
        "vs_down": "DOWN",
        "rs_up": "UP",
        "rs_down": "DOWN",
        "priority": "priority",
        "no_real": "-",
        "real_label": "real server {real} of {virtual}",
        "virtual_label": "virtual server {virtual}",
        "bfd_down": "down",
        "bfd_up": "up",
        "split_brain": "SPLIT BRAIN: another host answers for a virtual address held here",
        "split_brain_over": "split brain over",
    },
    "zh": {
        "none": "无",
        "unknown": "未记录 (通知进程被中断)",
        "flap": "\n抖动: {seconds:.1f} 秒内切换 {count} 次, 当前 {state}",
        "late": "\n迟到的事件: 已应用更新的状态, 未执行钩子",
        "test": "\n测试告警 (kakit): 状态未变化",
        "group": "同步组 {name}",
        "test_title": "[测试] ",
        "no_vips": "未知",
        "covers": "\n包含: {events}",
        "restart": "已重启",
        "restart_failed": "重启失败",
        "give_up": "放弃重启",
        "latch": "已锁定",
        "escalate": "已升级: 停止了 keepalived",
        "vs_up": "恢复",
        "vs_down": "故障",
        "rs_up": "恢复",
        "rs_down": "故障",
        "priority": "优先级",
        "no_real": "-",
        "real_label": "虚拟服务 {virtual} 的真实服务器 {real}",
        "virtual_label": "虚拟服务 {virtual}",
        "bfd_down": "会话中断",
        "bfd_up": "会话恢复",
        "split_brain": "脑裂: 另一台主机也在应答本节点持有的虚拟地址",
        "split_brain_over": "脑裂已结束",
    },
}


@frozen
class Templates:
    """Title, text and markdown templates for one language (``None`` keeps the default)."""

    title: str | None = None
    text: str | None = None
    markdown: str | None = None


def check_template(template: str) -> None:
    """Raise ValueError naming the first unknown placeholder of ``template``."""
    sample = dict.fromkeys(TEXT_PLACEHOLDERS, "x")
    try:
        template.format_map(sample)
    except KeyError as exc:
        raise ValueError(
            f"unknown placeholder {{{exc.args[0]}}} (known: {', '.join(TEXT_PLACEHOLDERS)})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise ValueError(f"invalid template: {exc}") from None


def text_values(alert: Alert, language: str = "en") -> dict[str, Any]:
    """The placeholders' values in text: words for missing values, lists joined."""
    words = _WORDS.get(language, _WORDS["en"])
    if alert.hooks is None:
        hooks = words["unknown"]
    else:
        hooks = "; ".join(alert.hooks) if alert.hooks else words["none"]
    note = ""
    if alert.flaps > 1:
        note += words["flap"].format(count=alert.flaps, seconds=alert.span, state=alert.state)
    if alert.late:
        note += words["late"]
    if alert.test:
        note += words["test"]
    label = alert.label
    if alert.kind == "GROUP" and alert.name:
        label = words["group"].format(name=alert.name)
    elif alert.real:
        label = words["real_label"].format(real=alert.real, virtual=alert.virtual)
    elif alert.virtual:
        label = words["virtual_label"].format(virtual=alert.virtual)
    action = words.get(alert.event, alert.event)
    if alert.event:
        note = ""
        if alert.flaps > 1:
            covered = ", ".join(words.get(event, event) for event in alert.sequence)
            note = words["covers"].format(events=covered)
    return {
        **alert.as_json(),
        "label": label,
        "previous": alert.previous or "",
        "sequence": alert.change,
        "priority": alert.priority if alert.priority is not None else "?",
        "hooks": hooks,
        "change": alert.change,
        "note": note,
        "action": action,
        "vips": ", ".join(alert.vips) or words["no_vips"],
        "real": alert.real or words["no_real"],
    }


def message_key(node: str, message_id: int, created: float) -> str:
    """The identity of one outbox message, the same on every re-send of it:
    ``kakit-<node>-<message id>-<created, ms>``.

    The creation time keeps keys apart when SQLite reuses an id (after ``kakit outbox purge``
    removed the newest rows, or with a new outbox file). Characters other than ASCII letters,
    digits, ``-`` and ``_`` in the node name are percent-encoded, so the key fits both an HTTP
    header and a mail ``Message-ID``.
    """
    safe = "".join(
        char if char.isascii() and (char.isalnum() or char in "-_") else f"%{byte:02X}"
        for char in node
        for byte in char.encode("utf-8")
    )
    return f"kakit-{safe}-{message_id}-{round(created * 1000)}"


def _defaults(alert: Alert) -> dict[str, dict[str, str]]:
    """The default templates for the alert's kind."""
    from kakit.core.events import BFD_KIND, LVS_KINDS, PRIORITY_KIND

    if alert.kind in LVS_KINDS:
        return LVS_DEFAULTS
    if alert.kind == PRIORITY_KIND:
        return PRIORITY_DEFAULTS
    if alert.kind == BFD_KIND:
        return BFD_DEFAULTS
    return CHECK_DEFAULTS if alert.event else DEFAULTS


def render(
    alert: Alert, *, language: str = "en", templates: Templates | None = None, key: str = ""
) -> Message:
    """The message for ``alert`` in ``language``, with the user's templates where given.

    Args:
        alert: What to say.
        language: ``en`` or ``zh``.
        templates: The user's templates for that language.
        key: The message's identity (:func:`message_key`); empty outside the outbox.
    """
    values = text_values(alert, language)
    defaults = _defaults(alert)
    chosen = dict(defaults.get(language, defaults["en"]))
    if templates is not None:
        for key in ("title", "text", "markdown"):
            custom = getattr(templates, key)
            if custom is not None:
                chosen[key] = custom
    title = chosen["title"].format_map(values)
    if alert.test:
        title = _WORDS.get(language, _WORDS["en"])["test_title"] + title
    return Message(
        title=title,
        text=chosen["text"].format_map(values),
        markdown=chosen["markdown"].format_map(values),
        alert=alert,
        language=language,
        key=key,
    )
