"""``service``: nginx/httpd-style checks with restart-then-escalate.

One run: is the master process alive (and the port open, and the HTTP answer right)? If not,
and the restart budget allows, validate the configuration, restart through ``restart_command``
(else ``systemctl restart`` when systemd runs, else ``service NAME restart``), then wait up to
``restart.wait`` seconds for the service to come back. The attempt is recorded *before* the
restart: keepalived may kill kacheck at its script timeout, and an unrecorded restart would let
the next run restart again (the restart storm of the seed scripts). A failed config test is no
attempt: nothing was restarted, and it would spend the budget an operator needs once the
configuration is fixed.

When the service stays down and the budget is spent, or its configuration fails the test, the
result is final and the runner applies ``on_failure``. A successful restart is a pass: the node
keeps the VIP through a quick blip.
"""

from __future__ import annotations

import os
import time

from kakit.checks import budget
from kakit.checks.base import Check, CheckResult, RunContext
from kakit.checks.http import HttpOptions, http_probe
from kakit.checks.process import ProcessFinder
from kakit.checks.tcp import tcp_connect
from kakit.core.converters import (
    duration,
    integer,
    optional,
    optional_argv,
    optional_path,
    optional_string,
    port,
    record,
    string,
)
from kakit.core.record import frozen, option
from kakit.exceptions import CheckError

SYSTEMD_MARKER = "/run/systemd/system"
POLL_INTERVAL = 0.1
ORPHAN_GRACE = 1.0
"""Seconds orphaned workers get after SIGTERM (and after SIGKILL) before the restart goes on."""
CONFIG_TEST_LINES = 3
"""Lines of a failed config test's output kept: the first rarely says what is wrong."""


@frozen
class RestartPolicy:
    """The restart budget (monit's ``if N restarts within M cycles``, in seconds).

    Attributes:
        max: Restarts allowed within the window; 0 never restarts.
        within: The sliding window in seconds.
        wait: Seconds to wait for the service to come back after a restart.
    """

    max: int = option(integer(0, 100), default=2)
    within: float = option(duration(high=86400.0), default=300.0)
    wait: float = option(duration(high=600.0), default=3.0)


@frozen
class ServiceOptions:
    """Settings of a service check.

    Attributes:
        service: The service's name: process name and systemd unit unless overridden.
        process: Process name when it differs from ``service``.
        unit: systemd unit / SysV service when it differs from ``service``.
        pidfile: The master's pid file (looked at before scanning /proc).
        port: A TCP port on 127.0.0.1 that must accept connections.
        http: An HTTP GET that must succeed (host/port default to 127.0.0.1 and ``port``).
        restart_command: How to restart; default systemctl/service.
        config_test: Run before restarting; a failure skips the restart (it could not work).
        restart: The restart budget.
    """

    service: str = option(string)
    process: str | None = option(optional_string, default=None)
    unit: str | None = option(optional_string, default=None)
    pidfile: str | None = option(optional_path, default=None)
    port: int | None = option(optional(port), default=None)
    http: HttpOptions | None = option(record(HttpOptions), default=None)
    restart_command: tuple[str, ...] | None = option(optional_argv, default=None)
    config_test: tuple[str, ...] | None = option(optional_argv, default=None)
    restart: RestartPolicy = option(record(RestartPolicy), default=RestartPolicy())


def default_restart_command(unit: str) -> tuple[str, ...]:
    """``systemctl restart UNIT`` under systemd, else ``service UNIT restart``.

    Raises:
        CheckError: Neither is available; the operator must set ``restart_command``.
    """

    if os.path.isdir(SYSTEMD_MARKER):
        return ("systemctl", "restart", unit)
    from kakit.core.programs import find_program

    if find_program("service"):
        return ("service", unit, "restart")
    raise CheckError(f"no systemd and no `service` command to restart {unit}: set restart_command")


class ServiceCheck(Check[ServiceOptions]):
    """A service that kacheck keeps alive within a restart budget."""

    type_name = "service"

    def __init__(self, options: ServiceOptions) -> None:
        super().__init__(options)
        self.finder = ProcessFinder(options.process or options.service, options.pidfile)

    def describe(self) -> str:
        """``service nginx``."""
        return f"service {self.options.service}"

    # -- probing --------------------------------------------------------------------------------

    def probe(self, ctx: RunContext) -> tuple[bool, str]:
        """Process, then port, then HTTP; ``(healthy, what was seen)``."""
        opts = self.options
        masters = self.finder.masters()
        if not masters:
            return False, self.finder.why_none()
        seen = f"master pid {masters[0]}"
        if opts.port is not None:
            error = tcp_connect("127.0.0.1", opts.port, ctx.remaining(1.0))
            if error is not None:
                return False, f"{seen}, but port {opts.port}: {error}"
            seen += f", port {opts.port} open"
        if opts.http is not None:
            http = opts.http
            if http.port is None and opts.port is not None:
                from kakit.core.record import replace

                http = replace(http, port=opts.port)
            ok, summary = http_probe(http, ctx.remaining(http.timeout))
            if not ok:
                return False, f"{seen}, but {summary}"
            seen += f", {summary}"
        return True, seen

    def _wait_healthy(self, ctx: RunContext, wait: float) -> tuple[bool, str, float]:
        started = time.monotonic()
        limit = started + ctx.remaining(wait)
        while True:
            healthy, seen = self.probe(ctx)
            elapsed = time.monotonic() - started
            if healthy or time.monotonic() + POLL_INTERVAL > limit:
                return healthy, seen, elapsed
            time.sleep(POLL_INTERVAL)

    def _stop_orphans(self, ctx: RunContext) -> str:
        """Stop the workers a dead master left in this namespace; returns what was done.

        Re-parented apache2 workers keep the listening socket, and the restarted master could
        not bind it. Only processes of this program, in our network namespace, whose process
        group and session leaders (their master) are gone are signalled: SIGTERM, then SIGKILL
        after a grace.
        """
        import signal

        from kakit.core import procfs

        found = self.finder.orphans()
        if not found:
            return ""
        leftovers = found
        for sig, grace in ((signal.SIGTERM, ORPHAN_GRACE), (signal.SIGKILL, ORPHAN_GRACE)):
            for pid in leftovers:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            limit = time.monotonic() + ctx.remaining(grace)
            while time.monotonic() < limit:
                leftovers = [pid for pid in leftovers if procfs.is_alive(procfs.read_stat(pid))]
                if not leftovers:
                    break
                time.sleep(POLL_INTERVAL / 2)
            if not leftovers:
                break
        pids = ", ".join(str(pid) for pid in found)
        survivors = f"; {', '.join(str(pid) for pid in leftovers)} survived" if leftovers else ""
        return (
            f"; stopped {len(found)} orphaned {self.finder.name} worker(s) (pid {pids}{survivors})"
        )

    # -- the run --------------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> CheckResult:
        """Probe; restart within the budget when down."""
        from kakit.core.programs import run_bounded

        opts = self.options
        policy = opts.restart
        name = opts.service
        healthy, seen = self.probe(ctx)
        if healthy:
            return CheckResult(ok=True, summary=f"{name} up ({seen})")
        if policy.max == 0:
            return CheckResult(
                ok=False, summary=f"{name} down ({seen}); restarts disabled (restart.max: 0)"
            )

        now = time.time()
        key = f"service:{name}"
        attempts = budget.prune(ctx.state.restarts(key), now, policy.within)
        if len(attempts) >= policy.max:
            wait_for = budget.next_allowed(attempts, now, policy.max, policy.within) - now
            return CheckResult(
                ok=False,
                summary=(
                    f"{name} down ({seen}); restart budget spent "
                    f"({len(attempts)} restarts within {policy.within:g} s, next allowed in {wait_for:.0f} s)"
                ),
                events=("give_up",),
            )

        if opts.config_test is not None:
            # Before the attempt is recorded: a configuration that fails its test is not a
            # restart, and no restart can help until someone fixes it, so the failure is final.
            status, output = run_bounded(
                opts.config_test, ctx.remaining(10.0), lines=CONFIG_TEST_LINES
            )
            if status != 0:
                detail = f": {output}" if output else ""
                return CheckResult(
                    ok=False,
                    summary=(
                        f"{name} down ({seen}); config test `{' '.join(opts.config_test)}` failed{detail}; "
                        "not restarting"
                    ),
                    events=("give_up",),
                )

        attempts.append(now)
        ctx.state.set_restarts(key, attempts)
        ctx.state.save()
        count = f"restart {len(attempts)}/{policy.max} within {policy.within:g} s"
        pending = len(attempts) < policy.max
        # A failure with restarts left is reported as such; the last allowed one gives up.
        failed = ("restart_failed",) if pending else ("give_up",)

        command = opts.restart_command or default_restart_command(opts.unit or name)
        label = " ".join(command)
        cleared = self._stop_orphans(ctx)
        status, output = run_bounded(command, ctx.remaining(max(policy.wait, 1.0)))
        if status != 0:
            why = f"exited {status}" if status is not None else output
            detail = f": {output}" if output and status is not None else ""
            return CheckResult(
                ok=False,
                summary=f"{name} down ({seen}){cleared}; restart `{label}` {why}{detail} ({count})",
                remedy_pending=pending,
                events=failed,
            )
        healthy, after, elapsed = self._wait_healthy(ctx, policy.wait)
        if healthy:
            return CheckResult(
                ok=True,
                summary=f"{name} was down ({seen}){cleared}; restarted with `{label}`, up after {elapsed:.1f} s ({count})",
                events=("restart",),
            )
        return CheckResult(
            ok=False,
            summary=f"{name} down ({seen}){cleared}; restarted with `{label}` but still down after {elapsed:.1f} s: {after} ({count})",
            remedy_pending=pending,
            events=failed,
        )
