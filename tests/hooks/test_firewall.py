"""The firewall hook: rendered rule text, and both back ends applied inside a fresh namespace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kakit.core import programs
from kakit.core.events import StateEvent
from kakit.exceptions import ConfigError, HookError
from kakit.hooks.base import StateChange
from kakit.hooks.firewall import (
    AcceptRule,
    FirewallHook,
    FirewallOptions,
    FirewallRules,
    iptables_rule,
    nft_rule,
    nft_script,
)
from kakit.hooks.spec import HookSettings
from tests.conftest import Namespace
from tests.hooks.sections import refusal


def firewall_hook(*rules: AcceptRule, backend: str = "iptables") -> FirewallHook:
    """A firewall hook installing ``rules`` with the given back end and the default chain."""
    options = FirewallOptions(firewall=FirewallRules(accept=rules))
    return FirewallHook(options, HookSettings(firewall=backend))


needs_iptables = pytest.mark.skipif(not shutil.which("iptables-restore"), reason="needs iptables")
needs_nft = pytest.mark.skipif(not shutil.which("nft"), reason="needs nftables")

ADDRESS = "an IP address or CIDR network such as 10.213.0.100 or 10.213.0.0/16"

# (kakit.yaml text, exact ConfigError message)
OPTION_ERRORS = [
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
]

CONFIG = """\
    states:
      MASTER:
        firewall:
          accept:
            - vrrp
            - {destination: 10.213.0.100}
            - {source: 10.213.7.2, protocol: tcp, port: 80}
            - {source: 10.213.8.0/24, protocol: udp, port: 53, interface: eth0}
      BACKUP:
        sysctl: {net.ipv4.conf.all.arp_ignore: 0}
      FAULT:
        firewall: {accept: [{protocol: icmp}]}
    """

NFT_CONFIG = CONFIG + "hooks: {firewall: nftables}\n"

MASTER_RULES = [
    '-A KAKIT -p vrrp -m comment --comment "kakit:MASTER" -j ACCEPT',
    '-A KAKIT -d 10.213.0.100/32 -m comment --comment "kakit:MASTER" -j ACCEPT',
    '-A KAKIT -s 10.213.7.2/32 -p tcp -m tcp --dport 80 -m comment --comment "kakit:MASTER" -j ACCEPT',
    '-A KAKIT -s 10.213.8.0/24 -i eth0 -p udp -m udp --dport 53 -m comment --comment "kakit:MASTER" -j ACCEPT',
]

NFT_MASTER = """\
table inet kakit {
	chain input {
		type filter hook input priority filter - 10; policy accept;
		meta l4proto vrrp accept comment "kakit:MASTER"
		ip daddr 10.213.0.100 accept comment "kakit:MASTER"
		ip saddr 10.213.7.2 tcp dport 80 accept comment "kakit:MASTER"
		iifname "eth0" ip saddr 10.213.8.0/24 udp dport 53 accept comment "kakit:MASTER"
	}
}
"""

BASE = ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"]


def kakit_lines(rules: list[str]) -> list[str]:
    """The rules of ``iptables -S`` that mention kakit's chain."""
    return [line for line in rules if "KAKIT" in line]


# (rule, iptables-restore line, nft rule)
RENDERED = [
    pytest.param(
        AcceptRule(protocol="vrrp"),
        '-A KAKIT -p 112 -m comment --comment "kakit:MASTER" -j ACCEPT',
        'meta l4proto 112 accept comment "kakit:MASTER"',
        id="vrrp",
    ),
    pytest.param(
        AcceptRule(source="10.213.7.2", protocol="tcp", port=80, interface="eth0"),
        '-A KAKIT -i eth0 -s 10.213.7.2 -p tcp -m tcp --dport 80 -m comment --comment "kakit:MASTER" -j ACCEPT',
        'iifname "eth0" ip saddr 10.213.7.2 tcp dport 80 accept comment "kakit:MASTER"',
        id="tcp-port",
    ),
    pytest.param(
        AcceptRule(destination="10.213.0.0/16", protocol="47"),
        '-A KAKIT -d 10.213.0.0/16 -p 47 -m comment --comment "kakit:MASTER" -j ACCEPT',
        'ip daddr 10.213.0.0/16 meta l4proto 47 accept comment "kakit:MASTER"',
        id="number",
    ),
    pytest.param(
        AcceptRule(source="fd00:213::/64", protocol="udp"),
        '-A KAKIT -s fd00:213::/64 -p udp -m comment --comment "kakit:MASTER" -j ACCEPT',
        'ip6 saddr fd00:213::/64 meta l4proto udp accept comment "kakit:MASTER"',
        id="ipv6",
    ),
]


class TestRendering:
    """The rule text handed to iptables-restore and nft."""

    @pytest.mark.parametrize(("rule", "iptables", "nft"), RENDERED)
    def test_rule_text(self, rule: AcceptRule, iptables: str, nft: str) -> None:
        """Each accept rule renders to one iptables line and one nft rule, tagged with the state."""
        assert iptables_rule("KAKIT", rule, "MASTER") == iptables
        assert nft_rule(rule, "MASTER") == nft

    def test_nft_script_without_rules(self) -> None:
        """Without rules the nft transaction only makes sure the table is gone."""
        assert (
            nft_script("kakit", (), "BACKUP") == "add table inet kakit\ndelete table inet kakit\n"
        )

    def test_ipv6_refused_with_iptables(self) -> None:
        """An IPv6 rule with the iptables back end is a configuration error when the hook is built."""
        rule = AcceptRule(destination="fd00::100")
        with pytest.raises(ConfigError) as caught:
            firewall_hook(rule)
        assert str(caught.value) == (
            "firewall: the rule for fd00::100 is IPv6, which the iptables back end does not "
            "handle (use hooks.firewall: nftables)"
        )
        firewall_hook(rule, backend="nftables")

    def test_unknown_state_refused(self) -> None:
        """A state that is not a keepalived state never reaches the rule text."""
        hook = firewall_hook(AcceptRule(protocol="vrrp"))
        change = StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state='X"\n-A INPUT'))  # type: ignore[arg-type]
        with pytest.raises(HookError) as caught:
            hook(change)
        assert str(caught.value) == "firewall: unknown state 'X\"\\n-A INPUT', rules left unchanged"

    def test_missing_tool_and_path_ignored(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The tool is looked up in the system directories only: an iptables first on $PATH is
        not run, and a missing tool is a HookError naming it."""
        planted = tmp_path / "bin"
        planted.mkdir()
        marker = tmp_path / "ran"
        (planted / "iptables").write_text(f"#!/bin/sh\ntouch {marker}\n")
        (planted / "iptables").chmod(0o755)
        monkeypatch.setenv("PATH", f"{planted}:/usr/sbin:/usr/bin")
        monkeypatch.setattr(programs, "SYSTEM_DIRS", (str(tmp_path / "empty"),))
        hook = firewall_hook(AcceptRule(protocol="vrrp"))
        change = StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state="MASTER"))
        with pytest.raises(HookError) as caught:
            hook(change)
        assert str(caught.value) == "firewall: iptables is not installed in the system directories"
        assert not marker.exists()


@pytest.mark.lab
@needs_iptables
class TestIptablesBackend:
    """The iptables back end: one jump from INPUT to KAKIT, whose content is replaced."""

    def test_master_rules_tagged(self, ns: Namespace) -> None:
        """Entering MASTER installs its rules, tagged kakit:MASTER, behind one jump from INPUT."""
        outcomes = ns.apply(CONFIG, "MASTER")
        assert outcomes == [
            {"hook": "firewall", "summary": "firewall: 4 rules in KAKIT (iptables)", "ok": True}
        ]
        assert ns.iptables_rules() == [*BASE, "-N KAKIT", "-A INPUT -j KAKIT", *MASTER_RULES]

    def test_leaving_master_flushes(self, ns: Namespace) -> None:
        """MASTER then BACKUP (no firewall section) leaves the chain empty and the one jump."""
        ns.apply(CONFIG, "MASTER")
        outcomes = ns.apply(CONFIG, "BACKUP", previous="MASTER")
        assert outcomes[1] == {
            "hook": "firewall",
            "summary": "firewall: chain KAKIT flushed",
            "ok": True,
        }
        assert ns.iptables_rules() == [*BASE, "-N KAKIT", "-A INPUT -j KAKIT"]
        assert all("kakit:" not in line for line in ns.iptables_rules())

    def test_state_not_listed_flushes(self, ns: Namespace) -> None:
        """A state absent from ``states`` (STOP) also removes the rules of the state left."""
        ns.apply(CONFIG, "MASTER")
        assert ns.apply(CONFIG, "STOP", previous="MASTER") == [
            {"hook": "firewall", "summary": "firewall: chain KAKIT flushed", "ok": True}
        ]
        assert kakit_lines(ns.iptables_rules()) == ["-N KAKIT", "-A INPUT -j KAKIT"]

    def test_replaced_by_other_state_rules(self, ns: Namespace) -> None:
        """MASTER then FAULT leaves exactly FAULT's rules, tagged kakit:FAULT."""
        ns.apply(CONFIG, "MASTER")
        ns.apply(CONFIG, "FAULT", previous="MASTER")
        assert kakit_lines(ns.iptables_rules()) == [
            "-N KAKIT",
            "-A INPUT -j KAKIT",
            '-A KAKIT -p icmp -m comment --comment "kakit:FAULT" -j ACCEPT',
        ]

    def test_repeat_and_flaps_do_not_pile_up(self, ns: Namespace) -> None:
        """MASTER twice, then flapping BACKUP/MASTER, ends with one jump and one copy of the rules."""
        ns.apply(CONFIG, "MASTER")
        first = ns.iptables_rules()
        for state in ("MASTER", "BACKUP", "MASTER", "BACKUP", "MASTER"):
            ns.apply(CONFIG, state)
        assert ns.iptables_rules() == first
        assert first.count("-A INPUT -j KAKIT") == 1

    def test_fresh_backup_touches_nothing(self, ns: Namespace) -> None:
        """On a node that never had rules, BACKUP creates neither chain nor jump."""
        assert ns.apply(CONFIG, "BACKUP")[1] == {
            "hook": "firewall",
            "summary": "firewall: no rules (chain KAKIT absent)",
            "ok": True,
        }
        assert ns.iptables_rules() == BASE

    def test_jump_ahead_of_local_drop_and_restored(self, ns: Namespace) -> None:
        """The jump goes first in INPUT, ahead of a local drop, and comes back after INPUT is flushed."""
        ns.run("iptables", "-A", "INPUT", "-p", "vrrp", "-j", "DROP")
        ns.apply(CONFIG, "MASTER")
        assert ns.run("iptables", "-S", "INPUT").stdout.splitlines() == [
            "-P INPUT ACCEPT",
            "-A INPUT -j KAKIT",
            "-A INPUT -p vrrp -j DROP",
        ]
        ns.run("iptables", "-F", "INPUT")
        ns.apply(CONFIG, "MASTER")
        assert ns.run("iptables", "-S", "INPUT").stdout.splitlines() == [
            "-P INPUT ACCEPT",
            "-A INPUT -j KAKIT",
        ]

    def test_own_chain_name(self, ns: Namespace) -> None:
        """``hooks.chain`` names the chain kakit owns and jumps to."""
        ns.apply(CONFIG + "hooks: {chain: KA_LB}\n", "FAULT")
        assert ns.iptables_rules() == [
            *BASE,
            "-N KA_LB",
            "-A INPUT -j KA_LB",
            '-A KA_LB -p icmp -m comment --comment "kakit:FAULT" -j ACCEPT',
        ]


@pytest.mark.lab
@needs_nft
class TestNftablesBackend:
    """The nftables back end: the table ``inet kakit``, replaced in one transaction."""

    def test_master_table(self, ns: Namespace) -> None:
        """Entering MASTER creates the table with its base chain and tagged rules."""
        outcomes = ns.apply(NFT_CONFIG, "MASTER")
        assert outcomes == [
            {
                "hook": "firewall",
                "summary": "firewall: 4 rules in table inet kakit (nftables)",
                "ok": True,
            }
        ]
        assert ns.nft_table() == NFT_MASTER
        assert ns.iptables_rules() == BASE

    def test_leaving_master_removes_table(self, ns: Namespace) -> None:
        """MASTER then BACKUP leaves no kakit table behind."""
        ns.apply(NFT_CONFIG, "MASTER")
        outcomes = ns.apply(NFT_CONFIG, "BACKUP", previous="MASTER")
        assert outcomes[1] == {
            "hook": "firewall",
            "summary": "firewall: table inet kakit removed",
            "ok": True,
        }
        assert ns.nft_table() is None

    def test_repeat_and_switch(self, ns: Namespace) -> None:
        """MASTER twice gives one copy of the rules; FAULT then replaces them with its own."""
        ns.apply(NFT_CONFIG, "MASTER")
        ns.apply(NFT_CONFIG, "MASTER")
        assert ns.nft_table() == NFT_MASTER
        ns.apply(NFT_CONFIG, "FAULT", previous="MASTER")
        table = ns.nft_table()
        assert table is not None
        assert [line.strip() for line in table.splitlines() if "comment" in line] == [
            'meta l4proto icmp accept comment "kakit:FAULT"'
        ]

    def test_ipv6_rule(self, ns: Namespace) -> None:
        """The inet table takes IPv6 rules too."""
        config = "states: {MASTER: {firewall: {accept: [{source: 'fd00:213::/64', protocol: tcp, port: 22}]}}}\nhooks: {firewall: nftables, chain: KA_V6}\n"
        assert ns.apply(config, "MASTER")[0]["ok"] is True
        table = ns.nft_table("ka_v6")
        assert table is not None
        assert 'ip6 saddr fd00:213::/64 tcp dport 22 accept comment "kakit:MASTER"' in table

    def test_nft_error_reported(self, ns: Namespace) -> None:
        """A transaction nft rejects is a failed outcome carrying nft's first error line."""
        # nft 1.0 cannot quote names: a table named like a keyword is a syntax error.
        config = "states: {MASTER: {firewall: {accept: [vrrp]}}}\nhooks: {firewall: nftables, chain: TABLE}\n"
        assert ns.apply(config, "MASTER") == [
            {
                "hook": "firewall",
                "summary": "firewall: nft -f failed (1): /dev/stdin:1:16-20: Error: syntax error, "
                "unexpected table, expecting string",
                "ok": False,
            }
        ]


@needs_iptables
class TestIptablesDrift:
    """What the FIFO reader's reconcile sees of the iptables back end after someone else acts."""

    def test_applied_state_has_no_drift(self, ns: Namespace) -> None:
        """Right after MASTER's rules are loaded, and for a state without rules, nothing differs."""
        ns.apply(CONFIG, "MASTER")
        assert ns.drift(CONFIG, "MASTER") == []
        ns.apply(CONFIG, "BACKUP", previous="MASTER")
        assert ns.drift(CONFIG, "BACKUP") == []

    def test_flushed_chain(self, ns: Namespace) -> None:
        """``iptables -F KAKIT`` is drift, and applying the state again repairs it."""
        ns.apply(CONFIG, "MASTER")
        ns.run("iptables", "-F", "KAKIT")
        assert ns.drift(CONFIG, "MASTER") == [
            "firewall: chain KAKIT holds 0 of the 4 rule(s) of MASTER"
        ]
        ns.apply(CONFIG, "MASTER")
        assert ns.drift(CONFIG, "MASTER") == []
        assert ns.iptables_rules()[-4:] == MASTER_RULES

    def test_missing_jump(self, ns: Namespace) -> None:
        """Rules that INPUT no longer jumps to protect nothing: drift."""
        ns.apply(CONFIG, "MASTER")
        ns.run("iptables", "-D", "INPUT", "-j", "KAKIT")
        assert ns.drift(CONFIG, "MASTER") == ["firewall: the INPUT jump to KAKIT is missing"]

    def test_rule_added_by_hand_or_left_from_another_state(self, ns: Namespace) -> None:
        """A rule in kakit's chain that MASTER does not set is drift."""
        ns.apply(CONFIG, "MASTER")
        ns.run("iptables", "-A", "KAKIT", "-p", "tcp", "-j", "ACCEPT")
        assert ns.drift(CONFIG, "MASTER") == ["firewall: chain KAKIT holds 1 rule(s) not of MASTER"]

    def test_rules_left_after_leaving(self, ns: Namespace) -> None:
        """MASTER's rules still present in BACKUP (a missed event) are drift for BACKUP."""
        ns.apply(CONFIG, "MASTER")
        assert ns.drift(CONFIG, "BACKUP") == ["firewall: chain KAKIT holds 4 rule(s) not of BACKUP"]


@needs_nft
class TestNftablesDrift:
    """The same for the nftables back end."""

    def test_flushed_and_deleted_table(self, ns: Namespace) -> None:
        """An emptied or deleted kakit table is drift; applying again repairs it."""
        ns.apply(NFT_CONFIG, "MASTER")
        assert ns.drift(NFT_CONFIG, "MASTER") == []
        ns.run("nft", "flush", "table", "inet", "kakit")
        assert ns.drift(NFT_CONFIG, "MASTER") == [
            "firewall: table inet kakit holds 0 of the 4 rule(s) of MASTER"
        ]
        ns.run("nft", "delete", "table", "inet", "kakit")
        assert ns.drift(NFT_CONFIG, "MASTER") == [
            "firewall: table inet kakit holds 0 of the 4 rule(s) of MASTER"
        ]
        ns.apply(NFT_CONFIG, "MASTER")
        assert ns.drift(NFT_CONFIG, "MASTER") == []
        assert ns.drift(NFT_CONFIG, "BACKUP") == [
            "firewall: table inet kakit holds 4 rule(s) not of BACKUP"
        ]


FAKE_TOOL = """\
#!/bin/sh
# Log argv and stdin (shell built-ins only: PATH holds just the fakes), then answer.
echo "${{0##*/}} $*" >> {log}
case "$*" in *-C*) exit {check_status};; esac
while IFS= read -r line; do echo "$line" >> {log}; done
echo "{error}" >&2
exit {restore_status}
"""


@pytest.fixture(name="fake_iptables")
def _fake_iptables(tmp_path, monkeypatch):
    """Fake iptables/iptables-restore as the system's; returns a function to configure them."""

    def install(check_status: int, restore_status: int = 0, error: str = "") -> object:
        log = tmp_path / "calls.log"
        for name in ("iptables", "iptables-restore"):
            tool = tmp_path / name
            tool.write_text(
                FAKE_TOOL.format(
                    log=log, check_status=check_status, restore_status=restore_status, error=error
                )
            )
            tool.chmod(0o755)
        monkeypatch.setattr(programs, "SYSTEM_DIRS", (str(tmp_path),))
        return log

    return install


class TestIptablesCalls:
    """How many processes the iptables back end starts, and what it feeds them (fake tools)."""

    def change(self) -> StateChange:
        """A MASTER event."""
        return StateChange(event=StateEvent(kind="INSTANCE", name="VI_1", state="MASTER"))

    def test_steady_state_two_calls(self, fake_iptables) -> None:
        """With the jump in place: one ``iptables -C`` and one ``iptables-restore --noflush``, no -I."""
        log = fake_iptables(check_status=0)
        hook = firewall_hook(AcceptRule(protocol="vrrp"))
        assert hook(self.change()).summary == "firewall: 1 rule in KAKIT (iptables)"
        assert log.read_text().splitlines() == [
            "iptables -w 3 -C INPUT -j KAKIT",
            "iptables-restore -w 3 --noflush",
            "*filter",
            ":KAKIT - [0:0]",
            '-A KAKIT -p 112 -m comment --comment "kakit:MASTER" -j ACCEPT',
            "COMMIT",
        ]

    def test_jump_added_in_same_transaction(self, fake_iptables) -> None:
        """A missing jump is inserted by the same iptables-restore call, not by another process."""
        log = fake_iptables(check_status=1)
        hook = firewall_hook(AcceptRule(protocol="vrrp"))
        hook(self.change())
        lines = log.read_text().splitlines()
        assert [line for line in lines if line.startswith("iptables")] == [
            "iptables -w 3 -C INPUT -j KAKIT",
            "iptables-restore -w 3 --noflush",
        ]
        assert lines[-2:] == ["-I INPUT 1 -j KAKIT", "COMMIT"]

    def test_restore_failure(self, fake_iptables) -> None:
        """A failing iptables-restore raises HookError with its status and first error line."""
        fake_iptables(check_status=1, restore_status=2, error="iptables-restore: line 3 failed")
        hook = firewall_hook(AcceptRule(protocol="vrrp"))
        with pytest.raises(HookError) as caught:
            hook(self.change())
        assert (
            str(caught.value)
            == "firewall: iptables-restore failed (2): iptables-restore: line 3 failed"
        )

    def test_check_failure(self, fake_iptables) -> None:
        """An ``iptables -C`` status other than 0, 1 or 2 (no permission: 4) stops before any change."""
        log = fake_iptables(check_status=4)
        hook = firewall_hook()
        with pytest.raises(HookError, match=r"^firewall: iptables -C INPUT -j KAKIT failed \(4\)"):
            hook(self.change())
        assert log.read_text().splitlines() == ["iptables -w 3 -C INPUT -j KAKIT"]


class TestFirewallOptions:
    """`FirewallOptions`: accept rules that are complete and consistent."""

    @pytest.mark.parametrize(("body", "message"), OPTION_ERRORS)
    def test_message(self, body: str, message: str) -> None:
        """Each invalid ``firewall`` value is refused at load time with exactly this message."""
        assert refusal(body) == message
