"""The demo's output: timestamped steps, log lines shown under them, and waiting for a log line."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from lab.demo.nodes import CHECK
from lab.procs import wait_until

_ROUTINE_OK = f"{CHECK}: OK: {CHECK} up ("

# The date part of kakit's "2026-11-22T02:05:26 ..." and keepalived's "Sun Nov 22 02:05:26 2026: ..."
_STAMP_RE = re.compile(r"^(?:\d{4}-\d\d-\d\dT|\w{3} \w{3} +\d+ )(\d\d:\d\d:\d\d)(?: \d{4}:)?")

# The log idents of kanotify and of the outbox worker it starts (kakit.log is shared).
_NOT_KACHECK = (" kanotify[", " kakit-delivery[")


class DemoFailure(RuntimeError):
    """Something the demo expected did not happen; the message says what."""


def short_stamp(line: str) -> str:
    """Cut a kakit or keepalived log line's leading timestamp down to ``HH:MM:SS``."""
    return _STAMP_RE.sub(r"\1", line)


class Narrator:
    """Prints timestamped steps to stdout, flushed at once."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        """Print one narration line with wall-clock time and seconds since the start."""
        elapsed = time.monotonic() - self.started
        print(f"[{time.strftime('%H:%M:%S')} +{elapsed:5.1f}s] {message}", flush=True)

    def show(self, source: str, lines: list[str]) -> None:
        """Print log lines indented under the current step."""
        for line in lines:
            print(f"      {source}| {short_stamp(line)}", flush=True)


class LogTail:
    """Reads the complete lines appended to a log file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_lines(self) -> list[str]:
        """Return the complete lines written since the last call (or since creation)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode(errors="replace").splitlines()


def notable(lines: list[str]) -> list[str]:
    """Keep kacheck's lines but the routine ``nginx: OK: nginx up`` it logs every second.

    kanotify and its delivery worker log to the same file; their news is narrated from the
    sink instead, in the order it happened.
    """
    return [
        line
        for line in lines
        if _ROUTINE_OK not in line and not any(ident in line for ident in _NOT_KACHECK)
    ]


def wait_for_line(
    tail: LogTail,
    pattern: str,
    timeout: float,
    seen: list[str],
    on_poll: Callable[[], None] | None = None,
) -> str:
    """Wait until a new log line contains ``pattern``.

    Args:
        tail: The log to follow.
        pattern: Substring to look for.
        timeout: Seconds to wait at most.
        seen: Collects every new line read, matching or not.
        on_poll: Called before every poll (to watch something else meanwhile).

    Returns:
        The first matching line.

    Raises:
        DemoFailure: No such line within ``timeout``.
    """
    found: list[str] = []

    def matched() -> bool:
        if on_poll is not None:
            on_poll()
        lines = tail.new_lines()
        seen.extend(lines)
        found.extend(line for line in lines if pattern in line)
        return bool(found)

    try:
        wait_until(matched, timeout=timeout, interval=0.2, what=f"log line {pattern!r}")
    except TimeoutError as exc:
        last = notable(seen)[-1:] or seen[-1:] or ["nothing"]
        raise DemoFailure(
            f"kacheck never logged {pattern!r} within {timeout:g} s (last: {short_stamp(last[0])})"
        ) from exc
    return found[0]
