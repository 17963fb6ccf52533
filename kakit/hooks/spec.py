"""The ``states`` and ``hooks`` sections of kakit.yaml.

::

    states:
      MASTER:
        sysctl: {net.ipv4.conf.all.arp_ignore: 1, net.ipv4.ip_nonlocal_bind: 1}
        firewall: {accept: [vrrp, {destination: 10.213.0.100}]}
        run: [[/usr/local/bin/promote-db, --fast]]
      BACKUP:
        sysctl: {net.ipv4.conf.all.arp_ignore: 0}
    hooks: {firewall: iptables, chain: KAKIT, run_timeout: 5s}

Each key of a state names a hook in :data:`kakit.hooks.REGISTRY`; the hook's module owns the
options record that key becomes. Everything is validated here, at load time, so a typo fails
``kakit config check`` instead of the notify call during a failover. The ``hooks`` section is
the one piece every hook shares: each hook is built with it.
"""

from __future__ import annotations

from kakit.core.converters import Node, choice, duration, list_of, unknown_key_error
from kakit.core.events import STATES
from kakit.core.record import frozen, option
from kakit.exceptions import ConfigError, raise_collected
from kakit.hooks import REGISTRY, registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BUILTIN_CHAINS = ("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING")
"""Chains kakit must never own: it flushes its chain on every state change."""

_CHAIN_EXPECTED = (
    "a chain name of 1 to 28 letters, digits and _ starting with a letter, "
    f"other than {', '.join(BUILTIN_CHAINS)}"
)


def env_name(node: Node) -> str:
    """The name of an environment variable (letters, digits and underscores)."""
    value = node.value
    if (
        not isinstance(value, str)
        or not value
        or value[0].isdigit()
        or not value.isascii()
        or not value.replace("_", "a").isalnum()
    ):
        raise node.error("an environment variable name such as HTTP_PROXY")
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


@frozen
class HookSettings:
    """The ``hooks`` section: settings shared by every state's hooks.

    Attributes:
        firewall: Back end of the firewall hook, ``iptables`` or ``nftables``.
        chain: The iptables chain kakit owns in the filter table; lowercased, the name of
            kakit's nftables table (``KAKIT`` gives ``inet kakit``).
        run_timeout: Seconds each ``run`` command may take before its process group is killed.
        run_pass_env: Names of kakit's environment variables that ``run`` commands receive
            (they get none otherwise, besides the locale, a system ``PATH`` and ``KAKIT_*``).
    """

    firewall: str = option(choice("iptables", "nftables"), default="iptables")
    chain: str = option(chain_name, default="KAKIT")
    run_timeout: float = option(duration(high=3600.0), default=5.0)
    run_pass_env: tuple[str, ...] = option(list_of(env_name), default=())


def states_section(node: Node) -> dict[str, dict[str, Any]]:
    """The ``states`` section: hook options by keepalived state, then by hook name, in run order.

    A hook that declares ``every_state`` (the firewall) and is configured for any state is
    given to every state, listed or not, with its default options: it then runs on every state
    change and undoes what the state being left did, so nothing piles up across flaps.

    Raises:
        ConfigError: An unknown state or hook, or invalid hook options, located in the file.
    """
    if node.value is None:
        return {}
    mapping = node.mapping(f"a mapping of keepalived states ({', '.join(STATES)}) to hooks")
    result: dict[str, dict[str, Any]] = {}
    errors: list[ConfigError] = []
    for state, child in mapping.items():
        if state not in STATES:
            errors.append(unknown_key_error(node, state, list(STATES)))
            continue
        try:
            result[state] = {} if child.value is None else _state_hooks(child)
        except ConfigError as exc:
            errors.append(exc)
    raise_collected(errors)
    for name in {name for hooks in result.values() for name in hooks}:
        cls = registry.load(name)
        if getattr(cls, "every_state", False):
            for state in STATES:
                hooks = result.setdefault(state, {})
                if name not in hooks:
                    result[state] = _in_run_order({**hooks, name: cls.options_class()})
    return result


def _state_hooks(node: Node) -> dict[str, Any]:
    """One state's hooks: each key's options, built from the state with the other keys skipped."""
    mapping = node.mapping(f"a mapping of settings ({', '.join(REGISTRY)})")
    found = {}
    errors: list[ConfigError] = []
    for key, child in mapping.items():
        try:
            registry.load(key)
        except ConfigError:
            errors.append(unknown_key_error(node, key, registry.names()))
            continue
        others = tuple(other for other in mapping if other != key)
        type_node = Node(key, child.file, child.line, child.path)
        try:
            found[key] = registry.build(node, type_node=type_node, skip=others)[1]
        except ConfigError as exc:
            errors.append(exc)
    raise_collected(errors)
    return _in_run_order(found)


def _in_run_order(hooks: dict[str, Any]) -> dict[str, Any]:
    # Built-ins run in REGISTRY order (sysctl, firewall, run) whatever the file's order;
    # plugin hooks after them, by name.
    rank = {name: index for index, name in enumerate(REGISTRY)}
    return {name: hooks[name] for name in sorted(hooks, key=lambda n: (rank.get(n, len(rank)), n))}
