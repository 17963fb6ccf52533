"""Split brain: another host answers ARP or Neighbor Discovery for a virtual address held here.

Two keepalived nodes that stop hearing each other's adverts (a firewall dropping IP protocol
112 is the classic cause) both become MASTER and both hold the VIP. VRRP itself cannot notice:
the adverts are what is missing. ARP and Neighbor Discovery usually still pass, so a node that
holds a VIP probes for it (:mod:`kakit.vrrp.probe`: an ARP probe for IPv4, a Duplicate Address
Detection solicitation for IPv6); any answer comes from another holder.

:func:`detect` is one round: which virtual addresses this node holds (keepalived.conf's
``virtual_ipaddress`` entries, IPv4 and IPv6, or the ``vips`` given), probes for each on the
interface that carries it, and the peers' own IPv4 addresses in the same round so that an
answering MAC can be named. A peer's IPv6 address is not probed: a DAD solicitation that
reaches a host while it is itself running DAD for that address (after a reboot or a link flap)
makes it give the address up. :class:`Tracker` turns rounds into the ``split_brain`` / ``split_brain_over`` events
(:data:`kakit.core.events.SPLIT_BRAIN_EVENTS`): a split starts at the first answer and ends
when this node no longer holds the address, or after ``clear_after`` rounds without one (a
single lost reply must not end it and start it again).

Two places run it: the ``split-brain`` check type (:mod:`kakit.checks.splitbrain`, under
keepalived or ``kacheck --watch``) and the FIFO reader's periodic task (:func:`watch`, when
``fifo.split_brain`` is set).
"""

from __future__ import annotations

from kakit.core.converters import (
    Node,
    duration,
    integer,
    ip_address,
    list_of,
    optional_path,
    string_map,
)
from kakit.core.record import frozen, option

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from kakit.config.schema import Config
    from kakit.vrrp.probe import ProbeResult


def _peers(node: Node) -> dict[str, str]:
    """``{name: address}``, each address an IP address."""
    names = string_map(node)
    for name, value in names.items():
        ip_address(Node(value, node.file, node.line, f"{node.path}.{name}"))
    return names


@frozen
class SplitBrainProbe:
    """How a node looks for another holder of its virtual addresses.

    Attributes:
        vips: The addresses to watch, IPv4 or IPv6; empty: every ``virtual_ipaddress`` of
            keepalived's configuration.
        keepalived_config: keepalived's configuration, read when ``vips`` is empty (default:
            the ``keepalived.config`` of kakit.yaml).
        peers: The other nodes by name, ``{n2: 10.0.0.2}``: their IPv4 addresses are probed
            too, so an answering MAC address is named in the alert.
        count: Probes per address per round.
        wait: Seconds a round listens for answers.
        clear_after: Rounds without an answer that end a split (while the node still holds
            the address).
    """

    vips: tuple[str, ...] = option(list_of(ip_address), default=())
    keepalived_config: str | None = option(optional_path, default=None)
    peers: dict[str, str] = option(_peers, default={})
    count: int = option(integer(1, 10), default=2)
    wait: float = option(duration(high=5.0), default=0.3)
    clear_after: int = option(integer(1, 100), default=3)


@frozen
class SplitBrainWatch(SplitBrainProbe):
    """The FIFO reader's split-brain task (``fifo.split_brain``): alerts, never acts.

    Attributes:
        interval: Seconds between two rounds.
    """

    interval: float = option(duration(low=0.5, high=3600.0), default=2.0)


class Duplicate:
    """Another holder of one of this node's addresses.

    Attributes:
        vip: The address.
        interface: Where this node holds it.
        our_mac: This node's MAC address there.
        their_macs: The MAC addresses that answered for it.
        their_names: For each, the peer's name (or IP address) where known, else "".
    """

    __slots__ = ("interface", "our_mac", "their_macs", "their_names", "vip")

    def __init__(
        self,
        vip: str,
        interface: str,
        our_mac: str,
        their_macs: tuple[str, ...],
        their_names: tuple[str, ...],
    ) -> None:
        self.vip = vip
        self.interface = interface
        self.our_mac = our_mac
        self.their_macs = their_macs
        self.their_names = their_names

    def describe(self, node: str) -> str:
        """``10.0.0.100 on eth0: also answered by 02:..:02 (n2); this node n1 is 02:..:01``."""
        others = ", ".join(
            f"{mac} ({name})" if name else mac
            for mac, name in zip(self.their_macs, self.their_names, strict=True)
        )
        return (
            f"{self.vip} on {self.interface}: also answered by {others}; "
            f"this node {node} is {self.our_mac}"
        )


class Detection:
    """One round's outcome.

    Attributes:
        held: The watched addresses this node holds, with their interfaces.
        duplicates: The held addresses another host also answers for.
    """

    __slots__ = ("duplicates", "held")

    def __init__(self, held: dict[str, str], duplicates: list[Duplicate]) -> None:
        self.held = held
        self.duplicates = duplicates


def watched(settings: SplitBrainProbe, keepalived_config: str | None = None) -> list[str]:
    """The addresses to watch: ``vips``, else keepalived.conf's (in file order), as the kernel
    writes them.

    Args:
        settings: The probe's settings.
        keepalived_config: keepalived's configuration when the settings name none (default:
            keepalived's own default path).
    """
    from kakit.vrrp.probe import normal

    if settings.vips:
        return list(dict.fromkeys(normal(vip) for vip in settings.vips))
    from kakit.exceptions import CheckError
    from kakit.keepalived.conf import DEFAULT_PATH, load, vrrp_instances

    path = settings.keepalived_config or keepalived_config or DEFAULT_PATH
    document = load(path)
    if path not in document.files:
        # Watching nothing would look healthy forever: say why there is nothing to watch.
        why = "; ".join(p.message for p in document.problems) or f"{path} not read"
        raise CheckError(f"no vips given and keepalived's configuration unreadable: {why}")
    found: dict[str, None] = {}
    for instance in vrrp_instances(document).values():
        for address in instance.addresses:
            found[normal(address.split("/")[0])] = None
    return list(found)


def own_macs() -> set[str]:
    """The hardware addresses of this node's interfaces (none known if netlink fails)."""
    from kakit.core import netlink

    try:
        return netlink.hardware_addresses()
    except OSError:
        return set()


def detect(
    settings: SplitBrainProbe,
    *,
    keepalived_config: str | None = None,
    addresses: Callable[[], dict[str, str]] | None = None,
    prober: Callable[..., ProbeResult] | None = None,
) -> Detection:
    """Probe, once, for every watched address this node holds.

    Args:
        settings: What to watch and how long to listen.
        keepalived_config: keepalived's configuration when the settings name none.
        addresses: This node's addresses with their interfaces (default: the kernel's).
        prober: :func:`kakit.vrrp.probe.probe` (tests pass a fake).

    Raises:
        CheckError: The addresses cannot be listed or the probe cannot be sent.
    """
    from kakit.vrrp import probe

    mine = (addresses or probe.local_addresses)()
    held = {vip: mine[vip] for vip in watched(settings, keepalived_config) if vip in mine}
    if not held:
        return Detection(held, [])
    from kakit.vrrp import arp

    run_probe = prober or probe.probe
    peers_by_address = {probe.normal(address): name for name, address in settings.peers.items()}
    # Only IPv4 peer addresses are asked (module docstring: DAD for a peer's IPv6 address).
    asked = [address for address in peers_by_address if ":" not in address]
    duplicates: list[Duplicate] = []
    by_interface: dict[str, list[str]] = {}
    for vip, interface in held.items():
        by_interface.setdefault(interface, []).append(vip)
    for interface, vips in by_interface.items():
        targets = vips + [a for a in asked if a not in mine and a not in vips]
        result = run_probe(interface, targets, count=settings.count, wait=settings.wait)
        if result.answers:
            # This host answers for its own addresses on every interface (arp_ignore=0), so
            # a second interface on the same segment would look like another holder.
            own = own_macs()
            result.answers = {
                address: kept
                for address, macs in result.answers.items()
                if (kept := tuple(mac for mac in macs if mac not in own))
            }
        names: dict[str, str] = {}
        for address, macs in result.answers.items():
            for mac in macs:
                if address in peers_by_address:
                    names.setdefault(mac, peers_by_address[address])
        cache: dict[str, str] | None = None
        for vip in vips:
            macs = result.answers.get(vip, ())
            if not macs:
                continue
            labels = []
            for mac in macs:
                label = names.get(mac, "")
                if not label:
                    # Not a configured peer: the kernel's ARP cache may know its own address.
                    cache = arp.neighbours() if cache is None else cache
                    known = cache.get(mac, "")
                    label = peers_by_address.get(known, known) if known != vip else ""
                labels.append(label)
            duplicates.append(Duplicate(vip, interface, result.mac, macs, tuple(labels)))
    return Detection(held, duplicates)


class Tracker:
    """Rounds in, events out: when a split starts and when it ends, once each.

    Its memory is a plain dict (:attr:`memory`) so that the check keeps it in its state file
    between runs. Keys: ``split`` (the addresses in a split, each with the cause line), and
    ``quiet`` (rounds without an answer so far, per address).
    """

    def __init__(self, memory: dict[str, object], clear_after: int) -> None:
        self.memory = memory
        self.clear_after = clear_after

    @property
    def split(self) -> dict[str, str]:
        """The addresses in a split now, each with what was seen."""
        value = self.memory.get("split")
        return dict(value) if isinstance(value, dict) else {}

    def update(self, detection: Detection, node: str) -> tuple[list[str], str]:
        """Take one round; returns the events it makes and the cause line for them."""
        before = self.split
        quiet_value = self.memory.get("quiet")
        quiet: dict[str, int] = dict(quiet_value) if isinstance(quiet_value, dict) else {}
        now = dict(before)
        seen = {duplicate.vip: duplicate.describe(node) for duplicate in detection.duplicates}
        started = [vip for vip in seen if vip not in before]
        ended = []
        for vip in before:
            if vip in seen:
                quiet.pop(vip, None)
            elif vip not in detection.held:
                ended.append(vip)  # no longer ours: this node's side of the split is over
            else:
                quiet[vip] = quiet.get(vip, 0) + 1
                if quiet[vip] >= self.clear_after:
                    ended.append(vip)
        now.update(seen)
        for vip in ended:
            now.pop(vip, None)
            quiet.pop(vip, None)
        self.memory["split"] = now
        self.memory["quiet"] = quiet
        events: list[str] = []
        cause = ""
        if started:
            events.append("split_brain")
            cause = "split brain: " + "; ".join(seen[vip] for vip in started)
        elif ended:
            events.append("split_brain_over")
            held = ", ".join(
                f"{vip} ({'still held, no other answer' if vip in detection.held else 'no longer held here'})"
                for vip in ended
            )
            cause = f"split brain over: {held}"
        return events, cause


def summary(detection: Detection, tracker: Tracker, node: str) -> str:
    """One line for the log and the check's verdict."""
    if tracker.split:
        return "split brain: " + "; ".join(tracker.split.values())
    if not detection.held:
        return "holds no watched virtual address"
    return f"no other host answers for {', '.join(detection.held)}"


ALERT_NAME = "split-brain"
"""The name the FIFO reader's split-brain alerts carry (``alerts`` rules may select it with
``checks: [split-brain]``)."""


def queue(config: Config, name: str, events: list[str], cause: str) -> bool:
    """Store a split-brain alert in the outbox; True when one was stored.

    Raises:
        StateError: The outbox cannot be written.
    """
    channels = config.channels_for_check(tuple(events), name)
    if not channels or not events:
        return False
    from kakit.alerts.outbox import queue_event

    queue_event(config, name, tuple(events), cause, channels)
    return True


async def watch(
    config: Config, settings: SplitBrainWatch, wake: Callable[[], None], stop: asyncio.Event
) -> None:
    """The FIFO reader's task: a round every ``interval`` seconds, alerts on each change."""
    import asyncio

    from kakit.core.log import logger
    from kakit.exceptions import KakitError

    node = config.node_name()
    tracker = Tracker({}, settings.clear_after)
    complained = ""
    conf = config.keepalived.config
    try:
        addresses = watched(settings, conf)
    except KakitError as exc:
        logger.error(f"split-brain watch: {exc}: not watching")
        return
    if not addresses:
        logger.error(
            f"split-brain watch: no virtual address to watch (fifo.split_brain.vips is "
            f"empty and {settings.keepalived_config or conf} names none): not watching"
        )
        return
    logger.info(f"split-brain watch: probing for {', '.join(addresses)} while held")
    while not stop.is_set():
        try:
            detection = await asyncio.to_thread(detect, settings, keepalived_config=conf)
            events, cause = tracker.update(detection, node)
            complained = ""
            if events:
                log = logger.error if "split_brain" in events else logger.warning
                log(cause)
                if await asyncio.to_thread(queue, config, ALERT_NAME, events, cause):
                    wake()
        except KakitError as exc:
            if str(exc) != complained:  # once per distinct problem, not every round
                logger.error(f"split-brain watch: {exc}")
                complained = str(exc)
        try:
            await asyncio.wait_for(stop.wait(), settings.interval)
        except TimeoutError:
            pass
