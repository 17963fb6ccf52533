"""``kakit vrrp listen`` against real keepalived: every advert read as ``tcpdump -v`` reads it.

A keepalived pair (VRRPv2 with a password, then VRRPv3 at half-second adverts) runs in the lab
while tcpdump captures protocol 112 on the backup. Each captured frame is decoded by kakit's
parser and compared, field by field, with tcpdump's own decoding of the same file; the listener
run at the same time must show the master with those fields. Then protocol 112 is dropped
between the nodes: the listener on a node (packet sockets see frames before the firewall) finds
two masters and exits 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from kakit.vrrp.packet import decode, decode_ipv4
from lab import Lab, vrrp_instance_conf
from tests.conftest import kacheck_path
from tests.lab.test_split_brain import ALLOW_VRRP, DROP_VRRP

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        not (shutil.which("keepalived") and shutil.which("tcpdump")),
        reason="needs keepalived and tcpdump",
    ),
]

KAKIT = str(Path(kacheck_path()).with_name("kakit"))
TCPDUMP_LINE = re.compile(
    r"(?P<src>[\d.]+) > (?P<dst>[\d.]+): VRRPv(?P<version>\d), Advertisement, vrid (?P<vrid>\d+), "
    r"prio (?P<prio>\d+), (?:authtype (?P<auth>\w+), )?intvl (?P<intvl>\d+)(?P<unit>c?s), "
    r"length (?P<length>\d+), addrs(?:\(\d+\))?: (?P<addrs>[\d., ]+?)(?: auth \"(?P<pw>[^\"]*)\")?$"
)


def pcap_frames(path: Path) -> list[bytes]:
    """The Ethernet frames of a pcap file (little-endian, link type Ethernet)."""
    data = path.read_bytes()
    frames, offset = [], 24
    while offset + 16 <= len(data):
        (length,) = struct.unpack_from("<I", data, offset + 8)
        frames.append(data[offset + 16 : offset + 16 + length])
        offset += 16 + length
    return frames


def tcpdump_adverts(path: Path) -> list[dict[str, str]]:
    """tcpdump -v's decoding of each VRRP packet in the capture, in order."""
    text = subprocess.run(
        ["tcpdump", "-v", "-n", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return [m.groupdict() for m in map(TCPDUMP_LINE.search, text.splitlines()) if m]


VARIANTS = {
    "v2-password": (
        "",
        "advert_int 1\nauthentication {\nauth_type PASS\nauth_pass secret12\n}",
        1.0,
    ),
    "v3-half-second": ("vrrp_version 3", "", 0.5),
}


class TestAgainstTcpdump:
    """The parser and tcpdump agree on every advert keepalived sent."""

    @pytest.mark.parametrize("variant", list(VARIANTS))
    def test_every_advert(self, variant: str, tmp_path: Path) -> None:
        """Version, VRID, priority, interval, auth, addresses and length match tcpdump's."""
        extra_global, extra_instance, interval = VARIANTS[variant]
        with Lab(nodes=2, workdir=tmp_path) as lab:
            n1, n2 = lab.nodes
            for node, priority in ((n1, 150), (n2, 100)):
                text = vrrp_instance_conf(
                    node,
                    priority=priority,
                    vip=lab.vip,
                    advert_int=interval,
                    extra_global=extra_global,
                    extra_instance=extra_instance.replace("advert_int 1\n", ""),
                )
                node.write_keepalived_conf(text)
                node.start_keepalived()
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1], timeout=20, what="VIP on n1")
            capture = tmp_path / "vrrp.pcap"
            dump = n2.popen(
                ["tcpdump", "-n", "-U", "-i", "eth0", "-w", str(capture), "ip proto 112"],
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)  # tcpdump is capturing
            run = n2.run([KAKIT, "vrrp", "listen", "eth0", "--json", "--duration", "4"], timeout=30)
            dump.terminate()
            dump.wait(timeout=10)

            assert run.returncode == 0, run.stdout + run.stderr
            listened = json.loads(run.stdout)
            (vrid,) = listened["vrids"]
            (sender,) = vrid["senders"]
            assert (vrid["vrid"], sender["address"], sender["priority"]) == (51, n1.address, 150)
            assert sender["interval"] == interval and sender["vips"] == [lab.vip]
            assert sender["version"] == (3 if "v3" in variant else 2)
            assert sender["checksum"] == "ok" and listened["dropped"] == {}

            theirs = tcpdump_adverts(capture)
            frames = pcap_frames(capture)
            assert len(frames) == len(theirs) >= 4
            for frame, said in zip(frames, theirs, strict=True):
                datagram = decode_ipv4(frame[14:])
                ours = decode(
                    datagram.payload, source=datagram.source, destination=datagram.destination
                )
                assert (datagram.source, datagram.destination) == (said["src"], said["dst"])
                assert ours.checksum_state == "ok"
                assert (str(ours.version), str(ours.vrid), str(ours.priority)) == (
                    said["version"],
                    said["vrid"],
                    said["prio"],
                )
                assert str(ours.interval_raw) == said["intvl"]
                assert said["unit"] == ("cs" if ours.version == 3 else "s")
                assert len(datagram.payload) == int(said["length"])
                assert ", ".join(ours.addresses) == said["addrs"]
                if ours.version == 2:
                    assert ours.auth_name == said["auth"]
                    assert ours.password == (said["pw"] or "")

            for node in (n1, n2):
                node.run(DROP_VRRP, check=True)
            lab.wait_until(lambda: lab.holders(lab.vip) == [n1, n2], timeout=20, what="both MASTER")
            run = n1.run([KAKIT, "vrrp", "listen", "eth0", "--json"], timeout=30)
            assert run.returncode == 1, run.stdout + run.stderr
            findings = json.loads(run.stdout)["findings"]
            assert [f["kind"] for f in findings] == ["two_masters"]
            assert set(findings[0]["senders"]) == {n1.address, n2.address}
            for node in (n1, n2):
                node.run(ALLOW_VRRP, check=True)
