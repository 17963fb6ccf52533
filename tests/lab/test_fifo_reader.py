"""End to end: keepalived's notify FIFO read by ``kanotify --fifo``, hooks in keepalived's order."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab import Lab, Node, vrrp_instance_conf
from tests.lab.test_e2e_kanotify import (
    SINK,
    SINK_PORT,
    alerts,
    kakit_rules,
    kakit_yaml,
    kanotify,
    states_from,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived"),
]


def configure(node: Node, priority: int, sink_address: str, reconcile: float = 30) -> Path:
    """kakit.yaml with hooks and a webhook; keepalived.conf with the FIFO and its reader."""
    config = node.dir / "kakit.yaml"
    config.write_text(kakit_yaml(node, sink_address))
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
            # Reconcile only at start: what repairs n2 after its reload below is the new reader.
            configure(n1, 150, gateway.address, reconcile=3600)
            configure(n2, 100, gateway.address, reconcile=3600)
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

            # A reload restarts the reader on n2; it must keep following keepalived. Someone
            # flushed kakit's chain just before. keepalived 2.2.7 does not write a MASTER's
            # state again at a reload, even with fifo_write_vrrp_states_on_reload (a BACKUP's
            # it does): the new reader's reconcile at start repairs the chain all the same.
            masters = log_of(n2).count("VI_1 MASTER prio")
            n2.run(["iptables", "-F", "KAKIT"])
            n2.signal_keepalived(signal.SIGHUP)
            lab.wait_until(
                lambda: log_of(n2).count("reading keepalived's notify FIFO") >= 2,
                timeout=20,
                what="n2's reader restarted by the reload",
            )
            lab.wait_until(lambda: len(kakit_rules(n2)) == 2, timeout=20, what="n2's rules back")
            # The reader logs the correction once its hooks are done: the rules can show first.
            lab.wait_until(
                lambda: "drift from VI_1 MASTER corrected" in log_of(n2),
                timeout=10,
                what="n2's drift correction logged",
            )
            assert log_of(n2).count("VI_1 MASTER prio") == masters  # no MASTER line re-sent
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
                assert "FIFO line" not in log_of(node)  # every line keepalived wrote was understood
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

            # The reader's metrics, on the node's own loopback, say what happened, in a form
            # Prometheus' own linter accepts.
            text = n1.run(["curl", "-sf", "http://127.0.0.1:9651/metrics"]).stdout
            assert (
                'keepalived_vrrp_state{iname="VI_1",intf="eth0",vrid="51",ip_address="10.213.7.100"} 2'
                in text
            )
            assert "kakit_drift_corrected_total 1" in text
            lint = subprocess.run(
                ["promtool", "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
            assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


def flapping_conf(node: Node, priority: int, config: Path, flip: Path) -> None:
    """VRRPv3 at 30 ms adverts, and a track_file that takes 100 off the priority while it says 1."""
    text = vrrp_instance_conf(
        node,
        priority=priority,
        vip="10.213.7.100",
        advert_int=0.03,
        extra_global=f"""
            vrrp_version 3
            vrrp_notify_priority_changes
            notify_fifo {node.dir}/notify.fifo
            notify_fifo_script "{kanotify()} -c {config} --fifo --reconcile 3600"
        """,
        extra_instance="track_file {\n flip weight -100\n}",
    )
    block = f'track_file flip {{\n    file "{flip}"\n    weight 1\n}}\n\n'
    node.write_keepalived_conf(
        text.replace("vrrp_instance VI_1 {", block + "vrrp_instance VI_1 {", 1)
    )


def applied_state(node: Node) -> str:
    """The state kanotify last applied for VI_1 on the node (its ordering memory)."""
    path = node.dir / "kakit-run" / "applied" / "INSTANCE-VI_1"
    return path.read_text().split()[-1] if path.exists() else ""


def write_flip(flip: Path, value: str) -> None:
    """Rename a new value into place: keepalived re-reads a track file renamed into place."""
    tmp = flip.with_suffix(".tmp")
    tmp.write_text(value + "\n")
    tmp.rename(flip)


class TestFlapStorm:
    """A storm of failovers at VRRPv3 speed: afterwards every node's hooks match keepalived."""

    def test_hooks_match_the_final_state_after_each_storm(self, tmp_path: Path) -> None:
        """n1's track file flips 20 times, 150 ms apart (longer than the 0.1 s master-down
        interval, so each flip is a failover), three storms; hooks follow the VIP every time."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(tmp_path / "alerts.jsonl")])
            for node, priority in ((n1, 150), (n2, 100)):
                config = configure(node, priority, gateway.address)
                write_flip(node.dir / "flip", "0")
                flapping_conf(node, priority, config, node.dir / "flip")
            n1.start_keepalived()
            n2.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            for storm, final in enumerate(("1", "0", "1")):
                for flips in range(20):
                    write_flip(n1.dir / "flip", "1" if flips % 2 == 0 else "0")
                    time.sleep(0.15)
                write_flip(n1.dir / "flip", final)
                master, backup = (n2, n1) if final == "1" else (n1, n2)

                def settled(master: Node = master, backup: Node = backup) -> bool:
                    hooks = (
                        applied_state(master),
                        applied_state(backup),
                        bool(kakit_rules(master)),
                        bool(kakit_rules(backup)),
                    )
                    return lab.holders(lab.vip) == [master] and hooks == (
                        "MASTER",
                        "BACKUP",
                        True,
                        False,
                    )

                lab.wait_until(
                    settled, timeout=20, what=f"hooks match keepalived after storm {storm}"
                )
            for node in (n1, n2):
                assert "FIFO line" not in log_of(node)  # no line refused


class TestFlood:
    """Thousands of priority changes: every line keepalived wrote reaches the reader."""

    def test_every_priority_change_is_read(self, tmp_path: Path) -> None:
        """A track file flipped 2,000 times moves n1's priority 150 <-> 140 (no failover); the
        reader counts at least as many priority reports as keepalived logged priority changes."""
        with Lab(nodes=2, workdir=tmp_path, gateway=True) as lab:
            n1, n2 = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            for node, priority in ((n1, 150), (n2, 100)):
                config = configure(node, priority, gateway.address)
                write_flip(node.dir / "flip", "0")
                flapping_conf(node, priority, config, node.dir / "flip")
                text = node.keepalived_conf.read_text()
                node.write_keepalived_conf(text.replace("flip weight -100", "flip weight -10"))
            n1.start_keepalived()
            n2.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            for flips in range(2000):
                write_flip(n1.dir / "flip", "1" if flips % 2 == 0 else "0")
            time.sleep(1)  # keepalived handles the last inotify events
            n1.stop_keepalived(signal.SIGTERM)
            lab.wait_until(
                lambda: "FIFO reader stopped" in log_of(n1), timeout=20, what="n1's reader stopped"
            )
            changes = n1.keepalived_log.read_text().count("Changing effective priority")
            stopped = next(
                line for line in log_of(n1).splitlines() if "FIFO reader stopped" in line
            )
            assert changes > 100, changes  # the flood did reach keepalived
            read = int(stopped.split(" changes of state, ")[1].split(" priority reports")[0])
            # keepalived logs most priority changes it writes to the FIFO, not quite all of them
            # (a few more lines than log lines, measured): none it logged may be missing.
            assert read >= changes, (changes, stopped)
            assert "0 not understood" in stopped
            assert lab.holders(lab.vip) == [n2]


#: keepalived 2.2.7's LVS lines, byte for byte (its ``notify_fifo_rs``/``notify_fifo_vs`` in
#: check/ipwrapper.c: ``"RS %s %s %s\n"``, the real server by ``inet_sockaddrtotrio``, the
#: virtual server as ``[address]:proto:port`` or ``FWM n``; no NUL in this version). This
#: kernel has no ip_vs, so keepalived's checker cannot write them itself in the lab.
RS_DOWN = b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 DOWN\n"
RS_UP = b"RS [10.213.0.2]:tcp:80 [10.213.0.10]:tcp:80 UP\n"
VS_FWM_DOWN = b"VS FWM 7 DOWN\n"


def write_lines(fifo: Path, lines: list[bytes]) -> None:
    """Write each line with one ``write()``, as keepalived does, waiting while the pipe is full."""
    end = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        for line in lines:
            while True:
                try:
                    os.write(end, line)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
    finally:
        os.close(end)


class TestLvsLines:
    """LVS lines written into a real FIFO reach the sink as alerts naming both servers."""

    def test_lvs_alerts_and_a_flapping_real_server(self, tmp_path: Path) -> None:
        """A real server down and a firewall-mark virtual server down are alerted at once with
        their addresses; then 2,000 flaps of the real server arrive collapsed, every flap
        counted, the latest state last."""
        with Lab(nodes=1, workdir=tmp_path, gateway=True) as lab:
            (n1,) = lab.nodes
            gateway = lab.gateway
            assert gateway is not None
            received = tmp_path / "alerts.jsonl"
            gateway.popen([*SINK, gateway.address, str(SINK_PORT), str(received)])
            config = configure(n1, 150, gateway.address)
            fifo = n1.dir / "notify.fifo"
            reader = n1.popen(
                [kanotify(), "-c", str(config), "--fifo", "--reconcile", "3600", str(fifo)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                lab.wait_until(fifo.exists, timeout=10, what="the FIFO created by the reader")
                write_lines(fifo, [RS_DOWN, VS_FWM_DOWN])

                def lvs() -> list[dict[str, object]]:
                    return [body for body in alerts(received) if body["kind"] in ("VS", "RS")]

                lab.wait_until(lambda: len(lvs()) == 2, timeout=20, what="two LVS alerts")
                first = {str(body["kind"]): body for body in lvs()}
                assert (first["RS"]["event"], first["RS"]["virtual"], first["RS"]["real"]) == (
                    "rs_down",
                    "[10.213.0.10]:tcp:80",
                    "[10.213.0.2]:tcp:80",
                )
                assert first["RS"]["title"] == (
                    "[n1] real server [10.213.0.2]:tcp:80 of [10.213.0.10]:tcp:80: DOWN"
                )
                assert (first["VS"]["event"], first["VS"]["virtual"]) == ("vs_down", "FWM 7")

                write_lines(fifo, [RS_UP if index % 2 == 0 else RS_DOWN for index in range(2000)])

                def real_server() -> list[dict[str, object]]:
                    return [body for body in lvs() if body["kind"] == "RS"]

                lab.wait_until(
                    lambda: sum(int(str(body["flaps"])) for body in real_server()) == 2001,
                    timeout=60,
                    what="every flap of the real server counted in an alert",
                )
                bodies = real_server()
                assert len(bodies) < 100, len(bodies)  # collapsed, not 2,001 messages
                assert bodies[-1]["event"] == "rs_down"
                assert "FIFO line" not in log_of(n1)
            finally:
                reader.send_signal(signal.SIGTERM)
                reader.wait(10)
