"""kaprobe against real BFD peers in network namespaces: kaprobe, keepalived, FRR bfdd.

Each test builds a two-node lab (10.213.7.1 and .2 on one bridge) and waits on the status file
and the track file, never on a clock: sessions reach Up, a SIGSTOPped peer is detected (Down,
diag 1, the track file holds the down value), and a restarted peer is accepted again with its
new discriminator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import Lab, Node, procs, vrrp_instance_conf
from lab.bfd import Bfdd, Kaprobe, keepalived_bfd_argv, keepalived_bfd_conf, track_file_block
from lab.demo.nodes import SINK_URL
from lab.demo.watch import start_sink
from lab.netns import ip

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2"
    ),
]

UP_WAIT = 20.0


@pytest.fixture(name="pair")
def _pair(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    """Two lab nodes, n1 (10.213.7.1) and n2 (10.213.7.2)."""
    with Lab(nodes=2, workdir=tmp_path / "lab") as lab:
        yield lab.nodes[0], lab.nodes[1]


def wait_state(probe: Kaprobe, state: str, timeout: float = UP_WAIT) -> None:
    """Wait until kaprobe's status file shows ``state``."""
    procs.wait_until(
        lambda: probe.state() == state, timeout=timeout, interval=0.05, what=f"kaprobe {state}"
    )


def assert_detected_down(probe: Kaprobe) -> None:
    """The session is Down for the detection time (diag 1) and the track file says so."""
    wait_state(probe, "Down")
    status = probe.status()
    assert status is not None
    assert status["last_down_diag"] == 1
    procs.wait_until(lambda: probe.track_value() == "-254", timeout=5, what="track file down")


def wait_negotiated(probe: Kaprobe) -> None:
    """Wait until both Poll sequences are over: 50 ms each way, 150 ms detection time."""

    def fast() -> bool:
        status = probe.status() or {}
        return (status.get("tx_interval_us"), status.get("detection_time_us")) == (50_000, 150_000)

    procs.wait_until(fast, timeout=10, interval=0.05, what="50 ms x 3 negotiated")


def up_with(probe: Kaprobe) -> int:
    """Wait for Up with the track file at 0; returns the peer's discriminator."""
    wait_state(probe, "Up")
    procs.wait_until(lambda: probe.track_value() == "0", timeout=5, what="track file up")
    status = probe.status()
    assert status is not None
    return int(status["remote_discr"])


class TestKaprobePeers:
    """kaprobe <-> kaprobe."""

    def test_up_detect_and_new_discriminator(self, pair: tuple[Node, Node]) -> None:
        """Two kaprobes come Up at 50 ms; a stopped peer is Down with diag 1; a new one is Up."""
        n1, n2 = pair
        a = Kaprobe(n1, n2.address).start()
        b = Kaprobe(n2, n1.address).start()
        assert a.track_value() in (None, "-254")
        first = up_with(a)
        wait_negotiated(a)
        os.kill(b.pid, signal.SIGSTOP)
        try:
            assert_detected_down(a)
        finally:
            os.kill(b.pid, signal.SIGKILL)
            b.proc.wait(10)  # type: ignore[union-attr]
        b.start()
        assert up_with(a) != first

    def test_sessions_from_the_probes_section(self, pair: tuple[Node, Node]) -> None:
        """A kaprobe configured by its probes: section alone comes Up with its peer."""
        n1, n2 = pair
        a = Kaprobe(n1, n2.address, from_config=True).start()
        Kaprobe(n2, n1.address).start()
        up_with(a)
        wait_negotiated(a)

    def test_garbage_dropped_and_counted(self, pair: tuple[Node, Node]) -> None:
        """TTL 254, a bad length, the M bit and an unknown discriminator: counted, still Up."""
        n1, n2 = pair
        a = Kaprobe(n1, n2.address).start()
        Kaprobe(n2, n1.address).start()
        up_with(a)
        status = a.status()
        assert status is not None
        theirs, ours = status["remote_discr"], status["local_discr"]
        good = struct.pack("!BBBBIIIII", 0x20, 0xC0, 3, 24, theirs, ours, 50000, 50000, 0)
        sends = [
            (254, good),
            (255, good[:3] + bytes([40]) + good[4:]),  # Length beyond the payload
            (255, good[:1] + bytes([0xC1]) + good[2:]),  # M bit
            (255, good[:8] + struct.pack("!I", ours ^ 0x5A5A5A5A) + good[12:]),
        ]
        script = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"s.bind(('{n2.address}',50000))\n"
            "for ttl,hexdata in zip(sys.argv[1::2],sys.argv[2::2]):\n"
            "    s.setsockopt(socket.IPPROTO_IP,socket.IP_TTL,int(ttl))\n"
            f"    s.sendto(bytes.fromhex(hexdata),('{n1.address}',3784))\n"
        )
        args = [item for ttl, data in sends for item in (str(ttl), data.hex())]
        done = n2.run(["python3", "-c", script, *args])
        assert done.returncode == 0, done.stderr

        def counted() -> bool:
            s = a.status()
            assert s is not None
            c = s["counters"]
            return bool(
                c["rx_dropped_ttl"] >= 1
                and c["rx_dropped_invalid"] >= 2
                and c["rx_dropped_unknown_discr"] >= 1
            )

        procs.wait_until(counted, timeout=5, interval=0.05, what="drop counters")
        status = a.status()
        assert status is not None
        assert status["state"] == "Up"
        assert status["counters"]["up"] == 1
        assert status["remote_discr"] == theirs
        assert a.track_value() == "0"

    def test_status_command(self, pair: tuple[Node, Node]) -> None:
        """`kaprobe status` prints the state, the intervals, detection time and counters."""
        n1, n2 = pair
        a = Kaprobe(n1, n2.address).start()
        Kaprobe(n2, n1.address).start()
        up_with(a)
        wait_negotiated(a)
        out = n1.run([a.argv[0], "-c", str(a.config), "status"], check=True).stdout
        assert "Up" in out
        assert "tx interval 50 ms" in out
        assert "detection time 150 ms" in out
        assert "rx_dropped_ttl 0" in out


class TestStopping:
    """What the peer sees when kaprobe stops gracefully."""

    @pytest.mark.parametrize(
        ("extra", "diag"),
        [((), 1), (("--admin-down-on-exit",), 3)],
        ids=["silent", "admin-down"],
    )
    def test_stop(self, pair: tuple[Node, Node], extra: tuple[str, ...], diag: int) -> None:
        """By default a stopped kaprobe just goes silent (peer: diag 1); or it says AdminDown."""
        n1, n2 = pair
        a = Kaprobe(n1, n2.address, *extra).start()
        b = Kaprobe(n2, n1.address).start()
        up_with(b)
        wait_negotiated(b)
        assert a.stop() == 0
        wait_state(b, "Down")
        status = b.status()
        assert status is not None
        assert status["last_down_diag"] == diag


ALERTING = f"""\
channels:
  sink: {{type: webhook, url: "{SINK_URL}"}}
alerts:
  - channels: [sink]
    events: [bfd_down, bfd_up]
outbox: {{coalesce: 0}}
"""


class TestAlertsAndMetrics:
    """Session changes reach the alert channel once each; the metrics endpoint says the rest."""

    def test_stopped_peer_alerts_down_once_and_up_after(self, tmp_path: Path) -> None:
        """Peer SIGSTOPped: one bfd_down at the sink naming peer, local address, diag and
        detection time; peer resumed: one bfd_up. The live metrics pass promtool."""
        with Lab(nodes=2, workdir=tmp_path / "lab", gateway=True) as lab:
            n1, n2 = lab.nodes
            received = start_sink(lab)
            a = Kaprobe(n1, n2.address, more_config=ALERTING).start()
            b = Kaprobe(n2, n1.address).start()
            up_with(a)
            wait_negotiated(a)

            def events() -> list[dict[str, object]]:
                text = received.read_text() if received.exists() else ""
                return [json.loads(line) for line in text.splitlines()]

            def arrived(name: str) -> bool:
                return any(body["event"] == name for body in events())

            # The first Up was alerted too; what follows is the outage.
            procs.wait_until(lambda: arrived("bfd_up"), timeout=15, what="the first bfd_up")
            before = len(events())
            os.kill(b.pid, signal.SIGSTOP)
            try:
                assert_detected_down(a)
                procs.wait_until(lambda: arrived("bfd_down"), timeout=15, what="bfd_down")
            finally:
                os.kill(b.pid, signal.SIGCONT)
            up_with(a)
            procs.wait_until(
                lambda: [body["event"] for body in events()[before:]] == ["bfd_down", "bfd_up"],
                timeout=15,
                what="bfd_up after bfd_down",
            )
            down = events()[before]
            assert (down["kind"], down["name"]) == ("BFD", f"{n1.address}->{n2.address}")
            cause = str(down["cause"])
            assert f"{n1.address} -> {n2.address} Down" in cause
            assert "control detection time expired (diag 1)" in cause
            assert "detection time 150 ms" in cause

            text = n1.run(["curl", "-sf", "http://127.0.0.1:9652/metrics"]).stdout
            session = f'peer="{n2.address}",local="{n1.address}"'
            assert f"kakit_bfd_session_up{{{session}}} 1" in text
            assert f'kakit_bfd_session_transitions_total{{{session},to="down"}} 1' in text
            lint = subprocess.run(
                ["promtool", "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
                check=False,
            )
            assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")


needs_keepalived = pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived")


@needs_keepalived
class TestKeepalived:
    """kaprobe <-> keepalived 2.2.7 ``bfd_instance``."""

    def test_up_detect_and_new_discriminator(self, pair: tuple[Node, Node]) -> None:
        """Up with keepalived's BFD; its BFD child stopped → Down diag 1; back Up, new discr."""
        n1, n2 = pair
        n2.write_keepalived_conf(keepalived_bfd_conf("PEER_A", n1.address, n2.address, 50, 3))
        with (n2.dir / "keepalived.log").open("ab") as out:
            n2.popen(keepalived_bfd_argv(n2), stdin=-3, stdout=out, stderr=-2)
        a = Kaprobe(n1, n2.address).start()
        first = up_with(a)
        wait_negotiated(a)
        bfd_pidfile = n2.dir / "bfd.pid"
        procs.wait_until(
            lambda: procs.read_pidfile(bfd_pidfile) is not None, timeout=5, what="bfd pid"
        )
        bfd_pid = procs.read_pidfile(bfd_pidfile)
        assert bfd_pid is not None
        os.kill(bfd_pid, signal.SIGSTOP)
        try:
            assert_detected_down(a)
        finally:
            os.kill(bfd_pid, signal.SIGCONT)
        # keepalived's own detection time runs out too, and it picks a new discriminator.
        assert up_with(a) != first


@needs_keepalived
class TestEndToEnd:
    """The master tracks kaprobe's track file: losing its gateway moves the VIP."""

    def test_gateway_loss_moves_the_vip(self, tmp_path: Path) -> None:
        """kaprobe on the master peers with the gateway; the gateway's link goes down; n2 has the VIP."""
        with Lab(nodes=2, workdir=tmp_path / "lab", gateway=True) as lab:
            n1, n2 = lab.nodes
            gw = lab.gateway
            assert gw is not None
            probe = Kaprobe(n1, gw.address)
            Kaprobe(gw, n1.address).start()
            n1.write_keepalived_conf(
                vrrp_instance_conf(
                    n1,
                    priority=150,
                    vip=lab.vip,
                    extra_instance="track_file {\nkaprobe_gw\n}",
                    extra_top=track_file_block("kaprobe_gw", probe.track_file),
                )
            )
            n2.write_keepalived_conf(vrrp_instance_conf(n2, priority=100, vip=lab.vip))
            probe.start()
            up_with(probe)
            n1.start_keepalived()
            n2.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            ip("link", "set", "eth0", "down", ns=gw.ns)
            assert_detected_down(probe)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n2], timeout=10, what="VIP on n2")


needs_frr = pytest.mark.skipif(not os.path.exists("/usr/lib/frr/bfdd"), reason="needs FRR")


@needs_frr
class TestFrr:
    """kaprobe <-> FRR bfdd 8.4."""

    def test_up_detect_and_restart(self, pair: tuple[Node, Node]) -> None:
        """Up with bfdd at 50 ms; bfdd stopped → Down diag 1; a restarted bfdd → Up again."""
        n1, n2 = pair
        bfdd = Bfdd(n2, n1.address, 50, 3).start()
        try:
            a = Kaprobe(n1, n2.address).start()
            first = up_with(a)
            wait_negotiated(a)
            assert bfdd.proc is not None
            os.kill(bfdd.proc.pid, signal.SIGSTOP)
            try:
                assert_detected_down(a)
            finally:
                os.kill(bfdd.proc.pid, signal.SIGKILL)
                bfdd.proc.wait(10)
                bfdd.proc = None
            bfdd.start()
            assert up_with(a) != first
        finally:
            bfdd.cleanup()
