"""Low-level helpers for network namespaces, veth pairs and bridges.

Thin wrappers around iproute2 (``ip``); ``/proc`` is read through kakit's own
:mod:`kakit.core.procfs`. Every subprocess call has a timeout so a wedged ``ip`` can never hang
a test run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kakit.core import procfs

NETNS_DIR = Path("/run/netns")
"""Where ``ip netns add`` bind-mounts the namespaces it creates."""

IP_TIMEOUT = 10.0
"""Seconds any single ``ip`` invocation may take."""


_RESET_TO_DEFAULT = tuple(
    f"net.ipv4.conf.{scope}.{key}"
    for scope in ("all", "default")
    for key in ("arp_ignore", "arp_announce", "arp_accept", "arp_filter", "rp_filter")
)
"""Sysctls kakit's hooks and real-server setup change, whose kernel default is 0."""


class NetnsError(RuntimeError):
    """An ``ip`` command failed."""


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip [-n NS] ARGS...`` and capture its output.

    Args:
        *args: Arguments after ``ip`` (and after ``-n NS``).
        ns: Network namespace to run the command in, via ``ip -n``; None for the caller's.
        check: Raise when the command exits non-zero.

    Returns:
        The completed process, with text stdout and stderr.

    Raises:
        NetnsError: ``check`` is true and the command failed.
        subprocess.TimeoutExpired: The command took longer than ``IP_TIMEOUT``.
    """
    argv = ["ip", *(["-n", ns] if ns is not None else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=IP_TIMEOUT, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def netns_exists(name: str) -> bool:
    """Tell whether the named network namespace exists.

    Args:
        name: Namespace name as given to ``ip netns add``.

    Returns:
        True if ``/run/netns/NAME`` exists.
    """
    return (NETNS_DIR / name).exists()


def list_netns() -> list[str]:
    """List the names of all named network namespaces (``ip netns list``).

    Returns:
        Namespace names, in the order ``ip`` prints them.
    """
    out = ip("netns", "list").stdout
    # Lines look like "name (id: 3)" or just "name" when no id has been assigned yet.
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add_netns(name: str) -> None:
    """Create a network namespace and bring its loopback up.

    Args:
        name: Namespace name; must not exist yet.
    """
    ip("netns", "add", name)
    # A fresh namespace has lo down; nginx readiness probes and local checks need 127.0.0.1.
    ip("link", "set", "lo", "up", ns=name)
    # A new namespace copies the host's ipv4 conf/all and conf/default
    # (net.core.devconf_inherit_init_net=0), so a host that is itself an LVS-DR real server
    # would hand its arp_ignore to every lab node. Start each one from the kernel defaults.
    subprocess.run(
        ["ip", "netns", "exec", name, "sysctl", "-q", "-w", *(f"{k}=0" for k in _RESET_TO_DEFAULT)],
        capture_output=True,
        timeout=IP_TIMEOUT,
        check=True,
    )


def delete_netns(name: str) -> None:
    """Delete a named network namespace if it exists.

    Processes still inside keep the namespace alive after this, so kill them first.

    Args:
        name: Namespace name.
    """
    if netns_exists(name):
        ip("netns", "del", name)


def netns_inode(name: str) -> int:
    """Return the inode identifying a named network namespace.

    Args:
        name: Namespace name.

    Returns:
        The nsfs inode, the same number ``/proc/PID/ns/net`` shows as ``net:[N]``.
    """
    return os.stat(NETNS_DIR / name).st_ino


def pid_netns_inode(pid: int) -> int | None:
    """Return the network-namespace inode of a process.

    Args:
        pid: Process id.

    Returns:
        The inode, or None when the process is gone, a zombie, or unreadable.
    """
    link = procfs.netns_of(pid)
    # Zombies have released their namespaces, so the link is unreadable: that is "gone".
    if link is None or not (link.startswith("net:[") and link.endswith("]")):
        return None
    return int(link[5:-1])


def all_pids() -> list[int]:
    """List every process id visible in ``/proc``.

    Returns:
        Process ids, unsorted.
    """
    return procfs.pids()


def pids_in_netns(inode: int) -> list[int]:
    """List the live processes whose network namespace has the given inode.

    The PID namespace is shared between lab nodes, so this is how a node tells its own
    processes from its neighbours'.

    Args:
        inode: Namespace inode from `netns_inode`.

    Returns:
        Sorted process ids (zombies excluded).
    """
    return sorted(pid for pid in all_pids() if pid_netns_inode(pid) == inode)


def link_exists(name: str, ns: str | None = None) -> bool:
    """Tell whether a network interface exists.

    Args:
        name: Interface name.
        ns: Namespace to look in; None for the caller's.

    Returns:
        True if ``ip link show NAME`` succeeds.
    """
    return ip("link", "show", "dev", name, ns=ns, check=False).returncode == 0


def delete_link(name: str, ns: str | None = None) -> None:
    """Delete a network interface if it exists (a veth takes its peer with it).

    Args:
        name: Interface name.
        ns: Namespace it lives in; None for the caller's.
    """
    if link_exists(name, ns):
        ip("link", "del", "dev", name, ns=ns, check=False)


def add_bridge(ns: str, name: str) -> None:
    """Create a bridge inside a namespace and bring it up.

    Args:
        ns: Namespace name.
        name: Bridge name, for example ``br0``.
    """
    ip("link", "add", name, "type", "bridge", ns=ns)
    ip("link", "set", name, "up", ns=ns)


def add_veth_pair(name: str, peer: str) -> None:
    """Create a veth pair in the caller's namespace.

    Args:
        name: One end's name (at most 15 characters).
        peer: The other end's name (at most 15 characters).
    """
    ip("link", "add", name, "type", "veth", "peer", "name", peer)


def move_link(name: str, ns: str) -> None:
    """Move an interface from the caller's namespace into another one.

    Args:
        name: Interface name in the caller's namespace.
        ns: Target namespace.
    """
    ip("link", "set", name, "netns", ns)


def rename_link(ns: str, old: str, new: str) -> None:
    """Rename a (down) interface inside a namespace.

    Args:
        ns: Namespace name.
        old: Current name.
        new: New name.
    """
    ip("link", "set", "dev", old, "name", new, ns=ns)


def set_up(ns: str, dev: str) -> None:
    """Bring an interface up inside a namespace.

    Args:
        ns: Namespace name.
        dev: Interface name.
    """
    ip("link", "set", "dev", dev, "up", ns=ns)


def set_master(ns: str, dev: str, bridge: str) -> None:
    """Enslave an interface to a bridge inside a namespace.

    Args:
        ns: Namespace name.
        dev: Interface name.
        bridge: Bridge name.
    """
    ip("link", "set", "dev", dev, "master", bridge, ns=ns)


def add_address(ns: str, dev: str, cidr: str) -> None:
    """Add an address to an interface inside a namespace.

    Args:
        ns: Namespace name.
        dev: Interface name.
        cidr: Address with prefix length, for example ``10.213.7.1/24``.
    """
    ip("addr", "add", cidr, "dev", dev, ns=ns)


def add_default_route(ns: str, via: str) -> None:
    """Add a default route inside a namespace.

    Args:
        ns: Namespace name.
        via: Next-hop address, which must be on a connected network of the namespace.
    """
    ip("route", "add", "default", "via", via, ns=ns)


def set_bridge_port_state(ns: str, dev: str, forwarding: bool) -> None:
    """Stop or resume forwarding on a bridge port, leaving its carrier up.

    A port in the ``disabled`` STP state drops every frame both ways while both ends of the
    veth still see a link: a path failure beyond the node's own interface, which keepalived's
    interface tracking cannot see.

    Args:
        ns: Namespace holding the bridge.
        dev: The bridge port.
        forwarding: True to forward again, False to drop everything.
    """
    # STP port states: 0 disabled, 3 forwarding. `ip link set DEV type bridge_slave state 0`
    # exits 0 but leaves the port forwarding (iproute2 6.1); `bridge link set` applies it.
    argv = ["bridge", "-n", ns, "link", "set", "dev", dev, "state", "3" if forwarding else "0"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=IP_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


def enable_forwarding(ns: str) -> None:
    """Turn IPv4 forwarding on inside a namespace (a router between two lab networks).

    Args:
        ns: Namespace name.
    """
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        check=True,
        capture_output=True,
        timeout=IP_TIMEOUT,
    )
