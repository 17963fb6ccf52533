"""``command``: run a program without a shell; exit 0 passes.

The program gets its own session, so on timeout kakit kills its whole process group and
nothing is left behind; keepalived would otherwise only kill kacheck's group.
"""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.converters import argv, duration
from kakit.record import frozen, option

MAX_OUTPUT = 200


@frozen
class CommandOptions:
    """Settings of a command check.

    Attributes:
        argv: Program and arguments, e.g. ``[/usr/local/bin/check_db, --quick]``.
        timeout: Seconds before the program's process group is killed (counts as failure).
    """

    argv: tuple[str, ...] = option(argv)
    timeout: float = option(duration(high=3600.0), default=2.0)


def run_bounded(command: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    """Run ``command`` in its own session with a timeout.

    Returns:
        ``(exit status or None on timeout/exec failure, first line of stderr or the reason)``.
    """
    import os
    import signal
    import subprocess
    import tempfile

    if timeout <= 0:
        return None, "no time left before the deadline"
    # stderr goes to a temporary file, not a pipe: a daemon the command starts would inherit
    # the pipe and keep it open, and reading it would then wait for the whole timeout.
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return None, f"cannot run {command[0]}: {exc.strerror or exc}"
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            return None, f"timed out after {timeout:g} s (process group killed)"
        errors.seek(0)
        text = errors.read(4096).decode(errors="replace").strip()
    first = text.splitlines()[0] if text else ""
    return status, first[:MAX_OUTPUT]


class CommandCheck(Check):
    """Passes when the command exits 0 within its timeout."""

    type_name = "command"
    options_class = CommandOptions
    options: CommandOptions

    def run(self, ctx: RunContext) -> CheckResult:
        """Run the command once."""
        opts = self.options
        status, output = run_bounded(opts.argv, ctx.remaining(opts.timeout))
        label = " ".join(opts.argv)
        detail = f": {output}" if output else ""
        if status == 0:
            return CheckResult(ok=True, summary=f"`{label}` exited 0")
        if status is None:
            return CheckResult(ok=False, summary=f"`{label}` {output}")
        return CheckResult(ok=False, summary=f"`{label}` exited {status}{detail}")

    def describe(self) -> str:
        """``command /usr/local/bin/x``."""
        return f"command {self.options.argv[0]}"
