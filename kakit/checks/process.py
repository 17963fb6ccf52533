"""``process``: a named process runs in this node's network namespace.

The pid file is tried first (a single ``/proc/PID/stat`` read); when it is missing or stale the
process table is scanned. Only processes in our network namespace count: lab nodes and
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
    """

    def __init__(self, name: str, pidfile: str | None) -> None:
        self.name = name
        self.pidfile = pidfile
        self._cached: int | None = None

    def _valid(self, pid: int | None) -> bool:
        if pid is None:
            return False
        info = procfs.read_stat(pid)
        if not procfs.is_alive(info) or info is None or not procfs.matches_name(info, self.name):
            return False
        return procfs.netns_of(pid) == procfs.own_netns()

    def masters(self, minimum: int = 1) -> list[int]:
        """Pids of live masters in our namespace (possibly fewer than ``minimum``)."""
        if minimum == 1:
            if self._valid(self._cached):
                assert self._cached is not None
                return [self._cached]
            from_file = procfs.read_pidfile(self.pidfile) if self.pidfile else None
            if self._valid(from_file):
                self._cached = from_file
                return [from_file] if from_file is not None else []
        found = [info.pid for info in procfs.masters(procfs.find_by_name(self.name))]
        self._cached = found[0] if found else None
        return found


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
            return CheckResult(
                ok=False, summary=f"no {self.options.name} process in this network namespace"
            )
        return CheckResult(
            ok=False,
            summary=f"{len(found)} {self.options.name} master process(es), need {self.options.min}",
        )

    def describe(self) -> str:
        """``process nginx``."""
        return f"process {self.options.name}"
