"""Process lookups straight from /proc.

psutil would do, but importing it costs about 50 ms and ``process_iter`` builds an object per
process; kacheck only needs names, parents and liveness (docs/architecture.md,
"Processes and containers").

Lab nodes (and containers) share the PID namespace but not the network namespace, so a process
belongs to "this node" only when its ``/proc/PID/ns/net`` matches ours: otherwise node n1 would
see node n2's nginx as its own.
"""

from __future__ import annotations

import os

from kakit.core.record import frozen

PROC = "/proc"


@frozen
class ProcessInfo:
    """What kacheck knows about one process (``state`` is the one-letter code of ``stat``;
    ``pgrp`` and ``session`` are the pids of its process group and session leaders)."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int = 0
    session: int = 0


def read_stat(pid: int) -> ProcessInfo | None:
    """Parse ``/proc/PID/stat``; None when the process is gone."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # comm sits between the first "(" and the last ")" and may itself contain both.
    open_at = raw.find(b"(")
    close_at = raw.rfind(b")")
    if open_at < 0 or close_at < 0:
        return None
    comm = raw[open_at + 1 : close_at].decode(errors="replace")
    rest = raw[close_at + 2 :].split()
    if len(rest) < 4:
        return None
    return ProcessInfo(
        pid=pid,
        comm=comm,
        state=rest[0].decode(),
        ppid=int(rest[1]),
        pgrp=int(rest[2]),
        session=int(rest[3]),
    )


def netns_of(pid: int | str) -> str | None:
    """The network namespace identity (``net:[4026531840]``), None if unreadable."""
    try:
        return os.readlink(f"{PROC}/{pid}/ns/net")
    except OSError:
        return None


_own_netns: str | None = None


def own_netns() -> str | None:
    """This process's network namespace identity (cached)."""
    global _own_netns
    if _own_netns is None:
        _own_netns = netns_of("self")
    return _own_netns


def is_alive(info: ProcessInfo | None) -> bool:
    """True for a process that exists and is not a zombie or dead."""
    return info is not None and info.state not in ("Z", "X", "x")


def matches_name(info: ProcessInfo, name: str) -> bool:
    """Whether the process is ``name``: the kernel keeps only 15 characters of comm."""
    return info.comm == name[:15]


def pids() -> list[int]:
    """Every process id currently in /proc."""
    return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]


def find_by_name(name: str, *, same_netns: bool = True) -> list[ProcessInfo]:
    """Live processes called ``name``, limited to our network namespace by default."""
    wanted = name[:15]
    mine = own_netns() if same_netns else None
    found = []
    for pid in pids():
        try:
            with open(f"{PROC}/{pid}/comm", "rb") as handle:
                comm = handle.read().rstrip(b"\n").decode(errors="replace")
        except OSError:
            continue
        if comm != wanted:
            continue
        info = read_stat(pid)
        if not is_alive(info) or info is None:
            continue
        if mine is not None and netns_of(pid) != mine:
            continue
        found.append(info)
    return found


def masters(processes: list[ProcessInfo]) -> list[ProcessInfo]:
    """The processes whose parent is not in the list: nginx/apache2 masters, not workers.

    Orphans (see :func:`is_orphan`) are left out: their parent is gone, but they are workers.
    """
    members = {info.pid for info in processes}
    return [info for info in processes if info.ppid not in members and not is_orphan(info)]


def is_orphan(info: ProcessInfo) -> bool:
    """Whether ``info`` is a worker whose master died: its process group and session leaders
    are both gone.

    A daemon's master leads its own session and process group (it calls ``setsid``; service
    managers start it in a new session) and its workers share both. When the master is killed,
    the workers are re-parented to pid 1 or a subreaper, which makes them look like masters by
    their parent; their group and session still name the dead master (docs/architecture.md,
    "Processes and containers"). Both must be gone: a foreground master left behind by a shell
    that exited (``nohup``) has lost its session leader but leads its own process group.
    """
    for leader in (info.pgrp, info.session):
        if leader in (0, info.pid) or is_alive(read_stat(leader)):
            return False
    return True


def read_pidfile(path: str) -> int | None:
    """The pid stored in ``path``, or None if missing, empty or not a number."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(64).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_cmdline(pid: int, limit: int = 200) -> str:
    """The process's command line, words joined by spaces, printable, at most ``limit``
    characters ("" when gone or a kernel thread)."""
    try:
        with open(f"{PROC}/{pid}/cmdline", "rb") as handle:
            raw = handle.read(4096)
    except OSError:
        return ""
    from kakit.core.log import printable

    text = printable(raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="surrogateescape"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_cgroups(pid: int) -> list[str]:
    """The cgroup paths of ``/proc/PID/cgroup`` (empty when gone)."""
    try:
        with open(f"{PROC}/{pid}/cgroup", "rb") as handle:
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return [line.split(":", 2)[2] for line in lines if line.count(":") >= 2]


def ancestors(pid: int, limit: int = 64) -> list[ProcessInfo]:
    """The chain of parents of ``pid``, nearest first (bounded, stops at pid 1)."""
    chain: list[ProcessInfo] = []
    current = read_stat(pid)
    while current is not None and current.ppid > 0 and len(chain) < limit:
        parent = read_stat(current.ppid)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return chain
