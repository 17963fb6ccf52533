"""Starting the delivery worker detached from keepalived.

Kept apart from :mod:`kakit.delivery` because that module imports asyncio and httpx (about
90 ms), and ``kanotify`` only needs to start the worker, inside its 150 ms budget.
"""

from __future__ import annotations

import subprocess
import sys


def spawn_worker(config_source: str | None) -> None:
    """Start ``python -m kakit.delivery`` in its own session.

    keepalived SIGKILLs the STOP notify's whole process group after one second and SIGTERMs
    scripts when it exits; a new session keeps the worker out of reach of both.
    """
    argv = [sys.executable, "-m", "kakit.delivery"]
    if config_source:
        argv += ["-c", config_source]
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
