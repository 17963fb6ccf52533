"""``flag``: unhealthy while a file exists (the seeds' ``[[ -f /etc/keepalived/down ]]``)."""

from __future__ import annotations

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import absolute_path
from kakit.core.record import frozen, option

MAX_REASON = 120


@frozen
class FlagOptions:
    """Settings of a flag check.

    Attributes:
        path: While this file exists the node is in maintenance (check fails).
    """

    path: str = option(absolute_path, default="/etc/keepalived/down")


class FlagCheck(Check[FlagOptions]):
    """Fails while the flag file exists; its first line, if any, is quoted as the reason."""

    type_name = "flag"

    def run(self, ctx: RunContext) -> CheckResult:
        """Look for the flag file."""
        path = self.options.path
        try:
            with open(path, "rb") as handle:
                first = handle.read(512).split(b"\n", 1)[0].decode(errors="replace").strip()
        except FileNotFoundError:
            return CheckResult(ok=True, summary=f"no maintenance flag {path}")
        except IsADirectoryError:
            first = ""
        except OSError as exc:
            # Present but unreadable still means someone put it there: fail safe.
            first = f"(unreadable: {exc.strerror})"
        reason = f": {first[:MAX_REASON]}" if first else ""
        return CheckResult(ok=False, summary=f"maintenance flag {path} present{reason}")

    def describe(self) -> str:
        """``flag /etc/keepalived/down``."""
        return f"flag {self.options.path}"
