"""Specification of kacheck's alerts: what a run did goes to the outbox, once, with its cause."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kakit.alerts.outbox import Outbox
from kakit.checks.base import Check, CheckResult, RunContext
from kakit.config import Config
from kakit.kacheck.runner import CheckRunner

CHANNELS = """\
channels:
  ops: {type: webhook, url: "http://127.0.0.1:9/hook"}
  pager: {type: webhook, url: "http://127.0.0.1:9/page"}
"""

KEEPALIVED_CONF = """\
vrrp_script chk_web {
    script "/usr/local/bin/kacheck -c /etc/kakit/kakit.yaml web"
}
vrrp_script chk_other {
    script "/usr/local/bin/kacheck other"
}
vrrp_instance VI_WEB {
    virtual_ipaddress {
        10.213.9.10/24 dev eth0
    }
    track_script {
        chk_web
    }
}
vrrp_instance VI_OTHER {
    virtual_ipaddress {
        10.213.9.20/24
    }
    track_script {
        chk_other
    }
}
"""


class ScriptedCheck(Check[None]):
    """A check that answers with the next of a list of results."""

    type_name = "scripted"

    def __init__(self, results: list[CheckResult]) -> None:
        super().__init__(None)
        self.results = results

    def run(self, ctx: RunContext) -> CheckResult:
        """The next scripted result."""
        return self.results.pop(0)


DOWN = "web down (no nginx master process)"
RESTARTED = CheckResult(ok=True, summary="web was down; restarted", events=("restart",))
RESTART_FAILED = CheckResult(
    ok=False, summary=f"{DOWN}; restart failed", remedy_pending=True, events=("restart_failed",)
)
GIVE_UP = CheckResult(ok=False, summary=f"{DOWN}; restart budget spent", events=("give_up",))
HEALTHY = CheckResult(ok=True, summary="web up")


@pytest.fixture(autouse=True)
def _no_worker_no_keepalived(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """No delivery worker is started and no keepalived is signalled; worker starts are recorded."""
    started: list[str | None] = []

    def spawn(source: str | None) -> int:
        started.append(source)
        return 1

    monkeypatch.setattr("kakit.alerts.detach.spawn_worker", spawn)
    monkeypatch.setattr("kakit.kacheck.escalate.find_target", lambda: (1, "a test"))
    monkeypatch.setattr(
        "kakit.kacheck.escalate.stop_target", lambda _pid, _how: "sent SIGTERM to keepalived pid 1"
    )
    yield started


@pytest.fixture(name="run")
def _run(
    tmp_path: Path, make_config: Callable[[str], Config]
) -> Callable[..., list[tuple[bool, str]]]:
    """Run the check ``web`` once per scripted result, with the given extra configuration."""

    def run(
        results: list[CheckResult], body: str = "", on_failure: str = "fail", latch: bool = False
    ) -> list[tuple[bool, str]]:
        (tmp_path / "keepalived.conf").write_text(KEEPALIVED_CONF)
        config = make_config(
            f"checks:\n  web: {{type: flag, path: {tmp_path}/down, on_failure: {on_failure},"
            f" latch: {str(latch).lower()}}}\n"
            f"keepalived: {{config: {tmp_path}/keepalived.conf}}\n" + body
        )
        runner = CheckRunner(config, config.check("web"))
        runner.checks = [ScriptedCheck(list(results))]
        runner.prepare()
        answers = []
        for _ in results:
            state = runner.load_state()
            answers.append(runner.run_once(state))
            state.save()
        return answers

    return run


def rows(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    """Stored kacheck alerts as ``(event, events, cause, channel)``, oldest first."""
    path = tmp_path / "lib" / "outbox.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return list(
            db.execute(
                "SELECT e.state, e.events, e.cause, m.channel FROM messages m"
                " JOIN events e ON e.id = m.event_id WHERE e.kind = 'CHECK' ORDER BY m.id"
            )
        )


ALL_TO_OPS = CHANNELS + "alerts:\n  - channels: [ops]\n"


class TestEvents:
    """Each thing kacheck does is one alert row naming the event and the check's summary."""

    def test_restart_is_one_row_with_its_cause(
        self, tmp_path: Path, run: Callable[..., list[tuple[bool, str]]]
    ) -> None:
        """A successful restart stores one `restart` alert whose cause is the check's summary."""
        ((ok, summary),) = run([RESTARTED], ALL_TO_OPS)
        assert ok
        assert rows(tmp_path) == [("restart", '["restart"]', "web: web was down; restarted", "ops")]
        assert summary.endswith("; alert queued for ops")

    def test_failed_restart_is_alerted(
        self, tmp_path: Path, run: Callable[..., list[tuple[bool, str]]]
    ) -> None:
        """A restart that failed with budget left is a `restart_failed` alert."""
        run([RESTART_FAILED], ALL_TO_OPS)
        assert [row[0] for row in rows(tmp_path)] == ["restart_failed"]

    def test_give_up_is_alerted_once_per_outage(
        self, tmp_path: Path, run: Callable[..., list[tuple[bool, str]]]
    ) -> None:
        """A spent budget, seen on every run, alerts once until the service was healthy again."""
        run([GIVE_UP, GIVE_UP, GIVE_UP, HEALTHY, GIVE_UP], ALL_TO_OPS)
        assert [row[0] for row in rows(tmp_path)] == ["give_up", "give_up"]

    def test_latch_is_alerted_with_the_give_up(
        self, tmp_path: Path, run: Callable[..., list[tuple[bool, str]]]
    ) -> None:
        """A final failure with `latch: true` is one `latch` alert covering the give-up."""
        run([GIVE_UP, GIVE_UP], ALL_TO_OPS, latch=True)
        # The second run meets the latch: it fails without probing and alerts nothing new.
        assert rows(tmp_path) == [
            ("latch", '["give_up", "latch"]', f"web: {GIVE_UP.summary}", "ops")
        ]

    def test_escalate_is_queued_before_keepalived_is_stopped(
        self,
        tmp_path: Path,
        run: Callable[..., list[tuple[bool, str]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """stop-keepalived stores its `escalate` alert before it signals keepalived."""
        seen: list[list[tuple[str, str, str, str]]] = []

        def stop(_pid: int, _how: str) -> str:
            seen.append(rows(tmp_path))
            return "sent SIGTERM to keepalived pid 1"

        monkeypatch.setattr("kakit.kacheck.escalate.stop_target", stop)
        ((ok, summary),) = run([GIVE_UP], ALL_TO_OPS, on_failure="stop-keepalived")
        assert not ok
        assert seen == [
            [("escalate", '["give_up", "latch", "escalate"]', f"web: {GIVE_UP.summary}", "ops")]
        ]
        assert "alert queued for ops" in summary and "sent SIGTERM" in summary

    def test_nothing_to_stop_is_no_escalation(
        self,
        tmp_path: Path,
        run: Callable[..., list[tuple[bool, str]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """No keepalived in this namespace: the alert says latched, never "keepalived stopped"."""
        from kakit.exceptions import CheckError

        def nothing() -> tuple[int, str]:
            raise CheckError("no keepalived to stop: no keepalived runs here; stopping nothing")

        monkeypatch.setattr("kakit.kacheck.escalate.find_target", nothing)
        ((ok, summary),) = run([GIVE_UP], ALL_TO_OPS, on_failure="stop-keepalived")
        assert not ok
        assert rows(tmp_path) == [
            ("latch", '["give_up", "latch"]', f"web: {GIVE_UP.summary}", "ops")
        ]
        assert "could not stop keepalived: no keepalived to stop" in summary

    def test_the_worker_is_started_detached(
        self,
        run: Callable[..., list[tuple[bool, str]]],
        _no_worker_no_keepalived: list[str | None],
        tmp_path: Path,
    ) -> None:
        """Queuing an alert starts the delivery worker with kacheck's configuration file."""
        run([RESTARTED], ALL_TO_OPS)
        assert _no_worker_no_keepalived == [str(tmp_path / "kakit.yaml")]


class TestNothingToSay:
    """No rule, no event: no outbox at all."""

    def test_no_alerts_section_no_outbox(
        self,
        tmp_path: Path,
        run: Callable[..., list[tuple[bool, str]]],
        _no_worker_no_keepalived: list[str | None],
    ) -> None:
        """Without `alerts`, a restart opens no outbox and starts no worker."""
        run([RESTARTED], CHANNELS)
        assert not (tmp_path / "lib" / "outbox.sqlite").exists()
        assert _no_worker_no_keepalived == []

    def test_healthy_runs_open_no_outbox(
        self, tmp_path: Path, run: Callable[..., list[tuple[bool, str]]]
    ) -> None:
        """A healthy run, with alerts configured, does not touch the outbox."""
        run([HEALTHY, HEALTHY], ALL_TO_OPS)
        assert not (tmp_path / "lib" / "outbox.sqlite").exists()

    def test_busy_outbox_loses_the_alert_not_the_answer(
        self,
        tmp_path: Path,
        run: Callable[..., list[tuple[bool, str]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An outbox locked by another writer costs the alert (logged), never the verdict."""
        monkeypatch.setattr("kakit.kacheck.alerting.ENQUEUE_WAIT", 0.05)
        path = tmp_path / "lib" / "outbox.sqlite"
        Outbox(str(path)).close()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            ((ok, summary),) = run([RESTARTED], ALL_TO_OPS)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert ok
        assert summary.endswith("; alert NOT queued")
        assert rows(tmp_path) == []


class TestRuleSelection:
    """`events:` selects kacheck events, `states:` keepalived's; a route naming neither takes both."""

    @pytest.mark.parametrize(
        ("alerts", "expected"),
        [
            ("  - channels: [ops]\n", ["ops"]),
            ("  - {channels: [ops], events: [restart]}\n", ["ops"]),
            ("  - {channels: [ops], events: [escalate]}\n", []),
            ("  - {channels: [ops], states: [MASTER]}\n", []),
            ("  - {channels: [ops], states: [MASTER], events: [restart]}\n", ["ops"]),
            ("  - {channels: [ops], checks: [web]}\n", ["ops"]),
            ("  - {channels: [ops], checks: [other]}\n", []),
            ("  - {channels: [ops], instances: [VI_WEB]}\n", ["ops"]),
            ("  - {channels: [ops], instances: [VI_OTHER]}\n", []),
            (
                "  - {channels: [pager], events: [escalate, give_up]}\n"
                "  - {channels: [ops, pager], events: [restart]}\n",
                ["ops", "pager"],
            ),
        ],
    )
    def test_restart_routes(
        self,
        tmp_path: Path,
        run: Callable[..., list[tuple[bool, str]]],
        alerts: str,
        expected: list[str],
    ) -> None:
        """A restart reaches exactly the channels of the routes that select it."""
        run([RESTARTED], CHANNELS + "alerts:\n" + alerts)
        assert [row[3] for row in rows(tmp_path)] == expected

    @pytest.mark.parametrize(
        ("route", "state_alerts"),
        [
            ("{channels: [ops]}", True),
            ("{channels: [ops], states: [MASTER, FAULT]}", True),
            ("{channels: [ops], events: [escalate]}", False),
            ("{channels: [ops], states: [BACKUP]}", False),
        ],
    )
    def test_state_changes_keep_their_rules(
        self, make_config: Callable[[str], Config], route: str, state_alerts: bool
    ) -> None:
        """A MASTER transition takes routes by `states` as before; an `events`-only route skips it."""
        config = make_config(CHANNELS + f"alerts:\n  - {route}\n")
        assert config.channels_for("MASTER", "VI_1") == (["ops"] if state_alerts else [])

    def test_unknown_event_is_refused(self, config_refusal: Callable[[str], str]) -> None:
        """A misspelt event name is a configuration error naming the allowed words."""
        message = config_refusal(CHANNELS + "alerts:\n  - {channels: [ops], events: [restarted]}\n")
        assert "restart, restart_failed, give_up, latch, escalate" in message


class TestServiceCheckEvents:
    """The service check says what it did; the runner turns that into alerts."""

    def test_failed_restarts_then_one_give_up(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """Restarts that fail alert `restart_failed`, the last allowed one `give_up`, then silence."""
        config = make_config(
            "checks:\n  web:\n    type: service\n    service: kakit-no-such-daemon\n"
            "    restart_command: [/bin/false]\n    restart: {max: 2, within: 300, wait: 0.1}\n"
            + ALL_TO_OPS
        )
        runner = CheckRunner(config, config.check("web"))
        runner.prepare()
        for _ in range(4):
            state = runner.load_state()
            runner.run_once(state)
            state.save()
        events = [row[0] for row in rows(tmp_path)]
        assert events == ["restart_failed", "give_up"]
        assert "restart `/bin/false` exited 1 (restart 2/2" in rows(tmp_path)[1][2]


class TestRulesShown:
    """`kakit config check` writes out what each rule takes."""

    def test_defaults_are_written_out(self, make_config: Callable[[str], Config]) -> None:
        """A rule naming only `events` shows no states; a rule naming neither shows them all,
        and every event but priority changes."""
        from kakit.config.show import effective
        from kakit.core.events import CHECK_EVENTS, LVS_EVENTS

        config = make_config(
            CHANNELS + "alerts:\n  - channels: [ops]\n  - {channels: [pager], events: [escalate]}\n"
        )
        first, second = effective(config)["alerts"]
        assert first["states"] == ["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"]
        assert first["events"][:5] == list(CHECK_EVENTS)
        assert set(LVS_EVENTS) <= set(first["events"]) and "priority" not in first["events"]
        assert {"bfd_down", "bfd_up"} <= set(first["events"])
        assert (second["states"], second["events"]) == ([], ["escalate"])
