"""End to end: protocol 112 dropped between two keepalived nodes, and kakit noticing the split.

Both nodes become MASTER and hold the VIP; ARP still passes, so each node's probe for the VIP is
answered by the other. The FIFO reader's split-brain task (``fifo.split_brain``) alerts it, and
the ``split-brain`` check type does too (and, with ``on_split_brain: step-down`` on one node
only, ends the split by failing there).
"""

from __future__ import annotations

import os
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, Node, vrrp_instance_conf
from tests.conftest import kacheck_path
from tests.lab.test_e2e_kanotify import SINK, SINK_PORT, alerts, kanotify
from tests.lab.test_e2e_kanotify import kakit_yaml as e2e_kakit_yaml

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived"),
]

DROP_VRRP = ["iptables", "-I", "INPUT", "-p", "112", "-j", "DROP"]
ALLOW_VRRP = ["iptables", "-D", "INPUT", "-p", "112", "-j", "DROP"]


def kakit_yaml(node: Node, sink: str, peer: Node, extra: str = "") -> str:
    """Alerts to the sink, no hooks, and ``extra`` (the check or the FIFO reader's split-brain
    task naming ``peer``)."""
    return e2e_kakit_yaml(node, sink, body="") + extra


def split_events(path: Path) -> list[dict[str, Any]]:
    """The split-brain alerts the sink received, in arrival order."""
    return [body for body in alerts(path) if body.get("event", "").startswith("split_brain")]


def seen(path: Path, node: str, event: str) -> bool:
    """Whether ``node``'s ``event`` alert reached the sink."""
    return any(b["node"] == node and b["event"] == event for b in split_events(path))


class TestFifoReaderTask:
    """``fifo.split_brain``: the resident reader probes while MASTER and alerts."""

    def test_blocked_vrrp_is_alerted_and_its_end_too(self, tmp_path: Path) -> None:
        """Dropping protocol 112 alerts split_brain from both nodes naming both MACs and names;
        allowing it again ends the split with split_brain_over."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(received)])
            for node, peer, priority in ((n1, n2, 150), (n2, n1, 100)):
                config = node.dir / "kakit.yaml"
                watch = (
                    f"fifo: {{metrics_address: null, split_brain: "
                    f"{{interval: 1, peers: {{{peer.name}: {peer.address}}}}}}}\n"
                )
                config.write_text(kakit_yaml(node, gateway.address, peer, watch))
                config.chmod(0o600)
                node.write_keepalived_conf(
                    vrrp_instance_conf(
                        node,
                        priority=priority,
                        vip=lab.vip,
                        extra_global=f"""
                            notify_fifo {node.dir}/notify.fifo
                            notify_fifo_script "{kanotify()} -c {config} --fifo"
                        """,
                    )
                )
                node.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            time.sleep(2)  # a few rounds: a healthy pair alerts nothing
            assert split_events(received) == []

            for node in (n1, n2):
                node.run(DROP_VRRP, check=True)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1, n2], timeout=20, what="both MASTER")
            both = time.monotonic()
            for node in (n1, n2):
                lab.wait_until(
                    partial(seen, received, node.name, "split_brain"),
                    timeout=15,
                    what=f"{node.name}'s split_brain alert",
                )
            took = time.monotonic() - both
            alert = next(b for b in split_events(received) if b["node"] == "n1")
            n2_mac = n2.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
            n1_mac = n1.run(["cat", "/sys/class/net/eth0/address"]).stdout.strip()
            assert alert["check"] == "split-brain" and alert["kind"] == "CHECK"
            assert f"also answered by {n2_mac} (n2); this node n1 is {n1_mac}" in alert["cause"]
            assert "SPLIT BRAIN" in alert["title"]
            print(f"split_brain alerts at the sink {took:.1f} s after both held the VIP")

            for node in (n1, n2):
                node.run(ALLOW_VRRP, check=True)
            allowed = time.monotonic()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="n1 alone")
            alone = time.monotonic() - allowed
            for node in (n1, n2):
                lab.wait_until(
                    partial(seen, received, node.name, "split_brain_over"),
                    timeout=20,
                    what=f"{node.name}'s split_brain_over alert",
                )
            print(
                f"n1 alone {alone:.1f} s after allowing VRRP; split_brain_over alerts at the "
                f"sink {time.monotonic() - allowed:.1f} s after"
            )


class TestCheckType:
    """The ``split-brain`` check as keepalived's track script, with one node set to give way."""

    def test_step_down_on_one_node_ends_the_split(self, tmp_path: Path) -> None:
        """n2 (``step-down``) goes to FAULT and lets the VIP go; n1 (``alert``) keeps it; both
        alert the split and its end."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(received)])
            for node, peer, priority, action in (
                (n1, n2, 150, "alert"),
                (n2, n1, 100, "step-down"),
            ):
                config = node.dir / "kakit.yaml"
                check = (
                    f"checks:\n  sb: {{type: split-brain, on_split_brain: {action}, "
                    f"keepalived_config: {node.keepalived_conf}, "
                    f"peers: {{{peer.name}: {peer.address}}}}}\n"
                )
                config.write_text(kakit_yaml(node, gateway.address, peer, check))
                config.chmod(0o600)
                script = (
                    f'script "{kacheck_path()} -c {config} sb"\ninterval 1\ntimeout 2\nweight 0'
                )
                node.write_keepalived_conf(
                    vrrp_instance_conf(
                        node, priority=priority, vip=lab.vip, track_scripts={"chk_sb": script}
                    )
                )
                node.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")

            for node in (n1, n2):
                node.run(DROP_VRRP, check=True)
            # n2 takes the VIP (no adverts), sees n1 answering, fails its check: FAULT.
            lab.wait_until(
                partial(seen, received, "n2", "split_brain"), timeout=20, what="n2's split alert"
            )
            lab.wait_until(
                lambda: "Entering FAULT STATE" in n2.keepalived_log.read_text(),
                timeout=15,
                what="n2 in FAULT",
            )
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=15, what="n1 alone")
            for name, event in (
                ("n1", "split_brain"),
                ("n1", "split_brain_over"),
                ("n2", "split_brain_over"),
            ):
                lab.wait_until(
                    partial(seen, received, name, event), timeout=20, what=f"{name}'s {event}"
                )
            alert = next(b for b in split_events(received) if b["node"] == "n1")
            assert alert["check"] == "sb" and "(n2)" in alert["cause"]
            assert "staying healthy" in alert["cause"]
            # Still blocked, and within its hold-down: n2 stays out.
            assert lab.holders(lab.vip) == [n1]
            for node in (n1, n2):
                node.run(ALLOW_VRRP, check=True)
