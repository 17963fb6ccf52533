"""LVS-DR real server in the lab: a client's ARP for the VIP, before and after `kakit realserver`.

n1 is the real server and n2 a client on the same bridge (the director's place: this kernel has
no ``ip_vs``, so no director runs; the client stands in for it and for the router that must
never learn the VIP from a real server).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab, Node

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("arping"),
        reason="needs root, iproute2 and arping",
    ),
]

KEYS = [f"net.ipv4.conf.{i}.{k}" for i in ("all", "lo") for k in ("arp_ignore", "arp_announce")]


@pytest.fixture(name="lab")
def _lab(tmp_path: Path) -> Iterator[Lab]:
    """Two nodes on one bridge, torn down after the test."""
    with Lab(nodes=2, workdir=tmp_path) as lab:
        yield lab


def arp_answers(client: Node, address: str) -> list[str]:
    """The MAC addresses that answer the client's ARP requests for ``address`` (two, 2 s)."""
    client.run(["ip", "neigh", "flush", "dev", "eth0"])
    proc = client.run(["arping", "-c", "2", "-w", "2", "-I", "eth0", address])
    return sorted(set(re.findall(r"reply from \S+ \[([0-9A-Fa-f:]+)\]", proc.stdout)))


def mac(node: Node) -> str:
    """The node's eth0 MAC address, upper case as arping prints it."""
    return node.run(["cat", "/sys/class/net/eth0/address"], check=True).stdout.strip().upper()


def snapshot(node: Node) -> tuple[list[str], list[str]]:
    """The node's ARP sysctls and IPv4 addresses."""
    values = [
        node.run(["cat", "/proc/sys/" + key.replace(".", "/")], check=True).stdout.strip()
        for key in KEYS
    ]
    # IPv4 only: eth0 gains its IPv6 link-local address on its own while the test runs.
    lines = node.run(["ip", "-4", "-o", "addr", "show"], check=True).stdout.splitlines()
    return values, sorted(line.split(None, 1)[1] for line in lines)


def test_arp_for_the_vip_answered_before_up_silent_after_restored_by_down(lab: Lab) -> None:
    """The hand setup answers ARP for the VIP; after up nobody does, traffic still arrives; down
    restores the sysctls and removes only the VIP it added."""
    server, client = lab.nodes
    extra = "10.213.7.101"
    config = server.dir / "kakit.yaml"
    config.write_text(
        f"version: 1\npaths: {{state_dir: {server.dir}/run, data_dir: {server.dir}/lib}}\n"
        "log: {syslog: false}\n"
    )
    kakit = [str(Path(sys.executable).with_name("kakit")), "realserver"]

    # The kernel's defaults: a new namespace copies the host's values, whatever they are.
    server.run(["sysctl", "-qw", *(f"{key}=0" for key in KEYS)], check=True)
    # What the new user did by hand, as the seed's script does it: the VIP on lo, nothing else.
    server.run(["ip", "addr", "add", f"{lab.vip}/32", "dev", "lo"], check=True)
    before = snapshot(server)
    assert arp_answers(client, lab.vip) == [mac(server)]

    up = server.run([*kakit, "up", lab.vip, extra, "-c", str(config)])
    assert up.returncode == 0, up.stderr
    assert f"{lab.vip}/32 already on lo" in up.stdout
    assert f"{extra}/32 added to lo" in up.stdout
    assert arp_answers(client, lab.vip) == []
    assert arp_answers(client, extra) == []

    # A director forwards to the real server's MAC: a route via its own address does the same,
    # and the real server's web server answers on the VIP.
    server.start_nginx()
    client.run(["ip", "route", "add", f"{lab.vip}/32", "via", server.address], check=True)
    assert "n1" in client.http_get(lab.vip)
    client.run(["ip", "route", "del", f"{lab.vip}/32"], check=True)

    down = server.run([*kakit, "down", "-c", str(config)])
    assert down.returncode == 0, down.stderr
    assert snapshot(server) == before
    assert arp_answers(client, lab.vip) == [mac(server)]
