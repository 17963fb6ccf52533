"""End to end: keepalived's notify FIFO read by ``kanotify --fifo``, hooks in keepalived's order."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from lab import Lab, Node, vrrp_instance_conf
from tests.lab.test_e2e_kanotify import SINK, SINK_PORT, alerts, kakit_rules, kanotify, states_from

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived"),
]


def configure(node: Node, priority: int, sink_address: str, reconcile: float = 30) -> Path:
    """kakit.yaml with hooks and a webhook; keepalived.conf with the FIFO and its reader."""
    config = node.dir / "kakit.yaml"
    config.write_text(
        f"""\
version: 1
node: {node.name}
paths: {{state_dir: {node.dir}/kakit-run, data_dir: {node.dir}/kakit-lib}}
log: {{file: {node.dir}/kakit.log, syslog: false}}
states:
  MASTER:
    sysctl: {{net.ipv4.ip_nonlocal_bind: 1}}
    firewall: {{accept: [vrrp, {{destination: 10.213.7.100}}]}}
  BACKUP:
    sysctl: {{net.ipv4.ip_nonlocal_bind: 0}}
channels:
  sink: {{type: webhook, url: "http://{sink_address}:{SINK_PORT}/alerts"}}
alerts:
  - channels: [sink]
outbox: {{coalesce: 0.2, backoff_initial: 0.2, backoff_max: 1}}
"""
    )
    config.chmod(0o600)
    node.write_keepalived_conf(
        vrrp_instance_conf(
            node,
            priority=priority,
            vip="10.213.7.100",
            extra_global=f"""
                notify_fifo {node.dir}/notify.fifo
                notify_fifo_script "{kanotify()} -c {config} --fifo --reconcile {reconcile}"
                fifo_write_vrrp_states_on_reload
            """,
        )
    )
    return config


def log_of(node: Node) -> str:
    path = node.dir / "kakit.log"
    return path.read_text() if path.exists() else ""


class TestFifoReader:
    """keepalived as the writer, kanotify --fifo as the reader, in two lab nodes."""

    def test_failover_and_reload(self, tmp_path: Path) -> None:
        """Rules follow MASTER through a failover, a reload of the new master, and a preemption."""
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
            lab.wait_until(lambda: bool(kakit_rules(n1)), timeout=10, what="rules on n1")
            assert not kakit_rules(n2)
            assert "reading keepalived's notify FIFO" in log_of(n1)

            n1.stop_keepalived(signal.SIGTERM)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n2], timeout=20, what="VIP on n2")
            lab.wait_until(lambda: bool(kakit_rules(n2)), timeout=10, what="rules on n2")
            # n1's reader caught keepalived's STOP line after its SIGTERM and applied it.
            lab.wait_until(lambda: not kakit_rules(n1), timeout=10, what="n1's rules gone")
            lab.wait_until(
                lambda: states_from(received, "n1")[-1:] == ["STOP"],
                timeout=20,
                what="n1's STOP alert",
            )

            # A reload restarts the reader on n2; it must keep following keepalived.
            n2.signal_keepalived(signal.SIGHUP)
            lab.wait_until(
                lambda: log_of(n2).count("reading keepalived's notify FIFO") >= 2,
                timeout=20,
                what="n2's reader restarted by the reload",
            )
            n1.start_keepalived()  # priority 150 preempts n2
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP back on n1")
            lab.wait_until(lambda: bool(kakit_rules(n1)), timeout=10, what="rules back on n1")
            lab.wait_until(lambda: not kakit_rules(n2), timeout=10, what="n2's rules gone")
            lab.wait_until(
                lambda: states_from(received, "n2")[-1:] == ["BACKUP"],
                timeout=20,
                what="n2's BACKUP alert",
            )
            for node in (n1, n2):
                assert "skipped" not in log_of(node)  # every line keepalived wrote was understood
            n2_states = states_from(received, "n2")
            assert n2_states[-2:] == ["MASTER", "BACKUP"] and alerts(received)

    def test_drift_is_corrected(self, tmp_path: Path) -> None:
        """Someone flushes kakit's chain and resets a sysctl on the master: reconcile restores both."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(tmp_path / "alerts.jsonl")])
            configure(n1, 150, gateway.address, reconcile=0.5)
            configure(n2, 100, gateway.address, reconcile=0.5)
            n1.start_keepalived()
            n2.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            lab.wait_until(lambda: len(kakit_rules(n1)) == 2, timeout=10, what="rules on n1")

            n1.run(["iptables", "-F", "KAKIT"])
            n1.run(["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_nonlocal_bind"])
            lab.wait_until(lambda: len(kakit_rules(n1)) == 2, timeout=10, what="rules restored")
            assert n1.run(["cat", "/proc/sys/net/ipv4/ip_nonlocal_bind"]).stdout.strip() == "1"
            assert (
                "drift from VI_1 MASTER corrected: sysctl: net.ipv4.ip_nonlocal_bind is 0, not 1; "
                "firewall: chain KAKIT holds 0 of the 2 rule(s) of MASTER"
            ) in log_of(n1)
            # The backup had nothing to correct, and its own state is untouched.
            assert "drift from" not in log_of(n2) and not kakit_rules(n2)
