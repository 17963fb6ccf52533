"""`kakit realserver` on the command line and the `realserver` section of kakit.yaml.

Only input that is refused before anything is read or changed runs in this process; the
commands that change a kernel run inside a namespace (test_netns.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kakit.cli import kakit
from kakit.config import Config

NOT_AN_ADDRESS = "is not an IP address (a VIP such as 10.0.0.100 or 2001:db8::100; no host names)"


class TestBadInput:
    """A bad VIP or interface is one clear line and exit 2, before anything changes."""

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["up", "www.example.com"], f"'www.example.com' {NOT_AN_ADDRESS}"),
            (["up", "10.0.0.256"], f"'10.0.0.256' {NOT_AN_ADDRESS}"),
            (["status", "eth0"], f"'eth0' {NOT_AN_ADDRESS}"),
            (
                ["up", "10.213.60.100/24"],
                "'10.213.60.100/24': give the VIP alone (or /32), not a netmask: a real server "
                "holds it as a single /32 address on lo",
            ),
            (
                ["up", "10.213.60.100/255.255.255.255"],
                "'10.213.60.100/255.255.255.255': give the VIP alone (or /32), not a netmask: a "
                "real server holds it as a single /32 address on lo",
            ),
            (
                ["up", "10.213.60.100", "255.255.255.0"],
                "'255.255.255.0' cannot be a VIP (a loopback, multicast, link-local, reserved or "
                "unspecified address; a netmask is not given separately)",
            ),
            (
                ["up", "2001:db8::100%eth0"],
                "'2001:db8::100%eth0': a VIP has no zone (%eth0): give the address alone",
            ),
            (
                ["down", "127.0.0.1"],
                "'127.0.0.1' cannot be a VIP (a loopback, multicast, link-local, reserved or "
                "unspecified address; a netmask is not given separately)",
            ),
            (
                ["up", "10.213.60.100", "--interface", "../all"],
                "'../all' is not an interface name (up to 15 characters, no '/', ':' or spaces; "
                "all, lo, eth0)",
            ),
            (
                ["status", "10.213.60.100", "-i", "a-very-long-interface"],
                "'a-very-long-interface' is not an interface name (up to 15 characters, no '/', "
                "':' or spaces; all, lo, eth0)",
            ),
            (
                ["up"],
                "no VIPs: name them (kakit realserver up 10.0.0.100) or list them under "
                "'realserver: vips:' in kakit.yaml",
            ),
        ],
    )
    def test_refused_in_one_line(
        self,
        runner: CliRunner,
        write_config: Callable[[str], Path],
        argv: list[str],
        message: str,
    ) -> None:
        """The command exits 2 with exactly one line naming the value and what was expected."""
        path = write_config("")
        result = runner.invoke(kakit, ["realserver", *argv, "-c", str(path)])
        assert result.exit_code == 2
        assert result.output.splitlines() == [f"Error: {message}"]


class TestSection:
    """The `realserver` section gives the commands and the check their VIPs."""

    def test_section_is_validated_and_shown(
        self, runner: CliRunner, write_config: Callable[[str], Path]
    ) -> None:
        """`kakit config check` prints the section with its VIPs canonical and interfaces."""
        path = write_config("realserver:\n  vips: [10.213.60.100, '2001:DB8::0100']\n")
        result = runner.invoke(kakit, ["config", "check", "-c", str(path)])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(result.stdout)["realserver"] == {
            "vips": ["10.213.60.100", "2001:db8::100"],
            "interfaces": ["all", "lo"],
        }

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                "realserver:\n  vips: [10.213.60.100/24]\n",
                "5: realserver.vips[0]: expected '10.213.60.100/24': give the VIP alone (or "
                "/32), not a netmask: a real server holds it as a single /32 address on lo",
            ),
            (
                "realserver:\n  vips: [web1]\n",
                f"5: realserver.vips[0]: expected 'web1' {NOT_AN_ADDRESS}",
            ),
            ("realserver:\n  vips: []\n", "5: realserver.vips: expected at least one VIP, got []"),
            (
                "realserver:\n  vips: [10.213.60.100]\n  interfaces: [eth0/x]\n",
                "6: realserver.interfaces[0]: expected 'eth0/x' is not an interface name (up to "
                "15 characters, no '/', ':' or spaces; all, lo, eth0)",
            ),
            (
                "realserver:\n  vip: [10.213.60.100]\n",
                "5: realserver.vip: unknown key (did you mean 'vips'? allowed here: interfaces, "
                "vips)",
            ),
            (
                "checks:\n  rs: {type: realserver}\n",
                "5: checks.rs: a realserver check needs its VIPs: list them in its 'vips' or in "
                "the 'realserver' section",
            ),
        ],
    )
    def test_refused(self, config_refusal: Callable[[str], str], body: str, message: str) -> None:
        """A bad section or a check left without VIPs is refused with its line and key."""
        assert config_refusal(body) == message

    def test_check_takes_what_it_does_not_set(self, make_config: Callable[[str], Config]) -> None:
        """A realserver check without vips takes the section's, and its own interfaces win."""
        config = make_config(
            "realserver: {vips: [10.213.60.100], interfaces: [all]}\n"
            "checks:\n  rs: {type: realserver, interfaces: [eth0]}\n"
        )
        options = config.check("rs").probes[0].options
        assert (options.vips, options.interfaces) == (("10.213.60.100",), ("eth0",))

    def test_preset_uses_the_section(self, make_config: Callable[[str], Config]) -> None:
        """`kacheck realserver` needs nothing but the section."""
        config = make_config("realserver: {vips: [10.213.60.100]}\n")
        options = config.check("realserver").probes[0].options
        assert (options.vips, options.interfaces) == (("10.213.60.100",), ("all", "lo"))
