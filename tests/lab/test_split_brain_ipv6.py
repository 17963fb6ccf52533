"""End to end: an IPv6 virtual address held by both nodes once VRRPv3 adverts are dropped.

The pair runs keepalived with one IPv6 VIP (VRRP version 3 over IPv6). ip6tables drops IP
protocol 112 on both nodes, both become MASTER and both hold the VIP; Neighbor Discovery still
passes, so n1's DAD probe for the VIP is answered by n2's Neighbor Advertisement. The
``split-brain`` check (``step-down``) fails and alerts, naming both MAC addresses; once the
adverts pass again n2 lets the VIP go and the check reports the split over.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

import pytest

from lab import Lab, Node, vrrp_instance_conf
from tests.conftest import kacheck_path
from tests.lab.test_e2e_kanotify import SINK, SINK_PORT
from tests.lab.test_split_brain import kakit_yaml, seen, split_events

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived"),
    pytest.mark.skipif(not shutil.which("ip6tables"), reason="needs ip6tables"),
]

PREFIX = "fd13:213::"
"""The lab's IPv6 network (a ULA prefix, inside the test's namespaces only)."""

VIP6 = f"{PREFIX}100"
DROP_VRRP = ["ip6tables", "-I", "INPUT", "-p", "112", "-j", "DROP"]
ALLOW_VRRP = ["ip6tables", "-D", "INPUT", "-p", "112", "-j", "DROP"]


def add_ipv6(node: Node, host: int) -> None:
    """Give a node ``fd13:213::HOST/64`` on eth0, with DAD off in its namespace: the test
    must not wait for DAD, and keepalived's IPv6 adverts need a usable link-local address."""
    node.run(["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"], check=True)
    node.run(["sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"], check=True)
    node.run(["ip", "addr", "add", f"{PREFIX}{host}/64", "dev", "eth0", "nodad"], check=True)


def link_local_ready(node: Node) -> bool:
    """Whether eth0 has a link-local address that is no longer tentative."""
    out = node.run(["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"]).stdout
    return "fe80::" in out and "tentative" not in out


def kacheck(node: Node, config: Path) -> tuple[int, str]:
    """One ``kacheck sb`` run in the node, as keepalived would run it: exit status, output."""
    done = node.run([kacheck_path(), "-c", str(config), "-v", "sb"], timeout=20)
    return done.returncode, done.stdout + done.stderr


class TestCheckType:
    """``kacheck sb`` (``split-brain``, ``step-down``) on a node holding an IPv6 VIP."""

    def test_both_holding_the_ipv6_vip_fails_and_alerts_then_ends(self, tmp_path: Path) -> None:
        """With adverts dropped, n1's check exits 1 and alerts split_brain with both MACs and
        names; with them back, n2 lets the VIP go and the check exits 0, alerting the end."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(received)])
            configs = {}
            for host, (node, peer, priority) in enumerate(((n1, n2, 150), (n2, n1, 100)), 1):
                add_ipv6(node, host)
                config = node.dir / "kakit.yaml"
                check = (
                    f"checks:\n  sb: {{type: split-brain, on_split_brain: step-down, "
                    f"hold_down: 0, clear_after: 1, keepalived_config: {node.keepalived_conf}, "
                    f"peers: {{{peer.name}: {peer.address}}}}}\n"
                )
                config.write_text(kakit_yaml(node, gateway.address, peer, check))
                config.chmod(0o600)
                configs[node.name] = config
                node.write_keepalived_conf(
                    vrrp_instance_conf(
                        node,
                        priority=priority,
                        vip=f"{VIP6}/64",
                        extra_global="vrrp_version 3",
                    )
                )
            for node in (n1, n2):
                lab.wait_until(partial(link_local_ready, node), timeout=10, what="link-local")
                node.start_keepalived()
            lab.wait_until(lambda: lab.holders(VIP6) == [n1], timeout=20, what="VIP6 on n1")
            status, output = kacheck(n1, configs["n1"])
            assert status == 0 and f"no other host answers for {VIP6}" in output

            for node in (n1, n2):
                node.run(DROP_VRRP, check=True)
            lab.wait_until(lambda: lab.holders(VIP6) == [n1, n2], timeout=20, what="both MASTER")
            status, output = kacheck(n1, configs["n1"])
            assert status == 1, output
            lab.wait_until(
                partial(seen, received, "n1", "split_brain"), timeout=15, what="n1's split alert"
            )
            n1_mac = n1.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
            n2_mac = n2.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
            alert = next(b for b in split_events(received) if b["node"] == "n1")
            assert alert["check"] == "sb"
            assert (
                f"{VIP6} on eth0: also answered by {n2_mac} (n2); this node n1 is {n1_mac}"
                in alert["cause"]
            )

            for node in (n1, n2):
                node.run(ALLOW_VRRP, check=True)
            lab.wait_until(lambda: lab.holders(VIP6) == [n1], timeout=20, what="n1 alone")
            status, output = kacheck(n1, configs["n1"])
            assert status == 0, output
            lab.wait_until(
                partial(seen, received, "n1", "split_brain_over"),
                timeout=15,
                what="n1's split_brain_over alert",
            )
