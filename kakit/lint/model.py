"""What the lint rules read: one node's keepalived.conf as typed records, each with its location.

The reader (:mod:`kakit.keepalived.conf`) gives a tree of words; this module gives the part of
keepalived's meaning the rules need, with keepalived 2.2.7's defaults filled in (docs/lint.md,
"Defaults the rules assume"). Values that do not parse are kept as written (``None`` for a
number), never raised: a rule that needs the number skips what it cannot read, and keepalived
-t is the judge of syntax.
"""

from __future__ import annotations

import ipaddress

from kakit.core.record import frozen
from kakit.keepalived.conf import Document, Item

#: Keywords whose value is a program keepalived runs, in an instance or a sync group.
NOTIFY_KEYWORDS = (
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
)
#: global_defs keywords naming a program (the FIFO scripts).
GLOBAL_PROGRAM_KEYWORDS = (
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
    "lvs_notify_fifo_script",
)
#: real_server keywords naming a program.
REAL_SERVER_PROGRAM_KEYWORDS = ("notify_up", "notify_down")


def number(text: str | None) -> int | None:
    """``text`` as an integer, or None when it is not one."""
    if text is None:
        return None
    try:
        return int(text, 10)
    except ValueError:
        return None


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of ``10.0.0.1/24`` or ``10.0.0.1``; None when it is not an address."""
    try:
        return ipaddress.ip_address(text.split("/", 1)[0])
    except ValueError:
        return None


def network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network of ``10.0.0.1/24`` (``/32`` or ``/128`` without a prefix); None if invalid."""
    try:
        return ipaddress.ip_interface(text).network
    except ValueError:
        return None


@frozen
class Tracker:
    """One thing an instance tracks, with the weight that applies to it.

    Attributes:
        kind: ``script``, ``file``, ``interface`` or ``bfd``.
        name: The script, track_file, interface or BFD instance name.
        weight: The weight in effect (the instance's override, else the tracked thing's own).
        reverse: ``reverse`` given (the adjustment's direction is flipped).
        item: Where the instance names it.
    """

    kind: str
    name: str
    weight: int
    reverse: bool
    item: Item


@frozen
class VirtualAddress:
    """One ``virtual_ipaddress`` entry: as written and where."""

    text: str
    item: Item


@frozen
class Instance:
    """A ``vrrp_instance`` with keepalived's defaults applied where a rule needs them.

    Attributes:
        name: The instance name.
        item: The ``vrrp_instance`` statement.
        state: ``MASTER``, ``BACKUP`` or "" when not given.
        priority: The configured priority (keepalived's default 100), None when unreadable.
        vrid: ``virtual_router_id`` as written ("" when absent).
        interface: Its ``interface`` ("" when absent).
        advert_int: ``advert_int`` as written ("1" by default).
        version: VRRP version (the instance's ``version``, else ``vrrp_version``, else "2").
        auth_type: ``PASS``, ``AH`` or "" (no authentication).
        auth_pass: As written ("" when absent).
        vips: ``virtual_ipaddress`` entries (the excluded ones are not advertised).
        excluded: ``virtual_ipaddress_excluded`` entries.
        unicast_src: ``unicast_src_ip`` or ``mcast_src_ip`` ("" when absent).
        unicast_peers: ``unicast_peer`` addresses.
        nopreempt: ``nopreempt`` given.
        accept: ``accept`` given (``no_accept`` clears it).
        trackers: What it tracks (scripts, files, interfaces, BFD), weights resolved.
        in_sync_group: The sync group it belongs to ("" when none); its weights count as 0
            unless the group sets ``sync_group_tracking_weight``.
        strict: Strict mode: its ``strict_mode``, else global ``vrrp_strict``.
        mcast_dst: ``mcast_dst_ip`` ("" for the default group).
    """

    name: str
    item: Item
    state: str
    priority: int | None
    vrid: str
    interface: str
    advert_int: str
    version: str
    auth_type: str
    auth_pass: str
    vips: tuple[VirtualAddress, ...]
    excluded: tuple[VirtualAddress, ...]
    unicast_src: str
    unicast_peers: tuple[VirtualAddress, ...]
    nopreempt: bool
    accept: bool
    trackers: tuple[Tracker, ...]
    in_sync_group: str
    strict: bool
    mcast_dst: str

    def first(self, keyword: str) -> Item | None:
        """The instance's first ``keyword`` statement, or None."""
        found = self.item.children(keyword)
        return found[0] if found else None


@frozen
class Script:
    """A ``vrrp_script``: its command line, weight and timing.

    Attributes:
        name: The script name.
        item: The ``vrrp_script`` statement.
        argv: The ``script`` value split on blanks (keepalived's own splitting); () if absent.
        argv_item: The ``script`` statement (or the vrrp_script's when absent).
        weight: ``weight`` (keepalived's default 0), and whether ``reverse`` follows it.
        reverse: ``reverse`` given after the weight.
        interval: ``interval`` in seconds (default 1), None when unreadable.
        timeout: ``timeout`` in seconds (default: the interval), None when unreadable.
        user: ``user`` ("" when absent: the global script user).
    """

    name: str
    item: Item
    argv: tuple[str, ...]
    argv_item: Item
    weight: int
    reverse: bool
    interval: int | None
    timeout: int | None
    user: str


@frozen
class RealServer:
    """A ``real_server`` of a virtual server."""

    address: str
    port: str
    item: Item


@frozen
class VirtualServer:
    """A ``virtual_server ADDRESS PORT`` (fwmark and group ones have ``address`` "")."""

    address: str
    port: str
    lb_kind: str
    item: Item
    real_servers: tuple[RealServer, ...]


@frozen
class Program:
    """A program keepalived runs: the words of its statement, and which statement."""

    argv: tuple[str, ...]
    item: Item
    what: str


@frozen
class Node:
    """One node's configuration, read.

    Attributes:
        path: The file given on the command line.
        document: The statement tree.
        strict: ``vrrp_strict`` in global_defs.
        script_security: ``enable_script_security`` in global_defs.
        script_user: ``script_user`` ("" when absent).
        global_defs: The (first) global_defs statement, or None.
        instances: Every named vrrp_instance, in file order.
        scripts: Every named vrrp_script, by name.
        track_files: Every track_file's (file path, weight, reverse), by name.
        virtual_servers: Every virtual_server.
        programs: Every program named in the file (scripts, notify, FIFO scripts, checks).
    """

    path: str
    document: Document
    strict: bool
    script_security: bool
    script_user: str
    global_defs: Item | None
    instances: tuple[Instance, ...]
    scripts: dict[str, Script]
    track_files: dict[str, tuple[str, int, bool]]
    virtual_servers: tuple[VirtualServer, ...]
    programs: tuple[Program, ...]

    @property
    def source_addresses(self) -> dict[str, Item]:
        """This node's own addresses the file names (``unicast_src_ip``/``mcast_src_ip``)."""
        found: dict[str, Item] = {}
        for instance in self.instances:
            for key in ("unicast_src_ip", "mcast_src_ip"):
                for item in instance.item.children(key):
                    if item.args:
                        found.setdefault(item.args[0], item)
        return found

    def where(self) -> tuple[str, int]:
        """``(file, line)`` to report a whole-file finding at: global_defs, else line 1."""
        if self.global_defs is not None:
            return self.global_defs.file, self.global_defs.line
        return self.path, 1


def _weight(words: tuple[str, ...], default: int) -> tuple[int, bool]:
    """``weight W [reverse]`` somewhere in ``words``: (W, reverse); the default when absent."""
    if "weight" in words:
        index = words.index("weight")
        value = number(words[index + 1] if index + 1 < len(words) else None)
        reverse = "reverse" in words[index + 2 :]
        return (default if value is None else value), reverse
    return default, False


def _value(item: Item, keyword: str, default: str = "") -> str:
    for child in item.children(keyword):
        if child.args:
            return child.args[0]
    return default


def _script(item: Item) -> Script:
    argv: tuple[str, ...] = ()
    argv_item = item
    for child in item.children("script"):
        # keepalived splits the (quoted) value on blanks itself; single quotes group words.
        argv = tuple(" ".join(child.args).split())
        argv_item = child
    weight_item = item.children("weight")
    weight, reverse = _weight(weight_item[0].words, 0) if weight_item else (0, False)
    interval = number(_value(item, "interval", "1"))
    timeout_text = _value(item, "timeout")
    timeout = number(timeout_text) if timeout_text else interval
    return Script(
        name=item.args[0],
        item=item,
        argv=argv,
        argv_item=argv_item,
        weight=weight,
        reverse=reverse,
        interval=interval,
        timeout=timeout,
        user=_value(item, "user"),
    )


def _strict(item: Item, default: bool) -> bool:
    """The instance's ``strict_mode [on|off|...]`` (alone: on), else the global default."""
    for child in item.children("strict_mode"):
        return not child.args or child.args[0].lower() in ("on", "true", "yes")
    return default


def _entries(item: Item, keyword: str) -> list[Item]:
    return [entry for block in item.children(keyword) for entry in block.children()]


def _trackers(
    item: Item,
    scripts: dict[str, Script],
    files: dict[str, tuple[str, int, bool]],
    bfd: dict[str, int],
) -> tuple[Tracker, ...]:
    found = []
    for entry in _entries(item, "track_script"):
        script = scripts.get(entry.keyword)
        weight, reverse = _weight(entry.words, script.weight if script else 0)
        if script is not None and "weight" not in entry.words:
            reverse = script.reverse
        found.append(
            Tracker(kind="script", name=entry.keyword, weight=weight, reverse=reverse, item=entry)
        )
    for entry in _entries(item, "track_file"):
        own = files.get(entry.keyword, ("", 1, False))
        weight, reverse = _weight(entry.words, own[1])
        if "weight" not in entry.words:
            reverse = own[2]
        found.append(
            Tracker(kind="file", name=entry.keyword, weight=weight, reverse=reverse, item=entry)
        )
    for entry in _entries(item, "track_interface"):
        weight, reverse = _weight(entry.words, 0)
        found.append(
            Tracker(
                kind="interface", name=entry.keyword, weight=weight, reverse=reverse, item=entry
            )
        )
    for entry in _entries(item, "track_bfd"):
        weight, reverse = _weight(entry.words, bfd.get(entry.keyword, 0))
        found.append(
            Tracker(kind="bfd", name=entry.keyword, weight=weight, reverse=reverse, item=entry)
        )
    return tuple(found)


def _programs(document: Document, scripts: dict[str, Script]) -> list[Program]:
    found = [
        Program(argv=script.argv, item=script.argv_item, what=f"vrrp_script {name}")
        for name, script in scripts.items()
        if script.argv
    ]
    owners = [*document.find("vrrp_instance"), *document.find("vrrp_sync_group")]
    for owner in owners:
        for keyword in NOTIFY_KEYWORDS:
            for child in owner.children(keyword):
                if child.args:
                    argv = tuple(" ".join(child.args).split())
                    found.append(
                        Program(
                            argv=argv,
                            item=child,
                            what=f"{keyword} of {owner.args[0] if owner.args else owner.keyword}",
                        )
                    )
    for defs in document.find("global_defs"):
        for keyword in GLOBAL_PROGRAM_KEYWORDS:
            for child in defs.children(keyword):
                if child.args:
                    found.append(
                        Program(argv=tuple(" ".join(child.args).split()), item=child, what=keyword)
                    )
    for server in document.find("virtual_server"):
        for real in server.children("real_server"):
            for keyword in REAL_SERVER_PROGRAM_KEYWORDS:
                for child in real.children(keyword):
                    if child.args:
                        found.append(
                            Program(
                                argv=tuple(" ".join(child.args).split()), item=child, what=keyword
                            )
                        )
            for check in real.children("MISC_CHECK"):
                for child in check.children("misc_path"):
                    if child.args:
                        found.append(
                            Program(
                                argv=tuple(" ".join(child.args).split()),
                                item=child,
                                what="MISC_CHECK misc_path",
                            )
                        )
    return found


def read_node(path: str, document: Document) -> Node:
    """The records of one read configuration.

    Args:
        path: The file given on the command line (whole-file findings are reported there).
        document: What :func:`kakit.keepalived.conf.load` read from it.
    """
    defs = document.find("global_defs")
    global_words = {child.keyword for item in defs for child in item.children()}
    global_version = next(
        (child.args[0] for item in defs for child in item.children("vrrp_version") if child.args),
        "2",
    )
    scripts: dict[str, Script] = {}
    for item in document.find("vrrp_script"):
        if item.args and item.args[0] not in scripts and item.block is not None:
            scripts[item.args[0]] = _script(item)
    files: dict[str, tuple[str, int, bool]] = {}
    for keyword in ("track_file", "vrrp_track_file"):
        for item in document.find(keyword):
            if item.args and item.block is not None and item.args[0] not in files:
                weights = item.children("weight")
                weight, reverse = _weight(weights[0].words, 1) if weights else (1, False)
                files[item.args[0]] = (_value(item, "file"), weight, reverse)
    bfd: dict[str, int] = {}
    for item in document.find("bfd_instance"):
        if item.args and item.block is not None:
            weights = item.children("weight")
            bfd[item.args[0]] = _weight(weights[0].words, 0)[0] if weights else 0
    groups: dict[str, str] = {}
    for group in document.find("vrrp_sync_group"):
        if not group.args or group.children("sync_group_tracking_weight"):
            continue
        for entry in _entries(group, "group"):
            groups.setdefault(entry.keyword, group.args[0])
    instances = []
    seen: set[str] = set()
    for item in document.find("vrrp_instance"):
        if not item.args or item.args[0] in seen or item.block is None:
            continue
        seen.add(item.args[0])
        auth = item.children("authentication")
        peers = [
            VirtualAddress(text=entry.keyword, item=entry)
            for entry in _entries(item, "unicast_peer")
        ]
        instances.append(
            Instance(
                name=item.args[0],
                item=item,
                state=_value(item, "state").upper(),
                priority=number(_value(item, "priority", "100")),
                vrid=_value(item, "virtual_router_id"),
                interface=_value(item, "interface"),
                advert_int=_value(item, "advert_int", "1"),
                version=_value(item, "version", global_version),
                auth_type=_value(auth[0], "auth_type").upper() if auth else "",
                auth_pass=_value(auth[0], "auth_pass") if auth else "",
                vips=tuple(
                    VirtualAddress(text=entry.keyword, item=entry)
                    for entry in _entries(item, "virtual_ipaddress")
                ),
                excluded=tuple(
                    VirtualAddress(text=entry.keyword, item=entry)
                    for entry in _entries(item, "virtual_ipaddress_excluded")
                ),
                unicast_src=_value(item, "unicast_src_ip") or _value(item, "mcast_src_ip"),
                unicast_peers=tuple(peers),
                nopreempt=bool(item.children("nopreempt")),
                accept=bool(item.children("accept")) and not item.children("no_accept"),
                trackers=_trackers(item, scripts, files, bfd),
                in_sync_group=groups.get(item.args[0], ""),
                strict=_strict(item, "vrrp_strict" in global_words),
                mcast_dst=_value(item, "mcast_dst_ip"),
            )
        )
    servers = []
    for item in document.find("virtual_server"):
        if not item.args or item.block is None:
            continue
        is_address = address(item.args[0]) is not None
        servers.append(
            VirtualServer(
                address=item.args[0] if is_address else "",
                port=item.args[1] if is_address and len(item.args) > 1 else "",
                lb_kind=_value(item, "lb_kind").upper(),
                item=item,
                real_servers=tuple(
                    RealServer(
                        address=real.args[0] if real.args else "",
                        port=real.args[1] if len(real.args) > 1 else "",
                        item=real,
                    )
                    for real in item.children("real_server")
                ),
            )
        )
    return Node(
        path=path,
        document=document,
        strict="vrrp_strict" in global_words,
        script_security="enable_script_security" in global_words,
        script_user=next(
            (c.args[0] for item in defs for c in item.children("script_user") if c.args), ""
        ),
        global_defs=defs[0] if defs else None,
        instances=tuple(instances),
        scripts=scripts,
        track_files=files,
        virtual_servers=tuple(servers),
        programs=tuple(_programs(document, scripts)),
    )
