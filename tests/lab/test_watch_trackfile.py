"""Watch mode in lab nodes: `kacheck --watch nginx` maintaining a keepalived track file.

Hysteresis is checked by counting cycles, never by timing: an observer script, run by the check
itself, appends the track file's value as it stood before each cycle's verdict. It runs as the
nginx check's ``config_test`` in failing cycles (the test always fails, so nginx is never
restarted) and as a second probe, after the nginx probe, in passing cycles.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, procs, vrrp_instance_conf
from tests.conftest import config_text, kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nginx"),
        reason="needs root, iproute2 and nginx",
    ),
]

needs_keepalived = pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived")

INTERVAL = "0.2"

# $1 is F (failing cycle) or H (passing cycle); $2 the track file, $3 the observation file.
OBSERVER = """\
#!/bin/sh
value=$(cat "$2" 2>/dev/null) || value=none
echo "$1 $value" >> "$3"
[ "$1" = H ]
"""


@pytest.fixture(name="lab1")
def _lab1(tmp_path: Path) -> Iterator[Node]:
    """One lab node with the lab's nginx running."""
    with Lab(nodes=1, workdir=tmp_path / "lab") as lab:
        node = lab.nodes[0]
        node.start_nginx()
        yield node


def write_node_config(node: Node, body: str) -> Path:
    """Write a kakit.yaml with state, data and log paths private to ``node``."""
    path = node.dir / "kakit.yaml"
    path.write_text(config_text(node.dir, textwrap.dedent(body)))
    return path


def nginx_check(node: Node, extra: str = "") -> str:
    """An nginx check for ``node`` with restarts disabled."""
    return f"""\
checks:
  nginx:
    pidfile: {node.nginx_pidfile}
    port: 80
    restart: {{max: 0}}
{extra}"""


def watch_argv(config: Path, track: Path, *extra: str) -> list[str]:
    """The kacheck command line of a watcher of the nginx check."""
    return [
        kacheck_path(),
        "-c",
        str(config),
        "--watch",
        "nginx",
        "--interval",
        INTERVAL,
        "--track-file",
        str(track),
        *extra,
    ]


def start_watcher(node: Node, config: Path, track: Path) -> subprocess.Popen[bytes]:
    """Start a resident watcher inside the node (the lab stops it at teardown)."""
    with (node.dir / "watch.out").open("ab") as out:
        return node.popen(
            watch_argv(config, track),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_watcher(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM a watcher and return its exit status."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=15)


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


def read_track(track: Path) -> str | None:
    """The track file's content, or None while it does not exist."""
    try:
        return track.read_text()
    except FileNotFoundError:
        return None


def log_lines(node: Node) -> list[str]:
    """The lines kakit logged for ``node``."""
    path = node.dir / "kakit.log"
    return path.read_text().splitlines() if path.exists() else []


def observations(path: Path) -> list[tuple[str, str]]:
    """The observer's records: ``(F|H, track file value before that cycle's verdict)``."""
    if not path.exists():
        return []
    # Only whole lines: the observer may be appending while the test reads.
    lines = path.read_text().split("\n")[:-1]
    return [(kind, value) for kind, value in (line.split(" ", 1) for line in lines)]


class TestWatchTrackFile:
    """`kacheck --watch nginx` writing 0/1 to a track file from inside a lab node."""

    def test_healthy_nginx_writes_zero_once(self, lab1: Node) -> None:
        """While nginx runs, every cycle passes and the track file says 0, written once."""
        config = write_node_config(lab1, nginx_check(lab1))
        track = lab1.dir / "track" / "nginx"

        result = lab1.run([*watch_argv(config, track), "--cycles", "3"], timeout=60)

        assert result.returncode == 0, result.stderr
        assert read_track(track) == "0\n"
        written = [line for line in log_lines(lab1) if f"track file {track} = " in line]
        assert len(written) == 1
        assert "nginx: OK: nginx up (master pid" in written[0]
        assert written[0].endswith(f"track file {track} = 0")

    def test_dead_nginx_with_restarts_disabled_writes_one(self, lab1: Node) -> None:
        """With restart max 0 and nginx killed, the file says 1 and nginx stays down."""
        config = write_node_config(lab1, nginx_check(lab1))
        track = lab1.dir / "track" / "nginx"
        dead = kill_nginx(lab1)

        result = lab1.run([*watch_argv(config, track), "--cycles", "3"], timeout=60)

        assert result.returncode == 0, result.stderr
        assert read_track(track) == "1\n"
        assert not lab1.nginx_running()
        (written,) = [line for line in log_lines(lab1) if f"track file {track} = " in line]
        assert f"nginx: FAIL: nginx down ({dead}); restarts disabled" in written
        assert written.endswith(f"track file {track} = 1")

    def test_fall_and_rise_count_cycles(self, lab1: Node) -> None:
        """With fall 3 the file flips to 1 on the 3rd failing cycle, with rise 2 back on the 2nd."""
        observer = lab1.dir / "observe.sh"
        observer.write_text(OBSERVER)
        track = lab1.dir / "track" / "nginx"
        seen = lab1.dir / "observations"
        observe = f"[sh, {observer}, {{kind}}, {track}, {seen}]"
        config = write_node_config(
            lab1,
            f"""\
            checks:
              nginx:
                fall: 3
                rise: 2
                probes:
                  - type: service
                    service: nginx
                    pidfile: {lab1.nginx_pidfile}
                    port: 80
                    restart: {{max: 100, within: 86400}}
                    config_test: {observe.format(kind="F")}
                  - type: command
                    argv: {observe.format(kind="H")}
            """,
        )
        watcher = start_watcher(lab1, config, track)

        def observed(kind: str, value: str) -> bool:
            if watcher.poll() is not None:
                raise RuntimeError(f"watcher exited with {watcher.returncode}")
            return (kind, value) in observations(seen)

        # Healthy cycles that already saw 0 in the file.
        procs.wait_until(lambda: observed("H", "0"), timeout=30, what="a healthy cycle")
        kill_nginx(lab1)
        procs.wait_until(lambda: observed("F", "1"), timeout=30, what="a failing cycle seeing 1")
        lab1.start_nginx()
        procs.wait_until(lambda: observations(seen)[-1] == ("H", "0"), timeout=30, what="recovery")
        assert stop_watcher(watcher) == 0

        records = observations(seen)
        first_fail = records.index(("F", "0"))
        assert records[first_fail - 1] == ("H", "0")
        failing = [value for kind, value in records[first_fail:] if kind == "F"]
        assert failing[:4] == ["0", "0", "0", "1"]  # cycles 1-3 fail, the 3rd writes 1
        first_pass = first_fail + len(failing)
        assert all(kind == "F" for kind, _ in records[first_fail:first_pass])
        passing = [value for _, value in records[first_pass:]]
        assert passing[:3] == ["1", "1", "0"]  # passes 1-2 after recovery, the 2nd writes 0
        assert read_track(track) == "0\n"
        verdicts = [line for line in log_lines(lab1) if f"track file {track} = " in line]
        assert [line[-1] for line in verdicts] == ["0", "1", "0"]
        assert "watch stopped by signal 15" in log_lines(lab1)[-1]


def start_tracked_node(lab: Lab, node: Node, priority: int) -> tuple[subprocess.Popen[bytes], Path]:
    """Start nginx, a resident watcher and keepalived tracking its file (no vrrp_script).

    Returns:
        The watcher process and the track file.
    """
    node.start_nginx()
    track = node.dir / "track" / "nginx"
    track.parent.mkdir()  # keepalived needs the directory when it loads its configuration
    watcher = start_watcher(node, write_node_config(node, nginx_check(node)), track)
    procs.wait_until(
        lambda: read_track(track) == "0\n", timeout=30, what=f"track file of {node.name}"
    )
    tracker = f'track_file kacheck_nginx {{\n    file "{track}"\n    weight 0\n}}\n'
    instance = vrrp_instance_conf(
        node, priority=priority, vip=lab.vip, extra_instance="track_file {\nkacheck_nginx\n}"
    )
    node.write_keepalived_conf(tracker + instance)
    node.start_keepalived()
    return watcher, track


@needs_keepalived
class TestWatchDrivesKeepalived:
    """keepalived's track_file fed by resident watchers moves the VIP with nginx's health."""

    def test_vip_follows_nginx_health(self, tmp_path: Path) -> None:
        """Killing n1's nginx moves the VIP to n2; starting it again brings the VIP back."""
        with Lab(nodes=2, workdir=tmp_path / "lab") as lab:
            n1, n2 = lab.nodes
            watcher1, track1 = start_tracked_node(lab, n1, 150)
            watcher2, track2 = start_tracked_node(lab, n2, 100)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=30, what="VIP on n1")

            kill_nginx(n1)

            lab.wait_until(lambda: lab.holders(lab.vip) == [n2], timeout=30, what="VIP on n2")
            assert read_track(track1) == "1\n"
            assert not n1.nginx_running()
            assert "tracked file kacheck_nginx now FAULT state" in n1.keepalived_log.read_text()

            n1.start_nginx()

            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=30, what="VIP back")
            assert read_track(track1) == "0\n"
            assert read_track(track2) == "0\n"
            assert stop_watcher(watcher1) == 0
            assert stop_watcher(watcher2) == 0
