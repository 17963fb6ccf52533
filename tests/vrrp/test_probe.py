"""The probe round: the node's addresses from the kernel, and the filtered packet socket."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from kakit.vrrp.probe import local_addresses, normal
from tests.vrrp.test_nd import KERNEL_NA


class TestAddresses:
    """The node's IPv4 and IPv6 addresses, over rtnetlink."""

    def test_loopback(self) -> None:
        """127.0.0.1 and ::1 are listed, on lo."""
        found = local_addresses()
        assert found.get("127.0.0.1") == "lo"
        assert found.get("::1") == "lo"

    def test_normal_form(self) -> None:
        """An address is compared as the kernel writes it; a non-address is left as it is."""
        assert normal("FD13:213:0::0100") == "fd13:213::100"
        assert normal("10.0.0.1") == "10.0.0.1"
        assert normal("fe80::1%eth0") == "fe80::1"
        assert normal("10.0.0.1-5") == "10.0.0.1-5"


# Runs inside a fresh network namespace (``unshare -n``): only its own loopback, which loops
# every frame sent on it back in as received.
ON_LOOPBACK = """
import json, socket, subprocess, sys, threading, time
from kakit.vrrp import arp, probe

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
advert = bytes.fromhex(sys.argv[1])
echo = advert[:54] + b"\\x80" + advert[55:]  # an ICMPv6 echo request, not Neighbor Discovery
ipv4 = advert[:12] + b"\\x08\\x00" + advert[14:]
sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)

def send(frames):
    for frame, protocol in frames:
        sender.sendto(frame, ("lo", protocol))

listener = probe.open_socket("lo")
listener.settimeout(0.3)
send([(echo, 0x86DD), (ipv4, 0x0800), (advert, 0x86DD), (arp.probe_frame(bytes(6), "10.0.0.1"), 0x0806)])
heard = []
try:
    while True:
        frame, address = listener.recvfrom(2048)
        if address[2] != 4:  # not PACKET_OUTGOING
            heard.append(frame[12:14].hex() + ("/%d" % frame[54] if frame[12:14] == b"\\x86\\xdd" else ""))
except TimeoutError:
    pass
later = threading.Timer(0.05, send, [[(advert, 0x86DD)]])
later.start()
result = probe.probe("lo", ["fd13:213::100", "fd13:213::200"], count=1, wait=0.3)
later.join()
print(json.dumps({"heard": heard, "answers": result.answers}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare")
class TestRound:
    """A probe round on a real packet socket, on a private namespace's loopback."""

    def test_filter_and_answer(self) -> None:
        """The socket lets only ARP and Neighbor Discovery in, and a round hears the
        advertisement another host sends for a probed address (and nothing for another)."""
        done = subprocess.run(
            ["unshare", "-n", sys.executable, "-c", ON_LOOPBACK, KERNEL_NA.hex()],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        found = json.loads(done.stdout)
        assert sorted(found["heard"]) == ["0806", "86dd/136"]
        assert found["answers"] == {"fd13:213::100": ["02:00:0a:d5:07:02"], "fd13:213::200": []}
