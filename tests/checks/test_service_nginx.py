"""The nginx service check against a real nginx in a one-node lab.

kacheck runs inside the node's network namespace, as keepalived would run it there: it must see
only that namespace's nginx, restart it through ``restart_command`` within the restart budget,
and escalate (latch, stop keepalived) once the budget is spent.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, procs
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nginx"),
        reason="needs root, iproute2 and nginx",
    ),
]

WriteConfig = Callable[[str], Path]
ReadLog = Callable[[], list[str]]


@pytest.fixture(name="node")
def _node(tmp_path: Path) -> Iterator[Node]:
    """One lab node with the lab's nginx running, torn down after the test."""
    with Lab(nodes=1, workdir=tmp_path / "lab") as lab:
        node = lab.nodes[0]
        node.start_nginx()
        yield node


def nginx_check(
    node: Node, extra: str = "", restart: str = "{max: 2, within: 300, wait: 2}"
) -> str:
    """The configuration body of an ``nginx`` check for ``node`` (overlaying the preset)."""
    return f"""\
checks:
  nginx:
    pidfile: {node.nginx_pidfile}
    restart_command: [nginx, -c, {node.nginx_conf}]
    config_test: [nginx, -t, -q, -c, {node.nginx_conf}]
    restart: {restart}
    port: 80
{extra}"""


def kacheck(node: Node, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run kacheck once inside the node's network namespace."""
    return node.run([kacheck_path(), "-c", str(config), *args], timeout=60)


def kakit_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``kakit`` admin command installed beside kacheck."""
    kakit = str(Path(kacheck_path()).with_name("kakit"))
    return subprocess.run(
        [kakit, *args, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def kill_nginx(node: Node) -> str:
    """SIGKILL every nginx process of the node and wait until none is alive.

    Returns:
        How kacheck then describes the master: its pid file still names it, dead.
    """
    master = procs.read_pidfile(node.nginx_pidfile)
    pids = node.nginx_pids()
    assert pids, f"{node.name}: no nginx to kill"
    for pid in pids:
        procs.send_signal(pid, signal.SIGKILL)
    procs.wait_until(
        lambda: not node.nginx_running(), timeout=10, interval=0.05, what="nginx to die"
    )
    return f"nginx master pid {master} (from {node.nginx_pidfile}) is dead"


def restart_times(tmp_path: Path) -> list[float]:
    """The restart attempts recorded in the nginx check's state file."""
    state = json.loads((tmp_path / "run" / "checks" / "nginx.json").read_text())
    times: list[float] = state.get("restarts", {}).get("service:nginx", [])
    return times


def lines_with(lines: list[str], text: str) -> list[str]:
    """The log lines containing ``text``."""
    return [line for line in lines if text in line]


class TestServiceNginx:
    """`kacheck nginx` keeping a lab node's real nginx alive within its restart budget."""

    def test_healthy_nginx_passes(
        self, node: Node, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A running nginx gives exit 0 and an ``nginx: OK`` line naming its master pid."""
        config = write_config(nginx_check(node))

        result = kacheck(node, config, "nginx")

        assert result.returncode == 0, result.stderr
        master = procs.read_pidfile(node.nginx_pidfile)
        (line,) = read_log()
        assert f"nginx: OK: nginx up (master pid {master}, port 80 open)" in line

    def test_killed_nginx_is_restarted_in_the_namespace(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """One run after nginx was killed restarts it in that namespace and exits 0."""
        config = write_config(nginx_check(node))
        dead = kill_nginx(node)

        result = kacheck(node, config, "nginx")

        assert result.returncode == 0, result.stderr
        assert node.nginx_running()
        master = procs.read_pidfile(node.nginx_pidfile)
        assert master is not None and procs.is_alive(master) and node.owns_pid(master)
        assert node.http_get() == "node n1\n"
        (line,) = read_log()
        assert f"nginx: OK: nginx was down ({dead}); restarted with" in line
        assert f"`nginx -c {node.nginx_conf}`" in line
        assert "(restart 1/2 within 300 s)" in line
        assert len(restart_times(tmp_path)) == 1

    def test_third_kill_within_window_exhausts_budget(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """With max 2, two kills are repaired; the third run exits 1 and leaves nginx down."""
        config = write_config(nginx_check(node))
        for attempt in (1, 2):
            kill_nginx(node)
            result = kacheck(node, config, "nginx")
            assert result.returncode == 0, result.stderr
            assert node.nginx_running()
            assert f"(restart {attempt}/2 within 300 s)" in read_log()[-1]

        dead = kill_nginx(node)
        result = kacheck(node, config, "nginx")

        assert result.returncode == 1
        assert not node.nginx_running()
        last = read_log()[-1]
        assert f"nginx: FAIL: nginx down ({dead}); restart budget spent" in last
        assert "(2 restarts within 300 s" in last
        assert len(restart_times(tmp_path)) == 2

    def test_broken_config_is_never_restarted_nor_counted(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A failing config test skips the restart, says what is wrong, and spends no budget."""
        config = write_config(nginx_check(node))
        node.break_nginx()

        for _ in range(3):
            result = kacheck(node, config, "nginx")
            assert result.returncode == 1
            assert not node.nginx_running()
            last = read_log()[-1]
            assert f"config test `nginx -t -q -c {node.nginx_conf}` failed: " in last
            # nginx's two lines: what is wrong, then which file failed.
            assert 'unknown directive "kakit_lab_broken_on_purpose"' in last
            assert f" | nginx: configuration file {node.nginx_conf} test failed" in last
            assert last.endswith("; not restarting")

        assert "restart budget spent" not in "\n".join(read_log())
        assert restart_times(tmp_path) == []

    def test_latch_clear_after_fixing_the_config_restarts_at_once(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """The operator's sequence: broken nginx.conf latches; fix it, clear, and nginx restarts."""
        config = write_config(nginx_check(node, extra="    latch: true\n"))
        node.break_nginx()
        assert kacheck(node, config, "nginx").returncode == 1
        assert "config test" in read_log()[-1] and "latched" in read_log()[-1]

        node.repair_nginx()
        cleared = kakit_cli(config, "latch", "clear", "nginx")
        assert cleared.returncode == 0, cleared.stderr
        result = kacheck(node, config, "nginx")

        assert result.returncode == 0, result.stderr
        assert node.http_get() == "node n1\n"
        last = read_log()[-1]
        assert "nginx: OK: nginx was down (no nginx master process); restarted with" in last
        assert "(restart 1/2 within 300 s)" in last

    @pytest.mark.parametrize("keep", [False, True])
    def test_latch_clear_resets_a_spent_budget_unless_kept(
        self, node: Node, write_config: WriteConfig, read_log: ReadLog, keep: bool
    ) -> None:
        """After two real restarts and a latch, `latch clear` allows restarts again; --keep-budget not."""
        config = write_config(nginx_check(node, extra="    latch: true\n"))
        for _ in range(2):
            kill_nginx(node)
            assert kacheck(node, config, "nginx").returncode == 0
        dead = kill_nginx(node)
        assert kacheck(node, config, "nginx").returncode == 1
        assert "restart budget spent" in read_log()[-1] and "latched" in read_log()[-1]

        args = ["latch", "clear", "nginx", *(["--keep-budget"] if keep else [])]
        cleared = kakit_cli(config, *args)
        assert cleared.returncode == 0, cleared.stderr
        assert cleared.stdout.strip().endswith("restart budget kept" if keep else "budget reset")
        result = kacheck(node, config, "nginx")

        last = read_log()[-1]
        if keep:
            assert result.returncode == 1
            assert f"nginx: FAIL: nginx down ({dead}); restart budget spent" in last
            assert not node.nginx_running()
        else:
            assert result.returncode == 0, result.stderr
            assert "restarted with" in last and "(restart 1/2 within 300 s)" in last
            assert node.nginx_running()

    def test_stop_keepalived_latches_even_without_keepalived(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """stop-keepalived latches, then stops nothing (no keepalived here); `latch clear` lifts it."""
        config = write_config(
            nginx_check(node, extra="    on_failure: stop-keepalived\n", restart="{max: 0}")
        )
        latch_file = tmp_path / "lib" / "latches" / "nginx"
        kill_nginx(node)

        result = kacheck(node, config, "nginx")

        assert result.returncode == 1
        assert "restarts disabled" in json.loads(latch_file.read_text())["reason"]
        log = read_log()
        # Nothing to stop is found before anything is said: no "stopping keepalived" line, and
        # the run's line says latched and why nothing was stopped.
        assert not lines_with(log, "; stopping keepalived")
        (failed,) = lines_with(
            log, "could not stop keepalived: no keepalived to stop: no keepalived runs in this"
        )
        assert f"latched (clear with `kakit latch clear -c {config} nginx`)" in failed

        node.start_nginx()
        for _ in range(2):
            result = kacheck(node, config, "nginx")
            assert result.returncode == 1
            assert "nginx: FAIL: latched since" in read_log()[-1]
        assert node.nginx_running()
        assert "nginx: latched since" in kakit_cli(config, "latch", "list").stdout

        cleared = kakit_cli(config, "latch", "clear", "nginx")

        assert cleared.returncode == 0, cleared.stderr
        assert not latch_file.exists()
        assert "nginx: latch cleared by operator" in read_log()[-1]
        result = kacheck(node, config, "nginx")
        assert result.returncode == 0
        assert "nginx: OK: nginx up" in read_log()[-1]

    def test_overlapping_run_repeats_last_result(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """While another run holds the lock, kacheck repeats the last result and restarts nothing."""
        config = write_config(nginx_check(node))
        assert kacheck(node, config, "nginx").returncode == 0
        kill_nginx(node)

        fd = os.open(tmp_path / "run" / "checks" / "nginx.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            result = kacheck(node, config, "nginx")
        finally:
            os.close(fd)

        assert result.returncode == 0
        assert not node.nginx_running()
        last = read_log()[-1]
        assert "nginx: OK: previous run still in progress; repeating its result from" in last
        assert last.endswith("port 80 open)")
        # With the lock free again the next run does the real work.
        assert kacheck(node, config, "nginx").returncode == 0
        assert node.nginx_running()

    def test_overlapping_first_run_fails(
        self, node: Node, tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A run overlapping another with no recorded result exits 1 and says so."""
        config = write_config(nginx_check(node))
        checks_dir = tmp_path / "run" / "checks"
        checks_dir.mkdir(parents=True, mode=0o700)

        fd = os.open(checks_dir / "nginx.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            result = kacheck(node, config, "nginx")
        finally:
            os.close(fd)

        assert result.returncode == 1
        assert read_log()[-1].endswith(
            "nginx: FAIL: previous run still in progress and no earlier result"
        )
