"""End to end: two keepalived nodes with kanotify as notify, alerts to a webhook in the lab."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from lab import Lab, Node, vrrp_instance_conf
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived"),
]

SINK_PORT = 18080
SINK = [sys.executable, "-m", "lab.sink"]
"""The webhook sink's command line, before ``ADDRESS PORT OUTFILE``."""


def kanotify() -> str:
    """The kanotify console script beside kacheck."""
    return str(Path(kacheck_path()).with_name("kanotify"))


HOOKS = """\
states:
  MASTER:
    sysctl: {net.ipv4.ip_nonlocal_bind: 1}
    firewall: {accept: [vrrp, {destination: 10.213.7.100}]}
  BACKUP:
    sysctl: {net.ipv4.ip_nonlocal_bind: 0}
"""
"""MASTER's sysctl and firewall, BACKUP's sysctl."""


def kakit_yaml(node: Node, sink_address: str, body: str = HOOKS) -> str:
    """The node's kakit.yaml: its own paths, ``body`` (default :data:`HOOKS`), every alert to
    the lab's webhook sink."""
    return f"""\
version: 1
node: {node.name}
paths: {{state_dir: {node.dir}/kakit-run, data_dir: {node.dir}/kakit-lib}}
log: {{file: {node.dir}/kakit.log, syslog: false}}
keepalived: {{config: {node.keepalived_conf}}}
{body}channels:
  sink: {{type: webhook, url: "http://{sink_address}:{SINK_PORT}/alerts"}}
alerts:
  - channels: [sink]
outbox: {{coalesce: 0.2, backoff_initial: 0.2, backoff_max: 1}}
"""


def configure(node: Node, priority: int, sink_address: str) -> Path:
    """Write the node's kakit.yaml (hooks + webhook channel) and keepalived.conf."""
    config = node.dir / "kakit.yaml"
    config.write_text(kakit_yaml(node, sink_address))
    config.chmod(0o600)
    node.write_keepalived_conf(
        vrrp_instance_conf(
            node,
            priority=priority,
            vip="10.213.7.100",
            extra_instance=f'notify "{kanotify()} -c {config}"',
        )
    )
    return config


def alerts(path: Path) -> list[dict[str, Any]]:
    """Bodies the sink received, in arrival order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def states_from(path: Path, node: str) -> list[str]:
    """The sequence of states one node reported (a collapsed message counts its last state)."""
    return [body["state"] for body in alerts(path) if body.get("node") == node]


def outbox_drained(node: Node) -> bool:
    """No alert of this node is still waiting or in flight."""
    with sqlite3.connect(node.dir / "kakit-lib" / "outbox.sqlite") as db:
        (busy,) = db.execute(
            "SELECT COUNT(*) FROM messages WHERE status IN ('held', 'pending', 'sending')"
        ).fetchone()
    return int(busy) == 0


def kakit_rules(node: Node) -> list[str]:
    """kakit's tagged firewall rules in the node."""
    return [rule for rule in node.run(["iptables", "-S"]).stdout.splitlines() if "kakit:" in rule]


class TestFailoverAlerts:
    """Stopping the master: alerts from both nodes arrive once each, rules move with MASTER."""

    def test_stop_master(self, tmp_path: Path) -> None:
        """The sink hears STOP from n1 and MASTER from n2; kakit's rules exist only on n2."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(received)])
            configure(n1, 150, gateway.address)
            configure(n2, 100, gateway.address)
            n1.start_keepalived()
            n2.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            lab.wait_until(
                lambda: "MASTER" in states_from(received, "n1"),
                timeout=20,
                what="n1's MASTER alert",
            )
            assert kakit_rules(n1) and not kakit_rules(n2)
            assert n1.run(["cat", "/proc/sys/net/ipv4/ip_nonlocal_bind"]).stdout.strip() == "1"

            n1.stop_keepalived(signal.SIGTERM)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n2], timeout=20, what="VIP on n2")
            lab.wait_until(
                lambda: states_from(received, "n2")[-1:] == ["MASTER"],
                timeout=20,
                what="n2's MASTER alert",
            )
            lab.wait_until(
                lambda: states_from(received, "n1")[-1:] == ["STOP"],
                timeout=20,
                what="n1's STOP alert",
            )
            lab.wait_until(lambda: bool(kakit_rules(n2)), timeout=10, what="kakit rules on n2")
            assert not kakit_rules(n1)
            lab.wait_until(
                lambda: outbox_drained(n1) and outbox_drained(n2),
                timeout=20,
                what="both outboxes drained",
            )
            bodies = alerts(received)
            per_node = {
                name: [body["sequence"] for body in bodies if body["node"] == name]
                for name in ("n1", "n2")
            }
            # Each transition arrives exactly once and in order, with its previous state.
            assert per_node == {
                "n1": [["BACKUP"], ["BACKUP", "MASTER"], ["MASTER", "STOP"]],
                "n2": [["BACKUP"], ["BACKUP", "MASTER"]],
            }
            master_alert = next(
                body for body in bodies if body["node"] == "n2" and body["state"] == "MASTER"
            )
            assert "firewall: 2 rules in KAKIT (iptables)" in master_alert["hooks"]
