"""What lint calls broken and keepalived -t passes, shown misbehaving under real keepalived.

Two namespaces joined by a veth: keepalived runs in one, the other is a client. Recorded in
docs/lint.md ("Evidence").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "keepalived")),
        reason="needs root, iproute2 and keepalived",
    ),
]

NODE, CLIENT, VIP = "10.213.71.1", "10.213.71.2", "10.213.71.100"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture(name="pair")
def _pair() -> Iterator[tuple[str, str]]:
    """A keepalived namespace (veth ``ka``, NODE) and a client namespace (CLIENT)."""
    tag = f"lint{os.getpid()}"
    node, client = f"{tag}a", f"{tag}b"
    sh("ip", "netns", "add", node)
    sh("ip", "netns", "add", client)
    try:
        sh("ip", "link", "add", f"{tag}x", "type", "veth", "peer", "name", f"{tag}y")
        sh("ip", "link", "set", f"{tag}x", "netns", node, "name", "ka")
        sh("ip", "link", "set", f"{tag}y", "netns", client, "name", "kb")
        for ns, dev, address in ((node, "ka", NODE), (client, "kb", CLIENT)):
            sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield node, client
    finally:
        sh("ip", "netns", "del", node, check=False)
        sh("ip", "netns", "del", client, check=False)


def conf(vip: str, strict: bool) -> str:
    return (
        "global_defs {\n    script_user root\n    enable_script_security\n"
        + ("    vrrp_strict\n" if strict else "")
        + "}\nvrrp_instance VI_1 {\n    state BACKUP\n    interface ka\n"
        f"    virtual_router_id 71\n    priority 100\n    advert_int 1\n"
        f"    unicast_src_ip {NODE}\n"
        f"    virtual_ipaddress {{\n        {vip}/24\n    }}\n}}\n"
    )


def answers_ping(ns: str, address: str) -> bool:
    """Whether ``address`` answers an ICMP echo from namespace ``ns`` (icmplib, 3 tries)."""
    code = f"import icmplib; print(icmplib.ping({address!r}, count=3, interval=0.2, timeout=1).is_alive)"
    done = sh("ip", "netns", "exec", ns, sys.executable, "-c", code)
    return done.stdout.strip() == "True"


def has_address(ns: str, address: str) -> bool:
    return f"inet {address}/" in sh("ip", "-n", ns, "-4", "addr", "show", "dev", "ka").stdout


@pytest.fixture(name="keepalived")
def _keepalived(tmp_path: Path, pair: tuple[str, str]):
    """Start keepalived in the node namespace on a config; yields a stop function."""
    started: list[subprocess.Popen[str]] = []

    def start(text: str, vip: str) -> subprocess.Popen[str]:
        config = tmp_path / "keepalived.conf"
        config.write_text(text)
        pids = [str(tmp_path / name) for name in ("k.pid", "v.pid", "c.pid")]
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                pair[0],
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-f",
                str(config),
                "-p",
                pids[0],
                "-r",
                pids[1],
                "-c",
                pids[2],
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        deadline = time.monotonic() + 20
        while not has_address(pair[0], vip):
            assert time.monotonic() < deadline, "keepalived never became MASTER"
            time.sleep(0.2)
        time.sleep(1.0)  # MASTER: the VIP is set; let the firewall rule settle
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


class TestStrictVip:
    """strict-vip: keepalived -t passes vrrp_strict; the VIP then answers no ping."""

    def test_vip_answers_without_strict(self, pair, keepalived) -> None:
        """Without vrrp_strict the MASTER's VIP answers the client's ping."""
        keepalived(conf(VIP, strict=False), VIP)
        assert answers_ping(pair[1], VIP)

    def test_vip_is_silent_with_strict(self, pair, keepalived) -> None:
        """With vrrp_strict the MASTER holds the VIP and the client's ping gets no reply."""
        keepalived(conf(VIP, strict=True), VIP)
        assert has_address(pair[0], VIP)
        assert answers_ping(pair[1], NODE)  # the node itself still answers
        assert not answers_ping(pair[1], VIP)


class TestVipNodeAddress:
    """vip-node-address: keepalived -t passes it; stopping keepalived takes the node's address."""

    def test_stopping_removes_the_nodes_own_address(self, pair, keepalived) -> None:
        """After keepalived stops, the node no longer has the address it had before."""
        assert has_address(pair[0], NODE)
        process = keepalived(conf(NODE, strict=False), NODE)
        process.terminate()
        process.wait(timeout=15)
        assert not has_address(pair[0], NODE)


# (instance, priority, track_file's own weight, the instance's override or "", failing value)
WEIGHT_CASES = [
    ("W_SUB", 150, "-30", "", "1"),
    ("W_OVERRIDE", 150, "-30", "weight -50", "1"),
    ("W_CLAMP", 100, "-200", "", "1"),
    ("W_ZERO", 100, "0", "", "1"),
    ("W_KAPROBE", 100, "1", "", "-254"),
]


def weights_conf(directory: Path) -> str:
    """One instance per case, each tracking its own track_file, priority changes on the FIFO."""
    text = (
        "global_defs {\n    script_user root\n    enable_script_security\n"
        f"    notify_fifo {directory / 'fifo'}\n    vrrp_notify_priority_changes true\n}}\n"
    )
    for number, (name, priority, weight, override, _value) in enumerate(WEIGHT_CASES, 1):
        (directory / name).write_text("0\n")
        text += (
            f'track_file {name} {{\n    file "{directory / name}"\n    weight {weight}\n}}\n'
            f"vrrp_instance {name} {{\n    state MASTER\n    interface ka\n"
            f"    virtual_router_id {70 + number}\n    priority {priority}\n"
            f"    virtual_ipaddress {{\n        10.213.72.{number}/24\n    }}\n"
            f"    track_file {{\n        {name} {override}\n    }}\n}}\n"
        )
    return text


class TestWeightArithmetic:
    """lint's priorities are keepalived's: each case's effective priority after its file fails."""

    def test_keepalived_reports_what_lint_computes(self, pair, tmp_path: Path) -> None:
        """keepalived's FIFO lines after the failing values are written match `effective`."""
        from kakit.lint import read
        from kakit.lint.weights import FAULT, effective

        tmp_path.chmod(0o755)
        config = tmp_path / "keepalived.conf"
        config.write_text(weights_conf(tmp_path))
        expected = {
            instance.name: effective(instance, {f"file:{instance.name}"})
            for instance in read(str(config)).instances
        }
        os.mkfifo(tmp_path / "fifo")
        fifo = os.open(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
        pids = [str(tmp_path / name) for name in ("k.pid", "v.pid", "c.pid")]
        process = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                pair[0],
                "keepalived",
                "-n",
                "-l",
                "-f",
                str(config),
                "-p",
                pids[0],
                "-r",
                pids[1],
                "-c",
                pids[2],
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen: dict[str, str] = {}
        buffer = b""

        def read_until(done: Callable[[], bool]) -> None:
            nonlocal buffer
            deadline = time.monotonic() + 20
            while not done():
                assert time.monotonic() < deadline, (seen, buffer)
                try:
                    buffer += os.read(fifo, 65536)
                except BlockingIOError:
                    time.sleep(0.1)
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    words = line.decode().split()
                    if len(words) == 4 and words[0] == "INSTANCE":
                        seen[words[1].strip('"')] = f"{words[2]} {words[3]}"

        try:
            read_until(lambda: all(seen.get(n, "").startswith("MASTER") for n, *_ in WEIGHT_CASES))
            for name, *_rest, value in WEIGHT_CASES:
                staged = tmp_path / f".{name}"
                staged.write_text(f"{value}\n")
                staged.rename(tmp_path / name)  # keepalived's inotify sees the move
            want = {
                name: "FAULT" if priority == FAULT else f"MASTER_PRIORITY {priority}"
                for name, priority in expected.items()
            }

            def arrived(name: str, line: str) -> bool:
                got = seen.get(name, "")
                return got.startswith("FAULT ") if line == "FAULT" else got == line

            read_until(lambda: all(arrived(n, w) for n, w in want.items()))
        finally:
            process.terminate()
            process.wait(timeout=15)
            os.close(fifo)
        assert expected == {
            "W_SUB": 120,
            "W_OVERRIDE": 100,
            "W_CLAMP": 1,
            "W_ZERO": FAULT,
            "W_KAPROBE": FAULT,
        }
