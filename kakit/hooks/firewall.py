"""``firewall``: accept rules that exist only while the node is in the state that asked for them.

kakit owns one place in the firewall and *replaces its whole content* on every state change,
so entering a state installs exactly that state's rules, a state without rules empties it, and
repeating a state (keepalived reports BACKUP twice at reload) changes nothing. Nothing piles
up across flaps, unlike ``iptables -I`` in a notify script.

iptables back end (``hooks.firewall: iptables``, IPv4): the user chain ``KAKIT`` in the filter
table, reached by one jump ``-I INPUT -j KAKIT`` added once. One ``iptables-restore --noflush``
call replaces the chain atomically: declaring ``:KAKIT - [0:0]`` flushes just that chain, the
``-A KAKIT`` lines refill it, and ``-I INPUT 1 -j KAKIT`` is part of the same transaction when
``iptables -C`` found the jump missing (also after another tool flushed INPUT). Each rule is
tagged ``-m comment --comment "kakit:<STATE>"``. Two processes per state change: the check and
the restore. IPv6 rules are refused with this back end (an ``ip6tables`` twin would double the
process count on every state change); use the nftables back end for them.

nftables back end (``hooks.firewall: nftables``, IPv4 and IPv6): the table ``inet kakit`` (the
``chain`` setting, lowercased) with one base chain
``input { type filter hook input priority -10; policy accept; }``. One ``nft -f -`` transaction
does ``add table`` (so the next line cannot fail), ``delete table`` and, when the state has
rules, the table again with its rules. A state without rules leaves no table behind.

Why an accept in kakit's nft table does not override a drop elsewhere: netfilter evaluates
*every* base chain registered on a hook, table by table in priority order. A verdict of
``accept`` ends only the base chain that issued it; the packet then traverses the next base
chain on the same hook (``priority -10`` runs before the ``filter`` priority 0 of other tables,
including the ``ip filter`` table that iptables-nft uses). ``drop`` is final wherever it
happens. So a node whose firewall drops VRRP in another table keeps dropping it, whatever
``inet kakit`` accepts: an accept can only win *inside the chain that holds the drop*. That is
why the iptables back end jumps from the filter table's own ``INPUT`` chain, ahead of the
local drop rules (an ACCEPT reached through that jump ends ``INPUT`` before them; a drop in yet
another table, firewalld's for instance, would still win), and why the nftables back end only helps where no other table drops the
traffic (otherwise add a ``jump`` to your own ruleset, or use the iptables back end when the
host firewall is iptables).
"""

from __future__ import annotations

import os

from kakit.core.converters import Node, build, integer, list_of, optional, record
from kakit.core.events import STATES
from kakit.core.record import frozen, option
from kakit.exceptions import ConfigError, HookError
from kakit.hooks.base import HookOutcome, StateChange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kakit.hooks.spec import HookSettings

TIMEOUT = 5.0
"""Seconds an ``iptables``/``nft`` call may take (the xtables lock wait is shorter)."""

LOCK_WAIT = "3"
"""Seconds iptables waits for the xtables lock (``-w``) instead of failing at once."""

PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "vrrp": 112}
"""Protocol names the firewall hook accepts, and their IP protocol numbers."""

_PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}

_ADDRESS_EXPECTED = "an IP address or CIDR network such as 10.213.0.100 or 10.213.0.0/16"
_PROTOCOL_EXPECTED = "tcp, udp, icmp, vrrp or an IP protocol number from 1 to 255"
_INTERFACE_EXPECTED = "an interface name of 1 to 15 letters, digits, _, . or -"
_RULE_EXPECTED = "vrrp or a mapping with source, destination, protocol, port and/or interface"


def address(node: Node) -> str:
    """An IPv4/IPv6 address or a CIDR network without host bits (``10.213.0.0/16``)."""
    import ipaddress

    value = node.value
    if not isinstance(value, str):
        raise node.error(_ADDRESS_EXPECTED)
    text = value.strip()
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text, strict=True))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise node.error(_ADDRESS_EXPECTED) from None


def protocol(node: Node) -> str:
    """``tcp``, ``udp``, ``icmp``, ``vrrp`` or a protocol number (numbers of those become names)."""
    value = node.value
    if isinstance(value, str) and value.strip().lower() in PROTOCOL_NUMBERS:
        return value.strip().lower()
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 255:
        return _PROTOCOL_NAMES.get(value, str(value))
    raise node.error(_PROTOCOL_EXPECTED)


def interface(node: Node) -> str:
    """A Linux interface name (IFNAMSIZ: at most 15 characters)."""
    import re

    value = node.value
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", value):
        raise node.error(_INTERFACE_EXPECTED)
    return value


def _is_ipv6(text: str | None) -> bool:
    return text is not None and ":" in text


@frozen
class AcceptRule:
    """One ``accept`` item: packets matching every given field are accepted.

    Attributes:
        source: Source address or network.
        destination: Destination address or network.
        protocol: ``tcp``, ``udp``, ``icmp``, ``vrrp`` or a number as text.
        port: Destination port (only with tcp or udp).
        interface: Incoming interface.
    """

    source: str | None = option(optional(address), default=None)
    destination: str | None = option(optional(address), default=None)
    protocol: str | None = option(optional(protocol), default=None)
    port: int | None = option(optional(integer(1, 65535)), default=None)
    interface: str | None = option(optional(interface), default=None)

    def __post_init__(self) -> None:
        # Messages complete "expected ...": build() turns ValueError into a located ConfigError.
        if self.port is not None and self.protocol not in ("tcp", "udp"):
            raise ValueError("protocol tcp or udp with a port")
        if all(
            value is None
            for value in (self.source, self.destination, self.protocol, self.interface)
        ):
            raise ValueError(
                "at least one of source, destination, protocol or interface "
                "(an empty rule would accept everything)"
            )
        if (
            self.source is not None
            and self.destination is not None
            and _is_ipv6(self.source) != _is_ipv6(self.destination)
        ):
            raise ValueError("source and destination of the same IP version")
        if self.protocol == "icmp" and self.is_ipv6:
            raise ValueError("IPv4 addresses with protocol icmp (ICMPv6 is protocol 58)")

    @property
    def is_ipv6(self) -> bool:
        """True when the rule matches an IPv6 source or destination."""
        return _is_ipv6(self.source) or _is_ipv6(self.destination)


def accept_rule(node: Node) -> AcceptRule:
    """An ``accept`` item: the word ``vrrp`` or a rule mapping."""
    if isinstance(node.value, str):
        if node.value.strip().lower() == "vrrp":
            return AcceptRule(protocol="vrrp")
        raise node.error(_RULE_EXPECTED)
    if not isinstance(node.value, dict):
        raise node.error(_RULE_EXPECTED)
    return build(AcceptRule, node)


@frozen
class FirewallRules:
    """The ``firewall`` section of one state.

    Attributes:
        accept: Rules installed while in this state; empty means "no rules" (the chain is
            flushed on entering the state).
    """

    accept: tuple[AcceptRule, ...] = option(list_of(accept_rule), default=())


@frozen
class FirewallOptions:
    """The ``firewall`` key of a state.

    Attributes:
        firewall: The rules kakit owns while in this state. Once any state has this key every
            state gets it, empty where not written (see :attr:`FirewallHook.every_state`).
    """

    firewall: FirewallRules = option(record(FirewallRules), default=FirewallRules())


def _protocol_word(protocol: str) -> str:
    # tcp, udp and icmp are built into both tools; other names would depend on /etc/protocols.
    return (
        protocol
        if protocol in ("tcp", "udp", "icmp")
        else str(PROTOCOL_NUMBERS.get(protocol, protocol))
    )


def _tag(state: str) -> str:
    return f"kakit:{state}"


def iptables_rule(chain: str, rule: AcceptRule, state: str) -> str:
    """One ``-A CHAIN ...`` line of an iptables-restore file."""
    words = ["-A", chain]
    if rule.interface:
        words += ["-i", rule.interface]
    if rule.source:
        words += ["-s", rule.source]
    if rule.destination:
        words += ["-d", rule.destination]
    if rule.protocol:
        words += ["-p", _protocol_word(rule.protocol)]
    if rule.port is not None:
        words += ["-m", rule.protocol or "tcp", "--dport", str(rule.port)]
    words += ["-m", "comment", "--comment", f'"{_tag(state)}"', "-j", "ACCEPT"]
    return " ".join(words)


def iptables_restore_input(
    chain: str, rules: tuple[AcceptRule, ...], state: str, *, add_jump: bool
) -> str:
    """The iptables-restore text that replaces ``chain`` (and adds the INPUT jump if asked)."""
    lines = ["*filter", f":{chain} - [0:0]"]
    lines += [iptables_rule(chain, rule, state) for rule in rules]
    if add_jump:
        lines.append(f"-I INPUT 1 -j {chain}")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def nft_rule(rule: AcceptRule, state: str) -> str:
    """One rule of kakit's nft ``input`` chain."""
    family = "ip6" if rule.is_ipv6 else "ip"
    words = []
    if rule.interface:
        words.append(f'iifname "{rule.interface}"')
    if rule.source:
        words.append(f"{family} saddr {rule.source}")
    if rule.destination:
        words.append(f"{family} daddr {rule.destination}")
    if rule.port is not None:
        words.append(f"{rule.protocol} dport {rule.port}")
    elif rule.protocol:
        words.append(f"meta l4proto {_protocol_word(rule.protocol)}")
    words.append(f'accept comment "{_tag(state)}"')
    return " ".join(words)


def nft_script(table: str, rules: tuple[AcceptRule, ...], state: str) -> str:
    """The ``nft -f -`` transaction that replaces table ``inet <table>``."""
    lines = [f"add table inet {table}", f"delete table inet {table}"]
    if rules:
        lines += [
            f"table inet {table} {{",
            "  chain input {",
            "    type filter hook input priority -10; policy accept;",
            *(f"    {nft_rule(rule, state)}" for rule in rules),
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _run(argv: list[str], stdin: str | None = None, *, output: bool = False) -> tuple[int, str]:
    """Run a firewall tool; ``(exit status, first stderr line)``, or its whole stdout if ``output``.

    Raises:
        HookError: The tool is missing or did not finish within :data:`TIMEOUT`.
    """
    import subprocess

    from kakit.core.programs import child_environment, find_program

    program = find_program(argv[0])
    if program is None:
        raise HookError(f"firewall: {argv[0]} is not installed in the system directories")
    if os.geteuid() == 0:
        from kakit.core.trust import why_untrusted

        problem = why_untrusted(program)
        if problem is not None:
            raise HookError(f"firewall: refusing to run {program}: {problem}")
    try:
        proc = subprocess.run(
            [program, *argv[1:]],
            env=child_environment(),
            # Always a pipe: without input the tool sees EOF, never kanotify's own stdin.
            input=stdin or "",
            stdout=subprocess.PIPE if output else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except OSError as exc:
        raise HookError(f"firewall: cannot run {argv[0]}: {exc.strerror or exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise HookError(f"firewall: {argv[0]} did not finish within {TIMEOUT:g} s") from exc
    if output and proc.returncode == 0:
        return proc.returncode, proc.stdout
    lines = proc.stderr.strip().splitlines()
    return proc.returncode, lines[0] if lines else ""


class FirewallHook:
    """Replace kakit's firewall rules with those of the state being entered.

    Args:
        options: The state's ``firewall`` rules (empty: remove kakit's rules).
        settings: The ``hooks`` section: back end and chain name.

    Raises:
        ConfigError: An IPv6 rule with the iptables back end.
    """

    name = "firewall"
    options_class = FirewallOptions
    # Every state change must replace the rules of the state being left, also when entering
    # a state that sets none: once one state has this hook, every state gets it.
    every_state = True

    def __init__(self, options: FirewallOptions, settings: HookSettings) -> None:
        self.rules = options.firewall.accept
        self.backend = settings.firewall
        self.chain = settings.chain
        if self.backend == "iptables":
            for rule in self.rules:
                if rule.is_ipv6:
                    raise ConfigError(
                        f"firewall: the rule for {rule.source or rule.destination} is IPv6, which "
                        "the iptables back end does not handle (use hooks.firewall: nftables)"
                    )

    def __call__(self, change: StateChange) -> HookOutcome:
        """Install exactly the rules of ``change.event.state``.

        Raises:
            HookError: The firewall tool failed (its first error line is included).
        """
        state = change.event.state
        # The state is written into the rule tags of the restore file / nft script: only the
        # five keepalived words may get there.
        if state not in STATES:
            raise HookError(f"firewall: unknown state {state!r}, rules left unchanged")
        if self.backend == "nftables":
            return self._nftables(state)
        return self._iptables(state)

    def drift(self, state: str) -> str | None:
        """How kakit's place in the firewall differs from ``state``'s rules; None if it does not.

        Rules are recognised by their tag (``kakit:STATE``), and counted: someone's ``iptables
        -F``, a deleted rule, a rule added by hand or left from another state, or the missing
        INPUT jump are all drift. A rule edited in place under its tag is not seen.

        Raises:
            HookError: The firewall tool failed or is missing.
        """
        if self.backend == "nftables":
            table = self.chain.lower()
            status, listing = _run(["nft", "list", "table", "inet", table], output=True)
            place = f"table inet {table}"
            rules = [] if status != 0 else _nft_rules(listing)
        else:
            place = f"chain {self.chain}"
            status, listing = _run(["iptables", "-w", LOCK_WAIT, "-S", self.chain], output=True)
            prefix = f"-A {self.chain} "
            rules = (
                []
                if status != 0
                else [line for line in listing.splitlines() if line.startswith(prefix)]
            )
            if self.rules:
                jump, error = _run(["iptables", "-w", LOCK_WAIT, "-C", "INPUT", "-j", self.chain])
                if jump not in (0, 1, 2):
                    raise HookError(f"firewall: iptables -C INPUT failed ({jump}): {error}")
                if jump != 0:
                    return f"the INPUT jump to {self.chain} is missing"
        tag = f'"{_tag(state)}"'
        foreign = sum(1 for rule in rules if tag not in rule)
        if foreign:
            return f"{place} holds {foreign} rule(s) not of {state}"
        if len(rules) != len(self.rules):
            return f"{place} holds {len(rules)} of the {len(self.rules)} rule(s) of {state}"
        return None

    def _iptables(self, state: str) -> HookOutcome:
        chain = self.chain
        status, error = _run(["iptables", "-w", LOCK_WAIT, "-C", "INPUT", "-j", chain])
        # 0: the jump exists; 1: it does not; 2: the chain itself does not exist yet.
        if status not in (0, 1, 2):
            raise HookError(f"firewall: iptables -C INPUT -j {chain} failed ({status}): {error}")
        if status == 2 and not self.rules:
            return HookOutcome(hook=self.name, summary=f"firewall: no rules (chain {chain} absent)")
        text = iptables_restore_input(
            chain, self.rules, state, add_jump=status != 0 and bool(self.rules)
        )
        return self._load(
            ["iptables-restore", "-w", LOCK_WAIT, "--noflush"],
            text,
            tool="iptables-restore",
            emptied=f"chain {chain} flushed",
            filled=f"{chain} (iptables)",
        )

    def _nftables(self, state: str) -> HookOutcome:
        table = self.chain.lower()
        return self._load(
            ["nft", "-f", "-"],
            nft_script(table, self.rules, state),
            tool="nft -f",
            emptied=f"table inet {table} removed",
            filled=f"table inet {table} (nftables)",
        )

    def _load(
        self, argv: list[str], script: str, *, tool: str, emptied: str, filled: str
    ) -> HookOutcome:
        """Feed ``script`` to the back end's loader; the outcome says what kakit's place holds.

        Raises:
            HookError: The loader failed (the place is left as it was: both loaders apply a
                script as one transaction).
        """
        status, error = _run(argv, script)
        if status != 0:
            raise HookError(f"firewall: {tool} failed ({status}): {error}")
        if not self.rules:
            return HookOutcome(hook=self.name, summary=f"firewall: {emptied}")
        return HookOutcome(hook=self.name, summary=f"firewall: {_count(self.rules)} in {filled}")


def _nft_rules(listing: str) -> list[str]:
    """The rule lines of an ``nft list table`` listing (not its table, chain or policy lines)."""
    skip = ("table ", "chain ", "type ", "}")
    return [
        line.strip()
        for line in listing.splitlines()
        if line.strip() and not line.strip().startswith(skip)
    ]


def _count(rules: tuple[AcceptRule, ...]) -> str:
    return f"{len(rules)} rule" + ("" if len(rules) == 1 else "s")
