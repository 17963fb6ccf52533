"""Settings of the state hooks: the ``states`` and ``hooks`` sections of kakit.yaml.

::

    states:
      MASTER:
        sysctl: {net.ipv4.conf.all.arp_ignore: 1, net.ipv4.ip_nonlocal_bind: 1}
        firewall: {accept: [vrrp, {destination: 10.213.0.100}]}
        run: [[/usr/local/bin/promote-db, --fast]]
      BACKUP:
        sysctl: {net.ipv4.conf.all.arp_ignore: 0}
    hooks: {firewall: iptables, chain: KAKIT, run_timeout: 5s}

Everything is validated here, at load time, so a typo fails ``kakit config check`` instead of
the notify call during a failover. The config loader reads the sections with
``option(states_section, default={})`` and ``option(record(HookSettings), default=HookSettings())``.

This module imports nothing heavy (``ipaddress`` and ``re`` only when a value needs them): the
loader runs on every ``kanotify`` call.
"""

from __future__ import annotations

from kakit.core.converters import (
    Node,
    argv,
    build,
    choice,
    duration,
    integer,
    list_of,
    optional,
    record,
    unknown_key_error,
)
from kakit.core.events import STATES
from kakit.core.record import frozen, option

SYSCTL_ROOT = "/proc/sys"
"""Where dotted sysctl names are mapped to files (``a.b.c`` is ``/proc/sys/a/b/c``)."""

BUILTIN_CHAINS = ("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING")
"""Chains kakit must never own: it flushes its chain on every state change."""

PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "vrrp": 112}
"""Protocol names the firewall hook accepts, and their IP protocol numbers."""

_PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}

_SYSCTL_EXPECTED = (
    "a sysctl name of dot-separated words of letters, digits, _ and -, "
    "such as net.ipv4.ip_nonlocal_bind"
)
_ADDRESS_EXPECTED = "an IP address or CIDR network such as 10.213.0.100 or 10.213.0.0/16"
_PROTOCOL_EXPECTED = "tcp, udp, icmp, vrrp or an IP protocol number from 1 to 255"
_INTERFACE_EXPECTED = "an interface name of 1 to 15 letters, digits, _, . or -"
_CHAIN_EXPECTED = (
    "a chain name of 1 to 28 letters, digits and _ starting with a letter, "
    f"other than {', '.join(BUILTIN_CHAINS)}"
)
_RULE_EXPECTED = "vrrp or a mapping with source, destination, protocol, port and/or interface"


# --- sysctl ------------------------------------------------------------------------------------


def sysctl_path(name: str, root: str = SYSCTL_ROOT) -> str:
    """The file behind a validated dotted sysctl name: ``net.ipv4.x`` is ``/proc/sys/net/ipv4/x``."""
    return root + "/" + name.replace(".", "/")


def sysctl_values(node: Node) -> dict[str, str]:
    """``{dotted.name: value}`` with names checked and values as the text to write.

    A name is two or more dot-separated words of letters, digits, ``_`` and ``-``, so it can
    only ever name a file below ``/proc/sys`` (no ``/``, no ``..``, no empty word). Values are
    integers or non-empty strings (``"32768 60999"`` for multi-value keys); booleans and floats
    are refused because the kernel reads neither.
    """
    import re

    valid = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
    values: dict[str, str] = {}
    for name, child in node.mapping("a mapping of sysctl names to values").items():
        if not valid.fullmatch(name):
            raise child.error(_SYSCTL_EXPECTED + f" (not {name!r})", show_value=False)
        value = child.value
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
            raise child.error("an integer or a non-empty string")
        if isinstance(value, str) and ("\n" in value or "\x00" in value):
            raise child.error("a single-line value")
        values[name] = str(value).strip()
    return values


# --- firewall ----------------------------------------------------------------------------------


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


def chain_name(node: Node) -> str:
    """A name valid for an iptables chain and, lowercased, an nftables table."""
    import re

    value = node.value
    if (
        not isinstance(value, str)
        or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,27}", value)
        or value.upper() in BUILTIN_CHAINS
    ):
        raise node.error(_CHAIN_EXPECTED)
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


# --- run ---------------------------------------------------------------------------------------


def command(node: Node) -> tuple[str, ...]:
    """A command run without a shell, whose program is an absolute path.

    keepalived gives notify scripts a bare environment (often no useful ``PATH``), and
    requiring ``/`` also catches ``run: [/x, --fast]``, which would otherwise be two commands.
    """
    words = argv(node)
    if any("\x00" in word for word in words):
        raise node.error("a command without NUL characters")
    if not words[0].startswith("/"):
        raise node.error(
            "a command as a list of words whose program is an absolute path, "
            "such as [/usr/local/bin/promote-db, --fast]"
        )
    return words


# --- sections ----------------------------------------------------------------------------------


@frozen
class StateHooks:
    """What entering one keepalived state does, in this order: sysctl, firewall, run.

    Attributes:
        sysctl: ``{dotted.name: value}`` written to ``/proc/sys`` and read back.
        firewall: Accept rules owned by kakit while in this state; None when the state says
            nothing about the firewall (see :func:`states_section`).
        run: Commands run one after the other, each with ``hooks.run_timeout``.
    """

    sysctl: dict[str, str] = option(sysctl_values, default={})
    firewall: FirewallRules | None = option(record(FirewallRules), default=None)
    run: tuple[tuple[str, ...], ...] = option(list_of(command), default=())


def states_section(node: Node) -> dict[str, StateHooks]:
    """The ``states`` section: hooks by keepalived state name (MASTER, BACKUP, ...).

    When any state has a ``firewall`` section, every state gets one (empty where not given),
    including states not listed: the firewall hook then runs on every state change and flushes
    the rules of the state being left, so nothing piles up across flaps.
    """
    if node.value is None:
        return {}
    mapping = node.mapping(f"a mapping of keepalived states ({', '.join(STATES)}) to hooks")
    result: dict[str, StateHooks] = {}
    for name, child in mapping.items():
        if name not in STATES:
            raise unknown_key_error(node, name, list(STATES))
        result[name] = StateHooks() if child.value is None else build(StateHooks, child)
    if any(hooks.firewall is not None for hooks in result.values()):
        for name in STATES:
            hooks = result.get(name, StateHooks())
            if hooks.firewall is None:
                result[name] = StateHooks(
                    sysctl=hooks.sysctl, firewall=FirewallRules(), run=hooks.run
                )
    return result


@frozen
class HookSettings:
    """The ``hooks`` section: settings shared by every state's hooks.

    Attributes:
        firewall: Back end of the firewall hook, ``iptables`` or ``nftables``.
        chain: The iptables chain kakit owns in the filter table; lowercased, the name of
            kakit's nftables table (``KAKIT`` gives ``inet kakit``).
        run_timeout: Seconds each ``run`` command may take before its process group is killed.
    """

    firewall: str = option(choice("iptables", "nftables"), default="iptables")
    chain: str = option(chain_name, default="KAKIT")
    run_timeout: float = option(duration(high=3600.0), default=5.0)
