"""Starting the delivery worker detached from keepalived.

Kept apart from :mod:`kakit.alerts.delivery` because that module imports asyncio and httpx (about
90 ms), and ``kanotify`` only needs to start the worker, inside its 150 ms budget.
"""

from __future__ import annotations

import os
import sys


def spawn_worker(config_source: str | None) -> int:
    """Start ``python -m kakit.alerts.delivery`` in its own session; returns its pid.

    keepalived SIGKILLs the STOP notify's whole process group after one second and SIGTERMs
    scripts when it exits; a new session keeps the worker out of reach of both. posix_spawn is
    used rather than subprocess: nothing here waits for the worker, and Python's descriptors
    are close-on-exec already.
    """
    argv = [sys.executable, "-m", "kakit.alerts.delivery"]
    if config_source:
        argv += ["-c", config_source]
    devnull = os.devnull
    return os.posix_spawn(
        sys.executable,
        argv,
        os.environ,
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
        ],
    )
