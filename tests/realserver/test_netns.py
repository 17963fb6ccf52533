"""`kakit realserver` and the `realserver` check against a real kernel, in a fresh namespace."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Namespace, kacheck_path

VIP = "10.213.61.100"
VIP6 = "2001:db8:61::100"
KEYS = [f"net.ipv4.conf.{i}.{k}" for i in ("all", "lo") for k in ("arp_ignore", "arp_announce")]


def kakit_path() -> str:
    """The kakit console script beside the interpreter running the tests."""
    return str(Path(sys.executable).with_name("kakit"))


def snapshot(ns: Namespace) -> tuple[list[str], list[str]]:
    """The ARP sysctls and every address of the namespace."""
    addresses = ns.run("ip", "-o", "addr", "show").stdout.splitlines()
    return [ns.sysctl(key) for key in KEYS], sorted(line.split(None, 1)[1] for line in addresses)


class TestRealKernel:
    """up, status, the check and down, as root inside a namespace."""

    def test_up_check_lost_down(
        self,
        ns: Namespace,
        write_config: Callable[[str], Path],
        read_log: Callable[[], list[str]],
    ) -> None:
        """up puts everything in place, the check catches a lost VIP, down restores exactly."""
        config = str(write_config(f"realserver:\n  vips: [{VIP}, '{VIP6}']\n"))
        ns.run("sysctl", "-qw", "net.ipv4.conf.all.arp_announce=1", "net.ipv4.conf.lo.arp_ignore=2")
        before = snapshot(ns)

        def kakit(*argv: str) -> tuple[int, str]:
            proc = ns.run(kakit_path(), "realserver", *argv, "-c", config, check=False)
            return proc.returncode, proc.stdout + proc.stderr

        def kacheck() -> tuple[int, str]:
            proc = ns.run(kacheck_path(), "-c", config, "realserver", check=False)
            return proc.returncode, proc.stdout + proc.stderr

        assert kakit("status")[0] == 1
        assert kacheck()[0] == 1
        code, output = kakit("up")
        assert code == 0, output
        assert [ns.sysctl(key) for key in KEYS] == ["1", "2", "1", "2"]
        assert kakit("status") == (
            0,
            "".join(f"ok: {key} is {v}\n" for key, v in zip(KEYS, "1212", strict=True))
            + f"ok: {VIP}/32 on lo\nok: {VIP6}/128 on lo\n",
        )
        assert kacheck()[0] == 0
        assert kakit("up")[0] == 0  # again: nothing to do, nothing recorded anew

        ns.run("ip", "addr", "del", f"{VIP}/32", "dev", "lo")  # what a reboot without the unit does
        assert kacheck()[0] == 1
        assert f"{VIP} is not on lo" in read_log()[-1]
        code, output = kakit("status")
        assert (code, f"NOT IN PLACE: {VIP} is not on lo") == (1, output.splitlines()[4])

        assert kakit("up")[0] == 0
        code, output = kakit("down")
        assert code == 0, output
        assert snapshot(ns) == before

    def test_status_checks_the_interfaces_up_set(
        self, ns: Namespace, write_config: Callable[[str], Path]
    ) -> None:
        """After `up VIP --interface default`, a bare `status` checks default, not all and lo."""
        config = str(write_config(""))

        def kakit(*argv: str) -> tuple[int, str]:
            proc = ns.run(kakit_path(), "realserver", *argv, "-c", config, check=False)
            return proc.returncode, proc.stdout + proc.stderr

        assert kakit("up", VIP, "--interface", "default")[0] == 0
        assert kakit("status") == (
            0,
            "ok: net.ipv4.conf.default.arp_ignore is 1\n"
            "ok: net.ipv4.conf.default.arp_announce is 2\n"
            f"ok: {VIP}/32 on lo\n",
        )
        assert kakit("down")[0] == 0
