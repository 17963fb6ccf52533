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
from collections.abc import Iterator
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
