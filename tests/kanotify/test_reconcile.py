"""Specification of the kernel cross-check: the addresses the node holds decide MASTER."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kakit.config import Config
from kakit.core.events import StateEvent, boot_id
from kakit.kanotify.applied import AppliedStates
from kakit.kanotify.reconcile import SETTLE, kernel_truth
from tests.conftest import Namespace, config_text
from tests.kanotify.test_cli import kanotify_path, outbox_rows
from tests.kanotify.test_handle import recorder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.core.events import State

KEEPALIVED_CONF = """\
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.213.9.1/24
        10.213.9.2/24 dev eth0
    }
}
vrrp_instance VI_NOVIP {
    interface eth0
    virtual_router_id 52
}
"""


@pytest.fixture(name="config")
def _config(tmp_path: Path, make_config: Callable[[str], Config]) -> Config:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED_CONF)
    return make_config(f"keepalived: {{config: {conf}}}\n")


def applied(config: Config, name: str, state: State, age: float) -> None:
    mono = time.clock_gettime(time.CLOCK_BOOTTIME) - age
    AppliedStates(config.paths.state_dir).write(
        StateEvent(
            kind="INSTANCE",
            name=name,
            state=state,
            priority=100,
            time=time.time(),
            boot=boot_id(),
            mono=mono,
        )
    )


@pytest.mark.parametrize(
    ("state", "held", "truth"),
    [
        ("MASTER", set(), "BACKUP"),
        ("MASTER", {"10.213.9.2"}, None),  # some addresses still here: keepalived is moving them
        ("MASTER", {"10.213.9.1", "10.213.9.2"}, None),
        ("BACKUP", {"10.213.9.1", "10.213.9.2"}, "MASTER"),
        ("FAULT", {"10.213.9.1", "10.213.9.2", "10.213.0.5"}, "MASTER"),
        ("BACKUP", {"10.213.9.1"}, None),
        ("BACKUP", set(), None),
    ],
)
def test_the_kernel_decides(
    config: Config, state: State, held: set[str], truth: str | None
) -> None:
    """MASTER holds the instance's addresses and nothing else does; a contradiction is corrected."""
    applied(config, "VI_1", state, age=SETTLE + 1)
    events = kernel_truth(config, held=lambda: held)
    assert [(event.name, event.state) for event in events] == ([("VI_1", truth)] if truth else [])


def test_a_fresh_change_is_left_to_settle(config: Config) -> None:
    """keepalived adds the addresses just after it reports MASTER: no correction meanwhile."""
    applied(config, "VI_1", "MASTER", age=0.5)
    assert kernel_truth(config, held=set) == []


def test_unknown_addresses_or_state_are_left_alone(config: Config) -> None:
    """An instance without addresses, or never applied, cannot be judged."""
    applied(config, "VI_NOVIP", "MASTER", age=SETTLE + 1)
    assert kernel_truth(config, held=set) == []


@pytest.mark.lab
class TestNotifyScriptCrossCheck:
    """kanotify as keepalived's notify script holds the event against the kernel, as the reader."""

    def run(self, ns: Namespace, config: Path, state: str) -> None:
        done = ns.run(
            kanotify_path(), "-c", str(config), "INSTANCE", "VI_1", state, "100", check=False
        )
        assert done.returncode == 0, done.stderr

    def configure(
        self, tmp_path: Path, states: tuple[str, str], extra: str = ""
    ) -> tuple[Path, Path]:
        """kakit.yaml whose ``states`` each run the recorder, reading VI_1's addresses from a
        keepalived.conf; returns it and the file the recorder appends to."""
        script, record = recorder(tmp_path)
        conf = tmp_path / "keepalived.conf"
        conf.write_text(KEEPALIVED_CONF)
        hooks = "".join(f"\n  {state}: {{run: [[{script}]]}}" for state in states)
        config = tmp_path / "kakit.yaml"
        config.write_text(
            config_text(tmp_path, f"keepalived: {{config: {conf}}}\nstates:{hooks}\n{extra}")
        )
        return config, record

    def hold_addresses(self, ns: Namespace) -> None:
        """The namespace takes both of VI_1's addresses."""
        ns.run("ip", "link", "set", "lo", "up")
        for address in ("10.213.9.1/24", "10.213.9.2/24"):
            ns.run("ip", "addr", "add", address, "dev", "lo")

    def test_the_kernel_corrects_a_notify_that_is_out_of_date(
        self, ns: Namespace, tmp_path: Path
    ) -> None:
        """MASTER while the namespace holds none of VI_1's addresses applies BACKUP; BACKUP
        while it holds them all applies MASTER; each correction is recorded and alerted."""
        sink = (
            "channels:\n  sink: {type: webhook, url: {env: NOWHERE_URL}}\n"
            "alerts: [{channels: [sink]}]\n"
        )
        config, record = self.configure(tmp_path, ("MASTER", "BACKUP"), sink)
        self.run(ns, config, "MASTER")
        assert record.read_text().splitlines() == ["MASTER 100", "BACKUP 100"]
        self.hold_addresses(ns)
        self.run(ns, config, "BACKUP")
        assert record.read_text().splitlines()[2:] == ["BACKUP 100", "MASTER 100"]
        assert outbox_rows(tmp_path, "SELECT state FROM events ORDER BY id") == [
            ("MASTER",),
            ("BACKUP",),
            ("BACKUP",),
            ("MASTER",),
        ]
        # Every correction has its alert waiting for the sink.
        assert outbox_rows(tmp_path, "SELECT COUNT(*) FROM messages") == [(4,)]
        log = (tmp_path / "kakit.log").read_text()
        assert "VI_1: MASTER was applied, but the kernel holds none of its addresses" in log
        assert "VI_1: BACKUP was applied, but the kernel holds all of its addresses" in log

    def test_a_notify_the_kernel_agrees_with_is_left_alone(
        self, ns: Namespace, tmp_path: Path
    ) -> None:
        """BACKUP without the addresses, and STOP (keepalived going away) are applied as said."""
        config, record = self.configure(tmp_path, ("BACKUP", "STOP"))
        self.run(ns, config, "BACKUP")
        self.hold_addresses(ns)
        self.run(ns, config, "STOP")
        assert record.read_text().splitlines() == ["BACKUP 100", "STOP 100"]
        assert "the kernel holds" not in (tmp_path / "kakit.log").read_text()
