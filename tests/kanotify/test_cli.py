"""Specification of kanotify as keepalived's notify target: hooks applied, alerts queued."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit import __version__
from kakit.config import Config
from kakit.core.events import StateEvent
from kakit.kanotify.handle import handle_event
from kakit.testing import use_fake_notifier
from tests.conftest import Namespace, config_text, kacheck_path

HOOKS = """\
states:
  MASTER:
    sysctl: {net.ipv4.ip_nonlocal_bind: 1, net.ipv4.conf.all.arp_ignore: 1}
    firewall: {accept: [vrrp, {destination: 10.213.0.100}]}
  BACKUP:
    sysctl: {net.ipv4.ip_nonlocal_bind: 0, net.ipv4.conf.all.arp_ignore: 0}
"""


def kanotify_path() -> str:
    """The kanotify console script beside kacheck."""
    return str(Path(kacheck_path()).with_name("kanotify"))


def outbox_rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on the test's outbox (empty when it was never created)."""
    path = tmp_path / "lib" / "outbox.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return list(db.execute(sql))


@pytest.mark.lab
class TestNotifyInNamespace:
    """keepalived's argv in, the node's sysctls and firewall changed, the event recorded."""

    def test_master_then_backup(self, ns: Namespace, tmp_path: Path) -> None:
        """MASTER sets sysctls and installs tagged rules; BACKUP reverts sysctls and removes the rules."""
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, HOOKS))
        master = ns.run(
            kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", "MASTER", "100", check=False
        )
        assert master.returncode == 0, master.stderr
        assert (
            ns.sysctl("net.ipv4.ip_nonlocal_bind"),
            ns.sysctl("net.ipv4.conf.all.arp_ignore"),
        ) == ("1", "1")
        rules = ns.iptables_rules()
        assert "-A INPUT -j KAKIT" in rules
        assert any("-p vrrp" in rule and "kakit:MASTER" in rule for rule in rules)
        assert any("-d 10.213.0.100/32" in rule for rule in rules)
        backup = ns.run(
            kanotify_path(),
            "-c",
            str(config),
            "generic",
            "INSTANCE",
            "VI_1",
            "BACKUP",
            "100",
            check=False,
        )
        assert backup.returncode == 0, backup.stderr
        assert (
            ns.sysctl("net.ipv4.ip_nonlocal_bind"),
            ns.sysctl("net.ipv4.conf.all.arp_ignore"),
        ) == ("0", "0")
        assert not [rule for rule in ns.iptables_rules() if "kakit:" in rule]
        events = outbox_rows(
            tmp_path, "SELECT name, state, priority, hooks FROM events ORDER BY time"
        )
        assert [(name, state, prio) for name, state, prio, _ in events] == [
            ("VI_1", "MASTER", 100),
            ("VI_1", "BACKUP", 100),
        ]
        assert any("firewall" in outcome for outcome in json.loads(str(events[0][3])))

    def test_notify_master_form(self, ns: Namespace, tmp_path: Path) -> None:
        """`kanotify MASTER --instance VI_1` (notify_master, no appended words) applies MASTER hooks."""
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, HOOKS))
        result = ns.run(
            kanotify_path(), "-c", str(config), "MASTER", "--instance", "VI_1", check=False
        )
        assert result.returncode == 0, result.stderr
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "1"
        assert outbox_rows(tmp_path, "SELECT kind, name, state, priority FROM events") == [
            ("INSTANCE", "VI_1", "MASTER", -1)
        ]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("INSTANCE", "VI_1", "PRIMARY", "100"), "unknown state 'PRIMARY'"),
            (
                ("VI_1", "MASTER"),
                "expected INSTANCE|GROUP NAME STATE PRIORITY at the end of the arguments",
            ),
            (("INSTANCE", "VI_1", "MASTER", "x"), "priority must be a number 0..255, got 'x'"),
        ],
    )
    def test_bad_arguments_apply_nothing(
        self, ns: Namespace, tmp_path: Path, args: tuple[str, ...], message: str
    ) -> None:
        """Malformed argv exits 2 with a clear line, and neither hooks nor alerts happen."""
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, HOOKS))
        result = ns.run(kanotify_path(), "-c", str(config), *args, check=False)
        assert result.returncode == 2
        assert message in result.stderr
        assert ns.sysctl("net.ipv4.ip_nonlocal_bind") == "0"
        assert outbox_rows(tmp_path, "SELECT * FROM events") == []
        assert message in (tmp_path / "kakit.log").read_text()


class TestOrdering:
    """Concurrent, unordered notify runs: a late, older event does not undo a newer one."""

    def test_late_event_skips_hooks_but_is_alerted(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """BACKUP received before MASTER but processed after it is recorded and alerted, hooks skipped."""
        use_fake_notifier()
        record = tmp_path / "applied.txt"
        script = tmp_path / "record.sh"
        script.write_text(f'#!/bin/sh\necho "$KAKIT_STATE" >> {record}\n')
        script.chmod(0o755)
        config = make_config(
            f"""\
            channels: {{ops: {{type: fake}}}}
            alerts: [{{channels: [ops]}}]
            states:
              MASTER: {{run: [[{script}]]}}
              BACKUP: {{run: [[{script}]]}}
            """
        )
        now = time.time()
        assert (
            handle_event(
                config,
                StateEvent(kind="INSTANCE", name="VI_1", state="MASTER", priority=100, time=now),
                start_worker=False,
            )
            == 0
        )
        assert (
            handle_event(
                config,
                StateEvent(
                    kind="INSTANCE", name="VI_1", state="BACKUP", priority=100, time=now - 0.5
                ),
                start_worker=False,
            )
            == 0
        )
        assert record.read_text().split() == ["MASTER"]
        rows = outbox_rows(tmp_path, "SELECT state, stale, hooks FROM events ORDER BY time")
        assert [(state, stale) for state, stale, _ in rows] == [("BACKUP", 1), ("MASTER", 0)]
        assert "MASTER received later was already applied" in str(rows[0][2])
        messages = outbox_rows(tmp_path, "SELECT status FROM messages")
        assert sorted(str(status) for (status,) in messages) == ["pending", "pending"]

    def test_failed_hook_exits_1_and_is_recorded(
        self, tmp_path: Path, make_config: Callable[[str], Config]
    ) -> None:
        """A failing run hook makes kanotify exit 1 and the outcome says why."""
        config = make_config("states:\n  MASTER: {run: [[/bin/false]]}\n")
        code = handle_event(
            config,
            StateEvent(
                kind="INSTANCE", name="VI_1", state="MASTER", priority=100, time=time.time()
            ),
            start_worker=False,
        )
        assert code == 1
        (hooks,) = outbox_rows(tmp_path, "SELECT hooks FROM events")[0]
        assert "/bin/false" in str(hooks) and "exited 1" in str(hooks)


def test_kanotify_help() -> None:
    """--help prints the three forms."""
    result = subprocess.run([kanotify_path(), "--help"], capture_output=True, text=True, check=True)
    assert "INSTANCE|GROUP NAME STATE PRIORITY" in result.stdout


def test_kanotify_version() -> None:
    """--version names the tool and kakit's version, like kacheck's."""
    result = subprocess.run(
        [kanotify_path(), "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"kanotify (kakit) {__version__}\n"


class TestFifoCommandLine:
    """``kanotify --fifo``: the command line and the FIFO it will read are checked first."""

    def test_two_paths_are_a_usage_error(self, tmp_path: Path) -> None:
        """Only one FIFO can be read: a second word exits 2 before anything is opened."""
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, ""))
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "--fifo", "a", "b"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        assert "usage: kanotify [-c FILE] --fifo [--reconcile SECONDS] [PATH]" in result.stderr

    def test_a_file_that_is_not_a_fifo_is_refused(self, tmp_path: Path) -> None:
        """A regular file where the FIFO should be: exit 1, saying so, and nothing read."""
        config = tmp_path / "kakit.yaml"
        config.write_text(config_text(tmp_path, ""))
        planted = tmp_path / "notify.fifo"
        planted.write_text('INSTANCE "VI_1" MASTER 100\n')
        result = subprocess.run(
            [kanotify_path(), "-c", str(config), "--fifo", str(planted)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1
        assert f"refusing FIFO {planted}: not a FIFO" in result.stderr
        assert outbox_rows(tmp_path, "SELECT * FROM events") == []
