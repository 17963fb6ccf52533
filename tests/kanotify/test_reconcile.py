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
