"""End-to-end: real keepalived on two lab nodes tracking the installed ``kacheck nginx``.

n1 (priority 150) and n2 (priority 100) both track ``kacheck -c <node>/kakit.yaml nginx`` with
weight 0, so a failing check puts a node into FAULT. Every wait is bounded; the lab removes its
namespaces and processes afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kakit.core.trust import why_untrusted
from lab import Lab, Node
from lab.demo import (
    BACKUP_PRIORITY,
    MASTER_PRIORITY,
    KakitFiles,
    LogTail,
    configure_node,
)
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "keepalived", "nginx")),
        reason="needs root, iproute2, keepalived and nginx",
    ),
]

VIP_TIMEOUT = 20.0
"""The VIP reaches a new master about 3.5 s after it becomes eligible; FAULT moves it at once."""

LOG_TIMEOUT = 15.0
"""kacheck runs every second; this leaves ample room for a loaded machine."""

HOLD_SECONDS = 8.0
"""How long a node must stay out of the election: over twice the ~3.5 s master-down interval."""


@dataclass
class Pair:
    """A running two-node lab: n1 should be master, n2 backup."""

    lab: Lab
    n1: Node
    n2: Node
    files1: KakitFiles

    def wait_vip_on(self, node: Node, what: str) -> None:
        """Wait (bounded) until ``node`` alone holds the VIP."""
        self.lab.wait_until(
            lambda: self.lab.holders(self.lab.vip) == [node], timeout=VIP_TIMEOUT, what=what
        )

    def log_has(self, *fragments: str) -> bool:
        """Tell whether one line of n1's kakit.log contains every fragment."""
        return any(all(f in line for f in fragments) for line in self.files1.log_lines())

    def wait_log(self, *fragments: str) -> None:
        """Wait (bounded) until n1's kakit.log has a line containing every fragment."""
        self.lab.wait_until(
            lambda: self.log_has(*fragments),
            timeout=LOG_TIMEOUT,
            what=f"kakit.log {fragments}",
        )


def _kakit(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``kakit`` admin command beside kacheck, without $KAKIT_CONFIG."""
    env = {key: value for key, value in os.environ.items() if key != "KAKIT_CONFIG"}
    return subprocess.run(
        [str(Path(kacheck_path()).with_name("kakit")), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _state_changes(lines: list[str]) -> list[str]:
    """keepalived log lines about VRRP state changes or track-script failures."""
    return [line for line in lines if "Entering" in line or "now returning" in line]


def _start_pair(tmp_path: Path, n1_on_failure: str) -> Iterator[Pair]:
    """Start nginx and keepalived (tracking kacheck) on n1 and n2; the VIP settles on n1."""
    kacheck = kacheck_path()
    problem = why_untrusted(kacheck)
    assert problem is None, f"keepalived would disable {kacheck}: {problem}"
    with Lab(nodes=2, workdir=tmp_path) as lab:
        n1, n2 = lab.nodes
        files1 = configure_node(n1, MASTER_PRIORITY, kacheck, n1_on_failure, vip=lab.vip)
        configure_node(n2, BACKUP_PRIORITY, kacheck, "fail", vip=lab.vip)
        for node in (n1, n2):
            node.start_nginx()
            node.start_keepalived()
        pair = Pair(lab, n1, n2, files1)
        pair.wait_vip_on(n1, "VIP on n1 after startup")
        yield pair


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """Both nodes with ``on_failure: fail``."""
    yield from _start_pair(tmp_path, "fail")


@pytest.fixture
def escalating_pair(tmp_path: Path) -> Iterator[Pair]:
    """n1 with ``on_failure: stop-keepalived``, n2 with ``on_failure: fail``."""
    yield from _start_pair(tmp_path, "stop-keepalived")


def _mode(path: Path) -> int:
    """Permission bits of a path."""
    return stat.S_IMODE(path.stat().st_mode)


def _stays(predicate: Callable[[], bool], seconds: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` for ``seconds``; False as soon as it is false once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return predicate()


class TestKilledNginxIsRestarted:
    """Scenario 1: nginx dies on the master with a valid configuration."""

    def test_kacheck_restarts_nginx_and_vip_stays_on_n1(self, pair: Pair) -> None:
        """kacheck restarts a killed nginx within one run, so keepalived never sees a failure."""
        lab, n1, n2 = pair.lab, pair.n1, pair.n2
        assert lab.holders(lab.vip) == [n1]
        ka1, ka2 = LogTail(n1.keepalived_log), LogTail(n2.keepalived_log)
        old_pids = set(n1.nginx_pids())

        n1.stop_nginx()

        lab.wait_until(
            lambda: n1.nginx_running() and pair.log_has("nginx: OK:", "restarted with"),
            timeout=LOG_TIMEOUT,
            what="nginx restarted by kacheck on n1",
        )
        assert not old_pids & set(n1.nginx_pids())
        assert n1.http_get() == "node n1\n"
        assert lab.holders(lab.vip) == [n1]
        # keepalived logs every failure of the script and every state change: none happened.
        assert _state_changes(ka1.new_lines()) == []
        assert _state_changes(ka2.new_lines()) == []
        # Created under keepalived's umask 0177, the state directories still keep their modes.
        files = pair.files1
        assert (_mode(files.state_dir), _mode(files.state_dir / "checks")) == (0o755, 0o700)


class TestBrokenNginxFailsOver:
    """Scenario 2: nginx cannot be restarted on the master (``on_failure: fail``)."""

    def test_vip_moves_to_n2_and_returns_after_repair(self, pair: Pair) -> None:
        """A broken nginx moves the VIP to n2; after the repair it comes back by preemption."""
        lab, n1, n2 = pair.lab, pair.n1, pair.n2

        n1.break_nginx()

        pair.wait_vip_on(n2, "VIP on n2 after breaking n1's nginx")
        pair.wait_log("nginx: FAIL:", "config test", "failed", "not restarting")
        assert n1.keepalived_running()
        assert not n1.nginx_running()
        assert "Entering FAULT STATE" in n1.keepalived_log.read_text()

        n1.repair_nginx()
        n1.start_nginx()

        pair.wait_vip_on(n1, "VIP back on n1 after repairing nginx")
        assert n2.keepalived_running()
        assert lab.holders(lab.vip) == [n1]


class TestStopKeepalivedEscalation:
    """Scenario 3: ``on_failure: stop-keepalived`` on n1, then the latch keeps n1 out."""

    def test_escalation_stops_keepalived_and_latch_holds_until_cleared(
        self, escalating_pair: Pair
    ) -> None:
        """A broken nginx stops n1's keepalived and latches; n1 returns only after a clear."""
        pair = escalating_pair
        lab, n1, n2, files = pair.lab, pair.n1, pair.n2, pair.files1

        n1.break_nginx()

        lab.wait_until(
            lambda: not n1.keepalived_running(), timeout=LOG_TIMEOUT, what="n1 keepalived exit"
        )
        pair.wait_vip_on(n2, "VIP on n2 after n1's keepalived stopped")
        assert n2.keepalived_running()
        assert files.latch("nginx").is_file()
        assert (_mode(files.data_dir), _mode(files.latch("nginx").parent)) == (0o755, 0o700)
        assert pair.log_has("nginx: FAIL:", "latched", "stopping keepalived")
        listed = _kakit("latch", "list", "-c", str(files.config))
        assert listed.returncode == 0, listed.stderr
        assert "nginx: latched since" in listed.stdout

        # Restart n1 with a healthy nginx: only the latch keeps it out of the election.
        n1.repair_nginx()
        n1.start_nginx()
        kakit_log, ka1 = LogTail(files.log), LogTail(n1.keepalived_log)
        n1.start_keepalived()
        lab.wait_until(
            lambda: any("latched since" in line for line in kakit_log.new_lines()),
            timeout=LOG_TIMEOUT,
            what="kacheck on n1 reporting the latch",
        )
        assert _stays(lambda: lab.holders(lab.vip) == [n2], HOLD_SECONDS)
        assert n1.keepalived_running()
        assert not any("Entering MASTER STATE" in line for line in ka1.new_lines())

        cleared = _kakit("latch", "clear", "nginx", "-c", str(files.config))
        assert cleared.returncode == 0, cleared.stderr

        pair.wait_vip_on(n1, "VIP back on n1 after clearing the latch")
        assert not files.latch("nginx").exists()
        assert pair.log_has("nginx: latch cleared by operator")
