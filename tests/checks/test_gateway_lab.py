"""The gateway check pinging a real gateway namespace from a lab node.

Loss is made with iptables inside the gateway namespace, so it is deterministic: dropping every
echo request gives 100 % loss, dropping every second one gives exactly 50 %.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab import Lab, Node
from tests.conftest import kacheck_path

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"),
        reason="needs root, iproute2 and iptables",
    ),
]

WriteConfig = Callable[[str], Path]
ReadLog = Callable[[], list[str]]

GATEWAY = "10.213.7.254"
DROP_ALL = ["-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"]
DROP_EVERY_SECOND = [
    *["-p", "icmp", "--icmp-type", "echo-request"],
    *["-m", "statistic", "--mode", "nth", "--every", "2", "--packet", "0", "-j", "DROP"],
]


@pytest.fixture(name="lab")
def _lab(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    """A one-node lab with a gateway namespace: ``(n1, gw)``."""
    with Lab(nodes=1, workdir=tmp_path / "lab", gateway=True) as lab:
        assert lab.gateway is not None
        yield lab.nodes[0], lab.gateway


def uplink_check(
    *,
    count: int = 10,
    timeout: float = 1.0,
    loss_threshold: float = 80,
    latch: bool = False,
    target: str = "auto",
) -> str:
    """The configuration body of a gateway check named ``uplink``.

    The reply timeout is generous: a lost packet never waits for it (all packets are sent
    ``interval`` apart), and a slow test machine must not turn a late reply into loss.
    """
    return f"""\
checks:
  uplink:
    type: gateway
    target: {target}
    count: {count}
    interval: 0.01
    timeout: {timeout}
    loss_threshold: {loss_threshold:g}
    latch: {"true" if latch else "false"}
"""


def kacheck(node: Node, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run kacheck once inside the node's network namespace."""
    return node.run([kacheck_path(), "-c", str(config), *args], timeout=60)


def iptables(gw: Node, action: str, rule: list[str]) -> None:
    """Insert (-I) or delete (-D) a rule of the gateway namespace's INPUT chain."""
    gw.run(["iptables", action, "INPUT", *rule], check=True, timeout=30)


def last_line(read_log: ReadLog) -> str:
    """The last line kakit logged."""
    lines = read_log()
    assert lines, "nothing was logged"
    return lines[-1]


class TestGatewayLab:
    """`kacheck uplink` (type gateway, target auto) from a lab node to the lab gateway."""

    def test_reachable_gateway_passes(
        self, lab: tuple[Node, Node], write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A reachable gateway answers all 10 requests: exit 0, ``10/10 replies, 0% loss``."""
        n1, _gw = lab
        config = write_config(uplink_check())

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 0, result.stderr
        assert f"uplink: OK: gateway {GATEWAY}: 10/10 replies, 0% loss" in last_line(read_log)

    def test_auto_target_follows_the_default_route(
        self, lab: tuple[Node, Node], write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """target auto pings whatever the node's default route points at, here a second address."""
        n1, gw = lab
        gw.run(["ip", "addr", "add", "10.213.7.253/24", "dev", "eth0"], check=True, timeout=30)
        n1.run(["ip", "route", "replace", "default", "via", "10.213.7.253"], check=True, timeout=30)
        config = write_config(uplink_check())

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 0, result.stderr
        assert "uplink: OK: gateway 10.213.7.253: 10/10 replies, 0% loss" in last_line(read_log)

    def test_total_loss_sends_every_packet_and_fails(
        self, lab: tuple[Node, Node], write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """With every request dropped all 25 packets are still sent and the check exits 1."""
        n1, gw = lab
        config = write_config(uplink_check(count=25, timeout=0.2))
        iptables(gw, "-I", DROP_ALL)

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 1
        assert (
            f"uplink: FAIL: gateway {GATEWAY}: 0/25 replies, 100% loss (threshold 80%)"
            in last_line(read_log)
        )

    @pytest.mark.parametrize(
        ("threshold", "code", "verdict"), [(40, 1, "FAIL"), (60, 0, "OK"), (50, 1, "FAIL")]
    )
    def test_half_loss_follows_threshold(
        self,
        lab: tuple[Node, Node],
        write_config: WriteConfig,
        read_log: ReadLog,
        threshold: int,
        code: int,
        verdict: str,
    ) -> None:
        """Exactly 50 % loss fails at a threshold of 40 % or 50 % (>=) and passes at 60 %."""
        n1, gw = lab
        config = write_config(uplink_check(loss_threshold=threshold))
        iptables(gw, "-I", DROP_EVERY_SECOND)

        result = kacheck(n1, config, "uplink")

        assert result.returncode == code
        line = last_line(read_log)
        assert f"uplink: {verdict}: gateway {GATEWAY}: 5/10 replies, 50% loss" in line
        assert ("(threshold" in line) == (code == 1)

    def test_latch_holds_after_loss_until_cleared(
        self,
        lab: tuple[Node, Node],
        tmp_path: Path,
        write_config: WriteConfig,
        read_log: ReadLog,
    ) -> None:
        """Loss seen on all 10 sent packets latches; the uplink fails on until `kakit latch clear`."""
        n1, gw = lab
        config = write_config(uplink_check(latch=True))
        latch_file = tmp_path / "lib" / "latches" / "uplink"
        iptables(gw, "-I", DROP_ALL)

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 1
        # Every packet left the host and none came back: loss was observed, not assumed.
        reason = json.loads(latch_file.read_text())["reason"]
        assert reason == f"gateway {GATEWAY}: 0/10 replies, 100% loss (threshold 80%)"
        assert "latched" in last_line(read_log)

        iptables(gw, "-D", DROP_ALL)
        result = kacheck(n1, config, "uplink")
        assert result.returncode == 1
        assert "uplink: FAIL: latched since" in last_line(read_log)

        kakit = str(Path(kacheck_path()).with_name("kakit"))
        cleared = subprocess.run(
            [kakit, "latch", "clear", "uplink", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert cleared.returncode == 0, cleared.stderr
        assert not latch_file.exists()

        result = kacheck(n1, config, "uplink")
        assert result.returncode == 0
        assert f"uplink: OK: gateway {GATEWAY}: 10/10 replies, 0% loss" in last_line(read_log)

    def test_unroutable_gateway_could_not_measure_and_never_latches(
        self, lab: tuple[Node, Node], tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """Packets that cannot be sent (no route) fail the run as "could not measure", unlatched."""
        n1, _gw = lab
        n1.run(["ip", "route", "del", "default"], check=True, timeout=30)
        config = write_config(uplink_check(latch=True, target="10.213.250.1"))

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 1
        line = last_line(read_log)
        assert (
            "uplink: FAIL: gateway 10.213.250.1: could not measure: "
            "sent 0 of 10: sendto: Network is unreachable"
        ) in line
        assert "latched" not in line
        assert not (tmp_path / "lib" / "latches" / "uplink").exists()

    def test_firewalled_output_could_not_measure(
        self, lab: tuple[Node, Node], tmp_path: Path, write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """An OUTPUT rule refusing the echo requests (EPERM) is named, and nothing latches."""
        n1, _gw = lab
        n1.run(["iptables", "-I", "OUTPUT", *DROP_ALL], check=True, timeout=30)
        config = write_config(uplink_check(latch=True))

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 1
        assert (
            f"gateway {GATEWAY}: could not measure: sent 0 of 10: sendto: Operation not permitted"
        ) in last_line(read_log)
        assert not (tmp_path / "lib" / "latches" / "uplink").exists()

    def test_deadline_shorter_than_the_burst_still_sends_every_packet(
        self, lab: tuple[Node, Node], write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """A deadline below (count-1)*interval+timeout narrows the spacing: all 20 still go out."""
        n1, _gw = lab
        body = uplink_check(count=20, timeout=1.0).replace("interval: 0.01", "interval: 0.1")
        config = write_config(body + "    deadline: 1.5\n")

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 0, result.stderr
        assert f"uplink: OK: gateway {GATEWAY}: 20/20 replies, 0% loss" in last_line(read_log)

    def test_no_default_route_fails_clearly(
        self, lab: tuple[Node, Node], write_config: WriteConfig, read_log: ReadLog
    ) -> None:
        """Without a default route, target auto could not measure (exit 1, no latch) and says why."""
        n1, _gw = lab
        n1.run(["ip", "route", "del", "default"], check=True, timeout=30)
        config = write_config(uplink_check(latch=True))

        result = kacheck(n1, config, "uplink")

        assert result.returncode == 1
        line = last_line(read_log)
        assert "uplink: FAIL: gateway auto: could not measure:" in line
        assert "no IPv4 or IPv6 default route in the main routing table (target: auto)" in line
        assert "latched" not in line
