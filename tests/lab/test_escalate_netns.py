"""`on_failure: stop-keepalived` from a watcher stops only its own node's keepalived.

Lab nodes share the PID namespace and the filesystem, as containers often do: a process list
shows both nodes' keepalived, and ``/run/keepalived.pid`` may name the other node's. A watcher
is not keepalived's child, so the parent chain cannot say which keepalived is its own; only the
network namespace can.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, procs, vrrp_instance_conf
from tests.conftest import config_text, kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "keepalived")),
        reason="needs root, iproute2 and keepalived",
    ),
]

HOST_PIDFILE = Path("/run/keepalived.pid")
WAIT = 20.0


@pytest.fixture(name="pair")
def _pair(tmp_path: Path) -> Iterator[tuple[Lab, Node, Node]]:
    """Two lab nodes, keepalived running on n2 only (n1's is started by the test)."""
    with Lab(nodes=2, workdir=tmp_path / "lab") as lab:
        n1, n2 = lab.nodes
        for node, priority in ((n1, 150), (n2, 100)):
            node.write_keepalived_conf(vrrp_instance_conf(node, priority=priority, vip=lab.vip))
        n2.start_keepalived()
        yield lab, n1, n2


@pytest.fixture(name="host_pidfile_naming")
def _host_pidfile_naming() -> Iterator[Callable[[int], None]]:
    """A helper writing ``/run/keepalived.pid`` (only if absent; removed afterwards)."""
    written: list[str] = []

    def write(pid: int) -> None:
        if HOST_PIDFILE.exists():
            pytest.skip(f"{HOST_PIDFILE} exists on this host; not overwriting it")
        HOST_PIDFILE.write_text(f"{pid}\n")
        written.append(f"{pid}\n")

    yield write
    if written and HOST_PIDFILE.exists() and HOST_PIDFILE.read_text() == written[0]:
        HOST_PIDFILE.unlink()


def start_escalating_watcher(node: Node) -> subprocess.Popen[bytes]:
    """A watcher in ``node`` of a check that fails at once and escalates with stop-keepalived."""
    config = node.dir / "kakit.yaml"
    body = f"""\
        checks:
          down:
            type: flag
            path: {node.dir}/down
            on_failure: stop-keepalived
        """
    config.write_text(config_text(node.dir, textwrap.dedent(body)))
    (node.dir / "down").write_text("maintenance by test\n")
    argv = [kacheck_path(), "-c", str(config), "--watch", "down", "--interval", "0.2"]
    argv += ["--track-file", str(node.dir / "track")]
    with (node.dir / "watch.out").open("ab") as out:
        return node.popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def escalation_line(node: Node) -> str:
    """The watcher's verdict line after it escalated ("" until then)."""
    log = node.dir / "kakit.log"
    lines = log.read_text().splitlines() if log.exists() else []
    wanted = ("down: FAIL:", "latched", "track file")
    return next((line for line in lines if all(part in line for part in wanted)), "")


class TestStopKeepalivedInOwnNamespace:
    """A watcher's escalation stops the keepalived of its own network namespace only."""

    def test_watcher_stops_its_own_keepalived_not_the_other_nodes(
        self, pair: tuple[Lab, Node, Node], host_pidfile_naming: Callable[[int], None]
    ) -> None:
        """n1's watcher stops n1's keepalived (and names it), though the pid file names n2's."""
        _lab, n1, n2 = pair
        n1.start_keepalived()
        own, other = n1.keepalived_main_pid(), n2.keepalived_main_pid()
        assert own is not None and other is not None
        host_pidfile_naming(other)  # the trap: the shared pid file names n2's keepalived

        start_escalating_watcher(n1)

        procs.wait_until(
            lambda: not n1.keepalived_running(), timeout=WAIT, what="n1's keepalived to stop"
        )
        procs.wait_until(lambda: escalation_line(n1) != "", timeout=WAIT, what="the log line")
        line = escalation_line(n1)
        assert f"sent SIGTERM to keepalived pid {own} (keepalived " in line
        assert str(n1.keepalived_conf) in line
        assert "the keepalived of this network namespace" in line
        assert n2.keepalived_running()
        assert n2.keepalived_main_pid() == other

    def test_watcher_without_keepalived_stops_nothing(self, pair: tuple[Lab, Node, Node]) -> None:
        """With no keepalived in n1's namespace the watcher says so and n2's keeps running."""
        _lab, n1, n2 = pair
        other = n2.keepalived_main_pid()

        start_escalating_watcher(n1)

        procs.wait_until(lambda: escalation_line(n1) != "", timeout=WAIT, what="the log line")
        line = escalation_line(n1)
        assert (
            "could not stop keepalived: no keepalived to stop: "
            "no keepalived runs in this network namespace; stopping nothing"
        ) in line
        assert n2.keepalived_running()
        assert n2.keepalived_main_pid() == other
