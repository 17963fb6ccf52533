"""The multi-node lab: namespaces on a bridge, built on entry and torn down on exit."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from lab import netns, procs
from lab.node import Node

SUBNET_PREFIX = "10.213.7"
"""First three octets of the lab network; nodes are .1-.99, the VIP .100, the gateway .254."""

PREFIXLEN = 24
MAX_NODES = 99
VIP_HOST = 100
GATEWAY_HOST = 254
BRIDGE = "br0"

HEARTBEAT_PREFIX = "10.213.8"
"""The optional heartbeat network: node ``i`` is ``10.213.8.i`` on ``eth1``, bridge ``br1``."""

HEARTBEAT_BRIDGE = "br1"

CLIENT_PREFIX = "10.213.9"
"""The optional client network behind the gateway: gateway ``.1`` on its ``eth1``, client ``.2``."""

# Per-process sequence number: together with the pid it makes namespace and veth names
# unique across labs running at the same time, in this process or another.
_SEQ = itertools.count(1)


class LabError(RuntimeError):
    """Building or tearing down the lab failed."""


class Lab:
    """N nodes as network namespaces on one bridge, with optional gateway namespace.

    Use it as a context manager: entering builds the topology, leaving (also on an
    exception) stops every process started in the lab and deletes the namespaces.

    Node ``i`` (``n1``...) gets ``10.213.7.i/24`` on its ``eth0``; the VIP is
    ``10.213.7.100``; the gateway ``gw``, when requested, is ``10.213.7.254`` and is the
    nodes' default route. With ``heartbeat``, the nodes also share a second bridge
    (``10.213.8.i/24`` on ``eth1``) that the gateway is not on; with ``client``, a ``cl``
    namespace (``10.213.9.2``) sits behind the gateway (``10.213.9.1``), which routes between
    it and the nodes. Nothing in the lab has a route out of the lab network.

    Attributes:
        nodes: The keepalived nodes, ``n1`` to ``nN``.
        gateway: The gateway node, or None.
        client: The client node behind the gateway, or None.
        vip: The virtual address the tests float between nodes.
        workdir: Directory holding one subdirectory per node.
        prefix: Prefix of every namespace name of this lab (``kl<pid>-<seq>``).
        switch_ns: Name of the namespace holding the bridge.
    """

    def __init__(
        self,
        nodes: int = 2,
        workdir: Path | str | None = None,
        gateway: bool = False,
        heartbeat: bool = False,
        client: bool = False,
    ) -> None:
        """Describe the lab; nothing is created before `start` (or ``with``).

        Args:
            nodes: Number of nodes, 1-99.
            workdir: Directory for the nodes' files; a fresh temporary directory (kept
                afterwards, for its logs) when None.
            gateway: Also create a gateway namespace and route the nodes through it.
            heartbeat: Also link the nodes (not the gateway) by a second bridge.
            client: Also create a client namespace routed through the gateway (which
                ``client`` requires).

        Raises:
            ValueError: ``nodes`` is out of range, or a client is asked without a gateway.
        """
        if not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"nodes must be 1-{MAX_NODES}, not {nodes}")
        if client and not gateway:
            raise ValueError("a client needs the gateway to route it")
        self._pid = os.getpid()
        self._seq = next(_SEQ)
        self.prefix = f"kl{self._pid}-{self._seq}"
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="kakit-lab-"))
        )
        self.vip = f"{SUBNET_PREFIX}.{VIP_HOST}"
        self.switch_ns = f"{self.prefix}-sw"
        self.nodes = [self._make_node(f"n{i}", i) for i in range(1, nodes + 1)]
        self.gateway = self._make_node("gw", GATEWAY_HOST) if gateway else None
        self.heartbeat = heartbeat
        self.client = (
            Node(
                name="cl",
                ns=f"{self.prefix}-cl",
                address=f"{CLIENT_PREFIX}.2",
                directory=self.workdir / "cl",
                prefixlen=PREFIXLEN,
            )
            if client
            else None
        )
        self._created_ns: list[str] = []
        self._temp_links: list[str] = []
        self._inodes: dict[str, int] = {}
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"Lab(prefix={self.prefix!r}, nodes={[n.name for n in self.nodes]})"

    def _make_node(self, name: str, host: int) -> Node:
        """Describe one node; its namespace is created by `start`."""
        return Node(
            name=name,
            ns=f"{self.prefix}-{name}",
            address=f"{SUBNET_PREFIX}.{host}",
            directory=self.workdir / name,
            prefixlen=PREFIXLEN,
        )

    @property
    def bridged_nodes(self) -> list[Node]:
        """The nodes followed by the gateway, if any: everything on the lab's bridge."""
        return [*self.nodes, *([self.gateway] if self.gateway is not None else [])]

    @property
    def all_nodes(self) -> list[Node]:
        """The nodes, the gateway and the client, those that exist."""
        return [*self.bridged_nodes, *([self.client] if self.client is not None else [])]

    @property
    def namespaces(self) -> list[str]:
        """Every namespace name of this lab: nodes, gateway, client, then the switch."""
        return [n.ns for n in self.all_nodes] + [self.switch_ns]

    def node(self, name: str) -> Node:
        """Look a node (or the gateway, or the client) up by name.

        Args:
            name: ``n1``..., ``gw`` or ``cl``.

        Returns:
            The node.

        Raises:
            KeyError: No such node.
        """
        for n in self.all_nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    # -- building ----------------------------------------------------------------------

    def _temp_link_name(self, host: int, side: str) -> str:
        """A root-namespace veth name unique across labs: ``k`` + pid + seq + host + side.

        Fixed-width hex fields keep it unambiguous and at most 12 characters (the kernel
        allows 15); pids stay below 2**22, so six hex digits suffice.
        """
        return f"k{self._pid:06x}{self._seq % 256:02x}{host:02x}{side}"

    def _add_ns(self, name: str) -> None:
        """Create a namespace and remember it for teardown, even if setup fails later."""
        netns.add_netns(name)
        self._created_ns.append(name)
        self._inodes[name] = netns.netns_inode(name)

    def _veth(self, host: int, sides: str, ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
        """Create a veth pair, move each end to its namespace and give it its final name."""
        end_a = self._temp_link_name(host, sides[0])
        end_b = self._temp_link_name(host, sides[1])
        self._temp_links += [end_a, end_b]
        netns.add_veth_pair(end_a, end_b)
        netns.move_link(end_a, ns_a)
        netns.move_link(end_b, ns_b)
        netns.rename_link(ns_a, end_a, name_a)
        netns.rename_link(ns_b, end_b, name_b)

    def _attach(
        self, node: Node, host: int, bridge: str = BRIDGE, dev: str = "eth0", cidr: str = ""
    ) -> None:
        """Wire a node to a bridge with a veth pair and configure its interface."""
        heartbeat = bridge != BRIDGE
        port = f"{'h' if heartbeat else 'p'}-{node.name}"
        self._veth(host, "cd" if heartbeat else "ab", node.ns, dev, self.switch_ns, port)
        netns.set_master(self.switch_ns, port, bridge)
        netns.set_up(self.switch_ns, port)
        netns.add_address(node.ns, dev, cidr or f"{node.address}/{node.prefixlen}")
        netns.set_up(node.ns, dev)

    def _attach_client(self, client: Node, gateway: Node) -> None:
        """Wire the client to the gateway's ``eth1`` and route it through the gateway."""
        router = f"{CLIENT_PREFIX}.1"
        self._veth(0, "ef", client.ns, "eth0", gateway.ns, "eth1")
        netns.add_address(client.ns, "eth0", f"{client.address}/{PREFIXLEN}")
        netns.add_address(gateway.ns, "eth1", f"{router}/{PREFIXLEN}")
        netns.set_up(client.ns, "eth0")
        netns.set_up(gateway.ns, "eth1")
        netns.add_default_route(client.ns, router)
        netns.enable_forwarding(gateway.ns)

    def port(self, node: Node) -> str:
        """The switch-side name of a node's (or the gateway's) port on the lab's bridge.

        Args:
            node: A bridged node.

        Returns:
            ``p-NAME`` in `switch_ns`.
        """
        return f"p-{node.name}"

    def heartbeat_address(self, node: Node) -> str:
        """A node's address on the heartbeat network (``eth1``), when the lab has one.

        Args:
            node: One of `nodes`.

        Returns:
            ``10.213.8.i``.
        """
        return f"{HEARTBEAT_PREFIX}.{node.address.rsplit('.', 1)[1]}"

    def start(self) -> Lab:
        """Build the topology: switch namespace with a bridge, then every node.

        Returns:
            The lab itself.

        Raises:
            LabError: The lab was already started, or building it failed (what had been
                built is torn down first).
        """
        if self._started:
            raise LabError("lab already started")
        self._started = True
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._add_ns(self.switch_ns)
            netns.add_bridge(self.switch_ns, BRIDGE)
            if self.heartbeat:
                netns.add_bridge(self.switch_ns, HEARTBEAT_BRIDGE)
            for node in self.bridged_nodes:
                node.dir.mkdir(parents=True, exist_ok=True)
                self._add_ns(node.ns)
                host = int(node.address.rsplit(".", 1)[1])
                self._attach(node, host)
                if self.heartbeat and node is not self.gateway:
                    cidr = f"{self.heartbeat_address(node)}/{PREFIXLEN}"
                    self._attach(node, host, HEARTBEAT_BRIDGE, "eth1", cidr)
            if self.gateway is not None:
                for node in self.nodes:
                    netns.add_default_route(node.ns, self.gateway.address)
                if self.client is not None:
                    self.client.dir.mkdir(parents=True, exist_ok=True)
                    self._add_ns(self.client.ns)
                    self._attach_client(self.client, self.gateway)
        except BaseException as exc:
            errors = self._teardown()
            if errors:
                exc.add_note("lab teardown after failed setup: " + "; ".join(errors))
            if isinstance(exc, Exception) and not isinstance(exc, LabError):
                raise LabError(f"building {self.prefix} failed: {exc}") from exc
            raise
        return self

    def __enter__(self) -> Lab:
        """Build the lab (see `start`)."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Tear the lab down; a teardown problem is raised only if the body did not raise."""
        errors = self.close()
        if errors:
            message = "lab teardown incomplete: " + "; ".join(errors)
            if exc is None:
                raise LabError(message)
            exc.add_note(message)

    # -- queries -----------------------------------------------------------------------

    def holders(self, address: str) -> list[Node]:
        """List the nodes (not the gateway) that currently carry an address.

        Args:
            address: Address, usually `vip`.

        Returns:
            Nodes in order ``n1``...``nN``.
        """
        return [n for n in self.nodes if n.has_address(address)]

    def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float = 15.0,
        interval: float = 0.1,
        what: str = "condition",
    ) -> None:
        """Poll a predicate until it is truthy, bounded in time and number of polls.

        Args:
            predicate: Called with no arguments; exceptions propagate.
            timeout: Seconds to wait at most.
            interval: Seconds between polls.
            what: Description for the error message.

        Raises:
            TimeoutError: ``timed out after {timeout}s waiting for {what}``.
        """
        procs.wait_until(predicate, timeout=timeout, interval=interval, what=what)

    def started_pids(self) -> set[int]:
        """Return every pid the lab started or saw in its namespaces.

        Returns:
            Pids of keepalived (main and children), nginx (master and workers), `Node.popen`
            processes and anything currently inside the lab's namespaces.
        """
        pids: set[int] = set()
        for node in self.all_nodes:
            if netns.netns_exists(node.ns):
                node.netns_pids()
            pids |= node.seen_pids()
        return pids

    # -- teardown ----------------------------------------------------------------------

    def close(self) -> list[str]:
        """Stop every lab process and delete the namespaces; safe to call twice.

        Returns:
            Descriptions of what could not be cleaned up (empty when all went well).
        """
        if self._closed:
            return []
        self._closed = True
        return self._teardown()

    def _in_lab(self, pid: int) -> bool:
        """Tell whether a process lives in one of this lab's namespaces."""
        return netns.pid_netns_inode(pid) in self._inodes.values()

    def _reap(self) -> None:
        for node in self.all_nodes:
            node.reap()

    def _candidates(self) -> set[int]:
        """Collect pids to stop: our children, pid files, and every pid in our namespaces.

        Pids from pid files are only kept when the process is in a lab namespace, so a pid
        reused by an unrelated process since is never signalled.
        """
        self._reap()
        pids: set[int] = set()
        for node in self.all_nodes:
            pids |= {p.pid for p in node.children() if p.returncode is None}
            for path in (
                node.keepalived_pidfile,
                node.vrrp_pidfile,
                node.checker_pidfile,
                node.nginx_pidfile,
            ):
                pid = procs.read_pidfile(path)
                if pid is not None and self._in_lab(pid):
                    pids.add(pid)
        for inode in self._inodes.values():
            pids |= set(netns.pids_in_netns(inode))
        return pids

    def _may_signal(self, pid: int) -> bool:
        """Only signal our own children or processes inside our namespaces."""
        if self._in_lab(pid):
            return True
        return any(
            p.pid == pid and p.poll() is None for node in self.all_nodes for p in node.children()
        )

    def _teardown(self) -> list[str]:
        """Kill processes (TERM, then KILL), delete namespaces and stray veths."""
        errors: list[str] = []
        # Several rounds because a dying keepalived may still fork a notify script; bounded.
        for _ in range(3):
            try:
                candidates = self._candidates()
                if not candidates:
                    break
                left = procs.terminate(
                    candidates, may_signal=self._may_signal, reap=self._reap, grace=5.0
                )
            except Exception as exc:  # keep going: namespaces must still be deleted
                errors.append(f"stopping processes: {exc}")
                continue
            if left:
                errors.append(f"processes survived SIGKILL: {left}")
        for node in self.all_nodes:
            for proc in node.children():
                try:
                    # Already signalled above; waiting here also silences Popen's
                    # "still running" ResourceWarning.
                    proc.wait(timeout=5.0)
                except Exception as exc:
                    errors.append(f"{node.name}: child {proc.pid} not reaped: {exc}")
        for name in reversed(self._created_ns):
            try:
                netns.delete_netns(name)
            except Exception as exc:
                errors.append(f"deleting namespace {name}: {exc}")
        for link in self._temp_links:
            try:
                netns.delete_link(link)
            except Exception as exc:
                errors.append(f"deleting veth {link}: {exc}")
        return errors
