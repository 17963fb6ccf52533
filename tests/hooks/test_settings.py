"""Validation of the ``states`` and ``hooks`` sections, with the exact messages operators see."""

from __future__ import annotations

import textwrap

import pytest

from kakit.config import parse_yaml
from kakit.core.converters import build
from kakit.exceptions import ConfigError
from kakit.hooks.settings import (
    AcceptRule,
    FirewallRules,
    HookSettings,
    StateHooks,
    states_section,
)

ADDRESS = "an IP address or CIDR network such as 10.213.0.100 or 10.213.0.0/16"
SYSCTL = (
    "a sysctl name of dot-separated words of letters, digits, _ and -, "
    "such as net.ipv4.ip_nonlocal_bind"
)


def load_states(body: str) -> dict[str, StateHooks]:
    """The ``states`` section of a kakit.yaml text."""
    root = parse_yaml(textwrap.dedent(body), "kakit.yaml").mapping()
    return states_section(root["states"])


def load_hooks(body: str) -> HookSettings:
    """The ``hooks`` section of a kakit.yaml text."""
    root = parse_yaml(textwrap.dedent(body), "kakit.yaml").mapping()
    return build(HookSettings, root["hooks"])


class TestStatesSection:
    """`states_section`: what a valid section becomes."""

    def test_issue_example(self) -> None:
        """The issue's example becomes typed values: sysctl text, accept rules, argv tuples."""
        states = load_states(
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
        master = states["MASTER"]
        assert master.sysctl == {
            "net.ipv4.conf.all.arp_ignore": "1",
            "net.ipv4.ip_local_port_range": "32768  60999",
        }
        assert master.firewall == FirewallRules(
            accept=(
                AcceptRule(protocol="vrrp"),
                AcceptRule(destination="10.213.0.100"),
                AcceptRule(source="10.213.7.0/24", protocol="tcp", port=80, interface="eth0"),
            )
        )
        assert master.run == (("/usr/local/bin/promote-db", "--fast"),)
        assert states["BACKUP"].sysctl == {"net.ipv4.conf.all.arp_ignore": "0"}

    def test_firewall_everywhere_once_used(self) -> None:
        """When one state has firewall rules, every state (listed or not) gets an empty rule set."""
        states = load_states(
            """\
            states:
              MASTER: {firewall: {accept: [vrrp]}}
              BACKUP: {sysctl: {net.ipv4.conf.all.arp_ignore: 0}}
            """
        )
        assert sorted(states) == ["BACKUP", "DELETED", "FAULT", "MASTER", "STOP"]
        assert states["BACKUP"].firewall == FirewallRules()
        assert states["BACKUP"].sysctl == {"net.ipv4.conf.all.arp_ignore": "0"}
        assert states["FAULT"] == StateHooks(firewall=FirewallRules())

    def test_no_firewall_anywhere(self) -> None:
        """Without any firewall section no state gets one, so no firewall tool is ever run."""
        states = load_states(
            "states: {MASTER: {sysctl: {net.ipv4.ip_nonlocal_bind: 1}}, BACKUP: null}"
        )
        assert states == {
            "MASTER": StateHooks(sysctl={"net.ipv4.ip_nonlocal_bind": "1"}),
            "BACKUP": StateHooks(),
        }

    def test_protocol_numbers_become_names(self) -> None:
        """Protocol numbers of known protocols are stored as their names, others as the number."""
        states = load_states(
            "states: {MASTER: {firewall: {accept: [{protocol: 112}, {protocol: 6, port: 22}, {protocol: 47}]}}}"
        )
        assert states["MASTER"].firewall == FirewallRules(
            accept=(
                AcceptRule(protocol="vrrp"),
                AcceptRule(protocol="tcp", port=22),
                AcceptRule(protocol="47"),
            )
        )


class TestHookSettings:
    """`HookSettings`: the ``hooks`` section."""

    def test_defaults(self) -> None:
        """Without a section: iptables, chain KAKIT, 5 s per run command."""
        assert HookSettings() == HookSettings(firewall="iptables", chain="KAKIT", run_timeout=5.0)

    def test_values(self) -> None:
        """The documented keys are read, with durations in any unit."""
        settings = load_hooks("hooks: {firewall: nftables, chain: KA_LB, run_timeout: 1500ms}")
        assert settings == HookSettings(firewall="nftables", chain="KA_LB", run_timeout=1.5)


# (kakit.yaml text, exact ConfigError message)
STATE_ERRORS = [
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net.ipv4..ip_forward: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.net.ipv4..ip_forward: expected {SYSCTL} (not 'net.ipv4..ip_forward')",
        id="sysctl-double-dot",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net/ipv4/ip_forward: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.net/ipv4/ip_forward: expected {SYSCTL} (not 'net/ipv4/ip_forward')",
        id="sysctl-slash",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {kernel: 1}\n",
        f"kakit.yaml:3: states.MASTER.sysctl.kernel: expected {SYSCTL} (not 'kernel')",
        id="sysctl-one-word",
    ),
    pytest.param(
        "states:\n  MASTER:\n    sysctl: {net.ipv4.ip_forward: true}\n",
        "kakit.yaml:3: states.MASTER.sysctl.net.ipv4.ip_forward: expected an integer or a non-empty string, got True",
        id="sysctl-boolean",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {destination: 10.213.0.100, port: 80}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0]: expected protocol tcp or udp with a port",
        id="port-without-protocol",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {protocol: icmp, port: 80}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0]: expected protocol tcp or udp with a port",
        id="port-with-icmp",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {source: 10.213.0.0/33}\n",
        f"kakit.yaml:5: states.MASTER.firewall.accept[0].source: expected {ADDRESS}, got '10.213.0.0/33'",
        id="cidr-bad-length",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {destination: 10.213.7.2/24}\n",
        f"kakit.yaml:5: states.MASTER.firewall.accept[0].destination: expected {ADDRESS}, got '10.213.7.2/24'",
        id="cidr-host-bits",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {source: lb2.example.com}\n",
        f"kakit.yaml:5: states.MASTER.firewall.accept[0].source: expected {ADDRESS}, got 'lb2.example.com'",
        id="host-name",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {protocol: sctp}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0].protocol: expected tcp, udp, icmp, vrrp or an IP protocol number from 1 to 255, got 'sctp'",
        id="unknown-protocol",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {protocol: 0}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0].protocol: expected tcp, udp, icmp, vrrp or an IP protocol number from 1 to 255, got 0",
        id="protocol-zero-means-all",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0]: expected at least one of source, destination, protocol or interface (an empty rule would accept everything)",
        id="empty-rule",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept: [ssh]\n",
        "kakit.yaml:4: states.MASTER.firewall.accept[0]: expected vrrp or a mapping with source, destination, protocol, port and/or interface, got 'ssh'",
        id="unknown-word",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {source: 10.213.0.1, destination: 'fd00::1'}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0]: expected source and destination of the same IP version",
        id="mixed-families",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {destination: 10.213.0.100, dport: 80}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0].dport: unknown key (did you mean 'port'? allowed here: destination, interface, port, protocol, source)",
        id="typo-key",
    ),
    pytest.param(
        "states:\n  MASTER:\n    firewall:\n      accept:\n        - {interface: a-very-long-interface}\n",
        "kakit.yaml:5: states.MASTER.firewall.accept[0].interface: expected an interface name of 1 to 15 letters, digits, _, . or -, got 'a-very-long-interface'",
        id="interface-too-long",
    ),
    pytest.param(
        "states:\n  MASTER:\n    run: [/usr/local/bin/promote-db, --fast]\n",
        "kakit.yaml:3: states.MASTER.run[1]: expected a command as a list of words whose program is an absolute path, such as [/usr/local/bin/promote-db, --fast], got '--fast'",
        id="run-flat-list",
    ),
    pytest.param(
        "states:\n  MASTER:\n    run: [[promote-db]]\n",
        "kakit.yaml:3: states.MASTER.run[0]: expected a command as a list of words whose program is an absolute path, such as [/usr/local/bin/promote-db, --fast], got ['promote-db']",
        id="run-relative-program",
    ),
    pytest.param(
        'states:\n  MASTER:\n    run: [[/bin/echo, "a\\0b"]]\n',
        "kakit.yaml:3: states.MASTER.run[0]: expected a command without NUL characters, got ['/bin/echo', 'a\\x00b']",
        id="run-nul",
    ),
    pytest.param(
        "states:\n  master: {}\n",
        "kakit.yaml:2: states.master: unknown key (allowed here: BACKUP, DELETED, FAULT, MASTER, STOP)",
        id="lowercase-state",
    ),
]

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


class TestSettingsErrors:
    """Invalid settings fail at load time with file, line, key path, value and what was expected."""

    @pytest.mark.parametrize(("body", "message"), STATE_ERRORS)
    def test_states(self, body: str, message: str) -> None:
        """Each invalid ``states`` value raises ConfigError with exactly this message."""
        with pytest.raises(ConfigError) as caught:
            load_states(body)
        assert str(caught.value) == message

    @pytest.mark.parametrize(("body", "message"), HOOK_ERRORS)
    def test_hooks(self, body: str, message: str) -> None:
        """Each invalid ``hooks`` value raises ConfigError with exactly this message."""
        with pytest.raises(ConfigError) as caught:
            load_hooks(body)
        assert str(caught.value) == message
