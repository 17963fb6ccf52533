"""``file``: a file must exist (or be absent), optionally modified recently (a heartbeat)."""

from __future__ import annotations

import os
import time

from kakit.checks.base import Check, CheckResult, RunContext
from kakit.core.converters import absolute_path, boolean, duration, optional
from kakit.core.record import frozen, option


@frozen
class FileOptions:
    """Settings of a file check.

    Attributes:
        path: The file to look at.
        present: True: the file must exist; False: it must not.
        max_age: With ``present``, the file must have been modified within this many seconds.
    """

    path: str = option(absolute_path)
    present: bool = option(boolean, default=True)
    max_age: float | None = option(optional(duration()), default=None)

    def __post_init__(self) -> None:
        if self.max_age is not None and not self.present:
            raise ValueError("max_age only together with present: true")


class FileCheck(Check[FileOptions]):
    """Checks a file's presence and age."""

    type_name = "file"

    def run(self, ctx: RunContext) -> CheckResult:
        """Stat the file once."""
        opts = self.options
        try:
            stat = os.stat(opts.path)
        except FileNotFoundError:
            if opts.present:
                return CheckResult(ok=False, summary=f"{opts.path} is missing")
            return CheckResult(ok=True, summary=f"{opts.path} absent as expected")
        except OSError as exc:
            return CheckResult(ok=False, summary=f"cannot stat {opts.path}: {exc.strerror}")
        if not opts.present:
            return CheckResult(ok=False, summary=f"{opts.path} exists but must not")
        if opts.max_age is not None:
            age = time.time() - stat.st_mtime
            if age > opts.max_age:
                return CheckResult(
                    ok=False,
                    summary=f"{opts.path} is stale: modified {age:.1f} s ago (max_age {opts.max_age:g} s)",
                )
            return CheckResult(ok=True, summary=f"{opts.path} fresh ({age:.1f} s old)")
        return CheckResult(ok=True, summary=f"{opts.path} present")

    def describe(self) -> str:
        """``file /path``."""
        return f"file {self.options.path}"
