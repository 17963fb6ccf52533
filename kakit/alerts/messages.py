"""Turning outbox events into the alert people read, in English or Chinese.

A message covers one event, or several events of the same instance that were collapsed
because they happened inside the coalescing window (a flap MASTER -> BACKUP -> MASTER becomes
one message that says so). Templates use ``str.format`` placeholders; user templates are
validated when the configuration is loaded.
"""

from __future__ import annotations

import time

from kakit.core.record import frozen
from kakit.notifiers.base import Message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ARROW = " → "
PLACEHOLDERS = (
    "node",
    "label",
    "kind",
    "name",
    "state",
    "previous",
    "change",
    "priority",
    "time",
    "hooks",
    "note",
)

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "[{node}] {label}: {change}",
        "text": "{node}: {label} {change}\npriority: {priority}\ntime: {time}\nhooks: {hooks}{note}",
        "markdown": "#### [{node}] {label}: {change}\n\n- **node**: {node}\n- **priority**: {priority}\n- **time**: {time}\n- **hooks**: {hooks}{note}",
    },
    "zh": {
        "title": "[{node}] {label} 状态切换: {change}",
        "text": "节点: {node}\n实例: {label}\n状态: {change}\n优先级: {priority}\n时间: {time}\n钩子: {hooks}{note}",
        "markdown": "#### [{node}] {label} 状态切换: {change}\n\n- **节点**: {node}\n- **优先级**: {priority}\n- **时间**: {time}\n- **钩子**: {hooks}{note}",
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
    },
    "zh": {
        "none": "无",
        "unknown": "未记录 (通知进程被中断)",
        "flap": "\n抖动: {seconds:.1f} 秒内切换 {count} 次, 当前 {state}",
        "late": "\n迟到的事件: 已应用更新的状态, 未执行钩子",
        "test": "\n测试告警 (kakit): 状态未变化",
        "group": "同步组 {name}",
    },
}


@frozen
class EventView:
    """The parts of an outbox event a message needs."""

    kind: str
    name: str
    state: str
    priority: int
    time: float
    hooks: tuple[str, ...] | None = None
    stale: bool = False


@frozen
class Templates:
    """Title, text and markdown templates for one language (``None`` keeps the default)."""

    title: str | None = None
    text: str | None = None
    markdown: str | None = None


def iso_time(stamp: float) -> str:
    """Local time with UTC offset, ISO 8601, second precision."""
    local = time.localtime(stamp)
    offset = time.strftime("%z", local)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{offset[:3]}:{offset[3:]}"


def check_template(template: str) -> None:
    """Raise ValueError naming the first unknown placeholder of ``template``."""
    sample = dict.fromkeys(PLACEHOLDERS, "x")
    try:
        template.format_map(sample)
    except KeyError as exc:
        raise ValueError(
            f"unknown placeholder {{{exc.args[0]}}} (known: {', '.join(PLACEHOLDERS)})"
        ) from None
    except (ValueError, IndexError) as exc:
        raise ValueError(f"invalid template: {exc}") from None


def render(
    events: list[EventView],
    *,
    node: str,
    previous: str | None,
    language: str = "en",
    templates: Templates | None = None,
    test: bool = False,
) -> Message:
    """Build the message for one event or a collapsed run of events of one instance.

    Args:
        events: The events, oldest first (at least one).
        node: This node's name.
        previous: The instance's state before the first event, if known.
        language: ``en`` or ``zh``.
        templates: User templates overriding the defaults.
        test: Mark the message as a test alert.
    """
    words = _WORDS.get(language, _WORDS["en"])
    last = events[-1]
    label = last.name if last.kind != "GROUP" else words["group"].format(name=last.name)
    label = label or "keepalived"
    states = [event.state for event in events]
    sequence = ([previous] if previous and previous != states[0] else []) + states
    change = ARROW.join(sequence)
    if last.hooks is None:
        hooks_text = words["unknown"]
    else:
        hooks_text = "; ".join(last.hooks) if last.hooks else words["none"]
    note = ""
    if len(events) > 1:
        note += words["flap"].format(
            count=len(events), seconds=events[-1].time - events[0].time, state=last.state
        )
    if any(event.stale for event in events):
        note += words["late"]
    if test:
        note += words["test"]
    values: dict[str, Any] = {
        "node": node,
        "label": label,
        "kind": last.kind,
        "name": last.name,
        "state": last.state,
        "previous": previous or "",
        "change": change,
        "priority": last.priority if last.priority >= 0 else "?",
        "time": iso_time(last.time),
        "hooks": hooks_text,
        "note": note,
    }
    chosen = dict(DEFAULTS.get(language, DEFAULTS["en"]))
    if templates is not None:
        for key in ("title", "text", "markdown"):
            custom = getattr(templates, key)
            if custom is not None:
                chosen[key] = custom
    title = chosen["title"].format_map(values)
    if test:
        title = ("[TEST] " if language != "zh" else "[测试] ") + title
    fields: dict[str, Any] = {
        "node": node,
        "kind": last.kind,
        "name": last.name,
        "state": last.state,
        "previous": previous,
        "priority": last.priority,
        "time": iso_time(last.time),
        "hooks": list(last.hooks or []),
        "sequence": sequence,
        "late": any(event.stale for event in events),
        "test": test,
    }
    return Message(
        title=title,
        text=chosen["text"].format_map(values),
        markdown=chosen["markdown"].format_map(values),
        fields=fields,
        language=language,
    )
