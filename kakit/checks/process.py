"""``process``: a named process runs in this node's network namespace.

The pid file is tried first (a single ``/proc/PID/stat`` read); when it names a dead process the
master is down (workers it left behind are no master); when it is missing, or names another
namespace's process, the process table is scanned. Only processes in our network namespace count: lab nodes and
containers share the PID namespace (docs/architecture.md, "Processes and containers").
"""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core import procfs
from kakit.core.converters import integer, optional_path, string
from kakit.core.record import frozen, option


@frozen
class ProcessOptions:
    """Settings of a process check.

    Attributes:
        name: Process name as in ``/proc/PID/comm`` (nginx, apache2, haproxy).
        pidfile: The master's pid file, checked first.
        min: How many master processes (not workers) must run.
    """

    name: str = option(string)
    pidfile: str | None = option(optional_path, default=None)
    min: int = option(integer(1, 10000), default=1)


class ProcessFinder:
    """Finds the master processes of one program, remembering the last pid found.

    Watch mode keeps one finder for its lifetime, so a healthy cycle costs one ``stat`` read.

    A pid file naming a dead process means the master is down, even when workers it left
    behind still run (re-parented, they would pass for masters): :attr:`dead_master` then holds
    that pid, and no scan is made. A pid file naming a live process of another network
    namespace is not ours to judge (nodes may share the file), so the scan decides.
    """

    def __init__(self, name: str, pidfile: str | None) -> None:
        self.name = name
        self.pidfile = pidfile
        self.dead_master: int | None = None
        self._cached: int | None = None

    def _valid(self, pid: int | None) -> bool:
        if pid is None:
            return False
        info = procfs.read_stat(pid)
        if not procfs.is_alive(info) or info is None or not procfs.matches_name(info, self.name):
            return False
        return procfs.netns_of(pid) == procfs.own_netns()

    def _gone(self, pid: int) -> bool:
        """The pid file's master is gone: no such process, a zombie, or the pid reused here."""
        info = procfs.read_stat(pid)
        if not procfs.is_alive(info) or info is None:
            return True
        if procfs.matches_name(info, self.name):
            return False
        return procfs.netns_of(pid) == procfs.own_netns()

    def masters(self, minimum: int = 1) -> list[int]:
        """Pids of live masters in our namespace (possibly fewer than ``minimum``)."""
        self.dead_master = None
        if minimum == 1:
            if self._valid(self._cached):
                assert self._cached is not None
                return [self._cached]
            from_file = procfs.read_pidfile(self.pidfile) if self.pidfile else None
            if from_file is not None and self._valid(from_file):
                self._cached = from_file
                return [from_file]
            if from_file is not None and self._gone(from_file):
                self.dead_master = from_file
                self._cached = None
                return []
        found = [info.pid for info in procfs.masters(procfs.find_by_name(self.name))]
        self._cached = found[0] if found else None
        return found

    def orphans(self) -> list[int]:
        """Live processes of this program in our namespace whose master died
        (:func:`kakit.core.procfs.is_orphan`): they may still hold the port a restarted master
        must bind."""
        return [info.pid for info in procfs.find_by_name(self.name) if procfs.is_orphan(info)]

    def why_none(self) -> str:
        """Why :meth:`masters` found none: ``apache2 master pid 4242 (from FILE) is dead``."""
        if self.dead_master is None:
            return f"no {self.name} master process"
        return f"{self.name} master pid {self.dead_master} (from {self.pidfile}) is dead"


class ProcessCheck(Check[ProcessOptions]):
    """Passes while at least ``min`` master processes called ``name`` are alive."""

    type_name = "process"

    def __init__(self, options: ProcessOptions) -> None:
        super().__init__(options)
        self.finder = ProcessFinder(options.name, options.pidfile)

    def run(self, ctx: RunContext) -> CheckResult:
        """Look the process up."""
        found = self.finder.masters(self.options.min)
        if len(found) >= self.options.min:
            pids = ",".join(str(pid) for pid in found[:5])
            return CheckResult(ok=True, summary=f"{self.options.name} running (pid {pids})")
        if not found:
            why = (
                self.finder.why_none()
                if self.finder.dead_master is not None
                else f"no {self.options.name} process in this network namespace"
            )
            return CheckResult(ok=False, summary=why)
        return CheckResult(
            ok=False,
            summary=f"{len(found)} {self.options.name} master process(es), need {self.options.min}",
        )

    def describe(self) -> str:
        """``process nginx``."""
        return f"process {self.options.name}"
