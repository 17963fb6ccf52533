"""Specification of the alert text people read."""

from __future__ import annotations

import pytest

from kakit.alerts.alert import BODY_PLACEHOLDERS, FIELDS, TEXT_PLACEHOLDERS, Alert
from kakit.alerts.messages import Templates, check_template, message_key, render
from kakit.core.events import ReportEvent, StateEvent


def event(state: str, at: float) -> StateEvent:
    """A VI_1 event at ``at``."""
    return StateEvent(kind="INSTANCE", name="VI_1", state=state, priority=100, time=at)  # type: ignore[arg-type]


def alert(
    *events: StateEvent,
    previous: str | None = "BACKUP",
    hooks: tuple[str, ...] | None = ("sysctl: 3 set",),
    late: bool = False,
) -> Alert:
    """The lb1 alert for ``events``."""
    return Alert.of(events, node="lb1", previous=previous, hooks=hooks, late=late)


class TestRender:
    """Titles and bodies carry node, instance, old -> new state, priority, time and hooks."""

    def test_single_change_english(self) -> None:
        """One event renders as previous -> new with its hooks."""
        message = render(alert(event("MASTER", 1_700_000_000)))
        assert message.title == "[lb1] VI_1: BACKUP → MASTER"
        assert "priority: 100" in message.text and "hooks: sysctl: 3 set" in message.text
        assert message.alert.sequence == ("BACKUP", "MASTER")
        assert message.markdown.startswith("#### [lb1] VI_1: BACKUP → MASTER")

    def test_single_change_chinese(self) -> None:
        """language zh uses the Chinese template."""
        message = render(alert(event("FAULT", 1_700_000_000), previous="MASTER"), language="zh")
        assert message.title == "[lb1] VI_1 状态切换: MASTER → FAULT"
        assert "优先级: 100" in message.text

    def test_flap_collapsed(self) -> None:
        """Several events of one instance become one message that says it flapped."""
        message = render(alert(event("BACKUP", 100.0), event("MASTER", 104.5), previous="MASTER"))
        assert message.title == "[lb1] VI_1: MASTER → BACKUP → MASTER"
        assert "flapped: 2 changes in 4.5 s, now MASTER" in message.text

    def test_hooks_unknown_and_late(self) -> None:
        """An interrupted notify and a late event are both said plainly."""
        message = render(alert(event("BACKUP", 1.0), previous=None, hooks=None, late=True))
        assert "not recorded (the notify process was interrupted)" in message.text
        assert "arrived late" in message.text

    def test_user_template(self) -> None:
        """User templates replace the defaults."""
        templates = Templates(title="{node}/{name} now {state}")
        message = render(alert(event("MASTER", 1.0)), templates=templates)
        assert message.title == "lb1/VI_1 now MASTER"

    def test_template_validation(self) -> None:
        """An unknown placeholder is refused when the configuration loads."""
        with pytest.raises(ValueError, match=r"unknown placeholder \{host\}"):
            check_template("{host} is {state}")


class TestOneRecord:
    """Every placeholder list is derived from the one Alert record, so none can drift."""

    def test_every_field_is_a_placeholder_everywhere(self) -> None:
        """Text templates and JSON body templates both accept every alert field, `late` included."""
        assert "late" in FIELDS
        assert set(FIELDS) <= set(TEXT_PLACEHOLDERS)
        assert set(FIELDS) <= set(BODY_PLACEHOLDERS)
        for name in TEXT_PLACEHOLDERS:
            check_template(f"{{{name}}}")

    def test_json_has_exactly_the_fields(self) -> None:
        """The JSON form of an alert has one key per field and nothing else."""
        assert list(alert(event("MASTER", 1.0)).as_json()) == list(FIELDS)

    def test_unknown_priority_is_null_in_json_and_a_question_mark_in_text(self) -> None:
        """keepalived's "no priority" (-1) is None in data and '?' for people."""
        lone = StateEvent(kind="INSTANCE", name="VI_1", state="MASTER", priority=-1, time=1.0)
        message = render(alert(lone))
        assert message.alert.as_json()["priority"] is None
        assert "priority: ?" in message.text


class TestMessageKey:
    """The identity a message keeps across re-sends."""

    def test_shape(self) -> None:
        """kakit-<node>-<message id>-<created in ms>."""
        assert message_key("lb1", 42, 1795312160.123) == "kakit-lb1-42-1795312160123"

    def test_reused_id_is_another_key(self) -> None:
        """An id SQLite hands out again (after a purge) makes another key: created differs."""
        assert message_key("lb1", 42, 1795312160.0) != message_key("lb1", 42, 1795312161.0)

    def test_node_encoded_for_headers_and_message_ids(self) -> None:
        """A node name with dots, spaces or non-ASCII letters is percent-encoded."""
        key = message_key("lb1.dc 北", 7, 1.0)
        assert key == "kakit-lb1%2Edc%20%E5%8C%97-7-1000"
        assert key.isascii() and " " not in key


def check_alert(*events: str, vips: tuple[str, ...] = ("10.213.9.10/24",)) -> Alert:
    """lb1's alert for what kacheck did about nginx."""
    return Alert.of_check(
        "nginx",
        events,
        node="lb1",
        cause="nginx: nginx down (no nginx master process); config test failed",
        time=100.0,
        first=95.0,
        vips=vips,
    )


class TestCheckAlerts:
    """What kacheck did reads as the action, its cause and the addresses concerned."""

    def test_escalation_english(self) -> None:
        """An escalation names the check, the action, the cause and the VIP."""
        message = render(check_alert("escalate"))
        assert message.title == "[lb1] nginx: escalated: keepalived stopped"
        assert "cause: nginx: nginx down (no nginx master process); config test failed" in (
            message.text
        )
        assert "addresses: 10.213.9.10/24" in message.text
        assert "**addresses**: 10.213.9.10/24" in message.markdown

    def test_escalation_chinese(self) -> None:
        """language zh says the same in Chinese."""
        message = render(check_alert("escalate"), language="zh")
        assert message.title == "[lb1] nginx 检查: 已升级: 停止了 keepalived"
        assert "原因: nginx: nginx down" in message.text and "地址: 10.213.9.10/24" in message.text

    @pytest.mark.parametrize(
        ("events", "title"),
        [
            (("restart",), "[lb1] nginx: restarted"),
            (("restart_failed",), "[lb1] nginx: restart failed"),
            (("give_up",), "[lb1] nginx: gave up restarting"),
            (("give_up", "latch"), "[lb1] nginx: latched"),
            (
                ("restart_failed", "give_up", "latch", "escalate"),
                "[lb1] nginx: escalated: keepalived stopped",
            ),
        ],
    )
    def test_the_most_serious_event_heads_the_alert(
        self, events: tuple[str, ...], title: str
    ) -> None:
        """An alert covering several events is titled by the most serious one."""
        assert render(check_alert(*events)).title == title

    def test_covered_events_are_listed(self) -> None:
        """Collapsed events are written out in order."""
        message = render(check_alert("restart_failed", "give_up", "latch"))
        assert "covers: restart failed, gave up restarting, latched" in message.text

    def test_unknown_addresses_say_so(self) -> None:
        """Without keepalived's configuration the addresses are 'unknown', never blank."""
        assert "addresses: unknown" in render(check_alert("restart", vips=())).text

    def test_json_carries_event_check_cause_and_vips(self) -> None:
        """Webhook bodies get the event, the check, the cause and the addresses as data."""
        data = check_alert("give_up", "latch").as_json()
        assert (data["kind"], data["event"], data["check"], data["vips"]) == (
            "CHECK",
            "latch",
            "nginx",
            ["10.213.9.10/24"],
        )
        assert data["cause"].startswith("nginx: nginx down")


class TestStateChangeCause:
    """A state change's alert carries its transition as the cause, and the instance's VIPs."""

    def test_cause_names_transition_and_priority(self) -> None:
        """The cause is the transition with its priority."""
        change = Alert.of(
            [event("MASTER", 1.0)], node="lb1", previous="BACKUP", hooks=(), vips=("10.0.0.1/24",)
        )
        assert change.cause == "keepalived: VI_1 BACKUP → MASTER (priority 100)"
        assert "addresses: 10.0.0.1/24" in render(change).text


def report(kind: str, name: str, name_of_event: str, at: float, priority: int = -1) -> ReportEvent:
    """An LVS or priority event of lb1 at ``at``."""
    return ReportEvent(
        kind=kind,
        name=name,
        event=name_of_event,
        cause="keepalived: ...",
        priority=priority,
        time=at,
    )


class TestLvsAlerts:
    """An LVS alert names the virtual and the real server, as keepalived wrote them."""

    RS = "[10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80"

    def test_real_server_down_english(self) -> None:
        """Title, text and markdown carry both servers and the change."""
        message = render(Alert.of_report([report("RS", self.RS, "rs_down", 1.0)], node="lb1"))
        assert (
            message.title == "[lb1] real server [10.213.0.2]:tcp:80 of [10.213.0.10]:tcp:80: DOWN"
        )
        assert "virtual server: [10.213.0.10]:tcp:80\nreal server: [10.213.0.2]:tcp:80" in (
            message.text
        )
        assert "- **real server**: [10.213.0.2]:tcp:80" in message.markdown

    def test_firewall_mark_virtual_server_chinese(self) -> None:
        """A virtual server by firewall mark, in Chinese; no real server is written as '-'."""
        message = render(
            Alert.of_report([report("VS", "FWM 7", "vs_up", 1.0)], node="lb1"), language="zh"
        )
        assert message.title == "[lb1] 虚拟服务 FWM 7: 恢复"
        assert "真实服务器: -" in message.text

    def test_a_flapping_real_server_is_one_alert_with_its_latest_state(self) -> None:
        """Collapsed flaps: titled by the latest change, the changes listed, the count in JSON."""
        flaps = [
            report("RS", self.RS, name, float(at))
            for at, name in enumerate(["rs_down", "rs_up", "rs_down"])
        ]
        alert = Alert.of_report(flaps, node="lb1")
        message = render(alert)
        assert message.title.endswith(": DOWN") and "covers: DOWN, UP, DOWN" in message.text
        data = alert.as_json()
        assert (data["kind"], data["event"], data["flaps"], data["span"]) == (
            "RS",
            "rs_down",
            3,
            2.0,
        )
        assert (data["virtual"], data["real"]) == ("[10.213.0.10]:tcp:80", "[10.213.0.2]:tcp:80")


class TestPriorityAlerts:
    """A priority alert names the instance and its new priority."""

    def test_priority_change(self) -> None:
        """The title carries the latest priority, the text keepalived's report."""
        alert = Alert.of_report(
            [
                report("PRIORITY", "VI_1", "priority", at, prio)
                for at, prio in ((1.0, 80), (2.0, 90))
            ],
            node="lb1",
        )
        message = render(alert)
        assert message.title == "[lb1] VI_1: priority 90"
        assert "covers: 80, 90" in message.text and "cause: keepalived: ..." in message.text
