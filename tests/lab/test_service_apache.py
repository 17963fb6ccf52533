"""`kacheck httpd` against a real apache2 in a lab node, as nginx is tested.

The lab's apache2 (lab/apache.py) runs prefork workers as www-data. Killing the master with
SIGKILL leaves them running, re-parented and still holding port 80: the check must call the
service down (the pid file names a dead master), never take a worker for the master, and clear
those orphans, in this namespace only, so that the restarted master can bind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, procs
from lab.apache import Apache, available
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not available(),
        reason="needs root, iproute2 and apache2",
    ),
]

WriteConfig = Callable[[str], Path]
ReadLog = Callable[[], list[str]]


@pytest.fixture(name="apache")
def _apache(tmp_path: Path) -> Iterator[Apache]:
    """One lab node running the lab's apache2, torn down (orphans included) after the test."""
    with Lab(nodes=1, workdir=tmp_path / "lab") as lab:
        apache = Apache(lab.nodes[0])
        apache.start()
        yield apache


def httpd_check(apache: Apache, restart: str = "{max: 2, within: 300, wait: 5}") -> str:
    """The configuration body of an ``httpd`` check (over the preset) for the node's apache2."""
    node = apache.node
    return f"""\
checks:
  httpd:
    pidfile: {apache.pidfile}
    restart_command: [{", ".join(apache.start_argv())}]
    config_test: [{", ".join(apache.test_argv())}]
    restart: {restart}
    http: {{host: {node.address}, port: 80, path: "/?auto", contains: "{node.name}"}}
"""


def kacheck(node: Node, config: Path) -> subprocess.CompletedProcess[str]:
    """Run ``kacheck httpd`` once inside the node's network namespace."""
    return node.run([kacheck_path(), "-c", str(config), "httpd"], timeout=60)


def kill_master(apache: Apache) -> tuple[int, list[int]]:
    """SIGKILL the master only; returns it and the workers it leaves behind, still alive."""
    master = apache.master()
    assert master is not None
    workers = [pid for pid in apache.pids() if pid != master]
    assert workers, "prefork started no workers"
    procs.send_signal(master, signal.SIGKILL)
    procs.wait_until(
        lambda: apache.master() is None, timeout=10, interval=0.05, what="master to die"
    )
    # Reap it, as its parent would: `apache2 -k start` takes a zombie for a running master.
    apache.node.reap()
    assert all(procs.is_alive(pid) for pid in workers)
    return master, workers


class TestServiceApache:
    """`kacheck httpd` keeping a lab node's real apache2 alive."""

    def test_healthy_apache_passes(
        self, apache: Apache, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A running apache2 gives exit 0 and an ``httpd: OK`` line naming its master."""
        config = write_config(httpd_check(apache))

        result = kacheck(apache.node, config)

        assert result.returncode == 0, result.stderr
        (line,) = read_log()
        assert f"httpd: OK: apache2 up (master pid {apache.master()}, GET http://" in line

    def test_dead_master_is_down_though_orphans_serve(
        self, apache: Apache, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """With the master killed, orphaned workers still answer, yet the check says down."""
        config = write_config(httpd_check(apache, restart="{max: 0}"))
        master, workers = kill_master(apache)
        assert apache.page().startswith("n1\n")  # the orphans still serve

        result = kacheck(apache.node, config)

        assert result.returncode == 1
        (line,) = read_log()
        assert (
            f"httpd: FAIL: apache2 down (apache2 master pid {master} (from {apache.pidfile}) "
            "is dead); restarts disabled"
        ) in line
        assert not any(f"pid {worker}" in line for worker in workers)

    def test_dead_master_is_restarted_after_its_orphans_are_stopped(
        self, apache: Apache, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """One run stops the orphans holding port 80 and restarts; the new master serves."""
        config = write_config(httpd_check(apache))
        master, workers = kill_master(apache)

        result = kacheck(apache.node, config)

        assert result.returncode == 0, result.stderr
        (line,) = read_log()
        assert f"httpd: OK: apache2 was down (apache2 master pid {master} (from " in line
        assert f"stopped {len(workers)} orphaned apache2 worker(s)" in line
        assert f"restarted with `{' '.join(apache.start_argv())}`" in line
        assert not any(procs.is_alive(pid) for pid in workers)
        new = apache.master()
        assert new is not None and new != master
        assert apache.page().startswith("n1\n")

    def test_broken_config_says_what_is_wrong(
        self, apache: Apache, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A failing `apache2 -t` is quoted past its first line: where, then what."""
        config = write_config(httpd_check(apache))
        bad_line = apache.break_conf()
        kill_master(apache)

        result = kacheck(apache.node, config)

        assert result.returncode == 1
        (line,) = read_log()
        assert f"AH00526: Syntax error on line {bad_line} of {apache.conf}: | " in line
        assert "Invalid command 'KakitLabBrokenOnPurpose'" in line
        assert line.endswith("; not restarting")
