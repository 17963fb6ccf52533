"""``command``: run a program without a shell; exit 0 passes (see :mod:`kakit.core.programs`)."""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import argv, duration
from kakit.core.programs import run_bounded
from kakit.core.record import frozen, option


@frozen
class CommandOptions:
    """Settings of a command check.

    Attributes:
        argv: Program and arguments, e.g. ``[/usr/local/bin/check_db, --quick]``.
        timeout: Seconds before the program's process group is killed (counts as failure).
    """

    argv: tuple[str, ...] = option(argv)
    timeout: float = option(duration(high=3600.0), default=2.0)


class CommandCheck(Check[CommandOptions]):
    """Passes when the command exits 0 within its timeout."""

    type_name = "command"

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
