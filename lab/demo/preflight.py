"""Whether the demo can run here: root, the lab's binaries, kakit's console scripts.

The console scripts must sit on paths keepalived's ``enable_script_security`` accepts; the
product's own rule (:func:`kakit.core.trust.why_untrusted`) says so before keepalived would.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from kakit.core.trust import why_untrusted


def find_console_script(name: str) -> str | None:
    """Locate one of kakit's console scripts: beside this interpreter first, then on ``PATH``.

    Args:
        name: ``kacheck``, ``kanotify``...

    Returns:
        An absolute path, or None when it is not installed.
    """
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    return str(Path(found).absolute()) if found else None


def find_kacheck() -> str | None:
    """Locate the kacheck console script (see `find_console_script`)."""
    return find_console_script("kacheck")


def find_kanotify() -> str | None:
    """Locate the kanotify console script (see `find_console_script`)."""
    return find_console_script("kanotify")


@dataclass(frozen=True)
class Tools:
    """The kakit console scripts keepalived runs in the demo (absolute paths)."""

    kacheck: str
    kanotify: str
    kaprobe: str


def preflight() -> tuple[Tools | None, str]:
    """Check that the demo can run here.

    Returns:
        ``(tools, "")`` when it can, else ``(None, one-line reason)``.
    """
    if os.geteuid() != 0:
        return None, "the lab demo needs root (network namespaces): run it with sudo"
    needed = ("ip", "keepalived", "nginx", "iptables")
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        return None, f"the lab demo needs {' and '.join(missing)}: install them (make deps)"
    found: dict[str, str] = {}
    for name in ("kacheck", "kanotify", "kaprobe"):
        path = find_console_script(name)
        if path is None:
            return None, f"{name} is not installed beside this Python or on PATH (make deps)"
        problem = why_untrusted(path)
        if problem:
            return None, f"keepalived would refuse to run {path}: {problem}"
        found[name] = path
    return Tools(kacheck=found["kacheck"], kanotify=found["kanotify"], kaprobe=found["kaprobe"]), ""
