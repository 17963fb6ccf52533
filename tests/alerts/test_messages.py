"""Specification of the alert text people read."""

from __future__ import annotations

import pytest

from kakit.alerts.messages import EventView, Templates, check_template, render


def event(
    state: str, at: float, hooks: tuple[str, ...] | None = ("sysctl: 3 set",), stale: bool = False
) -> EventView:
    """A VI_1 event at ``at``."""
    return EventView(
        kind="INSTANCE", name="VI_1", state=state, priority=100, time=at, hooks=hooks, stale=stale
    )


class TestRender:
    """Titles and bodies carry node, instance, old -> new state, priority, time and hooks."""

    def test_single_change_english(self) -> None:
        """One event renders as previous -> new with its hooks."""
        message = render([event("MASTER", 1_700_000_000)], node="lb1", previous="BACKUP")
        assert message.title == "[lb1] VI_1: BACKUP → MASTER"
        assert "priority: 100" in message.text and "hooks: sysctl: 3 set" in message.text
        assert message.fields["sequence"] == ["BACKUP", "MASTER"]
        assert message.markdown.startswith("#### [lb1] VI_1: BACKUP → MASTER")

    def test_single_change_chinese(self) -> None:
        """language zh uses the Chinese template."""
        message = render(
            [event("FAULT", 1_700_000_000)], node="lb1", previous="MASTER", language="zh"
        )
        assert message.title == "[lb1] VI_1 状态切换: MASTER → FAULT"
        assert "优先级: 100" in message.text

    def test_flap_collapsed(self) -> None:
        """Several events of one instance become one message that says it flapped."""
        message = render(
            [event("BACKUP", 100.0), event("MASTER", 104.5)], node="lb1", previous="MASTER"
        )
        assert message.title == "[lb1] VI_1: MASTER → BACKUP → MASTER"
        assert "flapped: 2 changes in 4.5 s, now MASTER" in message.text

    def test_hooks_unknown_and_late(self) -> None:
        """An interrupted notify and a late event are both said plainly."""
        message = render([event("BACKUP", 1.0, hooks=None, stale=True)], node="lb1", previous=None)
        assert "not recorded (the notify process was interrupted)" in message.text
        assert "arrived late" in message.text

    def test_user_template(self) -> None:
        """User templates replace the defaults."""
        templates = Templates(title="{node}/{name} now {state}")
        message = render([event("MASTER", 1.0)], node="lb1", previous="BACKUP", templates=templates)
        assert message.title == "lb1/VI_1 now MASTER"

    def test_template_validation(self) -> None:
        """An unknown placeholder is refused when the configuration loads."""
        with pytest.raises(ValueError, match=r"unknown placeholder \{host\}"):
            check_template("{host} is {state}")
