"""The ``states`` and ``hooks`` sections: hook options by state, and the shared hook settings."""

from __future__ import annotations

import pytest

from kakit.hooks.firewall import AcceptRule, FirewallOptions, FirewallRules
from kakit.hooks.run import RunOptions
from kakit.hooks.spec import HookSettings
from kakit.hooks.sysctl import SysctlOptions
from tests.hooks.sections import refusal, sections


class TestStatesSection:
    """`states_section`: each state's keys become the options records of their hooks."""

    def test_issue_example(self) -> None:
        """The issue's example becomes typed options: sysctl text, accept rules, argv tuples."""
        states, _ = sections(
            """\
            states:
              MASTER:
                sysctl: {net.ipv4.conf.all.arp_ignore: 1, net.ipv4.ip_local_port_range: "32768  60999"}
                firewall: {accept: [vrrp, {destination: 10.213.0.100}, {source: 10.213.7.0/24, protocol: tcp, port: 80, interface: eth0}]}
                run: [[/usr/local/bin/promote-db, --fast]]
              BACKUP:
                sysctl: {net.ipv4.conf.all.arp_ignore: 0}
            """
        )
        rules = (
            AcceptRule(protocol="vrrp"),
            AcceptRule(destination="10.213.0.100"),
            AcceptRule(source="10.213.7.0/24", protocol="tcp", port=80, interface="eth0"),
        )
        assert states["MASTER"] == {
            "sysctl": SysctlOptions(
                sysctl={
                    "net.ipv4.conf.all.arp_ignore": "1",
                    "net.ipv4.ip_local_port_range": "32768  60999",
                }
            ),
            "firewall": FirewallOptions(firewall=FirewallRules(accept=rules)),
            "run": RunOptions(run=(("/usr/local/bin/promote-db", "--fast"),)),
        }
        assert states["BACKUP"]["sysctl"] == SysctlOptions(
            sysctl={"net.ipv4.conf.all.arp_ignore": "0"}
        )

    def test_run_order(self) -> None:
        """Hooks are kept in run order (sysctl, firewall, run), whatever the file's order."""
        states, _ = sections(
            "states: {MASTER: {run: [[/bin/true]], firewall: {accept: [vrrp]}, sysctl: {net.ipv4.ip_forward: 1}}}"
        )
        assert list(states["MASTER"]) == ["sysctl", "firewall", "run"]

    def test_firewall_everywhere_once_used(self) -> None:
        """When one state has firewall rules, every state (listed or not) gets an empty rule set."""
        states, _ = sections(
            """\
            states:
              MASTER: {firewall: {accept: [vrrp]}}
              BACKUP: {sysctl: {net.ipv4.conf.all.arp_ignore: 0}}
            """
        )
        assert sorted(states) == ["BACKUP", "DELETED", "FAULT", "MASTER", "STOP"]
        assert states["BACKUP"] == {
            "sysctl": SysctlOptions(sysctl={"net.ipv4.conf.all.arp_ignore": "0"}),
            "firewall": FirewallOptions(),
        }
        assert states["FAULT"] == {"firewall": FirewallOptions()}

    def test_no_firewall_anywhere(self) -> None:
        """Without any firewall section no state gets one, so no firewall tool is ever run."""
        states, _ = sections(
            "states: {MASTER: {sysctl: {net.ipv4.ip_nonlocal_bind: 1}}, BACKUP: null}"
        )
        assert states == {
            "MASTER": {"sysctl": SysctlOptions(sysctl={"net.ipv4.ip_nonlocal_bind": "1"})},
            "BACKUP": {},
        }

    def test_protocol_numbers_become_names(self) -> None:
        """Protocol numbers of known protocols are stored as their names, others as the number."""
        states, _ = sections(
            "states: {MASTER: {firewall: {accept: [{protocol: 112}, {protocol: 6, port: 22}, {protocol: 47}]}}}"
        )
        assert states["MASTER"]["firewall"] == FirewallOptions(
            firewall=FirewallRules(
                accept=(
                    AcceptRule(protocol="vrrp"),
                    AcceptRule(protocol="tcp", port=22),
                    AcceptRule(protocol="47"),
                )
            )
        )


class TestHookSettings:
    """`HookSettings`: the ``hooks`` section."""

    def test_defaults(self) -> None:
        """Without a section: iptables, chain KAKIT, 5 s per run command."""
        assert sections("states: {}")[1] == HookSettings(
            firewall="iptables", chain="KAKIT", run_timeout=5.0
        )

    def test_values(self) -> None:
        """The documented keys are read, with durations in any unit."""
        _, settings = sections("hooks: {firewall: nftables, chain: KA_LB, run_timeout: 1500ms}")
        assert settings == HookSettings(firewall="nftables", chain="KA_LB", run_timeout=1.5)


# (kakit.yaml text, exact ConfigError message)
STATE_ERRORS = [
    pytest.param(
        "states:\n  master: {}\n",
        "kakit.yaml:2: states.master: unknown key (allowed here: BACKUP, DELETED, FAULT, MASTER, STOP)",
        id="lowercase-state",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysclt: {net.ipv4.ip_forward: 1}\n",
        "kakit.yaml:3: states.MASTER.sysclt: unknown key (did you mean 'sysctl'? allowed here: firewall, run, sysctl)",
        id="unknown-hook",
    ),
    pytest.param(
        "states:\n  MASTER: [sysctl]\n",
        "kakit.yaml:2: states.MASTER: expected a mapping of settings (sysctl, firewall, run), got ['sysctl']",
        id="state-not-a-mapping",
    ),
]

# (kakit.yaml text, exact ConfigError message)
HOOK_ERRORS = [
    pytest.param(
        "hooks: {chain: INPUT}",
        "kakit.yaml:1: hooks.chain: expected a chain name of 1 to 28 letters, digits and _ starting with a letter, other than INPUT, OUTPUT, FORWARD, PREROUTING, POSTROUTING, got 'INPUT'",
        id="builtin-chain",
    ),
    pytest.param(
        "hooks: {chain: 'KA KIT'}",
        "kakit.yaml:1: hooks.chain: expected a chain name of 1 to 28 letters, digits and _ starting with a letter, other than INPUT, OUTPUT, FORWARD, PREROUTING, POSTROUTING, got 'KA KIT'",
        id="chain-space",
    ),
    pytest.param(
        "hooks: {firewall: pf}",
        "kakit.yaml:1: hooks.firewall: expected one of iptables, nftables, got 'pf'",
        id="backend",
    ),
    pytest.param(
        "hooks: {run_timeout: forever}",
        "kakit.yaml:1: hooks.run_timeout: expected a duration in seconds such as 0.2, '200ms', '3s', '5m' or '1h', got 'forever'",
        id="run-timeout",
    ),
]


class TestSectionErrors:
    """Invalid states, hook names and settings fail at load time with file, line and key path."""

    @pytest.mark.parametrize(("body", "message"), [*STATE_ERRORS, *HOOK_ERRORS])
    def test_message(self, body: str, message: str) -> None:
        """Each invalid value raises ConfigError with exactly this message."""
        assert refusal(body) == message
