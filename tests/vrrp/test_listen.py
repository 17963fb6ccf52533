"""The listener's table: senders per VRID, two masters, mismatched settings, dropped packets."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kakit.vrrp.listen import Table, render, report
from kakit.vrrp.packet import Advert, decode, encode
from tests.conftest import kacheck_path

VIP = ("10.0.0.100",)
KAKIT = str(Path(kacheck_path()).with_name("kakit"))


def advert(
    priority: int = 100, interval: float = 1, vips: tuple[str, ...] = VIP, version: int = 2
) -> Advert:
    """A decoded v2 (or v3) advert for VRID 51."""
    data = encode(
        version=version, vrid=51, priority=priority, addresses=vips, interval=interval,
        source="10.0.0.1", destination="224.0.0.18",
    )  # fmt: skip
    return decode(data, source="10.0.0.1", destination="224.0.0.18")


def feed(table: Table, source: str, times: range | list[float], **fields: object) -> None:
    """``source`` sends an advert at each of ``times``."""
    for now in times:
        table.add(source, advert(**fields), float(now))  # type: ignore[arg-type]


class TestTwoMasters:
    """Two senders advertising together for longer than a master-down interval is a split."""

    def test_both_advertising_is_found(self) -> None:
        """Two streams of adverts for five seconds: two masters, naming both senders."""
        table = Table()
        feed(table, "10.0.0.1", range(0, 6), priority=150)
        feed(table, "10.0.0.2", [t + 0.5 for t in range(0, 6)], priority=100)
        (finding,) = table.findings(5.6)
        assert finding.kind == "two_masters" and finding.senders == ("10.0.0.1", "10.0.0.2")
        assert "10.0.0.1 (priority 150) and 10.0.0.2 (priority 100)" in finding.message

    def test_a_handover_is_not(self) -> None:
        """The old master stops at the new one's first advert: no finding, then or later."""
        table = Table()
        feed(table, "10.0.0.1", range(0, 5), priority=100)
        feed(table, "10.0.0.2", [4.5, 5.5, 6.5, 7.5, 8.5], priority=150)
        assert table.findings(5.6) == [] and table.findings(8.6) == []

    def test_a_resigning_master_is_not(self) -> None:
        """A priority-0 advert ends the sender's claim at once."""
        table = Table()
        feed(table, "10.0.0.1", range(0, 5), priority=150)
        feed(table, "10.0.0.1", [5.0], priority=0)
        feed(table, "10.0.0.2", [t + 0.5 for t in range(0, 6)], priority=100)
        assert [f.kind for f in table.findings(5.6)] == []


class TestMismatches:
    """Senders of one VRID, now or earlier, must agree on their settings."""

    @pytest.mark.parametrize(
        ("fields", "kind", "said"),
        [
            ({"interval": 2}, "interval", "10.0.0.2: 2 s"),
            ({"vips": ("10.0.0.101",)}, "vips", "10.0.0.2: 10.0.0.101"),
            ({"version": 3}, "version", "10.0.0.2: v3"),
        ],
    )
    def test_after_a_failover(self, fields: dict[str, object], kind: str, said: str) -> None:
        """The backup that took over advertises differently from the old master: found."""
        table = Table()
        feed(table, "10.0.0.1", range(0, 3))
        feed(table, "10.0.0.2", range(20, 23), **fields)
        kinds = [f.kind for f in table.findings(23)]
        assert kind in kinds
        assert said in next(f.message for f in table.findings(23) if f.kind == kind)

    def test_forgotten_after_silence(self) -> None:
        """A sender silent for longer than ``forget`` no longer counts."""
        table = Table(forget=10)
        feed(table, "10.0.0.1", range(0, 3))
        feed(table, "10.0.0.2", range(20, 23), interval=2)
        table.expire(23)
        assert table.findings(23) == []


class TestDropped:
    """Bad packets are counted by reason and leave the table alone."""

    def test_counted(self) -> None:
        """A routed advert (TTL 254), garbage and a bad checksum: three counts, no sender."""
        table = Table()
        good = encode(version=2, vrid=1, priority=100, addresses=VIP)
        bad = good[:6] + b"\0\0" + good[8:]
        kw = {"destination": "224.0.0.18", "family": 4}
        assert table.receive("10.0.0.1", good, 254, 0.0, **kw) is None  # type: ignore[arg-type]
        assert table.receive("10.0.0.1", b"junk", 255, 0.0, **kw) is None  # type: ignore[arg-type]
        assert table.receive("10.0.0.1", bad, 255, 0.0, **kw) is None  # type: ignore[arg-type]
        assert table.dropped == {"ttl": 1, "short": 1, "checksum": 1} and table.vrids == {}
        assert table.receive("10.0.0.1", good, 255, 0.0, **kw) is not None  # type: ignore[arg-type]
        assert table.received == 1

    def test_senders_per_vrid_are_bounded(self) -> None:
        """A flood of forged sources fills one VRID's rows up to the bound; the rest is counted."""
        from kakit.vrrp.listen import MAX_SENDERS

        table = Table()
        for number in range(MAX_SENDERS + 10):
            table.add(f"10.1.{number // 250}.{number % 250 + 1}", advert(), 0.0)
        table.add("10.1.0.1", advert(), 1.0)  # a sender already in the table still counts
        assert len(table.vrids[(4, 51)]) == MAX_SENDERS
        assert (table.received, table.dropped) == (MAX_SENDERS + 1, {"full": 10})


class TestOutput:
    """What people and scripts read."""

    def test_text_and_json(self) -> None:
        """The text table shows each sender's fields; JSON carries the same and the findings."""
        table = Table()
        feed(table, "10.0.0.1", range(0, 6), priority=150)
        feed(table, "10.0.0.2", [t + 0.5 for t in range(0, 6)], priority=100)
        text = "\n".join(render(table, 5.6, table.findings(5.6)))
        assert "VRID 51 (IPv4)" in text and "10.0.0.100 MASTER" in text
        assert "findings:\n  VRID 51: two masters" in text
        data = json.loads(json.dumps(report(table, 5.6, "eth0", 5.6)))
        (vrid,) = data["vrids"]
        assert [s["priority"] for s in vrid["senders"]] == [150, 100]
        assert vrid["senders"][0]["rate"] == 1.0 and vrid["senders"][0]["auth"] == "none"
        assert data["findings"][0]["kind"] == "two_masters"


class TestCommand:
    """``kakit vrrp listen`` as a script calls it."""

    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the packet socket")
    def test_loopback_quiet_is_exit_0(self) -> None:
        """Nothing heard on lo for a moment: empty table, no findings, exit 0."""
        run = subprocess.run(
            [KAKIT, "vrrp", "listen", "lo", "--json", "--duration", "0.3"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["vrids"] == []

    def test_unknown_interface_is_usage(self) -> None:
        """A missing interface is exit 2 with one line naming it."""
        run = subprocess.run(
            [KAKIT, "vrrp", "listen", "nosuch0", "--once"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert run.returncode == 2
        assert run.stderr.strip() == "Error: no interface 'nosuch0' here"

    @pytest.mark.parametrize("duration", ["nan", "NaN", "0", "-1", "inf", "1e9"])
    def test_duration_out_of_range_is_usage(self, duration: str) -> None:
        """--duration NaN, 0, negative or beyond a day is exit 2, never a listener without end."""
        run = subprocess.run(
            [KAKIT, "vrrp", "listen", "lo", "--json", f"--duration={duration}"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert run.returncode == 2
        assert "Invalid value for '--duration'" in run.stderr


class FakeSocket:
    """Hands out one frame, as a packet socket's recvfrom does."""

    def __init__(self, data: bytes, pkttype: int = 0) -> None:
        self.data = data
        self.pkttype = pkttype

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[str, int, int, int, bytes]]:
        return self.data, ("eth0", 0, self.pkttype, 1, b"")


class TestFrames:
    """IP datagrams from the packet sockets, IPv4 and IPv6, into the table."""

    def test_ipv6_advert(self) -> None:
        """A VRRPv3 advert over IPv6 (hop limit 255) enters the table with its IPv6 VIP."""
        import socket

        from kakit.vrrp.listen import read_one

        payload = encode(
            version=3, vrid=9, priority=200, addresses=("fd00::100",),
            source="fe80::1", destination="ff02::12",
        )  # fmt: skip
        header = (
            bytes([0x60, 0, 0, 0])
            + len(payload).to_bytes(2, "big")
            + bytes([112, 255])
            + socket.inet_pton(socket.AF_INET6, "fe80::1")
            + socket.inet_pton(socket.AF_INET6, "ff02::12")
        )
        table = Table()
        read_one(6, FakeSocket(header + payload), table, 0.0)  # type: ignore[arg-type]
        (entry,) = table.as_json(0.0)
        assert (entry["family"], entry["vrid"]) == (6, 9)
        assert entry["senders"][0]["vips"] == ["fd00::100"]
        assert entry["senders"][0]["checksum"] == "ok"

    def test_own_advert_is_marked_sent(self) -> None:
        """This host's own adverts (outgoing frames) say so in the interface column."""
        from kakit.vrrp.listen import read_one
        from tests.vrrp.test_packet import KEEPALIVED_V2

        table = Table()
        read_one(4, FakeSocket(KEEPALIVED_V2, pkttype=4), table, 0.0)  # type: ignore[arg-type]
        assert table.as_json(0.0)[0]["senders"][0]["interface"] == "eth0 (sent)"

    def test_garbage_frame_is_counted(self) -> None:
        """A frame too short to be IPv6 is counted, not raised."""
        from kakit.vrrp.listen import read_one

        table = Table()
        read_one(6, FakeSocket(b"\x60\x00"), table, 0.0)  # type: ignore[arg-type]
        assert table.dropped == {"ip": 1}
